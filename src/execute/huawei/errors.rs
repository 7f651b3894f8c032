//! What Huawei Cloud's errors mean. Two bodies are documented: the API Gateway's
//! `{"error_code": "APIGW.0301", "error_msg": "...", "request_id": "..."}` and the
//! services' `{"error": {"code": "AS.2005", "message": "..."}}`; both are read, and each
//! code that changes what vigil should do is named here by its meaning.

use std::fmt;

/// An error answer from the cloud, as it came (the secret scrubbed out of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// "AS" or "ECS".
    pub service: &'static str,
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// What an error means for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// 429 (APIGW.0308): try again later.
    Throttled,
    /// 5xx: the service failed; try again later.
    ServerError,
    /// APIGW.0301: the AK/SK signature was refused.
    Signature,
    /// The account lacks a permission; the action it names, when it names one.
    Permission(Option<String>),
    /// AS.0026: the group is in its cooldown period.
    Cooldown,
    /// AS.2005: the expected number is outside the group's min and max.
    OutOfBounds,
    /// A quota is used up: stop, a person must raise it.
    Quota,
    /// The desired number already is what was asked.
    Unchanged,
    NotFound,
    Other,
}

impl Fault {
    /// Reads either documented body; a body that is neither keeps its start as the
    /// message, so the operator still sees what came back.
    pub fn parse(
        service: &'static str,
        status: u16,
        body: &[u8],
        request_id: Option<String>,
    ) -> Fault {
        let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let s = |v: Option<&serde_json::Value>| v.and_then(|x| x.as_str()).map(str::to_string);
        let (code, message) = match &v {
            Some(v) if v.get("error_code").is_some() || v.get("error_msg").is_some() => {
                (s(v.get("error_code")), s(v.get("error_msg")))
            }
            Some(v) if v.get("error").is_some_and(|e| e.is_object()) => {
                let e = &v["error"];
                (s(e.get("code")), s(e.get("message")))
            }
            _ => (None, None),
        };
        let request_id = request_id.or_else(|| v.as_ref().and_then(|v| s(v.get("request_id"))));
        let message = message.unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let short: String = text.chars().take(200).collect();
            if short.trim().is_empty() {
                "(no body)".to_string()
            } else {
                short
            }
        });
        Fault {
            service,
            status,
            code: code.unwrap_or_default(),
            message,
            request_id,
        }
    }

    pub fn meaning(&self) -> Meaning {
        let code = self.code.as_str();
        let msg = self.message.to_ascii_lowercase();
        match code {
            "APIGW.0308" => return Meaning::Throttled,
            "APIGW.0301" => return Meaning::Signature,
            "AS.0026" => return Meaning::Cooldown,
            "AS.2005" => return Meaning::OutOfBounds,
            "AS.0031" => return Meaning::Permission(bracketed(&self.message)),
            "AS.0011" | "AS.0012" | "AS.0013" => return Meaning::Permission(None),
            "AS.2007" | "AS.0007" => return Meaning::NotFound,
            _ => {}
        }
        if self.status == 429 {
            Meaning::Throttled
        } else if msg.contains("quota") || msg.contains("upper limit") {
            Meaning::Quota
        } else if msg.contains("not changed")
            || msg.contains("unchanged")
            || msg.contains("same as the current")
        {
            Meaning::Unchanged
        } else if self.status >= 500 {
            Meaning::ServerError
        } else if self.status == 403 {
            Meaning::Permission(bracketed(&self.message))
        } else if self.status == 404 {
            Meaning::NotFound
        } else {
            Meaning::Other
        }
    }
}

/// "Policy doesn't allow [as:groups:update] to be performed." → "as:groups:update".
fn bracketed(msg: &str) -> Option<String> {
    let start = msg.find('[')? + 1;
    let end = start + msg[start..].find(']')?;
    let inner = msg[start..end].trim();
    (!inner.is_empty()).then(|| inner.to_string())
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let said = if self.code.is_empty() {
            format!("{} {}: {}", self.service, self.status, self.message)
        } else {
            format!(
                "{} {} {}: {}",
                self.service, self.status, self.code, self.message
            )
        };
        let rid = self
            .request_id
            .as_deref()
            .map(|r| format!(", request id {r}"))
            .unwrap_or_default();
        match self.meaning() {
            Meaning::Signature => write!(
                f,
                "Huawei Cloud refused the AK/SK signature ({said}{rid}): check HUAWEICLOUD_SDK_AK and \
                 HUAWEICLOUD_SDK_SK (or huawei.credentials_file) and this host's clock (X-Sdk-Date \
                 must be within 15 minutes)"
            ),
            Meaning::Permission(Some(p)) => write!(
                f,
                "the IAM user may not do this: permission {p} is missing ({said}{rid}); add it to \
                 the user's policy"
            ),
            Meaning::Permission(None) => write!(
                f,
                "the IAM user may not do this: it needs the {} administrator role or a policy that \
                 allows the action ({said}{rid})",
                self.service
            ),
            Meaning::Throttled => write!(f, "throttled by Huawei Cloud ({said}{rid})"),
            Meaning::Quota => write!(
                f,
                "a quota is used up ({said}{rid}): raise it in the console's quota page before \
                 trying again"
            ),
            Meaning::Cooldown => write!(f, "the AS group is in its cooldown period ({said}{rid})"),
            _ => write!(f, "{said}{rid}"),
        }
    }
}

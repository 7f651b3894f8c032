//! The AK/SK, from Huawei's SDK variables or a file only its owner can read. The secret
//! key is wrapped so that no `Debug`, `Display` or error can print it; only the signer
//! sees its bytes.

use crate::config::HuaweiConfig;
use std::fmt;
use std::path::Path;

pub const ENV_AK: &str = "HUAWEICLOUD_SDK_AK";
pub const ENV_SK: &str = "HUAWEICLOUD_SDK_SK";
/// A temporary AK/SK (from STS) comes with a token, sent as X-Security-Token.
pub const ENV_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
/// A credentials file is a few lines: anything bigger is not one.
const MAX_FILE: u64 = 16 * 1024;

/// A value that must not be shown: prints as `***` whatever asks.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The bytes, for the signer only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    ak: String,
    sk: Secret,
    token: Option<Secret>,
}

/// The AK is an identifier (it is sent in every Authorization header), but a screen
/// or a log has no use for more than its start.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("ak", &masked(&self.ak))
            .field("sk", &self.sk)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AK {} (SK hidden)", masked(&self.ak))
    }
}

fn masked(ak: &str) -> String {
    let head: String = ak.chars().take(4).collect();
    format!("{head}…")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredError {
    #[error(
        "no Huawei Cloud credentials: set {ENV_AK} and {ENV_SK}, or huawei.credentials_file (0600)"
    )]
    Missing,
    #[error("{ENV_AK} is set but {ENV_SK} is not (or the other way round)")]
    Half,
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

impl Credentials {
    pub fn new(ak: impl Into<String>, sk: impl Into<String>) -> Credentials {
        Credentials {
            ak: ak.into(),
            sk: Secret::new(sk),
            token: None,
        }
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Credentials {
        self.token = Some(Secret::new(token));
        self
    }

    pub fn ak(&self) -> &str {
        &self.ak
    }

    pub(crate) fn sk(&self) -> &Secret {
        &self.sk
    }

    pub(crate) fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// The configured file if there is one, else the environment.
    pub fn load(cfg: &HuaweiConfig) -> Result<Credentials, CredError> {
        match &cfg.credentials_file {
            Some(p) => Credentials::from_file(p),
            None => Credentials::from_env(),
        }
    }

    pub fn from_env() -> Result<Credentials, CredError> {
        let get = |k: &str| {
            std::env::var(k)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let c = match (get(ENV_AK), get(ENV_SK)) {
            (Some(ak), Some(sk)) => Credentials::new(ak, sk),
            (None, None) => return Err(CredError::Missing),
            _ => return Err(CredError::Half),
        };
        Ok(match get(ENV_TOKEN) {
            Some(t) => c.with_token(t),
            None => c,
        })
    }

    /// `ak = "..."`, `sk = "..."` and optionally `security_token = "..."`, in TOML (bare
    /// or under `[basic]`, the SDK's profile name). A file that its group or others can
    /// read is refused: the key it holds may already have leaked.
    pub fn from_file(path: &Path) -> Result<Credentials, CredError> {
        use std::io::Read;
        use std::os::unix::fs::PermissionsExt;
        let err = |reason: String| CredError::File {
            path: path.display().to_string(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "readable by others than its owner (mode {:o}): a credentials file must be the owner's only (chmod 600)",
                mode & 0o777
            )));
        }
        if meta.len() > MAX_FILE {
            return Err(err(format!(
                "{} bytes: too big for a credentials file",
                meta.len()
            )));
        }
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_FILE).read_to_string(&mut text))
            .map_err(|e| err(e.to_string()))?;
        // The parser's message could quote the line that failed, the SK's line
        // included: only the line number is kept.
        let table: toml::Table = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
                .unwrap_or(1);
            err(format!(
                "line {line}: not TOML with ak = \"...\" and sk = \"...\""
            ))
        })?;
        let t = match table.get("basic").and_then(|b| b.as_table()) {
            Some(b) => b,
            None => &table,
        };
        let field = |k: &str| {
            t.get(k)
                .and_then(|v| v.as_str())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let ak = field("ak").ok_or_else(|| err("no ak = \"...\"".into()))?;
        let sk = field("sk").ok_or_else(|| err("no sk = \"...\"".into()))?;
        let c = Credentials::new(ak, sk);
        Ok(match field("security_token") {
            Some(tok) => c.with_token(tok),
            None => c,
        })
    }

    /// Removes the secret from a text that came back from outside (an error body could
    /// echo what it was sent), so that it cannot reach a screen or a log.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in std::iter::once(&self.sk).chain(self.token.as_ref()) {
            if !s.expose().is_empty() {
                out = out.replace(s.expose(), "***");
            }
        }
        out
    }
}

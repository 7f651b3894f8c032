//! The signed HTTP client for Huawei Cloud's AS and ECS APIs: every request is signed
//! with SDK-HMAC-SHA256, every answer is read to a bounded size, and reads that meet
//! throttling, a 5xx or a lost answer are retried with exponential backoff and jitter
//! (backon) until the deadline. Writes are not retried here: each write says how to
//! find out whether a lost one was applied (`autoscaling.rs`, `ecs.rs`).

use super::credentials::Credentials;
use super::errors::{Fault, Meaning};
use super::signer::{self, Signature};
use crate::config::HuaweiConfig;
use backon::{BackoffBuilder, ExponentialBuilder};
use std::future::Future;
use std::time::{Duration, Instant};

/// Answers are JSON documents of a few KB; a page of 100 instances stays far below.
pub const MAX_BODY: usize = 1024 * 1024;
const JSON: &str = "application/json;charset=UTF-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    As,
    Ecs,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::As => "AS",
            Service::Ecs => "ECS",
        }
    }

    /// Which service a path belongs to: AS paths start with /autoscaling-api/.
    pub fn for_path(path: &str) -> Service {
        if path.starts_with("/autoscaling-api/") {
            Service::As
        } else {
            Service::Ecs
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// Nothing was sent: safe to send again.
    #[error("{service}: cannot connect to {endpoint}: {reason}")]
    Connect {
        service: &'static str,
        endpoint: String,
        reason: String,
    },
    /// Sent, but no answer came back: it may or may not have been applied.
    #[error("{service}: the answer to {method} {path} was lost ({reason})")]
    Lost {
        service: &'static str,
        method: String,
        path: String,
        reason: String,
    },
    #[error("{0}")]
    Api(Fault),
    #[error("{service}: the answer to {what} is larger than {limit} bytes")]
    TooLarge {
        service: &'static str,
        what: String,
        limit: usize,
    },
    #[error("{service}: cannot read the answer to {what}: {reason}")]
    Decode {
        service: &'static str,
        what: String,
        reason: String,
    },
    #[error(
        "AS group {group}: {wanted} instances is outside its bounds (min {min}, max {max}); change the group's min/max or the proposal"
    )]
    Bounds {
        group: String,
        wanted: u32,
        min: u32,
        max: u32,
    },
    #[error("{0}")]
    Setup(String),
    #[error("{what}: still failing after {secs} s of retries; last: {last}")]
    Deadline {
        what: String,
        secs: u64,
        last: Box<ApiError>,
    },
}

impl ApiError {
    pub fn meaning(&self) -> Option<Meaning> {
        match self {
            ApiError::Api(f) => Some(f.meaning()),
            _ => None,
        }
    }

    /// Whether sending the same read again can help.
    fn transient(&self) -> bool {
        match self {
            ApiError::Connect { .. } | ApiError::Lost { .. } => true,
            ApiError::Api(f) => matches!(f.meaning(), Meaning::Throttled | Meaning::ServerError),
            _ => false,
        }
    }
}

/// A signed request, ready to send or to show (`--dry-run`).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub method: String,
    pub url: reqwest::Url,
    /// Every header sent, Authorization last.
    pub headers: Vec<(String, String)>,
    pub signature: Signature,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub request_id: Option<String>,
    pub body: Vec<u8>,
}

pub struct Client {
    http: reqwest::Client,
    creds: Credentials,
    project_id: String,
    as_base: String,
    ecs_base: String,
    deadline: Duration,
    min_delay: Duration,
    max_delay: Duration,
}

impl Client {
    pub fn new(cfg: &HuaweiConfig, creds: Credentials) -> Result<Client, ApiError> {
        if cfg.project_id.trim().is_empty() {
            return Err(ApiError::Setup("huawei.project_id is not set".into()));
        }
        Client::build(cfg, creds)
    }

    /// Without the project check: `vigil cloud huawei request` may call APIs that take
    /// none.
    pub(crate) fn build(cfg: &HuaweiConfig, creds: Credentials) -> Result<Client, ApiError> {
        let base = |svc: &str| -> Result<String, ApiError> {
            let b = match &cfg.endpoint {
                Some(e) => e.trim_end_matches('/').to_string(),
                None if !cfg.region.trim().is_empty() => {
                    format!("https://{svc}.{}.myhuaweicloud.com", cfg.region.trim())
                }
                None => return Err(ApiError::Setup("huawei.region is not set".into())),
            };
            reqwest::Url::parse(&b)
                .map_err(|e| ApiError::Setup(format!("huawei endpoint \"{b}\": {e}")))?;
            Ok(b)
        };
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| ApiError::Setup(format!("HTTP client: {e}")))?;
        Ok(Client {
            http,
            creds,
            project_id: cfg.project_id.trim().to_string(),
            as_base: base("as")?,
            ecs_base: base("ecs")?,
            deadline: cfg.retry_deadline,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        })
    }

    /// Shorter waits between retries (tests, and operators who prefer to fail fast).
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Client {
        self.min_delay = min;
        self.max_delay = max.max(min);
        self
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    pub fn base(&self, svc: Service) -> &str {
        match svc {
            Service::As => &self.as_base,
            Service::Ecs => &self.ecs_base,
        }
    }

    /// Signs a request now.
    pub fn prepare(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<Vec<u8>>,
        extra: &[(String, String)],
    ) -> Result<Prepared, ApiError> {
        let base = self.base(Service::for_path(path));
        prepare(
            &self.creds,
            &self.project_id,
            base,
            method,
            path,
            query,
            body,
            extra,
            chrono::Utc::now(),
        )
    }

    /// Sends once: no retry. A non-2xx answer is an [`ApiError::Api`].
    pub async fn send(&self, p: &Prepared) -> Result<Response, ApiError> {
        let svc = Service::for_path(p.url.path()).name();
        let what = format!("{} {}", p.method, p.url.path());
        let method = reqwest::Method::from_bytes(p.method.as_bytes())
            .map_err(|_| ApiError::Setup(format!("\"{}\" is not an HTTP method", p.method)))?;
        let mut req = self.http.request(method, p.url.clone());
        for (k, v) in &p.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if !p.body.is_empty() {
            req = req.body(p.body.clone());
        }
        let lost = |e: reqwest::Error| {
            let connect = e.is_connect();
            let reason = self.creds.scrub(&causes(e.without_url()));
            if connect {
                ApiError::Connect {
                    service: svc,
                    endpoint: self.base(Service::for_path(p.url.path())).to_string(),
                    reason,
                }
            } else {
                ApiError::Lost {
                    service: svc,
                    method: p.method.clone(),
                    path: p.url.path().to_string(),
                    reason,
                }
            }
        };
        let mut resp = req.send().await.map_err(lost)?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let too_large = || ApiError::TooLarge {
            service: svc,
            what: what.clone(),
            limit: MAX_BODY,
        };
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(lost)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if !(200..300).contains(&status) {
            let mut f = Fault::parse(svc, status, &body, request_id);
            f.message = self.creds.scrub(&f.message);
            return Err(ApiError::Api(f));
        }
        Ok(Response {
            status,
            request_id,
            body,
        })
    }

    /// A read, retried while it fails for a passing reason.
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<T, ApiError> {
        let what = format!("GET {path}");
        let r = self
            .retrying(&what, || async {
                let p = self.prepare("GET", path, query, None, &[])?;
                self.send(&p).await
            })
            .await?;
        decode(Service::for_path(path), &what, &r.body)
    }

    /// A write with a JSON body, sent once.
    pub async fn write_once(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
        extra: &[(String, String)],
    ) -> Result<Response, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Setup(e.to_string()))?;
        let p = self.prepare(method, path, &[], Some(bytes), extra)?;
        self.send(&p).await
    }

    /// Runs `attempt` until it succeeds, fails for good, or the deadline passes; the
    /// waits grow exponentially with jitter.
    pub async fn retrying<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        self.retry_until(what, self.deadline, |e| e.transient(), &mut attempt)
            .await
    }

    /// The loop behind [`Client::retrying`], with the caller's idea of what is worth
    /// another try and for how long.
    pub async fn retry_until<T, F, Fut>(
        &self,
        what: &str,
        deadline: Duration,
        again: impl Fn(&ApiError) -> bool,
        attempt: &mut F,
    ) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let start = Instant::now();
        let mut delays = self.backoff();
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) if again(&e) => {
                    let wait = delays.next().unwrap_or(self.max_delay);
                    if start.elapsed() + wait > deadline {
                        return Err(ApiError::Deadline {
                            what: what.to_string(),
                            secs: start.elapsed().as_secs(),
                            last: Box::new(e),
                        });
                    }
                    tracing::info!("huawei: {what}: {e}; again in {wait:?}");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }
}

/// An error and its causes on one line ("error sending request: connection refused").
fn causes(e: reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

pub fn decode<T: serde::de::DeserializeOwned>(
    svc: Service,
    what: &str,
    body: &[u8],
) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Decode {
        service: svc.name(),
        what: what.to_string(),
        reason: e.to_string(),
    })
}

/// Signs `method path?query` for `base` at `date`, with the headers the SDK sends
/// (`Content-Type` for a body, `X-Project-Id`, `Host`, `X-Sdk-Date`, and the security
/// token of a temporary AK/SK).
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    creds: &Credentials,
    project_id: &str,
    base: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<Vec<u8>>,
    extra: &[(String, String)],
    date: chrono::DateTime<chrono::Utc>,
) -> Result<Prepared, ApiError> {
    let setup = |e: String| ApiError::Setup(e);
    let mut url = reqwest::Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
        .map_err(|e| setup(format!("{base}{path}: {e}")))?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return Err(setup(format!("{base}: no host"))),
    };
    let body = body.unwrap_or_default();
    let mut headers: Vec<(String, String)> = Vec::new();
    if !body.is_empty() {
        headers.push(("Content-Type".into(), JSON.into()));
    }
    if !project_id.is_empty() {
        headers.push(("X-Project-Id".into(), project_id.into()));
    }
    if let Some(t) = creds.token() {
        headers.push(("X-Security-Token".into(), t.expose().to_string()));
    }
    for (k, v) in extra {
        headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        headers.push((k.clone(), v.clone()));
    }
    signer::prepare_headers(&mut headers, &host, date);
    let signature = signer::sign(
        creds.ak(),
        creds.sk().expose().as_bytes(),
        &signer::Request {
            method,
            path,
            query,
            headers: &headers,
            body: &body,
        },
    )
    .map_err(|e| setup(e.to_string()))?;
    url.set_query((!signature.query.is_empty()).then_some(signature.query.as_str()));
    headers.push(("Authorization".into(), signature.authorization.clone()));
    Ok(Prepared {
        method: method.to_ascii_uppercase(),
        url,
        headers,
        signature,
        body,
    })
}

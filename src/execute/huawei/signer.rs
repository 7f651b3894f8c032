//! Huawei Cloud's AK/SK request signature, SDK-HMAC-SHA256, as the API Gateway checks it
//! and as Huawei's own SDK (`huaweicloudsdkcore`) computes it:
//!
//! ```text
//! canonical request = METHOD \n canonical URI \n canonical query \n
//!                     canonical headers \n signed headers \n hex(sha256(body))
//! string to sign    = SDK-HMAC-SHA256 \n X-Sdk-Date \n hex(sha256(canonical request))
//! Authorization     = SDK-HMAC-SHA256 Access=AK, SignedHeaders=..., Signature=hex(hmac(SK, string to sign))
//! ```
//!
//! `tests/huawei_signer.rs` checks every step byte for byte against vectors made by the
//! SDK (`scripts/huawei_vectors.py`). The fake cloud in the tests verifies with this same
//! code, so the two cannot agree on a mistake the vectors do not also make.

use hmac::{KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
pub const HEADER_DATE: &str = "X-Sdk-Date";
pub const HEADER_CONTENT_SHA256: &str = "X-Sdk-Content-Sha256";
/// `X-Sdk-Date`'s format: basic ISO 8601 in UTC.
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// sha256 of nothing: the payload hash of a request without a body.
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What the SDK leaves unescaped (Python's `quote(s, safe='~')`): letters, digits, `-_.~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One request to sign. `headers` are as they will be sent; [`prepare_headers`] adds
/// the ones the signature needs (`Host`, `X-Sdk-Date`, and for a body that is neither
/// JSON nor BSON `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The resource path, e.g. `/autoscaling-api/v1/{project}/scaling_group`; it may
    /// hold percent-escapes, which are decoded and escaped again per segment.
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Every intermediate step, so `vigil cloud huawei request --dry-run` can show them and
/// the tests can compare each with the SDK's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub canonical_request: String,
    pub string_to_sign: String,
    /// Lower-case names joined by `;`.
    pub signed_headers: String,
    /// The signed headers as `(name as sent, value as signed)`, sorted by name.
    pub signed: Vec<(String, String)>,
    pub authorization: String,
    /// The query as it must be sent: the canonical query string.
    pub query: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the X-Sdk-Date header is missing")]
    NoDate,
    #[error("X-Sdk-Date must look like 20260102T030405Z, got \"{0}\"")]
    BadDate(String),
    #[error("the path must start with \"/\", got \"{0}\"")]
    BadPath(String),
}

/// Adds what the signature covers and the request does not yet carry, as the SDK does:
/// `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD` when the content type is neither JSON nor
/// BSON, `X-Sdk-Date` (from `date`) and `Host`, each only when absent.
pub fn prepare_headers(
    headers: &mut Vec<(String, String)>,
    host: &str,
    date: chrono::DateTime<chrono::Utc>,
) {
    if let Some(ct) = header(headers, "content-type")
        && !(ct.starts_with("application/json") || ct.starts_with("application/bson"))
    {
        set(headers, HEADER_CONTENT_SHA256, "UNSIGNED-PAYLOAD");
    }
    if header(headers, HEADER_DATE).is_none() {
        headers.push((HEADER_DATE.into(), date.format(DATE_FORMAT).to_string()));
    }
    if header(headers, "host").is_none() {
        headers.push(("Host".into(), host.into()));
    }
}

/// The value of a header, by case-insensitive name (the last one wins, as in the SDK's
/// dictionary).
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    headers.push((name.into(), value.into()));
}

pub fn sign(ak: &str, sk: &[u8], req: &Request<'_>) -> Result<Signature, SignError> {
    let date = header(req.headers, HEADER_DATE).ok_or(SignError::NoDate)?;
    let date = chrono::NaiveDateTime::parse_from_str(date, DATE_FORMAT)
        .map_err(|_| SignError::BadDate(date.to_string()))?
        .format(DATE_FORMAT)
        .to_string();
    if !req.path.starts_with('/') {
        return Err(SignError::BadPath(req.path.to_string()));
    }

    // Names with an underscore are sent but not signed (gateways drop them).
    let mut signed: Vec<(String, String, String)> = Vec::new();
    for (k, v) in req.headers {
        if k.contains('_') {
            continue;
        }
        let lower = k.to_ascii_lowercase();
        signed.retain(|(l, _, _)| *l != lower);
        signed.push((lower, k.clone(), v.trim().to_string()));
    }
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    let signed_headers = signed
        .iter()
        .map(|(l, _, _)| l.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = signed
        .iter()
        .map(|(l, _, v)| format!("{l}:{v}\n"))
        .collect();

    let query = canonical_query(req.query);
    let payload = if req.body.is_empty() {
        EMPTY_HASH.to_string()
    } else if let Some(h) = header(req.headers, HEADER_CONTENT_SHA256) {
        h.to_string()
    } else {
        hex::encode(Sha256::digest(req.body))
    };
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        canonical_uri(req.path),
        query,
        canonical_headers,
        signed_headers,
        payload
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{date}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let authorization = format!(
        "{ALGORITHM} Access={ak}, SignedHeaders={signed_headers}, Signature={}",
        hex::encode(hmac_sha256(sk, string_to_sign.as_bytes()))
    );
    Ok(Signature {
        canonical_request,
        string_to_sign,
        signed_headers,
        signed: signed.into_iter().map(|(_, k, v)| (k, v)).collect(),
        authorization,
        query,
    })
}

/// Each path segment decoded, then escaped; always ending in `/`.
pub fn canonical_uri(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let mut uri = decoded
        .split('/')
        .map(|seg| utf8_percent_encode(seg, UNRESERVED).to_string())
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// Pairs sorted by key then value (as strings, before escaping), each escaped, joined
/// by `&`. A repeated key appears once per value.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, UNRESERVED),
                utf8_percent_encode(v, UNRESERVED)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A query string (`a=1&b=%20x`) as decoded pairs, for the CLI and the fake. A `+` is
/// a plus sign (RFC 3986), not a space as in HTML forms: the SDK signs values as given.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length; new_from_slice cannot fail for it.
    let mut mac = match hmac::Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC-SHA256 accepts every key length"),
    };
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// A signature check in constant time, for the fake cloud's verifier.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

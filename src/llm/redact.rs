//! What leaves the host: the summary sent to an LLM has its secrets and (unless the
//! operator allows them) its IP addresses replaced first.

use regex::Regex;
use std::sync::LazyLock;

static SECRET_KV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b([\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|authorization|auth|private[_-]?key|credentials?)[\w.-]*)(\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)"#)
        .expect("a fixed pattern")
});
static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}").expect("a fixed pattern")
});
/// API keys as vendors print them (sk-..., AKIA..., ghp_...), and long hex or base64 runs.
static TOKENS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(sk-[A-Za-z0-9_-]{8,}|AKIA[A-Z0-9]{12,}|gh[pousr]_[A-Za-z0-9]{20,}|[A-Fa-f0-9]{32,}|[A-Za-z0-9+]{40,}={0,2})")
        .expect("a fixed pattern")
});
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
        .expect("a fixed pattern")
});
/// Colon-separated hex groups with at least two colons: IPv6 (and MAC addresses, also
/// identifying).
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}\b").expect("a fixed pattern")
});

/// `text` with secrets replaced by `[secret]` and, unless `addresses`, IP addresses by
/// `[addr]`. `extra` are known secrets (the API key itself) removed wherever they are.
pub fn redact(text: &str, addresses: bool, extra: &[&str]) -> String {
    let mut out = text.to_string();
    for s in extra.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s, "[secret]");
    }
    // Bearer first: the key=value rule would take "Bearer" for the value.
    out = BEARER.replace_all(&out, "${1} [secret]").into_owned();
    out = SECRET_KV.replace_all(&out, "${1}${2}[secret]").into_owned();
    out = TOKENS.replace_all(&out, "[secret]").into_owned();
    if !addresses {
        out = IPV4.replace_all(&out, "[addr]").into_owned();
        out = IPV6
            .replace_all(&out, |c: &regex::Captures| {
                // "12:30:00" is a time, not an address.
                let m = &c[0];
                if m.chars().all(|ch| ch.is_ascii_digit() || ch == ':') && m.len() <= 8 {
                    m.to_string()
                } else {
                    "[addr]".to_string()
                }
            })
            .into_owned();
    }
    out
}

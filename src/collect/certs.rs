//! TLS certificate files → when they stop being valid. A file is PEM (one or more
//! `CERTIFICATE` blocks: a leaf and its chain, perhaps beside its key) or a single DER
//! certificate. Only certificate blocks are parsed; a key in the same file is skipped
//! and never shown.

use std::io::Read;
use std::path::Path;

/// A certificate file larger than this is not one (a chain is a few KiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Certificates one file may hold, at most.
pub const MAX_CERTS: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub struct CertInfo {
    /// Unix seconds after which the earliest-expiring certificate of the file is invalid:
    /// the chain is only as valid as its shortest-lived member.
    pub not_after: i64,
    /// That certificate's subject (e.g. "CN=example.org").
    pub subject: String,
    /// Certificates in the file.
    pub count: usize,
}

/// Reads one certificate file, bounded. The error names the file and what is wrong.
pub fn read(path: &Path) -> Result<CertInfo, String> {
    let shown = path.display();
    let f = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{shown}: larger than {} KiB: not a certificate file",
            MAX_FILE_BYTES >> 10
        ));
    }
    parse(&bytes).map_err(|e| format!("{shown}: {e}"))
}

/// PEM or DER bytes → the earliest expiry among their certificates.
pub fn parse(bytes: &[u8]) -> Result<CertInfo, String> {
    let pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    let mut found: Vec<(i64, String)> = Vec::new();
    if pem {
        for (n, block) in x509_parser::pem::Pem::iter_from_buffer(bytes).enumerate() {
            let block = block.map_err(|e| format!("PEM block {}: {e}", n + 1))?;
            if block.label != "CERTIFICATE" && block.label != "TRUSTED CERTIFICATE" {
                continue;
            }
            if found.len() >= MAX_CERTS {
                return Err(format!("more than {MAX_CERTS} certificates"));
            }
            let cert = block
                .parse_x509()
                .map_err(|e| format!("certificate {}: {e}", found.len() + 1))?;
            found.push(expiry(&cert));
        }
    } else {
        let (_, cert) = x509_parser::parse_x509_certificate(bytes)
            .map_err(|e| format!("neither PEM nor a DER certificate: {e}"))?;
        found.push(expiry(&cert));
    }
    let count = found.len();
    let (not_after, subject) = found
        .into_iter()
        .min_by_key(|c| c.0)
        .ok_or_else(|| "no CERTIFICATE block".to_string())?;
    Ok(CertInfo {
        not_after,
        subject,
        count,
    })
}

fn expiry(cert: &x509_parser::certificate::X509Certificate) -> (i64, String) {
    (
        cert.validity().not_after.timestamp(),
        cert.subject().to_string(),
    )
}

/// Days left at `now_s` (negative once expired).
pub fn days_left(info: &CertInfo, now_s: i64) -> f64 {
    (info.not_after - now_s) as f64 / 86_400.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_no_certificate_is_refused_with_what_is_wrong() {
        let e = parse(b"hello").unwrap_err();
        assert!(e.starts_with("neither PEM nor a DER certificate"), "{e}");
        let key_only = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert_eq!(parse(key_only).unwrap_err(), "no CERTIFICATE block");
        let broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(parse(broken).unwrap_err().starts_with("certificate 1: "));
    }

    #[test]
    fn a_file_past_the_size_cap_is_not_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.pem");
        std::fs::write(&p, vec![b'A'; (MAX_FILE_BYTES + 10) as usize]).unwrap();
        let e = read(&p).unwrap_err();
        assert_eq!(
            e,
            format!(
                "{}: larger than 1024 KiB: not a certificate file",
                p.display()
            )
        );
        let missing = dir.path().join("none.pem");
        assert!(
            read(&missing)
                .unwrap_err()
                .starts_with(&format!("{}: ", missing.display()))
        );
    }
}

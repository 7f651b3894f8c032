//! The certificate a TLS endpoint (`host:port`) presents, read by a handshake alone:
//! nothing is sent after it. The chain is *not* trusted or checked against a name —
//! the point is to see when it expires, including one a client would already refuse
//! (expired, self-signed) — but the handshake's own signatures are still verified, so
//! what is read is what the server holds the key for.

use super::certs::{self, CertInfo};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest `host:port` accepted.
pub const MAX_ENDPOINT: usize = 260;
/// Certificates of one chain looked at, at most.
const MAX_CHAIN: usize = 16;

#[derive(Debug)]
struct ReadOnly(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for ReadOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `host:port` → (host, port); the host may be a name, an IPv4 or a bracketed IPv6.
pub fn split(endpoint: &str) -> Result<(String, u16), String> {
    if endpoint.len() > MAX_ENDPOINT {
        return Err(format!("longer than {MAX_ENDPOINT} characters"));
    }
    let (host, port) = endpoint
        .rsplit_once(':')
        .ok_or("expected host:port, e.g. example.org:443")?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("\"{port}\" is not a port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err("expected host:port, e.g. example.org:443".into());
    }
    Ok((host.to_string(), port))
}

/// Connects, shakes hands within `timeout` and reads the presented chain's earliest
/// expiry. The error names the endpoint and what failed.
pub fn read(endpoint: &str, timeout: Duration) -> Result<CertInfo, String> {
    let fail = |e: String| format!("{endpoint}: {e}");
    let (host, port) = split(endpoint).map_err(fail)?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| fail(e.to_string()))?
        .next()
        .ok_or_else(|| fail("the name resolves to no address".into()))?;
    let mut sock = TcpStream::connect_timeout(&addr, timeout).map_err(|e| fail(e.to_string()))?;
    let deadline = Instant::now() + timeout;
    sock.set_read_timeout(Some(timeout))
        .and_then(|()| sock.set_write_timeout(Some(timeout)))
        .map_err(|e| fail(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let algs = provider.signature_verification_algorithms;
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone() as Arc<CryptoProvider>)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ReadOnly(algs)))
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone()).map_err(|e| fail(e.to_string()))?;
    let mut conn =
        rustls::ClientConnection::new(Arc::new(cfg), name).map_err(|e| fail(e.to_string()))?;
    while conn.is_handshaking() {
        if Instant::now() >= deadline {
            return Err(fail(format!(
                "no TLS handshake within {}s",
                timeout.as_secs()
            )));
        }
        conn.complete_io(&mut sock)
            .map_err(|e| fail(format!("TLS handshake: {e}")))?;
    }
    let chain = conn
        .peer_certificates()
        .ok_or_else(|| fail("presented no certificate".into()))?;
    let mut best: Option<CertInfo> = None;
    let count = chain.len().min(MAX_CHAIN);
    for c in chain.iter().take(MAX_CHAIN) {
        let info = certs::parse(c.as_ref()).map_err(fail)?;
        if best.as_ref().is_none_or(|b| info.not_after < b.not_after) {
            best = Some(info);
        }
    }
    conn.send_close_notify();
    let _ = conn.complete_io(&mut sock);
    let mut info = best.ok_or_else(|| fail("presented no certificate".into()))?;
    info.count = count;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_host_and_port() {
        assert_eq!(split("example.org:443"), Ok(("example.org".into(), 443)));
        assert_eq!(split("[::1]:8443"), Ok(("::1".into(), 8443)));
        assert_eq!(
            split("example.org"),
            Err("expected host:port, e.g. example.org:443".into())
        );
        assert_eq!(
            split("example.org:https"),
            Err("\"https\" is not a port".into())
        );
    }

    #[test]
    fn a_closed_port_is_a_clear_error() {
        // Bound then dropped: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = read(&format!("127.0.0.1:{port}"), Duration::from_secs(2)).unwrap_err();
        assert!(e.starts_with(&format!("127.0.0.1:{port}: ")), "{e}");
    }
}

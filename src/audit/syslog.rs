//! Checkpoints of the audit chain's head to the local syslog (RFC 3164 over /dev/log), a
//! place the audit file's owner cannot rewrite after the fact on a host that forwards or
//! journals its syslog.

use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// Sends one line at facility auth (4), severity notice (5). Returns false when there is
/// no syslog socket: a checkpoint is best effort, the webhook carries it too.
pub fn send(socket: &Path, line: &str) -> bool {
    let Ok(sock) = UnixDatagram::unbound() else {
        return false;
    };
    let msg = format!("<{}>vigil[{}]: {line}", 4 * 8 + 5, std::process::id());
    sock.send_to(msg.as_bytes(), socket).is_ok()
}

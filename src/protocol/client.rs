//! The client end of the socket: a console that attaches to the daemon, and the
//! one-shot requests of `vigil proposals`, `approve` and `reject`.

use super::{
    Call, ClientMsg, Command, Full, Handle, Link, MAX_SERVER_FRAME, PROTOCOL, Reply, ServerMsg,
    Snapshot, codec, decode_server, encode, hello_versions, program_version,
};
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// How long a hello may take to be answered.
const HELLO_WAIT: Duration = Duration::from_secs(5);
/// How long a command may take to be answered.
const REPLY_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// Nobody listens there: no daemon (the caller may become the engine itself).
    #[error("no vigil engine answers at {0}")]
    NoEngine(PathBuf),
    #[error("{0}")]
    Refused(String),
    #[error("{socket}: {reason}")]
    Broken { socket: PathBuf, reason: String },
}

type Conn = Framed<UnixStream, LengthDelimitedCodec>;

/// An accepted connection: who the engine takes us for, and the first picture.
pub struct Session {
    conn: Conn,
    pub user: String,
    pub engine_version: String,
    pub full: Option<Full>,
}

fn broken(socket: &Path, reason: impl ToString) -> AttachError {
    AttachError::Broken {
        socket: socket.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Connects and says hello; with `subscribe`, waits for the first full snapshot.
pub async fn connect(socket: &Path, subscribe: bool) -> Result<Session, AttachError> {
    let stream = match UnixStream::connect(socket).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(AttachError::NoEngine(socket.to_path_buf()));
        }
        Err(e) => return Err(broken(socket, e)),
    };
    let mut conn = Framed::new(stream, codec(MAX_SERVER_FRAME));
    let hello = ClientMsg::Hello {
        protocol: PROTOCOL,
        version: program_version(),
        subscribe,
    };
    conn.send(encode(&hello))
        .await
        .map_err(|e| broken(socket, e))?;
    let first = next_frame(&mut conn, socket, HELLO_WAIT).await?;
    let (user, engine_version) = match decode_server(&first) {
        Ok(ServerMsg::Welcome { user, version, .. }) => (user, version),
        Ok(ServerMsg::Refused { reason, .. }) => return Err(AttachError::Refused(reason)),
        Ok(other) => {
            return Err(broken(
                socket,
                format!("unexpected first message {other:?}"),
            ));
        }
        // A newer engine's hello we cannot read whole still names its versions.
        Err(e) => {
            return Err(match hello_versions(&first) {
                Some((p, v)) if p != PROTOCOL => AttachError::Refused(format!(
                    "the engine (vigil {v}) speaks protocol {p}, this vigil {} speaks {PROTOCOL}: \
                     run the same vigil version on both sides",
                    program_version()
                )),
                _ => broken(socket, e),
            });
        }
    };
    let full = if subscribe {
        let frame = next_frame(&mut conn, socket, HELLO_WAIT).await?;
        match decode_server(&frame) {
            Ok(ServerMsg::Full(f)) => Some(*f),
            Ok(other) => {
                return Err(broken(
                    socket,
                    format!("expected a snapshot, got {other:?}"),
                ));
            }
            Err(e) => return Err(broken(socket, e)),
        }
    } else {
        None
    };
    Ok(Session {
        conn,
        user,
        engine_version,
        full,
    })
}

async fn next_frame(
    conn: &mut Conn,
    socket: &Path,
    wait: Duration,
) -> Result<bytes::BytesMut, AttachError> {
    match tokio::time::timeout(wait, conn.next()).await {
        Err(_) => Err(broken(socket, "the engine did not answer in time")),
        Ok(None) => Err(broken(socket, "the engine closed the connection")),
        Ok(Some(Err(e))) => Err(broken(socket, e)),
        Ok(Some(Ok(b))) => Ok(b),
    }
}

/// One command, one answer (for `vigil approve` and friends).
pub async fn request(socket: &Path, command: Command) -> Result<Reply, AttachError> {
    let mut s = connect(socket, false).await?;
    s.conn
        .send(encode(&ClientMsg::Call { id: 1, command }))
        .await
        .map_err(|e| broken(socket, e))?;
    loop {
        let frame = next_frame(&mut s.conn, socket, REPLY_WAIT).await?;
        match decode_server(&frame) {
            Ok(ServerMsg::Reply { id: 1, reply }) => return Ok(reply),
            Ok(ServerMsg::Error { reason }) => return Err(broken(socket, reason)),
            Ok(_) => continue,
            Err(e) => return Err(broken(socket, e)),
        }
    }
}

/// Attaches a console: the returned handle behaves like an embedded engine's. When the
/// engine goes away the last picture stays (marked lost) and the console reconnects by
/// itself.
pub fn attach(socket: PathBuf, first: Session) -> Handle {
    let name = socket.display().to_string();
    let mut snap = first.full.map(Full::into_snapshot).unwrap_or_default();
    snap.link = Link::Attached {
        socket: name.clone(),
    };
    let (tx, rx) = watch::channel(snap);
    let (ctx, crx) = mpsc::channel(64);
    let task = tokio::spawn(run(socket, first.conn, tx, crx));
    Handle {
        snapshots: rx,
        calls: ctx,
        task,
    }
}

async fn run(
    socket: PathBuf,
    conn: Conn,
    tx: watch::Sender<Snapshot>,
    mut calls: mpsc::Receiver<Call>,
) {
    let name = socket.display().to_string();
    let mut conn = Some(conn);
    let mut backoff = Duration::from_millis(250);
    loop {
        if let Some(c) = conn.take() {
            backoff = Duration::from_millis(250);
            let reason = serve(c, &tx, &mut calls).await;
            let Some(reason) = reason else {
                return; // the console is gone
            };
            tracing::warn!(socket = %name, %reason, "engine connection lost");
            tx.send_modify(|s| {
                s.link = Link::Lost {
                    socket: name.clone(),
                    reason: reason.clone(),
                }
            });
        }
        // Not connected: answer what the console asks with a refusal, try again soon.
        let sleep = tokio::time::sleep(backoff);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                call = calls.recv() => match call {
                    None => return,
                    Some(c) => {
                        if let Some(r) = c.reply {
                            let _ = r.send(Reply::Refused { reason: format!("not connected to the engine at {name}") });
                        }
                    }
                },
            }
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
        match connect(&socket, true).await {
            Ok(s) => {
                if let Some(f) = s.full {
                    let mut fresh = f.into_snapshot();
                    fresh.link = Link::Attached {
                        socket: name.clone(),
                    };
                    tx.send_replace(fresh);
                }
                conn = Some(s.conn);
            }
            Err(e) => {
                tx.send_modify(|s| {
                    s.link = Link::Lost {
                        socket: name.clone(),
                        reason: e.to_string(),
                    }
                });
            }
        }
    }
}

/// Carries one connection until it breaks (the reason) or the console leaves (None).
async fn serve(
    mut conn: Conn,
    tx: &watch::Sender<Snapshot>,
    calls: &mut mpsc::Receiver<Call>,
) -> Option<String> {
    let mut waiting: HashMap<u64, oneshot::Sender<Reply>> = HashMap::new();
    let mut next_id = 1u64;
    loop {
        tokio::select! {
            frame = conn.next() => {
                let bytes = match frame {
                    None => return Some("the engine closed the connection".into()),
                    Some(Err(e)) => return Some(e.to_string()),
                    Some(Ok(b)) => b,
                };
                match decode_server(&bytes) {
                    Ok(ServerMsg::Delta(d)) => {
                        let d = *d;
                        let have = tx.borrow().seq;
                        if d.from > have {
                            // A gap should not happen (the engine resends in full when a
                            // console falls behind); reconnecting brings a full picture.
                            return Some(format!("missed changes {have}..{}", d.from));
                        }
                        tx.send_modify(|s| d.apply(s));
                    }
                    Ok(ServerMsg::Full(f)) => {
                        let link = tx.borrow().link.clone();
                        let mut fresh = f.into_snapshot();
                        fresh.link = link;
                        tx.send_replace(fresh);
                    }
                    Ok(ServerMsg::Reply { id, reply }) => {
                        if let Some(w) = waiting.remove(&id) {
                            let _ = w.send(reply);
                        }
                    }
                    Ok(ServerMsg::Error { reason }) => tracing::warn!(%reason, "the engine could not read a frame"),
                    Ok(ServerMsg::Welcome { .. } | ServerMsg::Refused { .. }) => {}
                    Err(e) => return Some(format!("unreadable frame from the engine: {e}")),
                }
            }
            call = calls.recv() => {
                let call = call?;
                // A console that quits leaves the engine running: it only hangs up.
                if call.command == Command::Shutdown {
                    return None;
                }
                let id = next_id;
                next_id += 1;
                if let Some(r) = call.reply {
                    waiting.insert(id, r);
                }
                let frame = encode(&ClientMsg::Call { id, command: call.command });
                if let Err(e) = conn.send(frame).await {
                    return Some(e.to_string());
                }
            }
        }
    }
}

//! The engine's end of the socket. One task turns every new snapshot into one delta
//! frame, encoded once for all consoles; each connection has its own task, so a slow or
//! hostile client holds up nobody but itself.

use crate::audit::Actor;
use crate::protocol::{
    Call, ClientMsg, Command, Delta, EngineCodec, Full, PROTOCOL, Reply, ServerMsg, Snapshot,
    decode_client, encode, hello_versions, program_version,
};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot, watch};
use tokio_util::codec::Framed;

/// At most this many clients at once; more are told so and closed.
const MAX_CLIENTS: usize = 64;
/// A client has this long to say hello.
const HELLO_WAIT: Duration = Duration::from_secs(5);
/// A client that does not read its frames for this long is dropped.
const WRITE_WAIT: Duration = Duration::from_secs(10);
/// Unreadable frames in a row before the connection is closed.
const MAX_BAD_FRAMES: u32 = 16;
/// Deltas buffered for a console that reads slowly; past this it gets a full snapshot.
const DELTA_BACKLOG: usize = 256;

/// One encoded delta, shared by every connection.
#[derive(Clone)]
struct Frame {
    from: u64,
    seq: u64,
    bytes: bytes::Bytes,
}

/// What a connection needs of the engine.
#[derive(Clone)]
pub struct EngineLink {
    pub snapshots: watch::Receiver<Snapshot>,
    pub calls: mpsc::Sender<Call>,
}

/// Serves consoles until the listener fails or the engine stops.
pub async fn serve(listener: UnixListener, engine: EngineLink) {
    let (btx, _) = broadcast::channel::<Frame>(DELTA_BACKLOG);
    tokio::spawn(publish(engine.snapshots.clone(), btx.clone()));
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("socket accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let engine = engine.clone();
        let deltas = btx.subscribe();
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    client(stream, engine, deltas).await;
                    drop(permit);
                });
            }
            Err(_) => {
                tokio::spawn(async move {
                    let mut conn = Framed::new(stream, EngineCodec::new());
                    let _ = conn
                        .send(encode(&refused(format!(
                            "{MAX_CLIENTS} clients are attached already"
                        ))))
                        .await;
                });
            }
        }
    }
}

fn refused(reason: String) -> ServerMsg {
    ServerMsg::Refused {
        protocol: PROTOCOL,
        version: program_version(),
        reason,
    }
}

async fn publish(mut rx: watch::Receiver<Snapshot>, tx: broadcast::Sender<Frame>) {
    let mut prev = rx.borrow_and_update().clone();
    while rx.changed().await.is_ok() {
        let cur = rx.borrow_and_update().clone();
        if let Some(d) = Delta::between(&prev, &cur) {
            let frame = Frame {
                from: d.from,
                seq: d.seq,
                bytes: encode(&ServerMsg::Delta(Box::new(d))),
            };
            // No console attached is not an error.
            let _ = tx.send(frame);
        }
        prev = cur;
    }
}

/// Who is on the other end, from the kernel's peer credentials.
fn peer(stream: &UnixStream) -> Option<Actor> {
    let cred = stream.peer_cred().ok()?;
    Some(Actor::for_uid(cred.uid()))
}

type Conn = Framed<UnixStream, EngineCodec>;

async fn send(conn: &mut Conn, bytes: bytes::Bytes) -> bool {
    matches!(
        tokio::time::timeout(WRITE_WAIT, conn.send(bytes)).await,
        Ok(Ok(()))
    )
}

async fn client(stream: UnixStream, engine: EngineLink, mut deltas: broadcast::Receiver<Frame>) {
    let Some(who) = peer(&stream) else {
        return;
    };
    let mut conn = Framed::new(stream, EngineCodec::new());
    let hello = match tokio::time::timeout(HELLO_WAIT, conn.next()).await {
        Ok(Some(Ok(b))) => b,
        _ => return,
    };
    let subscribe = match decode_client(&hello) {
        Ok(ClientMsg::Hello {
            protocol: PROTOCOL,
            subscribe,
            ..
        }) => subscribe,
        other => {
            let reason = match hello_versions(&hello) {
                Some((p, v)) if p != PROTOCOL => format!(
                    "this engine (vigil {}) speaks protocol {PROTOCOL}, the client (vigil {v}) \
                     speaks {p}: run the same vigil version on both sides",
                    program_version()
                ),
                _ => match other {
                    Err(e) => format!("expected a hello: {e}"),
                    Ok(_) => "expected a hello first".into(),
                },
            };
            tracing::info!(user = %who.user, %reason, "client refused");
            let _ = send(&mut conn, encode(&refused(reason))).await;
            return;
        }
    };
    let welcome = ServerMsg::Welcome {
        protocol: PROTOCOL,
        version: program_version(),
        user: who.user.clone(),
    };
    if !send(&mut conn, encode(&welcome)).await {
        return;
    }
    let mut sent = 0u64;
    if subscribe {
        match full(&mut conn, &engine).await {
            Some(seq) => sent = seq,
            None => return,
        }
    }
    let mut bad = 0u32;
    loop {
        tokio::select! {
            d = deltas.recv(), if subscribe => match d {
                Ok(f) => {
                    if f.seq <= sent {
                        continue;
                    }
                    if f.from > sent {
                        match full(&mut conn, &engine).await {
                            Some(seq) => sent = seq,
                            None => return,
                        }
                        continue;
                    }
                    if !send(&mut conn, f.bytes).await {
                        return;
                    }
                    sent = f.seq;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => match full(&mut conn, &engine).await {
                    Some(seq) => sent = seq,
                    None => return,
                },
                Err(broadcast::error::RecvError::Closed) => return,
            },
            frame = conn.next() => {
                let bytes = match frame {
                    Some(Ok(b)) => b,
                    // A frame over the limit cannot be skipped: the stream is lost.
                    Some(Err(e)) => {
                        let _ = send(&mut conn, encode(&ServerMsg::Error { reason: e.to_string() })).await;
                        return;
                    }
                    None => return,
                };
                match decode_client(&bytes) {
                    Ok(ClientMsg::Call { id, command }) => {
                        bad = 0;
                        let reply = call(&engine, command, &who).await;
                        if !send(&mut conn, encode(&ServerMsg::Reply { id, reply })).await {
                            return;
                        }
                    }
                    Ok(ClientMsg::Hello { .. }) => {}
                    Err(e) => {
                        bad += 1;
                        if bad >= MAX_BAD_FRAMES {
                            return;
                        }
                        if !send(&mut conn, encode(&ServerMsg::Error { reason: e.to_string() })).await {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Sends the whole picture; the seq it shows.
async fn full(conn: &mut Conn, engine: &EngineLink) -> Option<u64> {
    let (seq, bytes) = {
        let s = engine.snapshots.borrow();
        (s.seq, encode(&ServerMsg::Full(Box::new(Full::of(&s)))))
    };
    send(conn, bytes).await.then_some(seq)
}

async fn call(engine: &EngineLink, mut command: Command, who: &Actor) -> Reply {
    if command == Command::Shutdown {
        return Reply::Refused {
            reason: "a client cannot stop the engine (systemctl stop vigil does)".into(),
        };
    }
    command.set_actor(who.clone());
    let (tx, rx) = oneshot::channel();
    if engine
        .calls
        .send(Call {
            command,
            reply: Some(tx),
        })
        .await
        .is_err()
    {
        return Reply::Refused {
            reason: "the engine is stopping".into(),
        };
    }
    match tokio::time::timeout(Duration::from_secs(30), rx).await {
        Ok(Ok(r)) => r,
        _ => Reply::Refused {
            reason: "the engine did not answer".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Metric, client};

    /// An hour of one-second samples is far over a client's 64 KiB frame: the engine must
    /// still send it whole to a console that attaches late.
    #[tokio::test]
    async fn a_console_attaching_late_gets_the_whole_hour_in_its_first_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let mut snap = Snapshot::default();
        let hour: std::collections::VecDeque<(i64, f64)> = (0..3600)
            .map(|i| (1_700_000_000_000 + i * 1000, i as f64 / 7.0))
            .collect();
        for m in [Metric::Cpu, Metric::Mem] {
            snap.history.insert(m, hour.clone());
        }
        snap.seq = 1;
        let (_stx, srx) = watch::channel(snap);
        let (ctx, _crx) = mpsc::channel(1);
        tokio::spawn(serve(
            listener,
            EngineLink {
                snapshots: srx,
                calls: ctx,
            },
        ));
        let s = client::connect(&path, true).await.expect("attached");
        let full = s.full.expect("a first snapshot");
        let cpu = full
            .history
            .iter()
            .find(|(m, _)| *m == Metric::Cpu)
            .map(|(_, v)| v.len());
        assert_eq!(cpu, Some(3600));
        assert_eq!(full.history.len(), 2);
    }
}

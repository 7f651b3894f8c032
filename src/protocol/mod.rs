//! protocol: what travels between the engine and its consoles. One protocol, two
//! transports: an in-process channel when a console embeds the engine, a Unix socket when
//! it attaches to `vigil daemon`. The console imports nothing else from the engine.
//!
//! On the socket every message is one frame: a 4-byte big-endian length, then that many
//! bytes of JSON. The first frame each side sends is a hello that names its protocol
//! version; its shape never changes, so a console and a daemon of different versions can
//! always tell each other so in words.

pub mod board;
pub mod client;
mod delta;
mod view;

pub use delta::{Delta, Full};
pub use view::{
    CloudActivity, CloudGroup, CloudInstance, Command, HostInfo, Link, Notice, Reply, Severity,
    Snapshot,
};
pub use view::{
    HealingBoard, HealingSpan, IncidentEvidence, IncidentNote, IncidentState, IncidentStep,
    IncidentVerify, IncidentView, StepState,
};

// The view types the console draws: re-exported here so that the console reaches them
// only through the protocol.
pub use crate::audit::Actor;
pub use crate::collect::{HostSample, Metric};
pub use crate::config::Mode;
pub use crate::engine::forecasts::METRICS as FORECAST_METRICS;
pub use crate::execute::docker::ContainerInfo;
pub use crate::forecast::Forecast;
pub use crate::plan::proposal::Ledger;
pub use board::{Action, Entry, Proposal, Risk, State};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::codec::LengthDelimitedCodec;

/// The version of this protocol. A peer that speaks another one is refused with a
/// message that says which side to upgrade.
pub const PROTOCOL: u32 = 1;
/// A client sends commands: small.
pub const MAX_CLIENT_FRAME: usize = 64 * 1024;
/// A full snapshot carries an hour of history for every series.
pub const MAX_SERVER_FRAME: usize = 32 * 1024 * 1024;
/// How much history a snapshot keeps, for the screen.
pub const WINDOW_MS: i64 = 3_600_000;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ClientMsg {
    /// First frame. `subscribe`: send the snapshot and then every change.
    Hello {
        protocol: u32,
        version: String,
        #[serde(default)]
        subscribe: bool,
    },
    /// A command; the reply carries the same id. Who sends it comes from the socket's
    /// peer credentials, never from the command.
    Call { id: u64, command: Command },
}

/// What the engine sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerMsg {
    /// The answer to a hello that is accepted: who the engine takes the client for.
    Welcome {
        protocol: u32,
        version: String,
        user: String,
    },
    /// The answer to a hello that is not; the connection closes after it.
    Refused {
        protocol: u32,
        version: String,
        reason: String,
    },
    Full(Box<Full>),
    Delta(Box<Delta>),
    Reply {
        id: u64,
        reply: Reply,
    },
    /// A frame the engine could not read; the connection stays open.
    Error {
        reason: String,
    },
}

/// The framing both sides use, with the receiving side's size limit.
pub fn codec(max_frame: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(max_frame)
        .new_codec()
}

/// The engine's framing: what it reads is bounded as a client's frame (64 KiB), what it
/// writes as a server's (a full snapshot carries an hour of every series, far more than
/// 64 KiB). One `LengthDelimitedCodec` applies its one limit both ways, which would make
/// the engine unable to send a console the picture after its first minutes.
pub struct EngineCodec {
    read: LengthDelimitedCodec,
    write: LengthDelimitedCodec,
}

impl EngineCodec {
    pub fn new() -> EngineCodec {
        EngineCodec {
            read: codec(MAX_CLIENT_FRAME),
            write: codec(MAX_SERVER_FRAME),
        }
    }
}

impl Default for EngineCodec {
    fn default() -> Self {
        EngineCodec::new()
    }
}

impl tokio_util::codec::Decoder for EngineCodec {
    type Item = bytes::BytesMut;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut bytes::BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        self.read.decode(src)
    }
}

impl tokio_util::codec::Encoder<bytes::Bytes> for EngineCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: bytes::Bytes, dst: &mut bytes::BytesMut) -> Result<(), Self::Error> {
        self.write.encode(item, dst)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is over the limit of {1}")]
    TooLarge(usize, usize),
    #[error("not a vigil message: {0}")]
    Garbled(String),
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], max: usize) -> Result<T, FrameError> {
    if bytes.len() > max {
        return Err(FrameError::TooLarge(bytes.len(), max));
    }
    serde_json::from_slice(bytes).map_err(|e| FrameError::Garbled(e.to_string()))
}

/// Reads one frame's payload from a client.
pub fn decode_client(bytes: &[u8]) -> Result<ClientMsg, FrameError> {
    decode(bytes, MAX_CLIENT_FRAME)
}

/// Reads one frame's payload from the engine.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMsg, FrameError> {
    decode(bytes, MAX_SERVER_FRAME)
}

/// The protocol and program version a hello of any version names, read without
/// knowing the rest of its shape: `{"protocol": N, "version": "…"}`.
pub fn hello_versions(bytes: &[u8]) -> Option<(u32, String)> {
    #[derive(Deserialize)]
    struct AnyHello {
        protocol: u32,
        #[serde(default)]
        version: String,
    }
    let h: AnyHello = serde_json::from_slice(bytes).ok()?;
    Some((h.protocol, h.version))
}

pub fn encode<T: Serialize>(msg: &T) -> bytes::Bytes {
    // Our own types always serialise; an empty frame would be refused by the peer.
    serde_json::to_vec(msg).unwrap_or_default().into()
}

/// vigil's own version, sent in every hello.
pub fn program_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// A command on its way to the engine, and where its answer goes.
pub struct Call {
    pub command: Command,
    pub reply: Option<oneshot::Sender<Reply>>,
}

/// A console's end of the protocol, whatever the transport.
pub struct Handle {
    pub snapshots: watch::Receiver<Snapshot>,
    pub calls: mpsc::Sender<Call>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// Sends a command without waiting for its answer (it shows in the snapshot).
    pub async fn send(&self, command: Command) {
        let _ = self
            .calls
            .send(Call {
                command,
                reply: None,
            })
            .await;
    }

    /// Sends a command and waits for the engine's answer; None if the engine is gone.
    pub async fn call(&self, command: Command) -> Option<Reply> {
        let (tx, rx) = oneshot::channel();
        self.calls
            .send(Call {
                command,
                reply: Some(tx),
            })
            .await
            .ok()?;
        rx.await.ok()
    }
}

//! The socket frames: any byte stream, cut into frames by the same length-delimited codec
//! and size limits the daemon and the console use, then each frame read as a client's
//! message (the daemon's side), as any hello, and as the engine's message applied to a
//! console's picture (the console's side). Never a panic, never a frame over the limit.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use vigil::protocol::{self, ServerMsg, Snapshot};

fuzz_target!(|data: &[u8]| {
    let Some((&side, stream)) = data.split_first() else {
        return;
    };
    let daemon_side = side % 2 == 0;
    let max = if daemon_side {
        protocol::MAX_CLIENT_FRAME
    } else {
        protocol::MAX_SERVER_FRAME
    };
    let mut codec = protocol::codec(max);
    let mut buf = BytesMut::from(stream);
    let mut picture = Snapshot::default();
    // The stream as it arrives: frames until the codec wants more bytes or refuses one.
    loop {
        let frame = match codec.decode(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) | Err(_) => break,
        };
        assert!(frame.len() <= max);
        if daemon_side {
            let _ = protocol::hello_versions(&frame);
            let _ = protocol::decode_client(&frame);
        } else {
            match protocol::decode_server(&frame) {
                Ok(ServerMsg::Full(full)) => picture = full.into_snapshot(),
                Ok(ServerMsg::Delta(d)) => d.apply(&mut picture),
                _ => {}
            }
        }
    }
    let _ = codec.decode_eof(&mut buf);
});

//! The audit line reader: any bytes as a log are verified (or a line named), tailed and
//! read as records, never a panic; a tail never returns more than asked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;
use vigil::audit;

fuzz_target!(|data: &[u8]| {
    let Some((&n, log)) = data.split_first() else {
        return;
    };
    let path = Path::new("fuzz.jsonl");
    match audit::verify_reader(Cursor::new(log), path) {
        Ok(v) => assert_eq!(v.records, v.head.seq),
        Err(audit::AuditError::Broken { line, .. }) => {
            assert!(line >= 1 && line <= log.split(|&b| b == b'\n').count())
        }
        Err(e) => panic!("{e}"),
    }
    let n = n as usize;
    let t = audit::tail_reader(&mut Cursor::new(log), log.len() as u64, n).unwrap();
    assert!(t.len() <= n);
    if let Ok(text) = std::str::from_utf8(log) {
        for l in text.lines() {
            let _ = audit::parse_line(l);
        }
    }
});

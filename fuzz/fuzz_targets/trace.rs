//! The trace CSV: any bytes are a trace or an error naming the line, never a panic, and a
//! trace is bounded and finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil::sim::trace;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match trace::parse(text, "fuzz.csv") {
        Ok(t) => {
            assert!(t.len() as i64 <= trace::MAX_STEPS);
            assert_eq!(t.values.len(), t.filled.len());
            assert!(t.values.iter().all(|v| v.is_finite()));
            assert!(t.step >= 1);
            let _ = t.to_csv();
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("fuzz.csv"), "{msg}");
        }
    }
});

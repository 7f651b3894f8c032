//! The console's only way to the engine is the protocol: it imports `crate::protocol`
//! (and its own config section's helpers), never the pipeline, so an attached console
//! depends on the wire's view types alone.

use std::path::Path;

/// The crate paths the console may name: the protocol, and `config` for the line numbers
/// of its own theme files.
const ALLOWED: &[&str] = &["protocol", "config", "console"];

#[test]
fn the_console_imports_nothing_of_the_engine_but_the_protocol() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
    let mut offences = Vec::new();
    let mut files = 0;
    for f in std::fs::read_dir(&dir).expect("src/console is readable") {
        let path = f.expect("a directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        files += 1;
        let src = std::fs::read_to_string(&path).expect("a readable source file");
        for (n, line) in src.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("crate::") {
                let after = &rest[at + "crate::".len()..];
                let module: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !ALLOWED.contains(&module.as_str()) {
                    offences.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
                rest = after;
            }
        }
    }
    assert!(
        files >= 5,
        "only {files} console sources found in {}",
        dir.display()
    );
    assert!(
        offences.is_empty(),
        "the console reaches past the protocol:\n{}",
        offences.join("\n")
    );
}

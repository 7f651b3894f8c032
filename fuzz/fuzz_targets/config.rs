//! The config loader: any bytes give a config and problems with file:line:key, never a
//! panic, and the rendering of those problems never panics on their spans.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = vigil::config::load_str(text, "fuzz.toml");
    for p in &loaded.problems {
        assert!(p.line >= 1 && p.line <= text.lines().count().max(1) + 1, "{p}");
    }
    // What the loader kept must pass its own checks: nothing out of bounds survives.
    assert!(
        loaded.config.semantic_problems().is_empty(),
        "{:?}",
        loaded.config.semantic_problems()
    );
    assert!(vigil::config::bounds::problems(&loaded.config).is_empty());
    let _ = vigil::config::render(&loaded, false);
});

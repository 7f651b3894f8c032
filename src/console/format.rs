//! Numbers the way operators read them.

/// The value in the largest power-of-1024 unit that keeps it at least 1, and that
/// unit's index. Negative numbers and -0.0 (an empty sum) read as 0.
fn scale_1024(n: f64) -> (f64, usize) {
    let mut v = if n > 0.0 { n } else { 0.0 };
    let mut i = 0;
    while v >= 1024.0 && i < 5 {
        v /= 1024.0;
        i += 1;
    }
    (v, i)
}

pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let (v, i) = scale_1024(n);
    if i > 0 && v < 10.0 {
        format!("{v:.1} {}", UNITS[i])
    } else {
        format!("{v:.0} {}", UNITS[i])
    }
}

/// For tight places: "379M", "24G", "96K".
pub fn bytes_short(n: f64) -> String {
    const UNITS: [&str; 6] = ["", "K", "M", "G", "T", "P"];
    let (v, i) = scale_1024(n);
    if i > 0 && v < 10.0 {
        format!("{v:.1}{}", UNITS[i])
    } else {
        format!("{v:.0}{}", UNITS[i])
    }
}

pub fn rate(bps: f64) -> String {
    format!("{}/s", bytes(bps))
}

pub fn uptime(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_pick_the_unit_an_operator_reads() {
        assert_eq!(bytes(0.0), "0 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(20.0 * 1024.0 * 1024.0 * 1024.0), "20 GiB");
        assert_eq!(rate(512.0), "512 B/s");
        assert_eq!(bytes_short(379.0 * 1024.0 * 1024.0), "379M");
        assert_eq!(bytes_short(1.5 * 1024.0), "1.5K");
        assert_eq!(bytes_short(12.0), "12");
    }

    #[test]
    fn uptime_shows_the_two_largest_units() {
        assert_eq!(uptime(59), "0m");
        assert_eq!(uptime(3 * 3600 + 5 * 60), "3h 5m");
        assert_eq!(uptime(2 * 86_400 + 7 * 3600 + 59), "2d 7h");
    }
}

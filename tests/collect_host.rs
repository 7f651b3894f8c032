//! The host collector against fixture copies of real /proc files (two readings taken a
//! second apart on a loaded machine) and against this machine's live /proc.

use std::path::{Path, PathBuf};
use vigil::collect::host::{HostCollector, compute, is_whole_disk, read, real_mounts};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The numbers of the first line starting with `prefix`, parsed independently of vigil.
fn numbers(file: &Path, prefix: &str) -> Vec<u64> {
    let text = std::fs::read_to_string(file).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap();
    line.trim_start()[prefix.len()..]
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

fn fake_statfs(p: &Path) -> Option<(u64, u64, u64)> {
    (p == Path::new("/")).then_some((1000, 600, 300))
}

#[test]
fn cpu_utilisation_counts_idle_and_iowait_as_idle() {
    let a = read(&fixture("proc-a")).unwrap();
    let b = read(&fixture("proc-b")).unwrap();
    let s = compute(Some(&a), &b, 1.0, 0, &fake_statfs);
    let ta = numbers(&fixture("proc-a/stat"), "cpu ");
    let tb = numbers(&fixture("proc-b/stat"), "cpu ");
    // user nice system idle iowait irq softirq steal (guest is inside user)
    let total = |t: &[u64]| t[..8].iter().sum::<u64>() as f64;
    let idle = |t: &[u64]| (t[3] + t[4]) as f64;
    let expected = 100.0 * (1.0 - (idle(&tb) - idle(&ta)) / (total(&tb) - total(&ta)));
    assert!(
        (s.cpu_pct - expected).abs() < 1e-9,
        "{} vs {expected}",
        s.cpu_pct
    );
    assert!(s.cpu_pct > 5.0, "the fixture was taken under load");
    let expected_iowait = 100.0 * (tb[4] - ta[4]) as f64 / (total(&tb) - total(&ta));
    assert!((s.iowait_pct - expected_iowait).abs() < 1e-9);
    assert_eq!(s.cpu_per_core.len(), 2);
    assert!(s.cpu_per_core.iter().all(|c| (0.0..=100.0).contains(c)));
}

#[test]
fn memory_used_is_total_minus_available() {
    let b = read(&fixture("proc-b")).unwrap();
    let s = compute(None, &b, 0.0, 0, &fake_statfs);
    let total = numbers(&fixture("proc-b/meminfo"), "MemTotal:")[0] * 1024;
    let avail = numbers(&fixture("proc-b/meminfo"), "MemAvailable:")[0] * 1024;
    assert_eq!(s.mem_total, total);
    assert_eq!(s.mem_used, total - avail);
    assert_eq!(
        s.swap_total,
        numbers(&fixture("proc-b/meminfo"), "SwapTotal:")[0] * 1024
    );
    let load = std::fs::read_to_string(fixture("proc-b/loadavg")).unwrap();
    let load: Vec<f64> = load
        .split_whitespace()
        .take(3)
        .map(|w| w.parse().unwrap())
        .collect();
    for (got, want) in [s.load1, s.load5, s.load15].iter().zip(&load) {
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}

#[test]
fn disk_and_network_rates_come_from_counter_deltas() {
    let a = read(&fixture("proc-a")).unwrap();
    let b = read(&fixture("proc-b")).unwrap();
    let s = compute(Some(&a), &b, 2.0, 0, &fake_statfs);
    let da = numbers(&fixture("proc-a/diskstats"), "254       0 vda");
    let db = numbers(&fixture("proc-b/diskstats"), "254       0 vda");
    // reads merged sectors_read time writes merged sectors_written
    assert_eq!(s.disk_read_bps, (db[2] - da[2]) as f64 * 512.0 / 2.0);
    assert_eq!(s.disk_write_bps, (db[6] - da[6]) as f64 * 512.0 / 2.0);
    assert!(
        s.disk_write_bps > 0.0,
        "the fixture wrote 50 MiB between readings"
    );
    assert!(
        s.net.iter().all(|n| n.iface != "lo"),
        "loopback is not the host's traffic"
    );
    let eth_a = numbers(&fixture("proc-a/net/dev"), "eth0:");
    let eth_b = numbers(&fixture("proc-b/net/dev"), "eth0:");
    let eth = s.net.iter().find(|n| n.iface == "eth0").unwrap();
    assert_eq!(eth.rx_bps, (eth_b[0] - eth_a[0]) as f64 / 2.0);
    assert_eq!(eth.tx_bps, (eth_b[8] - eth_a[8]) as f64 / 2.0);
}

#[test]
fn the_first_reading_has_levels_but_no_rates() {
    let b = read(&fixture("proc-b")).unwrap();
    let s = compute(None, &b, 0.0, 0, &fake_statfs);
    assert!(s.cpu_per_core.is_empty());
    assert_eq!(s.cpu_pct, 0.0);
    assert!(s.net.is_empty());
    assert!(s.mem_total > 0);
}

#[test]
fn only_real_filesystems_count_each_device_once() {
    let b = read(&fixture("proc-b")).unwrap();
    let mounts: Vec<String> = real_mounts(&b.mounts)
        .iter()
        .map(|m| m.point.display().to_string())
        .collect();
    // /var/lib/docker is the same device as /; tmpfs, cgroup, proc, sysfs are not disks.
    assert_eq!(mounts, vec!["/"]);
    let s = compute(None, &b, 0.0, 0, &fake_statfs);
    assert_eq!(s.filesystems.len(), 1);
    assert_eq!(s.filesystems[0].used_pct(), 600.0 * 100.0 / 900.0);
}

#[test]
fn partitions_and_virtual_devices_are_not_whole_disks() {
    for d in ["sda", "vda", "xvdb", "nvme0n1", "dm-0", "md0"] {
        assert!(is_whole_disk(d), "{d}");
    }
    for d in [
        "sda1",
        "vda2",
        "xvdb15",
        "nvme0n1p1",
        "loop0",
        "ram3",
        "zram0",
    ] {
        assert!(!is_whole_disk(d), "{d}");
    }
}

#[test]
fn a_missing_proc_file_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = read(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(&dir.path().join("stat").display().to_string()),
        "{err}"
    );
}

#[test]
fn a_garbled_proc_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("proc-b");
    for f in ["stat", "meminfo", "diskstats", "uptime"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    for f in ["net/dev", "self/mountinfo"] {
        std::fs::create_dir_all(dir.path().join(f).parent().unwrap()).unwrap();
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("loadavg"), "not a load average\n").unwrap();
    let err = read(dir.path()).unwrap_err().to_string();
    assert!(err.contains("loadavg"), "{err}");
}

#[test]
fn the_live_host_reads_in_range_and_agrees_with_meminfo() {
    let mut c = HostCollector::proc();
    c.collect(0).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let s = c.collect(300).unwrap();
    assert!((0.0..=100.0).contains(&s.cpu_pct));
    let cores = numbers(Path::new("/proc/stat"), "cpu ").len();
    assert!(cores > 0);
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let per_core = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(s.cpu_per_core.len(), per_core);
    let total = numbers(Path::new("/proc/meminfo"), "MemTotal:")[0] * 1024;
    assert_eq!(s.mem_total, total);
    assert!(s.mem_used <= s.mem_total && s.mem_used + s.mem_available == s.mem_total);
    assert!(s.load1 >= 0.0 && s.uptime_secs > 0);
    for fs in &s.filesystems {
        assert!(fs.used <= fs.total && fs.avail <= fs.total, "{fs:?}");
    }
    assert!(
        s.net
            .iter()
            .all(|n| n.iface != "lo" && n.rx_bps >= 0.0 && n.tx_bps >= 0.0)
    );
}

/// A proc root with two real mounts: `/` and an NFS mount at /mnt/nfs.
fn proc_with_nfs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("proc-b");
    for f in [
        "stat",
        "meminfo",
        "loadavg",
        "diskstats",
        "net/dev",
        "uptime",
    ] {
        std::fs::create_dir_all(dir.path().join(f).parent().unwrap()).unwrap();
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("self")).unwrap();
    std::fs::write(
        dir.path().join("self/mountinfo"),
        "25 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
         90 25 0:50 / /mnt/nfs rw,relatime shared:60 - nfs4 server:/export rw,vers=4.2\n",
    )
    .unwrap();
    dir
}

/// A statvfs whose /mnt/nfs blocks until released, as on a dead NFS server, and counts
/// how often each mount is asked.
struct DeadNfs {
    released: std::sync::Mutex<bool>,
    wake: std::sync::Condvar,
    asked: std::sync::Mutex<Vec<String>>,
}

impl DeadNfs {
    fn statfs(&self, p: &Path) -> Option<(u64, u64, u64)> {
        self.asked.lock().unwrap().push(p.display().to_string());
        if p == Path::new("/mnt/nfs") {
            let mut r = self.released.lock().unwrap();
            while !*r {
                r = self.wake.wait(r).unwrap();
            }
            return Some((4000, 1000, 3000));
        }
        Some((1000, 600, 300))
    }

    fn asked(&self, p: &str) -> usize {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|a| *a == p)
            .count()
    }
}

#[test]
fn a_hung_filesystem_does_not_freeze_the_tick_and_is_not_asked_again_until_it_answers() {
    use std::sync::Arc;
    let root = proc_with_nfs();
    let nfs = Arc::new(DeadNfs {
        released: std::sync::Mutex::new(false),
        wake: std::sync::Condvar::new(),
        asked: std::sync::Mutex::new(Vec::new()),
    });
    let fake = Arc::clone(&nfs);
    let mut c = HostCollector::with_statfs(
        root.path(),
        Arc::new(move |p: &Path| fake.statfs(p)),
        std::time::Duration::from_millis(50),
    );
    // The tick runs on its own thread so that a frozen collect fails this test instead
    // of hanging it; the generous guard is no timing claim.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut samples = Vec::new();
        for tick in 0..3 {
            samples.push(c.collect(tick * 1000).unwrap());
        }
        tx.send((c, samples)).unwrap();
    });
    let (mut c, samples) = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("three ticks return while /mnt/nfs still hangs");
    for s in &samples {
        let mounts: Vec<&str> = s.filesystems.iter().map(|f| f.mount.as_str()).collect();
        assert_eq!(mounts, vec!["/"], "the answering mount is read every tick");
        assert_eq!(s.filesystems[0].used, 600);
        assert_eq!(s.unresponsive_mounts, vec!["/mnt/nfs".to_string()]);
    }
    assert_eq!(nfs.asked("/"), 3);
    assert_eq!(
        nfs.asked("/mnt/nfs"),
        1,
        "a mount that has not answered is not asked again"
    );

    // The server comes back: the blocked question returns, the next tick asks afresh.
    *nfs.released.lock().unwrap() = true;
    nfs.wake.notify_all();
    let mut back = None;
    for tick in 3..2000 {
        let s = c.collect(tick * 1000).unwrap();
        if s.unresponsive_mounts.is_empty() {
            back = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let s = back.expect("the mount answers again once its server is back");
    let nfs_fs = s
        .filesystems
        .iter()
        .find(|f| f.mount == "/mnt/nfs")
        .expect("/mnt/nfs is shown with its space again");
    assert_eq!(
        (nfs_fs.total, nfs_fs.used, nfs_fs.avail),
        (4000, 1000, 3000)
    );
    assert_eq!(nfs.asked("/mnt/nfs"), 2);
}

#[test]
fn a_mount_that_does_not_answer_is_shown_in_words_in_both_languages() {
    use ratatui::{Terminal, backend::TestBackend};
    use vigil::collect::{FsUsage, HostSample};
    use vigil::console::{app::App, i18n::Lang, theme::Theme, ui};
    let snap = vigil::engine::Snapshot {
        latest: Some(HostSample {
            cpu_per_core: vec![10.0],
            mem_total: 8 << 30,
            filesystems: vec![FsUsage {
                mount: "/".into(),
                fstype: "ext4".into(),
                device: "/dev/vda1".into(),
                total: 80 << 30,
                used: 40 << 30,
                avail: 40 << 30,
            }],
            unresponsive_mounts: vec!["/mnt/nfs".into()],
            ..HostSample::default()
        }),
        ..vigil::engine::Snapshot::default()
    };
    for (lang, words) in [
        (Lang::En, "/mnt/nfs not answering"),
        (Lang::ZhCn, "/mnt/nfs 无响应"),
    ] {
        let app = App::new(Theme::built_in("mono").unwrap(), lang);
        let mut term = Terminal::new(TestBackend::new(160, 45)).unwrap();
        term.draw(|f| ui::draw(f, &app, &snap)).unwrap();
        let buf = term.backend().buffer().clone();
        let screen: String = buf
            .content
            .chunks(160)
            .map(|row| {
                let mut line = String::new();
                let mut skip = 0;
                for cell in row {
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    skip = unicode_width::UnicodeWidthStr::width(cell.symbol()).saturating_sub(1);
                    line.push_str(cell.symbol());
                }
                line + "\n"
            })
            .collect();
        assert!(screen.contains(words), "{lang:?}:\n{screen}");
    }
}

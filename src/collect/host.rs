//! The host collector: /proc read with the `procfs` crate, as node_exporter reads it.
//!
//! Reading and computing are apart so that fixture copies of real /proc files give the
//! same numbers as the live host would.

use super::{FsUsage, HostSample, NetRate};
use procfs::prelude::*;
use procfs::{CpuTime, DiskStat, ExplicitSystemInfo, KernelStats, LoadAverage, Meminfo, Uptime};
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct CollectError {
    pub path: String,
    #[source]
    pub source: procfs::ProcError,
}

/// The raw counters of one moment.
#[derive(Debug, Clone)]
pub struct Readings {
    pub total: CpuTime,
    pub cores: Vec<CpuTime>,
    pub mem: Meminfo,
    pub load: LoadAverage,
    pub disks: Vec<DiskStat>,
    /// (interface, received bytes, sent bytes)
    pub net: Vec<(String, u64, u64)>,
    pub mounts: Vec<Mount>,
    pub uptime_secs: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub point: PathBuf,
    pub fstype: String,
    pub source: String,
    pub majmin: String,
}

fn ctx<T>(path: &Path, r: procfs::ProcResult<T>) -> Result<T, CollectError> {
    r.map_err(|source| CollectError {
        path: path.display().to_string(),
        source,
    })
}

/// Reads every counter under `root` (normally `/proc`).
pub fn read(root: &Path) -> Result<Readings, CollectError> {
    // ticks and page size are not used by the fields vigil reads; boot time neither.
    let si = ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: procfs::ticks_per_second(),
        page_size: procfs::page_size(),
        is_little_endian: cfg!(target_endian = "little"),
    };
    let p = root.join("stat");
    let stat = ctx(&p, KernelStats::from_file(&p, &si))?;
    let p = root.join("meminfo");
    let mem = ctx(&p, Meminfo::from_file(&p))?;
    let p = root.join("loadavg");
    let load = ctx(&p, LoadAverage::from_file(&p))?;
    let p = root.join("diskstats");
    let disks = ctx(&p, procfs::DiskStats::from_file(&p))?.0;
    let p = root.join("net/dev");
    let net = ctx(&p, procfs::net::InterfaceDeviceStatus::from_file(&p))?
        .0
        .into_values()
        .map(|d| (d.name, d.recv_bytes, d.sent_bytes))
        .collect();
    let p = root.join("self/mountinfo");
    let mounts = ctx(&p, procfs::process::MountInfos::from_file(&p))?
        .into_iter()
        .map(|m| Mount {
            point: m.mount_point,
            fstype: m.fs_type,
            source: m.mount_source.unwrap_or_default(),
            majmin: m.majmin,
        })
        .collect();
    let p = root.join("uptime");
    let uptime = ctx(&p, Uptime::from_file(&p))?;
    Ok(Readings {
        total: stat.total,
        cores: stat.cpu_time,
        mem,
        load,
        disks,
        net,
        mounts,
        uptime_secs: uptime.uptime.max(0.0) as u64,
    })
}

// node_exporter's default excludes (collector/filesystem_linux.go, diskstats_linux.go),
// plus tmpfs-like and snap mounts, which hold no disk an operator could fill.
static PSEUDO_FS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue\
         |nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs\
         |tmpfs|ramfs|efivarfs|fuse\\.lxcfs|nfsd)$",
    )
    .expect("static regex")
});
static SKIPPED_MOUNTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+|snap/.+)($|/)")
        .expect("static regex")
});
static NOT_WHOLE_DISK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$").expect("static regex")
});

/// The mounts an operator means by "disk": real filesystems, each device once (the
/// shortest mount point wins, so a bind mount of `/` does not show twice).
pub fn real_mounts(mounts: &[Mount]) -> Vec<&Mount> {
    let mut out: Vec<&Mount> = mounts
        .iter()
        .filter(|m| {
            !PSEUDO_FS.is_match(&m.fstype) && !SKIPPED_MOUNTS.is_match(&m.point.to_string_lossy())
        })
        .collect();
    out.sort_by_key(|m| m.point.as_os_str().len());
    let mut seen = HashSet::new();
    out.retain(|m| seen.insert(m.majmin.clone()));
    out.sort_by(|a, b| a.point.cmp(&b.point));
    out
}

/// Whole disks only: partitions, loop and ram devices would count the same bytes twice.
pub fn is_whole_disk(name: &str) -> bool {
    !NOT_WHOLE_DISK.is_match(name)
}

/// Busy and total ticks. Idle and iowait both count as idle, as in the node_exporter
/// mixin's CPU utilisation.
fn busy_total(c: &CpuTime) -> (u64, u64) {
    let idle = c.idle + c.iowait.unwrap_or(0);
    // guest time is already part of user and nice.
    let total = c.user
        + c.nice
        + c.system
        + c.idle
        + c.iowait.unwrap_or(0)
        + c.irq.unwrap_or(0)
        + c.softirq.unwrap_or(0)
        + c.steal.unwrap_or(0);
    (total.saturating_sub(idle), total)
}

fn cpu_pct(prev: &CpuTime, cur: &CpuTime) -> f64 {
    let (b0, t0) = busy_total(prev);
    let (b1, t1) = busy_total(cur);
    let dt = t1.saturating_sub(t0);
    if dt == 0 {
        0.0
    } else {
        (b1.saturating_sub(b0) as f64 * 100.0 / dt as f64).clamp(0.0, 100.0)
    }
}

fn iowait_pct(prev: &CpuTime, cur: &CpuTime) -> f64 {
    let (_, t0) = busy_total(prev);
    let (_, t1) = busy_total(cur);
    let dt = t1.saturating_sub(t0);
    let w = cur
        .iowait
        .unwrap_or(0)
        .saturating_sub(prev.iowait.unwrap_or(0));
    if dt == 0 {
        0.0
    } else {
        (w as f64 * 100.0 / dt as f64).clamp(0.0, 100.0)
    }
}

fn disk_sectors(r: &Readings) -> (u64, u64) {
    r.disks
        .iter()
        .filter(|d| is_whole_disk(&d.name))
        .fold((0, 0), |(rd, wr), d| {
            (rd + d.sectors_read, wr + d.sectors_written)
        })
}

fn rate(prev: u64, cur: u64, secs: f64) -> f64 {
    // A counter that went backwards was reset (device re-added): no rate this time.
    if secs <= 0.0 || cur < prev {
        0.0
    } else {
        (cur - prev) as f64 / secs
    }
}

pub type StatFs<'a> = dyn Fn(&Path) -> Option<(u64, u64, u64)> + 'a;

/// Space on a mounted filesystem: (total, used, available to users), as `df` shows it.
pub fn statvfs(p: &Path) -> Option<(u64, u64, u64)> {
    let s = rustix::fs::statvfs(p).ok()?;
    let frsize = s.f_frsize;
    let total = s.f_blocks * frsize;
    let used = s.f_blocks.saturating_sub(s.f_bfree) * frsize;
    let avail = s.f_bavail * frsize;
    Some((total, used, avail))
}

/// Turns two readings `secs` apart into a sample. Without a previous reading the rates
/// are zero and only levels (memory, load, space) are filled.
pub fn compute(
    prev: Option<&Readings>,
    cur: &Readings,
    secs: f64,
    ts: i64,
    statfs: &StatFs<'_>,
) -> HostSample {
    let mem_total = cur.mem.mem_total;
    // MemAvailable exists since Linux 3.14; older kernels get the classic estimate.
    let mem_available = cur
        .mem
        .mem_available
        .unwrap_or(cur.mem.mem_free + cur.mem.buffers + cur.mem.cached)
        .min(mem_total);
    let swap_used = cur.mem.swap_total.saturating_sub(cur.mem.swap_free);
    let filesystems = real_mounts(&cur.mounts)
        .into_iter()
        .filter_map(|m| {
            let (total, used, avail) = statfs(&m.point)?;
            (total > 0).then(|| FsUsage {
                mount: m.point.display().to_string(),
                fstype: m.fstype.clone(),
                device: m.source.clone(),
                total,
                used,
                avail,
            })
        })
        .collect();
    let mut sample = HostSample {
        ts,
        mem_total,
        mem_used: mem_total - mem_available,
        mem_available,
        swap_total: cur.mem.swap_total,
        swap_used,
        load1: cur.load.one as f64,
        load5: cur.load.five as f64,
        load15: cur.load.fifteen as f64,
        filesystems,
        uptime_secs: cur.uptime_secs,
        ..HostSample::default()
    };
    if let Some(prev) = prev {
        sample.cpu_pct = cpu_pct(&prev.total, &cur.total);
        sample.iowait_pct = iowait_pct(&prev.total, &cur.total);
        sample.cpu_per_core = prev
            .cores
            .iter()
            .zip(&cur.cores)
            .map(|(p, c)| cpu_pct(p, c))
            .collect();
        let (r0, w0) = disk_sectors(prev);
        let (r1, w1) = disk_sectors(cur);
        // /proc/diskstats counts 512-byte sectors whatever the device's own sector size.
        sample.disk_read_bps = rate(r0, r1, secs) * 512.0;
        sample.disk_write_bps = rate(w0, w1, secs) * 512.0;
        let mut net: Vec<NetRate> = cur
            .net
            .iter()
            .filter(|(name, _, _)| name != "lo")
            .map(|(name, rx, tx)| {
                let old = prev.net.iter().find(|(n, _, _)| n == name);
                let (rx0, tx0) = old.map(|(_, r, t)| (*r, *t)).unwrap_or((*rx, *tx));
                NetRate {
                    iface: name.clone(),
                    rx_bps: rate(rx0, *rx, secs),
                    tx_bps: rate(tx0, *tx, secs),
                }
            })
            .collect();
        net.sort_by(|a, b| a.iface.cmp(&b.iface));
        sample.net = net;
    }
    sample
}

/// (total, used, available) bytes of a filesystem; None when statvfs failed.
type Space = Option<(u64, u64, u64)>;

/// A statvfs that can be sent to another thread: the real one, or a test's fake.
pub type SharedStatFs = Arc<dyn Fn(&Path) -> Option<(u64, u64, u64)> + Send + Sync>;

/// How long one tick waits for all filesystems to answer statvfs.
pub const STATFS_DEADLINE: Duration = Duration::from_millis(200);

/// Asks statvfs off the caller's thread, with one deadline for all mounts. statvfs on a
/// dead NFS mount blocks in the kernel, unkillably, for as long as the server is gone:
/// asked on the tick it would freeze the engine. A mount that misses the deadline is
/// reported as not answering and is not asked again until its pending question returns,
/// so one dead server costs one blocked thread, not one per tick.
pub struct FsProber {
    statfs: SharedStatFs,
    deadline: Duration,
    /// Mounts whose last question is unanswered, and where its answer will arrive.
    pending: HashMap<PathBuf, Receiver<Space>>,
}

/// What one round of questions found.
#[derive(Debug, Default)]
pub struct Probed {
    pub space: HashMap<PathBuf, (u64, u64, u64)>,
    /// Mounts that did not answer within the deadline (or still have not), sorted.
    pub unresponsive: Vec<PathBuf>,
}

impl FsProber {
    pub fn new(statfs: SharedStatFs, deadline: Duration) -> Self {
        FsProber {
            statfs,
            deadline,
            pending: HashMap::new(),
        }
    }

    pub fn probe(&mut self, points: &[PathBuf]) -> Probed {
        let start = Instant::now();
        let mut out = Probed::default();
        let mut asked = Vec::new();
        for p in points {
            if let Some(rx) = self.pending.get(p) {
                match rx.try_recv() {
                    // Still blocked: say so, and do not pile another thread on it.
                    Err(TryRecvError::Empty) => {
                        out.unresponsive.push(p.clone());
                        continue;
                    }
                    // It answered at last (or its thread is gone): ask afresh below, the
                    // late answer is stale.
                    Ok(_) | Err(TryRecvError::Disconnected) => {
                        self.pending.remove(p);
                    }
                }
            }
            let (tx, rx) = mpsc::sync_channel(1);
            let statfs = Arc::clone(&self.statfs);
            let path = p.clone();
            let spawned = std::thread::Builder::new()
                .name("vigil-statvfs".into())
                .spawn(move || {
                    let _ = tx.send(statfs(&path));
                });
            match spawned {
                Ok(_) => asked.push((p.clone(), rx)),
                // No thread to spare: this tick goes without the mount's space.
                Err(e) => tracing::warn!("statvfs {}: cannot start a thread: {e}", p.display()),
            }
        }
        for (p, rx) in asked {
            let left = self.deadline.saturating_sub(start.elapsed());
            match rx.recv_timeout(left) {
                Ok(Some(space)) => {
                    out.space.insert(p, space);
                }
                Ok(None) | Err(RecvTimeoutError::Disconnected) => {}
                Err(RecvTimeoutError::Timeout) => {
                    tracing::warn!(
                        "statvfs {}: no answer within {} ms; not asked again until it answers",
                        p.display(),
                        self.deadline.as_millis()
                    );
                    out.unresponsive.push(p.clone());
                    self.pending.insert(p, rx);
                }
            }
        }
        out.unresponsive.sort();
        out
    }
}

/// Reads the host on each call and keeps the last reading for the rates.
pub struct HostCollector {
    root: PathBuf,
    prev: Option<(Instant, Readings)>,
    prober: FsProber,
}

impl HostCollector {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self::with_statfs(root, Arc::new(statvfs), STATFS_DEADLINE)
    }

    /// A collector whose filesystems are asked through `statfs`, each tick waiting at
    /// most `deadline` for them.
    pub fn with_statfs(root: impl Into<PathBuf>, statfs: SharedStatFs, deadline: Duration) -> Self {
        HostCollector {
            root: root.into(),
            prev: None,
            prober: FsProber::new(statfs, deadline),
        }
    }

    pub fn proc() -> Self {
        Self::new("/proc")
    }

    /// The procfs it reads (other readers of the kernel's counters follow it).
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    pub fn collect(&mut self, ts: i64) -> Result<HostSample, CollectError> {
        let cur = read(&self.root)?;
        let now = Instant::now();
        let (prev, secs) = match &self.prev {
            Some((t, r)) => (Some(r), now.duration_since(*t).as_secs_f64()),
            None => (None, 0.0),
        };
        let points: Vec<PathBuf> = real_mounts(&cur.mounts)
            .into_iter()
            .map(|m| m.point.clone())
            .collect();
        let probed = self.prober.probe(&points);
        let answered = |p: &Path| probed.space.get(p).copied();
        let mut sample = compute(prev, &cur, secs, ts, &answered);
        sample.unresponsive_mounts = probed
            .unresponsive
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        self.prev = Some((now, cur));
        Ok(sample)
    }
}

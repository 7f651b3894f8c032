//! collect: the world → samples. The procfs collector reads this host the way
//! node_exporter does; the Docker one counts containers.

pub mod certs;
pub mod docker;
pub mod host;
pub mod procs;
pub mod sockstat;
pub mod tls_endpoint;
pub mod units;

use serde::{Deserialize, Serialize};

/// One reading of the host. Rates (CPU %, bytes/s) come from the difference between two
/// readings, so the first reading after start has none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostSample {
    /// Unix time in milliseconds.
    pub ts: i64,
    pub cpu_pct: f64,
    pub cpu_per_core: Vec<f64>,
    pub iowait_pct: f64,
    pub mem_total: u64,
    pub mem_used: u64,
    pub mem_available: u64,
    pub swap_total: u64,
    pub swap_used: u64,
    pub load1: f64,
    pub load5: f64,
    pub load15: f64,
    pub filesystems: Vec<FsUsage>,
    pub disk_read_bps: f64,
    pub disk_write_bps: f64,
    pub net: Vec<NetRate>,
    pub containers_running: Option<u32>,
    pub uptime_secs: u64,
    /// Mount points whose statvfs did not answer in time (a dead NFS server): shown as
    /// such, their space unknown.
    #[serde(default)]
    pub unresponsive_mounts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FsUsage {
    pub mount: String,
    pub fstype: String,
    pub device: String,
    pub total: u64,
    pub used: u64,
    pub avail: u64,
}

impl FsUsage {
    /// Used share as `df` computes it: of the space an unprivileged user can have.
    pub fn used_pct(&self) -> f64 {
        let denom = self.used + self.avail;
        if denom == 0 {
            0.0
        } else {
            self.used as f64 * 100.0 / denom as f64
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetRate {
    pub iface: String,
    pub rx_bps: f64,
    pub tx_bps: f64,
}

/// The series vigil keeps history of, forecasts and draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Cpu,
    Mem,
    Swap,
    Load1,
    DiskUsed,
    DiskRead,
    DiskWrite,
    NetRx,
    NetTx,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::Cpu,
        Metric::Mem,
        Metric::Swap,
        Metric::Load1,
        Metric::DiskUsed,
        Metric::DiskRead,
        Metric::DiskWrite,
        Metric::NetRx,
        Metric::NetTx,
    ];

    /// The name in the store and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu_pct",
            Metric::Mem => "mem_pct",
            Metric::Swap => "swap_pct",
            Metric::Load1 => "load1",
            Metric::DiskUsed => "disk_used_pct",
            Metric::DiskRead => "disk_read_bps",
            Metric::DiskWrite => "disk_write_bps",
            Metric::NetRx => "net_rx_bps",
            Metric::NetTx => "net_tx_bps",
        }
    }

    pub fn from_name(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == s)
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

impl HostSample {
    pub fn mem_pct(&self) -> f64 {
        pct(self.mem_used, self.mem_total)
    }

    pub fn swap_pct(&self) -> f64 {
        pct(self.swap_used, self.swap_total)
    }

    /// The fullest filesystem: the one that will stop the host first.
    pub fn fullest_fs(&self) -> Option<&FsUsage> {
        self.filesystems
            .iter()
            .max_by(|a, b| a.used_pct().total_cmp(&b.used_pct()))
    }

    pub fn net_rx_bps(&self) -> f64 {
        self.net.iter().map(|n| n.rx_bps).sum()
    }

    pub fn net_tx_bps(&self) -> f64 {
        self.net.iter().map(|n| n.tx_bps).sum()
    }

    pub fn value(&self, m: Metric) -> f64 {
        match m {
            Metric::Cpu => self.cpu_pct,
            Metric::Mem => self.mem_pct(),
            Metric::Swap => self.swap_pct(),
            Metric::Load1 => self.load1,
            Metric::DiskUsed => self.fullest_fs().map(FsUsage::used_pct).unwrap_or(0.0),
            Metric::DiskRead => self.disk_read_bps,
            Metric::DiskWrite => self.disk_write_bps,
            Metric::NetRx => self.net_rx_bps(),
            Metric::NetTx => self.net_tx_bps(),
        }
    }
}

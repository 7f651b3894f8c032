//! Diagnosis: rules that read several signals together and say, in words with their
//! numbers, what probably happened. Pure: the engine hands in what it has.

use super::Trigger;

/// What the engine knows around a finding. A level is the series' median over the
/// last hour, so "high" means high for this host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    pub cpu_pct: Option<f64>,
    pub cpu_level: Option<f64>,
    pub net_rx: Option<f64>,
    pub net_rx_level: Option<f64>,
    pub disk_write: Option<f64>,
    pub disk_write_level: Option<f64>,
    /// A container's exit code ("Exited (137) …").
    pub exit_code: Option<i64>,
    /// Restarts of the target within the flap window.
    pub restarts: u32,
    /// The one file that grew most since the last reading, and by how many bytes,
    /// beside the directory's whole growth.
    pub top_file: Option<(String, u64)>,
    pub dir_growth: Option<u64>,
    /// The host series an anomaly is about (`cpu_pct`, `mem_pct`, ...).
    pub series: Option<String>,
    /// What a host-wide check saw (certificate, connection table, process).
    pub host: Option<HostDetail>,
    /// The container's last exit was the kernel's OOM killer; its `--memory` limit.
    pub oom_killed: bool,
    pub mem_limit: Option<u64>,
    /// Its restart policy, and how often Docker restarted it within `window_s`.
    pub restart_policy: Option<String>,
    pub docker_restarts: Option<u64>,
    pub window_s: Option<u64>,
    /// OOM kills on the host within `window_s`.
    pub host_oom_kills: Option<u64>,
}

/// A host-wide check's finding, for the words of its diagnosis.
#[derive(Debug, Clone, PartialEq)]
pub enum HostDetail {
    Cert {
        file: String,
        subject: String,
        days_left: f64,
    },
    Table {
        name: String,
        count: u64,
        limit: u64,
    },
    Process {
        pid: u32,
        comm: String,
        pct: f64,
        minutes: f64,
    },
    Unit {
        unit: String,
        sub: String,
        description: String,
    },
}

/// Several times its usual level (and not tiny).
fn high(value: Option<f64>, level: Option<f64>, times: f64, floor: f64) -> Option<(f64, f64)> {
    let (v, l) = (value?, level?);
    (v >= floor && v >= times * l.max(f64::EPSILON)).then_some((v, l))
}

pub fn diagnose(trigger: Trigger, s: &Signals) -> Vec<String> {
    let mut out = Vec::new();
    match trigger {
        Trigger::RestartLoop => {
            let policy = s.restart_policy.as_deref().unwrap_or("its restart policy");
            out.push(format!(
                "Docker restarted it {} time(s) within {} (restart policy {policy}) and it fails again each time: another restart would not help",
                s.docker_restarts.unwrap_or(0),
                window(s.window_s)
            ));
            if s.oom_killed {
                out.push(oom_words(s.mem_limit));
            } else if let Some(c) = s.exit_code {
                out.push(format!("its last exit code was {c}"));
            }
        }
        Trigger::OomKill => match s.host_oom_kills {
            Some(n) => out.push(format!(
                "the kernel's OOM killer killed {n} process(es) within {}, beyond any container's own memory limit: the host ran out of memory",
                window(s.window_s)
            )),
            None => out.push(oom_words(s.mem_limit)),
        },
        Trigger::ContainerUnhealthy => {
            out.push("it runs, but its own healthcheck fails: unhealthy".to_string());
        }
        Trigger::ContainerExited => {
            out.push(match s.exit_code {
                Some(0) => "exited cleanly (code 0): its own process ended".to_string(),
                Some(137) => {
                    "killed (code 137, SIGKILL): out of memory or killed from outside".to_string()
                }
                Some(143) => "stopped by SIGTERM (code 143)".to_string(),
                Some(c) => format!("crashed with exit code {c}"),
                None => "no longer running".to_string(),
            });
            if s.restarts > 0 {
                out.push(format!(
                    "restarted {} time(s) within the flap window already",
                    s.restarts
                ));
            }
        }
        Trigger::MemoryLeak => {
            out.push("memory grows steadily: a leak".to_string());
            if let Some((w, l)) = high(s.disk_write, s.disk_write_level, 3.0, 1e6) {
                out.push(format!(
                    "with disk writes at {:.1} MB/s ({:.0}× the usual): a leak with write amplification",
                    w / 1e6,
                    w / l.max(1.0)
                ));
            }
        }
        Trigger::DiskFilling => {
            out.push("the disk fills and is forecast to be full soon".to_string());
            if let (Some((file, grew)), Some(all)) = (&s.top_file, s.dir_growth)
                && all > 0
                && *grew * 2 >= all
            {
                out.push(format!(
                    "one file grew {:.1} MiB of the {:.1} MiB: a log explosion in {file}",
                    *grew as f64 / 1_048_576.0,
                    all as f64 / 1_048_576.0
                ));
            }
        }
        Trigger::Anomaly => {
            let what = s.series.as_deref().unwrap_or("a host series");
            out.push(format!(
                "{what} is far from its usual level for this time of day and from its recent trend"
            ));
            if s.series.as_deref() == Some("mem_pct")
                && let Some((w, l)) = high(s.disk_write, s.disk_write_level, 3.0, 1e6)
            {
                out.push(format!(
                    "with disk writes at {:.1} MB/s ({:.0}× the usual): a leak with write amplification",
                    w / 1e6,
                    w / l.max(1.0)
                ));
            }
        }
        Trigger::CertExpiring
        | Trigger::ConnectionsExhausted
        | Trigger::CpuRunaway
        | Trigger::UnitFailed => {
            if let Some(h) = &s.host {
                out.push(host_words(h));
            }
        }
    }
    if let (Some((c, _)), Some((n, nl))) = (
        high(s.cpu_pct, s.cpu_level, 2.0, 85.0),
        high(s.net_rx, s.net_rx_level, 3.0, 1e6),
    ) {
        out.push(format!(
            "CPU at {c:.0}% with inbound traffic at {:.1} MB/s ({:.0}× the usual): a possible flood",
            n / 1e6,
            n / nl.max(1.0)
        ));
    }
    out
}

fn host_words(h: &HostDetail) -> String {
    match h {
        HostDetail::Cert {
            file,
            subject,
            days_left,
        } => {
            // A file holds its certificate; an endpoint (host:port) presents it.
            let place = if file.starts_with('/') { "in" } else { "at" };
            if *days_left < 0.0 {
                format!(
                    "the certificate {subject} {place} {file} expired {:.1} days ago",
                    -days_left
                )
            } else {
                format!("the certificate {subject} {place} {file} expires in {days_left:.1} days")
            }
        }
        HostDetail::Table { name, count, limit } => {
            let what = match name.as_str() {
                "conntrack" => "the connection-tracking table",
                "tcp-orphans" => "orphaned TCP sockets",
                "tcp-timewait" => "TCP sockets in TIME-WAIT",
                other => other,
            };
            let pct = *count as f64 / (*limit).max(1) as f64 * 100.0;
            format!(
                "{what} at {count} of {limit} ({pct:.0}%): past the limit the kernel drops new connections"
            )
        }
        HostDetail::Process {
            pid,
            comm,
            pct,
            minutes,
        } => format!(
            "process {comm} (pid {pid}) has held {pct:.0}% of a core for {minutes:.1} min: a busy loop or a runaway job"
        ),
        HostDetail::Unit {
            unit,
            sub,
            description,
        } => format!("systemd unit {unit} ({description}) is {sub}"),
    }
}

fn oom_words(limit: Option<u64>) -> String {
    match limit {
        Some(l) => format!(
            "killed by the kernel's OOM killer: out of memory at its limit of {:.1} MiB",
            l as f64 / 1_048_576.0
        ),
        None => "killed by the kernel's OOM killer: out of memory (no memory limit of its own: the host ran out)".to_string(),
    }
}

fn window(secs: Option<u64>) -> String {
    secs.map(|s| humantime::format_duration(std::time::Duration::from_secs(s)).to_string())
        .unwrap_or_else(|| "the window".into())
}

/// "Exited (137) 2 seconds ago" → 137.
pub fn exit_code(status: &str) -> Option<i64> {
    let open = status.find('(')?;
    let close = status[open..].find(')')? + open;
    status[open + 1..close].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_high_with_inbound_packets_high_is_a_possible_flood() {
        let s = Signals {
            cpu_pct: Some(97.0),
            cpu_level: Some(20.0),
            net_rx: Some(50e6),
            net_rx_level: Some(1e6),
            ..Signals::default()
        };
        let d = diagnose(Trigger::CpuRunaway, &s);
        assert_eq!(
            d,
            vec!["CPU at 97% with inbound traffic at 50.0 MB/s (50× the usual): a possible flood"]
        );
        // High CPU alone is not a flood.
        let calm = Signals {
            net_rx: Some(1e6),
            ..s
        };
        assert!(diagnose(Trigger::CpuRunaway, &calm).is_empty());
    }

    #[test]
    fn a_leak_with_heavy_writes_is_write_amplification() {
        let s = Signals {
            disk_write: Some(40e6),
            disk_write_level: Some(2e6),
            ..Signals::default()
        };
        let d = diagnose(Trigger::MemoryLeak, &s);
        assert_eq!(d.len(), 2);
        assert!(d[1].ends_with("a leak with write amplification"), "{d:?}");
    }

    #[test]
    fn one_file_growing_is_a_log_explosion() {
        let s = Signals {
            top_file: Some(("/var/log/app/debug.log".into(), 9 << 20)),
            dir_growth: Some(10 << 20),
            ..Signals::default()
        };
        let d = diagnose(Trigger::DiskFilling, &s);
        assert_eq!(
            d[1],
            "one file grew 9.0 MiB of the 10.0 MiB: a log explosion in /var/log/app/debug.log"
        );
    }

    #[test]
    fn host_checks_say_what_they_saw_with_its_numbers() {
        let with = |h: HostDetail, t: Trigger| {
            diagnose(
                t,
                &Signals {
                    host: Some(h),
                    ..Signals::default()
                },
            )
        };
        let cert = HostDetail::Cert {
            file: "/etc/ssl/a.pem".into(),
            subject: "CN=a.example".into(),
            days_left: 2.96,
        };
        assert_eq!(
            with(cert, Trigger::CertExpiring),
            vec!["the certificate CN=a.example in /etc/ssl/a.pem expires in 3.0 days"]
        );
        let table = HostDetail::Table {
            name: "conntrack".into(),
            count: 950,
            limit: 1000,
        };
        assert_eq!(
            with(table, Trigger::ConnectionsExhausted),
            vec![
                "the connection-tracking table at 950 of 1000 (95%): past the limit the kernel drops new connections"
            ]
        );
        let proc = HostDetail::Process {
            pid: 42,
            comm: "sh".into(),
            pct: 99.6,
            minutes: 15.0,
        };
        assert_eq!(
            with(proc, Trigger::CpuRunaway),
            vec![
                "process sh (pid 42) has held 100% of a core for 15.0 min: a busy loop or a runaway job"
            ]
        );
    }

    #[test]
    fn an_oom_kill_says_out_of_memory_with_the_limit() {
        let s = Signals {
            oom_killed: true,
            mem_limit: Some(8 << 20),
            exit_code: Some(137),
            ..Signals::default()
        };
        assert_eq!(
            diagnose(Trigger::OomKill, &s),
            vec!["killed by the kernel's OOM killer: out of memory at its limit of 8.0 MiB"]
        );
        let host = Signals {
            host_oom_kills: Some(2),
            window_s: Some(600),
            ..Signals::default()
        };
        assert_eq!(
            diagnose(Trigger::OomKill, &host),
            vec![
                "the kernel's OOM killer killed 2 process(es) within 10m, beyond any container's own memory limit: the host ran out of memory"
            ]
        );
    }

    #[test]
    fn a_restart_loop_says_another_restart_would_not_help() {
        let s = Signals {
            docker_restarts: Some(4),
            window_s: Some(600),
            restart_policy: Some("always".into()),
            exit_code: Some(1),
            ..Signals::default()
        };
        assert_eq!(
            diagnose(Trigger::RestartLoop, &s),
            vec![
                "Docker restarted it 4 time(s) within 10m (restart policy always) and it fails again each time: another restart would not help",
                "its last exit code was 1"
            ]
        );
    }

    #[test]
    fn exit_codes_are_read_from_dockers_words() {
        assert_eq!(exit_code("Exited (137) 2 seconds ago"), Some(137));
        assert_eq!(exit_code("Up 3 minutes (healthy)"), None);
        assert_eq!(
            diagnose(
                Trigger::ContainerExited,
                &Signals {
                    exit_code: Some(137),
                    ..Signals::default()
                }
            )[0],
            "killed (code 137, SIGKILL): out of memory or killed from outside"
        );
    }
}

//! The kernel's connection tables and their limits: `/proc/net/sockstat` (TCP sockets
//! in use, orphaned, in TIME-WAIT), the limits on orphans and TIME-WAIT buckets, and
//! the netfilter connection-tracking table where the module is loaded. A full conntrack
//! table drops new connections silently, which is why it is read beside the TCP counts.

use std::io::Read;
use std::path::Path;

/// A /proc file of counters is a few hundred bytes; more is not one.
const MAX_BYTES: u64 = 16 << 10;
/// Lines of sockstat looked at, at most.
const MAX_LINES: usize = 64;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TcpCounts {
    pub inuse: u64,
    pub orphan: u64,
    pub tw: u64,
}

/// One table against its limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// conntrack, tcp-orphans or tcp-timewait.
    pub name: &'static str,
    pub count: u64,
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnReading {
    pub tcp: Option<TcpCounts>,
    pub tables: Vec<Table>,
    /// Files that could not be read or parsed, with why (conntrack absent is no error).
    pub errors: Vec<String>,
}

/// The `TCP:` line of sockstat: `TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1`.
pub fn parse_sockstat(text: &str) -> Result<TcpCounts, String> {
    let line = text
        .lines()
        .take(MAX_LINES)
        .find(|l| l.starts_with("TCP:"))
        .ok_or("no TCP: line")?;
    let mut words = line.split_whitespace().skip(1);
    let mut out = TcpCounts::default();
    let mut seen = 0;
    while let (Some(k), Some(v)) = (words.next(), words.next()) {
        let slot = match k {
            "inuse" => &mut out.inuse,
            "orphan" => &mut out.orphan,
            "tw" => &mut out.tw,
            _ => continue,
        };
        *slot = v
            .parse()
            .map_err(|_| format!("TCP {k}: \"{}\" is not a count", clip(v)))?;
        seen += 1;
    }
    if seen < 3 {
        return Err("TCP: line lacks inuse, orphan or tw".into());
    }
    Ok(out)
}

/// A /proc/sys file holding one count.
pub fn parse_count(text: &str) -> Result<u64, String> {
    let t = text.trim();
    t.parse()
        .map_err(|_| format!("\"{}\" is not a count", clip(t)))
}

fn clip(s: &str) -> String {
    s.chars().take(32).collect()
}

fn read_small(path: &Path) -> Result<String, std::io::Error> {
    let mut s = String::new();
    std::fs::File::open(path)?
        .take(MAX_BYTES)
        .read_to_string(&mut s)?;
    Ok(s)
}

/// Reads the tables under `proc_root` (normally /proc). Each table needs both its count
/// and its limit; a file that is absent leaves its table out.
pub fn read(proc_root: &Path) -> ConnReading {
    let mut r = ConnReading::default();
    let sockstat = proc_root.join("net/sockstat");
    match read_small(&sockstat)
        .map_err(|e| e.to_string())
        .and_then(|t| parse_sockstat(&t))
    {
        Ok(t) => r.tcp = Some(t),
        Err(e) => r.errors.push(format!("{}: {e}", sockstat.display())),
    }
    let count = |rel: &str, r: &mut ConnReading| -> Option<u64> {
        let p = proc_root.join(rel);
        match read_small(&p) {
            Ok(t) => match parse_count(&t) {
                Ok(n) => Some(n),
                Err(e) => {
                    r.errors.push(format!("{}: {e}", p.display()));
                    None
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                r.errors.push(format!("{}: {e}", p.display()));
                None
            }
        }
    };
    let ct = count("sys/net/netfilter/nf_conntrack_count", &mut r);
    let ct_max = count("sys/net/netfilter/nf_conntrack_max", &mut r);
    let orphans_max = count("sys/net/ipv4/tcp_max_orphans", &mut r);
    let tw_max = count("sys/net/ipv4/tcp_max_tw_buckets", &mut r);
    if let (Some(count), Some(limit)) = (ct, ct_max) {
        r.tables.push(Table {
            name: "conntrack",
            count,
            limit,
        });
    }
    if let Some(t) = r.tcp.clone() {
        if let Some(limit) = orphans_max {
            r.tables.push(Table {
                name: "tcp-orphans",
                count: t.orphan,
                limit,
            });
        }
        if let Some(limit) = tw_max {
            r.tables.push(Table {
                name: "tcp-timewait",
                count: t.tw,
                limit,
            });
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOCKSTAT: &str = "sockets: used 48\n\
        TCP: inuse 17 orphan 2 tw 9 alloc 20 mem 74\n\
        UDP: inuse 1 mem 0\n\
        UDPLITE: inuse 0\n\
        RAW: inuse 0\n\
        FRAG: inuse 0 memory 0\n";

    #[test]
    fn sockstat_gives_the_tcp_counts() {
        assert_eq!(
            parse_sockstat(SOCKSTAT),
            Ok(TcpCounts {
                inuse: 17,
                orphan: 2,
                tw: 9
            })
        );
    }

    #[test]
    fn bad_sockstat_is_named_not_guessed() {
        assert_eq!(parse_sockstat("UDP: inuse 1\n"), Err("no TCP: line".into()));
        assert_eq!(
            parse_sockstat("TCP: inuse x orphan 0 tw 0\n"),
            Err("TCP inuse: \"x\" is not a count".into())
        );
        assert_eq!(
            parse_sockstat("TCP: inuse 3\n"),
            Err("TCP: line lacks inuse, orphan or tw".into())
        );
        assert_eq!(parse_count("262144\n"), Ok(262144));
        assert_eq!(parse_count("-1"), Err("\"-1\" is not a count".into()));
    }

    #[test]
    fn a_fixture_tree_gives_each_table_against_its_limit() {
        let d = tempfile::tempdir().unwrap();
        let w = |rel: &str, text: &str| {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w("net/sockstat", SOCKSTAT);
        w("sys/net/netfilter/nf_conntrack_count", "950\n");
        w("sys/net/netfilter/nf_conntrack_max", "1000\n");
        w("sys/net/ipv4/tcp_max_orphans", "4096\n");
        w("sys/net/ipv4/tcp_max_tw_buckets", "oops\n");
        let r = read(d.path());
        assert_eq!(
            r.tables,
            vec![
                Table {
                    name: "conntrack",
                    count: 950,
                    limit: 1000
                },
                Table {
                    name: "tcp-orphans",
                    count: 2,
                    limit: 4096
                },
            ]
        );
        let tw = d.path().join("sys/net/ipv4/tcp_max_tw_buckets");
        assert_eq!(
            r.errors,
            vec![format!("{}: \"oops\" is not a count", tw.display())]
        );
    }

    #[test]
    fn without_conntrack_the_tcp_tables_still_count() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("net")).unwrap();
        std::fs::write(d.path().join("net/sockstat"), SOCKSTAT).unwrap();
        let r = read(d.path());
        assert!(r.tables.is_empty());
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.tcp.map(|t| t.inuse), Some(17));
    }
}

//! The typed step runner: the playbook steps that are not Docker executor actions
//! (logs, caches, the journal, units, configured commands). Each acts only on what its
//! step names: log steps only on regular files under the configured log roots (resolved
//! through symlinks, checked again for every file), commands only as argv arrays from
//! the config, never composed from other text. The engine gates and audits every call.

use crate::heal::{PlaybooksConfig, Step, guard};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Files one log step looks at, at most.
const MAX_FILES: usize = 100_000;
/// How deep under a path a log step goes.
const MAX_DEPTH: usize = 16;
/// A command a step runs must finish within this.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs one step on `target`; the outcome in words, or why it failed.
pub async fn run(step: Step, target: String, cfg: PlaybooksConfig) -> Result<String, String> {
    match step {
        Step::DeleteLogs { older_than, paths } => {
            blocking(move || delete_logs(&paths, &cfg.log_roots, older_than)).await
        }
        Step::CompressLogs { older_than, paths } => {
            blocking(move || compress_logs(&paths, &cfg.log_roots, older_than)).await
        }
        Step::DropPageCache => blocking(drop_page_cache).await,
        Step::JournalVacuum { max_size } => {
            command(&[
                "/usr/bin/journalctl".to_string(),
                format!("--vacuum-size={max_size}"),
            ])
            .await
        }
        Step::RestartUnit => {
            crate::heal::dry_run::check_target(&target)?;
            command(&[
                "/usr/bin/systemctl".to_string(),
                "restart".to_string(),
                "--".to_string(),
                target,
            ])
            .await
        }
        Step::RenewCert { command: name } => {
            let argv = cfg
                .commands
                .get(&name)
                .ok_or_else(|| format!("no command \"{name}\" in playbooks.commands"))?
                .clone();
            guard::check_command(&argv)?;
            command(&argv).await
        }
        other => Err(format!(
            "{} is not a step the local runner takes",
            other.name()
        )),
    }
}

async fn blocking(
    f: impl FnOnce() -> Result<String, String> + Send + 'static,
) -> Result<String, String> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(format!("the step stopped: {e}")))
}

async fn command(argv: &[String]) -> Result<String, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("an empty command".into());
    };
    let run = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(COMMAND_TIMEOUT, run).await {
        Err(_) => {
            return Err(format!(
                "{program} did not finish within {}",
                humantime::format_duration(COMMAND_TIMEOUT)
            ));
        }
        Ok(Err(e)) => return Err(format!("{program}: {e}")),
        Ok(Ok(o)) => o,
    };
    // The last line of what it said, bounded: enough to show, never a flood.
    let said = |b: &[u8]| {
        let text = String::from_utf8_lossy(b);
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        last.chars().take(200).collect::<String>()
    };
    if out.status.success() {
        Ok(format!("{program} done {}", said(&out.stdout))
            .trim()
            .to_string())
    } else {
        Err(format!(
            "{program} failed ({}): {}",
            out.status,
            said(&out.stderr)
        ))
    }
}

/// Regular files older than `older_than` under each path, each checked to resolve
/// under the roots (a symlink inside cannot lead out: links are not followed).
fn old_files(
    paths: &[PathBuf],
    roots: &[PathBuf],
    older_than: Duration,
) -> Result<Vec<(PathBuf, u64)>, String> {
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut out = Vec::new();
    let mut seen = 0usize;
    for p in paths {
        let real = guard::under_roots(p, roots)?;
        for entry in walkdir::WalkDir::new(&real)
            .follow_links(false)
            .max_depth(MAX_DEPTH)
        {
            seen += 1;
            if seen > MAX_FILES {
                return Err(format!(
                    "more than {MAX_FILES} files under {}: not a log directory",
                    p.display()
                ));
            }
            let Ok(entry) = entry else { continue };
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let old = meta.modified().is_ok_and(|m| m <= cutoff);
            if old && guard::under_roots(entry.path(), roots).is_ok() {
                out.push((entry.path().to_path_buf(), meta.len()));
            }
        }
    }
    Ok(out)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

pub fn delete_logs(
    paths: &[PathBuf],
    roots: &[PathBuf],
    older_than: Duration,
) -> Result<String, String> {
    let files = old_files(paths, roots, older_than)?;
    let (mut n, mut bytes, mut failed) = (0, 0u64, Vec::new());
    for (f, len) in files {
        match std::fs::remove_file(&f) {
            Ok(()) => {
                n += 1;
                bytes += len;
            }
            Err(e) => failed.push(format!("{}: {e}", f.display())),
        }
    }
    if !failed.is_empty() && n == 0 {
        return Err(format!("nothing deleted: {}", failed.join("; ")));
    }
    Ok(format!(
        "deleted {n} file(s), {}{}",
        mib(bytes),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; {} could not be deleted", failed.len())
        }
    ))
}

pub fn compress_logs(
    paths: &[PathBuf],
    roots: &[PathBuf],
    older_than: Duration,
) -> Result<String, String> {
    let files = old_files(paths, roots, older_than)?;
    let (mut n, mut before, mut after) = (0, 0u64, 0u64);
    for (f, len) in files {
        if f.extension()
            .is_some_and(|x| x == "gz" || x == "xz" || x == "zst" || x == "bz2")
        {
            continue;
        }
        match gzip(&f) {
            Ok(out_len) => {
                n += 1;
                before += len;
                after += out_len;
            }
            Err(e) => return Err(format!("compressing {}: {e}", f.display())),
        }
    }
    Ok(format!(
        "compressed {n} file(s), {} → {}",
        mib(before),
        mib(after)
    ))
}

/// `f` → `f.gz` (written beside it, then renamed), keeping its times; the original
/// is removed only once the compressed copy is complete.
fn gzip(f: &Path) -> std::io::Result<u64> {
    let mut name = f.as_os_str().to_os_string();
    name.push(".gz");
    let dest = PathBuf::from(name);
    let mut tmp = dest.as_os_str().to_os_string();
    tmp.push(".vigil-tmp");
    let tmp = PathBuf::from(tmp);
    let meta = std::fs::metadata(f)?;
    {
        let mut input = std::fs::File::open(f)?;
        let out = std::fs::File::create(&tmp)?;
        let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        std::io::copy(&mut input, &mut enc)?;
        let out = enc.finish()?;
        out.sync_all()?;
        if let Ok(m) = meta.modified() {
            let _ = out.set_modified(m);
        }
    }
    std::fs::rename(&tmp, &dest)?;
    std::fs::remove_file(f)?;
    Ok(std::fs::metadata(&dest)?.len())
}

fn drop_page_cache() -> Result<String, String> {
    nix::unistd::sync();
    std::fs::write("/proc/sys/vm/drop_caches", "1")
        .map_err(|e| format!("/proc/sys/vm/drop_caches: {e}"))?;
    Ok("dropped the clean page cache".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(path: &Path, bytes: usize, days: u64) {
        std::fs::write(path, vec![b'x'; bytes]).unwrap();
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(days * 86_400))
            .unwrap();
    }

    #[test]
    fn only_old_regular_files_under_the_roots_are_deleted() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let logs = root.path().join("app");
        std::fs::create_dir(&logs).unwrap();
        aged(&logs.join("old.log"), 1000, 30);
        aged(&logs.join("new.log"), 1000, 0);
        aged(&outside.path().join("precious.log"), 1000, 30);
        std::os::unix::fs::symlink(outside.path(), logs.join("link")).unwrap();
        let roots = vec![root.path().to_path_buf()];
        let said = delete_logs(
            std::slice::from_ref(&logs),
            &roots,
            Duration::from_secs(7 * 86_400),
        )
        .unwrap();
        assert_eq!(said, "deleted 1 file(s), 0.0 MiB");
        assert!(!logs.join("old.log").exists());
        assert!(logs.join("new.log").exists());
        assert!(
            outside.path().join("precious.log").exists(),
            "a link does not lead out"
        );
        // A path outside the roots is refused whole.
        let err = delete_logs(
            &[outside.path().to_path_buf()],
            &roots,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(err.contains("outside the allowed log roots"), "{err}");
        assert!(outside.path().join("precious.log").exists());
    }

    #[test]
    fn old_logs_are_gzipped_in_place_and_the_originals_go() {
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("a.log");
        aged(&f, 100_000, 3);
        let roots = vec![root.path().to_path_buf()];
        let said = compress_logs(
            &[root.path().to_path_buf()],
            &roots,
            Duration::from_secs(86_400),
        )
        .unwrap();
        assert!(said.starts_with("compressed 1 file(s)"), "{said}");
        assert!(!f.exists());
        let gz = root.path().join("a.log.gz");
        assert!(std::fs::metadata(&gz).unwrap().len() < 10_000);
        // Already compressed: left alone the second time.
        let again = compress_logs(
            &[root.path().to_path_buf()],
            &roots,
            Duration::from_secs(86_400),
        )
        .unwrap();
        assert!(again.starts_with("compressed 0 file(s)"), "{again}");
    }
}

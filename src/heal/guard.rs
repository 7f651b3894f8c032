//! The two guardrails a playbook file is checked against before it can load: log paths
//! stay under the configured roots (resolved through symlinks, so a link cannot lead
//! out), and configured commands are argv arrays that are not shells, not interpreters
//! handed code, and not known-destructive.

use std::path::{Component, Path, PathBuf};

/// A log root must be absolute, plain, and not the whole filesystem.
pub fn check_root(root: &Path) -> Result<(), String> {
    lexical(root)?;
    if root.parent().is_none() {
        return Err("\"/\" cannot be a log root: name the directories logs live in".into());
    }
    Ok(())
}

/// Absolute, with no `.` or `..` in it: what the file says is what is meant.
fn lexical(p: &Path) -> Result<(), String> {
    if !p.is_absolute() {
        return Err(format!("\"{}\" is not an absolute path", p.display()));
    }
    if p.components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        || p.to_string_lossy().contains("/./")
    {
        return Err(format!("\"{}\" contains \"..\" or \".\"", p.display()));
    }
    Ok(())
}

/// The path with every symlink in its existing part resolved; the part that does not
/// exist yet is appended as written (it holds no `..`, so it cannot climb out).
pub fn resolve(p: &Path) -> PathBuf {
    let mut existing = p.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
}

/// `path` resolved, if it lies under one of `roots` (also resolved); else why not.
pub fn under_roots(path: &Path, roots: &[PathBuf]) -> Result<PathBuf, String> {
    lexical(path)?;
    if roots.is_empty() {
        return Err("no log roots are configured (playbooks.log_roots)".into());
    }
    let real = resolve(path);
    if roots
        .iter()
        .filter(|r| check_root(r).is_ok())
        .any(|r| real.starts_with(resolve(r)))
    {
        return Ok(real);
    }
    let shown: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    let via = if real != path {
        format!(" (it resolves to \"{}\")", real.display())
    } else {
        String::new()
    };
    Err(format!(
        "\"{}\" is outside the allowed log roots {}{via}",
        path.display(),
        shown.join(", ")
    ))
}

/// Shells run whatever text they are given: never a configured command.
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "ash", "busybox",
];
/// Interpreters are allowed to run a script file, never code passed on the command line.
const INTERPRETERS: &[&str] = &[
    "python",
    "python2",
    "python3",
    "perl",
    "ruby",
    "node",
    "nodejs",
    "php",
    "lua",
    "tclsh",
    "awk",
    "gawk",
    "mawk",
    "osascript",
    "pwsh",
];
const CODE_FLAGS: &[&str] = &["-c", "-e", "-E", "-r", "--eval", "--command", "-Command"];
/// Programs that run other programs or change who runs them: they would turn one
/// allowed command into any command.
const LAUNCHERS: &[&str] = &[
    "env", "sudo", "su", "doas", "xargs", "nohup", "setsid", "chroot", "nice", "timeout", "ssh",
    "eval", "exec", "find",
];
/// Known to destroy a host.
const DESTRUCTIVE: &[&str] = &[
    "dd", "mkfs", "fdisk", "sfdisk", "parted", "wipefs", "shred", "shutdown", "reboot", "halt",
    "poweroff", "init", "telinit",
];

/// Whether a configured command may be run by a playbook step.
pub fn check_command(argv: &[String]) -> Result<(), String> {
    let Some(program) = argv.first() else {
        return Err("an empty command: give the program and its arguments".into());
    };
    if !Path::new(program).is_absolute() {
        return Err(format!(
            "\"{program}\": give the program's absolute path (a search of PATH could find another)"
        ));
    }
    let base = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    // python3.11, mkfs.ext4: the family counts.
    let family = base
        .split(['.', '-'])
        .next()
        .unwrap_or("")
        .trim_end_matches(|c: char| c.is_ascii_digit());
    let is = |list: &[&str]| list.contains(&base.as_str()) || list.contains(&family);
    if is(SHELLS) {
        return Err(format!(
            "\"{program}\" is a shell: commands run without one, as an argv array"
        ));
    }
    if is(LAUNCHERS) {
        return Err(format!(
            "\"{program}\" runs other programs: name the program itself"
        ));
    }
    if is(DESTRUCTIVE) {
        return Err(format!("\"{program}\" is on the deny list"));
    }
    if is(INTERPRETERS)
        && argv
            .iter()
            .skip(1)
            .any(|a| CODE_FLAGS.contains(&a.as_str()))
    {
        return Err(format!(
            "\"{program}\" with code on the command line: run a script file instead"
        ));
    }
    if family == "rm" {
        let recursive = argv.iter().skip(1).any(|a| {
            a == "--recursive"
                || (a.starts_with('-') && !a.starts_with("--") && a.contains(['r', 'R']))
        });
        let root = argv
            .iter()
            .skip(1)
            .any(|a| matches!(a.as_str(), "/" | "/*" | "--no-preserve-root"));
        if recursive || root {
            return Err(
                "a recursive rm is on the deny list: use a delete-logs step under the log roots"
                    .into(),
            );
        }
    }
    if let Some(a) = argv
        .iter()
        .find(|a| a.contains("$(") || a.contains('`') || a.contains("&&") || a.contains(';'))
    {
        return Err(format!(
            "argument \"{a}\" is shell syntax, but no shell runs it: it would be passed as it is"
        ));
    }
    Ok(())
}

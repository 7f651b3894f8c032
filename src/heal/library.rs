//! The playbooks vigil knows: the built-in library (`playbooks/` in the source tree,
//! embedded in the binary) and the user's directory. A file with a problem is left out
//! and reported; every valid playbook still loads.

use super::parse::{MAX_BYTES, Policy, parse};
use super::{Playbook, Trigger};
use crate::config::Problem;
use std::path::Path;

/// The built-in library, as (file name, text).
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "crashed-container.toml",
        include_str!("../../playbooks/crashed-container.toml"),
    ),
    (
        "crashed-service.toml",
        include_str!("../../playbooks/crashed-service.toml"),
    ),
    (
        "memory-leak.toml",
        include_str!("../../playbooks/memory-leak.toml"),
    ),
    (
        "disk-full-of-logs.toml",
        include_str!("../../playbooks/disk-full-of-logs.toml"),
    ),
    (
        "expiring-certificate.toml",
        include_str!("../../playbooks/expiring-certificate.toml"),
    ),
    (
        "runaway-cpu.toml",
        include_str!("../../playbooks/runaway-cpu.toml"),
    ),
    (
        "exhausted-connections.toml",
        include_str!("../../playbooks/exhausted-connections.toml"),
    ),
    (
        "unusual-host-metric.toml",
        include_str!("../../playbooks/unusual-host-metric.toml"),
    ),
    (
        "unhealthy-container.toml",
        include_str!("../../playbooks/unhealthy-container.toml"),
    ),
    (
        "restart-loop.toml",
        include_str!("../../playbooks/restart-loop.toml"),
    ),
    (
        "oom-killed-container.toml",
        include_str!("../../playbooks/oom-killed-container.toml"),
    ),
];

/// Files read from one user directory: more is not a playbook library.
pub const MAX_FILES: usize = 256;

#[derive(Debug, Clone, Default)]
pub struct Library {
    pub playbooks: Vec<Playbook>,
    /// Every problem, with its file, line and field.
    pub problems: Vec<Problem>,
    /// The sources of files with problems, for rendering them (file name, text).
    pub sources: Vec<(String, String)>,
}

impl Library {
    /// The built-in playbooks, then the user's directory (a user playbook with a
    /// built-in's name replaces it). A missing directory is not a problem.
    pub fn load(dir: Option<&Path>, policy: &Policy) -> Library {
        let mut lib = Library::default();
        for (name, text) in BUILT_IN {
            lib.add(&format!("<built-in>/{name}"), text, policy);
        }
        if let Some(d) = dir
            && d.is_dir()
        {
            lib.add_dir(d, policy);
        }
        lib
    }

    /// One file or every `*.toml` in a directory, without the built-ins.
    pub fn load_path(path: &Path, policy: &Policy) -> Library {
        let mut lib = Library::default();
        if path.is_dir() {
            lib.add_dir(path, policy);
        } else {
            lib.add_file(path, policy);
        }
        lib
    }

    fn add_dir(&mut self, dir: &Path, policy: &Policy) {
        let mut files: Vec<_> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .take(MAX_FILES + 1)
                .collect(),
            Err(e) => {
                self.problem(
                    &dir.display().to_string(),
                    format!("cannot read the directory: {e}"),
                );
                return;
            }
        };
        if files.len() > MAX_FILES {
            self.problem(
                &dir.display().to_string(),
                format!(
                    "more than {MAX_FILES} playbooks: only the first {MAX_FILES} (by name) are read"
                ),
            );
            files.truncate(MAX_FILES);
        }
        files.sort();
        for f in files {
            self.add_file(&f, policy);
        }
    }

    fn add_file(&mut self, path: &Path, policy: &Policy) {
        use std::io::Read;
        let file = path.display().to_string();
        let mut bytes = Vec::new();
        let read = std::fs::File::open(path)
            .and_then(|f| f.take(MAX_BYTES as u64 + 1).read_to_end(&mut bytes));
        if let Err(e) = read {
            self.problem(&file, format!("cannot read: {e}"));
            return;
        }
        if bytes.len() > MAX_BYTES {
            self.problem(
                &file,
                format!("larger than {} KiB: not a playbook", MAX_BYTES >> 10),
            );
            return;
        }
        match String::from_utf8(bytes) {
            Ok(text) => self.add(&file, &text, policy),
            Err(e) => {
                let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
                self.problems.push(Problem {
                    file,
                    line,
                    key: String::new(),
                    message: "not UTF-8 text".into(),
                    span: 0..0,
                });
            }
        }
    }

    fn add(&mut self, file: &str, text: &str, policy: &Policy) {
        match parse(text, file, policy) {
            Ok(p) => {
                if let Some(i) = self.playbooks.iter().position(|q| q.name == p.name) {
                    if self.playbooks[i].file.starts_with("<built-in>") {
                        self.playbooks[i] = p;
                    } else {
                        let first = self.playbooks[i].file.clone();
                        self.problems.push(Problem {
                            file: file.to_string(),
                            line: 1,
                            key: "name".into(),
                            message: format!("\"{}\" is already the name of {first}", p.name),
                            span: 0..0,
                        });
                        self.sources.push((file.to_string(), text.to_string()));
                    }
                } else {
                    self.playbooks.push(p);
                }
            }
            Err(problems) => {
                self.problems.extend(problems);
                self.sources.push((file.to_string(), text.to_string()));
            }
        }
    }

    fn problem(&mut self, file: &str, message: String) {
        self.problems.push(Problem {
            file: file.to_string(),
            line: 1,
            key: String::new(),
            message,
            span: 0..0,
        });
    }

    pub fn get(&self, name: &str) -> Option<&Playbook> {
        self.playbooks.iter().find(|p| p.name == name)
    }

    /// The playbooks that answer a finding of this kind.
    pub fn fitting(&self, trigger: Trigger) -> Vec<&Playbook> {
        self.playbooks
            .iter()
            .filter(|p| p.trigger == trigger)
            .collect()
    }

    /// Problems drawn like a compiler's: the line, a caret under the field.
    pub fn render(&self, color: bool) -> String {
        let mut out = String::new();
        for (file, source) in &self.sources {
            let problems: Vec<Problem> = self
                .problems
                .iter()
                .filter(|p| &p.file == file)
                .cloned()
                .collect();
            // config::render draws Problems against their source; it takes them as a
            // Loaded (its config is not looked at).
            let loaded = crate::config::Loaded {
                config: crate::config::Config::default(),
                problems,
                path: None,
                source: source.clone(),
            };
            out.push_str(&crate::config::render(&loaded, color));
        }
        out
    }
}

//! `[playbooks]` in the config: where the user's playbooks are, which roots log steps
//! may touch, which classes of step run unattended, and the commands a step may name.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaybooksConfig {
    /// The user's playbooks (`*.toml`); unset: $XDG_CONFIG_HOME/vigil/playbooks.
    pub dir: Option<PathBuf>,
    /// delete-logs and compress-logs only touch files under these directories.
    pub log_roots: Vec<PathBuf>,
    /// Step classes (restart-container, delete-logs, ...) an L1 or L2 playbook may take
    /// without a person. Empty: every playbook waits for approval.
    pub auto: Vec<String>,
    /// Commands a renew-cert step names: argv arrays, run without a shell, never
    /// composed from other text. Checked against a deny list.
    pub commands: BTreeMap<String, Vec<String>>,
}

impl Default for PlaybooksConfig {
    fn default() -> Self {
        PlaybooksConfig {
            dir: None,
            log_roots: vec![PathBuf::from("/var/log")],
            auto: Vec::new(),
            commands: BTreeMap::from([(
                "certbot-renew".to_string(),
                vec![
                    "/usr/bin/certbot".to_string(),
                    "renew".to_string(),
                    "--quiet".to_string(),
                ],
            )]),
        }
    }
}

impl PlaybooksConfig {
    /// The user directory: the configured one, else the XDG one.
    pub fn user_dir(&self) -> Option<PathBuf> {
        self.dir.clone().or_else(|| {
            crate::config::paths::config_file()
                .and_then(|f| f.parent().map(|d| d.join("playbooks")))
        })
    }

    /// What `vigil config check` reports: roots that are not absolute (or are `/`),
    /// unknown step classes, denied commands.
    pub fn problems(&self, bad: &mut dyn FnMut(&str, String)) {
        for r in &self.log_roots {
            if let Err(e) = super::guard::check_root(r) {
                bad("playbooks.log_roots", e);
            }
        }
        for a in &self.auto {
            if !super::STEP_NAMES.contains(&a.as_str()) {
                bad(
                    "playbooks.auto",
                    format!(
                        "expected one of {}, got \"{a}\"",
                        super::STEP_NAMES.join(", ")
                    ),
                );
            }
        }
        for (name, argv) in &self.commands {
            if let Err(e) = super::guard::check_command(argv) {
                bad(&format!("playbooks.commands.{name}"), e);
            }
        }
    }
}

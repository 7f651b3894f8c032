//! `vigil playbook check [PATH]` and `vigil playbook dry-run NAME --target T`.

use super::{Library, dry_run, parse::Policy};
use crate::config::Config;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum PlaybookCmd {
    /// Check playbooks: every problem with its file, line and field; exit 1 if any.
    /// Without PATH: the built-in library and the user directory
    Check {
        /// A playbook file or a directory of them
        path: Option<PathBuf>,
    },
    /// Show every step a playbook would take on a target, in words; acts on nothing
    DryRun {
        name: String,
        /// The container, unit or scale target it would act on
        #[arg(long)]
        target: String,
    },
    /// List the playbooks that load, with their trigger and risk
    List,
}

pub fn run(cmd: PlaybookCmd, config: &Config) -> anyhow::Result<ExitCode> {
    let policy = Policy::from_config(config);
    let dir = config.playbooks.user_dir();
    match cmd {
        PlaybookCmd::Check { path } => {
            let lib = match &path {
                Some(p) if !p.exists() => {
                    anyhow::bail!("{}: no such file or directory", p.display())
                }
                Some(p) => Library::load_path(p, &policy),
                None => Library::load(dir.as_deref(), &policy),
            };
            for p in &lib.playbooks {
                println!("{}: ok ({})", p.file, p.name);
            }
            if lib.problems.is_empty() {
                println!("{} playbook(s) ok", lib.playbooks.len());
                return Ok(ExitCode::SUCCESS);
            }
            let color = std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr());
            eprint!("{}", lib.render(color));
            for p in &lib.problems {
                eprintln!("{p}");
            }
            eprintln!(
                "{} playbook(s) ok, {} problem(s)",
                lib.playbooks.len(),
                lib.problems.len()
            );
            Ok(ExitCode::from(1))
        }
        PlaybookCmd::DryRun { name, target } => {
            let lib = Library::load(dir.as_deref(), &policy);
            let Some(p) = lib.get(&name) else {
                let names: Vec<&str> = lib.playbooks.iter().map(|p| p.name.as_str()).collect();
                anyhow::bail!("no playbook named \"{name}\"; known: {}", names.join(", "));
            };
            let text =
                dry_run::describe(p, &target, &config.playbooks).map_err(anyhow::Error::msg)?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        PlaybookCmd::List => {
            let lib = Library::load(dir.as_deref(), &policy);
            for p in &lib.playbooks {
                println!(
                    "{:<24} {:<22} {}  {}",
                    p.name,
                    p.trigger.name(),
                    p.risk.name(),
                    p.file
                );
            }
            for p in &lib.problems {
                eprintln!("{p}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

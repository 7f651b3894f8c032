//! The console's own state: which view, which row, which dialog. Key presses change it
//! and may produce a command for the engine. A confirmation is a value that carries the
//! postponed command, and it is checked against the latest snapshot when confirmed.

use super::i18n::{Lang, Msg};
use super::keymap::{self, Action};
use super::theme::Theme;
use crate::protocol::{Actor, Command, Entry, Mode, Snapshot, State};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    Forecast,
    Actions,
    Containers,
    Audit,
    Incidents,
}

impl View {
    pub const ALL: [View; 6] = [
        View::Overview,
        View::Forecast,
        View::Actions,
        View::Containers,
        View::Audit,
        View::Incidents,
    ];

    pub fn title(self) -> Msg {
        match self {
            View::Overview => Msg::ViewOverview,
            View::Forecast => Msg::ViewForecast,
            View::Actions => Msg::ViewActions,
            View::Containers => Msg::ViewContainers,
            View::Audit => Msg::ViewAudit,
            View::Incidents => Msg::ViewIncidents,
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// A question on screen, and what a yes does.
#[derive(Debug, Clone, PartialEq)]
pub enum Dialog {
    /// A risky approval: the operator types `subject` to confirm this exact version.
    TypeToApprove {
        id: String,
        version: u32,
        subject: String,
        typed: String,
    },
    /// y / n for a mode change or releasing the brake.
    YesNo { question: Msg, yes: Box<Command> },
}

pub struct App {
    pub view: View,
    pub help: bool,
    pub theme: Theme,
    pub lang: Lang,
    pub quit: bool,
    /// Row of the approval queue under the cursor.
    /// The proposal under the cursor, by id: rows move as proposals come and go, and a
    /// key must act on the proposal that was looked at, not on whatever took its row.
    pub selected: Option<String>,
    /// The row under the cursor in the Incidents view.
    pub incident: usize,
    /// The detail pane shows the selected row (else the first waiting one).
    pub detail: bool,
    pub dialog: Option<Dialog>,
    /// The console's own answer to the last key (the engine's comes in the snapshot).
    pub note: Option<Msg>,
    /// Who presses the keys: recorded with every decision.
    pub actor: Actor,
}

/// Risky actions need a typed confirmation: emergencies, large or destructive changes.
/// The engine holds the same rule and refuses an approval without it.
pub fn risky(e: &Entry) -> bool {
    e.proposal.risk >= crate::protocol::Risk::Medium
}

impl App {
    pub fn new(theme: Theme, lang: Lang) -> App {
        App {
            view: View::Overview,
            help: false,
            theme,
            lang,
            quit: false,
            selected: None,
            incident: 0,
            detail: false,
            dialog: None,
            note: None,
            actor: Actor::local(),
        }
    }

    /// The row under the cursor, if the queue has one there.
    /// The row of the selected proposal (its newest version; the first row if none).
    pub fn selected_index(&self, snap: &Snapshot) -> usize {
        self.selected
            .as_ref()
            .and_then(|id| snap.board.iter().position(|e| &e.proposal.id == id))
            .unwrap_or(0)
    }

    pub fn selected_entry<'a>(&self, snap: &'a Snapshot) -> Option<&'a Entry> {
        snap.board.get(self.selected_index(snap))
    }

    fn select_row(&mut self, snap: &Snapshot, i: usize) {
        self.selected = snap.board.get(i).map(|e| e.proposal.id.clone());
    }

    /// Applies a key press; returns what the engine must be told, if anything.
    pub fn on_key(&mut self, ev: &KeyEvent, snap: &Snapshot) -> Option<Command> {
        if self.dialog.is_some() {
            return self.on_dialog_key(ev, snap);
        }
        let action = keymap::lookup(ev)?;
        self.apply(action, snap)
    }

    fn on_dialog_key(&mut self, ev: &KeyEvent, snap: &Snapshot) -> Option<Command> {
        if ev.modifiers.contains(KeyModifiers::CONTROL) && ev.code == KeyCode::Char('c') {
            self.quit = true;
            return None;
        }
        if ev.code == KeyCode::Esc {
            self.dialog = None;
            return None;
        }
        match self.dialog.as_mut()? {
            Dialog::YesNo { yes, .. } => {
                let cmd = matches!(ev.code, KeyCode::Char('y') | KeyCode::Char('Y'))
                    .then(|| (**yes).clone());
                self.dialog = None;
                cmd
            }
            Dialog::TypeToApprove {
                id,
                version,
                subject,
                typed,
            } => match ev.code {
                KeyCode::Char(c) => {
                    typed.push(c);
                    None
                }
                KeyCode::Backspace => {
                    typed.pop();
                    None
                }
                KeyCode::Enter if typed != subject => {
                    // A wrong name: ask again rather than guess.
                    typed.clear();
                    None
                }
                KeyCode::Enter => {
                    let (id, version, typed) = (id.clone(), *version, typed.clone());
                    self.dialog = None;
                    self.approve_version(&id, version, Some(typed), snap)
                }
                _ => None,
            },
        }
    }

    /// Checks the version on screen is still the current one before approving it.
    fn approve_version(
        &mut self,
        id: &str,
        version: u32,
        confirm: Option<String>,
        snap: &Snapshot,
    ) -> Option<Command> {
        let current = snap
            .board
            .iter()
            .filter(|e| e.proposal.id == id)
            .map(|e| e.proposal.version)
            .max();
        if current != Some(version) {
            self.note = Some(Msg::Changed);
            self.selected = Some(id.to_string());
            self.detail = true;
            return None;
        }
        Some(Command::Approve {
            id: id.to_string(),
            version,
            by: self.actor.clone(),
            confirm,
        })
    }

    pub fn apply(&mut self, action: Action, snap: &Snapshot) -> Option<Command> {
        let n = View::ALL.len();
        self.note = None;
        match action {
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.help = !self.help,
            Action::Close => {
                self.help = false;
                self.detail = false;
            }
            Action::NextView => self.view = View::ALL[(self.view.index() + 1) % n],
            Action::PrevView => self.view = View::ALL[(self.view.index() + n - 1) % n],
            Action::GoToView(i) => self.view = View::ALL[i.min(n - 1)],
            Action::TogglePause => return Some(Command::TogglePause),
            Action::Up if self.view == View::Incidents => {
                self.incident = self.incident.saturating_sub(1);
            }
            Action::Down if self.view == View::Incidents => {
                self.incident = (self.incident + 1).min(snap.incidents.len().saturating_sub(1));
            }
            Action::Up => {
                let i = self.selected_index(snap).saturating_sub(1);
                self.select_row(snap, i);
            }
            Action::Down => {
                let i = (self.selected_index(snap) + 1).min(snap.board.len().saturating_sub(1));
                self.select_row(snap, i);
            }
            Action::Details => self.detail = !self.detail,
            Action::Approve | Action::Reject if self.view == View::Incidents => {
                let inc = snap.incidents.get(self.incident)?;
                if inc.awaiting.is_none() {
                    self.note = Some(Msg::NotWaiting);
                    return None;
                }
                let cmd = Command::AnswerIncident {
                    id: inc.id.clone(),
                    approve: action == Action::Approve,
                    by: self.actor.clone(),
                };
                if action == Action::Reject {
                    return Some(cmd);
                }
                self.dialog = Some(Dialog::YesNo {
                    question: Msg::ConfirmIncident,
                    yes: Box::new(cmd),
                });
            }
            Action::FalseAlarm => {
                // Only the Incidents view shows what would be closed.
                if self.view != View::Incidents {
                    self.view = View::Incidents;
                    return None;
                }
                let inc = snap.incidents.get(self.incident)?;
                if inc.state.is_final() {
                    self.note = Some(Msg::NotWaiting);
                    return None;
                }
                if !inc.dismissable() {
                    self.note = Some(Msg::NotFalseAlarm);
                    return None;
                }
                self.dialog = Some(Dialog::YesNo {
                    question: Msg::ConfirmFalseAlarm,
                    yes: Box::new(Command::DismissIncident {
                        id: inc.id.clone(),
                        by: self.actor.clone(),
                    }),
                });
            }
            Action::Approve | Action::Reject => {
                // Elsewhere the key only shows the queue: nobody approves what they
                // have not seen.
                if self.view != View::Actions {
                    self.view = View::Actions;
                    return None;
                }
                let e = self.selected_entry(snap)?.clone();
                if e.state != State::Pending {
                    self.note = Some(Msg::NotWaiting);
                    return None;
                }
                let p = &e.proposal;
                if action == Action::Reject {
                    return Some(Command::Reject {
                        id: p.id.clone(),
                        version: p.version,
                        by: self.actor.clone(),
                        reason: None,
                    });
                }
                if risky(&e) {
                    self.dialog = Some(Dialog::TypeToApprove {
                        id: p.id.clone(),
                        version: p.version,
                        subject: p.action.subject().to_string(),
                        typed: String::new(),
                    });
                    return None;
                }
                return self.approve_version(&p.id.clone(), p.version, None, snap);
            }
            Action::ToggleShadow => {
                let (question, on) = match snap.mode {
                    Mode::Shadow => (Msg::ConfirmLive, false),
                    Mode::Live => (Msg::ConfirmShadow, true),
                };
                self.dialog = Some(Dialog::YesNo {
                    question,
                    yes: Box::new(Command::SetShadow {
                        on,
                        by: self.actor.clone(),
                    }),
                });
            }
            Action::Brake => {
                let cmd = Command::Brake {
                    engage: !snap.brake,
                    by: self.actor.clone(),
                    reason: None,
                };
                // Stopping is always safe; starting again asks first.
                if !snap.brake {
                    return Some(cmd);
                }
                self.dialog = Some(Dialog::YesNo {
                    question: Msg::ConfirmRelease,
                    yes: Box::new(cmd),
                });
            }
        }
        None
    }
}

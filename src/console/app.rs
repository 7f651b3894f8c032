//! The console's own state: which view, which overlay. Key presses change it and may
//! produce a command for the engine.

use super::i18n::{Lang, Msg};
use super::keymap::{self, Action};
use super::theme::Theme;
use crate::engine::Command;
use crossterm::event::KeyEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    Forecast,
    Actions,
    Incidents,
    Audit,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Overview,
        View::Forecast,
        View::Actions,
        View::Incidents,
        View::Audit,
    ];

    pub fn title(self) -> Msg {
        match self {
            View::Overview => Msg::ViewOverview,
            View::Forecast => Msg::ViewForecast,
            View::Actions => Msg::ViewActions,
            View::Incidents => Msg::ViewIncidents,
            View::Audit => Msg::ViewAudit,
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

pub struct App {
    pub view: View,
    pub help: bool,
    pub theme: Theme,
    pub lang: Lang,
    pub quit: bool,
}

impl App {
    pub fn new(theme: Theme, lang: Lang) -> App {
        App {
            view: View::Overview,
            help: false,
            theme,
            lang,
            quit: false,
        }
    }

    /// Applies a key press; returns what the engine must be told, if anything.
    pub fn on_key(&mut self, ev: &KeyEvent) -> Option<Command> {
        let action = keymap::lookup(ev)?;
        self.apply(action)
    }

    pub fn apply(&mut self, action: Action) -> Option<Command> {
        let n = View::ALL.len();
        match action {
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.help = !self.help,
            Action::Close => self.help = false,
            Action::NextView => self.view = View::ALL[(self.view.index() + 1) % n],
            Action::PrevView => self.view = View::ALL[(self.view.index() + n - 1) % n],
            Action::GoToView(i) => self.view = View::ALL[i.min(n - 1)],
            Action::TogglePause => return Some(Command::TogglePause),
        }
        None
    }
}

//! The one keymap table. The status-bar hints, the `?` help and (later) the command
//! palette are all drawn from it, and it alone marks the keys that change what vigil does.

use super::i18n::Msg;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    NextView,
    PrevView,
    GoToView(usize),
    TogglePause,
    Close,
    Up,
    Down,
    Approve,
    Reject,
    Details,
    ToggleShadow,
    Brake,
    FalseAlarm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Tab,
    BackTab,
    Esc,
    Enter,
    Up,
    Down,
}

pub struct Binding {
    pub keys: &'static [Key],
    /// How the keys are written in hints and help.
    pub label: &'static str,
    pub action: Action,
    pub help: Msg,
    /// The word in the status bar.
    pub short: Msg,
    /// Shown in the status bar, not only in the help.
    pub hint: bool,
    /// Changes what vigil does (not only what it shows): marked in help, confirmed.
    pub dangerous: bool,
}

pub const KEYMAP: &[Binding] = &[
    Binding {
        keys: &[Key::Char('?')],
        label: "?",
        action: Action::ToggleHelp,
        help: Msg::KeyHelp,
        short: Msg::ShortHelp,
        hint: true,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Char('q'), Key::Ctrl('c')],
        label: "q",
        action: Action::Quit,
        help: Msg::KeyQuit,
        short: Msg::ShortQuit,
        hint: true,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Tab],
        label: "Tab",
        action: Action::NextView,
        help: Msg::KeyNextView,
        short: Msg::ShortView,
        hint: true,
        dangerous: false,
    },
    Binding {
        keys: &[Key::BackTab],
        label: "S-Tab",
        action: Action::PrevView,
        help: Msg::KeyPrevView,
        short: Msg::ShortView,
        hint: false,
        dangerous: false,
    },
    Binding {
        keys: &[
            Key::Char('1'),
            Key::Char('2'),
            Key::Char('3'),
            Key::Char('4'),
            Key::Char('5'),
            Key::Char('6'),
        ],
        label: "1-6",
        action: Action::GoToView(0),
        help: Msg::KeyViewN,
        short: Msg::ShortView,
        hint: false,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Char('p')],
        label: "p",
        action: Action::TogglePause,
        help: Msg::KeyPause,
        short: Msg::ShortPause,
        hint: true,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Up, Key::Char('k')],
        label: "↑↓",
        action: Action::Up,
        help: Msg::KeyMove,
        short: Msg::KeyMove,
        hint: false,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Down, Key::Char('j')],
        label: "j",
        action: Action::Down,
        help: Msg::KeyMove,
        short: Msg::KeyMove,
        hint: false,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Char('a')],
        label: "a",
        action: Action::Approve,
        help: Msg::KeyApprove,
        short: Msg::ShortApprove,
        hint: true,
        dangerous: true,
    },
    Binding {
        keys: &[Key::Char('r')],
        label: "r",
        action: Action::Reject,
        help: Msg::KeyReject,
        short: Msg::ShortReject,
        hint: true,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Enter],
        label: "Enter",
        action: Action::Details,
        help: Msg::KeyDetails,
        short: Msg::KeyDetails,
        hint: false,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Char('f')],
        label: "f",
        action: Action::FalseAlarm,
        help: Msg::KeyFalseAlarm,
        short: Msg::KeyFalseAlarm,
        hint: false,
        dangerous: true,
    },
    Binding {
        keys: &[Key::Char('S')],
        label: "S",
        action: Action::ToggleShadow,
        help: Msg::KeyShadow,
        short: Msg::ShortShadow,
        hint: false,
        dangerous: true,
    },
    Binding {
        keys: &[Key::Char('B')],
        label: "B",
        action: Action::Brake,
        help: Msg::KeyBrake,
        short: Msg::ShortBrake,
        hint: true,
        dangerous: true,
    },
    Binding {
        keys: &[Key::Esc],
        label: "Esc",
        action: Action::Close,
        help: Msg::KeyClose,
        short: Msg::KeyClose,
        hint: false,
        dangerous: false,
    },
];

fn key_of(ev: &KeyEvent) -> Option<Key> {
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    match ev.code {
        KeyCode::Char(c) if ctrl => Some(Key::Ctrl(c.to_ascii_lowercase())),
        KeyCode::Char(c) => Some(Key::Char(c)),
        KeyCode::Tab => Some(Key::Tab),
        KeyCode::BackTab => Some(Key::BackTab),
        KeyCode::Esc => Some(Key::Esc),
        KeyCode::Enter => Some(Key::Enter),
        KeyCode::Up => Some(Key::Up),
        KeyCode::Down => Some(Key::Down),
        _ => None,
    }
}

/// The action a key press asks for, if any.
pub fn lookup(ev: &KeyEvent) -> Option<Action> {
    let key = key_of(ev)?;
    KEYMAP.iter().find_map(|b| {
        let i = b.keys.iter().position(|k| *k == key)?;
        Some(match b.action {
            Action::GoToView(_) => Action::GoToView(i),
            a => a,
        })
    })
}

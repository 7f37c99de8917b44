//! Terminal events to actions: dialogs first, then text fields, then the keys that work
//! everywhere, then the current screen's letters, then arrows and vim keys.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::{Action, Tab};
use super::app::{App, Overlay};

/// The action a terminal event asks for, given the state.
pub fn on_event(app: &App, event: &Event) -> Option<Action> {
    match event {
        Event::Key(key) => on_key(app, *key),
        Event::Paste(text) => app.is_typing().then(|| Action::Paste(text.clone())),
        Event::Resize(_, _) => Some(Action::Resize),
        _ => None,
    }
}

/// The action a key asks for, given the state.
pub fn on_key(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    // A letter with Ctrl or Alt is never the plain letter's action (Ctrl-U outside a field
    // must not unsubscribe, Ctrl-X must not delete, Ctrl-Y must not confirm).
    let plain = !ctrl && !key.modifiers.contains(KeyModifiers::ALT);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q')) {
        return Some(if matches!(app.overlay, Some(Overlay::Quit { .. })) {
            Action::Quit
        } else {
            Action::RequestQuit
        });
    }
    if let Some(overlay) = &app.overlay {
        return match overlay {
            Overlay::Help => Some(Action::CloseOverlay),
            Overlay::Confirm { .. } | Overlay::Quit { .. } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') if plain => Some(Action::Confirm),
                KeyCode::Enter => Some(Action::Confirm),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Char('q') if plain => {
                    Some(Action::CloseOverlay)
                }
                KeyCode::Esc => Some(Action::CloseOverlay),
                _ => None,
            },
        };
    }
    match key.code {
        KeyCode::F(1) => return Some(Action::ToggleHelp),
        KeyCode::Tab | KeyCode::BackTab => return Some(Action::ToggleFocus),
        _ => {}
    }
    if app.is_typing() {
        return match key.code {
            KeyCode::Char(c) if !ctrl => Some(Action::Char(c)),
            KeyCode::Char('u') => Some(Action::ClearField),
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Delete => Some(Action::Delete),
            KeyCode::Enter => Some(Action::Enter),
            KeyCode::Esc => Some(Action::Back),
            KeyCode::Up => Some(Action::Up),
            KeyCode::Down => Some(Action::Down),
            KeyCode::Left => Some(Action::Left),
            KeyCode::Right => Some(Action::Right),
            KeyCode::Home => Some(Action::Top),
            KeyCode::End => Some(Action::Bottom),
            _ => None,
        };
    }
    if let KeyCode::Char(c) = key.code
        && plain
    {
        match c {
            'q' => return Some(Action::RequestQuit),
            '?' => return Some(Action::ToggleHelp),
            'T' => return Some(Action::CycleTheme),
            'z' => return Some(Action::ToggleZoom),
            '1'..='4' => {
                let i = usize::from(c as u8 - b'1');
                return Some(Action::SwitchTab(Tab::ALL[i]));
            }
            _ => {}
        }
    }
    if let KeyCode::Char(c) = key.code
        && plain
        && let Some(action) = app.focused_screen().keymap(c)
    {
        return Some(action);
    }
    match key.code {
        KeyCode::Char('b') if ctrl => Some(Action::PageUp),
        KeyCode::Char('f') if ctrl => Some(Action::PageDown),
        KeyCode::Char(_) if !plain => None,
        KeyCode::Up | KeyCode::Char('k') => Some(Action::Up),
        KeyCode::Down | KeyCode::Char('j') => Some(Action::Down),
        KeyCode::Left | KeyCode::Char('h') => Some(Action::Left),
        KeyCode::Right | KeyCode::Char('l') => Some(Action::Right),
        KeyCode::PageUp => Some(Action::PageUp),
        KeyCode::PageDown => Some(Action::PageDown),
        KeyCode::Home | KeyCode::Char('g') => Some(Action::Top),
        KeyCode::End | KeyCode::Char('G') => Some(Action::Bottom),
        KeyCode::Enter => Some(Action::Enter),
        KeyCode::Esc => Some(Action::Back),
        KeyCode::Char(' ') => Some(Action::Toggle),
        KeyCode::Char(c) => Some(Action::Char(c)),
        _ => None,
    }
}

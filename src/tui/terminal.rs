//! The real terminal: raw mode and the alternate screen, undone by a drop guard on exit and
//! by a panic hook on panic, so a crash never leaves the shell unusable.

use std::io::{self, Stdout};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal type the UI draws on.
pub type Term = Terminal<CrosstermBackend<Stdout>>;

static PANIC_HOOK: Once = Once::new();

/// Puts the terminal back: cooked mode, main screen, cursor shown. Safe to call twice.
pub fn restore() {
    // Each step is tried even if an earlier one failed; there is nothing better to do
    // with an error while restoring.
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        Show
    );
}

/// Restores the terminal before the previous panic hook prints the panic.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Owns the terminal while the UI runs; dropping it restores the terminal.
pub struct TerminalGuard {
    terminal: Term,
}

impl std::fmt::Debug for TerminalGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalGuard").finish_non_exhaustive()
    }
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, hides the cursor, enables bracketed
    /// paste, and installs the panic hook.
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        let guard_on_error = |e: io::Error| {
            restore();
            e
        };
        // Clearing by escape code, not `Terminal::clear`, which asks the terminal where the
        // cursor is: some terminals (and bare pseudo-terminals) never answer.
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            EnableBracketedPaste,
            Hide,
            Clear(ClearType::All)
        )
        .map_err(guard_on_error)?;
        let terminal =
            Terminal::new(CrosstermBackend::new(io::stdout())).map_err(guard_on_error)?;
        Ok(TerminalGuard { terminal })
    }

    /// The terminal to draw on.
    pub fn terminal(&mut self) -> &mut Term {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

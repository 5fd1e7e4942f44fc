//! The terminal's life: raw mode and the alternate screen on the way in, restored on every
//! way out — normal exit, error, panic (the hook is installed before the terminal is touched),
//! Ctrl-C, SIGTERM, SIGHUP — and around a Ctrl-Z suspend.

use std::io::{self, Stdout, stdout};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped, whatever path leaves the console.
pub struct TerminalGuard {
    pub terminal: Tui,
    mouse: bool,
}

impl TerminalGuard {
    /// Installs the panic hook, then enters raw mode and the alternate screen.
    pub fn enter(mouse: bool) -> io::Result<Self> {
        install_panic_hook();
        enable(mouse)?;
        let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        Ok(Self { terminal, mouse })
    }

    /// Ctrl-Z: give the terminal back, stop the process (as the shell expects), and take the
    /// terminal again once resumed with `fg`.
    pub fn suspend(&mut self) -> io::Result<()> {
        restore(self.mouse);
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGTSTP).map_err(io::Error::other)?;
        // Execution continues here after SIGCONT.
        enable(self.mouse)?;
        self.terminal.clear()
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore(self.mouse);
    }
}

fn enable(mouse: bool) -> io::Result<()> {
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen)?;
    if mouse {
        execute!(stdout(), EnableMouseCapture)?;
    }
    Ok(())
}

/// Best effort: on the way out there is nobody left to report a failure to.
fn restore(mouse: bool) {
    if mouse {
        let _ = execute!(stdout(), DisableMouseCapture);
    }
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore(true);
        previous(info);
    }));
}

//! A test harness: the real runtime (commands, control, backend, Try-it streams) driven
//! by key events and drawn on a fixed-size `TestBackend`, for end-to-end tests, examples
//! and demos. Copies are recorded instead of written to the terminal.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::action::Action;
use super::app::App;
use super::runtime::{Clipboard, Flow, Inputs, Runtime};
use super::theme::Theme;
use super::{TuiContext, TuiError, TuiOptions};

/// How long one wait for input lasts inside [`Harness::settle`] and
/// [`Harness::wait_for`].
const POLL: Duration = Duration::from_millis(5);

/// The UI without a real terminal.
pub struct Harness {
    runtime: Runtime,
    inputs: Inputs,
    terminal: Terminal<TestBackend>,
    events: UnboundedReceiverStream<io::Result<Event>>,
    events_tx: mpsc::UnboundedSender<io::Result<Event>>,
    copies: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").finish_non_exhaustive()
    }
}

impl Harness {
    /// A UI of `width` x `height` over a context. Must run inside a tokio runtime.
    pub fn new(
        ctx: TuiContext,
        opts: &TuiOptions,
        width: u16,
        height: u16,
    ) -> Result<Harness, TuiError> {
        let theme = Theme::load(&opts.theme, opts.no_color, &ctx.data_dir)?;
        let copies = Arc::new(Mutex::new(Vec::new()));
        let (runtime, inputs) = Runtime::new(ctx, theme, Clipboard::Recorder(copies.clone()));
        let terminal = Terminal::new(TestBackend::new(width, height))
            .map_err(|e| TuiError::Io(io::Error::other(e.to_string())))?;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        Ok(Harness {
            runtime,
            inputs,
            terminal,
            events: UnboundedReceiverStream::new(events_rx),
            events_tx,
            copies,
        })
    }

    /// The state.
    pub fn app(&self) -> &App {
        &self.runtime.app
    }

    /// Applies an action directly.
    pub fn dispatch(&mut self, action: Action) {
        self.runtime.dispatch(action);
    }

    /// Presses a key without modifiers.
    pub fn key(&mut self, code: KeyCode) {
        self.key_event(KeyEvent::new(code, KeyModifiers::NONE));
    }

    /// Presses a key with modifiers.
    pub fn key_event(&mut self, key: KeyEvent) {
        self.runtime.on_terminal_event(&Event::Key(key));
    }

    /// Queues a terminal event for the loop, as a real terminal delivers it: it is
    /// handled by a later [`Harness::step`], in the loop's order of priority.
    pub fn queue_event(&mut self, event: Event) {
        // The receiver lives in `self`, so the send cannot fail.
        let _ = self.events_tx.send(Ok(event));
    }

    /// A sender of actions into the loop's channel (as commands' tasks use).
    pub fn sender(&self) -> mpsc::UnboundedSender<Action> {
        self.runtime.sender()
    }

    /// One wake of the loop: waits (at most a few milliseconds) for one input and
    /// handles it.
    pub async fn step(&mut self) -> Result<Flow, TuiError> {
        let deadline = Instant::now() + POLL;
        self.runtime
            .step(&mut self.inputs, &mut self.events, Some(deadline))
            .await
    }

    /// Types each character as a key press.
    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Handles every input that is ready, waiting at most a few milliseconds for more.
    pub async fn settle(&mut self) -> Result<(), TuiError> {
        let deadline = Instant::now() + POLL;
        while Instant::now() < deadline {
            self.runtime
                .step(&mut self.inputs, &mut self.events, Some(deadline))
                .await?;
        }
        Ok(())
    }

    /// Handles inputs until `done` holds, or fails after `timeout` with the screen.
    pub async fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&App) -> bool,
    ) -> Result<(), String> {
        let end = Instant::now() + timeout;
        while !done(self.app()) {
            if Instant::now() >= end {
                return Err(format!(
                    "timed out after {timeout:?} waiting for {what}; the screen:\n{}",
                    self.render()
                ));
            }
            let deadline = Instant::now() + POLL;
            self.runtime
                .step(&mut self.inputs, &mut self.events, Some(deadline))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Draws a frame and returns it as text, one quoted line per row.
    pub fn render(&mut self) -> String {
        if let Err(e) = self.runtime.draw(&mut self.terminal) {
            return format!("draw failed: {e}");
        }
        self.terminal.backend().to_string()
    }

    /// The terminal, to inspect cells (colours) after [`Harness::render`].
    pub fn terminal(&self) -> &Terminal<TestBackend> {
        &self.terminal
    }

    /// Resizes the test terminal.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.terminal.backend_mut().resize(width, height);
        // The next draw notices the new size.
        let _ = self.terminal.autoresize();
    }

    /// Text copied so far (OSC 52 in a real terminal).
    pub fn copies(&self) -> Vec<String> {
        self.copies.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Stops what the UI started (streams, memory backend).
    pub async fn shutdown(mut self) {
        self.runtime.shutdown().await;
    }
}

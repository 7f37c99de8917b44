//! The runtime: one loop `select!`s over terminal events, the app's action channel,
//! catalog changes, gateway traffic and a tick; it runs the commands `update` returns on
//! tokio tasks (never blocking the loop) and redraws at most every frame, only when dirty.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crossterm::event::Event;
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::{broadcast, mpsc};
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::backend::{BackendHandle, BackendOptions};
use crate::catalog::now_millis;
use crate::control::{Change, Control, ControlError};
use crate::sse;
use crate::telemetry::{Telemetry, TrafficEvent, TrafficReceiver};

use super::action::{
    Action, BackendCounters, Command, Done, KeysInfo, ServerStats, StreamItem, StreamUpdate, Tab,
    TokenInfo,
};
use super::app::{App, AppConfig};
use super::charts::{AnalyticsFeed, Glyphs, ProcessStats};
use super::screens::live::LineKind;
use super::theme::Theme;
use super::{LOG_FILE, TuiContext, TuiError, keymap, ui};

mod commands;
use crate::analytics::Subject;

/// The tick: counters, rates and message ageing (100 ms, i.e. ten a second).
pub const TICK: Duration = Duration::from_millis(100);
/// At most one frame per this long (about 30 frames a second).
pub const FRAME: Duration = Duration::from_millis(33);
/// Actions handled per wake before the loop looks at the keyboard again.
pub const MAX_BATCH: usize = 512;
/// How long shutdown waits for the memory backend to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest error body a Try-it stream reports.
const MAX_ERROR_BODY: usize = 300;

/// Where copied text goes.
#[derive(Debug, Clone)]
pub enum Clipboard {
    /// The terminal, by OSC 52 (works over SSH when the terminal allows it).
    Terminal,
    /// A list, for tests.
    Recorder(Arc<Mutex<Vec<String>>>),
}

/// The OSC 52 sequence that puts `text` on the terminal's clipboard.
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", STANDARD.encode(text))
}

/// The inputs the loop waits on.
#[derive(Debug)]
pub struct Inputs {
    rx: mpsc::UnboundedReceiver<Action>,
    changes: Option<broadcast::Receiver<Change>>,
    traffic: Option<TrafficReceiver>,
    tick: tokio::time::Interval,
}

/// What one wake of the loop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// State changed: redraw.
    Changed,
    /// Nothing changed (a frame deadline passed).
    Idle,
    /// The terminal's event stream ended.
    Closed,
}

/// The app plus what runs its commands.
pub struct Runtime {
    /// The state.
    pub app: App,
    control: Control,
    telemetry: Telemetry,
    backend: Arc<Mutex<Option<BackendHandle>>>,
    streams: HashMap<u64, AbortHandle>,
    http: reqwest::Client,
    clipboard: Clipboard,
    tx: mpsc::UnboundedSender<Action>,
    started: Instant,
    /// The wall-clock second of the last analytics feed.
    analytics_second: i64,
    /// sysinfo's view of this process (kept between samples, for CPU use); `None` where
    /// sysinfo does not work.
    system: Option<Arc<Mutex<sysinfo::System>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

fn message(e: ControlError) -> String {
    e.to_string()
}

impl Runtime {
    /// A runtime over a context; returns the inputs its loop waits on.
    pub fn new(ctx: TuiContext, theme: Theme, clipboard: Clipboard) -> (Runtime, Inputs) {
        let (tx, rx) = mpsc::unbounded_channel();
        let config = AppConfig {
            admin: ctx.admin,
            gateway: ctx.gateway,
            backend_addr: ctx.backend_addr,
            log_file: ctx.data_dir.join(LOG_FILE),
            data_dir: ctx.data_dir,
            principal: ctx.principal,
            signed_in: ctx.signed_in,
            tls: ctx.tls,
        };
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let inputs = Inputs {
            rx,
            changes: Some(ctx.control.subscribe_changes()),
            traffic: Some(ctx.telemetry.subscribe_batched()),
            tick,
        };
        let mut app = App::new(config, theme, ctx.control.snapshot(), now_millis());
        let admin_password = app
            .config
            .data_dir
            .join(crate::control::ADMIN_PASSWORD_FILE);
        if let Some(tls) = app.config.tls.clone() {
            let where_ = match &tls.gateway {
                Ok(a) => format!("HTTPS gateway https://{a} (h2, HTTP/1.1)"),
                Err(e) => format!("HTTPS gateway not running: {e}"),
            };
            app.log(
                LineKind::Info,
                format!("{where_}; certificate SHA-256 {}", tls.fingerprint),
            );
        }
        if app.config.is_admin() && admin_password.exists() {
            app.log(
                LineKind::Info,
                format!(
                    "user admin's first password is in {} (sign in with streamgate --user admin)",
                    admin_password.display()
                ),
            );
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let mut rt = Runtime {
            app,
            control: ctx.control,
            telemetry: ctx.telemetry,
            backend: Arc::default(),
            streams: HashMap::new(),
            http,
            clipboard,
            tx,
            started: Instant::now(),
            analytics_second: 0,
            system: sysinfo::System::new().ok().map(|s| Arc::new(Mutex::new(s))),
        };
        rt.app.analytics.glyphs = Glyphs::from_env();
        (rt, inputs)
    }

    /// Runs the loop until the person quits or the terminal's events end.
    pub async fn run<B, S>(
        &mut self,
        inputs: &mut Inputs,
        terminal: &mut Terminal<B>,
        mut events: S,
    ) -> Result<(), TuiError>
    where
        B: Backend,
        S: Stream<Item = io::Result<Event>> + Unpin,
    {
        let mut dirty = true;
        let mut last_draw: Option<Instant> = None;
        loop {
            let due = last_draw.map(|t| t + FRAME);
            if dirty && due.is_none_or(|d| Instant::now() >= d) {
                self.draw(terminal)?;
                dirty = false;
                last_draw = Some(Instant::now());
            }
            let deadline = if dirty { due } else { None };
            match self.step(inputs, &mut events, deadline).await? {
                Flow::Changed => dirty = true,
                Flow::Idle => {}
                Flow::Closed => return Ok(()),
            }
            if self.app.should_quit {
                return Ok(());
            }
        }
    }

    /// Draws one frame.
    pub fn draw<B: Backend>(&self, terminal: &mut Terminal<B>) -> Result<(), TuiError> {
        terminal
            .draw(|frame| ui::draw(&self.app, frame))
            .map_err(|e| TuiError::Io(io::Error::other(e.to_string())))?;
        Ok(())
    }

    /// Waits for one input (or `deadline`) and handles it, draining queued actions in a
    /// bounded batch so keys are never starved.
    pub async fn step<S>(
        &mut self,
        inputs: &mut Inputs,
        events: &mut S,
        deadline: Option<Instant>,
    ) -> Result<Flow, TuiError>
    where
        S: Stream<Item = io::Result<Event>> + Unpin,
    {
        let Inputs {
            rx,
            changes: changes_rx,
            traffic: traffic_rx,
            tick,
        } = inputs;
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let changes = async {
            match changes_rx.as_mut() {
                Some(rx) => Some(rx.recv().await),
                None => std::future::pending().await,
            }
        };
        let traffic = async {
            match traffic_rx.as_mut() {
                Some(rx) => Some(rx.recv().await),
                None => std::future::pending().await,
            }
        };
        enum Got {
            Term(Option<io::Result<Event>>),
            Action(Option<Action>),
            Change(Option<Result<Change, broadcast::error::RecvError>>),
            Traffic(Option<Result<TrafficEvent, broadcast::error::RecvError>>),
            Tick,
            Deadline,
        }
        let got = tokio::select! {
            biased;
            ev = events.next() => Got::Term(ev),
            a = rx.recv() => Got::Action(a),
            c = changes => Got::Change(c),
            t = traffic => Got::Traffic(t),
            _ = tick.tick() => Got::Tick,
            () = sleep => Got::Deadline,
        };
        match got {
            Got::Term(None) => Ok(Flow::Closed),
            Got::Term(Some(Err(e))) => Err(TuiError::Io(e)),
            Got::Term(Some(Ok(ev))) => {
                self.on_terminal_event(&ev);
                Ok(Flow::Changed)
            }
            Got::Action(Some(a)) => {
                self.dispatch(a);
                for _ in 0..MAX_BATCH {
                    match rx.try_recv() {
                        Ok(a) => self.dispatch(a),
                        Err(_) => break,
                    }
                }
                Ok(Flow::Changed)
            }
            // We hold a sender, so the channel never closes.
            Got::Action(None) => Ok(Flow::Idle),
            Got::Change(c) => {
                if matches!(c, Some(Err(broadcast::error::RecvError::Closed))) {
                    *changes_rx = None;
                }
                // Many changes in a row need one fresh snapshot.
                if let Some(rx) = changes_rx.as_mut() {
                    while rx.try_recv().is_ok() {}
                }
                self.dispatch(Action::Catalog(self.control.snapshot()));
                Ok(Flow::Changed)
            }
            Got::Traffic(t) => {
                match t {
                    Some(Ok(event)) => self.dispatch(Action::Traffic(event)),
                    Some(Err(broadcast::error::RecvError::Lagged(n))) => {
                        self.dispatch(Action::TrafficMissed(n));
                    }
                    Some(Err(broadcast::error::RecvError::Closed)) | None => {
                        *traffic_rx = None;
                        return Ok(Flow::Idle);
                    }
                }
                if let Some(rx) = traffic_rx.as_mut() {
                    for _ in 0..MAX_BATCH {
                        match rx.try_recv() {
                            Ok(event) => self.dispatch(Action::Traffic(event)),
                            Err(broadcast::error::TryRecvError::Lagged(n)) => {
                                self.dispatch(Action::TrafficMissed(n));
                            }
                            Err(_) => break,
                        }
                    }
                }
                Ok(Flow::Changed)
            }
            Got::Tick => {
                // Ticks come ten times a second; redraw only when one shows something new.
                let before = self.visible_on_tick();
                let stats = self.stats();
                self.dispatch(Action::Tick(stats));
                let fed = self.feed_analytics(stats.wall_ms);
                Ok(if !fed && self.visible_on_tick() == before {
                    Flow::Idle
                } else {
                    Flow::Changed
                })
            }
            Got::Deadline => Ok(Flow::Idle),
        }
    }

    /// What a tick can change on screen: counters, the rate and whether the status
    /// message still shows.
    fn visible_on_tick(&self) -> (i64, u64, u64, Option<BackendCounters>, String, bool) {
        let s = &self.app.stats;
        (
            s.open_streams,
            s.events_total,
            s.rejections,
            s.backend,
            format!("{:.1}", self.app.events_per_sec),
            self.app
                .status
                .as_ref()
                .is_some_and(|st| st.age < super::app::STATUS_TICKS),
        )
    }

    /// Once a wall-clock second, while a page shows analytics (or the Servers tab shows),
    /// reads the in-memory series (one short lock, no I/O) and hands them to the UI as
    /// [`Action::Analytics`]; while the Developer Portal or an API's Business Plans page
    /// (its subscriptions) shows, reads the quota gauges on a
    /// task, which sends [`Action::Quotas`]. Answers whether it fed analytics.
    pub fn feed_analytics(&mut self, wall_ms: i64) -> bool {
        let second = wall_ms.div_euclid(1000);
        if second == self.analytics_second {
            return false;
        }
        self.analytics_second = second;
        if self.app.tab == Tab::Portal
            || self.app.current_screen() == super::screens::ScreenId::ApiPlans
        {
            // Gauges read the persisted counters: a store read, so on a task.
            let control = self.control.clone();
            let tx = self.tx.clone();
            tokio::spawn(async move {
                match control.quota_gauges(wall_ms).await {
                    // The UI may be gone; nothing to tell then.
                    Ok(q) => drop(tx.send(Action::Quotas(q))),
                    Err(e) => tracing::warn!("quota gauges: {e}"),
                }
            });
        }
        let subject = self.app.analytics_subject();
        if subject.is_none() && self.app.tab != Tab::Servers {
            return false;
        }
        let series = self.telemetry.series();
        let feed = AnalyticsFeed {
            view: subject
                .as_ref()
                .map(|s| series.live(s, wall_ms))
                .unwrap_or_default(),
            gateway: series.live(&Subject::Gateway, wall_ms),
            subject,
            glyphs: self.app.analytics.glyphs,
            // Kept by `App`: the gauges come with their own action.
            quotas: Default::default(),
            process: None,
            nodes: self.control.nodes(),
        };
        if self.app.tab == Tab::Servers {
            self.sample_process();
        }
        self.dispatch(Action::Analytics(Box::new(feed)));
        true
    }

    /// Samples this process's CPU and memory with sysinfo on a blocking task (only this
    /// process, only CPU and memory) and sends [`Action::Process`].
    fn sample_process(&self) {
        let Ok(pid) = sysinfo::get_current_pid() else {
            return;
        };
        let Some(system) = self.system.clone() else {
            return;
        };
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let Ok(mut sys) = system.lock() else {
                return;
            };
            sys.refresh_processes_specifics(
                sysinfo::ProcessesToUpdate::Some(&[pid]),
                true,
                sysinfo::ProcessRefreshKind::nothing()
                    .with_cpu()
                    .with_memory(),
            );
            if let Some(p) = sys.process(pid) {
                // The UI may be gone; nothing to tell then.
                let _ = tx.send(Action::Process(ProcessStats {
                    cpu_percent: p.cpu_usage(),
                    memory_bytes: p.memory(),
                }));
            }
        });
    }

    /// Turns a terminal event into an action and applies it.
    pub fn on_terminal_event(&mut self, event: &Event) {
        if let Some(action) = keymap::on_event(&self.app, event) {
            self.dispatch(action);
        }
    }

    /// Applies an action and runs the commands it asks for.
    pub fn dispatch(&mut self, action: Action) {
        for command in self.app.update(action) {
            self.execute(command);
        }
    }

    /// A sender for actions (for tests and embedding).
    pub fn sender(&self) -> mpsc::UnboundedSender<Action> {
        self.tx.clone()
    }

    /// The counters for a tick.
    pub fn stats(&self) -> ServerStats {
        let m = self.telemetry.metrics();
        let backend = self
            .backend
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().map(|h| h.stats()))
            .map(|s| BackendCounters {
                open_streams: s.open_streams,
                events_sent: s.events_sent,
            });
        ServerStats {
            uptime_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            wall_ms: now_millis(),
            open_streams: m.open_streams.load(Ordering::Relaxed),
            events_total: m.events_total.load(Ordering::Relaxed),
            rejections: m.rejections().values().sum(),
            backend,
            quota_store: m.quota_store.up(),
        }
    }

    /// Ends Try-it streams and stops the memory backend.
    pub async fn shutdown(&mut self) {
        for (_, task) in self.streams.drain() {
            task.abort();
        }
        let handle = self.backend.lock().ok().and_then(|mut s| s.take());
        if let Some(h) = handle
            && tokio::time::timeout(STOP_TIMEOUT, h.stop()).await.is_err()
        {
            tracing::warn!("the memory backend did not stop within {STOP_TIMEOUT:?}");
        }
    }
}

/// One Try-it stream: GET through the gateway, parse SSE, report each network read's
/// events as one action.
/// How often a Try-it stream hands its events to the UI: about one frame.
const TRY_IT_FLUSH: std::time::Duration = std::time::Duration::from_millis(33);

async fn try_it(
    http: reqwest::Client,
    stream_id: u64,
    url: String,
    token: Option<String>,
    tx: mpsc::UnboundedSender<Action>,
) {
    // Each send may fail only when the UI is gone, and then nobody needs the news.
    let send = |u: StreamUpdate| {
        let _ = tx.send(Action::Stream(u));
    };
    let mut request = http.get(&url).header("Accept", "text/event-stream");
    if let Some(token) = &token {
        request = request.bearer_auth(token);
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            send(StreamUpdate::Ended {
                stream_id,
                reason: format!("cannot reach the gateway: {e}"),
            });
            return;
        }
    };
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let body: String = body.trim().chars().take(MAX_ERROR_BODY).collect();
        send(StreamUpdate::Rejected {
            stream_id,
            status: status.as_u16(),
            body,
        });
        return;
    }
    send(StreamUpdate::Opened { stream_id });
    let mut parser = sse::Parser::new();
    let mut body = response.bytes_stream();
    // Items go to the UI at most once a frame, not once an event: at 1,000 events/s
    // that is 30 actions a second instead of 1,000.
    let mut flush = tokio::time::interval(TRY_IT_FLUSH);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut items: Vec<StreamItem> = Vec::new();
    let reason = loop {
        tokio::select! {
            chunk = body.next() => match chunk {
                Some(Ok(chunk)) => {
                    items.extend(parser.push_items(&chunk).into_iter().map(|item| match item {
                        sse::Item::Event(e) => StreamItem::Event {
                            id: e.id,
                            data: e.data,
                        },
                        sse::Item::Comment(c) => StreamItem::Comment(c),
                    }));
                }
                Some(Err(e)) => break format!("read failed: {e}"),
                None => break "the server ended the stream".to_string(),
            },
            _ = flush.tick() => {
                if !items.is_empty() {
                    send(StreamUpdate::Items {
                        stream_id,
                        at: now_millis(),
                        items: std::mem::take(&mut items),
                    });
                }
            }
        }
    };
    if !items.is_empty() {
        send(StreamUpdate::Items {
            stream_id,
            at: now_millis(),
            items,
        });
    }
    send(StreamUpdate::Ended { stream_id, reason });
}

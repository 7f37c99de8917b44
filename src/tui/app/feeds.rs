//! The live pane's feeds: the gateway's traffic events and the Try-it streams, turned
//! into live lines and stream bookkeeping on [`App`].

use super::*;

impl App {
    pub(super) fn on_traffic(&mut self, event: TrafficEvent) {
        let line = match event {
            TrafficEvent::Opened {
                stream_id,
                api,
                application,
                key_type,
                path,
                client,
                at,
            } => {
                let who = if application.is_empty() {
                    "no token".to_string()
                } else {
                    format!("app {application}, {key_type}")
                };
                let text = format!("opened #{stream_id} {path} ({api}; {who}) from {client}");
                self.session.gateway_streams.insert(stream_id, api);
                LiveLine::new(at, LineKind::Opened, "gateway", text)
            }
            TrafficEvent::Rejected {
                path,
                status,
                code,
                message,
                client,
                at,
            } => LiveLine::new(
                at,
                LineKind::Rejected,
                "gateway",
                format!("rejected {status} {code} {message}: {path} from {client}"),
            ),
            TrafficEvent::Closed {
                stream_id,
                events,
                reason,
                at,
            } => {
                let api = self.session.gateway_streams.remove(&stream_id);
                if let Some(api) = &api {
                    *self.session.events_by_api.entry(api.clone()).or_default() += events;
                }
                LiveLine::new(
                    at,
                    LineKind::Closed,
                    "gateway",
                    format!(
                        "closed #{stream_id}{} after {events} events: {reason}",
                        api.map(|a| format!(" ({a})")).unwrap_or_default()
                    ),
                )
            }
        };
        self.live.push(line);
    }

    pub(super) fn on_stream(&mut self, update: StreamUpdate) {
        let source = |id: u64| format!("try-it #{id}");
        match update {
            StreamUpdate::Opened { stream_id } => {
                if let Some(s) = self.session.streams.get_mut(&stream_id) {
                    s.state = StreamState::Open;
                    let text = format!("stream open: {} with {}'s token", s.api, s.app);
                    let line =
                        LiveLine::new(self.clock_ms(), LineKind::Opened, source(stream_id), text);
                    self.live.push(line);
                }
            }
            StreamUpdate::Rejected {
                stream_id,
                status,
                body,
            } => {
                let text = format!("refused {status}: {body}");
                if let Some(s) = self.session.streams.get_mut(&stream_id) {
                    s.state = StreamState::Ended(text.clone());
                }
                let line = LiveLine::new(
                    self.clock_ms(),
                    LineKind::Rejected,
                    source(stream_id),
                    text.clone(),
                );
                self.live.push(line);
                self.error(format!("Try it #{stream_id}: {text}"));
            }
            StreamUpdate::Items {
                stream_id,
                at,
                items,
            } => {
                let mut events = 0;
                for item in items {
                    let line = match item {
                        StreamItem::Event { id, data } => {
                            events += 1;
                            let text = match id {
                                Some(id) => format!("id:{id} data:{data}"),
                                None => format!("data:{data}"),
                            };
                            // Kept, not parsed: read once per batch below.
                            self.live.chart.record(at, data);
                            LiveLine::new(at, LineKind::Event, source(stream_id), text)
                        }
                        StreamItem::Comment(text) => LiveLine::new(
                            at,
                            LineKind::Comment,
                            source(stream_id),
                            format!(": {text}"),
                        ),
                    };
                    self.live.push(line);
                }
                self.live.chart.settle();
                if let Some(s) = self.session.streams.get_mut(&stream_id) {
                    s.events += events;
                    *self.session.events_by_api.entry(s.api.clone()).or_default() += events;
                }
            }
            StreamUpdate::Ended { stream_id, reason } => {
                let mut events = 0;
                if let Some(s) = self.session.streams.get_mut(&stream_id) {
                    if !s.is_live() {
                        return;
                    }
                    events = s.events;
                    s.state = StreamState::Ended(reason.clone());
                }
                let line = LiveLine::new(
                    self.clock_ms(),
                    LineKind::Closed,
                    source(stream_id),
                    format!("stream ended after {events} events: {reason}"),
                );
                self.live.push(line);
            }
        }
    }

    /// Starts a Try-it stream; returns the command that opens it.
    pub(super) fn open_stream(
        &mut self,
        api: &Api,
        app_name: &str,
        token: Option<String>,
    ) -> Vec<Command> {
        let Ok(gateway) = &self.config.gateway else {
            self.error("the gateway is not running, so there is nothing to try");
            return Vec::new();
        };
        let stream_id = self.session.next_stream_id;
        self.session.next_stream_id += 1;
        let url = format!(
            "http://{}{}{}",
            connect_addr(*gateway),
            api.base_path(),
            api.try_resource()
        );
        self.session.streams.insert(
            stream_id,
            TryStream {
                api: api.handle(),
                app: app_name.to_string(),
                state: StreamState::Opening,
                events: 0,
            },
        );
        self.log(LineKind::Info, format!("try-it #{stream_id}: GET {url}"));
        self.set_status(
            Level::Info,
            format!(
                "Try it #{stream_id}: events stream into the live pane (Tab to scroll, s stops)"
            ),
        );
        vec![Command::OpenStream {
            stream_id,
            url,
            token,
        }]
    }

    /// Stops every live Try-it stream of an API.
    pub(super) fn stop_streams(&mut self, api_handle: &str) -> Vec<Command> {
        let ids: Vec<u64> = self
            .session
            .streams
            .iter()
            .filter(|(_, s)| s.is_live() && s.api == api_handle)
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            self.set_status(Level::Info, "no Try-it stream is open for this API");
        }
        let mut out = Vec::new();
        for id in ids {
            self.on_stream(StreamUpdate::Ended {
                stream_id: id,
                reason: "stopped by you".to_string(),
            });
            out.push(Command::CloseStream { stream_id: id });
        }
        out
    }
}

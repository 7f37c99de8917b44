//! Cutting a shared backend stream into whole events for the hub's ring.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::sse::{EventCounter, Item, Parser};

/// Cuts a backend stream into complete events (each with the comments and fields before
/// it) and tracks the last event id and `retry:`.
pub(super) struct Splitter {
    counter: EventCounter,
    parser: Parser,
    items: Vec<Item>,
    partial: BytesMut,
    last_id: Arc<str>,
}

impl Splitter {
    pub(super) fn new() -> Self {
        Self {
            counter: EventCounter::new(),
            parser: Parser::new(),
            items: Vec::new(),
            partial: BytesMut::new(),
            last_id: Arc::from(""),
        }
    }

    /// Starts over for a new connection, keeping the last id and `retry:`.
    pub(super) fn restart(&mut self) {
        self.counter = EventCounter::new();
        self.partial.clear();
        let retry = self.parser.retry();
        let id = self.last_id.to_string();
        self.parser = Parser::new();
        // Carry the last id and retry over (a fresh parser would forget them).
        let mut seed = String::new();
        if !id.is_empty() {
            seed.push_str("id: ");
            seed.push_str(&id);
            seed.push('\n');
        }
        if let Some(r) = retry {
            seed.push_str(&format!("retry: {r}\n"));
        }
        seed.push('\n');
        self.parser.feed(seed.as_bytes(), &mut self.items);
        self.items.clear();
    }

    pub(super) fn last_id(&self) -> &str {
        &self.last_id
    }

    pub(super) fn retry(&self) -> Option<u64> {
        self.parser.retry()
    }

    pub(super) fn at_boundary(&self) -> bool {
        self.partial.is_empty() || self.counter.at_event_boundary()
    }

    /// Appends the events `chunk` completes to `out`; an error when an event grows past
    /// `max_event` bytes (it could never be queued).
    pub(super) fn split(
        &mut self,
        chunk: Bytes,
        out: &mut Vec<(Bytes, Arc<str>)>,
        max_event: usize,
    ) -> Result<(), String> {
        let mut start = 0;
        while let Some(end) = self.counter.next_dispatch(&chunk, start) {
            let piece = &chunk[start..end];
            // Events get buffers of their own (in 16 KiB blocks), so a held event never
            // pins the backend connection's read buffer.
            if self.partial.capacity() - self.partial.len() < piece.len() {
                self.partial.reserve(piece.len().max(16 * 1024));
            }
            self.partial.extend_from_slice(piece);
            let bytes = self.partial.split().freeze();
            // The parser sees every byte once, in order (so `retry:` counts at once).
            self.parser.feed(piece, &mut self.items);
            self.items.clear();
            if *self.last_id != *self.parser.last_event_id() {
                self.last_id = Arc::from(self.parser.last_event_id());
            }
            out.push((bytes, self.last_id.clone()));
            start = end;
        }
        let rest = &chunk[start..];
        if !rest.is_empty() {
            if self.partial.len() + rest.len() > max_event {
                return Err(format!(
                    "the backend sent an event larger than {max_event} bytes"
                ));
            }
            self.partial.extend_from_slice(rest);
            self.parser.feed(rest, &mut self.items);
            self.items.clear();
        }
        Ok(())
    }
}

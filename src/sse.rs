//! Incremental Server-Sent Events (`text/event-stream`) parsing and writing.
//!
//! This module implements the stream interpretation rules of the WHATWG HTML
//! specification ("Server-sent events", section 9.2.6) for three audiences:
//!
//! * [`EventCounter`] — the gateway's hot-path metering scanner. It keeps a few
//!   bytes of line state, never allocates and never copies payload bytes. It
//!   reports the byte offset at which each *dispatched* event ends, so the
//!   gateway can forward exactly up to the end of the N-th event and stop
//!   (quota enforcement with zero overshoot).
//! * [`Parser`] — a full incremental parser for clients (tests, the benchmark
//!   client, the terminal UI) producing [`Event`]s and comment [`Item`]s.
//! * [`comment`] and [`event_bytes`] — small helpers for writing well-formed
//!   event-stream output.
//!
//! Both parsers accept input in arbitrary chunks: a line, a multi-byte UTF-8
//! character, the byte order mark or a CRLF pair may be split anywhere between
//! two chunks and the result is the same as if the whole stream had been fed at
//! once (except for the one documented offset rule of
//! [`EventCounter::next_dispatch`] for a CRLF split between chunks).
//!
//! Stream rules implemented (identically by both parsers):
//!
//! * Lines end in LF, CRLF or a lone CR. A CR at the end of one chunk followed
//!   by an LF at the start of the next is a single line end.
//! * One leading UTF-8 byte order mark (`EF BB BF`) at the start of the stream
//!   is ignored.
//! * A line starting with `:` is a comment. Other lines are `name: value`
//!   fields; a single space after the first colon is removed and a line
//!   without a colon is a field with an empty value.
//! * `data` appends to the data buffer (several data lines are joined by LF),
//!   `event` sets the event type, `id` sets the last event ID unless the value
//!   contains NUL, `retry` sets the reconnection time if the value consists of
//!   ASCII digits only. Unknown fields are ignored.
//! * A blank line dispatches the event, unless no `data` line was seen since
//!   the previous blank line; then the buffers are reset and nothing is
//!   dispatched.
//! * An event that is not terminated by a blank line at the end of the stream
//!   is never dispatched.

use std::mem;

use bytes::Bytes;

/// The UTF-8 encoding of U+FEFF BYTE ORDER MARK.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The only field name that [`EventCounter`] needs to recognise.
const DATA: &[u8; 4] = b"data";

/// Progress of byte order mark detection at the start of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum BomState {
    /// Still at the start of the stream; this many BOM bytes matched so far.
    #[default]
    Start,
    /// Matched one BOM byte (`EF`).
    One,
    /// Matched two BOM bytes (`EF BB`).
    Two,
    /// BOM detection is over (a BOM was skipped or the stream had none).
    Done,
}

impl BomState {
    /// Number of BOM bytes matched (and held back) so far.
    const fn matched(self) -> usize {
        match self {
            Self::Start | Self::Done => 0,
            Self::One => 1,
            Self::Two => 2,
        }
    }

    /// Advances BOM detection over `chunk[from..]`.
    ///
    /// Returns the index of the first byte that is stream content, and the
    /// number of previously held-back BOM prefix bytes that turned out not to
    /// be a BOM and therefore belong to the first line (`0` if none). While
    /// the state is still undecided at the end of the chunk, the returned
    /// index equals `chunk.len()`.
    fn advance(&mut self, chunk: &[u8], from: usize) -> (usize, usize) {
        let mut i = from;
        while let Some(&byte) = chunk.get(i) {
            let matched = self.matched();
            if BOM.get(matched) != Some(&byte) {
                *self = Self::Done;
                return (i, matched);
            }
            i += 1;
            *self = match self {
                Self::Start => Self::One,
                Self::One => Self::Two,
                Self::Two | Self::Done => Self::Done,
            };
            if *self == Self::Done {
                return (i, 0);
            }
        }
        (i, 0)
    }
}

/// Finds the first CR or LF in `hay` (`memchr2`: SIMD where the CPU has it).
fn find_eol(hay: &[u8]) -> Option<usize> {
    memchr::memchr2(b'\n', b'\r', hay)
}

/// Whether a complete line (without its terminator) is a `data` field line: its name is
/// exactly `data`, followed by `:` or by the end of the line.
fn is_data_line(line: &[u8]) -> bool {
    line.starts_with(DATA) && line.get(DATA.len()).is_none_or(|&b| b == b':')
}

/// Consumes the line terminator at `chunk[eol]` (which must be CR or LF).
///
/// Returns the index just past it: past the LF of a CRLF pair if both are in
/// the chunk, otherwise just past the single byte. The second value is `true`
/// if the chunk ends right after a CR, in which case an LF at the start of the
/// next chunk belongs to this line end and must be skipped.
fn consume_eol(chunk: &[u8], eol: usize) -> (usize, bool) {
    let next = eol + 1;
    if chunk.get(eol) != Some(&b'\r') {
        return (next, false);
    }
    match chunk.get(next) {
        Some(b'\n') => (next + 1, false),
        Some(_) => (next, false),
        None => (next, true),
    }
}

/// Removes a single leading space, as the spec does for field values.
fn strip_one_space(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

/// Parses a `retry` value: ASCII digits only (at least one). Values that do
/// not fit in a `u64` are ignored like any other invalid value.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |ms, &digit| {
        ms.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

/// What [`EventCounter`] knows about the line it is currently inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum LineKind {
    /// No byte of the current line has been seen yet.
    #[default]
    Start,
    /// The line so far is this many bytes (1 to 4) of `data`.
    DataPrefix(u8),
    /// A `data` field line (`data:` seen).
    Data,
    /// A comment line (starts with `:`).
    Comment,
    /// Any other field line.
    Field,
}

/// Allocation-free scanner that finds where dispatched events end.
///
/// The counter tracks only line state (a handful of bytes), so it can meter a
/// stream of any size without buffering or copying it. An event is counted
/// exactly when the spec would dispatch it: at a blank line, if at least one
/// `data` field line was seen since the previous blank line. Comment lines
/// (`: heartbeat`) and blocks without data (`id: 7` + blank line) are never
/// counted.
///
/// Typical quota enforcement, forwarding exactly `quota` events:
///
/// ```
/// use streamgate::sse::EventCounter;
///
/// let mut counter = EventCounter::new();
/// let chunk = b"data: a\n\n: ping\n\ndata: b\r\n\r\ndata: c\n\n";
/// let (quota, mut count, mut pos) = (2, 0, 0);
/// let mut forward = &chunk[..];
/// while let Some(end) = counter.next_dispatch(chunk, pos) {
///     count += 1;
///     pos = end;
///     if count == quota {
///         forward = &chunk[..end];
///         break;
///     }
/// }
/// assert_eq!(forward, b"data: a\n\n: ping\n\ndata: b\r\n\r\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventCounter {
    /// Byte order mark detection at the start of the stream.
    bom: BomState,
    /// Classification of the current (possibly incomplete) line.
    line: LineKind,
    /// A `data` line was seen since the last blank line.
    has_data: bool,
    /// A non-comment field line was seen since the last blank line.
    has_fields: bool,
    /// The previous chunk ended with CR: an LF at the start of the next chunk
    /// completes that line end.
    skip_lf: bool,
}

impl EventCounter {
    /// Creates a counter positioned at the start of a stream.
    pub const fn new() -> Self {
        Self {
            bom: BomState::Start,
            line: LineKind::Start,
            has_data: false,
            has_fields: false,
            skip_lf: false,
        }
    }

    /// Scans `chunk[from..]` for the next blank line that dispatches an event.
    ///
    /// Returns the offset in `chunk` (not relative to `from`) just past the
    /// line terminator of the dispatching blank line, or `None` if the chunk
    /// ended first; all line state is kept for the next call.
    ///
    /// Offsets at chunk boundaries:
    ///
    /// * For an LF or a CRLF terminator inside the chunk, the offset is just
    ///   past the LF.
    /// * For a lone CR the offset is just past the CR. If the CR is the last
    ///   byte of the chunk, the offset is `chunk.len()`: the event is already
    ///   complete, and an LF at the start of the next chunk is swallowed as the
    ///   second half of the same CRLF line end (it is not another blank line).
    ///   Forwarding `chunk[..offset]` therefore always yields a stream prefix
    ///   in which the event is complete for any conforming client.
    ///
    /// Call it with `from = 0` for each new chunk and, after `Some(end)`,
    /// again with `from = end` on the same chunk. Every byte of the stream
    /// must be scanned exactly once and in order; a `from` beyond the chunk
    /// returns `None` without changing state.
    pub fn next_dispatch(&mut self, chunk: &[u8], from: usize) -> Option<usize> {
        let len = chunk.len();
        let mut i = from;
        if i >= len {
            return None;
        }
        if self.bom != BomState::Done {
            let (next, held) = self.bom.advance(chunk, i);
            if held > 0 {
                // The held-back bytes were not a BOM: they start a line whose
                // name is neither `data` nor a comment.
                self.line = LineKind::Field;
            }
            i = next;
        }
        if self.skip_lf && i < len {
            self.skip_lf = false;
            if chunk[i] == b'\n' {
                i += 1;
            }
        }
        while let Some(&byte) = chunk.get(i) {
            if self.line == LineKind::Start
                && let Some(p) = find_eol(chunk.get(i..).unwrap_or_default())
            {
                // Fast path: the whole line is in this chunk, so it is classified at once
                // from its first bytes (the byte-wise states below are for a line split
                // across chunks).
                let line = chunk.get(i..i + p).unwrap_or_default();
                self.line = if line.is_empty() {
                    LineKind::Start
                } else if is_data_line(line) {
                    LineKind::Data
                } else if byte == b':' {
                    LineKind::Comment
                } else {
                    LineKind::Field
                };
                if let Some(end) = self.end_line(chunk, i + p, &mut i) {
                    return Some(end);
                }
                continue;
            }
            match self.line {
                LineKind::Data | LineKind::Comment | LineKind::Field => {
                    let p = find_eol(&chunk[i..])?;
                    if let Some(end) = self.end_line(chunk, i + p, &mut i) {
                        return Some(end);
                    }
                }
                LineKind::Start => {
                    self.line = match byte {
                        b'\n' | b'\r' => {
                            if let Some(end) = self.end_line(chunk, i, &mut i) {
                                return Some(end);
                            }
                            continue;
                        }
                        b':' => LineKind::Comment,
                        // Fast path: the whole field name is in this chunk.
                        b'd' if chunk[i..].starts_with(DATA) => {
                            self.line = LineKind::DataPrefix(4);
                            i += DATA.len();
                            continue;
                        }
                        b'd' => LineKind::DataPrefix(1),
                        _ => LineKind::Field,
                    };
                    i += 1;
                }
                LineKind::DataPrefix(n) => {
                    self.line = match byte {
                        b'\n' | b'\r' => {
                            if let Some(end) = self.end_line(chunk, i, &mut i) {
                                return Some(end);
                            }
                            continue;
                        }
                        b':' if n == 4 => LineKind::Data,
                        _ if DATA.get(usize::from(n)) == Some(&byte) => LineKind::DataPrefix(n + 1),
                        _ => LineKind::Field,
                    };
                    i += 1;
                }
            }
        }
        None
    }

    /// Ends the current line at the terminator `chunk[eol]`, advancing `*pos`
    /// past the terminator. Returns `Some(*pos)` if the line dispatched an
    /// event.
    fn end_line(&mut self, chunk: &[u8], eol: usize, pos: &mut usize) -> Option<usize> {
        let dispatch = match self.line {
            LineKind::Start => {
                let dispatch = self.has_data;
                self.has_data = false;
                self.has_fields = false;
                dispatch
            }
            LineKind::Data | LineKind::DataPrefix(4) => {
                self.has_data = true;
                self.has_fields = true;
                false
            }
            LineKind::Field | LineKind::DataPrefix(_) => {
                self.has_fields = true;
                false
            }
            LineKind::Comment => false,
        };
        self.line = LineKind::Start;
        let (next, skip_lf) = consume_eol(chunk, eol);
        self.skip_lf = skip_lf;
        *pos = next;
        dispatch.then_some(next)
    }

    /// Scans a whole chunk and calls `on_dispatch` with the offset at which each event
    /// dispatched in it ends, in order.
    ///
    /// The offsets, and the state left for the next chunk, are exactly those of calling
    /// [`next_dispatch`](Self::next_dispatch) from `0` until it returns `None`; only the
    /// cost differs. Lines that end in LF are classified in one pass over the chunk's line
    /// ends (`memchr2_iter`), without the per-line state of the byte-wise scan; from the
    /// first CR of a chunk on (CRLF or CR line ends), and for the byte order mark at the
    /// start of a stream, the byte-wise scan takes over.
    pub fn for_each_dispatch(&mut self, chunk: &[u8], mut on_dispatch: impl FnMut(usize)) {
        let mut pos = if self.bom == BomState::Done {
            self.dispatch_lf_lines(chunk, &mut on_dispatch)
        } else {
            0
        };
        // The rest: the line the chunk ends inside, or everything from a CR on.
        while let Some(end) = self.next_dispatch(chunk, pos) {
            on_dispatch(end);
            pos = end;
        }
    }

    /// The LF fast path of [`for_each_dispatch`](Self::for_each_dispatch): handles the
    /// chunk's lines up to its last LF or its first CR, and returns the offset from which
    /// the byte-wise scan must go on (`0` when it handled nothing).
    fn dispatch_lf_lines(&mut self, chunk: &[u8], on_dispatch: &mut impl FnMut(usize)) -> usize {
        let mut start = 0;
        if self.skip_lf || self.line != LineKind::Start {
            // Finish the line the previous chunk left open the byte-wise way, if it ends
            // in LF here (a CR could pair with an LF beyond the end of a sub-slice).
            let Some(eol) = find_eol(chunk).filter(|&eol| chunk.get(eol) == Some(&b'\n')) else {
                return 0;
            };
            let head = chunk.get(..=eol).unwrap_or_default();
            while let Some(end) = self.next_dispatch(head, start) {
                on_dispatch(end);
                start = end;
            }
            start = eol + 1;
        }
        // At a line start: each complete line from here is classified at once.
        let base = start;
        let rest = chunk.get(base..).unwrap_or_default();
        for eol in memchr::memchr2_iter(b'\n', b'\r', rest) {
            if rest.get(eol) != Some(&b'\n') {
                break;
            }
            let line = chunk.get(start..base + eol).unwrap_or_default();
            match line.first() {
                None => {
                    if self.has_data {
                        on_dispatch(base + eol + 1);
                    }
                    self.has_data = false;
                    self.has_fields = false;
                }
                Some(b':') => {}
                Some(_) => {
                    self.has_fields = true;
                    self.has_data |= is_data_line(line);
                }
            }
            start = base + eol + 1;
        }
        start
    }

    /// Scans a whole chunk and returns how many events were dispatched in it.
    pub fn count_events(&mut self, chunk: &[u8]) -> usize {
        let mut count = 0;
        self.for_each_dispatch(chunk, |_| count += 1);
        count
    }

    /// Returns `true` if the stream scanned so far ends between events.
    ///
    /// That is: at the start of a line, with no field line (`data`, `event`,
    /// `id`, `retry` or unknown) pending since the last blank line. Only then
    /// may a writer inject a blank-line-terminated block such as
    /// [`comment`] (for example a heartbeat) without altering the upstream
    /// events: a blank line in the middle of an event would dispatch or
    /// reset it. Pending comment lines do not matter.
    ///
    /// After a chunk ending in CR this returns `true` even though an LF may
    /// follow in the next chunk; a client then just sees an extra blank line
    /// after the injected block, which has no effect.
    pub fn at_event_boundary(&self) -> bool {
        self.line == LineKind::Start
            && !self.has_fields
            && matches!(self.bom, BomState::Start | BomState::Done)
    }
}

/// A dispatched event.
///
/// `id` and `retry` describe the fields present in this event's block; the
/// spec's persistent "last event ID" is available from
/// [`Parser::last_event_id`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// Value of the last valid `id` field in this event's block, if any (may
    /// be empty: `id:` resets the last event ID). Ids containing NUL are
    /// ignored.
    pub id: Option<String>,
    /// Event type from the last `event` field, or `None` if absent or empty
    /// (which clients treat as `message`).
    pub event: Option<String>,
    /// The `data` field values joined by LF.
    pub data: String,
    /// Value of the last valid `retry` field in this event's block, in
    /// milliseconds.
    pub retry: Option<u64>,
}

/// One item produced by [`Parser`], in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A dispatched event.
    Event(Event),
    /// A comment line: the text after the `:`, with a single leading space
    /// removed (`": quota exhausted"` yields `"quota exhausted"`).
    Comment(String),
}

/// Incremental parser producing complete events and comments.
///
/// Feed chunks of any size with [`Parser::feed`], [`Parser::push`] or
/// [`Parser::push_items`]. Invalid UTF-8 is replaced by U+FFFD (per line, which
/// equals decoding the whole stream); the parser never panics on input.
///
/// The parser buffers at most one incomplete line between chunks.
///
/// ```
/// use streamgate::sse::{Event, Parser};
///
/// let mut parser = Parser::new();
/// assert!(parser.push(b"id: 1\ndata: hel").is_empty());
/// let events = parser.push(b"lo\ndata: world\n\n");
/// assert_eq!(
///     events,
///     [Event { id: Some("1".into()), event: None, data: "hello\nworld".into(), retry: None }]
/// );
/// assert_eq!(parser.last_event_id(), "1");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Parser {
    /// Byte order mark detection at the start of the stream.
    bom: BomState,
    /// Bytes of the current line carried over from previous chunks.
    line: Vec<u8>,
    /// The previous chunk ended with CR.
    skip_lf: bool,
    /// Data buffer (without the spec's trailing LF).
    data: String,
    /// A `data` line was seen since the last blank line.
    has_data: bool,
    /// Event type buffer.
    event_type: String,
    /// Last valid `id` field of the current block.
    block_id: Option<String>,
    /// Last valid `retry` field of the current block.
    block_retry: Option<u64>,
    /// The spec's "last event ID buffer" (persists across events).
    id_buffer: String,
    /// The spec's "last event ID string", updated at every blank line.
    last_event_id: String,
    /// Latest reconnection time set by a `retry` field.
    retry: Option<u64>,
}

impl Parser {
    /// Creates a parser positioned at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `chunk` and appends every completed event and comment to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Item>) {
        let len = chunk.len();
        let mut i = 0;
        if self.bom != BomState::Done {
            let (next, held) = self.bom.advance(chunk, 0);
            self.line.extend_from_slice(&BOM[..held]);
            i = next;
        }
        if self.skip_lf && i < len {
            self.skip_lf = false;
            if chunk[i] == b'\n' {
                i += 1;
            }
        }
        while i < len {
            let rest = &chunk[i..];
            let Some(p) = find_eol(rest) else {
                self.line.extend_from_slice(rest);
                return;
            };
            let eol = i + p;
            if self.line.is_empty() {
                self.process_line(&chunk[i..eol], out);
            } else {
                self.line.extend_from_slice(&chunk[i..eol]);
                let mut line = mem::take(&mut self.line);
                self.process_line(&line, out);
                line.clear();
                self.line = line;
            }
            let (next, skip_lf) = consume_eol(chunk, eol);
            self.skip_lf = skip_lf;
            i = next;
        }
    }

    /// Parses `chunk` and returns the events it completed (comments are
    /// dropped; use [`Parser::push_items`] to see them).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut items = Vec::new();
        self.feed(chunk, &mut items);
        items
            .into_iter()
            .filter_map(|item| match item {
                Item::Event(event) => Some(event),
                Item::Comment(_) => None,
            })
            .collect()
    }

    /// Parses `chunk` and returns the events and comments it completed.
    pub fn push_items(&mut self, chunk: &[u8]) -> Vec<Item> {
        let mut items = Vec::new();
        self.feed(chunk, &mut items);
        items
    }

    /// The spec's "last event ID string": the value of the most recent valid
    /// `id` field that was followed by a blank line (whether or not an event
    /// was dispatched). Persists across events; empty initially. This is what
    /// a client sends as `Last-Event-ID` when reconnecting.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The most recent reconnection time in milliseconds set by a valid
    /// `retry` field (applied immediately, even without a dispatch).
    pub const fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Handles one complete line (without its terminator).
    fn process_line(&mut self, line: &[u8], out: &mut Vec<Item>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if let Some(text) = line.strip_prefix(b":") {
            let text = String::from_utf8_lossy(strip_one_space(text)).into_owned();
            out.push(Item::Comment(text));
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => (&line[..colon], strip_one_space(&line[colon + 1..])),
            None => (line, &[][..]),
        };
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.has_data = true;
                self.data.push_str(&String::from_utf8_lossy(value));
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&String::from_utf8_lossy(value));
            }
            // An id containing NUL is ignored.
            b"id" if !value.contains(&0) => {
                let id = String::from_utf8_lossy(value).into_owned();
                self.id_buffer.clone_from(&id);
                self.block_id = Some(id);
            }
            b"retry" => {
                let ms = parse_retry(value);
                if ms.is_some() {
                    self.retry = ms;
                    self.block_retry = ms;
                }
            }
            _ => {}
        }
    }

    /// Handles a blank line: dispatches the pending event, if it has data.
    fn dispatch(&mut self, out: &mut Vec<Item>) {
        if self.last_event_id != self.id_buffer {
            self.last_event_id.clone_from(&self.id_buffer);
        }
        let block_id = self.block_id.take();
        let block_retry = self.block_retry.take();
        if !mem::take(&mut self.has_data) {
            self.event_type.clear();
            return;
        }
        let event_type = mem::take(&mut self.event_type);
        out.push(Item::Event(Event {
            id: block_id,
            event: (!event_type.is_empty()).then_some(event_type),
            data: mem::take(&mut self.data),
            retry: block_retry,
        }));
    }
}

/// Splits `text` at every CRLF, CR or LF (an empty text yields one empty line;
/// a trailing line end yields a trailing empty line).
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(p) => {
                let skip = if current[p..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[p + skip..]);
                Some(&current[..p])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Encodes a comment block: `": text\n\n"` (just `":\n\n"` for empty text).
///
/// Line breaks (CRLF, CR, LF) in `text` are replaced by a single space so the
/// result is always one comment line followed by a blank line. The blank line
/// makes the block self-contained, so it must only be written at an event
/// boundary (see [`EventCounter::at_event_boundary`]).
pub fn comment(text: &str) -> Bytes {
    let mut out = String::with_capacity(text.len() + 4);
    out.push(':');
    if !text.is_empty() {
        out.push(' ');
        for (k, line) in split_lines(text).enumerate() {
            if k > 0 {
                out.push(' ');
            }
            out.push_str(line);
        }
    }
    out.push_str("\n\n");
    Bytes::from(out)
}

/// Encodes an event: an optional `id` line, one `data` line per line of
/// `data`, and the terminating blank line.
///
/// `data` is split at CRLF, CR and LF; a client joins the lines with LF, so the
/// data round-trips exactly when it contains no CR. CR and LF characters are
/// removed from `id` (an id containing NUL is still written, and clients
/// ignore it).
///
/// ```
/// assert_eq!(
///     streamgate::sse::event_bytes(Some("7"), "a\nb"),
///     "id: 7\ndata: a\ndata: b\n\n"
/// );
/// ```
pub fn event_bytes(id: Option<&str>, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 16);
    if let Some(id) = id {
        out.push_str("id: ");
        out.extend(id.chars().filter(|&c| c != '\r' && c != '\n'));
        out.push('\n');
    }
    for line in split_lines(data) {
        if line.is_empty() {
            out.push_str("data:\n");
        } else {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;

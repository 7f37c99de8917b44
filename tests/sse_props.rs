//! Property tests for `streamgate::sse`: random event streams serialized with
//! random line endings and split at random chunk boundaries, plus arbitrary
//! byte soup.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::sample::Index;
use streamgate::sse::{Event, EventCounter, Item, Parser};

/// One line of a generated stream, before serialization.
#[derive(Debug, Clone)]
enum Line {
    Data(String),
    Id(String),
    EventType(String),
    Retry(u64),
    Comment(String),
    /// A field the parser must ignore.
    Unknown(&'static str, String),
}

/// A block of lines; every block except `Comments` ends with a blank line.
#[derive(Debug, Clone)]
enum Block {
    /// A block with at least one data line: dispatched as an event.
    Event(Vec<Line>),
    /// A block without data lines: a blank line that dispatches nothing.
    NoData(Vec<Line>),
    /// Comment lines between blocks (no blank line).
    Comments(Vec<String>),
}

/// Generated stream description.
#[derive(Debug, Clone)]
struct Stream {
    bom: bool,
    blocks: Vec<Block>,
    /// Per-line serialization styles and line endings, used cyclically.
    styles: Vec<(u8, u8)>,
    /// An unterminated (or blank-line-less) event at the end of the stream.
    trailing: Option<(String, bool)>,
}

/// The serialized stream together with everything a correct parser must see.
#[derive(Debug)]
struct Expected {
    bytes: Vec<u8>,
    items: Vec<Item>,
    /// Absolute offset just past each dispatching blank line's terminator.
    ends: Vec<usize>,
    last_event_id: String,
    retry: Option<u64>,
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 :é€😀\u{0}]{0,10}"
}

fn non_data_line() -> impl Strategy<Value = Line> {
    prop_oneof![
        text().prop_map(Line::Id),
        "[a-z ]{0,6}".prop_map(Line::EventType),
        any::<u64>().prop_map(Line::Retry),
        text().prop_map(Line::Comment),
        (
            prop::sample::select(vec!["foo", "dat", "datax", "Data", "ids", "retr", "eventy"]),
            text()
        )
            .prop_map(|(name, value)| Line::Unknown(name, value)),
    ]
}

fn block() -> impl Strategy<Value = Block> {
    prop_oneof![
        4 => (
            prop::collection::vec(text(), 1..4),
            prop::collection::vec((any::<Index>(), non_data_line()), 0..4),
        )
            .prop_map(|(data, extras)| {
                let mut lines: Vec<Line> = data.into_iter().map(Line::Data).collect();
                for (at, line) in extras {
                    let at = at.index(lines.len() + 1);
                    lines.insert(at, line);
                }
                Block::Event(lines)
            }),
        1 => prop::collection::vec(non_data_line(), 0..3).prop_map(Block::NoData),
        1 => prop::collection::vec(text(), 1..3).prop_map(Block::Comments),
    ]
}

fn stream() -> impl Strategy<Value = Stream> {
    (
        any::<bool>(),
        prop::collection::vec(block(), 0..8),
        prop::collection::vec((any::<u8>(), 0u8..3), 1..16),
        proptest::option::of((text(), any::<bool>())),
    )
        .prop_map(|(bom, blocks, styles, trailing)| Stream {
            bom,
            blocks,
            styles,
            trailing,
        })
}

/// Serializes a field with one of three equivalent spellings.
fn field(name: &str, value: &str, style: u8) -> String {
    match style % 3 {
        1 if !value.starts_with(' ') => format!("{name}:{value}"),
        2 if value.is_empty() => name.to_owned(),
        _ => format!("{name}: {value}"),
    }
}

/// Serializes a comment with or without the optional space.
fn comment_line(text: &str, style: u8) -> String {
    if style % 2 == 1 && !text.starts_with(' ') {
        format!(":{text}")
    } else {
        format!(": {text}")
    }
}

/// Serializes lines with cyclic styles and line endings.
struct Writer<'a> {
    styles: &'a [(u8, u8)],
    next: usize,
    out: Vec<u8>,
    prev_cr: bool,
}

impl Writer<'_> {
    fn style(&mut self) -> (u8, u8) {
        let style = self.styles[self.next % self.styles.len()];
        self.next += 1;
        style
    }

    fn line(&mut self, text: &str) {
        let (_, ending) = self.style();
        self.out.extend_from_slice(text.as_bytes());
        self.eol(ending, false);
    }

    /// Writes a blank line and returns the offset just past it.
    fn blank(&mut self) -> usize {
        let (_, ending) = self.style();
        self.eol(ending, true);
        self.out.len()
    }

    fn eol(&mut self, ending: u8, blank: bool) {
        // After a CR, an LF-terminated blank line would merge into CRLF.
        let ending = if blank && self.prev_cr && ending == 0 {
            1
        } else {
            ending
        };
        let bytes: &[u8] = match ending {
            0 => b"\n",
            1 => b"\r\n",
            _ => b"\r",
        };
        self.out.extend_from_slice(bytes);
        self.prev_cr = ending == 2;
    }

    fn write(&mut self, line: &Line) {
        let (style, _) = self.styles[self.next % self.styles.len()];
        let text = match line {
            Line::Data(value) => field("data", value, style),
            Line::Id(value) => field("id", value, style),
            Line::EventType(value) => field("event", value, style),
            Line::Retry(ms) => field("retry", &ms.to_string(), style),
            Line::Comment(text) => comment_line(text, style),
            Line::Unknown(name, value) => field(name, value, style),
        };
        self.line(&text);
    }
}

/// Serializes `stream` and computes the expected parse with a model that works
/// on the structured lines (not on bytes).
fn expected(stream: &Stream) -> Expected {
    let mut writer = Writer {
        styles: &stream.styles,
        next: 0,
        out: Vec::new(),
        prev_cr: false,
    };
    if stream.bom {
        writer.out.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut items = Vec::new();
    let mut ends = Vec::new();
    let mut id_buffer = String::new();
    let mut retry = None;
    for block in &stream.blocks {
        match block {
            Block::Comments(texts) => {
                for text in texts {
                    writer.write(&Line::Comment(text.clone()));
                    items.push(Item::Comment(text.clone()));
                }
            }
            Block::Event(lines) | Block::NoData(lines) => {
                let mut event = Event::default();
                let mut data: Vec<&str> = Vec::new();
                let mut event_type = String::new();
                for line in lines {
                    writer.write(line);
                    match line {
                        Line::Data(value) => data.push(value),
                        Line::Id(value) if !value.contains('\0') => {
                            id_buffer.clone_from(value);
                            event.id = Some(value.clone());
                        }
                        Line::EventType(value) => event_type.clone_from(value),
                        Line::Retry(ms) => {
                            retry = Some(*ms);
                            event.retry = Some(*ms);
                        }
                        Line::Comment(text) => items.push(Item::Comment(text.clone())),
                        Line::Id(_) | Line::Unknown(..) => {}
                    }
                }
                let end = writer.blank();
                if !data.is_empty() {
                    event.data = data.join("\n");
                    event.event = (!event_type.is_empty()).then_some(event_type);
                    items.push(Item::Event(event));
                    ends.push(end);
                }
            }
        }
    }
    let last_event_id = id_buffer;
    if let Some((value, terminated)) = &stream.trailing {
        writer
            .out
            .extend_from_slice(field("data", value, 0).as_bytes());
        if *terminated {
            writer.out.push(b'\n');
        }
    }
    Expected {
        bytes: writer.out,
        items,
        ends,
        last_event_id,
        retry,
    }
}

/// Splits `bytes` at the given cut positions (sorted, possibly repeated, which
/// produces empty chunks).
fn split<'a>(bytes: &'a [u8], cuts: &[Index]) -> (Vec<&'a [u8]>, Vec<usize>) {
    let mut positions: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    positions.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for &cut in &positions {
        chunks.push(&bytes[start..cut]);
        start = cut;
    }
    chunks.push(&bytes[start..]);
    (chunks, positions)
}

fn parse(chunks: &[&[u8]]) -> (Vec<Item>, Parser) {
    let mut parser = Parser::new();
    let mut items = Vec::new();
    for chunk in chunks {
        parser.feed(chunk, &mut items);
    }
    (items, parser)
}

fn events_of(items: &[Item]) -> Vec<Event> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Event(event) => Some(event.clone()),
            Item::Comment(_) => None,
        })
        .collect()
}

/// Absolute offsets reported by a fresh counter over `chunks`.
fn counter_offsets(chunks: &[&[u8]]) -> Vec<usize> {
    let mut counter = EventCounter::new();
    let mut offsets = Vec::new();
    let mut base = 0;
    for chunk in chunks {
        let mut pos = 0;
        while let Some(end) = counter.next_dispatch(chunk, pos) {
            assert!(end > pos && end <= chunk.len());
            offsets.push(base + end);
            pos = end;
        }
        base += chunk.len();
    }
    offsets
}

/// The offset the counter must report for an event whose dispatching line
/// terminator ends at `end`, given the chunk boundaries `cuts`: just past the
/// CR if a CRLF terminator is split between two chunks.
fn adjusted(bytes: &[u8], end: usize, cuts: &[usize]) -> usize {
    let crlf = end >= 2 && &bytes[end - 2..end] == b"\r\n";
    if crlf && cuts.contains(&(end - 1)) {
        end - 1
    } else {
        end
    }
}

/// Forwards chunks like the gateway does, stopping right after the
/// `quota`-th event.
fn forward(chunks: &[&[u8]], quota: usize) -> Vec<u8> {
    let mut counter = EventCounter::new();
    let mut forwarded = Vec::new();
    let mut count = 0;
    for chunk in chunks {
        let mut pos = 0;
        while let Some(end) = counter.next_dispatch(chunk, pos) {
            count += 1;
            pos = end;
            if count == quota {
                forwarded.extend_from_slice(&chunk[..end]);
                return forwarded;
            }
        }
        forwarded.extend_from_slice(chunk);
    }
    forwarded
}

/// Byte soup biased towards SSE syntax.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        2 => any::<u8>().prop_map(|b| vec![b]),
        3 => prop::sample::select(vec![
            &b"data"[..], b"data:", b"data: ", b"id:", b"id: \0", b"event:", b"retry: 12",
            b":", b" ", b"\n", b"\r", b"\r\n", b"\n\n", b"\r\r", b"\xEF\xBB\xBF", b"\xEF",
            b"\xC3", b"\xA9", b"x",
        ])
        .prop_map(<[u8]>::to_vec),
    ];
    prop::collection::vec(token, 0..80).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// (a) The parser yields exactly the generated events and comments,
    /// whatever the chunking.
    #[test]
    fn parser_roundtrips_generated_streams(
        stream in stream(),
        cuts in prop::collection::vec(any::<Index>(), 0..12),
    ) {
        let want = expected(&stream);
        let (chunks, _) = split(&want.bytes, &cuts);
        let (items, parser) = parse(&chunks);
        prop_assert_eq!(&items, &want.items);
        prop_assert_eq!(parser.last_event_id(), want.last_event_id.as_str());
        prop_assert_eq!(parser.retry(), want.retry);

        let bytes: Vec<&[u8]> = want.bytes.chunks(1).collect();
        let (items, _) = parse(&bytes);
        prop_assert_eq!(&items, &want.items);

        let mut parser = Parser::new();
        let events: Vec<Event> = chunks.iter().flat_map(|c| parser.push(c)).collect();
        prop_assert_eq!(events, events_of(&want.items));
    }

    /// (b) The counter counts exactly the events with data, and its offsets
    /// are the true ends of the dispatching blank lines.
    #[test]
    fn counter_offsets_match_event_ends(
        stream in stream(),
        cuts in prop::collection::vec(any::<Index>(), 0..12),
    ) {
        let want = expected(&stream);
        let (chunks, positions) = split(&want.bytes, &cuts);
        let offsets = counter_offsets(&chunks);
        let ends: Vec<usize> = want
            .ends
            .iter()
            .map(|&end| adjusted(&want.bytes, end, &positions))
            .collect();
        prop_assert_eq!(offsets, ends);

        let mut counter = EventCounter::new();
        let count: usize = chunks.iter().map(|c| counter.count_events(c)).sum();
        prop_assert_eq!(count, want.ends.len());

        // Quota forwarding stops exactly after the n-th event.
        let all = events_of(&want.items);
        for quota in 1..=all.len() {
            let forwarded = forward(&chunks, quota);
            let (items, _) = parse(&[&forwarded]);
            prop_assert_eq!(events_of(&items), &all[..quota]);
        }
    }

    /// (c) Arbitrary bytes: nothing panics, chunking does not change the
    /// result, and counter and parser agree on every event and its offset.
    #[test]
    fn arbitrary_bytes_are_consistent(
        bytes in soup(),
        cuts in prop::collection::vec(any::<Index>(), 0..12),
    ) {
        let (whole_items, whole_parser) = parse(&[&bytes]);
        let (chunks, positions) = split(&bytes, &cuts);
        let (items, parser) = parse(&chunks);
        prop_assert_eq!(&items, &whole_items);
        prop_assert_eq!(parser.last_event_id(), whole_parser.last_event_id());
        prop_assert_eq!(parser.retry(), whole_parser.retry());

        let events = events_of(&whole_items);
        let whole_offsets = counter_offsets(&[&bytes]);
        prop_assert_eq!(whole_offsets.len(), events.len());
        let offsets = counter_offsets(&chunks);
        let want: Vec<usize> = whole_offsets
            .iter()
            .map(|&end| adjusted(&bytes, end, &positions))
            .collect();
        prop_assert_eq!(offsets, want);

        for (k, &end) in whole_offsets.iter().enumerate() {
            // The prefix up to the offset holds exactly k + 1 events...
            let (items, _) = parse(&[&bytes[..end]]);
            prop_assert_eq!(events_of(&items), &events[..=k]);
            // ...and without the blank line's terminator only k.
            let crlf = end >= 2 && &bytes[end - 2..end] == b"\r\n";
            let start = if crlf { end - 2 } else { end - 1 };
            let (items, _) = parse(&[&bytes[..start]]);
            prop_assert_eq!(events_of(&items).len(), k);
        }
    }
}

/// Offsets and final state of `for_each_dispatch` over `chunks`, against the byte-wise
/// `next_dispatch` loop it must equal (state compared after every chunk).
fn fast_matches_bytewise(chunks: &[&[u8]]) -> Result<(), TestCaseError> {
    let mut fast = EventCounter::new();
    let mut slow = EventCounter::new();
    for (k, chunk) in chunks.iter().enumerate() {
        let mut fast_ends = Vec::new();
        fast.for_each_dispatch(chunk, |end| fast_ends.push(end));
        let mut slow_ends = Vec::new();
        let mut pos = 0;
        while let Some(end) = slow.next_dispatch(chunk, pos) {
            slow_ends.push(end);
            pos = end;
        }
        prop_assert_eq!(fast_ends, slow_ends, "chunk {}", k);
        prop_assert_eq!(&fast, &slow, "state after chunk {}", k);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// (d) The one-pass LF path of `for_each_dispatch` reports the offsets, and leaves
    /// the state, of the byte-wise scan, for generated streams with every mix of line
    /// ends and for byte soup, whatever the chunking.
    #[test]
    fn for_each_dispatch_equals_the_bytewise_scan(
        stream in stream(),
        bytes in soup(),
        cuts in prop::collection::vec(any::<Index>(), 0..12),
    ) {
        let want = expected(&stream);
        let (chunks, _) = split(&want.bytes, &cuts);
        fast_matches_bytewise(&chunks)?;
        let (chunks, _) = split(&bytes, &cuts);
        fast_matches_bytewise(&chunks)?;
        // LF-only streams stay on the fast path throughout.
        let lf_only: Vec<u8> = want.bytes.iter().copied().filter(|&b| b != b'\r').collect();
        let (chunks, _) = split(&lf_only, &cuts);
        fast_matches_bytewise(&chunks)?;
    }
}

//! Tests of the SSE counter, parser and writers (`super`).

#![allow(clippy::unwrap_used)]

use super::*;

/// Parses `chunks` in order with a fresh parser.
fn parse_chunks(chunks: &[&[u8]]) -> (Vec<Item>, Parser) {
    let mut parser = Parser::new();
    let mut items = Vec::new();
    for chunk in chunks {
        parser.feed(chunk, &mut items);
    }
    (items, parser)
}

/// Parses `chunks` and keeps only the events.
fn events(chunks: &[&[u8]]) -> Vec<Event> {
    parse_chunks(chunks)
        .0
        .into_iter()
        .filter_map(|item| match item {
            Item::Event(event) => Some(event),
            Item::Comment(_) => None,
        })
        .collect()
}

/// Absolute end offsets reported by a fresh counter over `chunks`.
fn counter_offsets(chunks: &[&[u8]]) -> Vec<usize> {
    let mut counter = EventCounter::new();
    let mut offsets = Vec::new();
    let mut base = 0;
    for chunk in chunks {
        let mut pos = 0;
        while let Some(end) = counter.next_dispatch(chunk, pos) {
            offsets.push(base + end);
            pos = end;
        }
        base += chunk.len();
    }
    offsets
}

fn data_event(data: &str) -> Event {
    Event {
        data: data.to_owned(),
        ..Event::default()
    }
}

/// Checks parser events and counter offsets for the whole stream fed at
/// once and split at every single position.
fn check_all_splits(stream: &[u8], expected: &[Event], offsets: &[usize]) {
    assert_eq!(events(&[stream]), expected, "whole stream");
    assert_eq!(counter_offsets(&[stream]), offsets, "whole stream");
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(events(&[a, b]), expected, "cut at {cut}");
        let got = counter_offsets(&[a, b]);
        let want: Vec<usize> = offsets
            .iter()
            .map(|&end| {
                // A CRLF split between chunks ends the event after the CR.
                if cut + 1 == end && stream[end - 2] == b'\r' && stream[end - 1] == b'\n' {
                    end - 1
                } else {
                    end
                }
            })
            .collect();
        assert_eq!(got, want, "cut at {cut}");
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(events(&bytes), expected, "byte by byte");
}

#[test]
fn lf_line_endings() {
    check_all_splits(
        b"data: a\n\ndata: b\n\n",
        &[data_event("a"), data_event("b")],
        &[9, 18],
    );
}

#[test]
fn crlf_line_endings() {
    check_all_splits(
        b"data: a\r\n\r\ndata: b\r\n\r\n",
        &[data_event("a"), data_event("b")],
        &[11, 22],
    );
}

#[test]
fn cr_line_endings() {
    check_all_splits(
        b"data: a\r\rdata: b\r\r",
        &[data_event("a"), data_event("b")],
        &[9, 18],
    );
}

#[test]
fn mixed_line_endings() {
    check_all_splits(
        b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\n\r",
        &[data_event("a\nb\nc"), data_event("d")],
        &[27, 36],
    );
}

#[test]
fn crlf_split_across_chunks() {
    let chunks: [&[u8]; 3] = [b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"];
    assert_eq!(events(&chunks), [data_event("a"), data_event("b")]);
    assert_eq!(counter_offsets(&chunks), [10, 22]);
}

#[test]
fn cr_at_chunk_end_then_lf_is_one_line_end() {
    // The dispatching CR is the last byte of the chunk: the counter
    // reports the chunk end and swallows the LF of the next chunk instead
    // of treating it as a second blank line.
    let mut counter = EventCounter::new();
    let first = b"data: a\r\n\r";
    assert_eq!(counter.next_dispatch(first, 0), Some(first.len()));
    assert_eq!(counter.next_dispatch(first, first.len()), None);
    // The LF completes the CRLF; only the blank line after `data: b`
    // dispatches the next event.
    let second = b"\ndata: b\n\n";
    assert_eq!(counter.next_dispatch(second, 0), Some(second.len()));

    // A lone CR followed by LF in the next chunk is also one line end for
    // the parser: no empty line between `data: a` and `data: b`.
    let (items, _) = parse_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
    assert_eq!(items, [Item::Event(data_event("a\nb"))]);
}

#[test]
fn comments_not_counted_and_reported() {
    let stream = b": hello\n\n:no space\n:\n\n:  two spaces\r\ndata: x\n\n";
    let mut counter = EventCounter::new();
    assert_eq!(counter.count_events(stream), 1);
    let (items, _) = parse_chunks(&[stream]);
    assert_eq!(
        items,
        [
            Item::Comment("hello".into()),
            Item::Comment("no space".into()),
            Item::Comment(String::new()),
            Item::Comment(" two spaces".into()),
            Item::Event(data_event("x")),
        ]
    );
    // A heartbeat-only stream dispatches nothing.
    let heartbeats = ": ping\n\n".repeat(10);
    assert_eq!(EventCounter::new().count_events(heartbeats.as_bytes()), 0);
    assert!(events(&[heartbeats.as_bytes()]).is_empty());
}

#[test]
fn id_only_event_not_counted() {
    let stream = b"id: 1\n\nevent: x\nretry: 5\n\nid: 2\ndata: d\n\n";
    check_all_splits(
        stream,
        &[Event {
            id: Some("2".into()),
            data: "d".into(),
            ..Event::default()
        }],
        &[stream.len()],
    );
    // The id of a block without data still becomes the last event ID.
    let (items, parser) = parse_chunks(&[b"id: 1\n\n"]);
    assert!(items.is_empty());
    assert_eq!(parser.last_event_id(), "1");
    assert_eq!(EventCounter::new().count_events(b"id: 1\n\n"), 0);
}

#[test]
fn last_event_id_persists_and_resets() {
    let mut parser = Parser::new();
    assert_eq!(parser.last_event_id(), "");
    let out = parser.push(b"id: 5\ndata: a\n\ndata: b\n\n");
    assert_eq!(out[0].id.as_deref(), Some("5"));
    assert_eq!(out[1].id, None);
    assert_eq!(parser.last_event_id(), "5");
    // An id without a following blank line is not yet the last event ID.
    parser.push(b"id: 6\n");
    assert_eq!(parser.last_event_id(), "5");
    parser.push(b"\n");
    assert_eq!(parser.last_event_id(), "6");
    // `id` with an empty value resets it.
    let out = parser.push(b"id\ndata: c\n\n");
    assert_eq!(out[0].id.as_deref(), Some(""));
    assert_eq!(parser.last_event_id(), "");
}

#[test]
fn id_with_nul_ignored() {
    let mut parser = Parser::new();
    let out = parser.push(b"id: 1\n\nid: a\0b\ndata: x\n\n");
    assert_eq!(out, [data_event("x")]);
    assert_eq!(parser.last_event_id(), "1");
}

#[test]
fn data_joined_with_lf() {
    check_all_splits(
        b"data: a\ndata:\ndata: c\ndata\n\n",
        &[data_event("a\n\nc\n")],
        &[28],
    );
}

#[test]
fn single_leading_space_removed() {
    let stream = b"data:a\n\ndata: b\n\ndata:  c\n\ndata: d \n\nevent:  e\ndata: \n\n";
    let out = events(&[stream]);
    assert_eq!(
        out,
        [
            data_event("a"),
            data_event("b"),
            data_event(" c"),
            data_event("d "),
            Event {
                event: Some(" e".into()),
                ..Event::default()
            },
        ]
    );
}

#[test]
fn line_without_colon_is_field_with_empty_value() {
    // `data` alone is a data line with an empty value: the event is
    // dispatched with empty data.
    check_all_splits(b"data\n\n", &[data_event("")], &[6]);
    check_all_splits(b"data\r\n\r\n", &[data_event("")], &[8]);
    // Other names without colon, and prefixes/extensions of `data`, are not
    // data lines.
    let stream = b"dat\n\ndatax\n\nDATA\n\nd\n\n datab\n\nevent\ndata:x\n\n";
    check_all_splits(stream, &[data_event("x")], &[stream.len()]);
    // A colon inside the value is kept.
    assert_eq!(events(&[b"data: a:b\n\n"]), [data_event("a:b")]);
}

#[test]
fn retry_digits_only() {
    let mut parser = Parser::new();
    let out = parser.push(b"retry: 1500\ndata: a\n\n");
    assert_eq!(out[0].retry, Some(1500));
    assert_eq!(parser.retry(), Some(1500));
    for bad in [
        "retry: 15s",
        "retry: -1",
        "retry: +1",
        "retry: 1.5",
        "retry:",
        "retry",
        "retry:  1",
        "retry: 99999999999999999999999",
    ] {
        let out = parser.push(format!("{bad}\ndata: b\n\n").as_bytes());
        assert_eq!(out, [data_event("b")], "{bad}");
        assert_eq!(parser.retry(), Some(1500), "{bad}");
    }
    // retry applies even without a dispatched event.
    assert!(parser.push(b"retry: 7\n\n").is_empty());
    assert_eq!(parser.retry(), Some(7));
    assert_eq!(EventCounter::new().count_events(b"retry: 7\n\n"), 0);
}

#[test]
fn event_type_is_reset_after_blank_line() {
    let out = events(&[b"event: a\n\nevent: b\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n"]);
    assert_eq!(
        out,
        [
            Event {
                event: Some("b".into()),
                data: "1".into(),
                ..Event::default()
            },
            data_event("2"),
            data_event("3"),
        ]
    );
}

#[test]
fn bom_skipped() {
    let stream = b"\xEF\xBB\xBFdata: a\n\n";
    check_all_splits(stream, &[data_event("a")], &[stream.len()]);
    // Only one BOM is skipped: a second one is part of the field name.
    let stream = b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n";
    check_all_splits(stream, &[data_event("b")], &[stream.len()]);
    // A BOM later in the stream is not skipped.
    let stream = b"data: a\n\n\xEF\xBB\xBFdata: b\n\n";
    check_all_splits(stream, &[data_event("a")], &[9]);
    // A partial BOM is line content (and invalid UTF-8).
    let stream = b"\xEF\xBBdata: a\n\ndata: b\n\n";
    check_all_splits(stream, &[data_event("b")], &[stream.len()]);
    let stream = b"\xEF\n\ndata: b\n\n";
    check_all_splits(stream, &[data_event("b")], &[stream.len()]);
    // A BOM followed directly by a blank line.
    let stream = b"\xEF\xBB\xBF\n\ndata: b\n\n";
    check_all_splits(stream, &[data_event("b")], &[stream.len()]);
}

#[test]
fn unterminated_event_at_eof_dropped() {
    for stream in [
        &b"data: a\n\ndata: b"[..],
        b"data: a\n\ndata: b\n",
        b"data: a\n\ndata: b\r",
        b"data: a\n\ndata: b\r\n",
    ] {
        check_all_splits(stream, &[data_event("a")], &[9]);
    }
}

#[test]
fn multibyte_utf8_split_across_chunks() {
    let stream = "id: é1\nevent: ü\ndata: 😀 € ∑\n\n".as_bytes();
    check_all_splits(
        stream,
        &[Event {
            id: Some("é1".into()),
            event: Some("ü".into()),
            data: "😀 € ∑".into(),
            retry: None,
        }],
        &[stream.len()],
    );
}

#[test]
fn invalid_utf8_replaced_lossily() {
    let out = events(&[b"data: a\xFFb\xF0\x9F\n", b"data: \xC3\n\n"]);
    assert_eq!(out, [data_event("a\u{FFFD}b\u{FFFD}\n\u{FFFD}")]);
    let (items, _) = parse_chunks(&[b":\xFE\n"]);
    assert_eq!(items, [Item::Comment("\u{FFFD}".into())]);
}

#[test]
fn empty_chunks_and_from_past_end() {
    let mut counter = EventCounter::new();
    assert_eq!(counter.next_dispatch(b"", 0), None);
    assert_eq!(counter.next_dispatch(b"data: a\r", 0), None);
    assert_eq!(counter.next_dispatch(b"", 0), None);
    assert_eq!(counter.next_dispatch(b"\r", 0), Some(1));
    assert_eq!(counter.next_dispatch(b"", 0), None);
    assert_eq!(counter.next_dispatch(b"abc", 7), None);
    // The pending LF is still swallowed after the empty chunks.
    assert_eq!(counter.next_dispatch(b"\ndata: b\n\n", 0), Some(10));
}

#[test]
fn quota_forwarding_stops_exactly_after_nth_event() {
    let stream = b": hi\n\ndata: 1\n\nid: x\n\ndata: 2\r\n\r\ndata: 3\rdata: 3b\r\rdata: 4\n\n";
    for quota in 1..=4 {
        for cut in 0..=stream.len() {
            let chunks = [&stream[..cut], &stream[cut..]];
            let mut counter = EventCounter::new();
            let mut forwarded = Vec::new();
            let mut count = 0;
            'chunks: for chunk in chunks {
                let mut pos = 0;
                while let Some(end) = counter.next_dispatch(chunk, pos) {
                    count += 1;
                    pos = end;
                    if count == quota {
                        forwarded.extend_from_slice(&chunk[..end]);
                        break 'chunks;
                    }
                }
                forwarded.extend_from_slice(chunk);
            }
            forwarded.extend_from_slice(&comment("quota exhausted"));
            let (items, _) = parse_chunks(&[&forwarded]);
            let got_events = items
                .iter()
                .filter(|item| matches!(item, Item::Event(_)))
                .count();
            assert_eq!(got_events, quota, "quota {quota} cut {cut}");
            assert_eq!(
                items.last(),
                Some(&Item::Comment("quota exhausted".into())),
                "quota {quota} cut {cut}"
            );
        }
    }
}

#[test]
fn event_boundary_tracking() {
    let mut counter = EventCounter::new();
    assert!(counter.at_event_boundary());
    counter.count_events(b"\xEF");
    assert!(!counter.at_event_boundary());
    counter.count_events(b"\xBB\xBF: comment\n");
    assert!(counter.at_event_boundary());
    counter.count_events(b"data: partial");
    assert!(!counter.at_event_boundary());
    counter.count_events(b"\n");
    assert!(!counter.at_event_boundary());
    counter.count_events(b"\n");
    assert!(counter.at_event_boundary());
    counter.count_events(b"id: 3\n");
    assert!(!counter.at_event_boundary());
    counter.count_events(b"\r\n: c\n");
    assert!(counter.at_event_boundary());
    counter.count_events(b"data: x\n\r");
    assert!(counter.at_event_boundary());
}

#[test]
fn comment_helper() {
    assert_eq!(&comment("quota exhausted")[..], b": quota exhausted\n\n");
    assert_eq!(&comment("")[..], b":\n\n");
    assert_eq!(&comment("a\r\nb\rc\nd")[..], b": a b c d\n\n");
    let (items, _) = parse_chunks(&[&comment("a\nb")]);
    assert_eq!(items, [Item::Comment("a b".into())]);
    assert_eq!(
        EventCounter::new().count_events(&comment("x\n\ndata: y")),
        0
    );
}

#[test]
fn event_bytes_helper() {
    assert_eq!(event_bytes(None, "x"), "data: x\n\n");
    assert_eq!(event_bytes(Some("1"), ""), "id: 1\ndata:\n\n");
    assert_eq!(
        event_bytes(Some("a\r\nb"), "l1\r\nl2\rl3\n\n l5"),
        "id: ab\ndata: l1\ndata: l2\ndata: l3\ndata:\ndata:  l5\n\n"
    );
    for data in ["", "x", "a\nb", "\n", " lead", "a\n\nb\n", "😀:é"] {
        let stream = event_bytes(Some("id"), data);
        let out = events(&[stream.as_bytes()]);
        assert_eq!(
            out,
            [Event {
                id: Some("id".into()),
                data: data.into(),
                ..Event::default()
            }],
            "{data:?}"
        );
        assert_eq!(EventCounter::new().count_events(stream.as_bytes()), 1);
    }
}

#[test]
fn find_eol_matches_naive_search() {
    let mut hay = vec![b'a'; 40];
    assert_eq!(find_eol(&hay), None);
    for pos in 0..hay.len() {
        for eol in [b'\n', b'\r'] {
            hay[pos] = eol;
            assert_eq!(find_eol(&hay), Some(pos));
            // Control and high bytes after the match must not confuse it.
            for (k, byte) in hay.iter_mut().enumerate().skip(pos + 1) {
                *byte = [0x0B, 0x0C, 0x0E, 0x09, 0x80, 0x8D][k % 6];
            }
            assert_eq!(find_eol(&hay), Some(pos));
            hay.fill(b'a');
        }
    }
    for byte in 0..=255u8 {
        let hay = [byte; 17];
        let want = hay.iter().position(|&b| b == b'\n' || b == b'\r');
        assert_eq!(find_eol(&hay), want, "{byte}");
    }
}

/// Rough throughput numbers; run with
/// `cargo test --release --lib sse::tests::throughput -- --ignored --nocapture`.
#[test]
#[ignore = "manual throughput measurement"]
fn throughput() {
    let event = format!(
        "id: 12345\nevent: completion\ndata: {{\"text\":\"{}\"}}\n\n",
        "x".repeat(200)
    );
    let stream = event.repeat(64 * 1024 * 1024 / event.len());
    let chunks: Vec<&[u8]> = stream.as_bytes().chunks(16 * 1024).collect();
    let mut counter = EventCounter::new();
    let start = std::time::Instant::now();
    let count: usize = chunks.iter().map(|c| counter.count_events(c)).sum();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "EventCounter: {count} events, {:.0} MB/s",
        stream.len() as f64 / secs / 1e6
    );
    let mut parser = Parser::new();
    let mut items = Vec::new();
    let start = std::time::Instant::now();
    for chunk in &chunks {
        parser.feed(chunk, &mut items);
        items.clear();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("Parser: {:.0} MB/s", stream.len() as f64 / secs / 1e6);
}

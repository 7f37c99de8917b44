//! A request's head as the gateway's request path reads it: the method, the target and
//! the header fields, either hyper's map (the HTTPS port, HTTP/2, routers) or the plain
//! port's lines where they were parsed, so a plain request costs no map, no copy of
//! each value and no lowercased name (RFC 9110 §5: a field name is case-insensitive, and
//! a field's lines are one list in order).

use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};

/// A request head lent to the gateway's request path.
#[derive(Clone, Copy)]
pub(crate) struct RequestHead<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub fields: Fields<'a>,
}

impl<'a> RequestHead<'a> {
    /// The head of a request hyper parsed.
    pub(crate) fn of(parts: &'a axum::http::request::Parts) -> Self {
        Self {
            method: &parts.method,
            uri: &parts.uri,
            fields: Fields::Map(&parts.headers),
        }
    }
}

/// A request's header fields.
#[derive(Clone, Copy)]
pub(crate) enum Fields<'a> {
    /// hyper's map: names lowercase, a name's lines grouped.
    Map(&'a HeaderMap),
    /// The plain port's lines as the client sent them (names in any case), in order.
    Lines(&'a HeadLines),
}

/// A request head's bytes and where each field line's name and value lie in them, as
/// `httparse` found them (names are tokens, values visible ASCII, spaces, tabs or
/// obs-text, RFC 9112 §5: what `HeaderName` and `HeaderValue` accept; the plain port's
/// parser also refuses a name longer than `HeaderName`'s limit).
#[derive(Debug, Default)]
pub(crate) struct HeadLines {
    bytes: Vec<u8>,
    spans: Vec<Span>,
}

/// Byte offsets of one line's name and value in [`HeadLines::bytes`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    name: (u32, u32),
    value: (u32, u32),
}

/// Where a parsed head's field lines lie in the buffer `httparse` read them from.
#[derive(Debug)]
pub(crate) struct Located {
    spans: Vec<Span>,
    /// The end of the last byte any line takes.
    end: usize,
}

impl Located {
    /// Where `parsed`'s names and values lie in `base` (the buffer `httparse` parsed);
    /// `None` if one is not a slice of it (a caller's mistake) or lies beyond `u32`
    /// offsets.
    pub(crate) fn of(base: &[u8], parsed: &[httparse::Header<'_>]) -> Option<Self> {
        let start_of = base.as_ptr() as usize;
        let mut end = 0;
        let mut span = |part: &[u8]| -> Option<(u32, u32)> {
            let start = (part.as_ptr() as usize).checked_sub(start_of)?;
            let stop = start.checked_add(part.len())?;
            if stop > base.len() {
                return None;
            }
            end = end.max(stop);
            Some((u32::try_from(start).ok()?, u32::try_from(stop).ok()?))
        };
        let mut spans = Vec::with_capacity(parsed.len());
        for line in parsed {
            spans.push(Span {
                name: span(line.name.as_bytes())?,
                value: span(line.value)?,
            });
        }
        Some(Self { spans, end })
    }
}

impl HeadLines {
    /// The lines `located` found, in `bytes`: the buffer they were located in, or its
    /// start holding the same head. `None` if a line lies past `bytes`' end.
    pub(crate) fn new(bytes: Vec<u8>, located: Located) -> Option<Self> {
        (located.end <= bytes.len()).then_some(Self {
            bytes,
            spans: located.spans,
        })
    }

    /// A line's name and value.
    fn line(&self, span: &Span) -> (&[u8], &[u8]) {
        let part = |(start, end): (u32, u32)| {
            self.bytes
                .get(start as usize..end as usize)
                .unwrap_or_default()
        };
        (part(span.name), part(span.value))
    }

    /// The lines as a [`HeaderMap`] (names lowercased, values copied), for a router.
    pub(crate) fn to_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.spans.len());
        for span in &self.spans {
            let (name, value) = self.line(span);
            // Both were checked by httparse, whose rules are the http crate's (and the
            // name's length by `parse_head`).
            if let (Ok(name), Ok(value)) = (
                header::HeaderName::from_bytes(name),
                HeaderValue::from_bytes(value),
            ) {
                map.append(name, value);
            }
        }
        map
    }
}

impl<'a> Fields<'a> {
    /// The values of the lines named `name` (lowercase), in order.
    pub(crate) fn get_all(self, name: &'static str) -> Values<'a> {
        match self {
            Fields::Map(map) => Values::Map(map.get_all(name).iter()),
            Fields::Lines(lines) => Values::Lines {
                lines,
                spans: lines.spans.iter(),
                name,
            },
        }
    }

    /// The value of the first line named `name` (lowercase).
    pub(crate) fn get(self, name: &'static str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    /// Whether a line is named `name` (lowercase).
    pub(crate) fn contains(self, name: &'static str) -> bool {
        self.get(name).is_some()
    }

    /// Every line's name (lowercase in a map, as sent in lines) and value.
    pub(crate) fn iter(self) -> Lines<'a> {
        match self {
            Fields::Map(map) => Lines::Map(map.iter()),
            Fields::Lines(lines) => Lines::Lines {
                lines,
                spans: lines.spans.iter(),
            },
        }
    }
}

/// The values of one field's lines.
pub(crate) enum Values<'a> {
    Map(header::ValueIter<'a, HeaderValue>),
    Lines {
        lines: &'a HeadLines,
        spans: std::slice::Iter<'a, Span>,
        name: &'static str,
    },
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Values::Map(values) => values.next().map(HeaderValue::as_bytes),
            Values::Lines { lines, spans, name } => spans.find_map(|span| {
                let (n, v) = lines.line(span);
                n.eq_ignore_ascii_case(name.as_bytes()).then_some(v)
            }),
        }
    }
}

/// Every line of a request's fields: name and value.
pub(crate) enum Lines<'a> {
    Map(header::Iter<'a, HeaderValue>),
    Lines {
        lines: &'a HeadLines,
        spans: std::slice::Iter<'a, Span>,
    },
}

impl<'a> Iterator for Lines<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Lines::Map(map) => map
                .next()
                .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes())),
            Lines::Lines { lines, spans } => spans.next().map(|span| lines.line(span)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lines(head: &[u8]) -> HeadLines {
        let bytes = head.to_vec();
        let mut parsed = [httparse::EMPTY_HEADER; 8];
        let mut req = httparse::Request::new(&mut parsed);
        req.parse(&bytes).unwrap();
        let located = Located::of(&bytes, req.headers).unwrap();
        HeadLines::new(bytes, located).unwrap()
    }

    #[test]
    fn lines_and_map_answer_alike() {
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\nX-Trace: 1\r\nACCEPT: */*\r\nx-trace: 2\r\n\r\n";
        let lines = lines(raw);
        let map = lines.to_map();
        for fields in [Fields::Lines(&lines), Fields::Map(&map)] {
            assert_eq!(fields.get("host"), Some(&b"a"[..]));
            assert_eq!(fields.get("accept"), Some(&b"*/*"[..]));
            assert!(!fields.contains("origin"));
            let traces: Vec<&[u8]> = fields.get_all("x-trace").collect();
            assert_eq!(traces, [&b"1"[..], &b"2"[..]]);
            assert_eq!(fields.iter().count(), 4);
        }
        let names: Vec<&[u8]> = Fields::Lines(&lines).iter().map(|(n, _)| n).collect();
        assert_eq!(names, [&b"Host"[..], b"X-Trace", b"ACCEPT", b"x-trace"]);
    }

    #[test]
    fn lines_must_lie_in_their_bytes() {
        let bytes = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
        let mut parsed = [httparse::EMPTY_HEADER; 2];
        let mut req = httparse::Request::new(&mut parsed);
        req.parse(&bytes).unwrap();
        // Slices of another buffer are refused, not read out of bounds.
        assert!(Located::of(b"GET / HTTP/1.1\r\n", req.headers).is_none());
        let located = Located::of(&bytes, req.headers).unwrap();
        assert!(HeadLines::new(b"GET / HTTP/1.1\r\nHo".to_vec(), located).is_none());
        let located = Located::of(&bytes, req.headers).unwrap();
        assert!(HeadLines::new(bytes.clone(), located).is_some());
    }
}

//! The plain port's HTTP/1.1 wire format (RFC 9112): request heads parsed with `httparse`
//! within hyper's bounds, and the answer's head lines and chunk size lines written.

use std::mem::MaybeUninit;
use std::time::SystemTime;

use axum::http::{HeaderMap, Method, StatusCode, Uri, header};

use crate::gateway::fields::{HeadLines, Located, RequestHead};

use super::{MAX_HEAD_BYTES, MAX_HEADERS, MAX_URI_LEN};

/// How a request's body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// `Content-Length` (0 without one).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The longest field name `HeaderName` takes (its `MAX_HEADER_NAME_LEN`): a longer one was
/// refused (400) when the head was read into a `HeaderMap`, and still is.
const MAX_HEADER_NAME_LEN: usize = (1 << 16) - 1;

/// A parsed request head: its bytes and where its field lines lie in them.
pub(super) struct Head {
    pub(super) method: Method,
    pub(super) uri: Uri,
    /// HTTP/1.1 (else HTTP/1.0).
    pub(super) http11: bool,
    /// The field lines as sent, in the head's own bytes.
    pub(super) lines: HeadLines,
    pub(super) framing: Framing,
    /// Whether the client asked to keep the connection (HTTP/1.1 unless `close`, HTTP/1.0
    /// with `keep-alive`).
    pub(super) keep_alive: bool,
    /// `Expect: 100-continue`.
    pub(super) expect_continue: bool,
}

/// Ends `head` for a body of unknown length (chunked on HTTP/1.1, up to the close on
/// HTTP/1.0, RFC 9112 §6.3); answers it with whether the connection may be kept alive
/// after the body.
pub(super) fn unsized_head(mut head: Vec<u8>, http11: bool, keep_alive: bool) -> (Vec<u8>, bool) {
    let keep_alive = keep_alive && http11;
    if http11 {
        head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    connection_line(&mut head, http11, keep_alive);
    head.extend_from_slice(b"\r\n");
    (head, keep_alive)
}

impl Head {
    /// The head as the gateway's request path reads it.
    pub(super) fn view(&self) -> RequestHead<'_> {
        RequestHead {
            method: &self.method,
            uri: &self.uri,
            fields: crate::gateway::fields::Fields::Lines(&self.lines),
        }
    }

    /// The request as the `http` crate's (an empty body), for a router.
    pub(super) fn to_request(&self) -> axum::http::Request<axum::body::Body> {
        let mut request = axum::http::Request::new(axum::body::Body::empty());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = if self.http11 {
            axum::http::Version::HTTP_11
        } else {
            axum::http::Version::HTTP_10
        };
        let mut headers = self.lines.to_map();
        if self.framing == Framing::Chunked {
            // `Transfer-Encoding` frames the body; a `Content-Length` beside it is not
            // passed on (RFC 9112 §6.3), as hyper does.
            headers.remove(header::CONTENT_LENGTH);
        }
        *request.headers_mut() = headers;
        request
    }
}

/// Parses a request head at the start of `buf`: `None` if incomplete (`buf` untouched),
/// else the head, its bytes taken from `buf` (what follows stays, pipelined); the status
/// to refuse it with if it is malformed (400) or too large (431, 414), as hyper would, or
/// if its `Transfer-Encoding` names a coding other than `chunked` (501, RFC 9112 §6.1).
/// The field lines are kept as `httparse` checked them (tokens for names; visible ASCII,
/// spaces, tabs and obs-text for values: what `HeaderName` and `HeaderValue` accept); a
/// name longer than `HeaderName` takes (64 KiB - 1) is refused (400), as before.
pub(super) fn parse_head(buf: &mut Vec<u8>) -> Result<Option<Head>, StatusCode> {
    // Not initialised first: httparse writes each line it parses (3 KiB less to clear
    // per request).
    let mut lines = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    let len = match parsed.parse_with_uninit_headers(buf, &mut lines) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        }
        Err(_) => return Err(StatusCode::BAD_REQUEST),
    };
    if len > MAX_HEAD_BYTES {
        return Err(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(StatusCode::BAD_REQUEST);
    };
    if target.len() > MAX_URI_LEN {
        return Err(StatusCode::URI_TOO_LONG);
    }
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| StatusCode::BAD_REQUEST)?;
    let uri = Uri::try_from(target).map_err(|_| StatusCode::BAD_REQUEST)?;
    let http11 = minor == 1;
    let mut keep_alive = http11;
    let mut close = false;
    let mut framing = Framing::Length(0);
    let mut content_length: Option<u64> = None;
    let mut codings = Codings::default();
    let mut expect_continue = false;
    let mut hosts = 0;
    for line in parsed.headers.iter() {
        let name = line.name.as_bytes();
        let value = line.value;
        if name.len() > MAX_HEADER_NAME_LEN {
            return Err(StatusCode::BAD_REQUEST);
        }
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if !http11 {
                return Err(StatusCode::BAD_REQUEST);
            }
            codings.add(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let len = std::str::from_utf8(value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(StatusCode::BAD_REQUEST)?;
            if content_length.is_some_and(|prev| prev != len) {
                return Err(StatusCode::BAD_REQUEST);
            }
            content_length = Some(len);
        } else if name.eq_ignore_ascii_case(b"connection") {
            // Tokens are ASCII: a value with obs-text names none (as `to_str` failing).
            let tokens = std::str::from_utf8(value)
                .ok()
                .filter(|v| v.is_ascii())
                .unwrap_or_default();
            let has = |token: &str| {
                tokens
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case(token))
            };
            if close || has("close") {
                close = true;
                keep_alive = false;
            } else if !http11 && has("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            expect_continue = value.eq_ignore_ascii_case(b"100-continue");
        } else if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if hosts > 1 || !valid_host(value) {
                return Err(StatusCode::BAD_REQUEST);
            }
        }
    }
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is refused (400), as are two Host
    // lines or an invalid one (above).
    if http11 && hosts == 0 {
        return Err(StatusCode::BAD_REQUEST);
    }
    let chunked_te = codings.framing()?;
    if chunked_te {
        framing = Framing::Chunked;
        if content_length.is_some() {
            // Both: Transfer-Encoding frames the body, and the connection is closed after
            // the answer (RFC 9112 §6.3: a possible request smuggling attempt). The
            // `Content-Length` line is never forwarded (`NOT_FORWARDED`).
            keep_alive = false;
        }
    } else if let Some(len) = content_length {
        framing = Framing::Length(len);
    }
    let located = Located::of(buf, parsed.headers).ok_or(StatusCode::BAD_REQUEST)?;
    // The head's bytes, taken without a copy when nothing follows it (the usual case).
    let bytes = if len == buf.len() {
        std::mem::take(buf)
    } else {
        let rest = buf.get(len..).unwrap_or_default().to_vec();
        buf.truncate(len);
        std::mem::replace(buf, rest)
    };
    let lines = HeadLines::new(bytes, located).ok_or(StatusCode::BAD_REQUEST)?;
    Ok(Some(Head {
        method,
        uri,
        http11,
        lines,
        framing,
        keep_alive,
        expect_continue,
    }))
}

/// The transfer codings of a request's `Transfer-Encoding` lines, as one list (RFC 9112
/// §6.1, RFC 9110 §5.3).
#[derive(Default)]
struct Codings {
    /// Whether any `Transfer-Encoding` line was seen.
    seen: bool,
    /// How many times `chunked` is listed.
    chunked: usize,
    /// Whether `chunked` is the last coding so far.
    chunked_last: bool,
    /// Whether a coding other than `chunked` is listed (none is implemented).
    unknown: bool,
    /// Whether an element is not a token (with parameters).
    malformed: bool,
}

impl Codings {
    /// Adds the codings of one `Transfer-Encoding` line (empty list elements are skipped,
    /// RFC 9110 §5.6.1).
    fn add(&mut self, value: &[u8]) {
        self.seen = true;
        for element in value.split(|b| *b == b',') {
            let element = element.trim_ascii();
            if element.is_empty() {
                continue;
            }
            let name = element
                .split(|b| *b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            if name.is_empty() || !name.iter().all(|b| is_tchar(*b)) {
                self.malformed = true;
            }
            let chunked = element.eq_ignore_ascii_case(b"chunked");
            if chunked {
                self.chunked += 1;
            } else {
                self.unknown = true;
            }
            self.chunked_last = chunked;
        }
    }

    /// Whether the body is chunked; the status to refuse the request with when the list
    /// names a coding the server does not implement (501, RFC 9112 §6.1: every coding but
    /// `chunked`, which is then not worth checking for), or is malformed, empty, or does
    /// not end with exactly one `chunked` (400, RFC 9112 §6.1 and §6.3).
    fn framing(&self) -> Result<bool, StatusCode> {
        if !self.seen {
            return Ok(false);
        }
        if self.malformed {
            return Err(StatusCode::BAD_REQUEST);
        }
        if self.unknown {
            return Err(StatusCode::NOT_IMPLEMENTED);
        }
        if self.chunked != 1 || !self.chunked_last {
            return Err(StatusCode::BAD_REQUEST);
        }
        Ok(true)
    }
}

/// For HTTP/1.x requests parsed by hyper (the HTTPS port, the management API), which
/// decodes a final `chunked` and ignores the codings before it (and answers 400 itself to
/// a list not ending in `chunked`): the status the plain port refuses the request's
/// `Transfer-Encoding` lines with (501 for a coding other than `chunked`, RFC 9112 §6.1;
/// 400 for a malformed list), if it does.
pub(in crate::gateway) fn transfer_coding_refusal(headers: &HeaderMap) -> Option<StatusCode> {
    let mut codings = Codings::default();
    for line in headers.get_all(header::TRANSFER_ENCODING) {
        codings.add(line.as_bytes());
    }
    codings.framing().err()
}

/// Whether `b` may be in a token (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `buf` holds the end of a request head (a line end followed by an empty line:
/// LF, an optional CR, LF) that ends past `from`: only the bytes from `from` (and the two
/// before it, where such an end may start) are looked at.
pub(super) fn head_ends_after(buf: &[u8], from: usize) -> bool {
    let start = from.saturating_sub(2);
    let hay = buf.get(start..).unwrap_or_default();
    memchr::memchr_iter(b'\n', hay).any(|i| match hay.get(i + 1) {
        Some(b'\n') => true,
        Some(b'\r') => hay.get(i + 2) == Some(&b'\n'),
        _ => false,
    })
}

/// Whether `value` is a valid `Host` field value for an `http` URI (RFC 9112 §3.2, RFC
/// 3986 §3.2.2, RFC 9110 §4.2.1: its host may not be empty): a host (a reg-name, an IPv4
/// address or a bracketed IP literal) with an optional `:port`; no user info, path or
/// spaces.
fn valid_host(value: &[u8]) -> bool {
    // The common `name` or `name:port` (letters, digits, `.`, `-`, `_`, `~`, then digits)
    // is valid without parsing: an `Authority` parse copies the value into a new buffer.
    let (name, port) = match value.iter().rposition(|b| *b == b':') {
        Some(colon) => (&value[..colon], &value[colon + 1..]),
        None => (value, &[][..]),
    };
    let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~');
    if !name.is_empty() && name.iter().all(plain) && port.iter().all(u8::is_ascii_digit) {
        return true;
    }
    valid_authority(value)
}

/// [`valid_host`] without its fast path: `value` parsed as an `Authority` (no userinfo)
/// with a host.
fn valid_authority(value: &[u8]) -> bool {
    !value.contains(&b'@')
        && std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.parse::<axum::http::uri::Authority>().ok())
            .is_some_and(|authority| !authority.host().is_empty())
}

/// `HTTP/1.1 200 OK\r\n`.
pub(super) fn status_line(out: &mut Vec<u8>, status: StatusCode) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The answer's header lines, except the framing ones (`Content-Length`,
/// `Transfer-Encoding`, `Connection`): the loop writes those for the body it sends.
pub(super) fn write_headers(out: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// `connection: close` when the connection closes after this answer, `connection:
/// keep-alive` for an HTTP/1.0 client kept alive.
pub(super) fn connection_line(out: &mut Vec<u8>, http11: bool, keep_alive: bool) {
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if !http11 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
}

/// `date: <IMF-fixdate>\r\n` (RFC 9110 §6.6.1), formatted once a second per thread.
pub(super) fn date_line(out: &mut Vec<u8>) {
    thread_local! {
        static DATE: std::cell::RefCell<(u64, String)> = const {
            std::cell::RefCell::new((0, String::new()))
        };
    }
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs || cached.1.is_empty() {
            *cached = (secs, httpdate::fmt_http_date(now));
        }
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(cached.1.as_bytes());
        out.extend_from_slice(b"\r\n");
    });
}

/// Writes `len` in hex (upper case, as hyper) and CRLF into `out`; answers the bytes used.
pub(super) fn chunk_size_line(len: usize, out: &mut [u8; 18]) -> usize {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = HEX[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    let k = digits.len() - start;
    out[..k].copy_from_slice(&digits[start..]);
    out[k] = b'\r';
    out[k + 1] = b'\n';
    k + 2
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The fast path of the Host check answers what parsing the value as an
        /// `Authority` answers, for names, ports, IP literals, userinfo and stray bytes.
        #[test]
        fn valid_host_is_the_authority_parse(
            value in proptest::collection::vec(
                proptest::sample::select(b"aZ09.-_~:[]@%/?# \t\x7f\xe9!$&'()*+,;=".to_vec()),
                0..12,
            ),
        ) {
            proptest::prop_assert_eq!(valid_host(&value), valid_authority(&value), "{:?}", String::from_utf8_lossy(&value));
        }
    }

    #[test]
    fn chunk_size_lines_are_upper_case_hex() {
        let mut out = [0u8; 18];
        for (len, want) in [
            (0usize, "0\r\n"),
            (1, "1\r\n"),
            (255, "FF\r\n"),
            (4096, "1000\r\n"),
            (usize::MAX, "FFFFFFFFFFFFFFFF\r\n"),
        ] {
            let n = chunk_size_line(len, &mut out);
            assert_eq!(&out[..n], want.as_bytes(), "{len}");
        }
    }

    /// [`parse_head`] on a copy of `raw`.
    fn parse(raw: &[u8]) -> Result<Option<Head>, StatusCode> {
        parse_head(&mut raw.to_vec())
    }

    #[test]
    fn heads_parse_with_framing_and_keep_alive() {
        let mut partial = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        assert!(parse_head(&mut partial).unwrap().is_none());
        assert_eq!(partial, b"GET / HTTP/1.1\r\nHost: x\r\n", "left as it was");
        let mut buf = b"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\nGET".to_vec();
        let head = parse_head(&mut buf).unwrap().unwrap();
        // The head's bytes are taken; what follows stays, pipelined.
        assert_eq!(buf, b"GET");
        assert_eq!(head.uri, "/a?b");
        assert_eq!(head.view().fields.get("host"), Some(&b"x"[..]));
        assert!(head.keep_alive);
        assert_eq!(head.framing, Framing::Length(0));
        let head = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!head.keep_alive);
        // Host: optional on HTTP/1.0; a name, an address with a port, an IP literal.
        for host in ["x", "127.0.0.1:8280", "[::1]:8280", "api.example.com"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert!(parse(raw.as_bytes()).is_ok(), "{host:?}");
        }
        assert!(!head.http11);
        let head = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(head.keep_alive);
        let head = parse(
            b"POST / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\nContent-Length: 5\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert!(!head.keep_alive);
        assert_eq!(head.framing, Framing::Length(5));
        let head = parse(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(head.framing, Framing::Chunked);
        // Both framings: the connection ends after the answer (RFC 9112 §6.3).
        assert!(!head.keep_alive);
        // A router gets no `Content-Length` beside `Transfer-Encoding` (as from hyper).
        let request = head.to_request();
        assert!(!request.headers().contains_key(header::CONTENT_LENGTH));
        assert_eq!(request.headers()[header::TRANSFER_ENCODING], "chunked");
        let head = parse(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(head.keep_alive);
    }

    #[test]
    fn a_heads_end_is_found_only_past_where_the_scan_stopped() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(head_ends_after(head, 0));
        // Split anywhere, the end is found once its last byte has come.
        for cut in 0..head.len() {
            assert!(!head_ends_after(&head[..cut], 0), "{cut}");
            assert!(head_ends_after(head, cut), "{cut}");
        }
        assert!(head_ends_after(b"GET / HTTP/1.0\n\n", 14));
        assert!(!head_ends_after(b"GET / HTTP/1.1\r\nHost: x\r\n", 0));
    }

    #[test]
    fn bad_heads_get_hypers_statuses() {
        let bad = StatusCode::BAD_REQUEST;
        for (raw, want) in [
            (
                &b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"[..],
                bad,
            ),
            (b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", bad),
            (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", bad),
            (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,\r\n\r\n", bad),
            (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", bad),
            (b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", bad),
            (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", bad),
            (b"G@T / HTTP/1.1\r\n\r\n", bad),
            // RFC 9112 §3.2: no Host on HTTP/1.1, two, or an invalid one.
            (b"GET / HTTP/1.1\r\n\r\n", bad),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", bad),
            (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", bad),
            (b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", bad),
            (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", bad),
            // An http URI's host may not be empty (RFC 9110 §4.2.1).
            (b"GET / HTTP/1.1\r\nHost:\r\n\r\n", bad),
            (b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n", bad),
            (b"GET / HTTP/2.0\r\n\r\n", bad),
            // RFC 9112 §6.1: a transfer coding the server does not implement.
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                StatusCode::NOT_IMPLEMENTED,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
                StatusCode::NOT_IMPLEMENTED,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
                StatusCode::NOT_IMPLEMENTED,
            ),
        ] {
            assert_eq!(
                parse(raw).err(),
                Some(want),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        let many: String = (0..=MAX_HEADERS)
            .map(|i| format!("X-{i}: {i}\r\n"))
            .collect();
        let raw = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            parse(raw.as_bytes()).err(),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        // A name `HeaderName` cannot hold: 400, as when heads were read into a map.
        let long = "a".repeat(MAX_HEADER_NAME_LEN + 1);
        assert!(axum::http::HeaderName::from_bytes(long.as_bytes()).is_err());
        let raw = format!("GET / HTTP/1.1\r\nHost: x\r\n{long}: 1\r\n\r\n");
        assert!(raw.len() <= MAX_HEAD_BYTES);
        assert_eq!(parse(raw.as_bytes()).err(), Some(StatusCode::BAD_REQUEST));
        let raw = format!("GET / HTTP/1.1\r\nHost: x\r\n{}: 1\r\n\r\n", &long[1..]);
        assert!(parse(raw.as_bytes()).is_ok());
        let raw = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI_LEN));
        assert_eq!(parse(raw.as_bytes()).err(), Some(StatusCode::URI_TOO_LONG));
    }
}

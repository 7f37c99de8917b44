//! The load client's wire parsing, allocation-free in the hot loop: an HTTP/1.1 response
//! head, a chunked (or identity) body decoder and an SSE scanner that finds each event's
//! origin timestamp (`data: {"ts":<µs>,...}`).

use std::fmt;

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The status line or headers are not HTTP/1.x.
    BadHead(&'static str),
    /// The chunked body is malformed.
    BadChunk(&'static str),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BadHead(why) => write!(f, "bad response head: {why}"),
            WireError::BadChunk(why) => write!(f, "bad chunked body: {why}"),
        }
    }
}

impl std::error::Error for WireError {}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// How the body is framed.
    pub framing: Framing,
    /// Bytes the head takes, including the blank line.
    pub len: usize,
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length: n`.
    Length(u64),
    /// Until the connection closes.
    Close,
}

/// Parses a response head from the start of `buf`; `Ok(None)` when it is not complete yet.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, WireError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| WireError::BadHead("not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(WireError::BadHead("not HTTP/1.x"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(WireError::BadHead("no status code"))?;
    let mut framing = Framing::Close;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            if value.to_ascii_lowercase().contains("chunked") {
                framing = Framing::Chunked;
            }
        } else if name.eq_ignore_ascii_case("content-length") && framing != Framing::Chunked {
            let n = value
                .parse()
                .map_err(|_| WireError::BadHead("bad content-length"))?;
            framing = Framing::Length(n);
        }
    }
    Ok(Some(Head {
        status,
        framing,
        len: end + 4,
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerLineStart,
    TrailerLine,
    Done,
}

/// An incremental body decoder: feeds payload bytes to a sink, whatever the framing.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    framing: Framing,
    state: ChunkState,
    /// Chunk size being read, or bytes left in the current chunk / body.
    remaining: u64,
    size_digits: u32,
}

impl BodyDecoder {
    /// A decoder for a body with this framing.
    pub fn new(framing: Framing) -> BodyDecoder {
        let remaining = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        BodyDecoder {
            framing,
            state: ChunkState::Size,
            remaining,
            size_digits: 0,
        }
    }

    /// Whether the body has ended (last chunk or content length reached).
    pub fn done(&self) -> bool {
        match self.framing {
            Framing::Chunked => self.state == ChunkState::Done,
            Framing::Length(_) => self.remaining == 0,
            Framing::Close => false,
        }
    }

    /// Decodes `input`, passing payload slices to `sink`.
    pub fn feed(&mut self, input: &[u8], sink: &mut impl FnMut(&[u8])) -> Result<(), WireError> {
        match self.framing {
            Framing::Close => {
                sink(input);
                Ok(())
            }
            Framing::Length(_) => {
                let n = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                sink(&input[..n]);
                self.remaining -= n as u64;
                Ok(())
            }
            Framing::Chunked => self.feed_chunked(input, sink),
        }
    }

    fn feed_chunked(
        &mut self,
        input: &[u8],
        sink: &mut impl FnMut(&[u8]),
    ) -> Result<(), WireError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                ChunkState::Size => {
                    let b = input[i];
                    i += 1;
                    let digit = match b {
                        b'0'..=b'9' => Some(b - b'0'),
                        b'a'..=b'f' => Some(b - b'a' + 10),
                        b'A'..=b'F' => Some(b - b'A' + 10),
                        _ => None,
                    };
                    match (digit, b) {
                        (Some(d), _) => {
                            self.size_digits += 1;
                            if self.size_digits > 15 {
                                return Err(WireError::BadChunk("chunk size too large"));
                            }
                            self.remaining = self.remaining * 16 + u64::from(d);
                        }
                        (None, b';' | b' ' | b'\t') => self.state = ChunkState::Extension,
                        (None, b'\r') => self.state = ChunkState::SizeLf,
                        (None, b'\n') => self.end_size()?,
                        _ => return Err(WireError::BadChunk("bad chunk size")),
                    }
                }
                ChunkState::Extension => {
                    if input[i] == b'\n' {
                        self.end_size()?;
                    }
                    i += 1;
                }
                ChunkState::SizeLf => {
                    if input[i] != b'\n' {
                        return Err(WireError::BadChunk("CR without LF after chunk size"));
                    }
                    i += 1;
                    self.end_size()?;
                }
                ChunkState::Data => {
                    let n = usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    sink(&input[i..i + n]);
                    i += n;
                    self.remaining -= n as u64;
                    if self.remaining == 0 {
                        self.state = ChunkState::DataCr;
                    }
                }
                ChunkState::DataCr => {
                    self.state = match input[i] {
                        b'\r' => ChunkState::DataLf,
                        b'\n' => ChunkState::Size,
                        _ => return Err(WireError::BadChunk("no CRLF after chunk data")),
                    };
                    i += 1;
                }
                ChunkState::DataLf => {
                    if input[i] != b'\n' {
                        return Err(WireError::BadChunk("no LF after chunk data"));
                    }
                    i += 1;
                    self.state = ChunkState::Size;
                }
                ChunkState::TrailerLineStart => {
                    self.state = match input[i] {
                        b'\r' => ChunkState::TrailerLineStart,
                        b'\n' => ChunkState::Done,
                        _ => ChunkState::TrailerLine,
                    };
                    i += 1;
                }
                ChunkState::TrailerLine => {
                    if input[i] == b'\n' {
                        self.state = ChunkState::TrailerLineStart;
                    }
                    i += 1;
                }
                ChunkState::Done => return Ok(()),
            }
        }
        Ok(())
    }

    fn end_size(&mut self) -> Result<(), WireError> {
        if self.size_digits == 0 {
            return Err(WireError::BadChunk("empty chunk size"));
        }
        self.size_digits = 0;
        self.state = if self.remaining == 0 {
            ChunkState::TrailerLineStart
        } else {
            ChunkState::Data
        };
        Ok(())
    }
}

/// The longest line kept across reads; longer lines are cut (their timestamp, at the start,
/// survives).
const MAX_LINE: usize = 1024;

/// An incremental SSE scanner: counts dispatched events and reports each one's `ts`.
///
/// Lines end in LF or CRLF (a lone CR is not a line end here: the origin never sends one).
/// An event is dispatched by a blank line when it had a `data:` line; comment-only blocks
/// such as a gateway heartbeat are not events.
#[derive(Debug, Clone)]
pub struct SseScanner {
    /// The start of a line cut by a read boundary.
    partial: Vec<u8>,
    has_data: bool,
    ts: Option<u64>,
}

impl Default for SseScanner {
    fn default() -> Self {
        SseScanner {
            partial: Vec::with_capacity(256),
            has_data: false,
            ts: None,
        }
    }
}

impl SseScanner {
    /// Scans `input`; calls `on_event(ts)` for each event dispatched (`ts` is `None` when the
    /// event had no timestamp).
    pub fn feed(&mut self, mut input: &[u8], on_event: &mut impl FnMut(Option<u64>)) {
        while let Some(nl) = input.iter().position(|&b| b == b'\n') {
            let piece = &input[..nl];
            if self.partial.is_empty() {
                self.line(piece, on_event);
            } else {
                let room = MAX_LINE.saturating_sub(self.partial.len());
                self.partial
                    .extend_from_slice(&piece[..piece.len().min(room)]);
                let line = std::mem::take(&mut self.partial);
                self.line(&line, on_event);
                self.partial = line;
                self.partial.clear();
            }
            input = &input[nl + 1..];
        }
        let room = MAX_LINE.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&input[..input.len().min(room)]);
    }

    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(Option<u64>)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.has_data {
                on_event(self.ts.take());
            }
            self.has_data = false;
            self.ts = None;
        } else if let Some(value) = line.strip_prefix(b"data:") {
            self.has_data = true;
            if self.ts.is_none() {
                self.ts = parse_ts(value);
            }
        }
    }
}

/// The timestamp of a `data:` value of the form ` {"ts":123,...`.
fn parse_ts(value: &[u8]) -> Option<u64> {
    let value = value.strip_prefix(b" ").unwrap_or(value);
    let digits = value.strip_prefix(b"{\"ts\":")?;
    let mut ts: u64 = 0;
    let mut any = false;
    for &b in digits {
        if !b.is_ascii_digit() {
            break;
        }
        ts = ts.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        any = true;
    }
    any.then_some(ts)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn decode_all(framing: Framing, pieces: &[&[u8]]) -> Vec<u8> {
        let mut d = BodyDecoder::new(framing);
        let mut out = Vec::new();
        for p in pieces {
            d.feed(p, &mut |s: &[u8]| out.extend_from_slice(s)).unwrap();
        }
        out
    }

    #[test]
    fn head_with_chunked_framing_is_parsed() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\nrest";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.framing, Framing::Chunked);
        assert_eq!(&raw[head.len..], b"rest");
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\n").unwrap(), None);
        assert!(parse_head(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[test]
    fn chunked_body_is_decoded_across_any_split() {
        let raw: &[u8] = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n";
        for cut in 0..raw.len() {
            let out = decode_all(Framing::Chunked, &[&raw[..cut], &raw[cut..]]);
            assert_eq!(out, b"hello, world", "cut at {cut}");
        }
        let mut d = BodyDecoder::new(Framing::Chunked);
        d.feed(raw, &mut |_: &[u8]| {}).unwrap();
        assert!(d.done());
    }

    #[test]
    fn bad_chunk_size_is_an_error() {
        let mut d = BodyDecoder::new(Framing::Chunked);
        assert!(d.feed(b"zz\r\n", &mut |_: &[u8]| {}).is_err());
    }

    #[test]
    fn scanner_reports_timestamps_and_skips_comments() {
        let raw: &[u8] = b": heartbeat\n\nid: 1\ndata: {\"ts\":42,\"seq\":1}\n\nid: 2\r\ndata: {\"ts\":43}\r\n\r\ndata: plain\n\n";
        for cut in 0..raw.len() {
            let mut s = SseScanner::default();
            let mut seen = Vec::new();
            s.feed(&raw[..cut], &mut |ts| seen.push(ts));
            s.feed(&raw[cut..], &mut |ts| seen.push(ts));
            assert_eq!(seen, vec![Some(42), Some(43), None], "cut at {cut}");
        }
    }
}

//! The gateway's own HTTP/1.1 client codec for a stream's backend connection (RFC 9112):
//! the request head writer, the response head parser (on `httparse`, what hyper uses) and
//! an incremental body decoder (`chunked`, `Content-Length` and close-delimited). Pure
//! functions over byte slices, with no I/O: [`super::upstream`] drives them on the
//! socket, reading into a per-thread scratch buffer, so an idle stream holds no buffer.
//!
//! The head is read into an [`AnswerHead`]: the status, the version and the few fields the
//! gateway acts on, with no header map (every field is still checked as valid). The rules
//! follow hyper 1.x's client (which the property tests in `tests/h1_props.rs` compare this
//! codec with): at most [`MAX_HEADERS`] header fields and [`MAX_HEAD_BYTES`]
//! of head; 1xx answers other than 101 skipped; 101, 204 and 304 have no body; a
//! `Transfer-Encoding` whose last coding is `chunked` is decoded, any other one makes the
//! body close-delimited (the gateway then refuses the answer, see
//! `unknown_transfer_coding`); an HTTP/1.0 answer with `Transfer-Encoding` or any answer
//! with an invalid or conflicting `Content-Length` is refused; chunk sizes must be hex and
//! fit 64 bits, chunk extensions are skipped (at most [`MAX_EXTENSION_BYTES`] per body)
//! and trailer fields are read and dropped (at most [`MAX_TRAILERS`] lines and
//! [`MAX_TRAILER_BYTES`]).

use std::mem::MaybeUninit;

use axum::http::header::HeaderValue;
use axum::http::{StatusCode, Version};

/// The most bytes a response head (with any 1xx heads before it) may take: 64 KiB.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most header fields in one response head (hyper's default).
pub const MAX_HEADERS: usize = 100;
/// The most bytes of chunk extensions in one body (hyper's bound).
pub const MAX_EXTENSION_BYTES: u64 = 16 * 1024;
/// The most bytes of trailer section in a chunked body (hyper's bound).
pub const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// The most trailer fields in a chunked body (hyper's bound).
pub const MAX_TRAILERS: usize = 100;

/// The request head of `GET target HTTP/1.1` with `Host: host[:port]` first (RFC 9110
/// §7.2), then `header_lines` as they are (see [`push_header_line`]). The target is in
/// origin-form and the host as a URL holds it (both encoded, so neither holds a space, CR
/// or LF). One request per connection: no `Connection` header is added, and no second
/// request is ever sent.
pub fn request_head(target: &str, host: &str, port: Option<u16>, header_lines: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(40 + target.len() + host.len() + header_lines.len());
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    if let Some(port) = port {
        out.push(b':');
        // Decimal digits, most significant first, without the formatting machinery.
        let mut text = [0u8; 5];
        let mut at = text.len();
        let mut rest = port;
        loop {
            at -= 1;
            text[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        out.extend_from_slice(&text[at..]);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(header_lines);
    out.extend_from_slice(b"\r\n");
    out
}

/// Appends the header line `name: value` CRLF (RFC 9112 §5) to `out`. `name` and `value`
/// come from a parsed `HeaderMap` or are constants, so they hold no CR or LF.
pub fn push_header_line(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends the field line `name: value` with `name` lowercased (a request's field name
/// as its client wrote it, RFC 9110 §5.1: case-insensitive).
pub fn push_header_line_lowercase(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend(name.iter().map(u8::to_ascii_lowercase));
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// How a response's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` bytes (0 for 101, 204 and 304 answers).
    Length(u64),
    /// `Transfer-Encoding: ... chunked`.
    Chunked,
    /// Until the backend closes the connection: no length and no `chunked` (HTTP/1.0
    /// style), or a transfer coding other than `chunked` last.
    Close,
}

/// What the gateway reads of a backend's answer head: its status, its version and the
/// few fields it acts on (the first line of each, but `Transfer-Encoding`'s, which are one
/// list). The other fields are checked as valid and dropped: the gateway passes on only
/// the status, the `Content-Type` and the body of a non-stream answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerHead {
    /// The status code.
    pub status: StatusCode,
    /// HTTP/1.1, or HTTP/1.0.
    pub version: Version,
    /// `Content-Type`.
    pub content_type: Option<HeaderValue>,
    /// `Content-Encoding`: the first line that names a coding (not empty, not
    /// `identity`), else the first line.
    pub content_encoding: Option<HeaderValue>,
    /// `Location` (followed on a redirect).
    pub location: Option<HeaderValue>,
    /// The `Transfer-Encoding` lines' codings, if there are any.
    pub transfer_codings: Option<TransferCodings>,
}

/// Whether a `Content-Encoding` line names a coding: not empty and not `identity`.
fn names_coding(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    !value.is_empty() && !value.eq_ignore_ascii_case(b"identity")
}

/// An answer's `Transfer-Encoding` lines, as one list (RFC 9112 §6.1, RFC 9110 §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferCodings {
    /// Whether the list's last coding is `chunked` (the body is then chunked, else it runs
    /// to the connection's end).
    pub chunked_last: bool,
    /// The whole list, lines joined with `, `, when it names a coding other than
    /// `chunked` (which the gateway does not decode); else `None`.
    pub unknown: Option<String>,
}

/// A complete response head.
#[derive(Debug)]
pub struct Head {
    /// Status, version and the fields the gateway reads (the reason phrase is dropped).
    pub answer: AnswerHead,
    /// How the body that follows is delimited.
    pub framing: Framing,
    /// Bytes of input the head took, any skipped 1xx heads included; the body starts here.
    pub len: usize,
}

/// Why a response head was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Not an HTTP/1.x response head (`httparse`'s reason).
    #[error("the answer is not a valid HTTP/1.x response head: {0}")]
    Invalid(httparse::Error),
    /// More than [`MAX_HEAD_BYTES`] without a complete head.
    #[error("the response head is larger than {MAX_HEAD_BYTES} bytes")]
    TooLarge,
    /// A status code outside 100-999.
    #[error("invalid status code {0}")]
    Status(u16),
    /// A header field that is not a valid name or value.
    #[error("invalid header field {0:?}")]
    Header(String),
    /// `Content-Length` not a decimal number, several that differ, or one above
    /// `u64::MAX - 2` (hyper's bound).
    #[error("invalid Content-Length")]
    ContentLength,
    /// `Transfer-Encoding` in an HTTP/1.0 answer (RFC 9112 §6.1: the framing is faulty).
    #[error("Transfer-Encoding in an HTTP/1.0 answer")]
    TransferEncodingOnHttp10,
}

/// Parses the response head at the start of `buf`, skipping 1xx interim answers.
/// `Ok(None)`: incomplete, call again with more bytes (from the start of the same
/// buffer). Errors as [`HeadError`]; `buf` holding [`MAX_HEAD_BYTES`] or more without a
/// complete head is [`HeadError::TooLarge`].
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, HeadError> {
    let mut start = 0;
    loop {
        let rest = buf.get(start..).unwrap_or_default();
        // Not initialised first: httparse writes each field it parses.
        let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut parsed,
            rest,
            &mut fields,
        ) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => {
                return Err(HeadError::TooLarge);
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(HeadError::Invalid(e)),
        };
        let end = start + len;
        if end > MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
        let code = parsed.code.unwrap_or(0);
        let status = StatusCode::from_u16(code).map_err(|_| HeadError::Status(code))?;
        if status.is_informational() && code != 101 {
            // An interim answer (100 Continue, 103 Early Hints): the real one follows.
            start = end;
            if start == buf.len() {
                return Ok(None);
            }
            continue;
        }
        let version = if parsed.version == Some(1) {
            Version::HTTP_11
        } else {
            Version::HTTP_10
        };
        let mut answer = AnswerHead {
            status,
            version,
            content_type: None,
            content_encoding: None,
            location: None,
            transfer_codings: None,
        };
        // Whether a `Transfer-Encoding` line names a coding other than `chunked`.
        let mut te_unknown = false;
        let mut length = Ok(None);
        for field in parsed.headers.iter() {
            // httparse holds names to tokens (http's `HeaderName` set) and values to what
            // `HeaderValue` takes (visible ASCII, obs-text, spaces and tabs); checked
            // again here, as the header map's construction did.
            if !field
                .value
                .iter()
                .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
            {
                return Err(HeadError::Header(field.name.to_string()));
            }
            let name = field.name;
            let value = || HeaderValue::from_bytes(field.value);
            if name.eq_ignore_ascii_case("content-type") {
                if answer.content_type.is_none() {
                    answer.content_type = value().ok();
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                let codings = || field.value.split(|b| *b == b',').map(<[u8]>::trim_ascii);
                te_unknown |=
                    codings().any(|c| !c.is_empty() && !c.eq_ignore_ascii_case(b"chunked"));
                // As hyper reads it: the last line's last coding, and a line that is not
                // visible ASCII is not chunked.
                let chunked_last = visible_ascii(field.value)
                    && field
                        .value
                        .rsplit(|b| *b == b',')
                        .next()
                        .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
                answer.transfer_codings = Some(TransferCodings {
                    chunked_last,
                    unknown: None,
                });
            } else if name.eq_ignore_ascii_case("content-length") {
                length = length.and_then(|known| content_length(known, field.value));
            } else if name.eq_ignore_ascii_case("content-encoding") {
                // Several lines are one list (RFC 9110 §5.3): `identity` on one and `gzip`
                // on the next is gzip, so the first line naming a coding is kept.
                let replace = match &answer.content_encoding {
                    None => true,
                    Some(kept) => !names_coding(kept.as_bytes()) && names_coding(field.value),
                };
                if replace && let Ok(v) = value() {
                    answer.content_encoding = Some(v);
                }
            } else if name.eq_ignore_ascii_case("location") && answer.location.is_none() {
                answer.location = value().ok();
            }
        }
        if te_unknown && let Some(list) = &mut answer.transfer_codings {
            // Built only to say why: every line, in order.
            let lines: Vec<_> = parsed
                .headers
                .iter()
                .filter(|f| f.name.eq_ignore_ascii_case("transfer-encoding"))
                .map(|f| String::from_utf8_lossy(f.value))
                .collect();
            list.unknown = Some(lines.join(", "));
        }
        let framing = framing(code, &answer, length)?;
        return Ok(Some(Head {
            answer,
            framing,
            len: end,
        }));
    }
}

/// The body's framing from the status and header fields (RFC 9112 §6.3, as hyper reads
/// it); `length` is what the `Content-Length` lines came to.
fn framing(
    code: u16,
    answer: &AnswerHead,
    length: Result<Option<u64>, HeadError>,
) -> Result<Framing, HeadError> {
    if matches!(code, 101 | 204 | 304) {
        return Ok(Framing::Length(0));
    }
    if let Some(list) = &answer.transfer_codings {
        if answer.version == Version::HTTP_10 {
            return Err(HeadError::TransferEncodingOnHttp10);
        }
        // `chunked` must be the last coding; with another one last the body runs to the
        // connection's end.
        return Ok(if list.chunked_last {
            Framing::Chunked
        } else {
            Framing::Close
        });
    }
    match length? {
        // hyper's bound (its `DecodedLength`): the two largest values are its markers for
        // "chunked" and "to the close", and a body that long cannot come.
        Some(len) if len > MAX_CONTENT_LENGTH => Err(HeadError::ContentLength),
        Some(len) => Ok(Framing::Length(len)),
        None => Ok(Framing::Close),
    }
}

/// The largest `Content-Length` taken (hyper's: `u64::MAX - 2`).
const MAX_CONTENT_LENGTH: u64 = u64::MAX - 2;

/// `known` (the length so far) after one more `Content-Length` line `value`: a list of
/// decimal numbers that must all agree.
fn content_length(known: Option<u64>, value: &[u8]) -> Result<Option<u64>, HeadError> {
    // Visible ASCII only (as hyper's `to_str`): a byte above 0x7f, even one of Unicode's
    // spaces, makes it invalid, not trimmed.
    if !visible_ascii(value) {
        return Err(HeadError::ContentLength);
    }
    let text = std::str::from_utf8(value).map_err(|_| HeadError::ContentLength)?;
    let mut length = known;
    for part in text.split(',') {
        let n = decimal(part.trim()).ok_or(HeadError::ContentLength)?;
        if length.is_some_and(|l| l != n) {
            return Err(HeadError::ContentLength);
        }
        length = Some(n);
    }
    Ok(length)
}

/// Whether `value` is what `HeaderValue::to_str` (and so hyper) reads as text: visible
/// ASCII, spaces and tabs.
pub(crate) fn visible_ascii(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// A non-empty string of ASCII digits as a `u64` (no sign, no overflow).
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        let digit = b.is_ascii_digit().then(|| u64::from(b - b'0'))?;
        n.checked_mul(10)?.checked_add(digit)
    })
}

/// Why a response body could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Broken `chunked` framing: a chunk size that is not hex or overflows 64 bits, a
    /// missing CRLF, extensions or trailers over their bounds.
    #[error("invalid chunked body: {0}")]
    Chunked(&'static str),
    /// The connection ended before the body's declared end (`Content-Length`, or the
    /// last chunk of a chunked body).
    #[error("the back end closed the connection before the end of the body")]
    Incomplete,
    /// Reading the socket failed.
    #[error("reading from the back end failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Where a chunked body's decoder is (hyper's states, one byte of framing at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Before the first hex digit of a chunk size.
    Start,
    /// In the chunk size.
    Size,
    /// Whitespace after the chunk size.
    SizeLws,
    /// In a chunk extension (skipped).
    Extension,
    /// The LF ending the chunk size line.
    SizeLf,
    /// In the chunk's data.
    Data,
    /// The CR after the chunk's data.
    DataCr,
    /// The LF after the chunk's data.
    DataLf,
    /// After the last chunk or a trailer line: CR of the end, or a trailer line.
    EndCr,
    /// In a trailer line (dropped).
    Trailer,
    /// The LF ending a trailer line.
    TrailerLf,
    /// The LF of the body's end.
    EndLf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Length(u64),
    Chunked {
        state: Chunk,
        /// The chunk size being read, then the data left of the chunk.
        size: u64,
        extension_bytes: u64,
        trailer_bytes: usize,
        trailers: usize,
    },
    Close,
    Done,
}

/// An incremental response body decoder: feed it the bytes after the head in slices of
/// any size ([`Decoder::decode`]), then tell it when the connection ends
/// ([`Decoder::eof`]). It keeps no buffer, only a few counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoder {
    kind: Kind,
}

impl Decoder {
    /// A decoder for a body delimited as `framing`.
    pub fn new(framing: Framing) -> Self {
        let kind = match framing {
            Framing::Length(0) => Kind::Done,
            Framing::Length(n) => Kind::Length(n),
            Framing::Chunked => Kind::Chunked {
                state: Chunk::Start,
                size: 0,
                extension_bytes: 0,
                trailer_bytes: 0,
                trailers: 0,
            },
            Framing::Close => Kind::Close,
        };
        Self { kind }
    }

    /// Whether the body has ended (its length reached or its last chunk and trailers
    /// read); bytes after that are not the body's.
    pub fn is_done(&self) -> bool {
        self.kind == Kind::Done
    }

    /// The connection ended: fine for a close-delimited body or one already complete,
    /// else [`BodyError::Incomplete`].
    pub fn eof(&mut self) -> Result<(), BodyError> {
        match self.kind {
            Kind::Close | Kind::Done => {
                self.kind = Kind::Done;
                Ok(())
            }
            _ => Err(BodyError::Incomplete),
        }
    }

    /// Decodes `input`, handing each part of body data in it to `data` in order (slices
    /// of `input`, never empty). Takes all of `input`: bytes after the body's end are
    /// ignored. After an error the decoder must not be used again.
    pub fn decode<'a>(
        &mut self,
        input: &'a [u8],
        mut data: impl FnMut(&'a [u8]),
    ) -> Result<(), BodyError> {
        let mut pos = 0;
        while pos < input.len() {
            let rest = input.get(pos..).unwrap_or_default();
            match &mut self.kind {
                Kind::Done => return Ok(()),
                Kind::Close => {
                    data(rest);
                    return Ok(());
                }
                Kind::Length(left) => {
                    let take = take(*left, rest.len());
                    data(rest.get(..take).unwrap_or_default());
                    *left -= take as u64;
                    pos += take;
                    if *left == 0 {
                        self.kind = Kind::Done;
                    }
                }
                Kind::Chunked {
                    state: state @ Chunk::Data,
                    size,
                    ..
                } => {
                    let take = take(*size, rest.len());
                    data(rest.get(..take).unwrap_or_default());
                    *size -= take as u64;
                    pos += take;
                    if *size == 0 {
                        *state = Chunk::DataCr;
                    }
                }
                Kind::Chunked { .. } => {
                    let byte = rest.first().copied().unwrap_or_default();
                    pos += 1;
                    if self.framing_byte(byte)? {
                        self.kind = Kind::Done;
                    }
                }
            }
        }
        Ok(())
    }

    /// One byte of chunked framing; `true` at the body's end.
    fn framing_byte(&mut self, byte: u8) -> Result<bool, BodyError> {
        let Kind::Chunked {
            state,
            size,
            extension_bytes,
            trailer_bytes,
            trailers,
        } = &mut self.kind
        else {
            return Ok(false);
        };
        let next = match (*state, byte) {
            (Chunk::Start | Chunk::Size, b) if b.is_ascii_hexdigit() => {
                let digit = u64::from(hex(b));
                *size = size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(digit))
                    .ok_or(BodyError::Chunked("chunk size overflows 64 bits"))?;
                Chunk::Size
            }
            (Chunk::Start, _) => return Err(BodyError::Chunked("chunk size is not hex")),
            (Chunk::Size | Chunk::SizeLws, b' ' | b'\t') => Chunk::SizeLws,
            (Chunk::Size | Chunk::SizeLws, b';') => Chunk::Extension,
            (Chunk::Size | Chunk::SizeLws, b'\r') => Chunk::SizeLf,
            (Chunk::Size, _) => return Err(BodyError::Chunked("chunk size is not hex")),
            (Chunk::SizeLws, _) => {
                return Err(BodyError::Chunked("invalid whitespace after a chunk size"));
            }
            (Chunk::Extension, b'\r') => Chunk::SizeLf,
            (Chunk::Extension, b'\n') => {
                return Err(BodyError::Chunked("a chunk extension contains a bare LF"));
            }
            (Chunk::Extension, _) => {
                *extension_bytes += 1;
                if *extension_bytes >= MAX_EXTENSION_BYTES {
                    return Err(BodyError::Chunked("chunk extensions over their bound"));
                }
                Chunk::Extension
            }
            (Chunk::SizeLf, b'\n') if *size == 0 => Chunk::EndCr,
            (Chunk::SizeLf, b'\n') => Chunk::Data,
            (Chunk::SizeLf, _) => return Err(BodyError::Chunked("no LF after a chunk size")),
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataCr, _) => return Err(BodyError::Chunked("no CR after chunk data")),
            (Chunk::DataLf, b'\n') => {
                *size = 0;
                Chunk::Start
            }
            (Chunk::DataLf, _) => return Err(BodyError::Chunked("no LF after chunk data")),
            (Chunk::EndCr, b'\r') => {
                count_trailer_byte(trailer_bytes, *trailers > 0)?;
                Chunk::EndLf
            }
            (Chunk::EndCr, _) => {
                count_trailer_byte(trailer_bytes, true)?;
                Chunk::Trailer
            }
            (Chunk::Trailer, b'\r') => {
                count_trailer_byte(trailer_bytes, true)?;
                Chunk::TrailerLf
            }
            (Chunk::Trailer, _) => {
                count_trailer_byte(trailer_bytes, true)?;
                Chunk::Trailer
            }
            (Chunk::TrailerLf, b'\n') => {
                if *trailers >= MAX_TRAILERS {
                    return Err(BodyError::Chunked("more trailer fields than allowed"));
                }
                *trailers += 1;
                count_trailer_byte(trailer_bytes, true)?;
                Chunk::EndCr
            }
            (Chunk::TrailerLf, _) => {
                return Err(BodyError::Chunked("no LF after a trailer field"));
            }
            (Chunk::EndLf, b'\n') => return Ok(true),
            (Chunk::EndLf, _) => return Err(BodyError::Chunked("no LF at the body's end")),
            (Chunk::Data, _) => Chunk::Data,
        };
        *state = next;
        Ok(false)
    }
}

/// Counts a byte of the trailer section (when `counted`), refusing at the bound.
fn count_trailer_byte(bytes: &mut usize, counted: bool) -> Result<(), BodyError> {
    if counted {
        *bytes += 1;
        if *bytes >= MAX_TRAILER_BYTES {
            return Err(BodyError::Chunked("trailer fields over their bound"));
        }
    }
    Ok(())
}

/// The value of an ASCII hex digit.
fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// The most of `available` bytes that fit in `left`.
fn take(left: u64, available: usize) -> usize {
    usize::try_from(left).map_or(available, |l| l.min(available))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes, then the end of the connection.
    fn decode_all(framing: Framing, input: &[u8], step: usize) -> Result<Vec<u8>, BodyError> {
        let mut decoder = Decoder::new(framing);
        let mut out = Vec::new();
        for piece in input.chunks(step.max(1)) {
            decoder.decode(piece, |d| {
                assert!(!d.is_empty());
                out.extend_from_slice(d);
            })?;
        }
        decoder.eof()?;
        Ok(out)
    }

    #[test]
    fn the_request_head_has_the_target_host_and_headers() {
        let mut lines = Vec::new();
        push_header_line(&mut lines, "last-event-id", b"41");
        let head = request_head("/base/events?x=1", "b", Some(8080), &lines);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /base/events?x=1 HTTP/1.1\r\nhost: b:8080\r\nlast-event-id: 41\r\n\r\n"
        );
        let head = request_head("/", "[::1]", None, &[]);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET / HTTP/1.1\r\nhost: [::1]\r\n\r\n"
        );
    }

    #[test]
    fn a_head_is_parsed_incrementally_and_interim_answers_are_skipped() {
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
            HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-A: 1\r\ncontent-type: x/y\r\n\
            LOCATION: /next\r\nContent-Encoding: identity\r\n\r\ndata";
        let body_at = bytes.len() - 4;
        for cut in 0..body_at {
            assert!(parse_head(&bytes[..cut]).unwrap().is_none(), "cut at {cut}");
        }
        let head = parse_head(bytes).unwrap().unwrap();
        assert_eq!(head.len, body_at);
        assert_eq!(head.answer.status, StatusCode::OK);
        assert_eq!(head.answer.version, Version::HTTP_11);
        assert_eq!(head.framing, Framing::Close);
        // The first line of each field read, names in any case; the others dropped.
        assert_eq!(
            head.answer.content_type.as_ref().map(|v| v.as_bytes()),
            Some(&b"text/event-stream"[..])
        );
        assert_eq!(
            head.answer.location.as_ref().map(|v| v.as_bytes()),
            Some(&b"/next"[..])
        );
        assert_eq!(
            head.answer.content_encoding.as_ref().map(|v| v.as_bytes()),
            Some(&b"identity"[..])
        );
        assert_eq!(head.answer.transfer_codings, None);
        // Content-Encoding lines are one list: a coding on a later line is the one kept.
        for (lines, want) in [
            (
                "Content-Encoding: identity\r\nContent-Encoding: gzip\r\n",
                "gzip",
            ),
            ("Content-Encoding: \r\ncontent-encoding: br\r\n", "br"),
            (
                "Content-Encoding: gzip\r\nContent-Encoding: identity\r\n",
                "gzip",
            ),
            (
                "Content-Encoding: identity\r\nContent-Encoding: Identity\r\n",
                "identity",
            ),
        ] {
            let raw = format!("HTTP/1.1 200 OK\r\n{lines}\r\n");
            let head = parse_head(raw.as_bytes()).unwrap().unwrap();
            assert_eq!(
                head.answer.content_encoding.as_ref().map(|v| v.as_bytes()),
                Some(want.as_bytes()),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn framing_follows_the_status_and_headers() {
        let framing = |head: &str| parse_head(head.as_bytes()).map(|h| h.unwrap().framing);
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            Ok(Framing::Close)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n"),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            framing("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
            Ok(Framing::Length(0))
        );
        assert_eq!(framing("HTTP/1.0 200 OK\r\n\r\n"), Ok(Framing::Close));
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"),
            Err(HeadError::ContentLength)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n"),
            Err(HeadError::ContentLength)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            Err(HeadError::ContentLength)
        );
        // hyper's bound: u64::MAX - 2 is taken, the two above it refused.
        for (len, ok) in [
            (u64::MAX - 2, true),
            (u64::MAX - 1, false),
            (u64::MAX, false),
        ] {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
            let want = if ok {
                Ok(Framing::Length(len))
            } else {
                Err(HeadError::ContentLength)
            };
            assert_eq!(framing(&head), want, "{len}");
        }
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HeadError::TransferEncodingOnHttp10)
        );
    }

    #[test]
    fn garbage_oversize_and_too_many_headers_are_refused() {
        assert!(matches!(
            parse_head(b"SSH-2.0-OpenSSH\r\n"),
            Err(HeadError::Invalid(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 099 Low\r\n\r\n"),
            Err(HeadError::Status(99) | HeadError::Invalid(_))
        ));
        let mut big = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        big.resize(MAX_HEAD_BYTES, b'a');
        assert_eq!(parse_head(&big).unwrap_err(), HeadError::TooLarge);
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse_head(&big).unwrap_err(), HeadError::TooLarge);
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_head(&many).unwrap_err(),
            HeadError::Invalid(httparse::Error::TooManyHeaders)
        );
    }

    #[test]
    fn chunked_bodies_decode_at_every_split() {
        let body = b"5;name=value\r\nhello\r\n1 \t\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
        for step in 1..=body.len() {
            assert_eq!(
                decode_all(Framing::Chunked, body, step).unwrap(),
                b"hello 0123456789",
                "step {step}"
            );
        }
    }

    #[test]
    fn bytes_after_the_end_are_not_body() {
        let mut decoder = Decoder::new(Framing::Chunked);
        let mut out = Vec::new();
        decoder
            .decode(b"2\r\nab\r\n0\r\n\r\nHTTP/1.1 200", |d| {
                out.extend_from_slice(d)
            })
            .unwrap();
        assert!(decoder.is_done());
        assert_eq!(out, b"ab");
        assert_eq!(
            decode_all(Framing::Length(3), b"abcdef", 2).unwrap(),
            b"abc"
        );
    }

    #[test]
    fn broken_chunking_is_an_error() {
        let bad: [&[u8]; 8] = [
            b"x\r\n",
            b"5x\r\n",
            b"1 1\r\n",
            b"5\rX",
            b"2\r\nabX",
            b"2\r\nab\rX",
            b"1;ext\nX",
            b"10000000000000000\r\n",
        ];
        for body in bad {
            assert!(
                matches!(
                    decode_all(Framing::Chunked, body, 1),
                    Err(BodyError::Chunked(_))
                ),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(matches!(
            decode_all(Framing::Chunked, b"5\r\nhel", 1),
            Err(BodyError::Incomplete)
        ));
        assert!(matches!(
            decode_all(Framing::Length(5), b"hel", 1),
            Err(BodyError::Incomplete)
        ));
        assert_eq!(
            decode_all(Framing::Close, b"till the end", 5).unwrap(),
            b"till the end"
        );
    }

    #[test]
    fn extensions_and_trailers_are_bounded() {
        let mut long_ext = b"1;".to_vec();
        long_ext.resize(MAX_EXTENSION_BYTES as usize + 8, b'e');
        assert!(matches!(
            decode_all(Framing::Chunked, &long_ext, 4096),
            Err(BodyError::Chunked(_))
        ));
        let mut many = b"0\r\n".to_vec();
        for i in 0..=MAX_TRAILERS {
            many.extend_from_slice(format!("t{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(matches!(
            decode_all(Framing::Chunked, &many, 4096),
            Err(BodyError::Chunked(_))
        ));
    }
}

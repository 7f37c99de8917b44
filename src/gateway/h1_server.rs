//! The gateway's own HTTP/1.1 server connection loop for its plain port: one task per
//! connection reads request heads with `httparse` (RFC 9112), calls the gateway's router
//! for every request, writes non-stream answers itself (`Content-Length`, or chunked when
//! the length is unknown), and drives an admitted stream's [`Relay`] in the same task:
//! each chunk goes straight to the socket (`write_vectored` of size line, data and CRLF),
//! nothing is pulled from the relay while a write waits (back-pressure), and a client that
//! hangs up is noticed at once, even on an idle stream, which drops the relay and so closes
//! the backend connection. The head buffer is freed once a stream starts, so an open
//! stream holds no read or write buffer.
//!
//! The bounds are hyper's and the listener's: a request head must arrive within the
//! header read timeout (also the idle keep-alive timeout), at most [`MAX_HEAD_BYTES`]
//! (else 431), [`MAX_HEADERS`] header lines (else 431), a target of at most
//! [`MAX_URI_LEN`] bytes (else 414); a malformed head is answered 400 and the connection
//! closed. A request body (`Content-Length` or chunked) of at most [`MAX_DISCARDED_BODY`]
//! is read within the same deadline and discarded (the gateway serves `GET`), a larger one
//! is answered 413. A client that accepts no bytes for the send timeout while data waits
//! is closed. `Connection: close` and HTTP/1.0 (keep-alive only when asked for) are
//! honoured; other answers keep the connection open for the next request.

use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version, header};
use axum::response::Response;
use http_body_util::BodyExt;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::telemetry::Metrics;

use super::listener::{HeadGuard, ListenerOptions};
use super::relay::Relay;

/// The most bytes a request head may take (hyper's default read buffer limit, 8 KiB plus
/// 100 header lines of 4 KiB); a longer head is answered 431.
pub const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;
/// The most header lines a request head may have (hyper's default); more is answered 431.
pub const MAX_HEADERS: usize = 100;
/// The longest request target, in bytes (hyper's limit); a longer one is answered 414.
pub const MAX_URI_LEN: usize = u16::MAX as usize - 1;
/// The largest request body read and discarded (bytes, as nginx's `client_max_body_size`
/// default); a larger one is answered 413 and the connection closed.
pub const MAX_DISCARDED_BODY: u64 = 1024 * 1024;
/// Capacity of a connection's head buffer when it starts reading a request.
const HEAD_BUFFER: usize = 4096;

/// A stream's relay, put in the response's extensions by the gateway (with an empty body)
/// for the connection loop to drive; [`relay_into_body`] turns it into a body for hyper.
/// Boxed: the connection's future would otherwise hold the relay twice (the argument of
/// `stream_relay` and its moved local), ~600 bytes more for every open stream.
#[derive(Clone)]
pub(super) struct RelaySlot(Arc<Mutex<Option<Box<Relay>>>>);

impl RelaySlot {
    /// A slot holding `relay`.
    pub(super) fn new(relay: Relay) -> Self {
        Self(Arc::new(Mutex::new(Some(Box::new(relay)))))
    }

    /// Takes the relay out (once).
    fn take(&self) -> Option<Box<Relay>> {
        self.0.lock().ok()?.take()
    }
}

/// For connections served by hyper (the TLS port, the HTTP/2 ones): a response carrying a
/// [`RelaySlot`] gets the relay as its streaming body; others are unchanged.
pub(super) fn relay_into_body(mut response: Response) -> Response {
    if let Some(relay) = response
        .extensions_mut()
        .remove::<RelaySlot>()
        .and_then(|slot| slot.take())
    {
        // The router set `content-length: 0` for the empty body it saw.
        response.headers_mut().remove(header::CONTENT_LENGTH);
        *response.body_mut() = Body::from_stream((*relay).into_stream());
    }
    response
}

/// One accepted plain connection and what serving it needs.
pub(super) struct Connection {
    /// The client's socket.
    pub stream: TcpStream,
    /// The client's address, given to requests as `ConnectInfo`.
    pub peer: SocketAddr,
    /// The gateway's routes.
    pub router: Router,
    /// Header read and send timeouts.
    pub options: ListenerOptions,
    /// Where slow clients and send timeouts are counted.
    pub metrics: Arc<Metrics>,
    /// The connection's place among those without a complete head, released at the first.
    pub head: Option<Arc<HeadGuard>>,
    /// Turns true when the listener shuts down: idle connections close, answers in flight
    /// complete, nothing is kept alive.
    pub stop: watch::Receiver<bool>,
}

/// How a request's body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
}

/// A parsed request head.
struct Head {
    request: axum::http::Request<Body>,
    framing: Framing,
    keep_alive: bool,
    expect_continue: bool,
}

/// What serving one request came to.
enum Step {
    /// The answer was written (or the connection is to close): what comes next.
    Answered(io::Result<Next>),
    /// The answer is a stream: its relay and the start of its head, to be driven by the
    /// connection's task.
    Stream {
        relay: Box<Relay>,
        head: Vec<u8>,
        http11: bool,
        keep_alive: bool,
    },
}

/// What ended a request's answer.
enum Next {
    /// The connection may serve another request.
    KeepAlive,
    /// The connection is to be closed.
    Close,
}

/// Why a connection stops reading.
enum Refusal {
    /// Answer with this status, then close.
    Status(StatusCode),
    /// Close without an answer (EOF, error, timeout, shutdown).
    Close,
}

impl Connection {
    /// Serves requests until the client closes, a bound is hit, an answer asks for close or
    /// the listener shuts down.
    pub(super) async fn run(mut self) {
        let mut buf: Vec<u8> = Vec::new();
        loop {
            // Boxed, and dropped before a stream starts: the request's state (its head, the
            // request, the router's call) would otherwise size every open stream's task.
            let step = Box::pin(self.serve_request(&mut buf)).await;
            let answered = match step {
                Step::Stream {
                    relay,
                    head,
                    http11,
                    keep_alive,
                } => {
                    // Nothing but the relay and the socket stays: an open stream holds no
                    // buffer (pipelined bytes after a stream request are dropped).
                    buf = Vec::new();
                    self.stream_relay(relay, head, http11, keep_alive).await
                }
                Step::Answered(answered) => answered,
            };
            match answered {
                Ok(Next::KeepAlive) => {}
                Ok(Next::Close) => return,
                Err(e) => {
                    tracing::debug!("connection from {}: {e}", self.peer);
                    return;
                }
            }
            if buf.is_empty() {
                // An idle kept-alive connection holds no buffer.
                buf = Vec::new();
            }
        }
    }

    /// Reads one request, calls the router and answers it, unless the answer is a stream,
    /// which is handed back to be driven by [`Connection::run`].
    async fn serve_request(&mut self, buf: &mut Vec<u8>) -> Step {
        if *self.stop.borrow() {
            return Step::Answered(Ok(Next::Close));
        }
        let head = match self.read_head(buf).await {
            Ok(head) => head,
            Err(Refusal::Status(status)) => {
                self.refuse(status).await;
                return Step::Answered(Ok(Next::Close));
            }
            Err(Refusal::Close) => return Step::Answered(Ok(Next::Close)),
        };
        if let Some(guard) = self.head.take() {
            guard.complete();
        }
        let Head {
            mut request,
            framing,
            keep_alive,
            expect_continue,
        } = head;
        match self.discard_body(buf, framing, expect_continue).await {
            Ok(()) => {}
            Err(Refusal::Status(status)) => {
                self.refuse(status).await;
                return Step::Answered(Ok(Next::Close));
            }
            Err(Refusal::Close) => return Step::Answered(Ok(Next::Close)),
        }
        let version = request.version();
        let is_head = request.method() == Method::HEAD;
        request.extensions_mut().insert(ConnectInfo(self.peer));
        // Boxed: the router's future (admission, the backend request) is large and lives
        // only until the answer.
        let call = Box::pin(tower::ServiceExt::oneshot(self.router.clone(), request));
        let response = match call.await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let keep_alive = keep_alive && !*self.stop.borrow();
        let http11 = version == Version::HTTP_11;
        let (relay, status, head, body) = head_of(response);
        match relay {
            Some(relay) => Step::Stream {
                relay,
                head,
                http11,
                keep_alive,
            },
            None => Step::Answered(
                self.answer(status, head, body, http11, is_head, keep_alive)
                    .await,
            ),
        }
    }

    /// Reads until `buf` holds a complete request head, within the header read timeout;
    /// answers it and removes its bytes from `buf` (what follows stays, pipelined).
    async fn read_head(&mut self, buf: &mut Vec<u8>) -> Result<Head, Refusal> {
        let deadline = Instant::now() + self.options.header_read_timeout;
        loop {
            if !buf.is_empty() {
                if let Some((len, head)) = parse_head(buf).map_err(Refusal::Status)? {
                    buf.drain(..len);
                    return Ok(head);
                }
                if buf.len() >= MAX_HEAD_BYTES {
                    return Err(Refusal::Status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
                }
            }
            self.fill(buf, deadline, "request head").await?;
        }
    }

    /// Reads more bytes into `buf`, by `deadline`: EOF, an error, the deadline (counted as
    /// a slow client) or shutdown close the connection.
    async fn fill(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Instant,
        what: &str,
    ) -> Result<(), Refusal> {
        if buf.capacity() - buf.len() < 1024 {
            let more = buf.capacity().clamp(HEAD_BUFFER, MAX_HEAD_BYTES);
            buf.reserve(more);
        }
        let read = tokio::select! {
            biased;
            _ = self.stop.changed() => return Err(Refusal::Close),
            read = tokio::time::timeout_at(deadline, self.stream.read_buf(buf)) => read,
        };
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => Err(Refusal::Close),
            Ok(Ok(_)) => Ok(()),
            Err(_) => {
                self.metrics
                    .slow_clients_closed
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!("{}: {what} not received in time; closed", self.peer);
                Err(Refusal::Close)
            }
        }
    }

    /// Reads and discards a request body framed by `framing`, by the header read deadline
    /// (restarted at the end of the head); a body over [`MAX_DISCARDED_BODY`] is refused
    /// with 413, a malformed chunked one with 400.
    async fn discard_body(
        &mut self,
        buf: &mut Vec<u8>,
        framing: Framing,
        expect_continue: bool,
    ) -> Result<(), Refusal> {
        if framing == Framing::Length(0) {
            return Ok(());
        }
        if let Framing::Length(n) = framing
            && n > MAX_DISCARDED_BODY
        {
            return Err(Refusal::Status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        if expect_continue && buf.is_empty() {
            let mut cont = [IoSlice::new(b"HTTP/1.1 100 Continue\r\n\r\n")];
            self.write_all(&mut cont)
                .await
                .map_err(|_| Refusal::Close)?;
        }
        let deadline = Instant::now() + self.options.header_read_timeout;
        match framing {
            Framing::Length(mut left) => loop {
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                buf.drain(..take);
                left -= take as u64;
                if left == 0 {
                    return Ok(());
                }
                self.fill(buf, deadline, "request body").await?;
            },
            Framing::Chunked => {
                let mut total = 0u64;
                // Chunks, then the trailer section's lines until the empty one.
                let mut in_trailers = false;
                loop {
                    if in_trailers {
                        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
                            buf.drain(..end + 2);
                            if end == 0 {
                                return Ok(());
                            }
                            continue;
                        }
                    } else {
                        match httparse::parse_chunk_size(buf) {
                            Ok(httparse::Status::Complete((at, size))) => {
                                total = total.saturating_add(size);
                                if total > MAX_DISCARDED_BODY {
                                    return Err(Refusal::Status(StatusCode::PAYLOAD_TOO_LARGE));
                                }
                                if size == 0 {
                                    buf.drain(..at);
                                    in_trailers = true;
                                    continue;
                                }
                                // The chunk and its CRLF, once all there.
                                let need = at + usize::try_from(size).unwrap_or(usize::MAX) + 2;
                                if buf.len() >= need {
                                    if &buf[need - 2..need] != b"\r\n" {
                                        return Err(Refusal::Status(StatusCode::BAD_REQUEST));
                                    }
                                    buf.drain(..need);
                                    continue;
                                }
                            }
                            Ok(httparse::Status::Partial) => {}
                            Err(_) => return Err(Refusal::Status(StatusCode::BAD_REQUEST)),
                        }
                    }
                    if buf.len() >= MAX_HEAD_BYTES + HEAD_BUFFER {
                        // A chunk size or trailer line that never ends.
                        return Err(Refusal::Status(StatusCode::BAD_REQUEST));
                    }
                    self.fill(buf, deadline, "request body").await?;
                }
            }
        }
    }

    /// Answers a request the server could not take with `status` and no body; the
    /// connection is then closed.
    async fn refuse(&mut self, status: StatusCode) {
        let mut head = Vec::with_capacity(128);
        status_line(&mut head, status);
        head.extend_from_slice(b"content-length: 0\r\nconnection: close\r\n");
        date_line(&mut head);
        head.extend_from_slice(b"\r\n");
        let _ = self.write_all(&mut [IoSlice::new(&head)]).await;
        tracing::debug!("{}: request refused with {status}; closed", self.peer);
    }

    /// Writes a non-stream answer: `head` (status line and headers so far) completed with
    /// the body's framing, then `body`, with its length when known (one write), else
    /// chunked (HTTP/1.1) or up to the close (HTTP/1.0). Answers whether the connection may
    /// serve another request.
    async fn answer(
        &mut self,
        status: StatusCode,
        mut head: Vec<u8>,
        body: Body,
        http11: bool,
        is_head: bool,
        keep_alive: bool,
    ) -> io::Result<Next> {
        let status = status.as_u16();
        let bodiless = is_head || (100..200).contains(&status) || status == 204 || status == 304;
        if bodiless {
            connection_line(&mut head, http11, keep_alive);
            head.extend_from_slice(b"\r\n");
            self.write_all(&mut [IoSlice::new(&head)]).await?;
            return Ok(next(keep_alive));
        }
        let mut body = body;
        if let Some(len) = HttpBody::size_hint(&body).exact() {
            // Known length: one write of head and body.
            head.extend_from_slice(b"content-length: ");
            head.extend_from_slice(len.to_string().as_bytes());
            head.extend_from_slice(b"\r\n");
            connection_line(&mut head, http11, keep_alive);
            head.extend_from_slice(b"\r\n");
            let mut written = 0u64;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(io::Error::other)?;
                if let Ok(data) = frame.into_data() {
                    written += data.len() as u64;
                    head.extend_from_slice(&data);
                }
            }
            if written != len {
                return Err(io::Error::other(
                    "the body's length is not the one announced",
                ));
            }
            self.write_all(&mut [IoSlice::new(&head)]).await?;
            return Ok(next(keep_alive));
        }
        // Unknown length: chunked, or (HTTP/1.0) up to the close.
        let (head, keep_alive) = unsized_head(head, http11, keep_alive);
        self.write_all(&mut [IoSlice::new(&head)]).await?;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(io::Error::other)?;
            if let Ok(data) = frame.into_data() {
                self.write_chunk(&[], &data, http11).await?;
            }
        }
        self.end_unsized_body(http11).await?;
        Ok(next(keep_alive))
    }

    /// Ends a body begun with an [`unsized_head`]: the last chunk on HTTP/1.1
    /// (RFC 9112 §7.1); an HTTP/1.0 body ends with the close.
    async fn end_unsized_body(&self, http11: bool) -> io::Result<()> {
        if http11 {
            self.write_all(&mut [IoSlice::new(b"0\r\n\r\n")]).await?;
        }
        Ok(())
    }

    /// Writes a stream's head, then drives `relay` here until it ends or the client leaves:
    /// a chunk is written before the next is asked for, and while the relay waits the
    /// client's socket is watched for EOF (any bytes the client sends are discarded).
    /// When the relay has a chunk at once (the backend sent its first event with its
    /// head), the head goes out with it: one write and one segment, not two.
    async fn stream_relay(
        &mut self,
        mut relay: Box<Relay>,
        head: Vec<u8>,
        http11: bool,
        keep_alive: bool,
    ) -> io::Result<Next> {
        let (head, keep_alive) = unsized_head(head, http11, keep_alive);
        let mut head = Some(head);
        loop {
            let chunk = {
                let mut next = pin!(relay.next_chunk());
                let mut first = None;
                if let Some(unsent) = &head {
                    // One poll; the future is kept, so nothing is lost when it is pending.
                    match poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await {
                        Poll::Ready(chunk) => first = Some(chunk),
                        Poll::Pending => {
                            self.write_all(&mut [IoSlice::new(unsent)]).await?;
                            head = None;
                        }
                    }
                }
                if let Some(chunk) = first {
                    chunk
                } else {
                    loop {
                        tokio::select! {
                            biased;
                            chunk = &mut next => break chunk,
                            // `poll_read_ready` keeps the waker in the socket's reader slot:
                            // no waiter list entry made and removed per chunk.
                            ready = std::future::poll_fn(|cx| self.stream.poll_read_ready(cx)) => {
                                ready?;
                                if self.client_left() {
                                    // Dropping the relay closes the backend connection.
                                    return Ok(Next::Close);
                                }
                            }
                        }
                    }
                }
            };
            let Some(chunk) = chunk else { break };
            let prefix = head.take().unwrap_or_default();
            self.write_chunk(&prefix, &chunk, http11).await?;
        }
        drop(relay);
        if let Some(unsent) = head {
            self.write_all(&mut [IoSlice::new(&unsent)]).await?;
        }
        self.end_unsized_body(http11).await?;
        Ok(next(keep_alive && !*self.stop.borrow()))
    }

    /// After the socket was reported readable during a stream: whether the client closed
    /// (EOF or an error). Bytes it sent are read and dropped.
    fn client_left(&self) -> bool {
        let mut scratch = [0u8; 512];
        match self.stream.try_read(&mut scratch) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(_) => true,
        }
    }

    /// Writes `prefix` (bytes already framed, e.g. the head, or none), then `data` as one
    /// chunk (size line, data, CRLF), in one vectored write; `data` goes as is when the
    /// body is close-delimited (`chunked` false). Empty data writes only the prefix.
    async fn write_chunk(&self, prefix: &[u8], data: &[u8], chunked: bool) -> io::Result<()> {
        if data.is_empty() {
            if prefix.is_empty() {
                return Ok(());
            }
            return self.write_all(&mut [IoSlice::new(prefix)]).await;
        }
        if !chunked {
            return self
                .write_all(&mut [IoSlice::new(prefix), IoSlice::new(data)])
                .await;
        }
        let mut size = [0u8; 18];
        let n = chunk_size_line(data.len(), &mut size);
        self.write_all(&mut [
            IoSlice::new(prefix),
            IoSlice::new(&size[..n]),
            IoSlice::new(data),
            IoSlice::new(b"\r\n"),
        ])
        .await
    }

    /// Writes all of `bufs`; fails with `TimedOut` (counted as a send timeout) when the
    /// client accepts no bytes for the send timeout. No timer is set unless the socket is
    /// full.
    async fn write_all(&self, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
        while !bufs.is_empty() {
            match self.stream.try_write_vectored(bufs) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let timeout = self.options.send_timeout;
                    if tokio::time::timeout(timeout, self.stream.writable())
                        .await
                        .is_err()
                    {
                        self.metrics.send_timeouts.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("client read nothing for {timeout:?}; closing");
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the client stopped reading",
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Ends `head` for a body of unknown length (chunked on HTTP/1.1, up to the close on
/// HTTP/1.0, RFC 9112 §6.3); answers it with whether the connection may be kept alive
/// after the body.
fn unsized_head(mut head: Vec<u8>, http11: bool, keep_alive: bool) -> (Vec<u8>, bool) {
    let keep_alive = keep_alive && http11;
    if http11 {
        head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    connection_line(&mut head, http11, keep_alive);
    head.extend_from_slice(b"\r\n");
    (head, keep_alive)
}

/// Splits an answer into the stream's relay (if it is one), its status, the start of its
/// head (status line, the handler's headers but the framing ones, `date`) and its body.
fn head_of(mut response: Response) -> (Option<Box<Relay>>, StatusCode, Vec<u8>, Body) {
    let relay = response
        .extensions_mut()
        .remove::<RelaySlot>()
        .and_then(|slot| slot.take());
    let (parts, body) = response.into_parts();
    let mut head = Vec::with_capacity(256);
    status_line(&mut head, parts.status);
    write_headers(&mut head, &parts.headers);
    date_line(&mut head);
    (relay, parts.status, head, body)
}

fn next(keep_alive: bool) -> Next {
    if keep_alive {
        Next::KeepAlive
    } else {
        Next::Close
    }
}

/// Parses a request head at the start of `buf`: `None` if incomplete, else its length
/// and the request (with an empty body); the status to refuse it with if it is malformed
/// (400) or too large (431, 414), as hyper would.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, Head)>, StatusCode> {
    let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut lines);
    let len = match parsed.parse(buf) {
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
    let mut chunked_te = false;
    let mut expect_continue = false;
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for line in parsed.headers.iter() {
        let name =
            HeaderName::from_bytes(line.name.as_bytes()).map_err(|_| StatusCode::BAD_REQUEST)?;
        let value = HeaderValue::from_bytes(line.value).map_err(|_| StatusCode::BAD_REQUEST)?;
        if name == header::TRANSFER_ENCODING {
            if !http11 {
                return Err(StatusCode::BAD_REQUEST);
            }
            // `chunked` must be the final coding (RFC 9112 §6.3).
            chunked_te = value
                .to_str()
                .ok()
                .and_then(|v| v.rsplit(',').next())
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            if !chunked_te {
                return Err(StatusCode::BAD_REQUEST);
            }
        } else if name == header::CONTENT_LENGTH {
            let len = value
                .to_str()
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(StatusCode::BAD_REQUEST)?;
            if content_length.is_some_and(|prev| prev != len) {
                return Err(StatusCode::BAD_REQUEST);
            }
            content_length = Some(len);
        } else if name == header::CONNECTION {
            let tokens = value.to_str().unwrap_or_default();
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
        } else if name == header::EXPECT {
            expect_continue = value.as_bytes().eq_ignore_ascii_case(b"100-continue");
        }
        headers.append(name, value);
    }
    if chunked_te {
        framing = Framing::Chunked;
        headers.remove(header::CONTENT_LENGTH);
    } else if let Some(len) = content_length {
        framing = Framing::Length(len);
    }
    let mut request = axum::http::Request::new(Body::empty());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = if http11 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    *request.headers_mut() = headers;
    Ok(Some((
        len,
        Head {
            request,
            framing,
            keep_alive,
            expect_continue,
        },
    )))
}

/// `HTTP/1.1 200 OK\r\n`.
fn status_line(out: &mut Vec<u8>, status: StatusCode) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The answer's header lines, except the framing ones (`Content-Length`,
/// `Transfer-Encoding`, `Connection`): the loop writes those for the body it sends.
fn write_headers(out: &mut Vec<u8>, headers: &HeaderMap) {
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
fn connection_line(out: &mut Vec<u8>, http11: bool, keep_alive: bool) {
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if !http11 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
}

/// `date: <IMF-fixdate>\r\n` (RFC 9110 §6.6.1), formatted once a second per thread.
fn date_line(out: &mut Vec<u8>) {
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
fn chunk_size_line(len: usize, out: &mut [u8; 18]) -> usize {
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

    #[test]
    fn heads_parse_with_framing_and_keep_alive() {
        assert!(
            parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n")
                .unwrap()
                .is_none()
        );
        let (len, head) = parse_head(b"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\nGET")
            .unwrap()
            .unwrap();
        assert_eq!(len, 30);
        assert_eq!(head.request.uri(), "/a?b");
        assert!(head.keep_alive);
        assert_eq!(head.framing, Framing::Length(0));
        let (_, head) = parse_head(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!head.keep_alive);
        assert_eq!(head.request.version(), Version::HTTP_10);
        let (_, head) = parse_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(head.keep_alive);
        let (_, head) = parse_head(
            b"POST / HTTP/1.1\r\nConnection: keep-alive, close\r\nContent-Length: 5\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert!(!head.keep_alive);
        assert_eq!(head.framing, Framing::Length(5));
        let (_, head) = parse_head(
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(head.framing, Framing::Chunked);
        assert!(!head.request.headers().contains_key(header::CONTENT_LENGTH));
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
            (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", bad),
            (b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", bad),
            (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", bad),
            (b"G@T / HTTP/1.1\r\n\r\n", bad),
            (b"GET / HTTP/2.0\r\n\r\n", bad),
        ] {
            assert_eq!(
                parse_head(raw).err(),
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
            parse_head(raw.as_bytes()).err(),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        let raw = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI_LEN));
        assert_eq!(
            parse_head(raw.as_bytes()).err(),
            Some(StatusCode::URI_TOO_LONG)
        );
    }

    /// A connection's task is one future whose size is its largest state: with a request's
    /// serving boxed (and dropped before a stream starts) and the relay boxed, that is the
    /// stream's (the relay's next chunk and a write), which every open stream holds.
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = TcpStream::connect(addr).await.unwrap();
        let (_stop, stopped) = watch::channel(false);
        let connection = Connection {
            stream,
            peer: addr,
            router: Router::new(),
            options: ListenerOptions::default(),
            metrics: Arc::default(),
            head: None,
            stop: stopped,
        };
        let task = connection.run();
        let size = std::mem::size_of_val(&task);
        assert!(size <= 2 * 1024, "a connection's future is {size} bytes");
    }
}

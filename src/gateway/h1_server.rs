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
//! closed (a lingering close, up to [`LINGER_TIME`]), as is a `Transfer-Encoding` with a
//! coding other than `chunked` (501, RFC 9112 §6.1: none is implemented). `CONNECT` is
//! answered 405 (the gateway opens no tunnels) and the connection closed, as what follows
//! its head is a tunnel's bytes. A request
//! body (`Content-Length` or chunked) of at most [`MAX_DISCARDED_BODY`] is read within the
//! same deadline and discarded (the gateway serves `GET`), a larger one is answered 413. A
//! client that accepts no bytes for the send timeout while data waits is closed.
//! `Connection: close` and HTTP/1.0 (keep-alive only when asked for) are honoured; other
//! answers keep the connection open for the next request.

use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::FutureExt as _;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, Interest};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::telemetry::Metrics;

use super::Answered;
use super::listener::{HeadGuard, ListenerOptions};
use super::relay::Relay;

mod wire;

pub(super) use wire::transfer_coding_refusal;

use wire::{
    Framing, Head, chunk_size_line, connection_line, date_line, parse_head, status_line,
    unsized_head, write_headers,
};

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
/// The longest a connection refused with an error answer (400, 413, 414, 431, 501, or
/// CONNECT's 405) goes on reading and discarding what its client still sends, after the
/// answer and the shutdown of its write side, before it closes (a lingering close, as
/// nginx's `lingering_close`): closing with unread bytes would send a TCP RST, which can
/// reach the client before it read the answer, and a client still sending sees
/// "connection reset" instead of the answer.
pub const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(2);
/// The most bytes a lingering close reads and discards (as much as a request body the
/// server reads and discards anyway, [`MAX_DISCARDED_BODY`]); past it the connection is
/// closed at once.
pub const LINGER_BYTES: usize = 1024 * 1024;
/// Capacity of a connection's head buffer when it starts reading a request.
const HEAD_BUFFER: usize = 4096;
/// Up to this many bytes a request head is parsed on every read; past it only once its
/// end has come (see `read_head`).
const EAGER_PARSE_BYTES: usize = 8192;

/// A stream's relay, put in the response's extensions by the gateway (with an empty body)
/// for the connection loop to drive; [`relay_into_body`] turns it into a body for hyper.
/// Boxed: the connection's future would otherwise hold the relay twice (the argument of
/// `stream_relay` and its moved local), ~600 bytes more for every open stream.
#[derive(Clone)]
pub(super) struct RelaySlot(Arc<Mutex<Option<Box<Relay>>>>);

impl RelaySlot {
    /// A slot holding `relay`.
    pub(super) fn new(relay: Box<Relay>) -> Self {
        Self(Arc::new(Mutex::new(Some(relay))))
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
        // On an h2 stream (run by `h2_stall::StreamExecutor`), its watchdog is told
        // how the body is pulled; on HTTP/1.1 the socket's send timeout is enough.
        let progress = super::h2_stall::Tally::for_this_stream();
        *response.body_mut() = Body::from_stream((*relay).into_stream(progress));
    }
    response
}

/// What answers a connection's requests.
#[derive(Clone)]
pub(super) enum Service {
    /// The gateway itself, called directly: no router between (the plain port without
    /// extra routes), so a request costs none of the router's bookkeeping.
    Gateway(super::Gateway),
    /// A router (the gateway's behind extra routes, e.g. a node's `/health`).
    Router(Router),
}

/// One accepted plain connection and what serving it needs.
pub(super) struct Connection {
    /// The client's socket.
    pub stream: TcpStream,
    /// The client's address, given to requests as `ConnectInfo`.
    pub peer: SocketAddr,
    /// What answers its requests.
    pub service: Service,
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
                    // buffer. Requests pipelined after a stream request are dropped, so
                    // the connection closes after the stream (RFC 9112 §9.3.2: answers
                    // go in request order, and these get none).
                    let keep_alive = keep_alive && buf.is_empty();
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
        let connect = head.method == Method::CONNECT;
        let (mut framing, mut keep_alive) = (head.framing, head.keep_alive);
        if connect {
            // What follows a CONNECT head is not content (RFC 9110 §9.3.6) but the tunnel's
            // bytes a client may send before the answer: it cannot be framed as a body or
            // a next request, so nothing is read and the connection closes after the 405.
            framing = Framing::Length(0);
            keep_alive = false;
        }
        match self.discard_body(buf, framing, head.expect_continue).await {
            Ok(()) => {}
            Err(Refusal::Status(status)) => {
                self.refuse(status).await;
                return Step::Answered(Ok(Next::Close));
            }
            Err(Refusal::Close) => return Step::Answered(Ok(Next::Close)),
        }
        let http11 = head.http11;
        let is_head = head.method == Method::HEAD;
        // Boxed: the gateway's (or the router's) future (admission, the backend request)
        // is large and lives only until the answer.
        let (response, relay) = match &self.service {
            // Called directly: the client's address and the relay need no extensions.
            Service::Gateway(gateway) => {
                match Box::pin(gateway.answer(head.view(), Some(self.peer))).await {
                    Answered::Stream { relay, allowance } => {
                        return Step::Stream {
                            relay,
                            head: stream_head(&allowance),
                            http11,
                            keep_alive: keep_alive && !*self.stop.borrow(),
                        };
                    }
                    Answered::Response(response) => (response, None),
                }
            }
            Service::Router(router) => {
                let mut request = head.to_request();
                request.extensions_mut().insert(ConnectInfo(self.peer));
                let call = Box::pin(tower::ServiceExt::oneshot(router.clone(), request));
                let mut response = match call.await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                let relay = response
                    .extensions_mut()
                    .remove::<RelaySlot>()
                    .and_then(|slot| slot.take());
                (response, relay)
            }
        };
        // The head's bytes are not held past the answer's head.
        drop(head);
        let keep_alive = keep_alive && !*self.stop.borrow();
        let (status, head, body) = head_of(response);
        match relay {
            Some(relay) => Step::Stream {
                relay,
                head,
                http11,
                keep_alive,
            },
            None => {
                let answered = self
                    .answer(status, head, body, http11, is_head, keep_alive)
                    .await;
                if connect && answered.is_ok() {
                    // A tunnel's bytes may follow the head: not read, so not reset on.
                    self.linger().await;
                }
                Step::Answered(answered)
            }
        }
    }

    /// Reads until `buf` holds a complete request head, within the header read timeout;
    /// answers it and removes its bytes from `buf` (what follows stays, pipelined).
    async fn read_head(&mut self, buf: &mut Vec<u8>) -> Result<Head, Refusal> {
        let deadline = Instant::now() + self.options.header_read_timeout;
        // How much of `buf` was looked at for the head's end.
        let mut scanned = 0;
        loop {
            // A small head is parsed on every read (a malformed one is refused at once); a
            // large one only once its end has come, so a head trickled in byte by byte is
            // not parsed again from its start on every read.
            if !buf.is_empty()
                && (buf.len() <= EAGER_PARSE_BYTES || wire::head_ends_after(buf, scanned))
                && let Some(head) = parse_head(buf).map_err(Refusal::Status)?
            {
                return Ok(head);
            }
            scanned = buf.len();
            if buf.len() >= MAX_HEAD_BYTES {
                return Err(Refusal::Status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
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
    /// with 413, a malformed chunked one with 400, a trailer section over a head's limits
    /// ([`MAX_HEAD_BYTES`], [`MAX_HEADERS`] lines) with 431.
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
                // Chunks, then the trailer section's lines until the empty one: header
                // fields, so held to a head's limits (else 431).
                let mut in_trailers = false;
                let (mut trailer_bytes, mut trailer_lines) = (0usize, 0usize);
                loop {
                    if in_trailers {
                        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
                            buf.drain(..end + 2);
                            if end == 0 {
                                return Ok(());
                            }
                            trailer_bytes += end + 2;
                            trailer_lines += 1;
                            if trailer_bytes > MAX_HEAD_BYTES || trailer_lines > MAX_HEADERS {
                                return Err(Refusal::Status(
                                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                                ));
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
        if self.write_all(&mut [IoSlice::new(&head)]).await.is_ok() {
            self.linger().await;
        }
        tracing::debug!("{}: request refused with {status}; closed", self.peer);
    }

    /// Before a close after an answer the request's bytes were not all read for: shuts
    /// the write side down (the client sees the answer end), then reads and discards what
    /// the client still sends, until it closes, [`LINGER_TIME`] passes, [`LINGER_BYTES`]
    /// were read, or the listener shuts down; so the close sends no RST that could destroy
    /// the answer on its way.
    async fn linger(&mut self) {
        use tokio::io::AsyncWriteExt as _;
        if self.stream.shutdown().await.is_err() {
            return;
        }
        let deadline = Instant::now() + LINGER_TIME;
        let mut scratch = vec![0u8; 16 * 1024];
        let mut left = LINGER_BYTES;
        while left > 0 {
            let read = tokio::select! {
                biased;
                _ = self.stop.changed() => return,
                read = tokio::time::timeout_at(deadline, self.stream.read(&mut scratch)) => read,
            };
            match read {
                Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
                _ => return,
            }
        }
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
        // Whether the client sent bytes during the stream (dropped: a request pipelined
        // then gets no answer, so the connection does not outlive the stream).
        let mut discarded = false;
        loop {
            let chunk = {
                let mut next = pin!(relay.next_chunk());
                // With the head unsent, one poll first: a chunk ready at once goes out with
                // it. The future is kept, so nothing is lost when the poll is pending.
                let at_once = match head {
                    Some(_) => poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await,
                    None => Poll::Pending,
                };
                match at_once {
                    Poll::Ready(chunk) => chunk,
                    Poll::Pending => {
                        if let Some(unsent) = head.take() {
                            // The first write on an empty socket buffer: no send timeout.
                            self.write_all(&mut [IoSlice::new(&unsent)]).await?;
                        }
                        match self.chunk_or_hang_up(next.as_mut(), &mut discarded).await? {
                            Some(chunk) => chunk,
                            // Dropping the relay closes the backend connection.
                            None => return Ok(Next::Close),
                        }
                    }
                }
            };
            let Some(chunk) = chunk else { break };
            let prefix = head.take().unwrap_or_default();
            let written = self.write_chunk(&prefix, &chunk, http11).await;
            self.note_send_timeout(&mut relay, written)?;
        }
        drop(relay);
        if let Some(unsent) = head {
            self.write_all(&mut [IoSlice::new(&unsent)]).await?;
        }
        self.end_unsized_body(http11).await?;
        Ok(next(keep_alive && !discarded && !*self.stop.borrow()))
    }

    /// Passes on a stream write's outcome; a send timeout is first recorded as the
    /// stream's end reason (its traffic event then says so, not `client left`).
    fn note_send_timeout(&self, relay: &mut Relay, written: io::Result<()>) -> io::Result<()> {
        // The send timeout's own error, not a kernel ETIMEDOUT (which carries an errno).
        if let Err(e) = &written
            && e.kind() == io::ErrorKind::TimedOut
            && e.raw_os_error().is_none()
        {
            relay.client_stopped_reading(self.options.send_timeout.as_secs().max(1));
        }
        written
    }

    /// Awaits the relay's `next` chunk while watching the client's socket for EOF (bytes
    /// the client sends are discarded, and `discarded` set): `None` when the client left
    /// first.
    async fn chunk_or_hang_up(
        &self,
        mut next: Pin<&mut impl Future<Output = Option<Bytes>>>,
        discarded: &mut bool,
    ) -> io::Result<Option<Option<Bytes>>> {
        loop {
            tokio::select! {
                biased;
                chunk = &mut next => return Ok(Some(chunk)),
                // `poll_read_ready` keeps the waker in the socket's reader slot: no waiter
                // list entry made and removed per chunk.
                ready = poll_fn(|cx| self.stream.poll_read_ready(cx)) => {
                    ready?;
                    match self.client_left() {
                        Some(true) => return Ok(None),
                        Some(false) => *discarded = true,
                        None => {}
                    }
                }
            }
        }
    }

    /// After the socket was reported readable during a stream: `Some(true)` when the
    /// client closed its side (its FIN, EOF or an error), `Some(false)` when it sent bytes
    /// without closing (read and dropped), `None` when there was nothing to read.
    fn client_left(&self) -> Option<bool> {
        // The readiness already says the client closed its side (EPOLLRDHUP): no read is
        // needed to see the EOF (nginx's `pending_eof`). Resolved from the readiness at
        // hand, so it registers no waiter. Bytes the client sent just before its FIN stay
        // unread: the close then resets the connection, which a client that closed its
        // side mid-stream (and so ends the stream) accepts, as with nginx.
        if let Some(Ok(ready)) = self.stream.ready(Interest::READABLE).now_or_never()
            && ready.is_read_closed()
        {
            return Some(true);
        }
        let mut scratch = [0u8; 512];
        match self.stream.try_read(&mut scratch) {
            Ok(0) => Some(true),
            Ok(_) => Some(false),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(_) => Some(true),
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

/// The start of an event stream's head from constants (no map, no response): the status
/// line and the stream's fields ([`super::STREAM_HEAD`]), what `allowance` says of CORS,
/// `date`.
fn stream_head(allowance: &super::cors::Allowance) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(super::STREAM_HEAD);
    allowance.write_lines(&mut head);
    date_line(&mut head);
    head
}

/// Splits an answer into its status, the start of its head (status line, the handler's
/// headers but the framing ones, `date`) and its body.
fn head_of(response: Response) -> (StatusCode, Vec<u8>, Body) {
    let (parts, body) = response.into_parts();
    let mut head = Vec::with_capacity(256);
    status_line(&mut head, parts.status);
    write_headers(&mut head, &parts.headers);
    date_line(&mut head);
    (parts.status, head, body)
}

fn next(keep_alive: bool) -> Next {
    if keep_alive {
        Next::KeepAlive
    } else {
        Next::Close
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
            service: Service::Router(Router::new()),
            options: ListenerOptions::default(),
            metrics: Arc::default(),
            head: None,
            stop: stopped,
        };
        let task = connection.run();
        let size = std::mem::size_of_val(&task);
        assert!(size <= 2 * 1024, "a connection's future is {size} bytes");
    }

    /// The plain port writes a stream's head from constants; hyper's listeners get it as a
    /// response: the same lines in the same order, for every CORS allowance.
    #[test]
    fn a_streams_constant_head_is_its_responses() {
        use crate::gateway::cors::Allowance;
        let allowances = [
            Allowance::Any,
            Allowance::Vary,
            Allowance::Echo {
                origin: axum::http::HeaderValue::from_static("http://app.example"),
                credentials: true,
            },
            Allowance::Echo {
                origin: axum::http::HeaderValue::from_static("http://app.example"),
                credentials: false,
            },
        ];
        let without_date = |head: Vec<u8>| -> String {
            String::from_utf8(head)
                .unwrap()
                .split_inclusive("\r\n")
                .filter(|line| !line.starts_with("date: "))
                .collect()
        };
        for allowance in allowances {
            let mut response = axum::response::IntoResponse::into_response((
                super::super::stream_headers(),
                Body::empty(),
            ));
            allowance.decorate(response.headers_mut());
            let (status, from_response, _) = head_of(response);
            assert_eq!(status, StatusCode::OK);
            assert_eq!(
                without_date(stream_head(&allowance)),
                without_date(from_response),
                "{allowance:?}"
            );
        }
    }
}

//! Serving a router on a TCP listener with bounds on slow clients, for the gateway and the
//! management API alike: HTTP/1.1 connections served by hyper's connection builder with a
//! bounded time to receive each request head (which also bounds an idle keep-alive
//! connection), a cap on connections per client address that have not yet sent a complete
//! head, a send timeout for clients that stop reading with data waiting (as nginx's
//! `send_timeout`), and an accept loop that survives running out of file descriptors
//! (EMFILE/ENFILE: it backs off, logs and counts the failure in `/metrics`).
//!
//! The same accept loop serves the TLS listeners ([`Transport::Tls`]): the handshake (at
//! most [`crate::tls::server::HANDSHAKE_TIMEOUT`]) runs over the send-timeout stream, counts
//! as part of the incomplete head, and the connection then speaks HTTP/2 or HTTP/1.1 as
//! ALPN says, with the same header read timeout on HTTP/1.1, and on HTTP/2 the send
//! timeout for each stream whose data waits for flow-control window (`gateway::h2_stall`).
//!
//! The gateway's plain port ([`Transport::Gateway`]) is served by the gateway's own
//! HTTP/1.1 connection loop (`gateway::h1_server`) instead of hyper's, with the same
//! limits: one task per connection that drives an admitted stream's relay itself.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

use crate::telemetry::Metrics;

/// Default time a client has to send a whole request head (also the idle keep-alive limit).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client may read nothing while the server has data waiting for it.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap on connections from one client address without a complete request head.
pub const DEFAULT_MAX_INCOMPLETE_PER_IP: usize = 64;
/// How long a plain connection over the incomplete-heads cap may take to show a complete
/// request head before it is closed.
const OVER_CAP_PROBATION: Duration = Duration::from_millis(100);
/// How often a probation looks at the connection again while its head is incomplete.
const PROBATION_POLL: Duration = Duration::from_millis(5);
/// How much of a connection a probation looks at: a longer head is not waited for.
const PROBATION_PEEK_BYTES: usize = 8 * 1024;
/// How long the accept loop pauses after a failed `accept` (e.g. EMFILE).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Limits applied to every connection of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerOptions {
    /// Time to receive a whole request head, from the first read of a connection or, on a
    /// kept-alive connection, from the end of the previous answer; the connection is
    /// closed after it. Also the idle keep-alive timeout.
    pub header_read_timeout: Duration,
    /// Time a client may accept no bytes while data waits for it; the connection (and a
    /// stream's backend connection with it) is then closed.
    pub send_timeout: Duration,
    /// Connections per client IP address that may be open without a complete first
    /// request head; more are closed at once.
    pub max_incomplete_per_ip: usize,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            max_incomplete_per_ip: DEFAULT_MAX_INCOMPLETE_PER_IP,
        }
    }
}

/// Raises the process's soft open-files limit (`RLIMIT_NOFILE`) to its hard limit, as
/// nginx's `worker_rlimit_nofile` does, so many open streams don't run out of descriptors.
/// Returns the soft limit now in force; logs it.
pub fn raise_open_files_limit() -> io::Result<u64> {
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    tracing::info!("open files limit (RLIMIT_NOFILE): {limit}");
    Ok(limit)
}

/// How a listener's connections speak.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Plain HTTP/1.1, served by hyper.
    Plain,
    /// Plain HTTP/1.1 served by the gateway's own connection loop, which writes a stream's
    /// relay straight to the socket in the connection's task (the gateway's plain port).
    /// With a gateway, requests go straight to it and the router is not used.
    Gateway(Option<super::Gateway>),
    /// TLS with this config, then HTTP/2 or HTTP/1.1 as ALPN (or the client's preface) says.
    Tls(Arc<rustls::ServerConfig>),
}

/// Serves `router` on `listener` with `options` until `shutdown` resolves, then stops
/// accepting and waits for the open connections to finish (answers in flight complete,
/// idle connections close). Requests carry the client's address as
/// `ConnectInfo<SocketAddr>`. Accept failures and closed slow clients are counted in
/// `metrics`. Plain HTTP/1.1; [`serve_transport`] serves TLS too.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ListenerOptions,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_transport(
        listener,
        router,
        options,
        metrics,
        Transport::Plain,
        shutdown,
    )
    .await
}

/// [`serve`] over `transport`: every connection gets the same limits (incomplete heads per
/// client address, header read and send timeouts) whether plain or TLS. A TLS handshake
/// that fails or takes longer than [`crate::tls::server::HANDSHAKE_TIMEOUT`] (garbage,
/// plain HTTP, a stalled client) closes that connection only.
pub async fn serve_transport(
    listener: TcpListener,
    router: Router,
    options: ListenerOptions,
    metrics: Arc<Metrics>,
    transport: Transport,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let incomplete = Arc::new(Incomplete::default());
    serve_counted(
        listener, router, options, metrics, transport, shutdown, incomplete, None,
    )
    .await
}

/// [`serve_transport`] counting incomplete heads per client address in `incomplete`, which
/// several accept loops on one port share (the gateway's workers), so the cap
/// ([`ListenerOptions::max_incomplete_per_ip`]) holds for the port, not per loop. A
/// worker's loop (`packing`) accepts only while its gate is open, and while it is closed
/// takes the socket out of its event loop, so new connections do not wake it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve_counted(
    listener: TcpListener,
    router: Router,
    options: ListenerOptions,
    metrics: Arc<Metrics>,
    transport: Transport,
    shutdown: impl Future<Output = ()> + Send + 'static,
    incomplete: Arc<Incomplete>,
    mut packing: Option<super::Packing>,
) -> io::Result<()> {
    let acceptor = match &transport {
        Transport::Plain | Transport::Gateway(_) => None,
        Transport::Tls(config) => Some(tokio_rustls::TlsAcceptor::from(config.clone())),
    };
    let own_loop = match &transport {
        Transport::Gateway(Some(gateway)) => {
            Some(super::h1_server::Service::Gateway(gateway.clone()))
        }
        Transport::Gateway(None) => Some(super::h1_server::Service::Router(router.clone())),
        _ => None,
    };
    let graceful = GracefulShutdown::new();
    // The own loop's connections hold a receiver each: shutdown is a `true` sent to them,
    // and they are all gone when the sender sees no receiver left.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let nodelay_inherited = cfg!(target_os = "linux")
        && socket2::SockRef::from(&listener)
            .set_tcp_nodelay(true)
            .is_ok();
    let serving = Serving {
        own_loop,
        router,
        options: options.clone(),
        metrics: metrics.clone(),
        acceptor,
        stopped,
        nodelay_inherited,
    };
    let mut shutdown = std::pin::pin!(shutdown);
    let mut listening = Listening::Watched(listener);
    loop {
        if let Some(packing) = &mut packing
            && !packing.may_accept()
        {
            listening = listening.unwatched()?;
            tokio::select! {
                () = &mut shutdown => break,
                () = packing.wait() => {}
            }
        }
        listening = listening.watched()?;
        let Listening::Watched(listener) = &listening else {
            continue;
        };
        let helping = packing.as_ref().is_some_and(super::Packing::is_helping);
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
            () = tokio::time::sleep(super::workers::RECHECK), if helping => {
                if let Some(packing) = &mut packing {
                    packing.recheck();
                }
                continue;
            }
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                metrics.accept_errors.fetch_add(1, Ordering::Relaxed);
                if is_resource_exhaustion(&e) {
                    tracing::warn!(
                        "accept failed: {e}; retrying in {} ms",
                        ACCEPT_BACKOFF.as_millis()
                    );
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                } else {
                    tracing::debug!("accept failed: {e}");
                }
                continue;
            }
        };
        if let Some(packing) = &mut packing {
            packing.accepted();
        }
        match incomplete.admit(peer.ip(), options.max_incomplete_per_ip) {
            Some(head) => serving.serve(stream, peer, head, graceful.watcher()),
            None if serving.acceptor.is_none() => {
                // Over the cap. A connection whose complete head is already there (one of
                // a burst from one address, accepted before the others' heads were read)
                // is served after all; one without it after a short probation is closed.
                let serving = serving.clone();
                let watcher = graceful.watcher();
                let incomplete = incomplete.clone();
                tokio::spawn(async move {
                    if shows_complete_head(&stream, OVER_CAP_PROBATION).await {
                        let head = incomplete.admit_over(peer.ip());
                        serving.serve(stream, peer, head, watcher);
                    } else {
                        refused_over_cap(&serving.metrics, peer);
                    }
                });
            }
            None => refused_over_cap(&metrics, peer),
        }
    }
    drop(listening);
    stop.send_replace(true);
    drop(serving);
    tokio::join!(graceful.shutdown(), stop.closed());
    Ok(())
}

/// A listening socket in an accept loop's event loop (`Watched`: a new connection wakes
/// it), or out of it (`Unwatched`, while a worker's gate is closed).
enum Listening {
    Watched(TcpListener),
    Unwatched(std::net::TcpListener),
}

impl Listening {
    /// The socket in the event loop (registered if it was not).
    fn watched(self) -> io::Result<Self> {
        match self {
            Self::Unwatched(socket) => TcpListener::from_std(socket).map(Self::Watched),
            watched @ Self::Watched(_) => Ok(watched),
        }
    }

    /// The socket out of the event loop (deregistered if it was in).
    fn unwatched(self) -> io::Result<Self> {
        match self {
            Self::Watched(listener) => listener.into_std().map(Self::Unwatched),
            unwatched @ Self::Unwatched(_) => Ok(unwatched),
        }
    }
}

/// What serves an accepted connection: shared by the accept loop and the over-cap
/// probations it spawns.
#[derive(Clone)]
struct Serving {
    own_loop: Option<super::h1_server::Service>,
    router: Router,
    options: ListenerOptions,
    metrics: Arc<Metrics>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    stopped: tokio::sync::watch::Receiver<bool>,
    /// Whether accepted sockets come with `TCP_NODELAY` already: set on the listening
    /// socket, which Linux's accepted sockets inherit, so a connection costs no
    /// `setsockopt` of its own.
    nodelay_inherited: bool,
}

impl Serving {
    /// Serves `stream` from `peer` on a task of its own; `head` is its place among the
    /// incomplete heads, `graceful` what lets shutdown wait for it (hyper's connections).
    fn serve(
        &self,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        head: Arc<HeadGuard>,
        graceful: hyper_util::server::graceful::Watcher,
    ) {
        // Events go out as they come; a failure here only costs latency.
        if !self.nodelay_inherited {
            let _ = stream.set_nodelay(true);
        }
        if let Some(service) = &self.own_loop {
            let connection = super::h1_server::Connection {
                stream,
                peer,
                service: service.clone(),
                options: self.options.clone(),
                metrics: self.metrics.clone(),
                head: Some(head),
                stop: self.stopped.clone(),
            };
            // Boxed: the task then holds a pointer, so spawning it and storing its end copy
            // 16 bytes, not the connection's whole future (about 2 KiB) several times
            // over (a tenth of a stream open's memory copies).
            tokio::spawn(Box::pin(connection.run()));
            return;
        }
        let io = SendTimeout::new(stream, self.options.send_timeout, self.metrics.clone());
        let tower = TowerToHyperService::new(self.router.clone());
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            head.complete();
            // As on the gateway's plain port: a transfer coding the server does not
            // implement is refused (hyper would decode a final `chunked` and ignore the
            // codings before it).
            let refusal = (req.version() <= hyper::Version::HTTP_11)
                .then(|| super::h1_server::transfer_coding_refusal(req.headers()))
                .flatten();
            req.extensions_mut().insert(ConnectInfo(peer));
            let answer = match refusal {
                Some(status) => Either::Left(std::future::ready(Ok(refused(status)))),
                None => Either::Right(hyper::service::Service::call(&tower, req)),
            };
            async move { answer.await.map(super::h1_server::relay_into_body) }
        });
        let metrics = self.metrics.clone();
        let Some(acceptor) = self.acceptor.clone() else {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(self.options.header_read_timeout)
                .keep_alive(true);
            let connection = graceful.watch(builder.serve_connection(TokioIo::new(io), service));
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    closed_with(&metrics, peer, &e);
                }
            });
            return;
        };
        let watcher = graceful;
        let header_read_timeout = self.options.header_read_timeout;
        // Runs each h2 stream with the send timeout of its own: the socket's is not
        // reached by a client that reads but grants a stream no window.
        let executor =
            super::h2_stall::StreamExecutor::new(self.options.send_timeout, self.metrics.clone());
        tokio::spawn(async move {
            let handshake = acceptor.accept(io);
            let tls = match tokio::time::timeout(crate::tls::server::HANDSHAKE_TIMEOUT, handshake)
                .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!("TLS handshake with {peer} failed: {e}");
                    return;
                }
                Err(_) => {
                    metrics.slow_clients_closed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("TLS handshake with {peer} timed out; closed");
                    return;
                }
            };
            let mut builder = auto::Builder::new(executor);
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .keep_alive(true);
            builder.http2().timer(TokioTimer::new());
            let connection = builder.serve_connection(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(connection).await {
                match e.downcast_ref::<hyper::Error>() {
                    Some(e) => closed_with(&metrics, peer, e),
                    None => tracing::debug!("TLS connection from {peer}: {e}"),
                }
            }
        });
    }
}

/// Counts and logs a connection closed for being over the incomplete-heads cap (the
/// caller drops it).
fn refused_over_cap(metrics: &Metrics, peer: std::net::SocketAddr) {
    metrics.slow_clients_closed.fetch_add(1, Ordering::Relaxed);
    tracing::debug!("{peer}: too many connections without a request head; closed");
}

/// Whether `stream` shows a complete request head (ended by an empty line) within
/// `within`, without consuming it. Polled every few milliseconds while only part of it is
/// there; a head larger than what is looked at, an error or the end of the stream count
/// as no.
async fn shows_complete_head(stream: &TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = vec![0u8; PROBATION_PEEK_BYTES];
    loop {
        let seen = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return false,
        };
        // An empty line: LF, then LF or CRLF (so CRLF CRLF too).
        let shown = buf.get(..seen).unwrap_or_default();
        if shown.windows(2).any(|w| w == b"\n\n") || shown.windows(3).any(|w| w == b"\n\r\n") {
            return true;
        }
        if seen == buf.len() || tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(PROBATION_POLL).await;
    }
}

/// Counts and logs a connection that ended in error: a request head not received in time
/// is a slow client.
fn closed_with(metrics: &Metrics, peer: std::net::SocketAddr, e: &hyper::Error) {
    if e.is_timeout() {
        metrics.slow_clients_closed.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("{peer}: request head not received in time; closed");
    } else {
        tracing::debug!("connection from {peer}: {e}");
    }
}

/// An answer with `status`, no body, and the connection closed after it.
fn refused(status: axum::http::StatusCode) -> axum::response::Response {
    let mut answer = axum::response::Response::new(axum::body::Body::empty());
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    answer
}

/// Out of descriptors or memory: worth a pause before the next `accept`.
fn is_resource_exhaustion(e: &io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 (Linux numbering).
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// Connections per client address without a complete first request head.
#[derive(Debug, Default)]
pub(crate) struct Incomplete(Mutex<HashMap<IpAddr, usize>>);

impl Incomplete {
    /// Counts a new connection from `ip`, unless `ip` already has `max` incomplete ones.
    fn admit(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Arc<HeadGuard>> {
        let mut map = self.0.lock().ok()?;
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Arc::new(HeadGuard {
            ip,
            table: self.clone(),
            done: AtomicBool::new(false),
        }))
    }

    /// Counts a new connection from `ip` even over the cap (one that showed its complete
    /// head on probation).
    fn admit_over(self: &Arc<Self>, ip: IpAddr) -> Arc<HeadGuard> {
        if let Ok(mut map) = self.0.lock() {
            *map.entry(ip).or_insert(0) += 1;
        }
        Arc::new(HeadGuard {
            ip,
            table: self.clone(),
            done: AtomicBool::new(false),
        })
    }

    fn release(&self, ip: IpAddr) {
        if let Ok(mut map) = self.0.lock()
            && let Some(n) = map.get_mut(&ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }
}

/// One connection's place in [`Incomplete`], released at its first complete head or when
/// the connection ends.
#[derive(Debug)]
pub(super) struct HeadGuard {
    ip: IpAddr,
    table: Arc<Incomplete>,
    done: AtomicBool,
}

impl HeadGuard {
    /// The connection sent a complete request head: its place is released (once).
    pub(super) fn complete(&self) {
        if !self.done.swap(true, Ordering::Relaxed) {
            self.table.release(self.ip);
        }
    }
}

impl Drop for HeadGuard {
    fn drop(&mut self) {
        self.complete();
    }
}

/// A TCP stream whose writes fail with `TimedOut` once the peer has accepted no bytes for
/// `timeout` while a write was waiting: hyper then closes the connection and drops the
/// response body, which (for a stream) closes the backend connection.
struct SendTimeout {
    inner: TcpStream,
    timeout: Duration,
    /// Running while a write or flush is blocked on the peer.
    stalled: Option<Pin<Box<Sleep>>>,
    metrics: Arc<Metrics>,
}

impl SendTimeout {
    fn new(inner: TcpStream, timeout: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            inner,
            timeout,
            stalled: None,
            metrics,
        }
    }

    /// Maps a write's poll result: progress stops the stall timer, `Pending` runs it and
    /// turns into `TimedOut` when it fires.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let timer = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if timer.as_mut().poll(cx).is_ready() {
                    self.metrics.send_timeouts.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("client read nothing for {timeout:?}; closing");
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncRead for SendTimeout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendTimeout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listener sets `TCP_NODELAY` once, on the listening socket: what makes that
    /// enough is that Linux's accepted sockets inherit it (and only then).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn accepted_sockets_inherit_the_listeners_nodelay() -> io::Result<()> {
        for nodelay in [true, false] {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            socket2::SockRef::from(&listener).set_tcp_nodelay(nodelay)?;
            let _client = TcpStream::connect(listener.local_addr()?).await?;
            let (accepted, _) = listener.accept().await?;
            assert_eq!(accepted.nodelay()?, nodelay);
        }
        Ok(())
    }

    #[test]
    fn incomplete_heads_are_capped_per_address() {
        let table = Arc::new(Incomplete::default());
        let ip: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        let a = table.admit(ip, 2);
        let b = table.admit(ip, 2);
        assert!(a.is_some() && b.is_some());
        assert!(table.admit(ip, 2).is_none());
        assert!(table.admit(other, 2).is_some());
        if let Some(a) = a {
            a.complete();
            // Completing twice releases once.
            a.complete();
        }
        let c = table.admit(ip, 2);
        assert!(c.is_some());
        assert!(table.admit(ip, 2).is_none());
        drop((b, c));
        assert!(table.admit(ip, 2).is_some());
    }
}

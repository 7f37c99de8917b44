//! The backend connection of one stream: an HTTP/1.1 exchange of its own (over TLS for an
//! `https` endpoint) spoken with the gateway's own codec ([`super::h1`]): no pool, no
//! redirects, no decompression, one request per connection.
//!
//! No task drives the connection: the [`UpstreamBody`] owns the socket and reads it only
//! when its consumer polls it, in the consumer's task. An idle stream holds no read
//! buffer: a read happens on readiness into a per-thread scratch buffer, is decoded there,
//! and only the body data leaves it, copied once into the [`Bytes`] handed out. Dropping
//! the body closes the socket at once.

use std::borrow::Cow;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::h1::{self, Decoder};

pub(crate) use super::h1::BodyError;

/// The size of each thread's scratch read buffer: the most bytes one read takes.
const SCRATCH_BYTES: usize = 32 * 1024;
/// How much the response head buffer grows per read while the head is incomplete.
const HEAD_READ: usize = 4096;

thread_local! {
    /// The scratch buffer every backend read of this thread goes through; body data is
    /// copied out of it before the read returns, so it is free again for the next one.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH_BYTES]);
}

/// A backend socket, plain or TLS.
enum Io {
    Plain(TcpStream),
    /// rustls keeps its own buffers (received TLS records and decrypted plaintext), which
    /// this module cannot avoid; reads still go through the scratch buffer.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Io {
    /// Reads what is there into `buf` (0: the backend closed its side). Nothing is held
    /// while it waits: for a plain socket tokio's `poll_read` is a wait for readiness and
    /// a non-blocking read into `buf` (like `poll_read_ready` + `try_read`, but a short
    /// read clears the readiness, which saves the extra read ending in `WouldBlock` per
    /// event that `try_read` would cost).
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<std::io::Result<usize>> {
        let mut read = ReadBuf::new(buf);
        match self {
            Io::Plain(tcp) => ready!(Pin::new(tcp).poll_read(cx, &mut read))?,
            Io::Tls(tls) => ready!(Pin::new(tls.as_mut()).poll_read(cx, &mut read))?,
        }
        Poll::Ready(Ok(read.filled().len()))
    }

    async fn read_buf(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        match self {
            Io::Plain(tcp) => tcp.read_buf(buf).await,
            Io::Tls(tls) => tls.read_buf(buf).await,
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Io::Plain(tcp) => tcp.write_all(bytes).await,
            Io::Tls(tls) => {
                tls.write_all(bytes).await?;
                tls.flush().await
            }
        }
    }
}

/// A backend connection, from the request on. Dropped before its answer ended (the client
/// left, the stream lost its right, a timeout, an answer refused or broken), it is reset
/// (`SO_LINGER` 0, then close) rather than shut down, as HAProxy aborts a server
/// connection: the backend learns at once that nobody reads, and neither side keeps a
/// socket for it (an orderly close leaves the gateway's side in `FIN-WAIT-2`, up to
/// `tcp_fin_timeout`, and the backend's in `CLOSE-WAIT` until its next write).
struct Conn {
    io: Io,
    /// The answer ended (its framing is complete, or the backend closed its side first):
    /// the close is an orderly one.
    ended: bool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let tcp = match &self.io {
            Io::Plain(tcp) => tcp,
            Io::Tls(tls) => tls.get_ref().0,
        };
        // Best effort: without it the close is an orderly one.
        let _ = tcp.set_zero_linger();
    }
}

/// The body of a backend's answer, as a stream of its data (never empty chunks; chunked
/// framing and trailers removed). Owns the connection: dropping it closes the socket, with
/// a reset if the answer had not ended (see [`Conn`]). Holds no buffer between polls.
pub(crate) struct UpstreamBody {
    conn: Conn,
    decoder: Decoder,
    /// Bytes that came in with the head, not yet decoded (handed out on the first poll).
    early: Option<Bytes>,
    /// An error found after data decoded in the same read: handed out after that data.
    failed: Option<BodyError>,
    done: bool,
}

impl UpstreamBody {
    /// Decodes `input`, copying its body data into one new buffer. Data before an error
    /// in `input` is handed out first, the error on the next poll.
    fn decode(&mut self, input: &[u8]) -> Result<Bytes, BodyError> {
        let mut out = BytesMut::new();
        let decoded = self.decoder.decode(input, |data| {
            if out.is_empty() {
                out.reserve(input.len());
            }
            out.extend_from_slice(data);
        });
        if let Err(e) = decoded {
            if out.is_empty() {
                return Err(e);
            }
            self.failed = Some(e);
            self.done = true;
        }
        if self.decoder.is_done() {
            self.done = true;
            self.conn.ended = true;
        }
        Ok(out.freeze())
    }

    /// One read and its decoding; `None` when the connection ended.
    fn poll_read_decode(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, BodyError>> {
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => self.poll_read_into(cx, &mut scratch),
            // Not reached (nothing reads a backend while another read is on this
            // thread), but a fresh buffer is always correct.
            Err(_) => self.poll_read_into(cx, &mut vec![0; SCRATCH_BYTES]),
        })
    }

    /// One read into `scratch` and its decoding.
    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        scratch: &mut [u8],
    ) -> Poll<Result<Option<Bytes>, BodyError>> {
        let n = ready!(self.conn.io.poll_read(cx, scratch))?;
        if n == 0 {
            self.done = true;
            // The backend closed first: nothing to abort, whatever the framing says.
            self.conn.ended = true;
            self.decoder.eof()?;
            return Poll::Ready(Ok(None));
        }
        let input = scratch.get(..n).unwrap_or_default();
        Poll::Ready(self.decode(input).map(Some))
    }
}

impl futures_util::Stream for UpstreamBody {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(early) = this.early.take() {
            match this.decode(&early) {
                Ok(data) if !data.is_empty() => return Poll::Ready(Some(Ok(data))),
                Ok(_) => {}
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
        loop {
            if this.done {
                return Poll::Ready(this.failed.take().map(Err));
            }
            match ready!(this.poll_read_decode(cx)) {
                Ok(Some(data)) if data.is_empty() => {}
                Ok(Some(data)) => return Poll::Ready(Some(Ok(data))),
                Ok(None) => return Poll::Ready(None),
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

/// Where a backend request goes: the URL whose scheme, host and port it is sent to, and
/// its request target in origin-form (RFC 9112 §3.2.1: the absolute path, then `?` and
/// the query if there is one), percent-encoded as a URL's path and query are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    /// The endpoint (after a redirect, the redirect's URL); only its scheme, host and port
    /// are used.
    pub url: Cow<'a, reqwest::Url>,
    /// The request target, e.g. `/base/events?k=1&x=1`.
    pub path_and_query: String,
}

impl Target<'_> {
    /// The target of `url` (its path and query; a fragment is not sent).
    pub(crate) fn of(url: reqwest::Url) -> Target<'static> {
        let mut path_and_query = url.path().to_string();
        if let Some(query) = url.query() {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        Target {
            url: Cow::Owned(url),
            path_and_query,
        }
    }

    /// The whole URL requested, e.g. `http://b:8080/base/events?x=1` (for redirects,
    /// shared streams' keys and messages; built, so not for every request).
    pub(crate) fn to_url(&self) -> reqwest::Url {
        let (path, query) = match self.path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (self.path_and_query.as_str(), None),
        };
        // Set, not joined: a target such as `//x` is a path here, not another host. It is
        // encoded already, so setting it changes nothing in it.
        let mut url = self.url.as_ref().clone();
        url.set_path(path);
        url.set_query(query);
        url.set_fragment(None);
        url
    }

    /// The same target, owning its URL.
    pub(crate) fn into_owned(self) -> Target<'static> {
        Target {
            url: Cow::Owned(self.url.into_owned()),
            path_and_query: self.path_and_query,
        }
    }
}

/// Sends `GET` for `target` with `headers` (plus `Host`) on a new connection and waits for
/// the answer's head. `http` and `https` URLs; an `https` one is spoken over TLS with `tls`
/// (see [`crate::tls::client`]). The error is a description for the operator, e.g.
/// `connection refused (os error 111)` or `TLS handshake failed: unknown issuer`. The
/// caller bounds the time it takes.
pub(crate) async fn get(
    target: &Target<'_>,
    header_lines: &[u8],
    tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
) -> Result<(h1::AnswerHead, UpstreamBody), String> {
    let url = &target.url;
    let tls = match (url.scheme(), tls) {
        ("http", _) => None,
        ("https", Some(tls)) => Some(tls.clone()),
        ("https", None) => return Err("no TLS configuration for an https back end".into()),
        (other, _) => {
            return Err(format!(
                "{other} backends are not supported (only http and https are)"
            ));
        }
    };
    let host = url
        .host_str()
        .ok_or_else(|| "the endpoint has no host".to_string())?;
    let port = url
        .port_or_known_default()
        .unwrap_or(if tls.is_some() { 443 } else { 80 });
    let request = h1::request_head(&target.path_and_query, host, url.port(), header_lines);

    // An IPv6 literal comes bracketed; the resolver wants it bare.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let stream = connect(bare, port, tls.is_some()).await?;
    let io = match tls {
        None => Io::Plain(stream),
        Some(config) => {
            // Boxed, in a statement of its own: the handshake's state (rustls' connection)
            // is large, and every plain backend request would otherwise carry its room.
            let handshake = Box::pin(crate::tls::client::handshake(config, bare, stream));
            Io::Tls(Box::new(handshake.await?))
        }
    };
    exchange(Conn { io, ended: false }, &request).await
}

/// The HTTP/1.1 exchange on a connected (plain or TLS) stream: the request, then the
/// response head.
async fn exchange(
    mut conn: Conn,
    request: &[u8],
) -> Result<(h1::AnswerHead, UpstreamBody), String> {
    conn.io
        .write_all(request)
        .await
        .map_err(|e| format!("sending the request failed: {e}"))?;
    let mut buf = BytesMut::new();
    loop {
        buf.reserve(HEAD_READ);
        let n = conn
            .io
            .read_buf(&mut buf)
            .await
            .map_err(|e| format!("reading the response head failed: {e}"))?;
        if n == 0 {
            conn.ended = true;
            return Err(if buf.is_empty() {
                "the back end closed the connection without answering".to_string()
            } else {
                "the back end closed the connection before its response head was complete"
                    .to_string()
            });
        }
        let Some(head) = h1::parse_head(&buf).map_err(|e| e.to_string())? else {
            continue;
        };
        let early = buf.split_off(head.len);
        let early = (!early.is_empty()).then(|| early.freeze());
        let decoder = Decoder::new(head.framing);
        // A body framed as empty (`Content-Length: 0`, 204, 304) is over before a read:
        // the connection may stay open with nothing more to come.
        let ended = decoder.is_done();
        conn.ended = ended;
        let body = UpstreamBody {
            conn,
            done: ended,
            decoder,
            early,
            failed: None,
        };
        return Ok((head.answer, body));
    }
}
/// A TCP connection to the first of `host`'s addresses that accepts one, with Nagle off if
/// `nodelay` (for TLS, whose handshake writes several records; a plain request is one
/// write, so Nagle never holds it and the system call is saved).
async fn connect(host: &str, port: u16, nodelay: bool) -> Result<TcpStream, String> {
    let literal: [SocketAddr; 1];
    let resolved: Vec<SocketAddr>;
    // An IP address needs no lookup (nor the vector of its results).
    let addrs: &[SocketAddr] = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => {
            literal = [SocketAddr::new(ip, port)];
            &literal
        }
        Err(_) => {
            resolved = tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect();
            &resolved
        }
    };
    let mut last = None;
    for &addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                if nodelay {
                    // A failure here only costs latency.
                    let _ = stream.set_nodelay(true);
                }
                return Ok(stream);
            }
            Err(e) => last = Some(format!("cannot connect to {addr}: {e}")),
        }
    }
    Err(last.unwrap_or_else(|| format!("{host} has no address")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A backend on `127.0.0.1:0` that reads one request head, writes `answer`, and then
    /// reports what its next read of the connection gives: `Ok(0)` for an orderly close,
    /// an error for a reset.
    async fn backend(
        answer: &'static [u8],
    ) -> (
        Target<'static>,
        tokio::task::JoinHandle<std::io::Result<usize>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let next_read = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await?;
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.ends_with(b"\r\n\r\n") {
                let n = socket.read(&mut buf).await?;
                assert_ne!(n, 0, "the request head ended early");
                head.extend_from_slice(&buf[..n]);
            }
            socket.write_all(answer).await?;
            socket.read(&mut buf).await
        });
        let url = reqwest::Url::parse(&format!("http://{addr}/events")).unwrap();
        (Target::of(url), next_read)
    }

    /// Asserts the backend's next read saw a reset.
    async fn assert_reset(next_read: tokio::task::JoinHandle<std::io::Result<usize>>) {
        let read = next_read.await.unwrap();
        let kind = read.as_ref().map_err(std::io::Error::kind);
        assert_eq!(kind, Err(std::io::ErrorKind::ConnectionReset), "{read:?}");
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_resets_the_backend_connection() {
        let (target, next_read) =
            backend(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndata:1\r\n").await;
        let (head, mut body) = get(&target, b"", None).await.unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(body.next().await.unwrap().unwrap().as_ref(), b"data:1");
        drop(body);
        assert_reset(next_read).await;
    }

    #[tokio::test]
    async fn a_body_given_up_on_a_framing_error_resets_the_backend_connection() {
        let (target, next_read) =
            backend(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndata:1\r\nzz\r\n")
                .await;
        let (_, mut body) = get(&target, b"", None).await.unwrap();
        assert_eq!(body.next().await.unwrap().unwrap().as_ref(), b"data:1");
        assert!(body.next().await.unwrap().is_err());
        drop(body);
        assert_reset(next_read).await;
    }

    #[tokio::test]
    async fn a_head_not_answered_in_time_resets_the_backend_connection() {
        let (target, next_read) = backend(b"").await;
        let waited = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            get(&target, b"", None),
        )
        .await;
        assert!(waited.is_err(), "the backend answered nothing");
        assert_reset(next_read).await;
    }

    #[tokio::test]
    async fn a_body_read_to_its_end_closes_the_backend_connection_in_order() {
        let (target, next_read) =
            backend(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ndata:1").await;
        let (_, mut body) = get(&target, b"", None).await.unwrap();
        assert_eq!(body.next().await.unwrap().unwrap().as_ref(), b"data:1");
        assert!(body.next().await.is_none());
        drop(body);
        assert_eq!(next_read.await.unwrap().unwrap(), 0);
    }
}

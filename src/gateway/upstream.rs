//! The backend connection of one stream: an HTTP/1.1 connection of its own (over TLS for
//! an `https` endpoint), made with
//! hyper's low-level client (no pool, no redirects, no decompression, a bounded read
//! buffer), so a stream costs little memory and each chunk little CPU on its way through.
//!
//! The connection runs in a task of its own; dropping the [`UpstreamBody`] aborts that
//! task, which closes the backend socket at once.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{HeaderMap, HeaderValue, Request, Response, Uri, header};
use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// The most bytes a backend connection buffers. hyper's read buffer starts at 8 KiB and
/// grows only while reads fill it (a fast backend), then shrinks back; a fixed 4 KiB
/// buffer cost a bulk stream a task switch per 4 KiB and tens of milliseconds of p99.
const MAX_READ_BUFFER: usize = 64 * 1024;

/// The body of a backend's answer, as a stream of its data chunks. Owns the connection:
/// dropping it ends the connection and closes the socket.
pub(crate) struct UpstreamBody {
    body: Incoming,
    /// Held only to be dropped with the body.
    _connection: Connection,
}

impl futures_util::Stream for UpstreamBody {
    type Item = Result<Bytes, hyper::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let frame = match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            // Trailers and empty chunks carry nothing for the client.
            if let Ok(data) = frame.into_data()
                && !data.is_empty()
            {
                return Poll::Ready(Some(Ok(data)));
            }
        }
    }
}

impl UpstreamBody {
    /// Keeps the connection task alive for as long as the body is read.
    fn new(body: Incoming, connection: Connection) -> Self {
        Self {
            body,
            _connection: connection,
        }
    }
}

/// The task driving a backend connection; aborted (closing its socket) when dropped.
struct Connection(JoinHandle<()>);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `GET url` with `headers` (plus `Host`) on a new connection and waits for the
/// answer's head. `http` and `https` URLs; an `https` one is spoken over TLS with `tls`
/// (see [`crate::tls::client`]). The error is a description for the operator, e.g.
/// `connection refused (os error 111)` or `TLS handshake failed: unknown issuer`. The
/// caller bounds the time it takes.
pub(crate) async fn get(
    url: &reqwest::Url,
    headers: HeaderMap,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
) -> Result<(Response<()>, UpstreamBody), String> {
    let tls = match (url.scheme(), tls) {
        ("http", _) => None,
        ("https", Some(tls)) => Some(tls),
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
    let host_header = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let host_header = HeaderValue::from_str(&host_header)
        .map_err(|e| format!("the endpoint's host is no valid header: {e}"))?;
    let mut target = url.path().to_string();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let target = Uri::try_from(target).map_err(|e| format!("invalid request target: {e}"))?;

    // An IPv6 literal comes bracketed; the resolver wants it bare.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let stream = connect(bare, port).await?;
    match tls {
        None => exchange(TokioIo::new(stream), target, host_header, headers).await,
        Some(config) => {
            let stream = crate::tls::client::handshake(config, bare, stream).await?;
            exchange(TokioIo::new(stream), target, host_header, headers).await
        }
    }
}

/// The HTTP/1.1 exchange on a connected (plain or TLS) stream.
async fn exchange<T>(
    io: T,
    target: Uri,
    host_header: HeaderValue,
    mut headers: HeaderMap,
) -> Result<(Response<()>, UpstreamBody), String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut builder = hyper::client::conn::http1::Builder::new();
    builder.max_buf_size(MAX_READ_BUFFER);
    let (mut sender, connection) = builder
        .handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(|e| super::error_chain(&e))?;
    let connection = Connection(tokio::spawn(async move {
        // The error reaches the sender or the body; nothing more to do with it here.
        let _ = connection.await;
    }));

    headers.insert(header::HOST, host_header);
    let mut request = Request::new(Empty::<Bytes>::new());
    *request.uri_mut() = target;
    *request.headers_mut() = headers;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| super::error_chain(&e))?;
    // No second request goes on this connection: it ends with the body.
    drop(sender);
    let (head, body) = response.into_parts();
    Ok((
        Response::from_parts(head, ()),
        UpstreamBody::new(body, connection),
    ))
}

/// A TCP connection to the first of `host`'s addresses that accepts one, with Nagle off.
async fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("{host} has no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Events go out as they come; a failure here only costs latency.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

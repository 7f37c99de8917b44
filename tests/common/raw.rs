//! HTTP over a raw socket, for what reqwest would normalise away: exchanges that write any
//! bytes and read until the server closes, a parsed response, request heads.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::PATIENCE;

/// A response read off a raw socket.
#[derive(Debug, Clone, Default)]
pub struct RawResponse {
    /// The status code; 0 when the connection closed without a status line.
    pub status: u16,
    /// The head, status line included.
    pub head: String,
    /// Everything after the head (not de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header's value (first one, name case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Writes `request` (which should ask for `Connection: close`) and reads until the server
/// closes. The write runs concurrently with the read, so a server that answers before it
/// has read everything (431, 414) is still heard.
pub async fn raw_exchange(addr: SocketAddr, request: Vec<u8>) -> RawResponse {
    let socket = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = socket.into_split();
    let writer = tokio::spawn(async move {
        // The server may close first; that is what some of these requests are for.
        let _ = wr.write_all(&request).await;
        wr
    });
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let read = tokio::time::timeout(PATIENCE, async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the gateway answers and closes");
    drop(writer.await);
    parse_response(&got)
}

/// Splits raw bytes into status, head and body.
pub fn parse_response(raw: &[u8]) -> RawResponse {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return RawResponse {
            head: String::from_utf8_lossy(raw).into_owned(),
            ..Default::default()
        };
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    RawResponse {
        status,
        head,
        body: raw[end + 4..].to_vec(),
    }
}

/// A GET request head with `Connection: close` and extra header lines.
pub fn get_request(target: &[u8], headers: &[&[u8]]) -> Vec<u8> {
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        req.extend_from_slice(h);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req
}

/// Reads a request head off a backend connection (the head as text, blank line included); `None` if the peer closed first.
pub async fn read_head(socket: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Waits until the peer closes its end (EOF or reset), discarding what it sends.
pub async fn wait_closed(socket: &mut (impl AsyncRead + Unpin)) {
    let mut buf = [0u8; 1024];
    loop {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// The head of a 200 SSE answer that ends at EOF.
pub const SSE_OK: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";

/// Connects to `addr` and sends a keep-alive GET of `target`, with `Authorization: Bearer`
/// when `token` is given.
pub async fn open_stream(addr: SocketAddr, target: &str, token: Option<&str>) -> TcpStream {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    socket
}

/// Reads until what was read contains `needle`; answers all of it. Each read may take up
/// to [`PATIENCE`]; the connection must not close first.
pub async fn read_until_contains(socket: &mut TcpStream, needle: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(needle) {
        let n = tokio::time::timeout(PATIENCE, socket.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the gateway ended the stream");
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Whether the peer closed `stream` (EOF or reset) within `within`.
pub async fn closed_within(stream: &mut TcpStream, within: std::time::Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = std::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Connects to `addr` from the loopback address `from` (e.g. 127.0.0.2).
pub async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// `n` connections to `addr` from the loopback address `from`, each having sent `bytes`.
pub async fn connections_sending(
    from: &str,
    addr: SocketAddr,
    n: usize,
    bytes: &[u8],
) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = connect_from(from, addr).await;
        stream.write_all(bytes).await.unwrap();
        streams.push(stream);
    }
    streams
}

/// Those of `streams` the server has not closed, each given `within` to show its end.
pub async fn still_open(streams: Vec<TcpStream>, within: std::time::Duration) -> Vec<TcpStream> {
    let mut open = Vec::new();
    for mut stream in streams {
        if !closed_within(&mut stream, within).await {
            open.push(stream);
        }
    }
    open
}

//! The gateway's own HTTP/1.1 backend client over real sockets: an HTTP/1.0 backend with a
//! close-delimited body, a `Content-Length` body, chunked bodies with extensions and
//! trailers split across writes, a chunked body that ends early (the connection closes
//! before the last chunk), interim 1xx answers, and a backend answering garbage or an
//! oversize head.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use streamgate::gateway::GatewayOptions;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn quick() -> GatewayOptions {
    GatewayOptions {
        connect_timeout: Duration::from_millis(500),
        ..test_options()
    }
}

/// An API on a backend that writes `parts` (with a short pause between them) after reading
/// the request, then closes.
async fn api_writing(
    env: &TestServer,
    name: &str,
    parts: Vec<Vec<u8>>,
) -> (String, String, RawBackend) {
    let backend = RawBackend::start(move |mut socket: TcpStream, _| {
        let parts = parts.clone();
        async move {
            read_head(&mut socket).await;
            for part in parts {
                if socket.write_all(&part).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
    .await;
    let (_, sub) = env
        .subscribed_api(name, &format!("{name}App"), Some(&backend.url()), None)
        .await;
    (
        env.url(&format!("/{}/1.0.0/memory", name.to_ascii_lowercase())),
        sub.production,
        backend,
    )
}

/// Reads a whole stream; returns its events' data and its comments.
async fn read_all(url: &str, token: &str) -> (Vec<String>, Vec<String>) {
    let resp = get(url, Some(token)).await;
    assert_eq!(resp.status(), 200);
    split(&SseReader::new(resp).rest().await)
}

#[tokio::test]
async fn an_http_1_0_backend_with_a_close_delimited_body_is_relayed_to_its_end() {
    let env = TestServer::with_options(quick()).await;
    let (url, token, _backend) = api_writing(
        &env,
        "Old",
        vec![
            b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: one\n\n".to_vec(),
            b"data: two\n".to_vec(),
            b"\ndata: three\n\n".to_vec(),
        ],
    )
    .await;
    let (events, comments) = read_all(&url, &token).await;
    assert_eq!(events, ["one", "two", "three"]);
    assert!(comments.is_empty(), "{comments:?}");
    assert_eq!(env.backend_errors(), 0);
}

#[tokio::test]
async fn content_length_and_chunked_bodies_are_decoded_across_writes() {
    let env = TestServer::with_options(quick()).await;
    let body = "data: a\n\ndata: b\n\n";
    let (url, token, _b1) = api_writing(
        &env,
        "Sized",
        vec![
            format!(
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\ndata: a",
                body.len()
            )
            .into_bytes(),
            // The rest of the body, then bytes past its length that are not relayed.
            b"\n\ndata: b\n\ndata: not body\n\n".to_vec(),
        ],
    )
    .await;
    let (events, comments) = read_all(&url, &token).await;
    assert_eq!(events, ["a", "b"]);
    assert!(comments.is_empty(), "{comments:?}");

    // Chunk sizes in either case, extensions, whitespace, trailers, every piece split.
    let (url, token, _b2) = api_writing(
        &env,
        "Chunky",
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n9;n=v\r\ndata: ".to_vec(),
            b"x\n\n\r\n".to_vec(),
            b"2".to_vec(),
            b"B \r\ndata: 0123456789abcdefghijklmnopqrstuvwxy\n".to_vec(),
            b"\n\r\n0;last\r\nX-Trailer: t\r\n".to_vec(),
            b"\r\n".to_vec(),
        ],
    )
    .await;
    let (events, comments) = read_all(&url, &token).await;
    assert_eq!(events, ["x", "0123456789abcdefghijklmnopqrstuvwxy"]);
    assert!(comments.is_empty(), "{comments:?}");
    assert_eq!(env.backend_errors(), 0);
}

#[tokio::test]
async fn a_chunked_body_that_ends_before_its_last_chunk_is_a_failed_connection() {
    let env = TestServer::with_options(quick()).await;
    // Whole events and whole chunks, but no last chunk: HTTP says the body is incomplete.
    let (url, token, _backend) = api_writing(
        &env,
        "Early",
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            b"b\r\ndata: one\n\n\r\n".to_vec(),
        ],
    )
    .await;
    let (events, comments) = read_all(&url, &token).await;
    assert_eq!(events, ["one"]);
    assert_eq!(comments, ["the backend connection failed"]);
    assert_eq!(env.backend_errors(), 1);

    // A bad chunk size mid-stream is the same failure.
    let (url, token, _backend) = api_writing(
        &env,
        "BadSize",
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            b"b\r\ndata: one\n\n\r\nzz\r\ndata: two\n\n\r\n".to_vec(),
        ],
    )
    .await;
    let (events, comments) = read_all(&url, &token).await;
    assert_eq!(events, ["one"]);
    assert_eq!(comments, ["the backend connection failed"]);
    assert_eq!(env.backend_errors(), 2);
}

#[tokio::test]
async fn garbage_or_an_oversize_head_from_the_backend_answers_503() {
    let env = TestServer::with_options(quick()).await;
    let (url, token, _b1) =
        api_writing(&env, "Garbage", vec![b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()]).await;
    let resp = get(&url, Some(&token)).await;
    assert_error(resp, 503, 101503).await;

    let mut big = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Big: ".to_vec();
    big.resize(100 * 1024, b'a');
    big.extend_from_slice(b"\r\n\r\ndata: never\n\n");
    let (url, token, _b2) = api_writing(&env, "Huge", vec![big]).await;
    let resp = get(&url, Some(&token)).await;
    assert_error(resp, 503, 101503).await;

    // HTTP/1.0 cannot carry Transfer-Encoding: the framing is faulty (RFC 9112 §6.1).
    let (url, token, _b3) = api_writing(
        &env,
        "Faulty",
        vec![b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec()],
    )
    .await;
    let resp = get(&url, Some(&token)).await;
    assert_error(resp, 503, 101503).await;
}

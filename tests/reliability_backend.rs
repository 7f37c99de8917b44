//! Backend faults, each with its documented answer: down, refusing (TCP and HTTP),
//! accepting then silent (before and after its headers), ending mid-event (plain and
//! chunked), flapping up and down, and answering with something other than an event
//! stream. None leaks the backend's address, a stream count or a backend connection.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use futures_util::FutureExt;
use streamgate::gateway::GatewayOptions;
use streamgate::sse::Item;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// An API on `endpoint` with a subscribed application; returns its URL and token.
async fn api_on(env: &TestServer, name: &str, endpoint: &str) -> (String, String) {
    let (_, sub) = env
        .subscribed_api(name, &format!("{name}App"), Some(endpoint), None)
        .await;
    (
        env.url(&format!("/{}/1.0.0/memory", name.to_ascii_lowercase())),
        sub.production,
    )
}

fn quick() -> GatewayOptions {
    GatewayOptions {
        connect_timeout: Duration::from_millis(300),
        heartbeat: Duration::from_millis(100),
        ..test_options()
    }
}

/// The gateway's 502/503 for a backend failure: code 101503, no backend address.
async fn assert_backend_error(resp: reqwest::Response, status: u16, backend: &str) {
    let body = assert_error(resp, status, 101503).await;
    assert_eq!(body["message"], "Error connecting to the back end");
    let text = body.to_string();
    let port = backend.rsplit(':').next().unwrap();
    assert!(
        !text.contains("127.0.0.1") && !text.contains(port),
        "{text}"
    );
}

#[tokio::test]
async fn a_backend_that_is_down_answers_503_and_tells_only_the_operator_where() {
    let env = TestServer::with_options(quick()).await;
    let mut traffic = env.telemetry().subscribe();
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (url, token) = api_on(&env, "Down", &dead).await;
    assert_backend_error(get(&url, Some(&token)).await, 503, &dead).await;
    // The operator's traffic event names the backend and the cause.
    let (code, detail) = rejection(&mut traffic).await;
    assert_eq!(code, 101503);
    assert!(detail.contains(&dead), "{detail}");
    assert_eq!(env.backend_errors(), 1);
    assert_eq!(env.open_streams(), 0);
}

#[tokio::test]
async fn a_backend_refusing_at_tcp_level_answers_503() {
    let env = TestServer::with_options(quick()).await;
    // Accepts, then closes without reading.
    let closer = RawBackend::start(|socket, _| async move { drop(socket) }).await;
    // Accepts, reads the request, then resets the connection.
    let resetter = RawBackend::start(|mut socket: TcpStream, _| async move {
        read_head(&mut socket).await;
        socket.set_zero_linger().unwrap();
        drop(socket);
    })
    .await;
    // Answers garbage instead of HTTP.
    let babbler = RawBackend::start(|mut socket: TcpStream, _| async move {
        read_head(&mut socket).await;
        let _ = socket.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        wait_closed(&mut socket).await;
    })
    .await;
    for (name, backend) in [
        ("Closer", &closer),
        ("Resetter", &resetter),
        ("Babbler", &babbler),
    ] {
        let (url, token) = api_on(&env, name, &backend.url()).await;
        assert_backend_error(get(&url, Some(&token)).await, 503, &backend.url()).await;
        assert_eq!(backend.accepted(), 1, "{name}");
        // The gateway let go of the connection.
        assert!(eventually(|| backend.finished() == 1).await, "{name}");
    }
    assert_eq!(env.backend_errors(), 3);
    assert_eq!(env.open_streams(), 0);
}

#[tokio::test]
async fn a_backend_refusing_at_http_level_has_its_status_and_body_passed_on() {
    let env = TestServer::with_options(quick()).await;
    let refuser = RawBackend::start(|mut socket: TcpStream, n| async move {
        read_head(&mut socket).await;
        let (status, body) = match n {
            0 => ("503 Service Unavailable", "{\"error\":\"busy\"}"),
            1 => ("401 Unauthorized", "{\"error\":\"who\"}"),
            _ => ("204 No Content", ""),
        };
        let resp = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nServer: internal-box-7\r\nSet-Cookie: backend=secret\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = socket.write_all(resp.as_bytes()).await;
        wait_closed(&mut socket).await;
    })
    .await;
    let (url, token) = api_on(&env, "Refuser", &refuser.url()).await;
    for (status, body) in [
        (503, "{\"error\":\"busy\"}"),
        (401, "{\"error\":\"who\"}"),
        // 204 tells an EventSource to stop reconnecting: it must reach the client.
        (204, ""),
    ] {
        let resp = get(&url, Some(&token)).await;
        assert_eq!(resp.status().as_u16(), status);
        // Only the content type crosses; the backend's other headers stay behind.
        assert!(resp.headers().get("set-cookie").is_none());
        assert!(resp.headers().get("server").is_none());
        assert_eq!(resp.text().await.unwrap(), body);
    }
    assert!(eventually(|| refuser.finished() == 3).await);
    assert_eq!(env.open_streams(), 0);
    assert_eq!(env.backend_errors(), 3);
}

/// A non-200 answer reaches the client whole and at once, whatever the backend does with
/// the connection after it: an empty body on a connection kept open (it hung the client,
/// and held both sockets, for ever), an event stream under an error status (it was relayed
/// unmetered: not relayed now), an error body larger than 64 KiB (cut there).
#[tokio::test]
async fn a_backend_non_200_answer_is_passed_on_bounded_and_never_streamed() {
    let env = TestServer::with_options(quick()).await;
    let backend = RawBackend::start(|mut socket: TcpStream, n| async move {
        read_head(&mut socket).await;
        match n {
            0 => {
                let _ = socket
                    .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
            1 => {
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                    )
                    .await;
                for i in 0..1000 {
                    let event = format!("data: {i}\n\n");
                    let chunk = format!("{:x}\r\n{event}\r\n", event.len());
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            _ => {
                let body = "x".repeat(100 * 1024);
                let resp = format!(
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(resp.as_bytes()).await;
            }
        }
        wait_closed(&mut socket).await;
    })
    .await;
    let (url, token) = api_on(&env, "Bounded", &backend.url()).await;
    for (status, len) in [(404, 0), (500, 0), (503, 64 * 1024)] {
        let t0 = std::time::Instant::now();
        let resp = get(&url, Some(&token)).await;
        assert_eq!(resp.status().as_u16(), status);
        let body = resp.text().await.unwrap();
        assert_eq!(body.len(), len, "{status}");
        assert!(!body.contains("data:"), "{status}: {body}");
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "{status}: {:?}",
            t0.elapsed()
        );
    }
    // The gateway let go of every backend connection.
    assert!(eventually(|| backend.finished() == 3).await);
    assert_eq!(env.open_streams(), 0);
}

#[tokio::test]
async fn a_backend_that_accepts_and_never_answers_gets_503_after_the_connect_timeout() {
    let env = TestServer::with_options(quick()).await;
    let mute = Backend::start(Script::Mute).await;
    let (url, token) = api_on(&env, "Mute", &mute.url()).await;
    assert_backend_error(get(&url, Some(&token)).await, 503, &mute.url()).await;
    // The gateway gave up on the connection instead of keeping it.
    mute.wait_hangups(1).await;
    assert_eq!(env.open_streams(), 0);
}

#[tokio::test]
async fn a_backend_silent_after_its_headers_is_kept_alive_by_heartbeats() {
    let env = TestServer::with_options(quick()).await;
    let silent = Backend::start(Script::Chunks(vec![])).await;
    let (url, token) = api_on(&env, "Silent", &silent.url()).await;
    let resp = get(&url, Some(&token)).await;
    assert_eq!(resp.status(), 200);
    let mut reader = SseReader::new(resp);
    for _ in 0..3 {
        assert_eq!(reader.next().await, Some(Item::Comment("heartbeat".into())));
    }
    assert_eq!(env.open_streams(), 1);
    assert_eq!(silent.hangups.load(Ordering::SeqCst), 0);
    drop(reader);
    silent.wait_hangups(1).await;
    assert!(eventually(|| env.open_streams() == 0).await);
}

/// Reads a whole stream; returns its events' data and its comments.
async fn read_all(url: &str, token: &str) -> (Vec<String>, Vec<String>) {
    let resp = get(url, Some(token)).await;
    assert_eq!(resp.status(), 200);
    split(&SseReader::new(resp).rest().await)
}

#[tokio::test]
async fn a_backend_ending_mid_event_never_gets_the_partial_event_dispatched() {
    let env = TestServer::with_options(quick()).await;
    let mut traffic = env.telemetry().subscribe();
    // Framed by the connection's end: EOF after half an event.
    let plain = RawBackend::start(|mut socket: TcpStream, _| async move {
        read_head(&mut socket).await;
        let _ = socket
            .write_all(format!("{SSE_OK}data: one\n\ndata: par").as_bytes())
            .await;
    })
    .await;
    let (url, token) = api_on(&env, "Plain", &plain.url()).await;
    let (events, comments) = read_all(&url, &token).await;
    assert_eq!(events, vec!["one"]);
    assert_eq!(
        comments,
        vec!["the backend ended the stream in the middle of an event"]
    );
    let (reason, events) = closed(&mut traffic).await;
    assert_eq!(events, 1);
    assert_eq!(
        reason,
        "the backend ended the stream in the middle of an event"
    );

    // Chunked: the connection drops inside a chunk, which HTTP itself calls an error.
    let chunked = RawBackend::start(|mut socket: TcpStream, _| async move {
        read_head(&mut socket).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
        let _ = socket
            .write_all(format!("{head}b\r\ndata: one\n\n\r\n20\r\ndata: par").as_bytes())
            .await;
    })
    .await;
    let (url, token) = api_on(&env, "Chunked", &chunked.url()).await;
    let (events, comments) = read_all(&url, &token).await;
    assert_eq!(events, vec!["one"]);
    assert_eq!(comments, vec!["the backend connection failed"]);
    assert_eq!(env.backend_errors(), 2);
    assert_eq!(env.open_streams(), 0);

    // A clean end between events is just the end.
    let clean = RawBackend::start(|mut socket: TcpStream, _| async move {
        read_head(&mut socket).await;
        let _ = socket
            .write_all(format!("{SSE_OK}data: one\n\n").as_bytes())
            .await;
    })
    .await;
    let (url, token) = api_on(&env, "Clean", &clean.url()).await;
    let (events, comments) = read_all(&url, &token).await;
    assert_eq!(events, vec!["one"]);
    assert!(comments.is_empty(), "{comments:?}");
    assert_eq!(env.backend_errors(), 2);
}

#[tokio::test]
async fn a_flapping_backend_gets_503_while_down_and_streams_while_up() {
    let env = TestServer::with_options(quick()).await;
    let script: Arc<
        dyn Fn(TcpStream) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync,
    > = Arc::new(|mut socket: TcpStream| {
        async move {
            read_head(&mut socket).await;
            if socket.write_all(SSE_OK.as_bytes()).await.is_err() {
                return;
            }
            for n in 0.. {
                let event = format!("id: {n}\ndata: {n}\n\n");
                if socket.write_all(event.as_bytes()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        .boxed()
    });
    let mut backend = Flapper::start(script).await;
    let (url, token) = api_on(&env, "Flappy", &backend.url()).await;
    for round in 0..5 {
        let resp = get(&url, Some(&token)).await;
        assert_eq!(resp.status(), 200, "round {round}");
        let mut reader = SseReader::new(resp);
        assert!(reader.next_event().await.is_some());
        backend.down().await;
        // The open stream ends; whatever it got was whole events.
        let rest = reader.rest().await;
        assert!(reader.ended);
        let raw = String::from_utf8_lossy(&reader.raw).into_owned();
        let comments: Vec<_> = rest
            .iter()
            .filter_map(|i| match i {
                Item::Comment(c) => Some(c.as_str()),
                Item::Event(_) => None,
            })
            .collect();
        assert!(
            comments.is_empty()
                || comments == ["the backend ended the stream in the middle of an event"]
                || comments == ["the backend connection failed"],
            "{comments:?} {raw:?}"
        );
        // While down, each request is answered at once with 503.
        assert_backend_error(get(&url, Some(&token)).await, 503, &backend.url()).await;
        backend.up().await;
    }
    let resp = get(&url, Some(&token)).await;
    assert_eq!(resp.status(), 200);
    drop(resp);
    assert!(eventually(|| env.open_streams() == 0).await);
    assert_eq!(
        env.telemetry().metrics().rejections().get(&101503),
        Some(&5)
    );
    assert_eq!(env.streams_total(), 6);
}

#[tokio::test]
async fn a_backend_answering_other_than_an_event_stream_gets_502() {
    let env = TestServer::with_options(quick()).await;
    let answers: &[(&str, &str, &str)] = &[
        (
            "200 OK",
            "Content-Type: application/json\r\n",
            "{\"data\":\"x\"}\n\n",
        ),
        (
            "200 OK",
            "Content-Type: text/html\r\n",
            "<html>data: 1\n\n</html>",
        ),
        ("200 OK", "", "data: untyped\n\n"),
        (
            "200 OK",
            "Content-Type: text/event-stream\r\nContent-Encoding: gzip\r\n",
            "\x1f\u{8b}data: 1\n\n",
        ),
        // Two lines are one list: `identity` then `gzip` is gzip.
        (
            "200 OK",
            "Content-Type: text/event-stream\r\nContent-Encoding: identity\r\nContent-Encoding: gzip\r\n",
            "\x1f\u{8b}data: 1\n\n",
        ),
        // Never asked for (the gateway drops `Upgrade`): not a valid answer, and what
        // follows is not HTTP. It was passed on as the final answer.
        (
            "101 Switching Protocols",
            "Upgrade: websocket\r\nContent-Type: text/event-stream\r\n",
            "\u{81}\u{5}hello",
        ),
    ];
    for (i, (status, headers, body)) in answers.iter().enumerate() {
        let (status, headers, body) = (status.to_string(), headers.to_string(), body.to_string());
        let backend = RawBackend::start(move |mut socket: TcpStream, _| {
            let (status, headers, body) = (status.clone(), headers.clone(), body.clone());
            async move {
                read_head(&mut socket).await;
                let resp = format!("HTTP/1.1 {status}\r\n{headers}Connection: close\r\n\r\n{body}");
                let _ = socket.write_all(resp.as_bytes()).await;
                wait_closed(&mut socket).await;
            }
        })
        .await;
        let (url, token) = api_on(&env, &format!("Wrong{i}"), &backend.url()).await;
        assert_backend_error(get(&url, Some(&token)).await, 502, &backend.url()).await;
        // The gateway closed the backend connection rather than keep it.
        assert!(eventually(|| backend.finished() == 1).await, "{i}");
    }
    assert_eq!(env.open_streams(), 0);
    assert_eq!(env.streams_total(), 0);
    assert_eq!(env.backend_errors(), answers.len() as u64);

    // Parameters and case do not matter.
    for ct in ["text/event-stream; charset=utf-8", "Text/Event-Stream"] {
        let ct = ct.to_string();
        let backend = RawBackend::start(move |mut socket: TcpStream, _| {
            let ct = ct.clone();
            async move {
                read_head(&mut socket).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nConnection: close\r\n\r\ndata: ok\n\n"
                );
                let _ = socket.write_all(resp.as_bytes()).await;
            }
        })
        .await;
        let name = format!("Right{}", backend.addr.port());
        let (url, token) = api_on(&env, &name, &backend.url()).await;
        let (events, _) = read_all(&url, &token).await;
        assert_eq!(events, vec!["ok"]);
    }
}

#[tokio::test]
async fn a_backend_redirect_is_not_followed_and_its_location_stays_hidden() {
    let env = TestServer::with_options(quick()).await;
    let elsewhere = Backend::start(events("\n", Duration::from_millis(5), Some(1))).await;
    let target = format!("{}/internal/secret", elsewhere.url());
    let redirector = RawBackend::start(move |mut socket: TcpStream, _| {
        let target = target.clone();
        async move {
            read_head(&mut socket).await;
            let resp = format!(
                "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = socket.write_all(resp.as_bytes()).await;
            wait_closed(&mut socket).await;
        }
    })
    .await;
    let (url, token) = api_on(&env, "Redirect", &redirector.url()).await;
    let resp = client()
        .get(&url)
        .bearer_auth(&token)
        .header("X-Custom", "kept")
        .send()
        .await
        .unwrap();
    // This client follows redirects: had the Location crossed, it would have been used.
    // The target is another origin (another port), so the gateway refuses it: 502.
    assert_eq!(resp.status(), 502);
    assert!(resp.headers().get("location").is_none());
    assert_eq!(
        elsewhere.request_count(),
        0,
        "the gateway followed the redirect"
    );
    assert_eq!(redirector.accepted(), 1);
    assert_eq!(env.open_streams(), 0);
}

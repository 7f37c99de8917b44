//! Reading SSE through the gateway: GET with a bearer token, a refused request's JSON
//! body, and a reader that yields the events and comments of a response as they arrive
//! (parsed by streamgate's own WHATWG parser).

use futures_util::StreamExt;
use streamgate::sse::{Item, Parser};

use super::{PATIENCE, client};

/// GET with an optional bearer token.
pub async fn get(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// The JSON error body of a refused request.
pub async fn error_body(resp: reqwest::Response) -> serde_json::Value {
    let text = resp.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts the gateway's JSON error answer: `status`, a JSON content type, this `code`, a
/// message and a description, and on 401 a `WWW-Authenticate: Bearer` challenge (RFC 6750).
/// Answers the body.
pub async fn assert_error(resp: reqwest::Response, status: u16, code: u64) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let body = error_body(resp).await;
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()));
    if status == 401 {
        assert!(www.is_some_and(|w| w.starts_with("Bearer")), "{body}");
    }
    body
}

/// Reads an SSE response item by item.
pub struct SseReader {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    parser: Parser,
    queue: std::collections::VecDeque<Item>,
    /// Every byte received.
    pub raw: Vec<u8>,
    pub ended: bool,
}

impl SseReader {
    pub fn new(resp: reqwest::Response) -> Self {
        Self {
            body: resp.bytes_stream().boxed(),
            parser: Parser::new(),
            queue: Default::default(),
            raw: Vec::new(),
            ended: false,
        }
    }

    /// The next event or comment; `None` when the stream ends.
    pub async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout(PATIENCE, self.body.next())
                .await
                .expect("the stream moves")
            {
                Some(Ok(chunk)) => {
                    self.raw.extend_from_slice(&chunk);
                    self.queue.extend(self.parser.push_items(&chunk));
                }
                Some(Err(_)) | None => self.ended = true,
            }
        }
    }

    /// Everything up to the end of the stream.
    pub async fn rest(&mut self) -> Vec<Item> {
        let mut out = Vec::new();
        while let Some(item) = self.next().await {
            out.push(item);
        }
        out
    }

    /// The next event, skipping comments.
    pub async fn next_event(&mut self) -> Option<streamgate::sse::Event> {
        loop {
            match self.next().await? {
                Item::Event(e) => return Some(e),
                Item::Comment(_) => {}
            }
        }
    }
}

/// Events and comments of a finished stream.
pub fn split(items: &[Item]) -> (Vec<String>, Vec<String>) {
    let mut events = Vec::new();
    let mut comments = Vec::new();
    for item in items {
        match item {
            Item::Event(e) => events.push(e.data.clone()),
            Item::Comment(c) => comments.push(c.clone()),
        }
    }
    (events, comments)
}

impl super::TestServer {
    /// GET `path` on the gateway with an optional bearer token.
    pub async fn open(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        get(&self.url(path), token).await
    }
}

/// The data of every event of a response, read to its end.
pub async fn events_of(resp: reqwest::Response) -> Vec<String> {
    split(&SseReader::new(resp).rest().await).0
}

/// GET with an `Origin` header (as a page on that origin sends it) and an optional bearer
/// token.
pub async fn get_from(url: &str, origin: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = client().get(url).header("Origin", origin);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// A CORS preflight (`OPTIONS` with `Origin`, `Access-Control-Request-Method: GET` and,
/// when given, `Access-Control-Request-Headers`).
pub async fn preflight(url: &str, origin: &str, headers: Option<&str>) -> reqwest::Response {
    let mut req = client()
        .request(reqwest::Method::OPTIONS, url)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "GET");
    if let Some(h) = headers {
        req = req.header("Access-Control-Request-Headers", h);
    }
    req.send().await.unwrap()
}

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

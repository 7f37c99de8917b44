//! The gateway's HTTP/1.1 response codec (`streamgate::gateway::h1`) against hyper's client
//! on the same bytes: generated responses (status, version, header fields, interim 1xx
//! answers, `Content-Length`, chunked with random chunk sizes, extensions and trailers,
//! close-delimited) fed to our parser and decoder split at every byte and at random
//! points, and to hyper's `client::conn::http1` over an in-memory duplex pipe; both must
//! agree on status, version, the header fields the gateway reads and body bytes, or both
//! refuse (bad chunk
//! sizes, overflowing sizes, broken framing, a body cut short, oversize heads).
#![allow(clippy::unwrap_used)]

use axum::http::{HeaderMap, Version};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use proptest::prelude::*;
use streamgate::gateway::h1::{self, Decoder, MAX_HEAD_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a client makes of a response: status, version, the fields the gateway reads and
/// body, or a refusal.
type Outcome = Result<(u16, Version, Fields, Vec<u8>), String>;

/// The fields the gateway reads of an answer head (`h1::AnswerHead`): the first
/// `Content-Type` and `Location` line, the first `Content-Encoding` line that names a coding
/// (else the first), and the `Transfer-Encoding` lines joined with `, ` when they name a
/// coding other than `chunked`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    content_type: Option<Vec<u8>>,
    content_encoding: Option<Vec<u8>>,
    location: Option<Vec<u8>>,
    unknown_codings: Option<String>,
}

impl Fields {
    fn of_ours(head: &h1::AnswerHead) -> Self {
        let bytes = |v: &Option<axum::http::HeaderValue>| v.as_ref().map(|v| v.as_bytes().to_vec());
        Fields {
            content_type: bytes(&head.content_type),
            content_encoding: bytes(&head.content_encoding),
            location: bytes(&head.location),
            unknown_codings: head
                .transfer_codings
                .as_ref()
                .and_then(|t| t.unknown.clone()),
        }
    }

    /// The same read off hyper's header map.
    fn of_hypers(headers: &HeaderMap) -> Self {
        let first = |name: &str| headers.get(name).map(|v| v.as_bytes().to_vec());
        let lines: Vec<_> = headers
            .get_all("transfer-encoding")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let unknown = headers
            .get_all("transfer-encoding")
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .map(<[u8]>::trim_ascii)
            .any(|c| !c.is_empty() && !c.eq_ignore_ascii_case(b"chunked"));
        let encodings: Vec<Vec<u8>> = headers
            .get_all("content-encoding")
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect();
        let names_coding = |v: &&Vec<u8>| {
            let v = v.trim_ascii();
            !v.is_empty() && !v.eq_ignore_ascii_case(b"identity")
        };
        Fields {
            content_type: first("content-type"),
            content_encoding: encodings
                .iter()
                .find(names_coding)
                .or(encodings.first())
                .cloned(),
            location: first("location"),
            unknown_codings: unknown.then(|| lines.join(", ")),
        }
    }
}

/// Our codec on `bytes`, delivered in the pieces `cuts` makes (sorted offsets), then EOF.
fn ours(bytes: &[u8], cuts: &[usize]) -> Outcome {
    let mut pieces = Vec::new();
    let mut at = 0;
    for &cut in cuts {
        let cut = cut.min(bytes.len());
        if cut > at {
            pieces.push(&bytes[at..cut]);
            at = cut;
        }
    }
    pieces.push(&bytes[at..]);
    let mut head_buf = Vec::new();
    let mut head = None;
    let mut decoder = None;
    let mut body = Vec::new();
    for piece in pieces {
        match &mut decoder {
            None => {
                head_buf.extend_from_slice(piece);
                if let Some(parsed) = h1::parse_head(&head_buf).map_err(|e| e.to_string())? {
                    let mut d = Decoder::new(parsed.framing);
                    d.decode(&head_buf[parsed.len..], |data| {
                        assert!(!data.is_empty());
                        body.extend_from_slice(data);
                    })
                    .map_err(|e| e.to_string())?;
                    decoder = Some(d);
                    head = Some(parsed.answer);
                }
            }
            Some(d) => d
                .decode(piece, |data| {
                    assert!(!data.is_empty());
                    body.extend_from_slice(data);
                })
                .map_err(|e| e.to_string())?,
        }
    }
    let (Some(head), Some(mut decoder)) = (head, decoder) else {
        return Err("connection closed before the head was complete".into());
    };
    decoder.eof().map_err(|e| e.to_string())?;
    Ok((
        head.status.as_u16(),
        head.version,
        Fields::of_ours(&head),
        body,
    ))
}

/// hyper's client on `bytes` (written at once, then EOF), with the same 64 KiB head bound.
fn hypers(bytes: &[u8]) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bytes = bytes.to_vec();
    runtime.block_on(async move {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(async move {
            // Answers once the request is in, as a server does (hyper refuses an answer
            // that comes before its request).
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match server.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = server.write_all(&bytes).await;
            let _ = server.shutdown().await;
            // Held until hyper is done, so its request write never fails.
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        });
        let mut builder = hyper::client::conn::http1::Builder::new();
        builder.max_buf_size(MAX_HEAD_BYTES);
        let (mut sender, conn) = builder
            .handshake::<_, Empty<Bytes>>(hyper_util::rt::TokioIo::new(client))
            .await
            .unwrap();
        let conn = tokio::spawn(conn);
        let request = axum::http::Request::builder()
            .uri("/events")
            .header("host", "b")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let outcome = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok((
                parts.status.as_u16(),
                parts.version,
                Fields::of_hypers(&parts.headers),
                body.to_vec(),
            ))
        }
        .await;
        conn.abort();
        writer.abort();
        outcome
    })
}

/// How a generated body is framed.
#[derive(Debug, Clone)]
enum Body {
    Length(Vec<u8>, bool),
    Chunked(Vec<Chunk>, Vec<(String, String)>, bool),
    Close(Vec<u8>),
}

/// One chunk: its data and how its size line is written.
#[derive(Debug, Clone)]
struct Chunk {
    data: Vec<u8>,
    upper: bool,
    zeros: usize,
    space: &'static str,
    extension: Option<String>,
}

fn chunk() -> impl Strategy<Value = Chunk> {
    (
        prop::collection::vec(any::<u8>(), 1..300),
        any::<bool>(),
        0usize..3,
        prop::sample::select(vec!["", " ", "\t", " \t "]),
        prop::option::of("[a-z]{1,6}(=[a-zA-Z0-9]{0,8})?(;[a-z]{1,4}=\"[a-z ]{0,6}\")?"),
    )
        .prop_map(|(data, upper, zeros, space, extension)| Chunk {
            data,
            upper,
            zeros,
            space,
            extension,
        })
}

fn field() -> impl Strategy<Value = (String, String)> {
    // Content-Encoding lines also with `identity` (one list with the others, read as the
    // first line naming a coding).
    let encoding = (
        prop::sample::select(vec!["Content-Encoding", "content-encoding"]),
        prop::sample::select(vec!["identity", "Identity", "gzip", "br, identity"]),
    )
        .prop_map(|(n, v)| (n.to_string(), v.to_string()));
    let any_field = (
        prop::sample::select(vec![
            "Content-Type",
            "content-type",
            "Content-Encoding",
            "LOCATION",
            "Location",
            "Cache-Control",
            "X-Request-Id",
            "x-custom",
            "Set-Cookie",
            "Vary",
            "Server",
            "Connection",
            "Link",
        ]),
        "[a-zA-Z0-9/;=,._-][a-zA-Z0-9/;=,._ -]{0,30}[a-zA-Z0-9/;=,._-]",
    )
        .prop_map(|(n, v)| (n.to_string(), v));
    // Framing lines beside the body's own: a repeated `Transfer-Encoding` list (one list
    // with the body's), a `Content-Length` with it or alone.
    let framing = prop_oneof![
        prop::sample::select(vec![
            "chunked",
            "Chunked",
            "gzip",
            "gzip, chunked",
            ", chunked"
        ])
        .prop_map(|v| ("Transfer-Encoding".to_string(), v.to_string())),
        prop::sample::select(vec!["0", "5", "600", "5, 5"])
            .prop_map(|v| ("Content-Length".to_string(), v.to_string())),
    ];
    prop_oneof![8 => any_field, 2 => encoding, 1 => framing]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (prop::collection::vec(any::<u8>(), 0..600), any::<bool>())
            .prop_map(|(b, twice)| Body::Length(b, twice)),
        (
            prop::collection::vec(chunk(), 0..8),
            prop::collection::vec(("X-[a-z]{1,8}", "[a-zA-Z0-9 ,;=]{0,16}"), 0..3),
            any::<bool>(),
        )
            .prop_map(|(c, t, gzip)| Body::Chunked(c, t, gzip)),
        prop::collection::vec(any::<u8>(), 0..600).prop_map(Body::Close),
    ]
}

/// A generated response.
#[derive(Debug, Clone)]
struct Answer {
    interim: Option<&'static str>,
    version: &'static str,
    status: u16,
    reason: &'static str,
    fields: Vec<(String, String)>,
    body: Body,
}

fn answer() -> impl Strategy<Value = Answer> {
    (
        prop::option::of(prop::sample::select(vec![
            "HTTP/1.1 100 Continue\r\n\r\n",
            "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
            "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",
        ])),
        prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0"]),
        prop::sample::select(vec![200u16, 201, 204, 206, 302, 304, 404, 500, 503, 599]),
        prop::sample::select(vec!["OK", "", "Whatever it is"]),
        prop::collection::vec(field(), 0..8),
        body(),
    )
        .prop_map(|(interim, version, status, reason, fields, body)| Answer {
            interim,
            version,
            status,
            reason,
            fields,
            body,
        })
}

/// The chunked encoding of `chunks` with `trailers`, ending with the last chunk.
fn chunked(chunks: &[Chunk], trailers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in chunks {
        let size = if c.upper {
            format!("{:X}", c.data.len())
        } else {
            format!("{:x}", c.data.len())
        };
        out.extend_from_slice("0".repeat(c.zeros).as_bytes());
        out.extend_from_slice(size.as_bytes());
        out.extend_from_slice(c.space.as_bytes());
        if let Some(ext) = &c.extension {
            out.push(b';');
            out.extend_from_slice(ext.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&c.data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

impl Answer {
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(interim) = self.interim {
            out.extend_from_slice(interim.as_bytes());
        }
        out.extend_from_slice(
            format!("{} {} {}\r\n", self.version, self.status, self.reason).as_bytes(),
        );
        for (name, value) in &self.fields {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        let body = match &self.body {
            Body::Length(b, twice) => {
                let n = b.len();
                let value = if *twice {
                    format!("{n}, {n}")
                } else {
                    n.to_string()
                };
                out.extend_from_slice(format!("Content-Length: {value}\r\n").as_bytes());
                b.clone()
            }
            Body::Chunked(chunks, trailers, gzip) => {
                let coding = if *gzip { "gzip, chunked" } else { "chunked" };
                out.extend_from_slice(format!("Transfer-Encoding: {coding}\r\n").as_bytes());
                chunked(chunks, trailers)
            }
            Body::Close(b) => b.clone(),
        };
        out.extend_from_slice(b"\r\n");
        // A 204 or 304 has no body whatever its fields say; none is sent.
        if !matches!(self.status, 204 | 304) {
            out.extend_from_slice(&body);
        }
        out
    }
}

/// Every piece one byte long.
fn every_byte(len: usize) -> Vec<usize> {
    (1..len).collect()
}

fn sorted(mut cuts: Vec<usize>) -> Vec<usize> {
    cuts.sort_unstable();
    cuts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Valid (and HTTP/1.0 chunked, which both refuse) responses read the same.
    #[test]
    fn responses_read_as_hyper_reads_them(
        answer in answer(),
        cuts in prop::collection::vec(0usize..4000, 0..12),
    ) {
        let bytes = answer.bytes();
        let expected = hypers(&bytes);
        let at_once = ours(&bytes, &[]);
        prop_assert_eq!(at_once.is_ok(), expected.is_ok(), "ours {:?}, hyper's {:?}", at_once, expected);
        if let Ok(expected) = &expected {
            prop_assert_eq!(at_once.as_ref().unwrap(), expected);
            let split = ours(&bytes, &sorted(cuts.clone()));
            prop_assert_eq!(split.as_ref().unwrap(), expected);
            let bytewise = ours(&bytes, &every_byte(bytes.len()));
            prop_assert_eq!(bytewise.as_ref().unwrap(), expected);
        } else {
            prop_assert!(ours(&bytes, &sorted(cuts)).is_err());
            prop_assert!(ours(&bytes, &every_byte(bytes.len())).is_err());
        }
    }

    /// A chunked body with one size line broken (not hex, overflowing, bad whitespace, a
    /// bare LF), or cut short anywhere, is refused by both.
    #[test]
    fn broken_chunked_bodies_are_refused_by_both(
        chunks in prop::collection::vec(chunk(), 1..5),
        which in any::<prop::sample::Index>(),
        bad in prop::sample::select(vec![
            "g\r\n", "1x\r\n", "-1\r\n", "0x10\r\n", "1 1\r\n", "5\n",
            "10000000000000000\r\n", "ffffffffffffffffff\r\n", "\r\n", "3;a\nb\r\n",
        ]),
        cut in any::<prop::sample::Index>(),
        cuts in prop::collection::vec(0usize..4000, 0..8),
    ) {
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
        // The size line of chunk `which` replaced by `bad`.
        let broken_at = which.index(chunks.len());
        let mut body = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            if i == broken_at {
                body.extend_from_slice(bad.as_bytes());
            } else {
                body.extend_from_slice(format!("{:x}\r\n", c.data.len()).as_bytes());
            }
            body.extend_from_slice(&c.data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        let bytes = [head.as_slice(), &body].concat();
        let expected = hypers(&bytes);
        prop_assert!(expected.is_err(), "hyper read {:?}", expected);
        prop_assert!(ours(&bytes, &[]).is_err());
        prop_assert!(ours(&bytes, &sorted(cuts.clone())).is_err());

        // A valid chunked body cut short before its end.
        let whole = [head.as_slice(), &chunked(&chunks, &[])].concat();
        let short = &whole[..head.len() + cut.index(whole.len() - head.len())];
        prop_assert!(hypers(short).is_err());
        prop_assert!(ours(short, &[]).is_err());
        prop_assert!(ours(short, &sorted(cuts)).is_err());
    }
}

/// Heads over 64 KiB (ours; hyper's somewhat later), or with more than 100 fields, are refused by both; just under the
/// field bound both read.
#[test]
fn oversize_heads_are_refused_by_both() {
    // hyper's bound is its read buffer's, which one read may overshoot by a few times.
    for size in [80 * 1024, 300 * 1024, 1024 * 1024] {
        let mut bytes = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        bytes.resize(size, b'a');
        bytes.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
        if size > 256 * 1024 {
            assert!(hypers(&bytes).is_err(), "{size} bytes");
        }
        assert!(ours(&bytes, &[]).is_err());
        assert!(ours(&bytes, &sorted(vec![4096, 8192, 70_000])).is_err());
    }
    for (count, ok) in [(99, true), (101, false), (300, false)] {
        let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..count {
            bytes.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"Content-Length: 2\r\n\r\nhi");
        let expected = hypers(&bytes);
        assert_eq!(expected.is_ok(), ok, "{count} fields: {expected:?}");
        assert_eq!(ours(&bytes, &[]).ok(), expected.ok());
    }
}

/// Invalid `Content-Length` values are refused by both; valid ones frame the body.
#[test]
fn content_lengths_read_as_hyper_reads_them() {
    for value in [
        "5",
        "5, 5",
        "+5",
        "-1",
        "5, 6",
        "0x5",
        "",
        "99999999999999999999",
        // u64::MAX and MAX - 1: hyper's markers, refused; MAX - 2 taken (then incomplete).
        "18446744073709551615",
        "18446744073709551614",
        "18446744073709551613",
        "05",
        "5\u{a0}",
        "\u{3000}5",
        "5,\u{85}5",
    ] {
        let bytes = format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\nhello");
        let expected = hypers(bytes.as_bytes());
        let got = ours(bytes.as_bytes(), &[]);
        assert_eq!(
            got.is_ok(),
            expected.is_ok(),
            "Content-Length {value:?}: {got:?}, hyper's {expected:?}"
        );
        assert_eq!(got.ok(), expected.ok(), "Content-Length {value:?}");
    }
}

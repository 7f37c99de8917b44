use super::*;
use axum::http::HeaderMap;

#[test]
fn client_addresses_are_written_as_std_writes_them() {
    let mut v4s = vec![[0, 0, 0, 0], [255, 255, 255, 255], [10, 200, 3, 45]];
    v4s.extend((0..=255u8).map(|o| [o, 9, 99, o]));
    for octets in v4s {
        let ip = std::net::IpAddr::from(octets);
        let mut out = Vec::new();
        push_ip(&mut out, ip);
        assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
    }
    for v6 in [
        "::1",
        "fe80::1:2",
        "2001:db8::ff00:42:8329",
        "::ffff:10.0.0.1",
    ] {
        let ip: std::net::IpAddr = v6.parse().unwrap();
        let mut out = Vec::new();
        push_ip(&mut out, ip);
        assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
    }
}

#[test]
fn the_client_address_is_appended_to_x_forwarded_for() {
    let client = Some(SocketAddr::from(([192, 0, 2, 7], 5000)));
    let forwarded = |incoming: &HeaderMap, client| {
        let lines =
            String::from_utf8(upstream_headers(fields::Fields::Map(incoming), client)).unwrap();
        let values: Vec<String> = lines
            .split("\r\n")
            .filter_map(|l| l.strip_prefix("x-forwarded-for: "))
            .map(str::to_string)
            .collect();
        assert!(values.len() <= 1, "{lines:?}");
        values.into_iter().next()
    };
    assert_eq!(
        forwarded(&HeaderMap::new(), client).as_deref(),
        Some("192.0.2.7")
    );
    let mut incoming = HeaderMap::new();
    incoming.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
    assert_eq!(
        forwarded(&incoming, client).as_deref(),
        Some("203.0.113.9, 192.0.2.7")
    );
    assert_eq!(forwarded(&incoming, None).as_deref(), Some("203.0.113.9"));
    // Two lines are one list: both kept, in order, then the client.
    let mut two = incoming.clone();
    two.append("x-forwarded-for", HeaderValue::from_static("198.51.100.4"));
    assert_eq!(
        forwarded(&two, client).as_deref(),
        Some("203.0.113.9, 198.51.100.4, 192.0.2.7")
    );
    assert_eq!(
        forwarded(&two, None).as_deref(),
        Some("203.0.113.9, 198.51.100.4")
    );
    // An empty line adds no empty element.
    two.append("x-forwarded-for", HeaderValue::from_static(""));
    assert_eq!(
        forwarded(&two, client).as_deref(),
        Some("203.0.113.9, 198.51.100.4, 192.0.2.7")
    );
    incoming.insert(
        header::CONNECTION,
        HeaderValue::from_static("X-Forwarded-For"),
    );
    assert_eq!(forwarded(&incoming, None), None);
    // A `Connection` line that is not text (obs-text) lists nothing.
    incoming.insert(
        header::CONNECTION,
        HeaderValue::from_bytes(b"X-Forwarded-For, caf\xe9").unwrap(),
    );
    assert_eq!(forwarded(&incoming, None).as_deref(), Some("203.0.113.9"));
}

#[test]
fn credentials_and_hop_by_hop_headers_stay_with_the_gateway() {
    let mut incoming = HeaderMap::new();
    for (name, value) in [
        ("authorization", "Bearer t"),
        ("connection", "keep-alive, X-Hop"),
        ("x-hop", "1"),
        ("te", "trailers"),
        ("host", "gw"),
        ("accept-encoding", "gzip"),
        ("content-length", "0"),
        ("transfer-encoding", "chunked"),
        ("last-event-id", "41"),
        ("x-trace", "a"),
    ] {
        incoming.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    incoming.append("x-trace", HeaderValue::from_static("b"));
    let lines = String::from_utf8(upstream_headers(fields::Fields::Map(&incoming), None)).unwrap();
    assert_eq!(
        lines,
        "last-event-id: 41\r\nx-trace: a\r\nx-trace: b\r\n\
             accept-encoding: identity\r\naccept: text/event-stream\r\n"
    );
    incoming.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    let lines = String::from_utf8(upstream_headers(fields::Fields::Map(&incoming), None)).unwrap();
    assert!(lines.contains("accept: */*\r\n"), "{lines}");
    assert!(!lines.contains("text/event-stream"), "{lines}");
}

/// The backend URL, checked to be what the request's target (the fast path where it
/// applies) names too.
fn join(endpoint: &str, resource: &str, query: Option<&str>) -> String {
    let base = endpoint_url(endpoint).unwrap();
    let url = join_url(&base, resource, query);
    let target = join_target(&base, resource, query);
    let want = upstream::Target::of(url.clone());
    assert_eq!(
        target.path_and_query, want.path_and_query,
        "{endpoint} + {resource}"
    );
    assert_eq!(target.to_url(), url, "{endpoint} + {resource}");
    url.to_string()
}

use proptest::strategy::Strategy as _;

proptest::proptest! {
    /// Building the target as a string gives what the URL parser gives, whatever the
    /// resource and query: dot segments (also `%2e`), characters a URL encodes, `//`.
    #[test]
    fn the_targets_fast_path_is_the_urls(
        base in proptest::sample::select(vec![
            "http://b", "http://b/", "http://b/base", "http://b:8080/base/?k=1",
            "https://b/a%20b?k=a%20b#f",
        ]),
        segments in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::sample::select(vec![
                    ".", "..", "%2e", "%2E.", ".%2e", "%2e%2E", "...", ".a", "", "a b",
                    "caf\u{e9}", "x'y", "%", "%ff", "a\\b", "{}", "^|`", "q?r", "f#g",
                ])
                .prop_map(str::to_string),
                proptest::string::string_regex(r"[a-z0-9.%~!$&()*+,;=:@-]{0,4}").unwrap(),
            ],
            0..5,
        ),
        query in proptest::option::of(r#"[a-zA-Z0-9=&%./?'" <>#~-]{0,12}"#),
    ) {
        let resource = format!("/{}", segments.join("/"));
        let base = endpoint_url(base).unwrap();
        let url = join_url(&base, &resource, query.as_deref());
        let target = join_target(&base, &resource, query.as_deref());
        let want = upstream::Target::of(url.clone());
        proptest::prop_assert_eq!(&target.path_and_query, &want.path_and_query);
        proptest::prop_assert_eq!(target.to_url(), url);
    }
}

#[test]
fn endpoint_and_request_paths_and_queries_join() {
    let cases = [
        ("http://b/base", "/events", None, "http://b/base/events"),
        ("http://b/base/", "/events", None, "http://b/base/events"),
        ("http://b", "/events", None, "http://b/events"),
        ("http://b/", "/", None, "http://b/"),
        ("http://b/base", "/", None, "http://b/base"),
        (
            "http://b/base?apikey=k1",
            "/events",
            Some("x=1"),
            "http://b/base/events?apikey=k1&x=1",
        ),
        (
            "http://b/base/?apikey=k1",
            "/events",
            Some("x=1"),
            "http://b/base/events?apikey=k1&x=1",
        ),
        (
            "http://b/base?apikey=k1",
            "/events",
            None,
            "http://b/base/events?apikey=k1",
        ),
        (
            "http://b/base",
            "/events",
            Some("x=1&y=2"),
            "http://b/base/events?x=1&y=2",
        ),
        (
            "http://b/base?k=a%20b",
            "/events",
            Some("q=%C3%A9&access_token=t"),
            "http://b/base/events?k=a%20b&q=%C3%A9",
        ),
        (
            "http://b/base?k=1",
            "/events",
            Some("access_token=t"),
            "http://b/base/events?k=1",
        ),
        (
            "http://b/b%20s",
            "/caf\u{e9}/a b",
            None,
            "http://b/b%20s/caf%C3%A9/a%20b",
        ),
        (
            "http://b/base#frag",
            "/e",
            Some("x=1"),
            "http://b/base/e?x=1",
        ),
        (
            "http://b:8080/base?k=1",
            "/x%ff",
            Some("x="),
            "http://b:8080/base/x%ff?k=1&x=",
        ),
    ];
    for (endpoint, resource, query, want) in cases {
        assert_eq!(
            join(endpoint, resource, query),
            want,
            "{endpoint} + {resource} ? {query:?}"
        );
    }
    assert!(endpoint_url("not a url").is_err());
}

#[test]
fn only_chunked_transfer_coding_passes() {
    let why = |lines: &str| {
        let head = format!("HTTP/1.1 200 OK\r\n{lines}\r\n");
        let head = h1::parse_head(head.as_bytes()).unwrap().unwrap();
        unknown_transfer_coding(&head.answer)
    };
    assert_eq!(why(""), None);
    assert_eq!(why("Transfer-Encoding: chunked\r\n"), None);
    assert_eq!(why("Transfer-Encoding: , Chunked\r\n"), None);
    assert_eq!(
        why("Transfer-Encoding: gzip, chunked\r\n").as_deref(),
        Some("Transfer-Encoding \"gzip, chunked\"")
    );
    // Several lines are one list.
    assert_eq!(
        why("Transfer-Encoding: Chunked\r\nTransfer-Encoding: br\r\n").as_deref(),
        Some("Transfer-Encoding \"Chunked, br\"")
    );
}

#[test]
fn a_plain_requests_lines_are_forwarded_lowercased_and_in_order() {
    let raw = b"GET /e HTTP/1.1\r\nHost: gw\r\nX-Trace: a\r\nAUTHORIZATION: Bearer t\r\n\
        Connection: X-Hop\r\nx-hop: 1\r\nAccept: */*\r\nX-Forwarded-For: 203.0.113.9\r\n\
        x-trace: b\r\nContent-Length: 0\r\n\r\n"
        .to_vec();
    let mut parsed = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut parsed);
    req.parse(&raw).unwrap();
    let located = fields::Located::of(&raw, req.headers).unwrap();
    let lines = fields::HeadLines::new(raw, located).unwrap();
    let client = Some(SocketAddr::from(([192, 0, 2, 7], 5000)));
    let out = String::from_utf8(upstream_headers(fields::Fields::Lines(&lines), client)).unwrap();
    assert_eq!(
        out,
        "x-trace: a\r\naccept: */*\r\nx-trace: b\r\naccept-encoding: identity\r\n\
         x-forwarded-for: 203.0.113.9, 192.0.2.7\r\n"
    );
    // The same head through hyper's map answers the same lines (a name's lines grouped).
    let map = lines.to_map();
    let out = String::from_utf8(upstream_headers(fields::Fields::Map(&map), client)).unwrap();
    assert_eq!(
        out,
        "x-trace: a\r\nx-trace: b\r\naccept: */*\r\naccept-encoding: identity\r\n\
         x-forwarded-for: 203.0.113.9, 192.0.2.7\r\n"
    );
}

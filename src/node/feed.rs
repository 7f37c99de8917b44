//! The node's side of the configuration feed: the client of the control plane's
//! management API (plain or verified https), why opening the feed failed, and reading its
//! snapshots.

use super::*;

/// Why the feed could not be opened.
#[derive(Debug)]
pub(super) enum FeedError {
    /// The control plane's certificate was refused: nothing was sent to it or read from
    /// it, and trying again cannot help until the certificate or the trust changes.
    Untrusted(String),
    /// The control plane removed this node (said so in its feed): the node may serve
    /// nothing.
    Removed(String),
    /// The feed refused the node token (401), naming the signing key of the control plane
    /// that refused it ([`crate::mgmt::nodes::SIGNING_KEY_ID_HEADER`]). The node serves
    /// nothing only when that is the key it follows: a control plane started on another
    /// data dir (a new key) does not empty a fleet.
    Refused {
        /// Why, in words.
        why: String,
        /// The refusing control plane's signing key id, if it said.
        kid: Option<String>,
    },
    /// The control plane answers in TLS where the node was told `http://`: trying again
    /// cannot help until the operator gives the `https://` URL.
    WrongScheme(String),
    /// Anything else: unreachable, closed, silent, unreadable, an unexpected answer; the
    /// node keeps serving what it has and reconnects.
    Other(String),
}

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedError::Untrusted(why)
            | FeedError::WrongScheme(why)
            | FeedError::Removed(why)
            | FeedError::Refused { why, .. }
            | FeedError::Other(why) => f.write_str(why),
        }
    }
}

pub(super) struct Feed {
    pub(super) http: HttpsClient,
    /// The control plane's URL without a trailing `/`, for messages.
    pub(super) base: String,
    /// `--control-plane-cacert`, for messages.
    pub(super) cacert: Option<PathBuf>,
    pub(super) feed_url: Url,
    pub(super) status_url: Url,
    /// `Bearer <node token>`.
    pub(super) authorization: HeaderValue,
}

impl Feed {
    /// Whether the control plane's address answers a plain HTTP request with a TLS record
    /// (an alert or a handshake: first byte 0x15 or 0x16, then version major 3), read within
    /// 2 s: so that only a server that really speaks TLS is told to be asked with
    /// `https://`, and anything else that is not HTTP is retried as unreachable.
    pub(super) async fn answers_in_tls(&self) -> bool {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let Some(host) = self.feed_url.host_str() else {
            return false;
        };
        let port = self.feed_url.port_or_known_default().unwrap_or(80);
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let probe = async {
            let mut tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .ok()?;
            tcp.write_all(b"GET / HTTP/1.1\r\nHost: streamgate\r\nConnection: close\r\n\r\n")
                .await
                .ok()?;
            let mut first = [0u8; 2];
            tcp.read_exact(&mut first).await.ok()?;
            Some(matches!(first, [0x15 | 0x16, 0x03]))
        };
        tokio::time::timeout(std::time::Duration::from_secs(2), probe)
            .await
            .ok()
            .flatten()
            .unwrap_or(false)
    }

    pub(super) fn new(config: &NodeConfig) -> Result<Feed, String> {
        let given = &config.control_plane;
        let base = Url::parse(given.trim_end_matches('/'))
            .map_err(|e| format!("--control-plane {given}: {e}"))?;
        let trust = match base.scheme() {
            "https" => {
                let mut trust =
                    mgmt_client::Trust::new((*crate::tls::client::platform_roots()).clone());
                if let Some(path) = &config.control_plane_cacert {
                    mgmt_client::trust_pem_file(&mut trust, path)
                        .map_err(|e| format!("--control-plane-cacert {}: {e}", path.display()))?;
                }
                trust
            }
            "http" => {
                if let Some(path) = &config.control_plane_cacert {
                    return Err(format!(
                        "--control-plane-cacert {} is for an https:// control plane; \
                         --control-plane {given} is http://",
                        path.display()
                    ));
                }
                if !is_loopback(&base) {
                    tracing::warn!(
                        "--control-plane {given} is plain http:// beyond loopback: the node \
                         token and the feed (backend client keys among it) travel \
                         unencrypted, and nothing proves who answers (whoever does can give \
                         this node a token-signing key of their own); serve the management \
                         API over HTTPS (serve --tls-cert FILE --tls-key FILE) and give \
                         https:// here"
                    );
                }
                mgmt_client::Trust::new(RootCertStore::empty())
            }
            other => {
                return Err(format!(
                    "--control-plane {given}: {other}:// is not supported; give an https:// \
                     (or http://) URL"
                ));
            }
        };
        let join = |path: &str| {
            base.join(path)
                .map_err(|e| format!("--control-plane {given}: {e}"))
        };
        let tls = mgmt_client::client_config(trust)?;
        let authorization = HeaderValue::from_str(&format!("Bearer {}", config.token.trim()))
            .map_err(|_| "the node token is not a valid header value".to_string())?;
        Ok(Feed {
            http: mgmt_client::http_client(tls, CONNECT_TIMEOUT),
            base: base.to_string().trim_end_matches('/').to_string(),
            cacert: config.control_plane_cacert.clone(),
            feed_url: join(FEED_PATH)?,
            status_url: join(STATUS_PATH)?,
            authorization,
        })
    }

    /// A request to `url` with the node token, and `body` as JSON when given.
    pub(super) fn request(
        &self,
        method: hyper::Method,
        url: &Url,
        body: Option<Vec<u8>>,
    ) -> Result<hyper::Request<Full<Bytes>>, String> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(url.as_str())
            .header(header::AUTHORIZATION, self.authorization.clone());
        let bytes = match body {
            Some(json) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(json)
            }
            None => Bytes::new(),
        };
        req.body(Full::new(bytes))
            .map_err(|e| format!("a request to {url}: {e}"))
    }

    /// Opens the feed, resuming from `last_id` when given.
    pub(super) async fn open(
        &self,
        last_id: Option<String>,
    ) -> Result<hyper::Response<Incoming>, FeedError> {
        let mut req = self
            .request(hyper::Method::GET, &self.feed_url, None)
            .map_err(FeedError::Other)?;
        req.headers_mut().insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        if let Some(id) = last_id
            && let Ok(id) = HeaderValue::from_str(&id)
        {
            req.headers_mut().insert("Last-Event-ID", id);
        }
        let resp = match tokio::time::timeout(ANSWER_TIMEOUT, self.http.request(req)).await {
            Err(_) => {
                return Err(FeedError::Other(format!(
                    "{}: no answer within {ANSWER_TIMEOUT:?}",
                    self.feed_url
                )));
            }
            Ok(Err(e)) => {
                // Not HTTP at an http:// URL: told to use https:// only when the server
                // really answers in TLS.
                let detail = mgmt_client::innermost(&e);
                if mgmt_client::handshake_error(&e).is_none()
                    && self.base.starts_with("http://")
                    && mgmt_client::tls_answered_plain_http(&detail)
                {
                    let url = &self.feed_url;
                    return Err(if self.answers_in_tls().await {
                        FeedError::WrongScheme(format!(
                            "{url}: {detail} (the control plane answers in TLS: use https:// \
                             in --control-plane)"
                        ))
                    } else {
                        FeedError::Other(format!("{url}: {detail} (not an HTTP answer)"))
                    });
                }
                return Err(self.transport_error(&e));
            }
            Ok(Ok(resp)) => resp,
        };
        match resp.status() {
            StatusCode::OK => Ok(resp),
            StatusCode::UNAUTHORIZED => Err(FeedError::Refused {
                why: format!(
                    "{} refused the node token (401): wrong token, or the node was removed",
                    self.feed_url
                ),
                kid: resp
                    .headers()
                    .get(crate::mgmt::nodes::SIGNING_KEY_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            }),
            other => Err(FeedError::Other(format!(
                "{} answered {other}",
                self.feed_url
            ))),
        }
    }

    /// A transport error in words: a refused certificate says which and what to do;
    /// anything else gives its innermost cause ("Connection refused").
    pub(super) fn transport_error(&self, e: &(dyn std::error::Error + 'static)) -> FeedError {
        let Some(tls) = mgmt_client::handshake_error(e) else {
            let detail = mgmt_client::innermost(e);
            return FeedError::Other(format!("{}: {detail}", self.feed_url));
        };
        let hint = match tls {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                let trusted = match &self.cacert {
                    Some(path) => format!("neither the platform's roots nor {}", path.display()),
                    None => "not the platform's roots; no --control-plane-cacert given".to_string(),
                };
                format!(
                    "its certificate is not signed by a CA this node trusts ({trusted}): give the CA that issued it, or the certificate itself (the \
                     control plane's <data dir>/tls/cert.pem when it generated one), with \
                     --control-plane-cacert FILE"
                )
            }
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => "its certificate does not name the host of --control-plane: use a name the \
                  certificate holds, or serve one that names that host (serve --tls-cert FILE \
                  --tls-key FILE)"
                .to_string(),
            tls if crate::tls::pinned::is_ca_used_as_end_entity(tls) => format!(
                "{}; give that exact certificate with --control-plane-cacert",
                crate::tls::client::CA_AS_LEAF
            ),
            rustls::Error::InvalidCertificate(_) => "its certificate is not acceptable \
                (expired, not yet valid, revoked or not for a server)"
                .to_string(),
            _ => "the TLS handshake failed".to_string(),
        };
        let message = format!(
            "TLS with the control plane at {} failed ({tls}): {hint}; nothing from it is applied",
            self.base
        );
        match tls {
            rustls::Error::InvalidCertificate(_) => FeedError::Untrusted(message),
            _ => FeedError::Other(message),
        }
    }
}

/// Whether `url`'s host is this machine (127.0.0.0/8, ::1, localhost).
pub(super) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Reads snapshots from an open feed, handing each to `apply`, until it ends or fails.
pub(super) async fn read_feed<F, Fut>(
    resp: hyper::Response<Incoming>,
    mut apply: F,
) -> Result<(), FeedError>
where
    F: FnMut(ReplicaState) -> Fut,
    Fut: Future<Output = Result<bool, String>>,
{
    let mut parser = crate::sse::Parser::new();
    let mut body = resp.into_body();
    let silence = FEED_KEEPALIVE * 3;
    loop {
        let failed = |why: String| Err(FeedError::Other(why));
        let frame = match tokio::time::timeout(silence, body.frame()).await {
            Err(_) => return failed(format!("the feed was silent for {silence:?}")),
            Ok(None) => return failed("the control plane closed the feed".to_string()),
            Ok(Some(Err(e))) => return failed(format!("reading the feed: {e}")),
            Ok(Some(Ok(frame))) => frame,
        };
        // Trailers carry nothing for the feed.
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        for item in parser.push_items(&chunk) {
            match item {
                crate::sse::Item::Event(ev) if ev.event.as_deref() == Some(SNAPSHOT_EVENT) => {
                    let state: ReplicaState = serde_json::from_str(&ev.data).map_err(|e| {
                        FeedError::Other(format!(
                            "the feed sent a snapshot this node cannot read: {e}"
                        ))
                    })?;
                    if !apply(state).await.map_err(FeedError::Other)? {
                        return Ok(());
                    }
                }
                crate::sse::Item::Comment(c) if c == "node removed" => {
                    return Err(FeedError::Removed(
                        "the control plane removed this node".to_string(),
                    ));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_counts_as_loopback() {
        let loopback = |url: &str| is_loopback(&Url::parse(url).expect("a test URL"));
        for url in [
            "http://127.0.0.1:9443",
            "http://127.8.9.10:9443",
            "http://[::1]:9443",
            "http://localhost:9443",
            "http://LOCALHOST",
        ] {
            assert!(loopback(url), "{url}");
        }
        for url in [
            "http://10.0.0.2:9443",
            "http://[fd00::2]:9443",
            "http://cp.internal:9443",
            "http://localhost.example.com",
        ] {
            assert!(!loopback(url), "{url}");
        }
    }
}

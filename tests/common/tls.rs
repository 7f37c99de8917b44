//! Helpers for the TLS tests: certificates made with rcgen (a private CA, leaves, expired
//! ones), an SSE backend over TLS (optionally requiring a client certificate) that counts
//! hangups, and hyper clients (HTTP/1.1 and h2) over rustls trusting a given certificate.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// A private CA that issues certificates.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate with its key, in PEM.
#[derive(Clone)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Leaf {
    /// A self-signed certificate for `names` that is also a CA (basicConstraints CA:TRUE),
    /// as `openssl req -x509 -newkey ec ...` makes by default; valid from a day ago until
    /// `not_after`.
    pub fn self_signed_ca(names: &[&str], not_after: time::OffsetDateTime) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = not_after;
        let cert = params.self_signed(&key).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// [`Leaf::self_signed_ca`] valid for a year.
    pub fn self_signed_ca_for(names: &[&str]) -> Leaf {
        Self::self_signed_ca(
            names,
            time::OffsetDateTime::now_utc() + time::Duration::days(365),
        )
    }

    /// Writes the certificate and key as `server.pem` and `server.key` in `dir`; answers
    /// their paths.
    pub fn write_to(&self, dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let cert = dir.join("server.pem");
        let key = dir.join("server.key");
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names`, valid now (or expired when `expired`).
    pub fn leaf(&self, names: &[&str], expired: bool) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "streamgate test");
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    streamgate::tls::pem::certificates(pem.as_bytes()).unwrap()
}

fn key(pem: &str) -> PrivateKeyDer<'static> {
    streamgate::tls::pem::private_key(pem.as_bytes()).unwrap()
}

/// An SSE backend over TLS on 127.0.0.1:0: every connection gets `id: n`/`data` events
/// every `every` until it hangs up.
pub struct TlsBackend {
    pub addr: std::net::SocketAddr,
    pub hangups: Arc<AtomicUsize>,
    pub handshakes: Arc<AtomicUsize>,
    pub requests: Arc<AtomicUsize>,
    hangup: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsBackend {
    /// Serves a certificate for 127.0.0.1 issued by `ca`, an event every 20 ms, to any
    /// client.
    pub async fn localhost(ca: &Ca) -> TlsBackend {
        Self::start(
            &ca.leaf(&["127.0.0.1"], false),
            None,
            Duration::from_millis(20),
        )
        .await
    }

    /// Serves `leaf`; with `client_ca`, requires a client certificate issued by it.
    pub async fn start(leaf: &Leaf, client_ca: Option<&Ca>, every: Duration) -> TlsBackend {
        let provider = streamgate::tls::provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(streamgate::tls::PROTOCOL_VERSIONS)
            .unwrap();
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(certs(&ca.pem).remove(0)).unwrap();
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(certs(&leaf.cert_pem), key(&leaf.key_pem))
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hangups = Arc::new(AtomicUsize::new(0));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let hangup = Arc::new(Notify::new());
        let (h, hs, r, n) = (
            hangups.clone(),
            handshakes.clone(),
            requests.clone(),
            hangup.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, h, hs, r, n) = (
                    acceptor.clone(),
                    h.clone(),
                    hs.clone(),
                    r.clone(),
                    n.clone(),
                );
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    hs.fetch_add(1, Ordering::SeqCst);
                    let (mut rd, mut wr) = tokio::io::split(tls);
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match rd.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => head.extend_from_slice(&buf[..k]),
                        }
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    let closed = Arc::new(Notify::new());
                    let c = closed.clone();
                    tokio::spawn(async move {
                        let mut buf = [0u8; 256];
                        loop {
                            match rd.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(_) => {}
                            }
                        }
                        h.fetch_add(1, Ordering::SeqCst);
                        n.notify_waiters();
                        c.notify_one();
                    });
                    let ok = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
                    if wr.write_all(ok.as_bytes()).await.is_err() {
                        return;
                    }
                    let mut i = 0u64;
                    loop {
                        i += 1;
                        let ev = format!("id: {i}\ndata: {{\"n\":{i}}}\n\n");
                        if wr.write_all(ev.as_bytes()).await.is_err() || wr.flush().await.is_err() {
                            return;
                        }
                        tokio::select! {
                            () = tokio::time::sleep(every) => {}
                            () = closed.notified() => return,
                        }
                    }
                });
            }
        });
        TlsBackend {
            addr,
            hangups,
            handshakes,
            requests,
            hangup,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Waits until `n` connections have been closed by the gateway, within `within`.
    pub async fn wait_hangups(&self, n: usize, within: Duration) {
        tokio::time::timeout(within, async {
            while self.hangups.load(Ordering::SeqCst) < n {
                let _ =
                    tokio::time::timeout(Duration::from_millis(20), self.hangup.notified()).await;
            }
        })
        .await
        .expect("the gateway closes the backend connection in time");
    }
}

/// A rustls client config trusting `ca_pem`, offering `alpn`.
pub fn client_config(ca_pem: &str, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca_pem) {
        roots.add(c).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(streamgate::tls::provider())
        .with_protocol_versions(streamgate::tls::PROTOCOL_VERSIONS)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection to `addr` as `localhost`, returning the stream and its certificate.
pub async fn tls_connect(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// An h2 connection to `addr` trusting `ca_pem`.
pub async fn h2_client(
    addr: std::net::SocketAddr,
    ca_pem: &str,
) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let tls = tls_connect(addr, client_config(ca_pem, &[b"h2"])).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
}

/// An HTTP/1.1 connection to `addr` trusting `ca_pem`.
pub async fn h1_client(
    addr: std::net::SocketAddr,
    ca_pem: &str,
) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let tls = tls_connect(addr, client_config(ca_pem, &[b"http/1.1"])).await;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// A GET request for `path` with a bearer token.
pub fn request(path: &str, token: &str) -> hyper::Request<Empty<Bytes>> {
    hyper::Request::builder()
        .uri(format!("https://localhost{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap()
}

/// Reads a body's data frames into text until `until` says stop or the body ends.
pub async fn read_until(
    body: &mut hyper::body::Incoming,
    text: &mut String,
    until: impl Fn(&str) -> bool,
) -> bool {
    while !until(text) {
        match tokio::time::timeout(Duration::from_secs(10), body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Ok(Some(Err(_))) | Ok(None) => return until(text),
            Err(_) => panic!("no data within 10 s; so far: {text:?}"),
        }
    }
    true
}

/// Opens `path` with `token` over `h2`, expects 200 and reads until the first event
/// (`id: 1`): the body, to read on, and the text so far.
pub async fn open_h2_stream(
    h2: &mut hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    path: &str,
    token: &str,
) -> (hyper::body::Incoming, String) {
    let resp = h2.send_request(request(path, token)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut text = String::new();
    assert!(read_until(&mut body, &mut text, |t| t.contains("id: 1\n")).await);
    (body, text)
}

/// A multipart/form-data body with these text fields (files are sent the same way).
pub fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "streamgate-test-boundary-7f3a".to_string();
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.pem\"\r\nContent-Type: application/octet-stream\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

//! Scripted raw-TCP backends: an SSE backend that records what the gateway sent and notices
//! when it hangs up; a backend running any per-connection script; one that can be taken
//! down and brought back up on the same port.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use super::PATIENCE;
use super::raw::{SSE_OK, read_head, wait_closed};

/// What a scripted backend does with each connection.
#[derive(Clone, Debug)]
pub enum Script {
    /// Events `id: n` / `data: {"n":n}`, `batch` per write, a write every `every`, with
    /// this line end, `count` of them (`None`: until the client leaves), then the response
    /// ends. Nothing is sent before `wait_for` connections have arrived.
    Events {
        line_end: &'static str,
        every: Duration,
        count: Option<usize>,
        batch: usize,
        wait_for: usize,
    },
    /// These chunks, each after its delay, then hold the connection open.
    Chunks(Vec<(Duration, &'static str)>),
    /// Answer with this status and a small body.
    Status(u16),
    /// Accept, read the request and never answer.
    Mute,
}

/// One event per write, starting at once.
pub fn events(line_end: &'static str, every: Duration, count: Option<usize>) -> Script {
    Script::Events {
        line_end,
        every,
        count,
        batch: 1,
        wait_for: 0,
    }
}

/// A raw-TCP SSE backend on 127.0.0.1:0.
pub struct Backend {
    pub addr: std::net::SocketAddr,
    /// Request heads received, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Connections that the gateway closed.
    pub hangups: Arc<AtomicUsize>,
    pub hangup: Arc<Notify>,
    /// Events written in total.
    pub written: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    pub async fn start(script: Script) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let hangups = Arc::new(AtomicUsize::new(0));
        let hangup = Arc::new(Notify::new());
        let written = Arc::new(AtomicUsize::new(0));
        let (r, h, n, w) = (
            requests.clone(),
            hangups.clone(),
            hangup.clone(),
            written.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (script, r, h, n, w) =
                    (script.clone(), r.clone(), h.clone(), n.clone(), w.clone());
                tokio::spawn(serve_connection(socket, script, r, h, n, w));
            }
        });
        Backend {
            addr,
            requests,
            hangups,
            hangup,
            written,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn last_request(&self) -> String {
        self.requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// Waits until the gateway has closed `n` connections in total.
    pub async fn wait_hangups(&self, n: usize) {
        tokio::time::timeout(PATIENCE, async {
            while self.hangups.load(Ordering::SeqCst) < n {
                let notified = self.hangup.notified();
                if self.hangups.load(Ordering::SeqCst) >= n {
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
            }
        })
        .await
        .expect("the gateway closes the backend connection");
    }
}

async fn serve_connection(
    socket: TcpStream,
    script: Script,
    requests: Arc<Mutex<Vec<String>>>,
    hangups: Arc<AtomicUsize>,
    hangup: Arc<Notify>,
    written: Arc<AtomicUsize>,
) {
    let (mut rd, mut wr) = socket.into_split();
    let Some(head) = read_head(&mut rd).await else {
        return;
    };
    requests.lock().unwrap().push(head);
    // The gateway closing its end shows up as EOF (or a reset) on the read half.
    let closed = Arc::new(Notify::new());
    let watcher = {
        let closed = closed.clone();
        tokio::spawn(async move {
            wait_closed(&mut rd).await;
            hangups.fetch_add(1, Ordering::SeqCst);
            hangup.notify_waiters();
            closed.notify_one();
        })
    };
    match script {
        Script::Mute => {
            closed.notified().await;
        }
        Script::Status(code) => {
            let body = format!("{{\"status\":{code}}}");
            let resp = format!(
                "HTTP/1.1 {code} Whatever\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = wr.write_all(resp.as_bytes()).await;
            let _ = wr.shutdown().await;
        }
        Script::Chunks(chunks) => {
            if wr.write_all(SSE_OK.as_bytes()).await.is_err() {
                return;
            }
            for (delay, chunk) in chunks {
                tokio::time::sleep(delay).await;
                if wr.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
            }
            closed.notified().await;
        }
        Script::Events {
            line_end,
            every,
            count,
            batch,
            wait_for,
        } => {
            if wr.write_all(SSE_OK.as_bytes()).await.is_err() {
                return;
            }
            while requests.lock().unwrap().len() < wait_for {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let mut n = 0usize;
            loop {
                if count.is_some_and(|c| n >= c) {
                    break;
                }
                let mut write = String::new();
                let before = n;
                for _ in 0..batch.max(1) {
                    if count.is_some_and(|c| n >= c) {
                        break;
                    }
                    n += 1;
                    write.push_str(&format!(
                        "id: {n}{line_end}data: {{\"n\":{n}}}{line_end}{line_end}"
                    ));
                }
                if wr.write_all(write.as_bytes()).await.is_err() {
                    break;
                }
                written.fetch_add(n - before, Ordering::SeqCst);
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = closed.notified() => return,
                }
            }
            let _ = wr.shutdown().await;
            drop(wr);
        }
    }
    drop(watcher);
}

/// A backend that runs `script` on every connection it accepts, counting connections and
/// the ones whose script has returned.
pub struct RawBackend {
    pub addr: SocketAddr,
    /// Connections accepted.
    pub accepted: Arc<AtomicUsize>,
    /// Connection scripts that have returned (their socket dropped).
    pub finished: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawBackend {
    pub async fn start<F, Fut>(script: F) -> RawBackend
    where
        F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let (a, f) = (accepted.clone(), finished.clone());
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { return };
                        let n = a.fetch_add(1, Ordering::SeqCst);
                        let run = script(socket, n);
                        let f = f.clone();
                        conns.spawn(async move {
                            run.await;
                            f.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        RawBackend {
            addr,
            accepted,
            finished,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }
}

/// A backend that can be taken down (listener closed, every connection dropped) and
/// brought back up on the same port.
pub struct Flapper {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    script: Arc<dyn Fn(TcpStream) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>,
    running: Option<JoinHandle<()>>,
}

impl Drop for Flapper {
    fn drop(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
        }
    }
}

impl Flapper {
    /// Starts up, serving `script` on each connection.
    pub async fn start(
        script: Arc<
            dyn Fn(TcpStream) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync,
        >,
    ) -> Flapper {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut flapper = Flapper {
            addr,
            accepted: Arc::new(AtomicUsize::new(0)),
            script,
            running: None,
        };
        flapper.serve(listener);
        flapper
    }

    fn serve(&mut self, listener: TcpListener) {
        let script = self.script.clone();
        let accepted = self.accepted.clone();
        self.running = Some(tokio::spawn(async move {
            // Dropping this set (the task aborted) drops every connection.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    got = listener.accept() => {
                        let Ok((socket, _)) = got else { return };
                        accepted.fetch_add(1, Ordering::SeqCst);
                        conns.spawn(script(socket));
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        }));
    }

    /// Closes the listener and every connection.
    pub async fn down(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn up(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A backend that sends batches of 2000 events every millisecond, without end: it fills
/// any client that stops reading.
pub async fn flood_backend() -> Backend {
    Backend::start(Script::Events {
        line_end: "\n",
        every: Duration::from_millis(1),
        count: None,
        batch: 2000,
        wait_for: 0,
    })
    .await
}

/// The raw HTTP/1.1 request for the stream of the API `Flood` (`/flood/1.0.0/x`).
pub fn flood_request(token: &str) -> String {
    format!(
        "GET /flood/1.0.0/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
}

/// Waits until `backend` is hung up on, and checks the gateway counted a send timeout:
/// what a client that never reads gets.
pub async fn assert_cut_by_send_timeout(
    backend: &Backend,
    telemetry: &streamgate::telemetry::Telemetry,
) {
    backend.wait_hangups(1).await;
    assert!(telemetry.metrics().send_timeouts.load(Ordering::Relaxed) >= 1);
}

//! Serving the gateway: the plain port (on the shared runtime, or on worker threads of its
//! own, on one listening socket), the TLS port, shutdown with the final
//! comment, and the periodic tasks of a served gateway (counter flush, quota-store probe).

use super::*;

impl Gateway {
    /// Serves on `listener` until `shutdown` resolves; then ends every open stream with
    /// `: gateway shutting down`, waits up to [`GatewayOptions::shutdown_grace`] for them,
    /// flushes the quota counters and returns.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with_routes(listener, None, shutdown).await
    }

    /// [`serve`](Self::serve) with `extra` routes answered before the gateway's (a gateway
    /// node's `/health` and `/metrics`, paths no API may use as its context).
    pub async fn serve_with_routes(
        self,
        listener: tokio::net::TcpListener,
        extra: Option<Router>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // A gateway served again after a shutdown starts afresh.
        self.inner.stop.send_replace(false);
        if let Some(store) = self.inner.meter.store() {
            // Not a worker's runtime: those end with the gateway.
            store.make_home(tokio::runtime::Handle::current());
        }
        let mut flusher = AbortOnDrop(tokio::spawn(self.clone().flush_periodically()));
        let _prober = AbortOnDrop(tokio::spawn(self.clone().probe_quota_store()));
        // Without extra routes, the connections call the gateway directly.
        let (router, direct) = match extra {
            Some(extra) => (extra.fallback_service(self.router()), None),
            None => (self.router(), Some(self.clone())),
        };
        let result = match self.inner.options.workers {
            0 => {
                self.serve_transport(
                    listener,
                    router,
                    listener::Transport::Gateway(direct),
                    shutdown,
                    Arc::default(),
                    None,
                )
                .await
            }
            workers => {
                self.serve_on_workers(listener, router, direct, workers, shutdown)
                    .await
            }
        };
        // Wait for the flusher to be gone, so its handle on control is released on return.
        flusher.0.abort();
        let _ = (&mut flusher.0).await;
        self.settle_leases().await;
        self.flush_counters().await;
        result
    }

    /// [`serve_with_routes`](Self::serve_with_routes) on `workers` threads of their own
    /// ([`GatewayOptions::workers`]): each runs a current-thread runtime with an accept
    /// loop on the one listening socket ([`worker_listeners`]), gated so that a light load
    /// stays on the first worker ([`super::workers`]), and keeps the connections it
    /// accepted.
    /// On `shutdown` every stream gets its final comment; each thread waits up to the
    /// shutdown grace for its connections, then drops what is left with its runtime.
    ///
    /// # Errors
    /// The listener cannot be duplicated, a thread or its runtime cannot be started, or an
    /// accept loop failed.
    async fn serve_on_workers(
        &self,
        listener: tokio::net::TcpListener,
        router: Router,
        direct: Option<Gateway>,
        workers: usize,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let sockets = worker_listeners(listener.into_std()?, workers)?;
        tracing::info!(
            "gateway: the plain port is served by {workers} worker thread(s) (--gateway-workers)"
        );
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        if workers > cores {
            // Harmless (a worker opens only while the one before it is busy), but a
            // thread and a runtime each that cannot run in parallel: likely a typo.
            tracing::warn!(
                "gateway: --gateway-workers {workers} is more than the {cores} core(s) here; \
                 workers beyond {cores} add threads, not throughput"
            );
        }
        let loads: Vec<Arc<WorkerLoad>> = sockets.iter().map(|_| Arc::default()).collect();
        // The first serve's workers are the ones /metrics shows.
        let _ = self.inner.telemetry.metrics().workers.set(loads.clone());
        let packings = Packing::chain(&loads);
        let (stop, stopped) = watch::channel(false);
        // One count of incomplete heads per client address for the port, not per worker.
        let incomplete = Arc::new(listener::Incomplete::default());
        let mut finished = Vec::with_capacity(workers);
        for (worker, ((socket, packing), load)) in
            sockets.into_iter().zip(packings).zip(loads).enumerate()
        {
            let gateway = self.clone();
            let router = router.clone();
            let direct = direct.clone();
            let mut stopped = stopped.clone();
            let incomplete = incomplete.clone();
            let (done, finish) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name(format!("sg-gateway-{worker}"))
                .spawn(move || {
                    let waking = load.clone();
                    let served = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .on_thread_park(move || load.parked())
                        .on_thread_unpark(move || waking.woke())
                        .build()
                        .and_then(|runtime| {
                            runtime.block_on(async move {
                                let listener = tokio::net::TcpListener::from_std(socket)?;
                                let shutdown = async move {
                                    // An error means the sender is gone: stop as well.
                                    let _ = stopped.wait_for(|s| *s).await;
                                };
                                let transport = listener::Transport::Gateway(direct);
                                gateway
                                    .serve_transport(
                                        listener,
                                        router,
                                        transport,
                                        shutdown,
                                        incomplete,
                                        Some(packing),
                                    )
                                    .await
                            })
                        });
                    // Nobody waits any more only if `serve` itself was dropped.
                    let _ = done.send(served);
                })?;
            finished.push(finish);
        }
        shutdown.await;
        self.inner.raise_stop();
        stop.send_replace(true);
        let mut result = Ok(());
        for finish in finished {
            match finish.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => {
                    result = Err(std::io::Error::other("a gateway worker thread panicked"));
                }
            }
        }
        result
    }

    /// Serves HTTPS on `listener` with `config` (HTTP/2 and HTTP/1.1 by ALPN), beside
    /// [`Gateway::serve`], with the same limits and the same shutdown: when `shutdown`
    /// resolves, every open stream (on either listener) ends with `: gateway shutting down`
    /// and this waits up to [`GatewayOptions::shutdown_grace`] for them. Counters are
    /// flushed by [`Gateway::serve`].
    pub async fn serve_tls(
        self,
        listener: tokio::net::TcpListener,
        config: Arc<rustls::ServerConfig>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_tls_with_routes(listener, config, None, shutdown)
            .await
    }

    /// [`serve_tls`](Self::serve_tls) with `extra` routes answered before the gateway's, as
    /// [`serve_with_routes`](Self::serve_with_routes).
    pub async fn serve_tls_with_routes(
        self,
        listener: tokio::net::TcpListener,
        config: Arc<rustls::ServerConfig>,
        extra: Option<Router>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = match extra {
            Some(extra) => extra.fallback_service(self.router()),
            None => self.router(),
        };
        let transport = listener::Transport::Tls(config);
        self.serve_transport(listener, router, transport, shutdown, Arc::default(), None)
            .await
    }

    /// The accept loop of [`Gateway::serve`] and [`Gateway::serve_tls`]: on `shutdown`,
    /// raises the stop flag every stream watches (they end with the final comment), then
    /// waits for the connections, at most the shutdown grace. Incomplete heads are counted
    /// in `incomplete` (shared by the accept loops of one port).
    async fn serve_transport(
        &self,
        listener: tokio::net::TcpListener,
        router: Router,
        transport: listener::Transport,
        shutdown: impl Future<Output = ()> + Send + 'static,
        incomplete: Arc<listener::Incomplete>,
        packing: Option<Packing>,
    ) -> std::io::Result<()> {
        let inner = self.inner.clone();
        let server = listener::serve_counted(
            listener,
            router,
            self.inner.options.listener.clone(),
            self.inner.telemetry.metrics().clone(),
            transport,
            async move {
                shutdown.await;
                inner.raise_stop();
            },
            incomplete,
            packing,
        );
        let mut stopped = self.inner.stop.subscribe();
        let grace = self.inner.options.shutdown_grace;
        let result = tokio::select! {
            result = server => result,
            () = async {
                // An error means the sender is gone, which cannot happen while `self` lives.
                let _ = stopped.wait_for(|s| *s).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!("gateway: streams still open after {grace:?}; dropping them");
                Ok(())
            }
        };
        self.inner.raise_stop();
        result
    }

    /// At shutdown, once the streams have ended: gives the leases back to the quota store
    /// and settles their calls in doubt and local counts, trying for up to
    /// [`SETTLE_AT_SHUTDOWN`] (without the backoff, so a store that has just returned is
    /// called). A store still away keeps what the leases held until the window ends, as a
    /// killed node's.
    async fn settle_leases(&self) {
        let Some(store) = self.inner.meter.store() else {
            return;
        };
        let meter = &self.inner.meter;
        let settle = async {
            // A store just back may fail the first call (its connection is re-made).
            loop {
                store.end_backoff();
                if !meter.tidy_leases(true).await {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        if tokio::time::timeout(SETTLE_AT_SHUTDOWN, settle)
            .await
            .is_err()
        {
            tracing::warn!(
                "quota store: leases not given back at shutdown (the store is unavailable); their events are lost until their windows end"
            );
        }
    }

    /// Probes the quota store every second while it is unavailable (whatever the calls'
    /// backoff), so `/health` and new connections see it return; and while it is up but
    /// no call has reached it for a second, so `/health` sees it go away although nothing
    /// else calls it (a `PING` a second at most). While it is up, also takes the connection
    /// attempts refused during an outage out of their windows.
    async fn probe_quota_store(self) {
        let Some(store) = self.inner.meter.store().cloned() else {
            return;
        };
        let period = Duration::from_secs(1);
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let quiet = i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
        loop {
            tick.tick().await;
            if store.needs_probe(now_millis(), quiet) {
                let _ = store.probe().await;
            }
            if store.is_up() {
                let _ = store.settle_rate().await;
                if store.take_unsettled() && self.inner.meter.tidy_leases(false).await {
                    store.mark_unsettled();
                }
            }
        }
    }

    /// Flushes the quota counters every [`GatewayOptions::counter_flush`].
    async fn flush_periodically(self) {
        let mut tick = tokio::time::interval(self.inner.options.counter_flush);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            self.flush_counters().await;
        }
    }
}

/// The listening sockets of `workers` worker threads: `listener` (made non-blocking, for
/// tokio) and `workers - 1` duplicates of it, so all share its one accept queue. Which
/// worker takes a connection is up to their accept gates ([`Packing`]): the first while it
/// keeps up, the next ones as the ones before get busy. (Sockets of their own with
/// `SO_REUSEPORT` would have the kernel spread connections over every worker by a hash,
/// however light the load, and each burst of events would wake them all.)
///
/// # Errors
/// The socket cannot be made non-blocking or duplicated.
fn worker_listeners(
    listener: std::net::TcpListener,
    workers: usize,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    listener.set_nonblocking(true)?;
    // The same accept queue length as tokio's `TcpListener::bind` (std binds with 128).
    if let Err(e) = socket2::SockRef::from(&listener).listen(LISTEN_BACKLOG) {
        tracing::debug!("gateway workers: the listening socket's backlog stays: {e}");
    }
    let mut sockets = Vec::with_capacity(workers);
    for _ in 1..workers {
        sockets.push(listener.try_clone()?);
    }
    sockets.insert(0, listener);
    Ok(sockets)
}

/// A non-blocking listening socket on `address` with `SO_REUSEADDR` and `SO_REUSEPORT`
/// set before binding, so other sockets (of this process or another) with the option may
/// listen on the same address and the kernel spreads connections over them; `backlog` is
/// its accept queue's length.
///
/// # Errors
/// The socket cannot be made, or `address` is taken by a socket without the option.
pub fn bind_reuse_port(
    address: SocketAddr,
    backlog: i32,
) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// The accept queue of the workers' listening socket ([`worker_listeners`]), as tokio's
/// `TcpListener::bind` asks for.
const LISTEN_BACKLOG: i32 = 1024;

/// How long a gateway that stops may take to give its leases back to the quota store.
const SETTLE_AT_SHUTDOWN: Duration = Duration::from_secs(3);

/// Aborts a task when dropped, so the periodic flusher stops with `serve` even when
/// `serve` itself is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

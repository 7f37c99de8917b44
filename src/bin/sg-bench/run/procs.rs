//! Starting and stopping the measured proxies: the gateway (`streamgate serve` or the
//! in-process `sg-bench gateway`) and nginx, and the gateway's quota-store counter.

use super::*;

impl Bench {
    /// (Re)starts the gateway, with `--redis` when `redis` and a Redis URL was given.
    pub(super) fn start_gateway(&mut self, redis: bool) -> Result<(), BoxError> {
        if let Some((old, _)) = self.gateway.take() {
            old.stop();
        }
        let redis_url = if redis { self.args.redis.clone() } else { None };
        if redis_url.is_some() && !self.serve {
            return Err("--redis needs `streamgate serve`".into());
        }
        let mut cmd = if self.serve {
            let mut cmd = Command::new(&self.streamgate);
            cmd.args(["serve", "--data-dir"])
                .arg(self.work.join("data"))
                .args([
                    "--admin-addr",
                    "127.0.0.1:0",
                    "--gateway-addr",
                    "127.0.0.1:0",
                    "--gateway-tls-addr",
                    "127.0.0.1:0",
                    // Every load client comes from 127.0.0.1, and hundreds of TLS
                    // handshakes at once would trip the per-address cap on connections
                    // without a complete head (default 64), which nginx does not have.
                    "--max-incomplete-per-ip",
                    "100000",
                ]);
            if let Some(url) = &redis_url {
                cmd.args(["--redis", url]);
            }
            cmd
        } else {
            let mut cmd = Command::new(&self.me);
            cmd.args(["gateway", "--data-dir"])
                .arg(self.work.join("data"))
                .args(["--addr", "127.0.0.1:0"]);
            cmd
        };
        cmd.env_remove("RUST_LOG");
        if let Some(threads) = self.args.gateway_threads {
            cmd.env("TOKIO_WORKER_THREADS", threads.to_string());
        }
        let markers: &[&str] = if self.serve {
            &[
                "gateway listening on http://",
                "gateway listening on https://",
                "management API listening on",
            ]
        } else {
            &["gateway listening on"]
        };
        let (proc, addrs) = spawn_waiting(
            "streamgate",
            &mut cmd,
            &self.work.join("streamgate.log"),
            markers,
        )?;
        let mut addrs = addrs.into_iter();
        self.gateway = Some((proc, addrs.next().unwrap_or_default()));
        self.gateway_tls = addrs.next();
        self.admin = addrs.next();
        self.gateway_redis = redis_url.is_some();
        Ok(())
    }

    /// The gateway's `streamgate_quota_store_operations_total`, from its `/metrics`.
    pub(super) fn store_operations(&self) -> Result<u64, BoxError> {
        use std::io::Read as _;
        let admin = self.admin.as_deref().ok_or("no management address")?;
        let mut socket = std::net::TcpStream::connect(admin)?;
        socket.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            socket,
            "GET /metrics HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\n\r\n"
        )?;
        let mut text = String::new();
        socket.read_to_string(&mut text)?;
        text.lines()
            .find_map(|l| l.strip_prefix("streamgate_quota_store_operations_total "))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| "the gateway's /metrics has no quota store operations".into())
    }

    /// (Re)starts nginx from the template, in front of the origin (plain and TLS ports),
    /// if an nginx binary was found.
    pub(super) fn start_nginx(&mut self) -> Result<(), BoxError> {
        self.start_nginx_with(None)
    }

    /// [`Bench::start_nginx`] with `workers` worker processes, each with its own listening
    /// socket on the plain port (`reuseport`), instead of one per core sharing one socket.
    pub(super) fn start_nginx_with(&mut self, workers: Option<usize>) -> Result<(), BoxError> {
        if let Some((old, _)) = self.nginx.take() {
            old.stop();
        }
        let Some(bin) = self.nginx_bin.clone() else {
            return Ok(());
        };
        let dir = self.work.join("nginx");
        fs::create_dir_all(dir.join("tmp"))?;
        let template = fs::read_to_string(&self.args.nginx_template).map_err(|e| {
            format!(
                "cannot read the nginx template {}: {e}",
                self.args.nginx_template.display()
            )
        })?;
        let nofile = procstat::open_files_limit().unwrap_or(1024);
        let listen = format!("127.0.0.1:{}", self.nginx_port);
        let tls = self.tls_identity()?;
        let key = tls
            .cert_path()
            .with_file_name(streamgate::tls::server::KEY_FILE);
        let conf = template
            .replace(
                "{{TLS_LISTEN}}",
                &format!("127.0.0.1:{}", self.nginx_tls_port),
            )
            .replace("{{CERT}}", &tls.cert_path().display().to_string())
            .replace("{{KEY}}", &key.display().to_string())
            .replace("{{PREFIX}}", &dir.display().to_string())
            .replace("{{LISTEN}}", &listen)
            .replace("{{ORIGIN}}", &self.origin_addr)
            .replace("{{NOFILE}}", &nofile.to_string())
            .replace("{{CONNECTIONS}}", &(nofile.saturating_sub(100)).to_string())
            .replace(
                "{{WORKERS}}",
                &workers.map_or_else(|| "auto".to_string(), |n| n.to_string()),
            )
            .replace(
                "{{REUSEPORT}}",
                if workers.is_some() { " reuseport" } else { "" },
            );
        let conf_path = dir.join("nginx.conf");
        fs::write(&conf_path, conf)?;
        let log = self.work.join("nginx.log");
        let stderr = OpenOptions::new().create(true).append(true).open(&log)?;
        let stdout = OpenOptions::new().create(true).append(true).open(&log)?;
        let child = Command::new(&bin)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("cannot start nginx: {e}"))?;
        let mut proc = Proc {
            name: "nginx",
            child,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if std::net::TcpStream::connect(&listen).is_ok() {
                break;
            }
            if let Ok(Some(status)) = proc.child.try_wait() {
                return Err(format!(
                    "nginx exited ({status}); see {} and {}",
                    log.display(),
                    dir.join("error.log").display()
                )
                .into());
            }
            if Instant::now() > deadline {
                return Err(format!("nginx did not listen on {listen}").into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.nginx = Some((proc, listen));
        Ok(())
    }

    /// The certificate both TLS paths serve: the gateway's, generated in its data dir on
    /// first use.
    pub(super) fn tls_identity(&self) -> Result<streamgate::tls::server::ServerIdentity, BoxError> {
        Ok(streamgate::tls::server::ServerIdentity::load_or_generate(
            &self.work.join("data"),
            None,
            None,
        )?)
    }
}

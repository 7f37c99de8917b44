//! A real browser over the HTTPS gateway (issue 13): headless Chromium opens 10
//! `EventSource` streams on one https origin and all 10 receive events, which HTTP/1.1's
//! 6-connections-per-origin limit would not allow. Skipped (saying why) when Chromium is not
//! installed, unless `STREAMGATE_REQUIRE_BROWSER=1`. (Served with HTTP/1.1 only, the same
//! page gets events on 6 streams and none on the other 4.)
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const STREAMS: usize = 10;

fn chromium() -> Option<String> {
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .into_iter()
    .find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_event_sources_on_one_https_origin_all_receive_events() {
    let Some(browser) = chromium() else {
        if std::env::var("STREAMGATE_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("STREAMGATE_REQUIRE_BROWSER=1 but no chromium is installed");
        }
        eprintln!("skipped: chromium is not installed (apt-get install -y chromium)");
        return;
    };
    let env = TestServer::builder().https(None).start().await;
    let (_backend, _, sub) = env
        .api_on_backend(
            "Browser",
            "BrowserApp",
            events("\n", Duration::from_millis(100), None),
        )
        .await;
    let port = env.https_addr().port();

    // A resource that answers only after a few seconds holds the page's load event, so
    // `--dump-dom` (which dumps at load) shows what the streams received by then.
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_port = slow.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut socket, _)) = slow.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    let url = format!(
        "https://localhost:{port}/browser/1.0.0/memory?access_token={}",
        sub.production
    );
    let page = format!(
        r#"<!doctype html><html><body><pre id="out">waiting</pre><script>
const n = {STREAMS}; const got = new Array(n).fill(0);
function show() {{
  const done = got.filter(c => c >= 2).length;
  document.getElementById('out').textContent = 'streams-with-events=' + done + ' counts=' + got.join(',');
}}
for (let i = 0; i < n; i++) {{
  const es = new EventSource({url:?});
  es.onmessage = () => {{ got[i]++; show(); }};
}}
</script><img src="http://127.0.0.1:{slow_port}/hold-load.png"></body></html>"#
    );
    let dir = tempfile::tempdir().unwrap();
    let page_path = dir.path().join("page.html");
    std::fs::write(&page_path, page).unwrap();
    let profile = dir.path().join("profile");
    let child = tokio::process::Command::new(browser)
        .args(HEADLESS_FLAGS)
        .args(["--ignore-certificate-errors", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page_path.display()))
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .expect("chromium finishes within 90 s")
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains(&format!("streams-with-events={STREAMS} ")),
        "DOM: {dom}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

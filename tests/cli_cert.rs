//! The binary's TLS commands (issue 13): `cert add|list|show|remove` against the
//! Publisher's `/endpoint-certificates` (a multipart upload), their errors (a missing or
//! non-PEM file named, the server's 400 and 409 shown, non-zero exit); `tls cert` and its
//! fingerprint; and client commands against an https management API, trusting the data
//! dir's own certificate, or `--cacert`, and refusing an untrusted one clearly.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use streamgate::tls::server::ListenerOptions;

#[tokio::test]
async fn cert_add_list_show_remove() {
    let s = TestServer::start().await;
    let ca = Ca::new("Backend CA");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backend-ca.pem");
    std::fs::write(&file, &ca.pem).unwrap();
    let file_arg = file.to_str().unwrap();

    let out = ok(
        &s,
        &[
            "cert",
            "add",
            "backend-ca",
            "--endpoint",
            "https://backend.example:8443",
            "--file",
            file_arg,
        ],
    )
    .await;
    assert!(out.contains("backend-ca"), "{out}");
    // The server has it, as WSO2's list shows it.
    let (status, list) = s.get(&publisher("/endpoint-certificates")).await;
    assert_eq!(status, 200);
    assert_eq!(list["count"], 1);
    assert_eq!(list["certificates"][0]["alias"], "backend-ca");
    assert_eq!(
        list["certificates"][0]["endpoint"],
        "https://backend.example:8443"
    );

    let out = ok(&s, &["cert", "list"]).await;
    assert!(out.contains("backend-ca") && out.contains("https://backend.example:8443"));
    assert_eq!(ok(&s, &["cert", "list", "-q"]).await.trim(), "backend-ca");

    let out = ok(&s, &["cert", "show", "backend-ca"]).await;
    assert!(out.contains("Active"), "{out}");
    assert!(out.contains("CN=Backend CA"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&s, &["cert", "show", "backend-ca", "--json"]).await).unwrap();
    assert_eq!(json["status"], "Active");

    // The same alias again: the server's 409 is shown.
    let err = fails(
        &s,
        &[
            "cert",
            "add",
            "backend-ca",
            "--endpoint",
            "https://other:1",
            "--file",
            file_arg,
        ],
    )
    .await;
    assert!(err.contains("409"), "{err}");

    ok(&s, &["cert", "remove", "backend-ca"]).await;
    let out = ok(&s, &["cert", "list"]).await;
    assert!(out.contains("no endpoint certificates"), "{out}");
    let err = fails(&s, &["cert", "remove", "backend-ca"]).await;
    assert!(err.contains("404"), "{err}");
    let err = fails(&s, &["cert", "show", "backend-ca"]).await;
    assert!(err.contains("404"), "{err}");
}

/// `cert add a --endpoint https://b:1 --file FILE`, which must fail: its error output.
async fn cert_add_fails(s: &TestServer, file: &std::path::Path) -> String {
    fails(
        s,
        &[
            "cert",
            "add",
            "a",
            "--endpoint",
            "https://b:1",
            "--file",
            file.to_str().unwrap(),
        ],
    )
    .await
}

#[tokio::test]
async fn cert_add_names_a_bad_file_and_shows_the_servers_refusal() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let err = cert_add_fails(&s, &missing).await;
    assert!(err.contains(missing.to_str().unwrap()), "{err}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let err = cert_add_fails(&s, &garbage).await;
    assert!(err.contains(garbage.to_str().unwrap()), "{err}");

    // An expired certificate is PEM: the server refuses it with 400 and says why.
    let ca = Ca::new("Old CA");
    let expired = ca.leaf(&["backend.example"], true);
    let old = dir.path().join("expired.pem");
    std::fs::write(&old, &expired.cert_pem).unwrap();
    let err = cert_add_fails(&s, &old).await;
    assert!(err.contains("400"), "{err}");
    assert!(err.to_lowercase().contains("expired"), "{err}");
    let (_, list) = s.get(&publisher("/endpoint-certificates")).await;
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn tls_cert_prints_the_pem_and_its_fingerprint() {
    let s = TestServer::builder().https(None).start().await;
    let pem = std::fs::read_to_string(s.dir().join("tls").join("cert.pem")).unwrap();
    assert_eq!(ok(&s, &["tls", "cert"]).await.trim(), pem.trim());
    let fingerprint = ok(&s, &["tls", "cert", "--fingerprint"]).await;
    assert_eq!(fingerprint.trim(), s.tls_identity().fingerprint());
    // The same form as the Servers screen and `openssl x509 -fingerprint -sha256`.
    assert_eq!(fingerprint.trim().split(':').count(), 32);

    let empty = tempfile::tempdir().unwrap();
    let err = fails(
        &s,
        &["tls", "cert", "--data-dir", empty.path().to_str().unwrap()],
    )
    .await;
    assert!(err.contains("cert.pem"), "{err}");
}

#[tokio::test]
async fn client_commands_trust_their_data_dirs_certificate_over_https() {
    let s = TestServer::builder()
        .tls(ListenerOptions {
            admin_tls: true,
            ..ListenerOptions::default()
        })
        .start()
        .await;
    let url = format!("https://{}", s.mgmt_addr());
    // The data dir's generated certificate is trusted with no flags.
    let out = ok(&s, &["--admin-url", &url, "api", "list"]).await;
    assert!(out.contains("No APIs"), "{out}");
    ok(&s, &["--admin-url", &url, "cert", "list"]).await;

    // From another data dir the certificate is unknown: a clear error, no panic.
    let other = tempfile::tempdir().unwrap();
    let token = s.admin_token().to_string();
    let other_dir = other.path().to_str().unwrap();
    let base = [
        "--admin-url",
        url.as_str(),
        "--data-dir",
        other_dir,
        "--admin-token",
        token.as_str(),
    ];
    let err = fails(&s, &[&base[..], &["api", "list"]].concat()).await;
    assert!(err.contains("TLS") && err.contains("--cacert"), "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // --cacert with the server's certificate makes it trusted.
    let cert = s.dir().join("tls").join("cert.pem");
    let out = ok(
        &s,
        &[
            &base[..],
            &["api", "list", "--cacert", cert.to_str().unwrap()],
        ]
        .concat(),
    )
    .await;
    assert!(out.contains("No APIs"), "{out}");

    // A --cacert that is not there is named.
    let err = fails(
        &s,
        &[
            &base[..],
            &["api", "list", "--cacert", "/nonexistent/ca.pem"],
        ]
        .concat(),
    )
    .await;
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");

    // http:// against the HTTPS management API says to use https://.
    let plain = format!("http://{}", s.mgmt_addr());
    let err = fails(&s, &["--admin-url", &plain, "api", "list"]).await;
    assert!(err.contains("use https:// in --admin-url"), "{err}");
}

#[tokio::test]
async fn cacert_trusts_a_self_signed_ca_true_management_certificate() {
    // The management API's certificate as `openssl req -x509 -newkey ec -subj /CN=localhost
    // -addext subjectAltName=DNS:localhost` makes it: self-signed, basicConstraints CA:TRUE.
    let files = tempfile::tempdir().unwrap();
    let leaf = Leaf::self_signed_ca_for(&["localhost"]);
    let (cert, key) = leaf.write_to(files.path());
    let s = TestServer::builder()
        .tls(ListenerOptions {
            cert: Some(cert.clone()),
            key: Some(key),
            admin_tls: true,
            ..ListenerOptions::default()
        })
        .start()
        .await;
    let port = s.mgmt_addr().port();
    let other = tempfile::tempdir().unwrap();
    let token = s.admin_token().to_string();
    let args = |host: &str, cacert: Option<&std::path::Path>| -> Vec<String> {
        let mut args = vec![
            "--admin-url".to_string(),
            format!("https://{host}:{port}"),
            "--data-dir".to_string(),
            other.path().display().to_string(),
            "--admin-token".to_string(),
            token.clone(),
            "api".to_string(),
            "list".to_string(),
        ];
        if let Some(file) = cacert {
            args.extend(["--cacert".to_string(), file.display().to_string()]);
        }
        args
    };
    let run = |args: Vec<String>, should_work: bool| {
        let s = &s;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            if should_work {
                ok(s, &args).await
            } else {
                fails(s, &args).await
            }
        }
    };

    let out = run(args("localhost", Some(&cert)), true).await;
    assert!(out.contains("No APIs"), "{out}");

    // Without it: refused, saying what the certificate is and what to pass.
    let err = run(args("localhost", None), false).await;
    assert!(err.contains("is a CA certificate"), "{err}");
    assert!(
        err.contains("pass that exact certificate with --cacert"),
        "{err}"
    );
    assert!(!err.contains("OtherError"), "{err}");

    // Another CA:TRUE certificate given as --cacert does not vouch for this one.
    let stranger = tempfile::tempdir().unwrap();
    let (stranger_cert, _) = Leaf::self_signed_ca_for(&["localhost"]).write_to(stranger.path());
    let err = run(args("localhost", Some(&stranger_cert)), false).await;
    assert!(err.contains("is a CA certificate"), "{err}");

    // The name is still checked: 127.0.0.1 is not in the certificate.
    let err = run(args("127.0.0.1", Some(&cert)), false).await;
    assert!(err.contains("not valid for name \"127.0.0.1\""), "{err}");
    // And the hint is about the name, not about which certificate to trust.
    assert!(
        err.contains("its certificate does not name the host of --admin-url"),
        "{err}"
    );
    assert!(!err.contains("--data-dir"), "{err}");
}

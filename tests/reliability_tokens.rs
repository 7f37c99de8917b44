//! Attacks on access tokens, over real sockets: forged algorithms, unknown keys, expired,
//! early, foreign or altered tokens, revoked ones, tokens of the wrong application, key type
//! or subscription, garbage credentials and ambiguous ones. Each gets its documented status
//! and code, and the recording backend behind the API sees no request at all.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::pkcs8::EncodePublicKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use streamgate::catalog::SubscriptionStatus;
use streamgate::keys::{AccessClaims, SIGNING_KEY_FILE};

/// A published API with production and sandbox endpoints on one recording backend, and a
/// subscribed application.
struct Target {
    env: TestServer,
    backend: Backend,
    sub: Subscriber,
    api: streamgate::catalog::Api,
    path: String,
}

impl Target {
    async fn new() -> Target {
        let env = TestServer::start().await;
        let backend =
            Backend::start(events("\n", std::time::Duration::from_millis(20), Some(2))).await;
        let (api, sub) = env
            .subscribed_api("Vault", "Owner", Some(&backend.url()), Some(&backend.url()))
            .await;
        Target {
            env,
            backend,
            sub,
            api,
            path: "/vault/1.0.0/memory".to_string(),
        }
    }

    fn url(&self) -> String {
        self.env.url(&self.path)
    }

    /// GET the stream, raw, with `Authorization: {value}` as its one header.
    async fn with_authorization(&self, value: &[u8]) -> RawResponse {
        let mut line = b"Authorization: ".to_vec();
        line.extend_from_slice(value);
        raw_exchange(
            self.env.gateway_addr(),
            get_request(self.path.as_bytes(), &[&line]),
        )
        .await
    }

    /// The claims of the subscriber's production token.
    fn claims(&self) -> AccessClaims {
        self.env
            .control()
            .keys()
            .verify(&self.sub.production)
            .unwrap()
    }

    /// The gateway's own signing key, read from the data dir as an attacker who stole
    /// nothing could not, to forge tokens that differ in exactly one respect.
    fn signing_key(&self) -> SigningKey {
        let pem = std::fs::read_to_string(self.env.dir().join(SIGNING_KEY_FILE)).unwrap();
        SigningKey::from_pkcs8_pem(&pem).unwrap()
    }

    /// The token is refused with `status`/`code` and the backend saw nothing.
    async fn refused(&self, token: &str, status: u16, code: u64) -> serde_json::Value {
        let resp = get(&self.url(), Some(token)).await;
        let body = assert_error(resp, status, code).await;
        assert_eq!(self.backend.request_count(), 0, "the backend was reached");
        body
    }
}

fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

#[tokio::test]
async fn alg_none_tokens_are_refused() {
    let t = Target::new().await;
    let claims = serde_json::to_value(t.claims()).unwrap();
    let kid = t.env.control().keys().kid().to_string();
    let valid_sig = t.sub.production.rsplit('.').next().unwrap().to_string();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = serde_json::json!({"alg": alg, "typ": "JWT", "kid": kid});
        let unsigned = format!("{}.{}.", b64(&header), b64(&claims));
        let body = t.refused(&unsigned, 401, 900901).await;
        assert_eq!(body["message"], "Invalid Credentials");
        // The same with the genuine signature of the genuine payload attached.
        let grafted = format!("{}.{}.{valid_sig}", b64(&header), b64(&claims));
        t.refused(&grafted, 401, 900901).await;
    }
}

#[tokio::test]
async fn hs256_tokens_keyed_with_the_public_key_are_refused() {
    let t = Target::new().await;
    let claims = t.claims();
    let public = t.signing_key().verifying_key();
    let jwks = t.env.control().keys().jwks();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_string();
    let pem = public
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    // Every form in which the public key is known: raw bytes, the JWKS `x`, the PEM.
    let secrets: Vec<Vec<u8>> = vec![public.to_bytes().to_vec(), x.into_bytes(), pem.into_bytes()];
    for secret in secrets {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some(t.env.control().keys().kid().to_string());
            let forged = jsonwebtoken::encode(
                &header,
                &claims,
                &EncodingKey::from_secret(&secret).unwrap(),
            )
            .unwrap();
            t.refused(&forged, 401, 900901).await;
        }
    }
}

#[tokio::test]
async fn a_kid_that_names_no_key_is_refused_even_with_a_valid_signature() {
    let t = Target::new().await;
    let claims = t.claims();
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&t.signing_key()).unwrap();
    let key = EncodingKey::from_ed_der(der.as_bytes());
    let real = t.env.control().keys().kid().to_string();
    let others = [
        Some("0000000000000000".to_string()),
        Some(format!("{real}x")),
        Some("../../../../etc/passwd".to_string()),
        Some(String::new()),
        None,
    ];
    for kid in others {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = kid;
        let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        t.refused(&token, 401, 900901).await;
    }
}

#[tokio::test]
async fn a_token_signed_by_another_key_under_our_kid_is_refused() {
    let t = Target::new().await;
    let other = SigningKey::from_bytes(&[42u8; 32]);
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&other).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(t.env.control().keys().kid().to_string());
    let token = jsonwebtoken::encode(
        &header,
        &t.claims(),
        &EncodingKey::from_ed_der(der.as_bytes()),
    )
    .unwrap();
    t.refused(&token, 401, 900901).await;
}

#[tokio::test]
async fn expired_early_and_misaddressed_tokens_are_refused() {
    let t = Target::new().await;
    let claims = t.claims();
    let now = claims.iat;
    let forge = |f: &dyn Fn(&mut AccessClaims)| {
        let mut c = claims.clone();
        f(&mut c);
        t.env.control().keys().sign(&c).unwrap()
    };
    let body = t
        .refused(
            &forge(&|c| {
                c.iat = now - 7200;
                c.nbf = now - 7200;
                c.exp = now - 1;
            }),
            401,
            900901,
        )
        .await;
    assert!(
        body["description"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let body = t
        .refused(&forge(&|c| c.nbf = now + 3600), 401, 900901)
        .await;
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("not valid yet"),
        "{body}"
    );
    t.refused(
        &forge(&|c| c.iss = "https://evil.example/oauth2/token".into()),
        401,
        900901,
    )
    .await;
    t.refused(&forge(&|c| c.iss = String::new()), 401, 900901)
        .await;
    t.refused(&forge(&|c| c.aud = "another-gateway".into()), 401, 900901)
        .await;
    // Claims missing altogether.
    let mut bare = serde_json::to_value(&claims).unwrap();
    bare.as_object_mut().unwrap().remove("exp");
    t.refused(&t.env.control().keys().sign(&bare).unwrap(), 401, 900901)
        .await;
    // An expired token in the query is no better.
    let expired = forge(&|c| c.exp = now - 1);
    let url = t.env.url(&format!("{}?access_token={expired}", t.path));
    assert_error(get(&url, None).await, 401, 900901).await;
    assert_eq!(t.backend.request_count(), 0);
}

type Alteration = Box<dyn Fn(&mut AccessClaims)>;

#[tokio::test]
async fn a_payload_altered_after_signing_is_refused() {
    let t = Target::new().await;
    let parts: Vec<&str> = t.sub.production.split('.').collect();
    let claims = t.claims();
    let alterations: Vec<Alteration> = vec![
        Box::new(|c| c.exp += 365 * 24 * 3600),
        Box::new(|c| c.keytype = streamgate::catalog::KeyType::Sandbox),
        Box::new(|c| c.application.uuid = "someone-else".into()),
        Box::new(|c| c.jti = "fresh".into()),
        Box::new(|c| c.scope.push_str(" admin")),
    ];
    for alter in alterations {
        let mut c = claims.clone();
        alter(&mut c);
        let payload = b64(&serde_json::to_value(&c).unwrap());
        let token = format!("{}.{payload}.{}", parts[0], parts[2]);
        t.refused(&token, 401, 900901).await;
    }
    // Byte-level: flip every character of the payload in turn (sampled).
    let payload = parts[1].as_bytes();
    for i in (0..payload.len()).step_by(17) {
        let mut bytes = payload.to_vec();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let token = format!(
            "{}.{}.{}",
            parts[0],
            String::from_utf8(bytes).unwrap(),
            parts[2]
        );
        t.refused(&token, 401, 900901).await;
    }
}

#[tokio::test]
async fn revoked_tokens_and_tokens_of_deleted_applications_are_refused() {
    let t = Target::new().await;
    assert!(
        t.env
            .control()
            .revoke_token(&t.sub.production, None)
            .await
            .unwrap()
    );
    let body = t.refused(&t.sub.production, 401, 900901).await;
    assert!(
        body["description"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    // Revoked also in the query.
    let url = t
        .env
        .url(&format!("{}?access_token={}", t.path, t.sub.production));
    assert_error(get(&url, None).await, 401, 900901).await;

    t.env
        .control()
        .delete_application(&t.sub.app_id)
        .await
        .unwrap();
    t.refused(&t.sub.sandbox, 401, 900901).await;
}

#[tokio::test]
async fn tokens_of_unsubscribed_blocked_or_endpointless_callers_are_refused() {
    let t = Target::new().await;
    // An application subscribed to another API only.
    let (_, stranger) = t
        .env
        .subscribed_api("Elsewhere", "Stranger", Some(&t.backend.url()), None)
        .await;
    let body = t.refused(&stranger.production, 403, 900908).await;
    assert_eq!(body["message"], "Resource forbidden");

    // A blocked subscription, both key types; production-only blocking.
    let sid = t.sub.subscription_id.clone().unwrap();
    t.env
        .control()
        .set_subscription_status(&sid, SubscriptionStatus::Blocked)
        .await
        .unwrap();
    t.refused(&t.sub.production, 403, 900907).await;
    t.refused(&t.sub.sandbox, 403, 900907).await;
    t.env
        .control()
        .set_subscription_status(&sid, SubscriptionStatus::ProdOnlyBlocked)
        .await
        .unwrap();
    t.refused(&t.sub.production, 403, 900907).await;

    // A sandbox token for an API without a sandbox endpoint.
    let (_, member) = t
        .env
        .subscribed_api("ProdOnly", "Member", Some(&t.backend.url()), None)
        .await;
    let resp = get(&t.env.url("/prodonly/1.0.0/memory"), Some(&member.sandbox)).await;
    let body = assert_error(resp, 403, 900901).await;
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("no sandbox endpoint"),
        "{body}"
    );
    assert_eq!(t.backend.request_count(), 0);
    assert_eq!(t.api.name, "Vault");
}

#[tokio::test]
async fn garbage_in_the_authorization_header_is_refused() {
    let t = Target::new().await;
    let long = "A".repeat(16 * 1024);
    let bearer_garbage: Vec<Vec<u8>> = vec![
        b"Bearer garbage".to_vec(),
        b"Bearer a.b.c".to_vec(),
        b"Bearer ...".to_vec(),
        b"bearer e30.e30.".to_vec(),
        format!("Bearer {long}").into_bytes(),
        format!("Bearer {}.{long}.{long}", t.sub.production).into_bytes(),
        b"Bearer token with spaces".to_vec(),
    ];
    for value in bearer_garbage {
        let resp = t.with_authorization(&value).await;
        let shown = String::from_utf8_lossy(&value);
        assert_eq!(resp.status, 401, "{shown}");
        assert_eq!(resp.json()["code"], 900901, "{shown}");
    }
    let not_bearer: Vec<Vec<u8>> = vec![
        b"Bearer".to_vec(),
        b"Bearer ".to_vec(),
        b"Basic dXNlcjpwYXNz".to_vec(),
        b"Token abc".to_vec(),
        b"".to_vec(),
        b"\xff\xfe\xfd".to_vec(),
        format!("Bearer\u{a0}{}", t.sub.production).into_bytes(),
        format!("Digest {}", t.sub.production).into_bytes(),
    ];
    for value in not_bearer {
        let resp = t.with_authorization(&value).await;
        let shown = String::from_utf8_lossy(&value);
        assert_eq!(resp.status, 401, "{shown}");
        assert_eq!(resp.json()["code"], 900902, "{shown}");
        assert!(
            resp.header("www-authenticate")
                .unwrap()
                .starts_with("Bearer")
        );
    }
    // Control bytes are no header value at all: HTTP's own 400, before any routing.
    for value in [&b"Bearer \x01\x02"[..], b"Bearer a\x00b", b"Bearer \x7f"] {
        let resp = t.with_authorization(value).await;
        assert_eq!(resp.status, 400, "{}", String::from_utf8_lossy(value));
    }
    assert_eq!(t.backend.request_count(), 0);
}

#[tokio::test]
async fn a_token_sent_twice_is_refused_as_ambiguous() {
    let t = Target::new().await;
    let token = &t.sub.production;
    let cases: Vec<(String, Vec<String>)> = vec![
        // The same valid token in the header and the query.
        (
            format!("{}?access_token={token}", t.path),
            vec![format!("Authorization: Bearer {token}")],
        ),
        // A valid header and a junk query token: which one would be checked?
        (
            format!("{}?access_token=junk", t.path),
            vec![format!("Authorization: Bearer {token}")],
        ),
        // Two query tokens.
        (
            format!("{}?access_token={token}&access_token=junk", t.path),
            vec![],
        ),
        // Two Authorization headers.
        (
            t.path.clone(),
            vec![
                format!("Authorization: Bearer {token}"),
                format!("Authorization: Bearer {}", t.sub.sandbox),
            ],
        ),
    ];
    for (target, headers) in cases {
        let lines: Vec<&[u8]> = headers.iter().map(|h| h.as_bytes()).collect();
        let resp = raw_exchange(t.env.gateway_addr(), get_request(target.as_bytes(), &lines)).await;
        assert_eq!(resp.status, 400, "{target} {headers:?}: {}", resp.head);
        let body = resp.json();
        assert_eq!(body["code"], 400, "{body}");
        assert_eq!(body["message"], "Bad Request");
        assert!(
            resp.header("www-authenticate")
                .unwrap()
                .contains("invalid_request"),
            "{}",
            resp.head
        );
    }
    assert_eq!(t.backend.request_count(), 0);
    // A non-Bearer Authorization header does not make a query token ambiguous.
    let url = t.env.url(&format!("{}?access_token={token}", t.path));
    let resp = client()
        .get(&url)
        .basic_auth("proxy-user", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(t.backend.request_count(), 1);
}

#[tokio::test]
async fn every_attack_is_counted_as_a_rejection_and_the_genuine_token_still_works() {
    let t = Target::new().await;
    t.refused("x", 401, 900901).await;
    t.refused(&format!("{}x", t.sub.production), 401, 900901)
        .await;
    let m = t.env.telemetry().metrics();
    assert_eq!(m.rejections().get(&900901), Some(&2));
    assert_eq!(
        m.streams_total.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let resp = get(&t.url(), Some(&t.sub.production)).await;
    assert_eq!(resp.status(), 200);
    let (events, _) = split(&SseReader::new(resp).rest().await);
    assert_eq!(events.len(), 2);
    assert_eq!(t.backend.request_count(), 1);
}

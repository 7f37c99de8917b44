#![allow(clippy::unwrap_used)]
use super::*;

fn fixtures() -> (Application, KeyPair) {
    let app = Application {
        id: "app-1".into(),
        name: "Tutorial".into(),
        throttling_policy: "Unlimited".into(),
        description: String::new(),
        token_type: "JWT".into(),
        owner: "admin".into(),
        created_at: 0,
    };
    let key = KeyPair {
        key_mapping_id: "km".into(),
        application_id: "app-1".into(),
        key_type: KeyType::Production,
        consumer_key: "ck".into(),
        secret_hash: hash_secret("s"),
        grant_types: vec!["client_credentials".into()],
        created_at: 0,
    };
    (app, key)
}

fn now() -> i64 {
    crate::catalog::now_millis() / 1000
}

#[test]
fn a_token_round_trips_with_the_reference_claims() {
    let dir = tempfile::tempdir().unwrap();
    let km = KeyManager::load_or_create(dir.path()).unwrap();
    let (app, key) = fixtures();
    let issued = km.issue(&app, &key, 3600, "default", now()).unwrap();
    let claims = km.verify(&issued.access_token).unwrap();
    assert_eq!(claims, issued.claims);
    assert_eq!(claims.azp, "ck");
    assert_eq!(claims.exp - claims.iat, 3600);
    assert_eq!(claims.application.name, "Tutorial");
    let header = jsonwebtoken::decode_header(&issued.access_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(km.kid()));
}

#[test]
fn the_signing_key_persists_and_is_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let (app, key) = fixtures();
    let token = KeyManager::load_or_create(dir.path())
        .unwrap()
        .issue(&app, &key, 60, "default", now())
        .unwrap()
        .access_token;
    let again = KeyManager::load_or_create(dir.path()).unwrap();
    assert!(again.verify(&token).is_ok());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(SIGNING_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn nbf_and_iat_get_a_clock_skew_leeway_but_exp_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let km = KeyManager::load_or_create(dir.path()).unwrap();
    let (app, key) = fixtures();
    let t = now();
    let mut ahead = km.issue(&app, &key, 60, "default", t).unwrap().claims;
    ahead.nbf = t + 1;
    ahead.iat = t + 1;
    let token = km.sign(&ahead).unwrap();
    assert!(km.verify_at(&token, t, 30).is_ok());
    assert!(km.verify_at(&token, t, 1).is_ok());
    assert_eq!(km.verify_at(&token, t, 0), Err(TokenError::NotYetValid));
    ahead.nbf = t;
    ahead.iat = t + 40;
    let issued_ahead = km.sign(&ahead).unwrap();
    assert_eq!(
        km.verify_at(&issued_ahead, t, 30),
        Err(TokenError::NotYetValid)
    );
    let mut expired = km.issue(&app, &key, 60, "default", t).unwrap().claims;
    expired.exp = t - 1;
    let expired = km.sign(&expired).unwrap();
    assert_eq!(km.verify_at(&expired, t, 30), Err(TokenError::Expired));
}

#[test]
fn expired_future_and_foreign_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let km = KeyManager::load_or_create(dir.path()).unwrap();
    let (app, key) = fixtures();
    let old = km.issue(&app, &key, 10, "default", now() - 100).unwrap();
    assert_eq!(km.verify(&old.access_token), Err(TokenError::Expired));
    let mut future = km.issue(&app, &key, 10, "default", now()).unwrap().claims;
    future.nbf = now() + 100;
    future.exp = now() + 200;
    assert_eq!(
        km.verify(&km.sign(&future).unwrap()),
        Err(TokenError::NotYetValid)
    );
    let other = KeyManager::from_signing_key(&SigningKey::from_bytes(&[7u8; 32])).unwrap();
    let foreign = other.issue(&app, &key, 60, "default", now()).unwrap();
    assert!(matches!(
        km.verify(&foreign.access_token),
        Err(TokenError::Invalid(_))
    ));
    assert!(matches!(km.verify("garbage"), Err(TokenError::Invalid(_))));
}

#[test]
fn a_token_of_the_other_kind_is_refused_saying_so() {
    #[derive(Debug, Serialize, serde::Deserialize)]
    struct Management {
        iss: String,
        sub: String,
        aud: String,
        iat: i64,
        nbf: i64,
        exp: i64,
        jti: String,
        token_gen: u64,
    }
    let dir = tempfile::tempdir().unwrap();
    let km = KeyManager::load_or_create(dir.path()).unwrap();
    let (app, key) = fixtures();
    let gateway = km.issue(&app, &key, 60, "default", now()).unwrap();
    let Err(TokenError::Invalid(why)) = km.verify_management::<Management>(&gateway.access_token)
    else {
        panic!("a gateway token passed as a management token");
    };
    assert!(why.starts_with("it is not a management token"), "{why}");
    let management = km
        .sign(&Management {
            iss: ISSUER.into(),
            sub: "alice".into(),
            aud: MANAGEMENT_AUDIENCE.into(),
            iat: now(),
            nbf: now(),
            exp: now() + 60,
            jti: "j".into(),
            token_gen: 0,
        })
        .unwrap();
    assert!(km.verify_management::<Management>(&management).is_ok());
    let Err(TokenError::Invalid(why)) = km.verify(&management) else {
        panic!("a management token passed as a gateway token");
    };
    assert!(
        why.starts_with("it is not an application's access token"),
        "{why}"
    );
}

/// A refused token is told why in words, never the JWT library's internals (parser
/// errors with byte offsets and type names reached the client's 401 description).
#[test]
fn refusals_say_why_without_the_librarys_internals() {
    let dir = tempfile::tempdir().unwrap();
    let km = KeyManager::load_or_create(dir.path()).unwrap();
    let (app, key) = fixtures();
    let token = km
        .issue(&app, &key, 60, "default", now())
        .unwrap()
        .access_token;
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let header = parts[0].clone();
    // The signature of another payload.
    parts[1] = parts[1].chars().rev().collect();
    let tampered = parts.join(".");
    let none = format!("{}.{}.", "eyJhbGciOiJub25lIn0", parts[1]);
    for (bad, want) in [
        ("garbage", MALFORMED),
        ("a.b.c", MALFORMED),
        (none.as_str(), MALFORMED),
        (&format!("{header}.e30.AAAA"), BAD_SIGNATURE),
        (tampered.as_str(), ""),
    ] {
        let Err(TokenError::Invalid(why)) = km.verify(bad) else {
            panic!("{bad} passed");
        };
        assert!(why.contains(want), "{bad}: {why}");
        for internal in ["Base64", "JSON", "offset", "variant", "Error", "{"] {
            assert!(!why.contains(internal), "{bad}: {why}");
        }
    }
    // Signed here for the gateway, but without an application's claims: said so, not
    // taken for a management token.
    #[derive(serde::Serialize)]
    struct Bare {
        iss: String,
        aud: String,
        exp: i64,
    }
    let bare = km
        .sign(&Bare {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: now() + 60,
        })
        .unwrap();
    let Err(TokenError::Invalid(why)) = km.verify(&bare) else {
        panic!("a token without claims passed");
    };
    assert_eq!(why, BAD_CLAIMS);
}

#[test]
fn cached_verification_agrees_and_still_expires() {
    let dir = tempfile::tempdir().unwrap();
    let km = KeyManager::load_or_create(dir.path()).unwrap();
    let (app, key) = fixtures();
    let issued = km.issue(&app, &key, 60, "default", now()).unwrap();
    let first = km.verify_cached(&issued.access_token, now()).unwrap();
    let again = km.verify_cached(&issued.access_token, now()).unwrap();
    assert_eq!(*first, issued.claims);
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "the second check is a cache hit"
    );
    // A hit past `exp` is refused, and a bad token is never cached.
    assert_eq!(
        km.verify_cached(&issued.access_token, issued.claims.exp),
        Err(TokenError::Expired)
    );
    let mut tampered = issued.access_token.clone();
    tampered.push('x');
    assert!(km.verify_cached(&tampered, now()).is_err());
    assert!(km.verify_cached(&tampered, now()).is_err());
}

#[test]
fn secrets_are_hashed_and_compared() {
    let secret = new_consumer_secret().unwrap();
    let hash = hash_secret(&secret);
    assert_ne!(hash, secret);
    assert!(secret_matches(&secret, &hash));
    assert!(!secret_matches("wrong", &hash));
    assert_eq!(new_consumer_key().unwrap().len(), 28);
}

#[test]
fn the_jwks_verifies_tokens_with_a_standard_library() {
    let dir = tempfile::tempdir().unwrap();
    let km = KeyManager::load_or_create(dir.path()).unwrap();
    let (app, key) = fixtures();
    let token = km
        .issue(&app, &key, 60, "default", now())
        .unwrap()
        .access_token;
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(km.jwks()).unwrap();
    let jwk = jwks.find(km.kid()).unwrap();
    let decoding = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE]);
    let data = jsonwebtoken::decode::<AccessClaims>(&token, &decoding, &validation).unwrap();
    assert_eq!(data.claims.azp, "ck");
}

#[test]
fn the_admin_token_is_created_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = load_or_create_admin_token(dir.path()).unwrap();
    let b = load_or_create_admin_token(dir.path()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 64);
}

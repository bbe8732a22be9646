use super::*;
use crate::http::test_http::{
    Request, Response, TestServer, TEST_RSA_PRIVATE_PEM, TEST_RSA_PUBLIC_PEM,
};
use o2c_domain::fakes::ManualClock;
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;

const T0: u64 = 1_717_243_200;

/// A token server: tokens `tok-1`, `tok-2`, ... each valid `ttl` seconds of the test clock;
/// `/api` answers 200 for a live token, 401 invalid_token otherwise.
struct Tokens {
    issued: Mutex<Vec<(String, u64)>>,
    ttl: u64,
    clock: Arc<ManualClock>,
}

fn token_server(ttl: u64, clock: Arc<ManualClock>) -> (Arc<Tokens>, impl Fn(&Request) -> Response) {
    let state = Arc::new(Tokens {
        issued: Mutex::new(Vec::new()),
        ttl,
        clock,
    });
    let s = state.clone();
    let handler = move |r: &Request| -> Response {
        if r.path() == "/oauth/token" {
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("cid:s3cr%2Bt")
            );
            if r.header("authorization") != Some(expected.as_str())
                || r.form().get("grant_type").map(String::as_str) != Some("client_credentials")
            {
                return Response::json(401, serde_json::json!({"error": "invalid_client"}));
            }
            let mut issued = s.issued.lock().unwrap();
            let tok = format!("tok-{}", issued.len() + 1);
            let exp = u64::try_from(s.clock.now().epoch_seconds()).unwrap() + s.ttl;
            issued.push((tok.clone(), exp));
            return Response::json(
                200,
                serde_json::json!({"access_token": tok, "token_type": "Bearer", "expires_in": s.ttl}),
            );
        }
        let now = u64::try_from(s.clock.now().epoch_seconds()).unwrap();
        let live = r.bearer().is_some_and(|b| {
            s.issued
                .lock()
                .unwrap()
                .iter()
                .any(|(t, exp)| t == b && *exp > now)
        });
        if live {
            Response::json(200, serde_json::json!({"ok": true}))
        } else {
            Response::problem(401, "unauthorized", "token expired")
                .header("WWW-Authenticate", "Bearer error=\"invalid_token\"")
        }
    };
    (state, handler)
}

fn cache(url: &str, clock: Arc<ManualClock>) -> TokenCache {
    TokenCache::new(
        reqwest::Client::new(),
        TokenEndpoint::new(
            format!("{url}/oauth/token"),
            ClientAuth::SecretBasic {
                client_id: "cid".into(),
                client_secret: SecretString::from("s3cr+t"),
            },
        ),
        clock,
    )
}

#[derive(Debug)]
struct ApiErr(u16);
impl TokenRejection for ApiErr {
    fn is_token_rejected(&self) -> bool {
        self.0 == 401
    }
}

async fn api(url: &str, token: AccessToken) -> Result<u16, ApiErr> {
    let r = reqwest::Client::new()
        .get(format!("{url}/api"))
        .header("Authorization", token.authorization())
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        200 => Ok(200),
        s => Err(ApiErr(s)),
    }
}

#[tokio::test]
async fn token_is_cached_refreshed_under_60s_and_after_expiry() {
    let clock = Arc::new(ManualClock::at_unix(T0));
    let (_state, handler) = token_server(3600, clock.clone());
    let server = TestServer::start(handler).await;
    let c = cache(&server.url(), clock.clone());

    let t1 = c.token().await.unwrap();
    assert_eq!(t1.expose(), "tok-1");
    assert_eq!(
        t1.expires_at,
        SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + 3600)
    );
    // Cached while more than 60 s remain.
    clock.advance(Duration::from_secs(3539)); // 61 s left
    assert_eq!(c.token().await.unwrap().expose(), "tok-1");
    assert_eq!(server.count("POST", "/oauth/token"), 1);
    // Refreshed once fewer than 60 s remain.
    clock.advance(Duration::from_secs(2)); // 59 s left
    let t2 = c.token().await.unwrap();
    assert_eq!(t2.expose(), "tok-2");
    assert!(t2.generation > t1.generation);
    // And after expiry.
    clock.advance(Duration::from_secs(7200));
    assert_eq!(c.token().await.unwrap().expose(), "tok-3");
    assert_eq!(server.count("POST", "/oauth/token"), 3);
    assert_eq!(c.fetch_count(), 3);
    // The form and the Basic header (form-urlencoded id and secret, RFC 6749 §2.3.1).
    let req = &server.requests()[0];
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.form().get("scope"), None);
    // The token never shows in Debug.
    assert!(!format!("{t2:?}").contains("tok-2"));
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let clock = Arc::new(ManualClock::at_unix(T0));
    let (_state, handler) = token_server(3600, clock.clone());
    let server = TestServer::start(handler).await;
    let c = Arc::new(cache(&server.url(), clock.clone()));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.token().await.unwrap().expose().to_owned() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "tok-1");
    }
    assert_eq!(server.count("POST", "/oauth/token"), 1);
}

#[tokio::test]
async fn a_401_invalid_token_forces_one_refresh_and_one_retry() {
    let clock = Arc::new(ManualClock::at_unix(T0));
    let (state, handler) = token_server(3600, clock.clone());
    let server = TestServer::start(handler).await;
    let c = cache(&server.url(), clock.clone());
    let url = server.url();
    c.token().await.unwrap();
    // The server revokes tok-1 early (our cache still thinks it is fresh).
    state.issued.lock().unwrap()[0].1 = T0;
    clock.advance(Duration::from_secs(1));
    let out = c.call(|t| api(&url, t)).await;
    assert_eq!(out.unwrap(), 200);
    assert_eq!(server.count("POST", "/oauth/token"), 2);
    assert_eq!(server.count("GET", "/api"), 2);
    let bearers: Vec<_> = server
        .requests()
        .iter()
        .filter(|r| r.path() == "/api")
        .map(|r| r.bearer().unwrap().to_owned())
        .collect();
    assert_eq!(bearers, ["tok-1", "tok-2"]);
}

#[tokio::test]
async fn a_second_401_is_returned_not_retried_again() {
    let clock = Arc::new(ManualClock::at_unix(T0));
    // Tokens that are dead on arrival: every API call answers 401.
    let (_state, handler) = token_server(0, clock.clone());
    let server = TestServer::start(handler).await;
    let mut c = cache(&server.url(), clock.clone());
    c.endpoint.refresh_margin = Duration::ZERO;
    let url = server.url();
    // expires_in 0 → expired at once; use a cache that accepts it for the call.
    let calls = AtomicUsize::new(0);
    let out = c
        .call(|t| {
            calls.fetch_add(1, Ordering::SeqCst);
            api(&url, t)
        })
        .await;
    assert!(matches!(out, Err(Authorized::Call(ApiErr(401)))));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one call and exactly one retry"
    );
    assert_eq!(server.count("GET", "/api"), 2);
    assert_eq!(server.count("POST", "/oauth/token"), 2);
}

#[tokio::test]
async fn token_endpoint_errors_are_typed_and_classified() {
    let server = TestServer::start(|r: &Request| {
        if r.form().contains_key("scope") {
            Response::json(
                400,
                serde_json::json!({"error": "invalid_scope", "error_description": "no such scope"}),
            )
        } else {
            Response::json(503, serde_json::json!({"error": "temporarily_unavailable"}))
        }
    })
    .await;
    let clock = Arc::new(ManualClock::at_unix(T0));
    let c = cache(&server.url(), clock.clone());
    let e = c.token().await.unwrap_err();
    assert_eq!(
        e,
        OAuthError::Rejected {
            status: 503,
            error: "temporarily_unavailable".into(),
            description: None
        }
    );
    assert!(e.is_retryable());
    let mut c = cache(&server.url(), clock);
    c.endpoint.scope = Some("orders:read".into());
    let e = c.token().await.unwrap_err();
    assert!(
        matches!(&e, OAuthError::Rejected { status: 400, error, .. } if error == "invalid_scope")
    );
    assert!(!e.is_retryable());
    // Unreachable endpoint.
    let c = TokenCache::new(
        reqwest::Client::new(),
        TokenEndpoint::new(
            "http://127.0.0.1:9/oauth/token",
            ClientAuth::SecretPost {
                client_id: "a".into(),
                client_secret: SecretString::from("b"),
            },
        ),
        Arc::new(ManualClock::at_unix(T0)),
    );
    let e = c.token().await.unwrap_err();
    assert!(matches!(e, OAuthError::Transport { .. }) && e.is_retryable());
}

#[tokio::test]
async fn jwt_assertion_for_netsuite() {
    let clock = Arc::new(ManualClock::at_unix(T0));
    let token_url_holder: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let holder = token_url_holder.clone();
    let server = TestServer::start(move |r: &Request| {
        let form = r.form();
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["client_assertion_type"], JWT_BEARER_ASSERTION_TYPE);
        assert!(r.header("authorization").is_none());
        let jwt = &form["client_assertion"];
        let header = jsonwebtoken::decode_header(jwt).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::PS256);
        assert_eq!(header.kid.as_deref(), Some("cert-123"));
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(TEST_RSA_PUBLIC_PEM.as_bytes()).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::PS256);
        v.set_audience(&[holder.lock().unwrap().clone()]);
        v.validate_exp = false; // the test clock is in the past
        let claims = jsonwebtoken::decode::<AssertionClaims>(jwt, &key, &v).unwrap().claims;
        assert_eq!(claims.iss, "client-abc");
        assert_eq!(claims.scope, "rest_webservices");
        assert_eq!(claims.iat, T0);
        assert_eq!(claims.exp, T0 + 300);
        // NetSuite sends expires_in as a string in its example.
        Response::json(200, serde_json::json!({"access_token": "ns-tok", "token_type": "bearer", "expires_in": "3600"}))
    })
    .await;
    let token_url = format!("{}/services/rest/auth/oauth2/v1/token", server.url());
    *token_url_holder.lock().unwrap() = token_url.clone();
    let assertion = JwtAssertion::from_rsa_pem(
        "client-abc",
        "cert-123",
        token_url.clone(),
        "rest_webservices",
        &SecretString::from(TEST_RSA_PRIVATE_PEM),
    )
    .unwrap();
    assert!(!format!("{assertion:?}").contains("PRIVATE"));
    let c = TokenCache::new(
        reqwest::Client::new(),
        TokenEndpoint::new(token_url, ClientAuth::JwtAssertion(Box::new(assertion))),
        clock,
    );
    let t = c.token().await.unwrap();
    assert_eq!(t.expose(), "ns-tok");
    assert_eq!(
        t.expires_at,
        SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + 3600)
    );
}

#[test]
fn assertion_lifetime_is_capped_at_60_minutes_and_bad_keys_are_refused() {
    let mut a = JwtAssertion::from_rsa_pem(
        "c",
        "k",
        "https://x/token",
        "rest_webservices",
        &SecretString::from(TEST_RSA_PRIVATE_PEM),
    )
    .unwrap();
    a.lifetime = Duration::from_secs(7200);
    let c = a.claims(SystemTime::UNIX_EPOCH + Duration::from_secs(T0));
    assert_eq!(c.exp - c.iat, 3600);
    let e = JwtAssertion::from_rsa_pem(
        "c",
        "k",
        "a",
        "s",
        &SecretString::from("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap_err();
    assert!(matches!(e, OAuthError::Assertion(_)));
    assert!(!e.to_string().contains("nope"));
}

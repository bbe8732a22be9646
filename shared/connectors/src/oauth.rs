//! The one OAuth 2.0 client-credentials token cache, used by the Clarity, NetSuite and
//! Salesforce clients.
//!
//! * Client authentication (RFC 6749 §2.3 / RFC 7523 §2.2):
//!   - [`ClientAuth::SecretBasic`] — HTTP Basic `client_id:client_secret` (Clarity, preferred by
//!     clarity.md §4.2);
//!   - [`ClientAuth::SecretPost`] — `client_id` / `client_secret` form fields (Salesforce, §6);
//!   - [`ClientAuth::JwtAssertion`] — `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
//!     and a JWT signed with our private key (NetSuite, §5): header `typ=JWT`, `alg=PS256`
//!     (or PS384/PS512), `kid` = certificate id; claims `iss` = client id, `scope`
//!     (`rest_webservices`), `aud` = token URL, `iat`, `exp` (at most 60 min after `iat`).
//! * The token is cached and refreshed when fewer than [`TokenEndpoint::refresh_margin`]
//!   (60 s) remain. Concurrent callers share one refresh: the cache is one async mutex held
//!   across the token request, so waiters find the fresh token when they get the lock.
//! * [`TokenCache::call`] runs an API call with the token and, if the API rejects the token
//!   (401 invalid_token), forces **one** refresh and retries the call **once**.
//! * Time comes from an injectable [`Clock`] (tests move it by hand).
//!
//! Nothing here logs or prints a secret: [`AccessToken`], [`ClientAuth`] and [`JwtAssertion`]
//! redact themselves in `Debug`, and token-endpoint errors carry only the RFC 6749 `error`
//! code and description.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::rest::{attempt_timeout, encode_query_value, execute, Reply};
use crate::retry::Retryable;

/// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (RFC 7523).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Wall-clock time, injectable.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock moved by hand (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    pub fn new(at: SystemTime) -> Arc<Self> {
        Arc::new(Self(Mutex::new(at)))
    }

    /// At `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> Arc<Self> {
        Self::new(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }

    pub fn set(&self, at: SystemTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RSA-PSS algorithms NetSuite accepts for the client assertion (§5; the EC ones need an EC
/// key and are not used here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssertionAlgorithm {
    #[default]
    PS256,
    PS384,
    PS512,
}

impl AssertionAlgorithm {
    fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            AssertionAlgorithm::PS256 => jsonwebtoken::Algorithm::PS256,
            AssertionAlgorithm::PS384 => jsonwebtoken::Algorithm::PS384,
            AssertionAlgorithm::PS512 => jsonwebtoken::Algorithm::PS512,
        }
    }
}

/// Claims of the client assertion (NetSuite "The Request Token Structure").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub scope: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

/// A private key and the claims it signs client assertions with.
#[derive(Clone)]
pub struct JwtAssertion {
    /// `iss`: the integration's client id.
    pub client_id: String,
    /// Header `kid`: the certificate id from the M2M setup.
    pub key_id: String,
    /// `aud`: the token endpoint URL.
    pub audience: String,
    /// `scope`: `rest_webservices` (comma-separated when several).
    pub scope: String,
    /// `exp - iat`; NetSuite refuses more than 60 minutes.
    pub lifetime: Duration,
    pub algorithm: AssertionAlgorithm,
    key: jsonwebtoken::EncodingKey,
}

impl fmt::Debug for JwtAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAssertion")
            .field("client_id", &self.client_id)
            .field("key_id", &self.key_id)
            .field("audience", &self.audience)
            .field("scope", &self.scope)
            .field("lifetime", &self.lifetime)
            .field("algorithm", &self.algorithm)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl JwtAssertion {
    /// Longest lifetime NetSuite accepts.
    pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);

    /// From a PKCS#8 or PKCS#1 RSA private key in PEM. Defaults: PS256, 5 minutes.
    pub fn from_rsa_pem(
        client_id: impl Into<String>,
        key_id: impl Into<String>,
        audience: impl Into<String>,
        scope: impl Into<String>,
        private_key_pem: &SecretString,
    ) -> Result<Self, OAuthError> {
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes())
                .map_err(|e| {
                    OAuthError::Assertion(format!("private key unusable: {:?}", e.kind()))
                })?;
        Ok(Self {
            client_id: client_id.into(),
            key_id: key_id.into(),
            audience: audience.into(),
            scope: scope.into(),
            lifetime: Duration::from_secs(300),
            algorithm: AssertionAlgorithm::PS256,
            key,
        })
    }

    /// The claims for an assertion issued at `now`.
    pub fn claims(&self, now: SystemTime) -> AssertionClaims {
        let iat = unix_secs(now);
        let lifetime = self.lifetime.min(Self::MAX_LIFETIME).as_secs().max(1);
        AssertionClaims {
            iss: self.client_id.clone(),
            scope: self.scope.clone(),
            aud: self.audience.clone(),
            iat,
            exp: iat + lifetime,
        }
    }

    /// A signed assertion issued at `now`.
    pub fn sign(&self, now: SystemTime) -> Result<SecretString, OAuthError> {
        let mut header = jsonwebtoken::Header::new(self.algorithm.jwt());
        header.typ = Some("JWT".to_owned());
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, &self.claims(now), &self.key)
            .map(SecretString::from)
            .map_err(|e| OAuthError::Assertion(format!("signing failed: {:?}", e.kind())))
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Clone)]
pub enum ClientAuth {
    /// HTTP Basic with the form-urlencoded client id and secret (RFC 6749 §2.3.1).
    SecretBasic {
        client_id: String,
        client_secret: SecretString,
    },
    /// `client_id` and `client_secret` as form fields.
    SecretPost {
        client_id: String,
        client_secret: SecretString,
    },
    /// A JWT client assertion (RFC 7523 §2.2).
    JwtAssertion(Box<JwtAssertion>),
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuth::SecretBasic { client_id, .. } => f
                .debug_struct("SecretBasic")
                .field("client_id", client_id)
                .field("client_secret", &"[REDACTED]")
                .finish(),
            ClientAuth::SecretPost { client_id, .. } => f
                .debug_struct("SecretPost")
                .field("client_id", client_id)
                .field("client_secret", &"[REDACTED]")
                .finish(),
            ClientAuth::JwtAssertion(a) => f.debug_tuple("JwtAssertion").field(a).finish(),
        }
    }
}

/// A token endpoint and how to use it.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    pub token_url: String,
    pub auth: ClientAuth,
    /// `scope` form field; `None` sends none (the server grants the client's default scopes).
    pub scope: Option<String>,
    /// Refresh when fewer than this remain (60 s).
    pub refresh_margin: Duration,
    /// Assumed lifetime when the response has no `expires_in` (Salesforce's has none).
    pub default_lifetime: Duration,
    /// Timeout of one token request.
    pub request_timeout: Duration,
}

impl TokenEndpoint {
    pub fn new(token_url: impl Into<String>, auth: ClientAuth) -> Self {
        Self {
            token_url: token_url.into(),
            auth,
            scope: None,
            refresh_margin: Duration::from_secs(60),
            default_lifetime: Duration::from_secs(15 * 60),
            request_timeout: Duration::from_secs(10),
        }
    }

    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }
}

/// A bearer token. `Debug` redacts it.
#[derive(Clone)]
pub struct AccessToken {
    secret: SecretString,
    pub expires_at: SystemTime,
    /// Salesforce answers with the instance to call.
    pub instance_url: Option<String>,
    /// Increases with every token fetched by one cache; tells a stale token from a fresh one.
    pub generation: u64,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .field("instance_url", &self.instance_url)
            .field("generation", &self.generation)
            .finish()
    }
}

impl AccessToken {
    /// `Bearer <token>`, for the `Authorization` header.
    pub fn authorization(&self) -> String {
        format!("Bearer {}", self.secret.expose_secret())
    }

    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// No answer from the token endpoint.
    #[error("token endpoint unreachable: {reason}")]
    Transport { reason: String },
    /// RFC 6749 §5.2 error (or a non-OAuth error status).
    #[error("token endpoint answered HTTP {status} {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Rejected {
        status: u16,
        error: String,
        description: Option<String>,
    },
    /// A 2xx answer that is not a token response.
    #[error("token endpoint answer malformed: {0}")]
    Malformed(String),
    /// The client assertion could not be built.
    #[error("client assertion: {0}")]
    Assertion(String),
}

impl Retryable for OAuthError {
    fn is_retryable(&self) -> bool {
        match self {
            OAuthError::Transport { .. } => true,
            OAuthError::Rejected { status, .. } => *status == 429 || *status >= 500,
            OAuthError::Malformed(_) | OAuthError::Assertion(_) => false,
        }
    }
}

/// An API error that can say "the token was rejected" (401 invalid_token).
pub trait TokenRejection {
    fn is_token_rejected(&self) -> bool;
}

/// What [`TokenCache::call`] fails with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorized<E> {
    /// No token could be had.
    Token(OAuthError),
    /// The call failed (after at most one refresh-and-retry).
    Call(E),
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    /// A number (RFC 6749), or a string (NetSuite's example).
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    instance_url: Option<String>,
}

#[derive(Deserialize)]
struct TokenErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The token cache of one client.
pub struct TokenCache {
    http: reqwest::Client,
    endpoint: TokenEndpoint,
    clock: Arc<dyn Clock>,
    cached: tokio::sync::Mutex<Option<AccessToken>>,
    generation: AtomicU64,
    fetches: AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("endpoint", &self.endpoint)
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub fn new(http: reqwest::Client, endpoint: TokenEndpoint, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            endpoint,
            clock,
            cached: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        }
    }

    pub fn endpoint(&self) -> &TokenEndpoint {
        &self.endpoint
    }

    /// How many token requests this cache has made (metrics, tests).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn fresh_enough(&self, token: &AccessToken) -> bool {
        match token.expires_at.duration_since(self.clock.now()) {
            Ok(left) => left >= self.endpoint.refresh_margin,
            Err(_) => false,
        }
    }

    /// A token with at least the refresh margin left; fetched when needed. Concurrent callers
    /// wait for one fetch.
    pub async fn token(&self) -> Result<AccessToken, OAuthError> {
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| self.fresh_enough(t)) {
            return Ok(t.clone());
        }
        let fresh = self.fetch().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// The API rejected `rejected`: fetch a new token unless another caller already replaced it.
    pub async fn refresh_after_rejection(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, OAuthError> {
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached
            .as_ref()
            .filter(|t| t.generation != rejected.generation && self.fresh_enough(t))
        {
            return Ok(t.clone());
        }
        *cached = None;
        let fresh = self.fetch().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Forget the cached token.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// Run `call` with a token; if the API rejects the token, refresh once and run it once more.
    pub async fn call<T, E, F, Fut>(&self, mut call: F) -> Result<T, Authorized<E>>
    where
        E: TokenRejection,
        F: FnMut(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let token = self.token().await.map_err(Authorized::Token)?;
        match call(token.clone()).await {
            Err(e) if e.is_token_rejected() => {
                tracing::info!(
                    token_url = %self.endpoint.token_url,
                    "token rejected by the API; refreshing once"
                );
                let fresh = self
                    .refresh_after_rejection(&token)
                    .await
                    .map_err(Authorized::Token)?;
                call(fresh).await.map_err(Authorized::Call)
            }
            other => other.map_err(Authorized::Call),
        }
    }

    async fn fetch(&self) -> Result<AccessToken, OAuthError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let now = self.clock.now();
        let mut form: Vec<(&str, String)> = vec![("grant_type", "client_credentials".to_owned())];
        let mut request = self.http.post(&self.endpoint.token_url);
        match &self.endpoint.auth {
            ClientAuth::SecretBasic {
                client_id,
                client_secret,
            } => {
                let pair = format!(
                    "{}:{}",
                    encode_query_value(client_id),
                    encode_query_value(client_secret.expose_secret())
                );
                let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
                request = request.header(reqwest::header::AUTHORIZATION, format!("Basic {b64}"));
            }
            ClientAuth::SecretPost {
                client_id,
                client_secret,
            } => {
                form.push(("client_id", client_id.clone()));
                form.push(("client_secret", client_secret.expose_secret().to_owned()));
            }
            ClientAuth::JwtAssertion(a) => {
                form.push((
                    "client_assertion_type",
                    JWT_BEARER_ASSERTION_TYPE.to_owned(),
                ));
                form.push(("client_assertion", a.sign(now)?.expose_secret().to_owned()));
            }
        }
        if let Some(scope) = &self.endpoint.scope {
            form.push(("scope", scope.clone()));
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = request
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(attempt_timeout(
                self.endpoint.request_timeout,
                None,
                std::time::Instant::now(),
            ))
            .body(body);
        let reply = execute(request)
            .await
            .map_err(|f| OAuthError::Transport { reason: f.reason })?;
        self.parse(reply, now)
    }

    fn parse(&self, reply: Reply, requested_at: SystemTime) -> Result<AccessToken, OAuthError> {
        if !reply.is_success() {
            return Err(match reply.json::<TokenErrorBody>() {
                Ok(b) => OAuthError::Rejected {
                    status: reply.status,
                    error: b.error,
                    description: b.error_description,
                },
                Err(_) => OAuthError::Rejected {
                    status: reply.status,
                    error: "http_error".to_owned(),
                    description: None,
                },
            });
        }
        let t: TokenResponse = reply.json().map_err(OAuthError::Malformed)?;
        if let Some(tt) = &t.token_type {
            if !tt.eq_ignore_ascii_case("bearer") {
                return Err(OAuthError::Malformed(format!(
                    "token_type {tt:?} is not Bearer"
                )));
            }
        }
        if t.access_token.is_empty() {
            return Err(OAuthError::Malformed("empty access_token".to_owned()));
        }
        let lifetime = match &t.expires_in {
            None | Some(serde_json::Value::Null) => self.endpoint.default_lifetime,
            Some(serde_json::Value::Number(n)) => n
                .as_u64()
                .map(Duration::from_secs)
                .ok_or_else(|| OAuthError::Malformed("expires_in is not a whole number".into()))?,
            Some(serde_json::Value::String(s)) => s
                .trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| OAuthError::Malformed("expires_in is not a whole number".into()))?,
            Some(_) => return Err(OAuthError::Malformed("expires_in has a wrong type".into())),
        };
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(AccessToken {
            secret: SecretString::from(t.access_token),
            expires_at: requested_at + lifetime,
            instance_url: t.instance_url,
            generation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_http::{
        Request, Response, TestServer, TEST_RSA_PRIVATE_PEM, TEST_RSA_PUBLIC_PEM,
    };
    use std::sync::atomic::AtomicUsize;

    const T0: u64 = 1_717_243_200;

    /// A token server: tokens `tok-1`, `tok-2`, ... each valid `ttl` seconds of the test clock;
    /// `/api` answers 200 for a live token, 401 invalid_token otherwise.
    struct Tokens {
        issued: Mutex<Vec<(String, u64)>>,
        ttl: u64,
        clock: Arc<ManualClock>,
    }

    fn token_server(
        ttl: u64,
        clock: Arc<ManualClock>,
    ) -> (Arc<Tokens>, impl Fn(&Request) -> Response) {
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
                let exp = unix_secs(s.clock.now()) + s.ttl;
                issued.push((tok.clone(), exp));
                return Response::json(
                    200,
                    serde_json::json!({"access_token": tok, "token_type": "Bearer", "expires_in": s.ttl}),
                );
            }
            let now = unix_secs(s.clock.now());
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
        let clock = ManualClock::at_unix(T0);
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
        let clock = ManualClock::at_unix(T0);
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
        let clock = ManualClock::at_unix(T0);
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
        let clock = ManualClock::at_unix(T0);
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
                Response::json(400, serde_json::json!({"error": "invalid_scope", "error_description": "no such scope"}))
            } else {
                Response::json(503, serde_json::json!({"error": "temporarily_unavailable"}))
            }
        })
        .await;
        let clock = ManualClock::at_unix(T0);
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
            ManualClock::at_unix(T0),
        );
        let e = c.token().await.unwrap_err();
        assert!(matches!(e, OAuthError::Transport { .. }) && e.is_retryable());
    }

    #[tokio::test]
    async fn jwt_assertion_for_netsuite() {
        let clock = ManualClock::at_unix(T0);
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
}

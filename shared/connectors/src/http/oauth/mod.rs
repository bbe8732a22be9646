//! The one OAuth 2.0 client-credentials token cache, used by the Clarity, NetSuite and
//! Salesforce clients.
//!
//! * Client authentication (RFC 6749 §2.3 / RFC 7523 §2.2):
//!   - [`ClientAuth::SecretBasic`] — HTTP Basic `client_id:client_secret` (Clarity, preferred by its
//!     assumed contract);
//!   - [`ClientAuth::SecretPost`] — `client_id` / `client_secret` form fields (Salesforce);
//!   - [`ClientAuth::JwtAssertion`] — `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
//!     and a JWT signed with our private key (NetSuite): header `typ=JWT`, `alg=PS256`
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
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use o2c_domain::ports::Clock;

use super::retry::Retryable;
use super::transport::{attempt_timeout, encode_query_value, execute, Reply};

mod assertion;

pub use assertion::{AssertionAlgorithm, AssertionClaims, JwtAssertion, JWT_BEARER_ASSERTION_TYPE};
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

    /// The clock's time as a [`SystemTime`] (token expiry and JWT claims use it).
    fn now(&self) -> SystemTime {
        self.clock.now().to_system_time()
    }

    fn fresh_enough(&self, token: &AccessToken) -> bool {
        match token.expires_at.duration_since(self.now()) {
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
        let now = self.now();
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
mod tests;

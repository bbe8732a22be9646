//! The bearer-token REST client shared by Clarity, NetSuite and Salesforce ([`BearerClient`]):
//! one token cache ([`super::oauth`]), the one retry policy ([`super::retry`]) with
//! `Retry-After` honoured on top ([`run_with_retries`]), over [`super::transport`].

use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::oauth::{Authorized, OAuthError, TokenCache, TokenEndpoint, TokenRejection};
use super::retry::{Attempt, Retrier, RetryPolicy, Retryable, Sleeper, TokioSleeper};
use super::transport::{attempt_timeout, execute, refuse_card_data, Reply, TransportFailure};
use o2c_domain::ports::{Clock, SystemClock};
use rand::rngs::StdRng;
use std::sync::Arc;

/// The retry policy of the bearer-token APIs (Clarity, NetSuite, Salesforce): 0.5 s base, ×2,
/// 30 s cap, 5 attempts (`CLARITY_ASSUMED.md` §A6).
pub fn bearer_retry_policy() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(500),
        cap: Duration::from_secs(30),
        max_attempts: 5,
        min_attempt_time: Duration::from_millis(500),
    }
}

/// An error that may ask for a minimum wait before the next attempt (`Retry-After`).
pub trait RetryAfterHint {
    fn retry_after(&self) -> Option<Duration>;
}

/// Wraps an error so a retry can be stopped when the server asks for a longer wait than we
/// can give.
enum Gate<E> {
    Go(E),
    Stop(E),
}

impl<E: Retryable> Retryable for Gate<E> {
    fn is_retryable(&self) -> bool {
        matches!(self, Gate::Go(e) if e.is_retryable())
    }

    fn out_of_time(self, why: &str) -> Self {
        match self {
            Gate::Go(e) => Gate::Go(e.out_of_time(why)),
            Gate::Stop(e) => Gate::Stop(e),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Gate<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gate::Go(e) | Gate::Stop(e) => e.fmt(f),
        }
    }
}

/// Run `op` under the shared retry policy, additionally honouring `Retry-After`: after an error
/// that carries one, the next attempt starts no earlier than that wait (on top of the policy's
/// jittered sleep). A wait longer than the policy's cap, or one that would end too close to the
/// deadline, ends the retries with that error (the queue retries later instead).
pub async fn run_with_retries<T, E, F, Fut>(
    retrier: &Retrier,
    sleeper: &dyn Sleeper,
    deadline: Option<Instant>,
    mut op: F,
) -> Result<T, E>
where
    E: Retryable + RetryAfterHint + fmt::Display + Clone,
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let policy = *retrier.policy();
    let pending: Mutex<Option<(Duration, E)>> = Mutex::new(None);
    let pending = &pending;
    let result = retrier
        .run(deadline, |attempt| {
            let wait = pending.lock().unwrap_or_else(|p| p.into_inner()).take();
            let call = op(attempt);
            async move {
                if let Some((wait, err)) = wait {
                    let too_long = wait > policy.cap
                        || deadline
                            .is_some_and(|d| sleeper.now() + wait + policy.min_attempt_time > d);
                    if too_long {
                        tracing::warn!(
                            wait_ms = wait.as_millis() as u64,
                            "Retry-After beyond what is left; giving up for now"
                        );
                        return Err(Gate::Stop(err));
                    }
                    sleeper.sleep(wait).await;
                }
                match call.await {
                    Ok(v) => Ok(v),
                    Err(e) => {
                        if let Some(w) = e.retry_after().filter(|w| !w.is_zero()) {
                            *pending.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some((w, e.clone()));
                        }
                        Err(Gate::Go(e))
                    }
                }
            }
        })
        .await;
    result.map_err(|g| match g {
        Gate::Go(e) | Gate::Stop(e) => e,
    })
}

/// An API's error type, as [`BearerClient`] needs it.
pub trait ApiError:
    Retryable + RetryAfterHint + TokenRejection + fmt::Display + Clone + Sized
{
    /// No HTTP answer.
    fn transport(operation: &'static str, failure: TransportFailure) -> Self;
    /// No token.
    fn token(operation: &'static str, error: OAuthError) -> Self;
    /// A non-2xx answer.
    fn from_reply(operation: &'static str, reply: &Reply) -> Self;
    /// Our own request, refused before it was sent (terminal, a validation failure).
    fn invalid_request(operation: &'static str, reason: String) -> Self;
}

/// A bearer-token JSON API: one token cache, one retry policy, one request timeout. The
/// Clarity, NetSuite and Salesforce clients are thin layers over it.
pub struct BearerClient {
    pub http: reqwest::Client,
    /// Resource base URL (no trailing slash).
    pub base_url: String,
    /// Use the token response's `instance_url` (Salesforce) instead of `base_url` when present.
    pub base_from_token: bool,
    pub tokens: TokenCache,
    pub retrier: Retrier,
    pub sleeper: Arc<dyn Sleeper>,
    pub request_timeout: Duration,
}

impl fmt::Debug for BearerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerClient")
            .field("base_url", &self.base_url)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// What a bearer client is built from besides its configuration: the HTTP client, the token
/// cache's clock, the retry sleeper and the jitter source. [`ClientParts::real`] in production;
/// tests inject their own.
pub struct ClientParts {
    pub http: reqwest::Client,
    pub clock: Arc<dyn Clock>,
    pub sleeper: Arc<dyn Sleeper>,
    pub rng: StdRng,
}

impl ClientParts {
    /// The connectors' HTTP client ([`super::transport::client`]), the system clock, real sleeps,
    /// jitter from the OS.
    pub fn real() -> Self {
        ClientParts {
            http: super::transport::client(),
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
            rng: rand::make_rng::<StdRng>(),
        }
    }
}

impl BearerClient {
    /// A client of the API at `base_url` (a trailing `/` is dropped) with tokens from `token`.
    pub fn build(
        base_url: &str,
        base_from_token: bool,
        token: TokenEndpoint,
        retry: RetryPolicy,
        request_timeout: Duration,
        parts: ClientParts,
    ) -> Self {
        BearerClient {
            tokens: TokenCache::new(parts.http.clone(), token, parts.clock),
            http: parts.http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            base_from_token,
            retrier: Retrier::with_parts(retry, parts.sleeper.clone(), parts.rng),
            sleeper: parts.sleeper,
            request_timeout,
        }
    }

    /// Send `method path` with the token, retrying per the policy (and `Retry-After`), with one
    /// refresh-and-retry on a rejected token. `path` starts with `/` and may hold a query.
    #[allow(clippy::too_many_arguments)]
    pub async fn send<E: ApiError>(
        &self,
        deadline: Option<Instant>,
        operation: &'static str,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&'static str, String)],
    ) -> Result<Reply, E> {
        // Card data never leaves: refused before any attempt, never retried.
        if let Err(reason) = refuse_card_data(path, body.as_deref()) {
            tracing::error!(operation, %reason, "outbound request refused");
            return Err(E::invalid_request(operation, reason));
        }
        let (method, body) = (&method, &body);
        run_with_retries(
            &self.retrier,
            &*self.sleeper,
            deadline,
            |attempt| async move {
                self.tokens
                    .call(|token| async move {
                        let base = match (&token.instance_url, self.base_from_token) {
                            (Some(instance), true) => instance.trim_end_matches('/'),
                            _ => self.base_url.as_str(),
                        };
                        let mut request = self
                            .http
                            .request(method.clone(), format!("{base}{path}"))
                            .header(reqwest::header::AUTHORIZATION, token.authorization())
                            .header(reqwest::header::ACCEPT, "application/json")
                            .timeout(attempt_timeout(
                                self.request_timeout,
                                attempt.deadline,
                                self.sleeper.now(),
                            ));
                        for (k, v) in headers {
                            request = request.header(*k, v);
                        }
                        if let Some(b) = body {
                            request = request
                                .header(reqwest::header::CONTENT_TYPE, "application/json")
                                .body(b.clone());
                        }
                        let reply = execute(request)
                            .await
                            .map_err(|failure| E::transport(operation, failure))?;
                        if reply.is_success() {
                            Ok(reply)
                        } else {
                            Err(E::from_reply(operation, &reply))
                        }
                    })
                    .await
                    .map_err(|e| match e {
                        Authorized::Token(error) => E::token(operation, error),
                        Authorized::Call(e) => e,
                    })
            },
        )
        .await
    }
}

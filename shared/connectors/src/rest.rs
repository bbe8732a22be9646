//! Plumbing shared by the bearer-token REST clients (Clarity, NetSuite, Salesforce): sending a
//! request and reading its answer, classifying transport failures, honouring `Retry-After` on
//! top of the one retry policy ([`crate::retry`]), path-segment encoding, reading a credentials
//! secret without echoing it, and exact JSON numbers for decimal amounts.

use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeOwned;

use crate::oauth::{Authorized, OAuthError, TokenCache, TokenRejection};
use crate::retry::{Attempt, Retrier, Retryable, Sleeper};

/// A whole HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON of type `T`; the error names only the serde category and position.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "body is not the expected JSON ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            )
        })
    }

    /// The first `max` characters of the body, for error messages of non-JSON answers.
    pub fn snippet(&self, max: usize) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(max)
            .collect()
    }
}

/// The request got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportFailure {
    pub reason: String,
    /// False only when the connection could not be made, so the request provably never
    /// reached the server.
    pub sent: bool,
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

fn transport_failure(e: &reqwest::Error) -> TransportFailure {
    let what = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "answer could not be read"
    } else {
        "request failed"
    };
    // reqwest's message holds the URL (no secrets: credentials never travel in URLs here).
    TransportFailure {
        reason: format!("{what}: {e}"),
        sent: !e.is_connect(),
    }
}

/// Send `request` and read the whole answer.
pub async fn execute(request: reqwest::RequestBuilder) -> Result<Reply, TransportFailure> {
    let response = request.send().await.map_err(|e| transport_failure(&e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| transport_failure(&e))?
        .to_vec();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// The time this attempt may take: the client's request timeout, shortened to what is left
/// before the deadline (never below one millisecond, so reqwest fails fast rather than waits).
pub fn attempt_timeout(default: Duration, deadline: Option<Instant>, now: Instant) -> Duration {
    match deadline {
        Some(d) => default
            .min(d.saturating_duration_since(now))
            .max(Duration::from_millis(1)),
        None => default,
    }
}

/// `Retry-After`: delta-seconds (`"3"`), or an HTTP-date relative to `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at.unix_timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
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

/// The outbound card-data guard: `Err(reason)` when the path or the JSON body of a request
/// holds a card-number-like value ([`o2c_domain::card`], after decoding and normalisation). The
/// reason names where (a JSON path, or `path`), never the number.
pub fn refuse_card_data(path: &str, body: Option<&[u8]>) -> Result<(), String> {
    use o2c_domain::card;
    if card::contains_card_number(path) {
        return Err(
            "card data refused: the request path holds a card-number-like value; not sent"
                .to_string(),
        );
    }
    match body.and_then(card::payload_card_location) {
        Some(at) => Err(format!(
            "card data refused: the request body holds a card-number-like value at {at}; not sent"
        )),
        None => Ok(()),
    }
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
    pub sleeper: std::sync::Arc<dyn Sleeper>,
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

impl BearerClient {
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

/// Percent-encode one path segment (RFC 3986 unreserved characters stay as they are).
pub fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encode a query value (RFC 3986 unreserved characters stay as they are).
pub fn encode_query_value(value: &str) -> String {
    encode_path_segment(value)
}

/// A credentials secret that could not be read. Never echoes the secret's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{secret} secret is not valid JSON of the expected shape ({category} error at line {line}, column {column})")]
pub struct SecretFormatError {
    pub secret: &'static str,
    pub category: &'static str,
    pub line: usize,
    pub column: usize,
}

/// Read a Secrets Manager JSON value into `T`.
pub fn parse_secret<T: DeserializeOwned>(
    secret: &'static str,
    json: &str,
) -> Result<T, SecretFormatError> {
    serde_json::from_str(json).map_err(|e| SecretFormatError {
        secret,
        category: match e.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        },
        line: e.line(),
        column: e.column(),
    })
}

/// A JSON number whose text is exactly `decimal` (`"107.99"`, `"1500"`, `"12.345"`), for APIs
/// that want numbers rather than strings. `None` when the value cannot be carried exactly
/// (more significant digits than a double holds).
pub fn decimal_json_number(decimal: &str) -> Option<serde_json::Number> {
    // "35.00" → "35", "107.90" → "107.9": the same value, in the form a JSON number prints.
    let normalized = if decimal.contains('.') {
        decimal.trim_end_matches('0').trim_end_matches('.')
    } else {
        decimal
    };
    let n: serde_json::Number = normalized.parse().ok()?;
    (n.to_string() == normalized).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_values() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_717_243_200);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sat, 01 Jun 2024 12:00:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_path_segment("ORD-1001_a.b~c"), "ORD-1001_a.b~c");
        assert_eq!(encode_path_segment("a/b c?d#é"), "a%2Fb%20c%3Fd%23%C3%A9");
    }

    #[test]
    fn decimal_numbers_are_exact_or_refused() {
        for (d, text) in [
            ("107.99", "107.99"),
            ("1500", "1500"),
            ("12.345", "12.345"),
            ("0.01", "0.01"),
            ("-5.5", "-5.5"),
            ("107.90", "107.9"),
            ("100.00", "100"),
            ("0.000", "0"),
        ] {
            let n = decimal_json_number(d).unwrap_or_else(|| panic!("{d}"));
            assert_eq!(n.to_string(), text);
            let v: f64 = d.parse().unwrap();
            assert_eq!(n.as_f64(), Some(v), "{d}");
        }
        assert!(decimal_json_number("12345678901234567.89").is_none());
        assert!(decimal_json_number("abc").is_none());
    }

    #[test]
    fn secret_errors_do_not_echo_content() {
        #[derive(serde::Deserialize, Debug)]
        struct S {
            #[allow(dead_code)]
            n: u32,
        }
        let e = parse_secret::<S>("test", r#"{"n": "hunter2-secret"}"#).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert_eq!(e.category, "data");
    }
}

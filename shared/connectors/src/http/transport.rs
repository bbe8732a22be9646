//! The transport layer under every HTTP client here: sending a request and reading its whole
//! answer, classifying transport failures, per-attempt timeouts, `Retry-After`, the outbound
//! card-data guard, path/query encoding, reading a credentials secret without echoing it, and
//! exact JSON numbers for decimal amounts. It depends on nothing else in the crate.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeOwned;

/// The HTTP client builder every connector starts from: rustls on the aws-lc provider (the
/// AWS SDK's; one TLS stack in the binary) trusting Mozilla's root certificates compiled in
/// (`webpki-roots`), HTTP/1.1. reqwest's own default reads and parses the system's certificate
/// files when a client is built, which cost `authorize`'s cold start ~2 ms (BENCHMARKS.md §6) and
/// fails where no system trust store exists.
pub fn client_builder() -> reqwest::ClientBuilder {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc supports rustls' default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder().tls_backend_preconfigured(tls)
}

/// A client from [`client_builder`] with no other settings.
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("a client with a preconfigured rustls config builds")
}

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

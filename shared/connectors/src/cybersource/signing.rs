//! Cybersource HTTP Signature authentication (shared secret), byte for byte as the official
//! SDK (`cybersource-rest-client-python` 0.0.80) builds it.
//!
//! Signing string (lines joined with `\n`, no trailing newline, order fixed):
//!
//! ```text
//! host: <Host>
//! date: <Date>
//! request-target: <lower-case method> <path>[?<query>]
//! digest: SHA-256=<base64 sha256 of body>        (POST, PUT, PATCH only)
//! v-c-merchant-id: <merchant id, or portfolio id with a meta key>
//! ```
//!
//! The SDK writes `request-target` without parentheses and never sends or signs a digest for
//! GET or DELETE, even when a DELETE carries a body.

use std::fmt;
use std::str::FromStr;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::{Digest as _, Sha256};
use time::{OffsetDateTime, UtcOffset};

type HmacSha256 = Hmac<Sha256>;

/// Header carrying the transacting merchant id.
pub const HEADER_MERCHANT_ID: &str = "v-c-merchant-id";
/// `Date` header (IMF-fixdate).
pub const HEADER_DATE: &str = "Date";
/// `Host` header (bare host).
pub const HEADER_HOST: &str = "Host";
/// `Digest` header, POST/PUT/PATCH only.
pub const HEADER_DIGEST: &str = "Digest";
/// `Signature` header.
pub const HEADER_SIGNATURE: &str = "Signature";
/// The `algorithm` parameter of the `Signature` header.
pub const SIGNATURE_ALGORITHM: &str = "HmacSHA256";

const SIGNED_HEADERS_WITH_DIGEST: &str = "host date request-target digest v-c-merchant-id";
const SIGNED_HEADERS_WITHOUT_DIGEST: &str = "host date request-target v-c-merchant-id";

/// Standard alphabet; tolerant of missing padding and non-zero trailing bits (Python's
/// `base64.b64decode`, which the SDK uses, does not check trailing bits either).
const SECRET_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Errors building a signed request. None of them carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The shared secret (or webhook security key) is empty or not standard base64.
    #[error("secret key is empty or not valid standard base64")]
    InvalidSecret,
    /// A method Cybersource signing does not cover.
    #[error("unsupported HTTP method {0:?}; expected GET, POST, PUT, PATCH or DELETE")]
    UnsupportedMethod(String),
    /// A value that would go into a header is empty or holds characters a header value cannot.
    #[error("{0} is empty or contains characters not allowed in an HTTP header value")]
    InvalidHeaderValue(&'static str),
    /// The request target must be an absolute path (with optional query), visible ASCII only.
    #[error("request target must start with '/' and contain only visible ASCII characters")]
    InvalidRequestTarget,
}

/// HTTP methods used against Cybersource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// Upper-case wire name (`"POST"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Lower-case name as written in the `request-target` line (`"post"`).
    fn as_lower(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }

    /// Whether the SDK sends and signs a `Digest` for this method (POST, PUT, PATCH).
    pub fn has_digest(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = SigningError;

    /// Case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Method::Get,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| SigningError::UnsupportedMethod(s.to_owned()))
    }
}

/// Base64-decodes a Cybersource secret (HTTP-signature shared secret or webhook security key)
/// into the raw HMAC key bytes. Surrounding ASCII whitespace is ignored. Intermediate buffers are
/// zeroized; errors never echo the input.
pub fn decode_secret_key(secret_b64: &SecretString) -> Result<SecretSlice<u8>, SigningError> {
    let encoded = secret_b64.expose_secret().trim_ascii();
    if encoded.is_empty() {
        return Err(SigningError::InvalidSecret);
    }
    let mut buf = vec![0u8; base64::decoded_len_estimate(encoded.len())];
    let result = SECRET_B64.decode_slice(encoded, &mut buf);
    let key = match result {
        Ok(0) | Err(_) => Err(SigningError::InvalidSecret),
        Ok(n) => Ok(SecretSlice::from(Box::<[u8]>::from(&buf[..n]))),
    };
    buf.zeroize();
    key
}

/// `SHA-256=` + standard base64 of SHA-256 over `body`: the `Digest` header value.
pub fn body_digest(body: &[u8]) -> String {
    format!("SHA-256={}", STANDARD.encode(Sha256::digest(body)))
}

/// Builds the request target exactly as the SDK does: `path`, then, if there are query
/// parameters, `?` + Python `urllib.parse.urlencode(pairs)` (`quote_plus` with no extra safe
/// characters: `A-Z a-z 0-9 _ . - ~` kept, space → `+`, everything else `%XX` of its UTF-8
/// bytes). The same string must be used on the wire.
pub fn request_target<K: AsRef<str>, V: AsRef<str>>(path: &str, query: &[(K, V)]) -> String {
    let mut target = String::from(path);
    for (i, (name, value)) in query.iter().enumerate() {
        target.push(if i == 0 { '?' } else { '&' });
        quote_plus_into(&mut target, name.as_ref());
        target.push('=');
        quote_plus_into(&mut target, value.as_ref());
    }
    target
}

fn quote_plus_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
}

/// Formats an instant as an IMF-fixdate (`Thu, 18 Jul 2019 00:18:03 GMT`), the `Date` value.
pub fn http_date(at: OffsetDateTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let utc = at.to_offset(UtcOffset::UTC);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[usize::from(utc.weekday().number_days_from_monday())],
        utc.day(),
        MONTHS[usize::from(u8::from(utc.month()) - 1)],
        utc.year(),
        utc.hour(),
        utc.minute(),
        utc.second(),
    )
}

/// The result of signing one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// Headers to put on the request, in this order: `v-c-merchant-id`, `Date`, `Host`,
    /// `Digest` (POST/PUT/PATCH only), `Signature`. (`Content-Type` is the caller's.)
    pub headers: Vec<(&'static str, String)>,
    /// The exact text fed to HMAC-SHA256 (no secret in it).
    pub signing_string: String,
    /// The `signature="…"` value alone (standard base64 of the MAC).
    pub signature: String,
}

impl SignedHeaders {
    /// Value of a header by name (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Signs Cybersource REST requests with HTTP Signature authentication (shared secret).
#[derive(Clone)]
pub struct HttpSignatureSigner {
    merchant_id: String,
    /// Portfolio id when signing with a meta key; signed instead of `merchant_id`.
    portfolio_id: Option<String>,
    key_id: String,
    secret: SecretSlice<u8>,
}

impl fmt::Debug for HttpSignatureSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSignatureSigner")
            .field("merchant_id", &self.merchant_id)
            .field("portfolio_id", &self.portfolio_id)
            .field("key_id", &self.key_id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl HttpSignatureSigner {
    /// `shared_secret_b64` is the secret exactly as Cybersource issues it (standard base64).
    pub fn new(
        merchant_id: impl Into<String>,
        key_id: impl Into<String>,
        shared_secret_b64: &SecretString,
    ) -> Result<Self, SigningError> {
        let merchant_id = merchant_id.into();
        let key_id = key_id.into();
        check_header_value("merchant id", &merchant_id)?;
        check_header_value("key id", &key_id)?;
        if key_id.contains('"') {
            return Err(SigningError::InvalidHeaderValue("key id"));
        }
        Ok(Self {
            merchant_id,
            portfolio_id: None,
            key_id,
            secret: decode_secret_key(shared_secret_b64)?,
        })
    }

    /// Meta key: the key belongs to `portfolio_id`, which is signed in the `v-c-merchant-id`
    /// line, while the header still carries the transacting merchant id.
    pub fn with_meta_key_portfolio(
        mut self,
        portfolio_id: impl Into<String>,
    ) -> Result<Self, SigningError> {
        let portfolio_id = portfolio_id.into();
        check_header_value("portfolio id", &portfolio_id)?;
        self.portfolio_id = Some(portfolio_id);
        Ok(self)
    }

    /// The transacting merchant id (`v-c-merchant-id` header).
    pub fn merchant_id(&self) -> &str {
        &self.merchant_id
    }

    /// The shared-secret key's id (`keyid`).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs one request. `request_target` is the path plus query exactly as sent (see
    /// [`request_target`]); `body` is the exact byte buffer that will be sent (empty for none);
    /// `date` is used verbatim in the `Date` header and the signing string (see [`http_date`]).
    pub fn sign(
        &self,
        method: Method,
        host: &str,
        request_target: &str,
        body: &[u8],
        date: &str,
    ) -> Result<SignedHeaders, SigningError> {
        check_header_value("host", host)?;
        if host.bytes().any(|b| b == b' ' || b == b'/') {
            return Err(SigningError::InvalidHeaderValue("host"));
        }
        check_header_value("date", date)?;
        if !request_target.starts_with('/') || !request_target.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(SigningError::InvalidRequestTarget);
        }

        let digest = method.has_digest().then(|| body_digest(body));
        let signed_mid = self.portfolio_id.as_deref().unwrap_or(&self.merchant_id);

        let mut signing_string = format!(
            "host: {host}\ndate: {date}\nrequest-target: {} {request_target}\n",
            method.as_lower()
        );
        if let Some(d) = &digest {
            signing_string.push_str("digest: ");
            signing_string.push_str(d);
            signing_string.push('\n');
        }
        signing_string.push_str("v-c-merchant-id: ");
        signing_string.push_str(signed_mid);

        let mut mac = HmacSha256::new_from_slice(self.secret.expose_secret())
            .expect("HMAC-SHA256 accepts keys of any length");
        mac.update(signing_string.as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());

        let signed_names = if digest.is_some() {
            SIGNED_HEADERS_WITH_DIGEST
        } else {
            SIGNED_HEADERS_WITHOUT_DIGEST
        };
        let signature_header = format!(
            "keyid=\"{}\", algorithm=\"{SIGNATURE_ALGORITHM}\", headers=\"{signed_names}\", signature=\"{signature}\"",
            self.key_id
        );

        let mut headers = Vec::with_capacity(5);
        headers.push((HEADER_MERCHANT_ID, self.merchant_id.clone()));
        headers.push((HEADER_DATE, date.to_owned()));
        headers.push((HEADER_HOST, host.to_owned()));
        if let Some(d) = digest {
            headers.push((HEADER_DIGEST, d));
        }
        headers.push((HEADER_SIGNATURE, signature_header));

        Ok(SignedHeaders {
            headers,
            signing_string,
            signature,
        })
    }
}

/// Non-empty, visible ASCII or space, no leading/trailing space (no CR/LF header injection).
fn check_header_value(field: &'static str, value: &str) -> Result<(), SigningError> {
    let ok = !value.is_empty()
        && value.trim() == value
        && value.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(SigningError::InvalidHeaderValue(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "YpnO3e2HtZRmB0EAYH5m+mGyIYpCZUBO9VYdiCkYewE=";

    fn signer() -> HttpSignatureSigner {
        HttpSignatureSigner::new(
            "acme_store_01",
            "0b3d8f44-7a1e-4c5b-9d2e-6f7a8b9c0d1e",
            &SecretString::from(SECRET),
        )
        .unwrap()
    }

    #[test]
    fn digest_absent_for_get_and_delete_even_with_body() {
        for method in [Method::Get, Method::Delete] {
            for body in [&b""[..], &b"{\"reason\":\"cleanup\"}"[..]] {
                let s = signer()
                    .sign(
                        method,
                        "apitest.cybersource.com",
                        "/x/1",
                        body,
                        "Thu, 18 Jul 2019 00:18:03 GMT",
                    )
                    .unwrap();
                assert_eq!(s.get("Digest"), None, "{method}");
                assert!(!s.signing_string.contains("digest"), "{method}");
                assert!(s
                    .get("Signature")
                    .unwrap()
                    .contains("headers=\"host date request-target v-c-merchant-id\""));
                let names: Vec<_> = s.headers.iter().map(|(n, _)| *n).collect();
                assert_eq!(names, ["v-c-merchant-id", "Date", "Host", "Signature"]);
            }
        }
    }

    #[test]
    fn digest_present_for_post_put_patch_even_with_empty_body() {
        for method in [Method::Post, Method::Put, Method::Patch] {
            let s = signer()
                .sign(
                    method,
                    "apitest.cybersource.com",
                    "/x",
                    b"",
                    "Thu, 18 Jul 2019 00:18:03 GMT",
                )
                .unwrap();
            assert_eq!(
                s.get("digest"),
                Some("SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
            );
            let names: Vec<_> = s.headers.iter().map(|(n, _)| *n).collect();
            assert_eq!(
                names,
                ["v-c-merchant-id", "Date", "Host", "Digest", "Signature"]
            );
        }
    }

    #[test]
    fn debug_does_not_leak_secret() {
        let s = signer();
        let dbg = format!("{s:?} {:#?}", s);
        assert!(dbg.contains("[REDACTED]"));
        assert!(!dbg.contains(SECRET));
        assert!(!dbg.contains("YpnO"));
        // Nor the decoded key bytes, in any usual rendering.
        assert!(!dbg.contains("98, 153") && !dbg.contains("6299ce"));
    }

    #[test]
    fn invalid_secret_error_does_not_echo_it() {
        let err =
            HttpSignatureSigner::new("m", "k", &SecretString::from("not*base64!")).unwrap_err();
        assert_eq!(err, SigningError::InvalidSecret);
        assert!(!format!("{err} {err:?}").contains("base64!"));
        assert!(HttpSignatureSigner::new("m", "k", &SecretString::from("  ")).is_err());
    }

    #[test]
    fn rejects_header_injection() {
        let s = signer();
        let date = "Thu, 18 Jul 2019 00:18:03 GMT";
        assert!(s
            .sign(Method::Get, "a.com\r\nX: y", "/", b"", date)
            .is_err());
        assert!(s.sign(Method::Get, "a.com", "/a b", b"", date).is_err());
        assert!(s.sign(Method::Get, "a.com", "noslash", b"", date).is_err());
        assert!(s.sign(Method::Get, "a.com", "/", b"", "x\ny").is_err());
        assert!(HttpSignatureSigner::new("m\n", "k", &SecretString::from(SECRET)).is_err());
        assert!(HttpSignatureSigner::new("m", "k\"", &SecretString::from(SECRET)).is_err());
    }

    #[test]
    fn meta_key_signs_portfolio_but_sends_transacting_mid() {
        let s = signer().with_meta_key_portfolio("portfolio_9").unwrap();
        let out = s
            .sign(
                Method::Get,
                "apitest.cybersource.com",
                "/tss/v2/transactions/1",
                b"",
                "Thu, 18 Jul 2019 00:18:03 GMT",
            )
            .unwrap();
        assert!(out
            .signing_string
            .ends_with("\nv-c-merchant-id: portfolio_9"));
        assert_eq!(out.get("v-c-merchant-id"), Some("acme_store_01"));
    }

    #[test]
    fn request_target_follows_python_urlencode() {
        assert_eq!(request_target::<&str, &str>("/p", &[]), "/p");
        assert_eq!(
            request_target("/p", &[("a b", "x:y,z/~*é"), ("n", "")]),
            "/p?a+b=x%3Ay%2Cz%2F~%2A%C3%A9&n="
        );
    }

    #[test]
    fn http_date_is_imf_fixdate() {
        let t = OffsetDateTime::from_unix_timestamp(1_563_409_083).unwrap();
        assert_eq!(http_date(t), "Thu, 18 Jul 2019 00:18:03 GMT");
        let t = t.to_offset(UtcOffset::from_hms(5, 30, 0).unwrap());
        assert_eq!(http_date(t), "Thu, 18 Jul 2019 00:18:03 GMT");
    }

    #[test]
    fn method_parsing() {
        assert_eq!("patch".parse::<Method>().unwrap(), Method::Patch);
        assert!(matches!(
            "HEAD".parse::<Method>(),
            Err(SigningError::UnsupportedMethod(_))
        ));
    }
}

//! The HTTP layer every external-system client sits on. It knows no external system.
//!
//! | module | what | uses |
//! |---|---|---|
//! | [`retry`] | the one retry policy: exponential backoff, full jitter, deadline-bounded | — |
//! | [`transport`] | send a request and read the whole answer, transport failures, timeouts, `Retry-After`, the card-data guard, encodings | — |
//! | [`oauth`] | the one OAuth 2.0 client-credentials token cache (secret basic/post, JWT assertion) | `transport`, `retry` |
//! | [`rest`] | [`rest::BearerClient`]: a bearer-token JSON API with retries and one token refresh | `oauth`, `transport`, `retry` |
//! | `test_http` (tests only) | a loopback HTTP server and a virtual sleeper | `retry` |
//!
//! Time comes from the domain's one [`o2c_domain::ports::Clock`].

pub mod oauth;
pub mod rest;
pub mod retry;
#[cfg(test)]
pub(crate) mod test_http;
pub mod transport;

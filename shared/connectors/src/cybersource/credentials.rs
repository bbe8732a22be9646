//! Cybersource credentials as stored in Secrets Manager (`CybersourceSecret`, see
//! `infra/local/secrets.local.json` and infra/README.md):
//!
//! ```json
//! {"merchant_id": "...", "key_id": "...", "shared_secret_b64": "...",
//!  "webhook_key_id": "...", "webhook_secret_b64": "...", "base_url": "https://apitest.cybersource.com"}
//! ```
//!
//! Optional: `portfolio_id` (meta key: signed instead of the merchant id) and
//! `previous_webhook_keys: [{"key_id", "secret_b64"}]` (keys still accepted during a
//! notification-key rotation). Secrets are `SecretString`; `Debug` redacts them.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::signing::{HttpSignatureSigner, SigningError};
use super::webhook::{WebhookKey, WebhookVerifier};

/// A webhook digital-signature key (`keyInformation.keyId` + `keyInformation.key`).
#[derive(Clone, Deserialize)]
pub struct WebhookKeyCredentials {
    pub key_id: String,
    pub secret_b64: SecretString,
}

impl fmt::Debug for WebhookKeyCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookKeyCredentials")
            .field("key_id", &self.key_id)
            .field("secret_b64", &"[REDACTED]")
            .finish()
    }
}

/// The `CybersourceSecret` JSON.
#[derive(Clone, Deserialize)]
pub struct CybersourceCredentials {
    pub merchant_id: String,
    /// HTTP Signature shared-secret key id.
    pub key_id: String,
    /// HTTP Signature shared secret, base64 as issued.
    pub shared_secret_b64: SecretString,
    /// Meta key: the portfolio id signed instead of `merchant_id`.
    #[serde(default)]
    pub portfolio_id: Option<String>,
    /// Notification security key id (`/kms/egress/v2/keys-sym`).
    pub webhook_key_id: String,
    /// Notification security key, base64 as issued.
    pub webhook_secret_b64: SecretString,
    /// Older notification keys still accepted (rotation).
    #[serde(default)]
    pub previous_webhook_keys: Vec<WebhookKeyCredentials>,
    /// `https://apitest.cybersource.com`, `https://api.cybersource.com`, or a simulator.
    pub base_url: String,
}

impl fmt::Debug for CybersourceCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CybersourceCredentials")
            .field("merchant_id", &self.merchant_id)
            .field("key_id", &self.key_id)
            .field("shared_secret_b64", &"[REDACTED]")
            .field("portfolio_id", &self.portfolio_id)
            .field("webhook_key_id", &self.webhook_key_id)
            .field("webhook_secret_b64", &"[REDACTED]")
            .field("previous_webhook_keys", &self.previous_webhook_keys)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Why the secret could not be used. Never echoes secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("cybersource secret is not valid JSON of the expected shape ({category} error at line {line}, column {column})")]
    Malformed {
        category: &'static str,
        line: usize,
        column: usize,
    },
    #[error("cybersource secret: {0}")]
    Invalid(#[from] SigningError),
}

impl CybersourceCredentials {
    /// Parses the secret's JSON. The error says where, never what (serde messages can quote
    /// values).
    pub fn from_json(json: &str) -> Result<Self, CredentialsError> {
        serde_json::from_str(json).map_err(|e| CredentialsError::Malformed {
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

    /// Parses a secret as returned by a `SecretSource`.
    pub fn from_secret(secret: &SecretString) -> Result<Self, CredentialsError> {
        Self::from_json(secret.expose_secret())
    }

    /// The HTTP Signature signer for these credentials.
    pub fn signer(&self) -> Result<HttpSignatureSigner, SigningError> {
        let signer = HttpSignatureSigner::new(
            self.merchant_id.clone(),
            self.key_id.clone(),
            &self.shared_secret_b64,
        )?;
        match &self.portfolio_id {
            Some(p) => signer.with_meta_key_portfolio(p.clone()),
            None => Ok(signer),
        }
    }

    /// A notification verifier holding the current key and every previous one (default signed
    /// content, timestamp window and body cap; adjust with its builder methods).
    pub fn webhook_verifier(&self) -> Result<WebhookVerifier, SigningError> {
        let mut verifier = WebhookVerifier::new(WebhookKey::new(
            self.webhook_key_id.clone(),
            &self.webhook_secret_b64,
        )?);
        for k in &self.previous_webhook_keys {
            verifier = verifier.with_key(WebhookKey::new(k.key_id.clone(), &k.secret_b64)?);
        }
        Ok(verifier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{
        "merchant_id": "o2c_local_sandbox",
        "key_id": "e0c5be8f-551c-4556-916d-0b9e0d442160",
        "shared_secret_b64": "MMPrlmFG5SQt+GNIqrdrHIBjUq/pe+uwPFk7dQ8sMj0=",
        "webhook_key_id": "c94c2747-e1e8-4c54-9d12-2c708996a550",
        "webhook_secret_b64": "yaBERXhBb6dvwRDHC1tL9rHuxuU8JFKwl76WIphKxZg=",
        "base_url": "http://127.0.0.1:4571"
    }"#;

    #[test]
    fn parses_the_secret_and_redacts_debug() {
        let c = CybersourceCredentials::from_json(JSON).unwrap();
        assert_eq!(c.merchant_id, "o2c_local_sandbox");
        assert_eq!(c.base_url, "http://127.0.0.1:4571");
        let dbg = format!("{c:?}");
        assert!(dbg.contains("[REDACTED]"));
        assert!(!dbg.contains("MMPrlm") && !dbg.contains("yaBERX"), "{dbg}");
        assert_eq!(c.signer().unwrap().merchant_id(), "o2c_local_sandbox");
        c.webhook_verifier().unwrap();
    }

    #[test]
    fn previous_webhook_keys_and_portfolio() {
        let json = JSON.replace(
            r#""base_url""#,
            r#""portfolio_id": "portfolio_1",
               "previous_webhook_keys": [{"key_id": "old", "secret_b64": "QwhlajRHbiJjkxQS3CrNUJl9lSr9Z6xx"}],
               "base_url""#,
        );
        let c = CybersourceCredentials::from_json(&json).unwrap();
        assert_eq!(c.previous_webhook_keys.len(), 1);
        assert!(!format!("{c:?}").contains("QwhlajRH"));
        let v = c.webhook_verifier().unwrap();
        assert_eq!(v.key_ids(), ["c94c2747-e1e8-4c54-9d12-2c708996a550", "old"]);
        let s = c.signer().unwrap();
        let out = s
            .sign(
                super::super::Method::Get,
                "h",
                "/x",
                b"",
                "Thu, 18 Jul 2019 00:18:03 GMT",
            )
            .unwrap();
        assert!(out.signing_string.ends_with("v-c-merchant-id: portfolio_1"));
    }

    #[test]
    fn errors_never_echo_values() {
        let bad = JSON.replace(
            r#""merchant_id": "o2c_local_sandbox""#,
            r#""merchant_id": 12345678"#,
        );
        let e = CybersourceCredentials::from_json(&bad).unwrap_err();
        assert!(!e.to_string().contains("12345678"), "{e}");
        let missing = r#"{"merchant_id": "m", "shared_secret_b64": "SECRETVALUE"}"#;
        let e = CybersourceCredentials::from_json(missing).unwrap_err();
        assert!(!e.to_string().contains("SECRETVALUE"));
        let bad_secret = JSON.replace("MMPrlmFG5SQt+GNIqrdrHIBjUq/pe+uwPFk7dQ8sMj0=", "not*b64");
        let c = CybersourceCredentials::from_json(&bad_secret).unwrap();
        let e = c.signer().unwrap_err();
        assert!(!e.to_string().contains("not*b64"));
    }
}

//! Clarity credentials as stored in Secrets Manager (`ClaritySecret`, infra/README.md):
//!
//! ```json
//! {"base_url": "https://clarity.example.test", "token_url": "https://clarity.example.test/oauth/token",
//!  "client_id": "...", "client_secret": "...", "webhook_secret": "whsec_..."}
//! ```
//!
//! Optional: `scope` (space-separated; absent = the client's default scopes, `CLARITY_ASSUMED.md`
//! §4.2) and `previous_webhook_secrets` (still accepted during a webhook-secret rotation on our
//! side). Secrets are [`SecretString`]; `Debug` redacts them.

use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;

use super::webhook::WebhookVerifier;
use crate::http::oauth::{ClientAuth, TokenEndpoint};
use crate::http::transport::{parse_secret, SecretFormatError};

/// The `ClaritySecret` JSON.
#[derive(Clone, Deserialize)]
pub struct ClarityCredentials {
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// `X-Clarity-Signature` HMAC key.
    pub webhook_secret: SecretString,
    #[serde(default)]
    pub previous_webhook_secrets: Vec<SecretString>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl fmt::Debug for ClarityCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClarityCredentials")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("webhook_secret", &"[REDACTED]")
            .field(
                "previous_webhook_secrets",
                &format!("[{} REDACTED]", self.previous_webhook_secrets.len()),
            )
            .field("scope", &self.scope)
            .finish()
    }
}

impl ClarityCredentials {
    pub fn from_json(json: &str) -> Result<Self, SecretFormatError> {
        parse_secret("clarity", json)
    }

    /// Client credentials with HTTP Basic (`CLARITY_ASSUMED.md` §4.2's preferred client
    /// authentication).
    pub fn token_endpoint(&self) -> TokenEndpoint {
        let mut endpoint = TokenEndpoint::new(
            self.token_url.clone(),
            ClientAuth::SecretBasic {
                client_id: self.client_id.clone(),
                client_secret: self.client_secret.clone(),
            },
        );
        endpoint.scope = self.scope.clone();
        endpoint
    }

    /// The webhook verifier for the current secret (and any previous ones).
    pub fn webhook_verifier(&self) -> WebhookVerifier {
        let mut secrets = vec![self.webhook_secret.clone()];
        secrets.extend(self.previous_webhook_secrets.iter().cloned());
        WebhookVerifier::new(secrets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_local_secret_shape_and_redacts() {
        let json = r#"{"base_url": "http://127.0.0.1:4572", "token_url": "http://127.0.0.1:4572/oauth/token",
                       "client_id": "o2c-local-integration", "client_secret": "XmkXFeQy-secret",
                       "webhook_secret": "whsec_local_abc"}"#;
        let c = ClarityCredentials::from_json(json).unwrap();
        assert_eq!(c.client_id, "o2c-local-integration");
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("XmkXFeQy") && !dbg.contains("whsec_local"),
            "{dbg}"
        );
        assert!(matches!(
            c.token_endpoint().auth,
            ClientAuth::SecretBasic { .. }
        ));
        assert_eq!(c.token_endpoint().scope, None);
        let e = ClarityCredentials::from_json(r#"{"client_secret": 5}"#).unwrap_err();
        assert_eq!(e.secret, "clarity");
    }
}

//! The `CrmSecret` JSON: Salesforce client credentials.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::http::oauth::{ClientAuth, TokenEndpoint};
use crate::http::transport::{parse_secret, SecretFormatError};

/// The `CrmSecret` JSON (infra/README.md).
#[derive(Clone, Deserialize)]
pub struct CrmCredentials {
    /// `https://<MyDomain>.my.salesforce.com`.
    pub instance_url: String,
    /// `<instance>/services/oauth2/token`.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
}

impl fmt::Debug for CrmCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrmCredentials")
            .field("instance_url", &self.instance_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .finish()
    }
}

impl CrmCredentials {
    pub fn from_json(json: &str) -> Result<Self, SecretFormatError> {
        parse_secret("crm", json)
    }

    pub fn token_endpoint(&self) -> TokenEndpoint {
        let mut t = TokenEndpoint::new(
            self.token_url.clone(),
            ClientAuth::SecretPost {
                client_id: self.client_id.clone(),
                client_secret: self.client_secret.clone(),
            },
        );
        t.default_lifetime = Duration::from_secs(15 * 60);
        t
    }
}

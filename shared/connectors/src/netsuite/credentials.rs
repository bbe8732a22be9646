//! The `ErpSecret` JSON: NetSuite M2M client credentials.

use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;

use crate::http::oauth::{ClientAuth, JwtAssertion, OAuthError, TokenEndpoint};
use crate::http::transport::{parse_secret, SecretFormatError};

/// The `ErpSecret` JSON (infra/README.md): NetSuite M2M client credentials.
#[derive(Clone, Deserialize)]
pub struct ErpCredentials {
    pub account_id: String,
    /// `https://<account>.suitetalk.api.netsuite.com/services/rest`.
    pub base_url: String,
    /// `…/services/rest/auth/oauth2/v1/token`.
    pub token_url: String,
    pub client_id: String,
    /// The JWT `kid`.
    pub certificate_id: String,
    /// PEM of the private key whose certificate is mapped in NetSuite.
    pub private_key_pem: SecretString,
}

impl fmt::Debug for ErpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErpCredentials")
            .field("account_id", &self.account_id)
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("certificate_id", &self.certificate_id)
            .field("private_key_pem", &"[REDACTED]")
            .finish()
    }
}

impl ErpCredentials {
    pub fn from_json(json: &str) -> Result<Self, SecretFormatError> {
        parse_secret("erp", json)
    }

    /// Client credentials with a PS256 client assertion: `scope` `rest_webservices`, `aud` the
    /// token URL, 5-minute assertions.
    pub fn token_endpoint(&self) -> Result<TokenEndpoint, OAuthError> {
        let assertion = JwtAssertion::from_rsa_pem(
            self.client_id.clone(),
            self.certificate_id.clone(),
            self.token_url.clone(),
            "rest_webservices",
            &self.private_key_pem,
        )?;
        Ok(TokenEndpoint::new(
            self.token_url.clone(),
            ClientAuth::JwtAssertion(Box::new(assertion)),
        ))
    }
}

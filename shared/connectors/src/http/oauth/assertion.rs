//! The JWT client assertion (RFC 7523 §2.2) NetSuite wants at its token endpoint.

use std::fmt;
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::OAuthError;

/// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (RFC 7523).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(super) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RSA-PSS algorithms NetSuite accepts for the client assertion (`ERP_CRM_ASSUMED.md` §5; the EC
/// ones need an EC key and are not used here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssertionAlgorithm {
    #[default]
    PS256,
    PS384,
    PS512,
}

impl AssertionAlgorithm {
    fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            AssertionAlgorithm::PS256 => jsonwebtoken::Algorithm::PS256,
            AssertionAlgorithm::PS384 => jsonwebtoken::Algorithm::PS384,
            AssertionAlgorithm::PS512 => jsonwebtoken::Algorithm::PS512,
        }
    }
}

/// Claims of the client assertion (NetSuite "The Request Token Structure").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub scope: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

/// A private key and the claims it signs client assertions with.
#[derive(Clone)]
pub struct JwtAssertion {
    /// `iss`: the integration's client id.
    pub client_id: String,
    /// Header `kid`: the certificate id from the M2M setup.
    pub key_id: String,
    /// `aud`: the token endpoint URL.
    pub audience: String,
    /// `scope`: `rest_webservices` (comma-separated when several).
    pub scope: String,
    /// `exp - iat`; NetSuite refuses more than 60 minutes.
    pub lifetime: Duration,
    pub algorithm: AssertionAlgorithm,
    key: jsonwebtoken::EncodingKey,
}

impl fmt::Debug for JwtAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAssertion")
            .field("client_id", &self.client_id)
            .field("key_id", &self.key_id)
            .field("audience", &self.audience)
            .field("scope", &self.scope)
            .field("lifetime", &self.lifetime)
            .field("algorithm", &self.algorithm)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl JwtAssertion {
    /// Longest lifetime NetSuite accepts.
    pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);

    /// From a PKCS#8 or PKCS#1 RSA private key in PEM. Defaults: PS256, 5 minutes.
    pub fn from_rsa_pem(
        client_id: impl Into<String>,
        key_id: impl Into<String>,
        audience: impl Into<String>,
        scope: impl Into<String>,
        private_key_pem: &SecretString,
    ) -> Result<Self, OAuthError> {
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes())
                .map_err(|e| {
                    OAuthError::Assertion(format!("private key unusable: {:?}", e.kind()))
                })?;
        Ok(Self {
            client_id: client_id.into(),
            key_id: key_id.into(),
            audience: audience.into(),
            scope: scope.into(),
            lifetime: Duration::from_secs(300),
            algorithm: AssertionAlgorithm::PS256,
            key,
        })
    }

    /// The claims for an assertion issued at `now`.
    pub fn claims(&self, now: SystemTime) -> AssertionClaims {
        let iat = unix_secs(now);
        let lifetime = self.lifetime.min(Self::MAX_LIFETIME).as_secs().max(1);
        AssertionClaims {
            iss: self.client_id.clone(),
            scope: self.scope.clone(),
            aud: self.audience.clone(),
            iat,
            exp: iat + lifetime,
        }
    }

    /// A signed assertion issued at `now`.
    pub fn sign(&self, now: SystemTime) -> Result<SecretString, OAuthError> {
        let mut header = jsonwebtoken::Header::new(self.algorithm.jwt());
        header.typ = Some("JWT".to_owned());
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, &self.claims(now), &self.key)
            .map(SecretString::from)
            .map_err(|e| OAuthError::Assertion(format!("signing failed: {:?}", e.kind())))
    }
}

//! Configuration from environment variables. A missing or invalid variable is a startup error
//! that names it. Secrets never come from the environment: only their Secrets Manager ids do.

use o2c_domain::ports::QueueName;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {name} has an invalid value: {detail}")]
    Invalid { name: &'static str, detail: String },
}

/// The deployment stage. Everything but `prod` masks PII in logs and in data that leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Dev,
    Qa,
    Prod,
}

impl Stage {
    pub fn parse(s: &str) -> Option<Stage> {
        match s {
            "dev" => Some(Stage::Dev),
            "qa" => Some(Stage::Qa),
            "prod" => Some(Stage::Prod),
            _ => None,
        }
    }

    pub fn masks_pii(self) -> bool {
        self != Stage::Prod
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Dev => "dev",
            Stage::Qa => "qa",
            Stage::Prod => "prod",
        })
    }
}

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A view of the environment; tests pass a map instead of the process environment.
pub struct Env {
    lookup: Lookup,
}

impl Env {
    /// The process environment.
    pub fn process() -> Env {
        Env {
            lookup: Box::new(|k| std::env::var(k).ok()),
        }
    }

    /// A fixed map (tests).
    pub fn from_pairs<I, K, V>(pairs: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Env {
            lookup: Box::new(move |k| map.get(k).cloned()),
        }
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    pub fn stage(&self) -> Result<Stage, ConfigError> {
        let raw = self.required("STAGE")?;
        Stage::parse(&raw).ok_or(ConfigError::Invalid {
            name: "STAGE",
            detail: format!("{raw:?} is not one of dev, qa, prod"),
        })
    }

    /// A number with a default.
    pub fn u64_or(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name,
                detail: format!("{v:?} is not a whole number"),
            }),
        }
    }

    /// URLs of the given queues, each from its `*_QUEUE_URL` variable.
    pub fn queue_urls(
        &self,
        queues: &[QueueName],
    ) -> Result<BTreeMap<QueueName, String>, ConfigError> {
        queues
            .iter()
            .map(|q| Ok((*q, self.required(q.url_env())?)))
            .collect()
    }
}

/// What every function needs: stage, table, the queues it sends to, and the DLQ of the queue
/// it consumes (SQS consumers dead-letter non-retryable messages there at once). The DLQ is read
/// from the consumed queue's own variable (`ORDERS_DLQ_URL`, ...), so every function can share
/// one environment locally under `cargo lambda watch`.
#[derive(Clone, Debug)]
pub struct FunctionConfig {
    /// The function's timeout (`FUNCTION_TIMEOUT_SECS`, default 30): claim leases and call
    /// budgets derive from it. Inside a Lambda invocation the context's deadline (see
    /// [`crate::lambda::invocation_deadline`]) cuts every call shorter; this is the fallback
    /// when there is none (the local bridge, tests).
    pub timeout: std::time::Duration,
    /// Claim lease override (`CLAIM_LEASE_SECS`); by default derived from the timeout. Only
    /// test and local runs shorten it.
    pub lease: Option<std::time::Duration>,
    pub stage: Stage,
    pub table_name: String,
    pub queue_urls: BTreeMap<QueueName, String>,
    pub dlq_url: Option<String>,
    /// Every `<QUEUE>_DLQ_URL` set (tools that read dead letters: dlq-redrive, the console).
    pub dlq_urls: BTreeMap<QueueName, String>,
    pub secret_ids: BTreeMap<&'static str, String>,
    /// How often the active integration spec version is looked up again
    /// (`SPEC_REFRESH_SECS`, default 30).
    pub spec_refresh: std::time::Duration,
    /// Functions that quarantine inbound events: the quarantine table
    /// (`QUARANTINE_TABLE_NAME`), the integration team's alert topic (`ALERTS_TOPIC_ARN`) and
    /// the limits (`QUARANTINE_TTL_DAYS`, `QUARANTINE_MAX_BODY_BYTES`,
    /// `QUARANTINE_ALERTS_PER_MINUTE`; defaults 14, 262144, 10).
    pub quarantine: Option<QuarantineVars>,
}

/// The quarantine's variables (see [`FunctionConfig::quarantine`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantineVars {
    pub table_name: String,
    pub alerts_topic_arn: String,
    pub ttl_days: u64,
    pub max_body_bytes: u64,
    pub alerts_per_minute: u64,
}

impl QuarantineVars {
    /// `None` when `QUARANTINE_TABLE_NAME` is not set; the topic is then required.
    pub fn load(env: &Env) -> Result<Option<QuarantineVars>, ConfigError> {
        let Some(table_name) = env.optional("QUARANTINE_TABLE_NAME") else {
            return Ok(None);
        };
        Ok(Some(QuarantineVars {
            table_name,
            alerts_topic_arn: env.required("ALERTS_TOPIC_ARN")?,
            ttl_days: env.u64_or("QUARANTINE_TTL_DAYS", 14)?,
            max_body_bytes: env.u64_or("QUARANTINE_MAX_BODY_BYTES", 256 * 1024)?,
            alerts_per_minute: env.u64_or("QUARANTINE_ALERTS_PER_MINUTE", 10)?,
        }))
    }
}

impl FunctionConfig {
    /// Load: `STAGE`, `TABLE_NAME`, the `*_QUEUE_URL` of each queue in `sends_to`, the
    /// `*_DLQ_URL` of the consumed queue, and each named secret-id variable
    /// (e.g. `CYBERSOURCE_SECRET_ID`).
    pub fn load(
        env: &Env,
        sends_to: &[QueueName],
        consumes: Option<QueueName>,
        secrets: &[&'static str],
    ) -> Result<FunctionConfig, ConfigError> {
        Ok(FunctionConfig {
            timeout: std::time::Duration::from_secs(env.u64_or("FUNCTION_TIMEOUT_SECS", 30)?),
            lease: env
                .optional("CLAIM_LEASE_SECS")
                .map(|_| env.u64_or("CLAIM_LEASE_SECS", 0))
                .transpose()?
                .map(std::time::Duration::from_secs),
            stage: env.stage()?,
            table_name: env.required("TABLE_NAME")?,
            queue_urls: env.queue_urls(sends_to)?,
            dlq_url: consumes
                .map(|q| env.required(q.dlq_url_env()))
                .transpose()?,
            dlq_urls: QueueName::ALL
                .into_iter()
                .filter_map(|q| env.optional(q.dlq_url_env()).map(|u| (q, u)))
                .collect(),
            secret_ids: secrets
                .iter()
                .map(|s| Ok((*s, env.required(s)?)))
                .collect::<Result<_, ConfigError>>()?,
            spec_refresh: std::time::Duration::from_secs(env.u64_or("SPEC_REFRESH_SECS", 30)?),
            quarantine: QuarantineVars::load(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variable_is_named() {
        let env = Env::from_pairs([("STAGE", "dev")]);
        let err = FunctionConfig::load(&env, &[], None, &[]).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
        assert_eq!(
            err.to_string(),
            "missing required environment variable TABLE_NAME"
        );

        let env = Env::from_pairs([("STAGE", "dev"), ("TABLE_NAME", "t")]);
        let err = FunctionConfig::load(&env, &[QueueName::Captures], None, &[]).unwrap_err();
        assert_eq!(err, ConfigError::Missing("CAPTURES_QUEUE_URL"));
        let err = FunctionConfig::load(&env, &[], Some(QueueName::Orders), &[]).unwrap_err();
        assert_eq!(err, ConfigError::Missing("ORDERS_DLQ_URL"));
        let err = FunctionConfig::load(&env, &[], None, &["CYBERSOURCE_SECRET_ID"]).unwrap_err();
        assert_eq!(err, ConfigError::Missing("CYBERSOURCE_SECRET_ID"));
    }

    #[test]
    fn loads_a_complete_environment() {
        let env = Env::from_pairs([
            ("STAGE", "prod"),
            ("TABLE_NAME", "orders"),
            ("CAPTURES_QUEUE_URL", "http://q/captures.fifo"),
            ("ORDERS_DLQ_URL", "http://q/orders-dlq.fifo"),
            ("CYBERSOURCE_SECRET_ID", "o2c/cybersource"),
        ]);
        let c = FunctionConfig::load(
            &env,
            &[QueueName::Captures],
            Some(QueueName::Orders),
            &["CYBERSOURCE_SECRET_ID"],
        )
        .unwrap();
        assert_eq!(c.stage, Stage::Prod);
        assert!(!c.stage.masks_pii());
        assert_eq!(c.queue_urls[&QueueName::Captures], "http://q/captures.fifo");
        assert_eq!(c.dlq_url.as_deref(), Some("http://q/orders-dlq.fifo"));
        assert_eq!(c.secret_ids["CYBERSOURCE_SECRET_ID"], "o2c/cybersource");
    }

    #[test]
    fn invalid_values_are_named() {
        let env = Env::from_pairs([("STAGE", "production"), ("N", "x")]);
        assert!(matches!(
            env.stage(),
            Err(ConfigError::Invalid { name: "STAGE", .. })
        ));
        assert!(matches!(
            env.u64_or("N", 1),
            Err(ConfigError::Invalid { name: "N", .. })
        ));
        assert_eq!(env.u64_or("ABSENT", 7), Ok(7));
        let blank = Env::from_pairs([("STAGE", "  ")]);
        assert_eq!(blank.stage(), Err(ConfigError::Missing("STAGE")));
    }
}

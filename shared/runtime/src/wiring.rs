//! Build the AWS adapters a function needs from its configuration: the order store, the
//! publisher, the secret source (cached) and the dead-letter sink.

use crate::batch::{DeadLetter, DeadLetterSink};
use crate::config::{Env, FunctionConfig};
use async_trait::async_trait;
use o2c_aws::{DynamoOrderStore, SecretsManagerSource, SqsDeadLetter, SqsPublisher};
use std::sync::Arc;
use std::time::Duration;

/// The adapters of one function, built once at cold start (cheap to clone: handles only).
#[derive(Clone)]
pub struct Adapters {
    pub sdk: aws_config::SdkConfig,
    pub store: Arc<DynamoOrderStore>,
    pub publisher: Arc<SqsPublisher>,
    pub secrets: Arc<SecretsManagerSource>,
    /// `None` for functions that consume no queue.
    pub dead_letters: Option<Arc<dyn DeadLetterSink>>,
}

impl Adapters {
    /// A function's adapters: the SDK configured from the Lambda environment
    /// ([`o2c_aws::lambda_config`]; `AWS_ENDPOINT_URL` points it at moto locally).
    pub async fn build(config: &FunctionConfig, env: &Env) -> Result<Adapters, crate::ConfigError> {
        let region = env
            .optional("AWS_REGION")
            .or_else(|| env.optional("AWS_DEFAULT_REGION"));
        let sdk = o2c_aws::lambda_config(region, env.optional("AWS_ENDPOINT_URL"));
        Self::with_sdk(sdk, config, env).await
    }

    /// A tool's adapters (run by a person, e.g. `o2c-dlq`): the standard AWS configuration chain,
    /// profiles (`AWS_PROFILE`) included.
    pub async fn build_for_tool(
        config: &FunctionConfig,
        env: &Env,
    ) -> Result<Adapters, crate::ConfigError> {
        Self::with_sdk(o2c_aws::aws_config(None).await, config, env).await
    }

    /// From a given SDK configuration (tests point it at their own moto server).
    pub async fn with_sdk(
        sdk: aws_config::SdkConfig,
        config: &FunctionConfig,
        env: &Env,
    ) -> Result<Adapters, crate::ConfigError> {
        let ttl = Duration::from_secs(env.u64_or("SECRET_CACHE_TTL_SECS", 300)?);
        let dead_letters = config.dlq_url.as_ref().map(|url| {
            Arc::new(SqsDeadLetterSink::new(&sdk, url.clone())) as Arc<dyn DeadLetterSink>
        });
        Ok(Adapters {
            store: Arc::new(DynamoOrderStore::from_conf(&sdk, config.table_name.clone())),
            publisher: Arc::new(SqsPublisher::from_conf(
                &sdk,
                config
                    .queue_urls
                    .iter()
                    .map(|(q, u)| (*q, u.clone()))
                    .collect(),
            )),
            secrets: Arc::new(SecretsManagerSource::from_conf(&sdk, ttl).await),
            dead_letters,
            sdk,
        })
    }
}

/// Dead-letters to the consumed queue's DLQ with the classified reason in message attributes.
pub struct SqsDeadLetterSink {
    sqs: SqsDeadLetter,
    dlq_url: String,
}

impl SqsDeadLetterSink {
    pub fn new(sdk: &aws_config::SdkConfig, dlq_url: impl Into<String>) -> Self {
        SqsDeadLetterSink {
            sqs: SqsDeadLetter::from_conf(sdk),
            dlq_url: dlq_url.into(),
        }
    }
}

#[async_trait]
impl DeadLetterSink for SqsDeadLetterSink {
    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), String> {
        let m = &letter.message;
        let group = m.group_id.as_deref().unwrap_or("ungrouped");
        let dedup = m.dedup_id.as_deref().unwrap_or(&m.message_id);
        self.sqs
            .send_to_dlq(
                &self.dlq_url,
                &m.body,
                group,
                dedup,
                &letter.class.to_string(),
                &letter.reason,
                m.source_arn.as_deref().unwrap_or(""),
            )
            .await
            .map_err(|e| e.to_string())
    }
}

//! [`SnsAlerts`] implements [`Alerts`] on an SNS topic (the integration team's; locally a moto
//! topic with an SQS sink subscribed).

use async_trait::async_trait;
use aws_sdk_sns::Client;
use o2c_domain::quarantine::Alerts;

pub struct SnsAlerts {
    client: Client,
    topic_arn: String,
}

impl SnsAlerts {
    pub fn from_conf(sdk: &aws_config::SdkConfig, topic_arn: impl Into<String>) -> Self {
        SnsAlerts {
            client: Client::new(sdk),
            topic_arn: topic_arn.into(),
        }
    }
}

/// SNS subjects: ASCII printable, at most 100 characters.
fn subject_of(subject: &str) -> String {
    subject
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .take(100)
        .collect()
}

#[async_trait]
impl Alerts for SnsAlerts {
    async fn alert(&self, subject: &str, message: &str) -> Result<(), String> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject_of(subject))
            .message(message)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| crate::errors::classify(&e).detail)
    }
}

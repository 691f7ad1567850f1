//! SNS notifications: a subject line and a JSON body per [`Notification`]. A notification
//! names aliases, keys and actions, never plaintext, data keys or ciphertexts. Publishing
//! never fails its caller: a notification that cannot be sent is logged.

use aws_config::SdkConfig;
use kmsrot_types::Notification;

/// Publishes notifications to one SNS topic.
#[derive(Debug, Clone)]
pub struct Notifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Notifier {
    /// A notifier for `topic_arn`, with a client built from `config`.
    pub fn new(config: &SdkConfig, topic_arn: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_sns::Client::new(config),
            topic_arn: topic_arn.into(),
        }
    }

    /// The topic.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Publishes one notification; a failure is logged, not returned.
    pub async fn publish(&self, notification: &Notification) {
        let body = match serde_json::to_string(notification) {
            Ok(body) => body,
            Err(err) => {
                tracing::warn!(error = %err, "notify: cannot serialize a notification");
                return;
            }
        };
        let sent = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(notification.subject())
            .message(body)
            .send()
            .await;
        if let Err(err) = sent {
            tracing::warn!(
                topic = %self.topic_arn,
                error = crate::error::error_text(&err),
                "notify: SNS Publish failed; notification dropped"
            );
        }
    }
}

//! An SNS topic with an SQS queue subscribed to it, to read the notifications kmsrot sends
//! (the emulator delivers SNS messages to SQS the way AWS does).

use std::time::Duration;

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use serde_json::Value;

/// A topic and the queue that receives what is published to it.
#[derive(Debug, Clone)]
pub struct Inbox {
    sns: aws_sdk_sns::Client,
    sqs: aws_sdk_sqs::Client,
    /// The topic's ARN, for `KMSROT_TOPIC_ARN`.
    pub topic_arn: String,
    queue_url: String,
    subscription_arn: Option<String>,
}

/// One notification as it arrived: the SNS subject and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The SNS subject.
    pub subject: String,
    /// The message body, parsed.
    pub body: Value,
    /// The raw message body, as published.
    pub raw: String,
}

impl Inbox {
    /// Creates a topic and a queue named after `label`, and subscribes the queue.
    pub async fn create(config: &SdkConfig, label: &str) -> Result<Self> {
        let topic_arn = aws_sdk_sns::Client::new(config)
            .create_topic()
            .name(format!("kmsrot-{label}"))
            .send()
            .await
            .context("CreateTopic")?
            .topic_arn()
            .context("CreateTopic returned no ARN")?
            .to_owned();
        Self::subscribe(config, &topic_arn, label).await
    }

    /// Creates a queue named after `label` (made unique), lets `topic_arn` send to it, and
    /// subscribes it to that topic.
    pub async fn subscribe(config: &SdkConfig, topic_arn: &str, label: &str) -> Result<Self> {
        let sns = aws_sdk_sns::Client::new(config);
        let sqs = aws_sdk_sqs::Client::new(config);
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("kmsrot-{label}-{:08x}", fastrand::u32(..)))
            .send()
            .await
            .context("CreateQueue")?
            .queue_url()
            .context("CreateQueue returned no URL")?
            .to_owned();
        let subscribed = Self::allow_and_subscribe(&sns, &sqs, topic_arn, &queue_url).await;
        match subscribed {
            Ok(subscription_arn) => Ok(Self {
                sns,
                sqs,
                topic_arn: topic_arn.to_owned(),
                queue_url,
                subscription_arn,
            }),
            Err(err) => {
                // Leave no queue behind (the validation suite runs against real accounts).
                let _ = sqs.delete_queue().queue_url(&queue_url).send().await;
                Err(err)
            }
        }
    }

    /// Lets the topic send to the queue, and subscribes the queue; returns the subscription.
    async fn allow_and_subscribe(
        sns: &aws_sdk_sns::Client,
        sqs: &aws_sdk_sqs::Client,
        topic_arn: &str,
        queue_url: &str,
    ) -> Result<Option<String>> {
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .context("GetQueueAttributes")?
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .context("the queue has no ARN")?
            .clone();
        // SQS accepts SNS's deliveries only when the queue's policy allows that topic.
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }],
        });
        sqs.set_queue_attributes()
            .queue_url(queue_url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::Policy,
                policy.to_string(),
            )
            .send()
            .await
            .context("SetQueueAttributes (Policy)")?;
        Ok(sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .return_subscription_arn(true)
            .send()
            .await
            .context("Subscribe")?
            .subscription_arn()
            .map(str::to_owned))
    }

    /// Unsubscribes and deletes the queue (the topic stays).
    pub async fn remove(&self) -> Result<()> {
        if let Some(arn) = &self.subscription_arn {
            self.sns
                .unsubscribe()
                .subscription_arn(arn)
                .send()
                .await
                .context("Unsubscribe")?;
        }
        self.sqs
            .delete_queue()
            .queue_url(&self.queue_url)
            .send()
            .await
            .context("DeleteQueue")?;
        Ok(())
    }

    /// Everything that has arrived, waiting up to `wait` for at least `at_least` messages.
    pub async fn drain(&self, at_least: usize, wait: Duration) -> Result<Vec<Received>> {
        let mut received = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .context("ReceiveMessage")?;
            let messages = out.messages();
            for message in messages {
                let envelope: Value = serde_json::from_str(message.body().unwrap_or_default())
                    .context("SNS envelope")?;
                let raw = envelope["Message"].as_str().unwrap_or_default().to_owned();
                received.push(Received {
                    subject: envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                    body: serde_json::from_str(&raw).unwrap_or(Value::Null),
                    raw,
                });
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .context("DeleteMessage")?;
                }
            }
            if messages.is_empty() {
                if received.len() >= at_least || tokio::time::Instant::now() >= deadline {
                    return Ok(received);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

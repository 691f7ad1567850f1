//! The KMS service: [`Kms`] for metadata, symmetric decryption and verification by key ARN, and
//! [`AliasKms`] for everything that must go through an alias.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeySpec, EncryptionAlgorithmSpec, KeyMetadata, MacAlgorithmSpec, MessageType,
    SigningAlgorithmSpec,
};
use aws_smithy_types::date_time::Format;
use kmsrot_types::key_kind::{self, usage};
use kmsrot_types::{
    AliasRef, AsymmetricCiphertext, Ciphertext, EncryptionContext, KeyArn, KeyId, KeyInfo, KeyKind,
    KeyRef, Mac, RotationStatus, Signature,
};

use crate::error::{Call, key_in_message};
use crate::{KmsError, MAX_KMS_MESSAGE, SecretBytes, Subject};

/// The KMS service in one region. Cheap to clone: clones share one client.
#[derive(Debug, Clone)]
pub struct Kms {
    pub(crate) client: Client,
    pub(crate) region: String,
}

/// Public keys already read, by key: spec and DER `SubjectPublicKeyInfo`.
type PublicKeys = std::sync::Arc<std::sync::Mutex<HashMap<KeyArn, (String, Vec<u8>)>>>;

/// How many keys back [`Kms::history`] follows an alias's chain.
const HISTORY_LIMIT: usize = 50;

/// The plaintext of a symmetric decryption, and the key that decrypted it.
#[derive(Debug)]
pub struct Decrypted {
    /// The key that decrypted, as KMS reports it.
    pub key_arn: KeyArn,
    /// The plaintext, wiped on drop.
    pub plaintext: SecretBytes,
}

/// A data key for envelope encryption: the plaintext to use now, and the encrypted copy to
/// store beside the data.
#[derive(Debug)]
pub struct DataKey {
    /// The plaintext data key, wiped on drop. Never store or log it.
    pub plaintext: SecretBytes,
    /// The data key encrypted under the alias's key; store this.
    pub encrypted: Ciphertext,
}

/// A key of an alias's history ([`Kms::history_keys`]), with what kmsrot's tags recorded of
/// its public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryKey {
    /// The key.
    pub arn: KeyArn,
    /// The SHA-256 of a signing key's public key, in lowercase hex, as kmsrot recorded it:
    /// the key's own `kmsrot:public-key-sha256`, or, once KMS deleted the key and its tags,
    /// its successor's `kmsrot:previous-public-key-sha256`. `None` when nothing was recorded.
    pub public_key_sha256: Option<String>,
}

/// The result of re-encrypting a ciphertext to the alias's current key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReEncrypted {
    /// The new ciphertext and the key that made it.
    pub ciphertext: Ciphertext,
    /// The key that had encrypted the input.
    pub source_key_arn: KeyArn,
}

/// The key an alias names right now, as far as the data plane needs to know.
#[derive(Debug, Clone)]
struct Resolved {
    arn: KeyArn,
    spec: String,
    usage: String,
}

fn context_map(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    (!context.is_empty()).then(|| {
        context
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    })
}

/// The bytes of an optional blob; KMS always sends the blobs kmsrot reads.
fn bytes(blob: Option<Blob>) -> Vec<u8> {
    blob.map(Blob::into_inner).unwrap_or_default()
}

fn date(value: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    value.and_then(|d| d.fmt(Format::DateTime).ok())
}

impl Kms {
    /// A service built from shared SDK configuration.
    pub fn new(config: &SdkConfig) -> Self {
        Self::from_client(Client::new(config))
    }

    /// A service around an existing client, for example one with test interceptors.
    pub fn from_client(client: Client) -> Self {
        let region = client
            .config()
            .region()
            .map_or_else(|| "(no region)".to_owned(), ToString::to_string);
        Self { client, region }
    }

    /// The same service in another Region: the same credentials, endpoint, retry settings and
    /// interceptors. Multi-Region keys live in several Regions, and each Region's keys and
    /// aliases answer only there.
    #[must_use]
    pub fn in_region(&self, region: &str) -> Self {
        let config = self
            .client
            .config()
            .to_builder()
            .region(aws_sdk_kms::config::Region::new(region.to_owned()))
            .build();
        Self::from_client(Client::from_conf(config))
    }

    /// The region this service talks to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The data-plane handle for an alias.
    pub fn alias(&self, alias: AliasRef) -> AliasKms {
        AliasKms {
            kms: self.clone(),
            alias,
            public_keys: std::sync::Arc::default(),
        }
    }

    /// The data-plane handle for an alias given as text. Key IDs, key ARNs, reserved
    /// `alias/aws/…` names and malformed names are refused with [`KmsError::InvalidAlias`].
    pub fn alias_from_str(&self, input: &str) -> Result<AliasKms, KmsError> {
        input
            .parse::<AliasRef>()
            .map(|alias| self.alias(alias))
            .map_err(|source| KmsError::InvalidAlias {
                input: input.to_owned(),
                region: self.region.clone(),
                source,
            })
    }

    /// Refuses, before any call, an alias or key ARN that names another Region than this
    /// service's: "KMS keys are Regional", and KMS would only answer that it does not exist.
    pub(crate) fn same_region(
        &self,
        operation: &'static str,
        subject: &Subject,
    ) -> Result<(), KmsError> {
        let Some(named) = subject.arn_region() else {
            return Ok(());
        };
        if named == self.region {
            return Ok(());
        }
        Err(KmsError::OtherRegion {
            subject: subject.clone(),
            region: self.region.clone(),
            named: named.to_owned(),
            operation,
        })
    }

    /// Maps an SDK error, asking KMS for the key state when KMS only said "invalid state".
    pub(crate) async fn fail<E, R>(
        &self,
        operation: &'static str,
        subject: &Subject,
        err: SdkError<E, R>,
    ) -> KmsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let call = Call {
            operation,
            subject,
            region: &self.region,
        };
        let err = call.classify(err);
        tracing::debug!(operation, %subject, region = %self.region, error = %err, "KMS call failed");
        match err {
            KmsError::InvalidState {
                subject,
                region,
                operation,
                message,
                ..
            } => {
                // The key KMS names in its message is the one that refused; an alias may have
                // moved away from it since (an old ciphertext whose key is being deleted).
                let key_id =
                    key_in_message(&message)
                        .map(|k| k.to_string())
                        .or_else(|| match &subject {
                            Subject::Alias(alias) => Some(alias.to_string()),
                            Subject::Key(arn) => Some(arn.to_string()),
                            Subject::KeyId(id) => Some(id.to_string()),
                            Subject::Ciphertext | Subject::Region => None,
                        });
                let metadata = match key_id {
                    Some(id) => self
                        .client
                        .describe_key()
                        .key_id(id)
                        .send()
                        .await
                        .ok()
                        .and_then(|out| out.key_metadata),
                    None => None,
                };
                let key = metadata.as_ref().and_then(|m| m.arn()?.parse().ok());
                let state = metadata
                    .as_ref()
                    .and_then(|m| m.key_state())
                    .map(|s| s.as_str().to_owned());
                match state.as_deref() {
                    Some("PendingDeletion" | "PendingReplicaDeletion") => {
                        KmsError::PendingDeletion {
                            subject,
                            region,
                            key,
                        }
                    }
                    Some("Disabled") => KmsError::Disabled {
                        subject,
                        region,
                        key,
                    },
                    _ => KmsError::InvalidState {
                        subject,
                        region,
                        operation,
                        state: state.unwrap_or_else(|| "unknown".into()),
                        message,
                    },
                }
            }
            other => other,
        }
    }

    pub(crate) fn unexpected(&self, operation: &'static str, what: impl Into<String>) -> KmsError {
        KmsError::UnexpectedResponse {
            region: self.region.clone(),
            operation,
            what: what.into(),
        }
    }

    pub(crate) fn key_arn(
        &self,
        operation: &'static str,
        value: Option<&str>,
    ) -> Result<KeyArn, KmsError> {
        let value = value.ok_or_else(|| self.unexpected(operation, "no KeyId"))?;
        value
            .parse()
            .map_err(|e| self.unexpected(operation, format!("KeyId `{value}`: {e}")))
    }

    /// Metadata of any key: the identity, type, state, origin and rotation status. Accepts
    /// aliases, alias ARNs, key IDs and key ARNs, since this is not a data-plane call.
    pub async fn describe(&self, key: &KeyRef) -> Result<KeyInfo, KmsError> {
        let subject = match key {
            KeyRef::Alias(alias) => Subject::Alias(AliasRef::Name(alias.clone())),
            KeyRef::AliasArn(arn) => Subject::Alias(AliasRef::Arn(arn.clone())),
            KeyRef::KeyArn(arn) => Subject::Key(arn.clone()),
            KeyRef::KeyId(id) => Subject::KeyId(id.clone()),
        };
        let metadata = self.metadata(&key.to_string(), &subject).await?;
        let rotation = self.rotation_status(&metadata, &subject).await?;
        let alias = match key {
            KeyRef::Alias(name) => Some(name.clone()),
            KeyRef::AliasArn(arn) => Some(arn.alias().clone()),
            _ => None,
        };
        self.key_info(metadata, alias, rotation)
    }

    pub(crate) async fn metadata(
        &self,
        key_id: &str,
        subject: &Subject,
    ) -> Result<KeyMetadata, KmsError> {
        match self.client.describe_key().key_id(key_id).send().await {
            Ok(out) => out
                .key_metadata
                .ok_or_else(|| self.unexpected("DescribeKey", "no KeyMetadata")),
            Err(err) => Err(self.fail("DescribeKey", subject, err).await),
        }
    }

    async fn rotation_status(
        &self,
        metadata: &KeyMetadata,
        subject: &Subject,
    ) -> Result<RotationStatus, KmsError> {
        let rotates = key_kind::rotates_itself(
            metadata.key_spec().map_or("", |s| s.as_str()),
            metadata.origin().map_or("", |o| o.as_str()),
            metadata.custom_key_store_id().is_some(),
        );
        // By ARN, so that a key in another account (through an alias ARN) is asked for there.
        let key_id = metadata.arn().unwrap_or_else(|| metadata.key_id());
        self.rotation_status_of(key_id, rotates, subject).await
    }

    /// KMS's automatic rotation of a key; `Unsupported` without a call when the key cannot
    /// rotate itself, `Unknown` when the caller may not ask.
    pub(crate) async fn rotation_status_of(
        &self,
        key_id: &str,
        rotates_itself: bool,
        subject: &Subject,
    ) -> Result<RotationStatus, KmsError> {
        if !rotates_itself {
            return Ok(RotationStatus::Unsupported);
        }
        let out = self
            .client
            .get_key_rotation_status()
            .key_id(key_id)
            .send()
            .await;
        match out {
            Ok(out) if out.key_rotation_enabled => Ok(RotationStatus::Enabled {
                period_days: out
                    .rotation_period_in_days
                    .and_then(|d| u32::try_from(d).ok()),
                next_rotation: date(out.next_rotation_date.as_ref()),
            }),
            Ok(_) => Ok(RotationStatus::Disabled),
            Err(err) => match self.fail("GetKeyRotationStatus", subject, err).await {
                KmsError::WrongKeyType { .. } => Ok(RotationStatus::Unsupported),
                // Describing a key must not fail for want of kms:GetKeyRotationStatus.
                KmsError::AccessDenied { .. } => Ok(RotationStatus::Unknown),
                other => Err(other),
            },
        }
    }

    pub(crate) fn key_info(
        &self,
        m: KeyMetadata,
        alias: Option<kmsrot_types::AliasName>,
        rotation: RotationStatus,
    ) -> Result<KeyInfo, KmsError> {
        let op = "DescribeKey";
        let key_id = m
            .key_id()
            .parse()
            .map_err(|e| self.unexpected(op, format!("KeyId: {e}")))?;
        let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
        Ok(KeyInfo {
            alias,
            key_id,
            key_arn: self.key_arn(op, m.arn())?,
            key_spec: text(m.key_spec().map(|v| v.as_str())),
            key_usage: text(m.key_usage().map(|v| v.as_str())),
            key_state: text(m.key_state().map(|v| v.as_str())),
            origin: text(m.origin().map(|v| v.as_str())),
            key_manager: text(m.key_manager().map(|v| v.as_str())),
            multi_region: m.multi_region().unwrap_or(false),
            description: text(m.description()),
            creation_date: date(m.creation_date()),
            deletion_date: date(m.deletion_date()),
            rotation,
        })
    }

    /// Decrypts a symmetric ciphertext. `KeyId` is left out on purpose: KMS finds the key from
    /// the ciphertext, so data encrypted before an alias moved still decrypts.
    pub async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Decrypted, KmsError> {
        self.decrypt_as(ciphertext, context, &Subject::Ciphertext)
            .await
    }

    async fn decrypt_as(
        &self,
        ciphertext: &[u8],
        context: &EncryptionContext,
        subject: &Subject,
    ) -> Result<Decrypted, KmsError> {
        const OP: &str = "Decrypt";
        let result = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(ciphertext))
            .set_encryption_context(context_map(context))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Decrypted {
                key_arn: self.key_arn(OP, out.key_id())?,
                plaintext: SecretBytes::new(bytes(out.plaintext)),
            }),
            Err(err) => Err(self.fail(OP, subject, err).await.given_context(context)),
        }
    }

    /// Encrypts under exactly this key, with this algorithm: the by-ARN primitive behind
    /// `AliasKms::encrypt_asymmetric` (after it resolves the alias) and the engine's
    /// self-test of a new key. Errors name `subject`.
    pub(crate) async fn encrypt_with(
        &self,
        key: &KeyArn,
        algorithm: &str,
        plaintext: &[u8],
        subject: &Subject,
    ) -> Result<Vec<u8>, KmsError> {
        let result = self
            .client
            .encrypt()
            .key_id(key.to_string())
            .encryption_algorithm(EncryptionAlgorithmSpec::from(algorithm))
            .plaintext(Blob::new(plaintext))
            .send()
            .await;
        match result {
            Ok(out) => Ok(bytes(out.ciphertext_blob)),
            Err(err) => Err(self.fail("Encrypt", subject, err).await),
        }
    }

    /// Signs a message with exactly this key and algorithm; the signature carries the key's
    /// ARN. Behind `AliasKms::sign` and the engine's self-test.
    pub(crate) async fn sign_with(
        &self,
        key: &KeyArn,
        algorithm: &str,
        message: &[u8],
        subject: &Subject,
    ) -> Result<Signature, KmsError> {
        let result = self
            .client
            .sign()
            .key_id(key.to_string())
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::from(algorithm))
            .send()
            .await;
        // The call named the exact key ARN, so that key made the result.
        match result {
            Ok(out) => Ok(Signature {
                key_arn: key.clone(),
                signing_algorithm: algorithm.to_owned(),
                signature: bytes(out.signature).into(),
                key_spec: None,
                public_key: None,
            }),
            Err(err) => Err(self.fail("Sign", subject, err).await),
        }
    }

    /// Makes a MAC of a message with exactly this key and algorithm; the MAC carries the
    /// key's ARN. Behind `AliasKms::generate_mac` and the engine's self-test.
    pub(crate) async fn generate_mac_with(
        &self,
        key: &KeyArn,
        algorithm: &str,
        message: &[u8],
        subject: &Subject,
    ) -> Result<Mac, KmsError> {
        let result = self
            .client
            .generate_mac()
            .key_id(key.to_string())
            .message(Blob::new(message))
            .mac_algorithm(MacAlgorithmSpec::from(algorithm))
            .send()
            .await;
        // The call named the exact key ARN, so that key made the result.
        match result {
            Ok(out) => Ok(Mac {
                key_arn: key.clone(),
                mac_algorithm: algorithm.to_owned(),
                mac: bytes(out.mac).into(),
            }),
            Err(err) => Err(self.fail("GenerateMac", subject, err).await),
        }
    }

    /// Verifies a signature with the exact key that made it (never the alias, which may have
    /// moved since). Returns the key KMS verified with, as KMS reports it (not as the document
    /// names it).
    pub async fn verify(&self, message: &[u8], signature: &Signature) -> Result<KeyArn, KmsError> {
        const OP: &str = "Verify";
        let subject = Subject::Key(signature.key_arn.clone());
        self.same_region(OP, &subject)?;
        let result = self
            .client
            .verify()
            .key_id(signature.key_arn.to_string())
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signature(Blob::new(signature.signature.as_slice()))
            .signing_algorithm(SigningAlgorithmSpec::from(
                signature.signing_algorithm.as_str(),
            ))
            .send()
            .await;
        match result {
            Ok(out) if out.signature_valid => self.key_arn(OP, out.key_id()),
            Ok(_) => Err(KmsError::InvalidSignature {
                subject,
                region: self.region.clone(),
            }),
            Err(err) => Err(self.fail(OP, &subject, err).await),
        }
    }

    /// Verifies a MAC with the exact HMAC key that made it. Returns the key KMS verified with,
    /// as KMS reports it.
    pub async fn verify_mac(&self, message: &[u8], mac: &Mac) -> Result<KeyArn, KmsError> {
        const OP: &str = "VerifyMac";
        let subject = Subject::Key(mac.key_arn.clone());
        self.same_region(OP, &subject)?;
        let result = self
            .client
            .verify_mac()
            .key_id(mac.key_arn.to_string())
            .message(Blob::new(message))
            .mac(Blob::new(mac.mac.as_slice()))
            .mac_algorithm(MacAlgorithmSpec::from(mac.mac_algorithm.as_str()))
            .send()
            .await;
        match result {
            Ok(out) if out.mac_valid => self.key_arn(OP, out.key_id()),
            Ok(_) => Err(KmsError::InvalidMac {
                subject,
                region: self.region.clone(),
            }),
            Err(err) => Err(self.fail(OP, &subject, err).await),
        }
    }

    /// A signing key's public key (DER `SubjectPublicKeyInfo`) and its key spec
    /// (GetPublicKey).
    pub async fn public_key(&self, key: &KeyArn) -> Result<(String, Vec<u8>), KmsError> {
        const OP: &str = "GetPublicKey";
        let subject = Subject::Key(key.clone());
        self.same_region(OP, &subject)?;
        match self
            .client
            .get_public_key()
            .key_id(key.to_string())
            .send()
            .await
        {
            Ok(out) => Ok((
                out.key_spec()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                bytes(out.public_key),
            )),
            Err(err) => Err(self.fail(OP, &subject, err).await),
        }
    }

    /// The keys of an alias's history, as kmsrot's tags record it: the key the alias names
    /// now, then each key it replaced (`kmsrot:previous-key`, or `kmsrot:deleted-previous-key`
    /// once KMS deleted it), as long as the key's `kmsrot:alias` tag names this alias. An
    /// alias kmsrot does not manage has only its current key.
    pub async fn history(&self, alias: &kmsrot_types::AliasName) -> Result<Vec<KeyArn>, KmsError> {
        Ok(self
            .history_until(alias, None)
            .await?
            .into_iter()
            .map(|key| key.arn)
            .collect())
    }

    /// The alias's [history](Kms::history), with the public key fingerprint kmsrot recorded
    /// for each signing key, which `kmsrot verify` trusts once KMS refuses the key.
    pub async fn history_keys(
        &self,
        alias: &kmsrot_types::AliasName,
    ) -> Result<Vec<HistoryKey>, KmsError> {
        self.history_until(alias, None).await
    }

    /// Whether `key` is in the alias's [history](Kms::history). The walk stops at `key`, so
    /// the alias's current key costs one DescribeKey and no tag read.
    pub async fn in_history(
        &self,
        alias: &kmsrot_types::AliasName,
        key: &KeyArn,
    ) -> Result<bool, KmsError> {
        Ok(self
            .history_until(alias, Some(key))
            .await?
            .iter()
            .any(|k| &k.arn == key))
    }

    /// The public key fingerprint kmsrot recorded on a key (`kmsrot:public-key-sha256`), if
    /// the key still exists and has one.
    pub async fn recorded_public_key(&self, key: &KeyArn) -> Result<Option<String>, KmsError> {
        match self
            .tags(&key.to_string(), &Subject::Key(key.clone()))
            .await
        {
            Ok(tags) => Ok(tags.get(kmsrot_types::tags::PUBLIC_KEY_SHA256).cloned()),
            Err(KmsError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The history, newest first, up to `until` when it is found.
    async fn history_until(
        &self,
        alias: &kmsrot_types::AliasName,
        until: Option<&KeyArn>,
    ) -> Result<Vec<HistoryKey>, KmsError> {
        use kmsrot_types::tags;
        let subject = Subject::Alias(AliasRef::Name(alias.clone()));
        let current = self.metadata(alias.as_str(), &subject).await?;
        let mut keys = vec![HistoryKey {
            arn: self.key_arn("DescribeKey", current.arn())?,
            public_key_sha256: None,
        }];
        for _ in 0..HISTORY_LIMIT {
            let key = keys[keys.len() - 1].arn.clone();
            if until == Some(&key) {
                break;
            }
            let tags = match self
                .tags(&key.to_string(), &Subject::Key(key.clone()))
                .await
            {
                Ok(tags) => tags,
                // Deleted: what its successor recorded of it is all there is.
                Err(KmsError::NotFound { .. }) => break,
                Err(err) => return Err(err),
            };
            if tags.get(tags::ALIAS).map(String::as_str) != Some(alias.as_str()) {
                break;
            }
            if let Some(own) = tags.get(tags::PUBLIC_KEY_SHA256) {
                let last = keys.len() - 1;
                keys[last].public_key_sha256 = Some(own.clone());
            }
            let Some(previous) = tags
                .get(tags::PREVIOUS_KEY)
                .or_else(|| tags.get(tags::DELETED_PREVIOUS_KEY))
                .and_then(|id| id.parse::<KeyId>().ok())
            else {
                break;
            };
            // A record of the previous key's public key counts only if it names that key.
            let recorded = tags
                .get(tags::PREVIOUS_PUBLIC_KEY_SHA256)
                .and_then(|record| record.split_once(':'))
                .filter(|(id, _)| *id == previous.as_str())
                .map(|(_, sha256)| sha256.to_owned());
            // The chain stays in the current key's region and account.
            let previous = key.sibling(previous);
            if keys.iter().any(|k| k.arn == previous) {
                break;
            }
            keys.push(HistoryKey {
                arn: previous,
                public_key_sha256: recorded,
            });
        }
        Ok(keys)
    }

    /// A key's tags, by key ID or ARN (ListResourceTags, every page).
    pub(crate) async fn tags(
        &self,
        key_id: &str,
        subject: &Subject,
    ) -> Result<std::collections::BTreeMap<String, String>, KmsError> {
        self.tags_paced(key_id, subject, || std::future::ready(()))
            .await
    }

    /// [`Kms::tags`], awaiting `before_each` before each page's request: the one reading of
    /// tags, which the engine's store paces.
    pub(crate) async fn tags_paced<F: Future<Output = ()>>(
        &self,
        key_id: &str,
        subject: &Subject,
        before_each: impl FnMut() -> F,
    ) -> Result<std::collections::BTreeMap<String, String>, KmsError> {
        let mut tags = std::collections::BTreeMap::new();
        self.listing(
            "ListResourceTags",
            subject,
            before_each,
            |marker| {
                self.client
                    .list_resource_tags()
                    .key_id(key_id)
                    .set_marker(marker)
                    .send()
            },
            |out| more(out.truncated, out.next_marker()),
            |out| {
                for tag in out.tags() {
                    tags.insert(tag.tag_key().to_owned(), tag.tag_value().to_owned());
                }
            },
        )
        .await?;
        Ok(tags)
    }

    /// Every page of a KMS listing, one request per page: `send` makes the request for a
    /// marker (`None` for the first page), `next` reads the marker of the page after, and
    /// `each` takes each page. `before_each` is awaited before each request, and only then:
    /// a pace that charges it pays for requests sent, not for the end of the listing (the
    /// SDK's paginators find that out only when polled once more). A marker that repeats
    /// ends the listing, as it ends the SDK's paginators.
    pub(crate) async fn listing<T, E, R, F, Fut>(
        &self,
        operation: &'static str,
        subject: &Subject,
        mut before_each: impl FnMut() -> F,
        mut send: impl FnMut(Option<String>) -> Fut,
        next: impl Fn(&T) -> Option<&str>,
        mut each: impl FnMut(T),
    ) -> Result<(), KmsError>
    where
        F: Future<Output = ()>,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let mut marker: Option<String> = None;
        loop {
            before_each().await;
            let out = match send(marker.clone()).await {
                Ok(out) => out,
                Err(err) => return Err(self.fail(operation, subject, err).await),
            };
            let following = next(&out).filter(|m| !m.is_empty()).map(str::to_owned);
            each(out);
            match following {
                Some(m) if marker.as_deref() != Some(m.as_str()) => marker = Some(m),
                _ => return Ok(()),
            }
        }
    }

    /// Decrypts an RSA ciphertext with the exact key and algorithm stored with it.
    pub async fn decrypt_asymmetric(
        &self,
        ciphertext: &AsymmetricCiphertext,
    ) -> Result<SecretBytes, KmsError> {
        const OP: &str = "Decrypt";
        let subject = Subject::Key(ciphertext.key_arn.clone());
        self.same_region(OP, &subject)?;
        let result = self
            .client
            .decrypt()
            .key_id(ciphertext.key_arn.to_string())
            .encryption_algorithm(EncryptionAlgorithmSpec::from(
                ciphertext.encryption_algorithm.as_str(),
            ))
            .ciphertext_blob(Blob::new(ciphertext.ciphertext.as_slice()))
            .send()
            .await;
        match result {
            Ok(out) => Ok(SecretBytes::new(bytes(out.plaintext))),
            Err(err) => Err(self.fail(OP, &subject, err).await),
        }
    }
}

/// KMS through one alias: the only way kmsrot encrypts, signs or MACs, so that every call
/// follows the alias when a rotation moves it.
#[derive(Debug, Clone)]
pub struct AliasKms {
    kms: Kms,
    alias: AliasRef,
    /// Public keys already read (GetPublicKey is asked once per key).
    public_keys: PublicKeys,
}

impl AliasKms {
    /// The alias.
    pub fn alias(&self) -> &AliasRef {
        &self.alias
    }

    /// The service behind this alias, for verification and decryption by key ARN.
    pub fn kms(&self) -> &Kms {
        &self.kms
    }

    fn subject(&self) -> Subject {
        Subject::Alias(self.alias.clone())
    }

    /// Refuses an alias ARN of another Region before any call.
    fn here(&self, operation: &'static str) -> Result<(), KmsError> {
        self.kms.same_region(operation, &self.subject())
    }

    fn too_large(&self, operation: &'static str, len: usize, advice: &str) -> KmsError {
        KmsError::InvalidInput {
            subject: self.subject(),
            region: self.kms.region.clone(),
            operation,
            message: format!(
                "the input is {len} bytes and KMS takes at most {MAX_KMS_MESSAGE}; {advice}"
            ),
        }
    }

    /// The alias's [history](Kms::history), current key first; an alias ARN of another Region
    /// is refused before any call.
    pub async fn history(&self) -> Result<Vec<KeyArn>, KmsError> {
        self.here("DescribeKey")?;
        self.kms.history(self.alias.name()).await
    }

    /// The key the alias names now: metadata, and rotation status for symmetric keys.
    pub async fn describe(&self) -> Result<KeyInfo, KmsError> {
        self.here("DescribeKey")?;
        self.kms.describe(&self.alias.clone().into()).await
    }

    /// Resolves the alias to the key it names now, for a call that must name that exact key:
    /// checks that the key's usage fits the operation and picks the algorithm for its spec.
    async fn resolve_for(
        &self,
        operation: &'static str,
        usage: &str,
        algorithm_of: fn(KeyKind) -> Option<&'static str>,
    ) -> Result<(Resolved, &'static str), KmsError> {
        let subject = self.subject();
        self.kms.same_region(operation, &subject)?;
        let m = self.kms.metadata(&self.alias.to_string(), &subject).await?;
        let key = Resolved {
            arn: self.kms.key_arn("DescribeKey", m.arn())?,
            spec: m
                .key_spec()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            usage: m
                .key_usage()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        };
        match KeyKind::of(&key.spec, &key.usage)
            .ok()
            .and_then(algorithm_of)
        {
            Some(algorithm) if key.usage == usage => Ok((key, algorithm)),
            _ => Err(KmsError::WrongKeyType {
                subject,
                region: self.kms.region.clone(),
                operation,
                message: format!(
                    "it names key {} with spec {} and usage {}, and {operation} needs usage {usage}",
                    key.arn, key.spec, key.usage
                ),
            }),
        }
    }

    /// Encrypts up to 4096 bytes under the alias's current key.
    pub async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Ciphertext, KmsError> {
        const OP: &str = "Encrypt";
        self.here(OP)?;
        if plaintext.len() > MAX_KMS_MESSAGE {
            return Err(self.too_large(
                OP,
                plaintext.len(),
                "encrypt larger data with a data key (envelope encryption)",
            ));
        }
        let result = self
            .kms
            .client
            .encrypt()
            .key_id(self.alias.to_string())
            .plaintext(Blob::new(plaintext))
            .set_encryption_context(context_map(context))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Ciphertext {
                key_arn: self.kms.key_arn(OP, out.key_id())?,
                encryption_algorithm: out
                    .encryption_algorithm()
                    .map_or("SYMMETRIC_DEFAULT", |a| a.as_str())
                    .to_owned(),
                ciphertext: bytes(out.ciphertext_blob).into(),
            }),
            Err(err) => Err(self.kms.fail(OP, &self.subject(), err).await),
        }
    }

    /// Decrypts a symmetric ciphertext. As with [`Kms::decrypt`], `KeyId` is left out, so
    /// ciphertexts made before the alias moved still decrypt; errors name this alias.
    ///
    /// The key that decrypted must be in the alias's history ([`Kms::history`]): a ciphertext
    /// made by any other key the caller may use is refused, and its plaintext dropped (wiped).
    pub async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Decrypted, KmsError> {
        self.here("Decrypt")?;
        let decrypted = self
            .kms
            .decrypt_as(ciphertext, context, &self.subject())
            .await?;
        if self
            .kms
            .in_history(self.alias.name(), &decrypted.key_arn)
            .await?
        {
            return Ok(decrypted);
        }
        Err(KmsError::NotInHistory {
            subject: self.subject(),
            region: self.kms.region.clone(),
            key: decrypted.key_arn.clone(),
        })
    }

    /// A new data key: its plaintext to use now, and a copy encrypted under the alias's key.
    pub async fn generate_data_key(
        &self,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        const OP: &str = "GenerateDataKey";
        self.here(OP)?;
        let result = self
            .kms
            .client
            .generate_data_key()
            .key_id(self.alias.to_string())
            .key_spec(spec)
            .set_encryption_context(context_map(context))
            .send()
            .await;
        match result {
            Ok(out) => Ok(DataKey {
                encrypted: Ciphertext {
                    key_arn: self.kms.key_arn(OP, out.key_id())?,
                    encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
                    ciphertext: bytes(out.ciphertext_blob).into(),
                },
                plaintext: SecretBytes::new(bytes(out.plaintext)),
            }),
            Err(err) => Err(self.kms.fail(OP, &self.subject(), err).await),
        }
    }

    /// A new data key, encrypted only: for a component that stores it now and decrypts later.
    pub async fn generate_data_key_without_plaintext(
        &self,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<Ciphertext, KmsError> {
        const OP: &str = "GenerateDataKeyWithoutPlaintext";
        self.here(OP)?;
        let result = self
            .kms
            .client
            .generate_data_key_without_plaintext()
            .key_id(self.alias.to_string())
            .key_spec(spec)
            .set_encryption_context(context_map(context))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Ciphertext {
                key_arn: self.kms.key_arn(OP, out.key_id())?,
                encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
                ciphertext: bytes(out.ciphertext_blob).into(),
            }),
            Err(err) => Err(self.kms.fail(OP, &self.subject(), err).await),
        }
    }

    /// Re-encrypts a symmetric ciphertext to the key the alias names now. The plaintext never
    /// leaves KMS.
    pub async fn reencrypt(
        &self,
        ciphertext: &[u8],
        source_context: &EncryptionContext,
        destination_context: &EncryptionContext,
    ) -> Result<ReEncrypted, KmsError> {
        const OP: &str = "ReEncrypt";
        self.here(OP)?;
        let result = self
            .kms
            .client
            .re_encrypt()
            .ciphertext_blob(Blob::new(ciphertext))
            .set_source_encryption_context(context_map(source_context))
            .destination_key_id(self.alias.to_string())
            .set_destination_encryption_context(context_map(destination_context))
            .send()
            .await;
        match result {
            Ok(out) => Ok(ReEncrypted {
                source_key_arn: self.kms.key_arn(OP, out.source_key_id())?,
                ciphertext: Ciphertext {
                    key_arn: self.kms.key_arn(OP, out.key_id())?,
                    encryption_algorithm: out
                        .destination_encryption_algorithm()
                        .map_or("SYMMETRIC_DEFAULT", |a| a.as_str())
                        .to_owned(),
                    ciphertext: bytes(out.ciphertext_blob).into(),
                },
            }),
            Err(err) => Err(self
                .kms
                .fail(OP, &self.subject(), err)
                .await
                .given_context(source_context)),
        }
    }

    /// Encrypts with the public key of the RSA key the alias names now. The result carries
    /// that key's ARN: decrypting it later needs exactly that key.
    pub async fn encrypt_asymmetric(
        &self,
        plaintext: &[u8],
    ) -> Result<AsymmetricCiphertext, KmsError> {
        const OP: &str = "Encrypt";
        self.here(OP)?;
        let (key, algorithm) = self
            .resolve_for(OP, usage::ENCRYPT_DECRYPT, KeyKind::asymmetric_encryption)
            .await?;
        let ciphertext = self
            .kms
            .encrypt_with(&key.arn, algorithm, plaintext, &self.subject())
            .await?;
        // The call named the exact key ARN, so that key made the result.
        Ok(AsymmetricCiphertext {
            key_arn: key.arn,
            encryption_algorithm: algorithm.to_owned(),
            ciphertext: ciphertext.into(),
        })
    }

    /// Signs a message (at most 4096 bytes) with the key the alias names now. The signature
    /// carries that key's ARN, which verification uses.
    pub async fn sign(&self, message: &[u8]) -> Result<Signature, KmsError> {
        const OP: &str = "Sign";
        if message.len() > MAX_KMS_MESSAGE {
            return Err(self.too_large(OP, message.len(), "sign a digest of the message"));
        }
        let (key, algorithm) = self
            .resolve_for(OP, usage::SIGN_VERIFY, KeyKind::signing)
            .await?;
        let mut signature = self
            .kms
            .sign_with(&key.arn, algorithm, message, &self.subject())
            .await?;
        let known = self
            .public_keys
            .lock()
            .ok()
            .and_then(|keys| keys.get(&key.arn).cloned());
        let public = match known {
            Some(public) => Some(public),
            None => match self.kms.public_key(&key.arn).await {
                Ok(public) => {
                    if let Ok(mut keys) = self.public_keys.lock() {
                        keys.insert(key.arn.clone(), public.clone());
                    }
                    Some(public)
                }
                // The signature stands without it; it then verifies only through KMS.
                Err(err) => {
                    tracing::warn!(key = %key.arn, %err, "no public key in the signature document");
                    None
                }
            },
        };
        if let Some((_, der)) = public {
            // The spec DescribeKey gave for the key that signed (GetPublicKey reports it too).
            signature.key_spec = Some(key.spec.clone());
            signature.public_key = Some(der.into());
        }
        Ok(signature)
    }

    /// Makes a MAC of a message (at most 4096 bytes) with the HMAC key the alias names now.
    /// The MAC carries that key's ARN, which verification uses.
    pub async fn generate_mac(&self, message: &[u8]) -> Result<Mac, KmsError> {
        const OP: &str = "GenerateMac";
        if message.len() > MAX_KMS_MESSAGE {
            return Err(self.too_large(OP, message.len(), "MAC a digest of the message"));
        }
        let (key, algorithm) = self
            .resolve_for(OP, usage::GENERATE_VERIFY_MAC, KeyKind::mac)
            .await?;
        self.kms
            .generate_mac_with(&key.arn, algorithm, message, &self.subject())
            .await
    }
}

/// The marker of a KMS listing's next page: KMS sets `Truncated` when there is one.
pub(crate) fn more(truncated: bool, next_marker: Option<&str>) -> Option<&str> {
    next_marker.filter(|_| truncated)
}

//! The engine's view of a key ([`KeyView`]: KMS's metadata and the key's tags), and the
//! reads that assemble it from the [`Store`](super::store::Store): a key by ID, the key an
//! alias names, and the searches for keys by their tags.

use std::collections::BTreeMap;

use aws_sdk_kms::types::KeyMetadata;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use kmsrot_types::{AliasName, AliasRef, KeyArn, KeyKind, KeyStatus, Stage, tags};

use super::{Rotator, rfc3339};
use crate::{KmsError, Subject};

/// A key as the engine sees it: KMS's metadata and the key's tags.
#[derive(Debug, Clone)]
pub(crate) struct KeyView {
    pub(crate) arn: KeyArn,
    pub(crate) id: String,
    pub(crate) spec: String,
    pub(crate) usage: String,
    pub(crate) state: String,
    pub(crate) origin: String,
    /// The custom key store (CloudHSM or external) that holds the key, if one does.
    pub(crate) custom_key_store: Option<String>,
    pub(crate) multi_region: bool,
    /// The key's multi-Region set, for a multi-Region key.
    pub(crate) set: Option<KeySet>,
    pub(crate) key_manager: String,
    pub(crate) description: String,
    pub(crate) creation: Option<DateTime>,
    pub(crate) deletion_date: Option<DateTime>,
    pub(crate) tags: BTreeMap<String, String>,
}

/// A multi-Region key set as DescribeKey reports it (`MultiRegionConfiguration`): its primary
/// key and its replicas, each a key ARN in its own Region. Related keys share the key ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeySet {
    pub(crate) primary: KeyArn,
    pub(crate) replicas: Vec<KeyArn>,
}

impl KeySet {
    fn of(m: &KeyMetadata) -> Option<Self> {
        let config = m.multi_region_configuration()?;
        let primary = config.primary_key()?.arn()?.parse().ok()?;
        let replicas = config
            .replica_keys()
            .iter()
            .filter_map(|r| r.arn()?.parse().ok())
            .collect();
        Some(Self { primary, replicas })
    }
}

impl KeyView {
    /// Whether this is a replica of a multi-Region key: its primary is in another Region.
    pub(crate) fn is_replica(&self) -> bool {
        self.set.as_ref().is_some_and(|set| set.primary != self.arn)
    }

    /// The replicas of a multi-Region primary key (none for any other key).
    pub(crate) fn replicas(&self) -> &[KeyArn] {
        match &self.set {
            Some(set) if set.primary == self.arn => &set.replicas,
            _ => &[],
        }
    }

    /// The view of a key from its metadata (and its ARN, parsed by the caller), without tags.
    pub(crate) fn from_metadata(arn: KeyArn, m: KeyMetadata) -> Result<Self, KmsError> {
        let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
        Ok(Self {
            arn,
            id: m.key_id().to_owned(),
            spec: text(m.key_spec().map(|v| v.as_str())),
            usage: text(m.key_usage().map(|v| v.as_str())),
            state: text(m.key_state().map(|v| v.as_str())),
            origin: text(m.origin().map(|v| v.as_str())),
            custom_key_store: m.custom_key_store_id().map(str::to_owned),
            multi_region: m.multi_region().unwrap_or(false),
            set: KeySet::of(&m),
            key_manager: text(m.key_manager().map(|v| v.as_str())),
            description: text(m.description()),
            creation: m.creation_date().copied(),
            deletion_date: m.deletion_date().copied(),
            tags: BTreeMap::new(),
        })
    }

    pub(crate) fn tag(&self, name: &str) -> Option<&str> {
        self.tags.get(name).map(String::as_str)
    }

    pub(crate) fn stage(&self) -> Option<Stage> {
        self.tag(tags::STAGE)?.parse().ok()
    }

    /// Whether the key's tags say it serves this alias.
    pub(crate) fn serves(&self, alias: &AliasName) -> bool {
        self.tag(tags::ALIAS) == Some(alias.as_str())
    }

    pub(crate) fn time(&self, name: &str) -> Option<DateTime> {
        DateTime::from_str(self.tag(name)?, Format::DateTime).ok()
    }

    /// Whether this is the pending key of that rotation of that alias, still usable (not
    /// scheduled for deletion).
    pub(crate) fn is_pending_for(&self, alias: &AliasName, rotation_id: &str) -> bool {
        self.serves(alias)
            && self.stage() == Some(Stage::Pending)
            && self.tag(tags::ROTATION_ID) == Some(rotation_id)
            && !self.is_pending_deletion()
    }

    /// Whether KMS can rotate this key's material itself.
    pub(crate) fn rotates_itself(&self) -> bool {
        kmsrot_types::key_kind::rotates_itself(
            &self.spec,
            &self.origin,
            self.custom_key_store.is_some(),
        )
    }

    /// Why kmsrot cannot rotate this key by making a like key, if it cannot: what the key is,
    /// and what rotates it instead. `None` for a key whose material KMS makes in the default
    /// key store.
    pub(crate) fn cannot_rotate(&self) -> Option<String> {
        let arn = &self.arn;
        if self.key_manager == "AWS" {
            return Some(format!(
                "{arn} is an AWS managed key: AWS rotates it every year, and nobody else may"
            ));
        }
        match (self.origin.as_str(), &self.custom_key_store) {
            ("AWS_CLOUDHSM", Some(store)) => Some(format!(
                "{arn} is in the AWS CloudHSM key store {store}, and kmsrot creates keys only in the default key store. To rotate it, create a like key in that key store (`aws kms create-key --origin AWS_CLOUDHSM --custom-key-store-id {store} --key-spec {}`), keep the old key enabled for its data, and move the alias (`aws kms update-alias`)",
                self.spec
            )),
            ("EXTERNAL_KEY_STORE", store) => Some(format!(
                "{arn} is in the external key store {}: its key material lives in your external key manager, outside AWS, and KMS cannot rotate it; rotate it in the external key manager",
                store.as_deref().unwrap_or("(unknown)")
            )),
            (_, Some(store)) => Some(format!(
                "{arn} is in the custom key store {store}; kmsrot creates keys only in the default key store"
            )),
            ("AWS_KMS", None) => None,
            (origin, None) => Some(format!(
                "{arn} has origin {origin}: its key material is imported, and kmsrot does not import material into new keys; import new material yourself (KMS keeps the old for decryption), or move the alias to a key with origin AWS_KMS and manage that"
            )),
        }
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.state == "Enabled"
    }

    pub(crate) fn is_pending_deletion(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PendingDeletion" | "PendingReplicaDeletion"
        )
    }

    /// Tags that are the user's: copied to every new key.
    pub(crate) fn user_tags(&self) -> impl Iterator<Item = (&String, &String)> {
        self.tags
            .iter()
            .filter(|(k, _)| !k.starts_with(tags::PREFIX) && !k.starts_with("aws:"))
    }

    pub(crate) fn status(&self) -> KeyStatus {
        let text = |name| self.tag(name).map(str::to_owned);
        KeyStatus {
            key_arn: self.arn.clone(),
            key_spec: self.spec.clone(),
            key_usage: self.usage.clone(),
            key_state: self.state.clone(),
            stage: self.stage(),
            created_at: text(tags::CREATED_AT).or_else(|| self.creation.map(rfc3339)),
            promoted_at: text(tags::PROMOTED_AT),
            demoted_at: text(tags::DEMOTED_AT),
            retired_at: text(tags::RETIRED_AT),
            deletion_date: self.deletion_date.map(rfc3339),
            grants: None,
            hold: text(tags::HOLD),
        }
    }
}

/// How errors name a key given as an ID or ARN.
pub(crate) fn subject_for(key_id: &str) -> Subject {
    match key_id.parse::<KeyArn>() {
        Ok(arn) => Subject::Key(arn),
        Err(_) => match key_id.parse() {
            Ok(id) => Subject::KeyId(id),
            Err(_) => Subject::Ciphertext,
        },
    }
}

pub(crate) fn alias_subject(alias: &AliasName) -> Subject {
    Subject::Alias(AliasRef::Name(alias.clone()))
}

impl Rotator {
    /// A key's tags (ListResourceTags, every page).
    pub(crate) async fn tags_of(&self, arn: &KeyArn) -> Result<BTreeMap<String, String>, KmsError> {
        self.store.tags(&arn.to_string()).await
    }

    /// A key and its tags, by key ID or ARN.
    pub(crate) async fn key(&self, key_id: &str) -> Result<KeyView, KmsError> {
        let mut view = self.store.describe(key_id, &subject_for(key_id)).await?;
        view.tags = self.tags_of(&view.arn).await?;
        Ok(view)
    }

    /// A signing key's public key fingerprint, as recorded on the key
    /// (`kmsrot:public-key-sha256`), and recorded now (GetPublicKey, then a tag) when it is
    /// missing. `None` for a key that does not sign, and for one that KMS refuses (disabled
    /// or pending deletion) and has no record. The record is what `kmsrot verify` trusts once
    /// KMS no longer verifies with the key.
    pub(crate) async fn record_public_key(
        &self,
        key: &KeyView,
    ) -> Result<Option<String>, KmsError> {
        if !matches!(KeyKind::of(&key.spec, &key.usage), Ok(KeyKind::Sign(_))) {
            return Ok(None);
        }
        if let Some(recorded) = key.tag(tags::PUBLIC_KEY_SHA256) {
            return Ok(Some(recorded.to_owned()));
        }
        let der = match self
            .store
            .paced(self.store.kms().public_key(&key.arn))
            .await
        {
            Ok((_, der)) => der,
            Err(KmsError::Disabled { .. } | KmsError::PendingDeletion { .. }) => {
                tracing::warn!(key = %key.arn, "no public key recorded, and KMS no longer gives it");
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let fingerprint = crate::offline::fingerprint(&der);
        self.store
            .tag(&key.arn, &[(tags::PUBLIC_KEY_SHA256, fingerprint.clone())])
            .await?;
        Ok(Some(fingerprint))
    }

    /// The key an alias names, with its tags.
    pub(crate) async fn target(&self, alias: &AliasName) -> Result<KeyView, KmsError> {
        self.target_known(alias, None).await
    }

    /// The key an alias names, reusing tags already read for key `known.0` when the alias
    /// still names that key.
    pub(crate) async fn target_known(
        &self,
        alias: &AliasName,
        known: Option<(&str, BTreeMap<String, String>)>,
    ) -> Result<KeyView, KmsError> {
        let mut view = self
            .store
            .describe(alias.as_str(), &alias_subject(alias))
            .await?;
        view.tags = match known {
            Some((id, tags)) if id == view.id => tags,
            _ => self.tags_of(&view.arn).await?,
        };
        Ok(view)
    }

    /// Looks through every key in the region for the pending key of one rotation. Only a
    /// rotation resumed without a record of its new key needs this.
    pub(crate) async fn find_pending(
        &self,
        alias: &AliasName,
        rotation_id: &str,
    ) -> Result<Option<KeyView>, KmsError> {
        self.find_made(alias, rotation_id, |view| {
            view.is_pending_for(alias, rotation_id)
        })
        .await
    }

    /// The key an `init` made under `rotation_id` whose CreateKey answer was lost: tagged for
    /// the alias with that rotation ID and stage `current`, and not pending deletion.
    pub(crate) async fn find_initial(
        &self,
        alias: &AliasName,
        rotation_id: &str,
    ) -> Result<Option<KeyView>, KmsError> {
        self.find_made(alias, rotation_id, |view| {
            view.stage() == Some(Stage::Current) && !view.is_pending_deletion()
        })
        .await
    }

    /// The first key of the region tagged for `alias` with `rotation_id` that `keep` accepts,
    /// read in full (a scan: no alias or record leads to it).
    async fn find_made(
        &self,
        alias: &AliasName,
        rotation_id: &str,
        keep: impl Fn(&KeyView) -> bool,
    ) -> Result<Option<KeyView>, KmsError> {
        let found = self
            .scan(&alias_subject(alias), |tags| {
                tags.get(tags::ALIAS).map(String::as_str) == Some(alias.as_str())
                    && tags.get(tags::ROTATION_ID).map(String::as_str) == Some(rotation_id)
            })
            .await?;
        for (arn, tags) in found {
            let mut view = self
                .store
                .describe(&arn.to_string(), &Subject::Key(arn.clone()))
                .await?;
            view.tags = tags;
            if keep(&view) {
                return Ok(Some(view));
            }
        }
        Ok(None)
    }

    /// Every key in the region whose tags satisfy `keep`, with those tags (ListKeys, every
    /// page, then ListResourceTags per key). A full scan, for the rare cases where no alias
    /// or tag leads to the key: a resumed rotation without a record, a deleted key.
    pub(crate) async fn scan(
        &self,
        subject: &Subject,
        keep: impl Fn(&BTreeMap<String, String>) -> bool,
    ) -> Result<Vec<(KeyArn, BTreeMap<String, String>)>, KmsError> {
        let mut found = Vec::new();
        for arn in self.store.key_arns(subject).await? {
            let tags = match self.tags_of(&arn).await {
                Ok(tags) => tags,
                // AWS managed keys and keys in other states may refuse; they are not ours.
                Err(KmsError::AccessDenied { .. } | KmsError::NotFound { .. }) => continue,
                Err(err) => return Err(err),
            };
            if keep(&tags) {
                found.push((arn, tags));
            }
        }
        Ok(found)
    }

    /// Keys in the region that carry the tags of any of `queries` (each a set of name and
    /// value pairs, all of which must match), then filtered by `keep` on their tags as KMS
    /// reports them now. Through the Resource Groups Tagging API when the engine has a client
    /// for it (calls in proportion to the keys found); otherwise by a scan of every key.
    ///
    /// The tagging API is eventually consistent. Re-reading each key's tags from KMS removes
    /// keys whose tags have changed since; a key tagged moments ago may not be found yet, so
    /// callers ask for tags that have been in place for a while. When the tagging API refuses
    /// the caller, the scan answers instead.
    pub(crate) async fn lookup(
        &self,
        subject: &Subject,
        queries: &[&[(&str, &str)]],
        keep: impl Fn(&BTreeMap<String, String>) -> bool,
    ) -> Result<Vec<(KeyArn, BTreeMap<String, String>)>, KmsError> {
        let arns = match self.store.tagged(subject, queries).await {
            Ok(Some(arns)) => arns,
            Ok(None) => return self.scan(subject, keep).await,
            // A caller allowed KMS but not `tag:GetResources` still gets an answer, slower.
            Err(KmsError::AccessDenied { .. }) => {
                tracing::warn!(
                    "tag:GetResources was refused; reading the tags of every key instead"
                );
                return self.scan(subject, keep).await;
            }
            Err(err) => return Err(err),
        };
        let mut found = Vec::new();
        for arn in arns {
            // The tagging API lags behind tag changes: what KMS says now decides.
            match self.tags_of(&arn).await {
                Ok(tags) if keep(&tags) => found.push((arn, tags)),
                Ok(_) | Err(KmsError::AccessDenied { .. } | KmsError::NotFound { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_kms::types::{KeyManagerType, KeyMetadata, OriginType};

    use super::KeyView;

    fn view(origin: OriginType, store: Option<&str>, manager: KeyManagerType) -> KeyView {
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let metadata = KeyMetadata::builder()
            .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
            .arn(arn)
            .origin(origin)
            .set_custom_key_store_id(store.map(str::to_owned))
            .key_manager(manager)
            .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault)
            .build()
            .unwrap();
        KeyView::from_metadata(arn.parse().unwrap(), metadata).unwrap()
    }

    /// What `adopt` refuses, it explains: what the key is, and what rotates it instead.
    #[test]
    fn keys_kmsrot_cannot_rotate_say_why_and_what_to_do() {
        let customer = KeyManagerType::Customer;
        assert_eq!(
            view(OriginType::AwsKms, None, customer.clone()).cannot_rotate(),
            None
        );
        let cases = [
            (
                view(
                    OriginType::AwsCloudhsm,
                    Some("cks-1234567890abcdef0"),
                    customer.clone(),
                ),
                "create-key --origin AWS_CLOUDHSM --custom-key-store-id cks-1234567890abcdef0 --key-spec SYMMETRIC_DEFAULT",
            ),
            (
                view(
                    OriginType::ExternalKeyStore,
                    Some("cks-0fedcba0987654321"),
                    customer.clone(),
                ),
                "rotate it in the external key manager",
            ),
            (
                view(OriginType::External, None, customer),
                "its key material is imported",
            ),
            (
                view(OriginType::AwsKms, None, KeyManagerType::Aws),
                "AWS managed key",
            ),
        ];
        for (key, expected) in cases {
            let why = key.cannot_rotate().unwrap();
            assert!(why.contains(expected), "{why}");
            assert!(!why.contains("kmsrot adopt"), "{why}");
        }
    }
}

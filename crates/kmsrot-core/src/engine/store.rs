//! Every read and write of KMS the engine makes: the one layer between the engine's logic and
//! the SDK. Each call first takes a slot from the engine's [`Pace`] (management calls share a
//! quota of a few per second per account), then maps its error onto [`KmsError`], through one
//! helper ([`Store::call`], and [`Store::page`] for each page of a listing). No other engine
//! module holds the client or the pace; a tidy test (`xtask/src/tidy.rs`) keeps it so.
//!
//! The store knows KMS, not kmsrot's rotation model: which tags mean what is the business of
//! the modules that call it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::types::{KeyMetadata, KeySpec, KeyUsageType, OriginType, RotationType, Tag};
use aws_smithy_types::DateTime;
use kmsrot_types::{AliasName, Grant, GrantConstraints, KeyArn, RotationStatus};

use super::keys::{KeyView, alias_subject};
use crate::kms::more;
use crate::{Kms, KmsError, Subject};

/// Spaces out KMS calls: management calls share a quota of a few per second per account.
/// Each request sent takes one slot, and only requests sent do (a listing's end costs none).
#[derive(Debug)]
struct Pace {
    interval: Option<Duration>,
    next: tokio::sync::Mutex<tokio::time::Instant>,
    /// Slots taken so far: the requests sent.
    taken: AtomicU64,
}

impl Pace {
    fn new(calls_per_second: Option<f64>) -> Self {
        let interval = calls_per_second
            .filter(|rate| rate.is_finite() && *rate > 0.0)
            .map(|rate| Duration::from_secs_f64(1.0 / rate));
        Self {
            interval,
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            taken: AtomicU64::new(0),
        }
    }

    /// Waits for this call's slot.
    async fn tick(&self) {
        self.taken.fetch_add(1, Ordering::Relaxed);
        let Some(interval) = self.interval else {
            return;
        };
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(tokio::time::Instant::now());
            *next = at + interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// The engine's access to KMS (and to the Resource Groups Tagging API, for finding keys by
/// tag) in one region. Cheap to clone: clones share the clients and the pace.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    kms: Kms,
    pace: Arc<Pace>,
    tagging: Option<aws_sdk_resourcegroupstagging::Client>,
}

impl Store {
    pub(crate) fn new(kms: Kms) -> Self {
        Self {
            kms,
            pace: Arc::new(Pace::new(None)),
            tagging: None,
        }
    }

    /// The store for another Region (a multi-Region key's replicas live there), sharing this
    /// one's pace: the engine's rate is a promise about all of its calls.
    pub(crate) fn in_region(&self, region: &str) -> Self {
        Self {
            kms: self.kms.in_region(region),
            pace: Arc::clone(&self.pace),
            tagging: None,
        }
    }

    pub(crate) fn set_tagging(&mut self, client: aws_sdk_resourcegroupstagging::Client) {
        self.tagging = Some(client);
    }

    /// Whether keys are found by their tags through the tagging API (not by a scan).
    pub(crate) fn finds_by_tags(&self) -> bool {
        self.tagging.is_some()
    }

    pub(crate) fn set_rate(&mut self, calls_per_second: f64) {
        self.pace = Arc::new(Pace::new(Some(calls_per_second)));
    }

    /// The slots taken so far by this store and every store sharing its pace: the KMS (and
    /// tagging API) requests they sent.
    pub(crate) fn slots_taken(&self) -> u64 {
        self.pace.taken.load(Ordering::Relaxed)
    }

    /// The KMS service, for its by-ARN primitives (called through [`Store::paced`]) and for
    /// callers outside the engine.
    pub(crate) fn kms(&self) -> &Kms {
        &self.kms
    }

    pub(crate) fn region(&self) -> &str {
        &self.kms.region
    }

    /// The one helper: waits for a slot, sends `request` (SDK futures do nothing until they
    /// are polled, so the request leaves after the slot), and maps its error.
    async fn call<T, E, R>(
        &self,
        operation: &'static str,
        subject: &Subject,
        request: impl Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Result<T, KmsError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        self.pace.tick().await;
        match request.await {
            Ok(out) => Ok(out),
            Err(err) => Err(self.kms.fail(operation, subject, err).await),
        }
    }

    /// Every page of a listing (see [`Kms::listing`]), each request paced like every other
    /// call: a slot per request sent.
    async fn listing<T, E, R, Fut>(
        &self,
        operation: &'static str,
        subject: &Subject,
        send: impl FnMut(Option<String>) -> Fut,
        next: impl Fn(&T) -> Option<&str>,
        each: impl FnMut(T),
    ) -> Result<(), KmsError>
    where
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        self.kms
            .listing(operation, subject, || self.pace.tick(), send, next, each)
            .await
    }

    /// A call of one of [`Kms`]'s own primitives, which map their errors themselves: paced
    /// like every other.
    pub(crate) async fn paced<T>(
        &self,
        request: impl Future<Output = Result<T, KmsError>>,
    ) -> Result<T, KmsError> {
        self.pace.tick().await;
        request.await
    }

    fn view(&self, m: KeyMetadata) -> Result<KeyView, KmsError> {
        KeyView::from_metadata(self.kms.key_arn("DescribeKey", m.arn())?, m)
    }

    /// DescribeKey (by key ID, key ARN or alias name), read into a view without tags.
    pub(crate) async fn describe(
        &self,
        key_id: &str,
        subject: &Subject,
    ) -> Result<KeyView, KmsError> {
        let m = self.paced(self.kms.metadata(key_id, subject)).await?;
        self.view(m)
    }

    /// A key's tags, by key ID or ARN (ListResourceTags, every page, as one paced call). The
    /// listing's future is boxed: nearly every engine operation reads tags, and inline it
    /// would grow each of their futures by the paginator's.
    pub(crate) async fn tags(&self, key_id: &str) -> Result<BTreeMap<String, String>, KmsError> {
        let subject = super::keys::subject_for(key_id);
        Box::pin(self.kms.tags_paced(key_id, &subject, || self.pace.tick())).await
    }

    fn tag_list(
        &self,
        operation: &'static str,
        pairs: &[(&str, String)],
    ) -> Result<Vec<Tag>, KmsError> {
        pairs
            .iter()
            .map(|(k, v)| Tag::builder().tag_key(*k).tag_value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.kms.unexpected(operation, e.to_string()))
    }

    /// Adds or overwrites tags on a key.
    pub(crate) async fn tag(&self, key: &KeyArn, pairs: &[(&str, String)]) -> Result<(), KmsError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let tags = self.tag_list("TagResource", pairs)?;
        let request = self
            .kms
            .client
            .tag_resource()
            .key_id(key.to_string())
            .set_tags(Some(tags))
            .send();
        self.call("TagResource", &Subject::Key(key.clone()), request)
            .await?;
        Ok(())
    }

    /// Removes tags from a key (names it does not carry are ignored by KMS). Always sent: a
    /// key view read earlier may not show tags written since.
    pub(crate) async fn untag(&self, key: &KeyArn, names: &[&str]) -> Result<(), KmsError> {
        let request = self
            .kms
            .client
            .untag_resource()
            .key_id(key.to_string())
            .set_tag_keys(Some(names.iter().map(|n| (*n).to_owned()).collect()))
            .send();
        self.call("UntagResource", &Subject::Key(key.clone()), request)
            .await?;
        Ok(())
    }

    /// Every customer alias in the region with the key ID it names (ListAliases, every page).
    /// With `key`, only the aliases of that key. kmsrot's lock aliases are left out.
    pub(crate) async fn aliases(
        &self,
        key: Option<&KeyArn>,
    ) -> Result<Vec<(AliasName, Option<String>)>, KmsError> {
        let subject = key.map_or(Subject::Region, |k| Subject::Key(k.clone()));
        let mut found = Vec::new();
        self.listing(
            "ListAliases",
            &subject,
            |marker| {
                self.kms
                    .client
                    .list_aliases()
                    .set_key_id(key.map(ToString::to_string))
                    .set_marker(marker)
                    .send()
            },
            |out| more(out.truncated, out.next_marker()),
            |out| {
                for entry in out.aliases() {
                    // AWS managed aliases (`alias/aws/…`) do not parse as AliasName; kmsrot's
                    // locks name a key only while a run holds it, and are no application's.
                    if let Some(name) = entry
                        .alias_name()
                        .and_then(|n| n.parse::<AliasName>().ok())
                        .filter(|n| !n.is_lock())
                    {
                        found.push((name, entry.target_key_id().map(str::to_owned)));
                    }
                }
            },
        )
        .await?;
        Ok(found)
    }

    /// The ARN of every key in the region (ListKeys, every page).
    pub(crate) async fn key_arns(&self, subject: &Subject) -> Result<Vec<KeyArn>, KmsError> {
        let mut arns = Vec::new();
        self.listing(
            "ListKeys",
            subject,
            |marker| self.kms.client.list_keys().set_marker(marker).send(),
            |out| more(out.truncated, out.next_marker()),
            |out| {
                arns.extend(
                    out.keys()
                        .iter()
                        .filter_map(|k| k.key_arn()?.parse::<KeyArn>().ok()),
                );
            },
        )
        .await?;
        Ok(arns)
    }

    /// The keys the Resource Groups Tagging API lists with the tags of any of `queries` (each
    /// a set of name and value pairs, all of which must match; an empty value matches any),
    /// or `None` without a client for it. The API is eventually consistent: callers re-read
    /// what it finds from KMS.
    pub(crate) async fn tagged(
        &self,
        subject: &Subject,
        queries: &[&[(&str, &str)]],
    ) -> Result<Option<Vec<KeyArn>>, KmsError> {
        let Some(tagging) = &self.tagging else {
            return Ok(None);
        };
        let mut arns: Vec<KeyArn> = Vec::new();
        for query in queries {
            let filters: Vec<_> = query
                .iter()
                .map(|(name, value)| {
                    aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                        .key(*name)
                        .set_values((!value.is_empty()).then(|| vec![(*value).to_owned()]))
                        .build()
                })
                .collect();
            // One request per page, each paced; an empty (or repeated) token ends the listing.
            let mut token: Option<String> = None;
            loop {
                self.pace.tick().await;
                let request = tagging
                    .get_resources()
                    .resource_type_filters("kms:key")
                    .set_tag_filters(Some(filters.clone()))
                    .set_pagination_token(token.clone())
                    .send();
                let out = match request.await {
                    Ok(out) => out,
                    Err(err) => return Err(self.tagging_failed(subject, err).await),
                };
                for mapping in out.resource_tag_mapping_list() {
                    if let Some(arn) = mapping
                        .resource_arn()
                        .and_then(|a| a.parse::<KeyArn>().ok())
                        && !arns.contains(&arn)
                    {
                        arns.push(arn);
                    }
                }
                match out.pagination_token().filter(|t| !t.is_empty()) {
                    Some(next) if token.as_deref() != Some(next) => token = Some(next.to_owned()),
                    _ => break,
                }
            }
        }
        Ok(Some(arns))
    }

    /// Maps a Resource Groups Tagging API error. It names throttling `ThrottledException`,
    /// where KMS says `ThrottlingException`; the rest (access denied, internal errors) maps
    /// as KMS's would.
    async fn tagging_failed<E, R>(&self, subject: &Subject, err: SdkError<E, R>) -> KmsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if err.code() == Some("ThrottledException") {
            return KmsError::Throttled {
                subject: subject.clone(),
                region: self.kms.region.clone(),
                operation: "GetResources",
            };
        }
        self.kms.fail("GetResources", subject, err).await
    }

    /// Creates a key in the default key store with its first tags, and returns its view with
    /// those tags.
    #[expect(
        clippy::too_many_arguments,
        reason = "CreateKey's own parameters, each needed"
    )]
    pub(crate) async fn create_key(
        &self,
        alias: &AliasName,
        spec: &str,
        usage: &str,
        multi_region: bool,
        policy: Option<String>,
        description: &str,
        key_tags: &[(&str, String)],
    ) -> Result<KeyView, KmsError> {
        let tag_list = self.tag_list("CreateKey", key_tags)?;
        let request = self
            .kms
            .client
            .create_key()
            // Explicit, though it is the default: the stack's role allows CreateKey only for
            // `kms:KeyOrigin` AWS_KMS, and kmsrot rotates only keys whose material KMS makes.
            .origin(OriginType::AwsKms)
            .key_spec(KeySpec::from(spec))
            .key_usage(KeyUsageType::from(usage))
            .multi_region(multi_region)
            .set_policy(policy)
            .description(description)
            .set_tags(Some(tag_list))
            // CreateKey is not idempotent: a retry after a lost answer makes a second key. It
            // is sent once; the engine then looks for what it made (by its tags).
            .customize()
            .config_override(
                aws_sdk_kms::config::Builder::default()
                    .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled()),
            )
            .send();
        let out = self
            .call("CreateKey", &alias_subject(alias), request)
            .await?;
        let metadata = out
            .key_metadata
            .ok_or_else(|| self.kms.unexpected("CreateKey", "no KeyMetadata"))?;
        let mut view = self.view(metadata)?;
        view.tags = key_tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        tracing::info!(%alias, key = %view.arn, spec, usage, "created key");
        Ok(view)
    }

    /// Replicates a multi-Region primary key into `region` (ReplicateKey, called in the
    /// primary's Region), with the replica's own policy, description and tags. Returns the
    /// replica's ARN. KMS: "the new replica key has a transient key state of Creating".
    pub(crate) async fn replicate_key(
        &self,
        primary: &KeyArn,
        region: &str,
        policy: Option<String>,
        description: &str,
        key_tags: &[(&str, String)],
    ) -> Result<KeyArn, KmsError> {
        let tag_list = self.tag_list("ReplicateKey", key_tags)?;
        let request = self
            .kms
            .client
            .replicate_key()
            .key_id(primary.to_string())
            .replica_region(region)
            .set_policy(policy)
            .description(description)
            .set_tags(Some(tag_list))
            .send();
        let out = self
            .call("ReplicateKey", &Subject::Key(primary.clone()), request)
            .await?;
        let replica = self.kms.key_arn(
            "ReplicateKey",
            out.replica_key_metadata().and_then(|m| m.arn()),
        )?;
        tracing::info!(primary = %primary, replica = %replica, "replicated key");
        Ok(replica)
    }

    /// Creates an alias for a key.
    pub(crate) async fn create_alias(
        &self,
        alias: &AliasName,
        key_id: &str,
    ) -> Result<(), KmsError> {
        let request = self
            .kms
            .client
            .create_alias()
            .alias_name(alias.as_str())
            .target_key_id(key_id)
            .send();
        self.call("CreateAlias", &alias_subject(alias), request)
            .await?;
        Ok(())
    }

    /// Deletes an alias (its key is untouched).
    pub(crate) async fn delete_alias(&self, alias: &AliasName) -> Result<(), KmsError> {
        let request = self
            .kms
            .client
            .delete_alias()
            .alias_name(alias.as_str())
            .send();
        self.call("DeleteAlias", &alias_subject(alias), request)
            .await?;
        Ok(())
    }

    /// The aliases of a key with the time each was created (seconds since the epoch), when
    /// KMS gives it (ListAliases, every page).
    pub(crate) async fn aliases_dated(
        &self,
        key: &KeyArn,
    ) -> Result<Vec<(AliasName, Option<i64>)>, KmsError> {
        let mut found = Vec::new();
        self.listing(
            "ListAliases",
            &Subject::Key(key.clone()),
            |marker| {
                self.kms
                    .client
                    .list_aliases()
                    .key_id(key.to_string())
                    .set_marker(marker)
                    .send()
            },
            |out| more(out.truncated, out.next_marker()),
            |out| {
                for entry in out.aliases() {
                    if let Some(name) = entry.alias_name().and_then(|n| n.parse().ok()) {
                        found.push((name, entry.creation_date().map(DateTime::secs)));
                    }
                }
            },
        )
        .await?;
        Ok(found)
    }

    /// Moves an alias to a key.
    pub(crate) async fn update_alias(
        &self,
        alias: &AliasName,
        key: &KeyView,
    ) -> Result<(), KmsError> {
        let request = self
            .kms
            .client
            .update_alias()
            .alias_name(alias.as_str())
            .target_key_id(&key.id)
            .send();
        self.call("UpdateAlias", &alias_subject(alias), request)
            .await?;
        tracing::info!(%alias, key = %key.arn, "alias moved");
        Ok(())
    }

    /// A key's default key policy, when KMS returns one.
    pub(crate) async fn key_policy(&self, key: &KeyArn) -> Result<Option<String>, KmsError> {
        let request = self
            .kms
            .client
            .get_key_policy()
            .key_id(key.to_string())
            .policy_name("default")
            .send();
        let out = self
            .call("GetKeyPolicy", &Subject::Key(key.clone()), request)
            .await?;
        Ok(out.policy)
    }

    /// KMS's automatic rotation status of a key.
    pub(crate) async fn rotation_status(&self, key: &KeyView) -> Result<RotationStatus, KmsError> {
        self.paced(self.kms.rotation_status_of(
            &key.arn.to_string(),
            key.rotates_itself(),
            &Subject::Key(key.arn.clone()),
        ))
        .await
    }

    /// Switches on automatic rotation with this period (or corrects the period).
    pub(crate) async fn enable_rotation(
        &self,
        key: &KeyArn,
        period_days: u32,
    ) -> Result<(), KmsError> {
        let request = self
            .kms
            .client
            .enable_key_rotation()
            .key_id(key.to_string())
            .rotation_period_in_days(i32::try_from(period_days).unwrap_or(i32::MAX))
            .send();
        self.call("EnableKeyRotation", &Subject::Key(key.clone()), request)
            .await?;
        tracing::info!(%key, period_days, "automatic rotation enabled");
        Ok(())
    }

    /// On-demand rotations done, and the date of the newest rotation of any kind
    /// (ListKeyRotations, every page).
    pub(crate) async fn rotations(
        &self,
        key: &KeyArn,
    ) -> Result<(u32, Option<DateTime>), KmsError> {
        let subject = Subject::Key(key.clone());
        let mut on_demand = 0;
        let mut newest: Option<DateTime> = None;
        self.listing(
            "ListKeyRotations",
            &subject,
            |marker| {
                self.kms
                    .client
                    .list_key_rotations()
                    .key_id(key.to_string())
                    .set_marker(marker)
                    .send()
            },
            |out| more(out.truncated, out.next_marker()),
            |out| {
                for entry in out.rotations() {
                    if entry.rotation_type() == Some(&RotationType::OnDemand) {
                        on_demand += 1;
                    }
                    if let Some(date) = entry.rotation_date()
                        && newest.is_none_or(|n| date.secs() > n.secs())
                    {
                        newest = Some(*date);
                    }
                }
            },
        )
        .await?;
        Ok((on_demand, newest))
    }

    /// Starts a rotation of the key material now.
    pub(crate) async fn rotate_on_demand(&self, key: &KeyArn) -> Result<(), KmsError> {
        let request = self
            .kms
            .client
            .rotate_key_on_demand()
            .key_id(key.to_string())
            .send();
        self.call("RotateKeyOnDemand", &Subject::Key(key.clone()), request)
            .await?;
        Ok(())
    }

    pub(crate) async fn enable_key(&self, key: &KeyArn) -> Result<(), KmsError> {
        let request = self.kms.client.enable_key().key_id(key.to_string()).send();
        self.call("EnableKey", &Subject::Key(key.clone()), request)
            .await?;
        Ok(())
    }

    pub(crate) async fn disable_key(&self, key: &KeyArn) -> Result<(), KmsError> {
        let request = self.kms.client.disable_key().key_id(key.to_string()).send();
        self.call("DisableKey", &Subject::Key(key.clone()), request)
            .await?;
        Ok(())
    }

    /// Schedules a key's deletion after a window of `window_days`.
    pub(crate) async fn schedule_deletion(
        &self,
        key: &KeyArn,
        window_days: u32,
    ) -> Result<(), KmsError> {
        let request = self
            .kms
            .client
            .schedule_key_deletion()
            .key_id(key.to_string())
            .pending_window_in_days(i32::try_from(window_days).unwrap_or(30))
            .send();
        self.call("ScheduleKeyDeletion", &Subject::Key(key.clone()), request)
            .await?;
        tracing::info!(%key, window_days, "key scheduled for deletion");
        Ok(())
    }

    pub(crate) async fn cancel_deletion(&self, key: &KeyArn) -> Result<(), KmsError> {
        let request = self
            .kms
            .client
            .cancel_key_deletion()
            .key_id(key.to_string())
            .send();
        self.call("CancelKeyDeletion", &Subject::Key(key.clone()), request)
            .await?;
        Ok(())
    }

    /// A key's grants (ListGrants, every page).
    pub(crate) async fn grants(&self, key: &KeyArn) -> Result<Vec<Grant>, KmsError> {
        let subject = Subject::Key(key.clone());
        let mut grants = Vec::new();
        self.listing(
            "ListGrants",
            &subject,
            |marker| {
                self.kms
                    .client
                    .list_grants()
                    .key_id(key.to_string())
                    .set_marker(marker)
                    .send()
            },
            |out| more(out.truncated, out.next_marker()),
            |out| grants.extend(out.grants().iter().map(grant_of)),
        )
        .await?;
        Ok(grants)
    }

    /// Creates a copy of `grant` on `key`: the same grantee, retiring principal, operations,
    /// constraints and name. Returns the new grant's ID.
    pub(crate) async fn create_grant(
        &self,
        key: &KeyArn,
        grant: &Grant,
    ) -> Result<String, KmsError> {
        use aws_sdk_kms::types::{GrantConstraints as Sdk, GrantOperation};
        let constraints = grant.constraints.as_ref().map(|c| {
            Sdk::builder()
                .set_encryption_context_subset(
                    c.encryption_context_subset
                        .as_ref()
                        .map(|m| m.clone().into_iter().collect()),
                )
                .set_encryption_context_equals(
                    c.encryption_context_equals
                        .as_ref()
                        .map(|m| m.clone().into_iter().collect()),
                )
                .set_source_arn(c.source_arn.clone())
                .build()
        });
        let request = self
            .kms
            .client
            .create_grant()
            .key_id(key.to_string())
            .set_grantee_principal(grant.grantee_principal.clone())
            .set_grantee_service_principal(grant.grantee_service_principal.clone())
            .set_retiring_principal(grant.retiring_principal.clone())
            .set_retiring_service_principal(grant.retiring_service_principal.clone())
            .set_operations(Some(
                grant
                    .operations
                    .iter()
                    .map(|o| GrantOperation::from(o.as_str()))
                    .collect(),
            ))
            .set_constraints(constraints)
            .set_name(grant.name.clone())
            .send();
        let out = self
            .call("CreateGrant", &Subject::Key(key.clone()), request)
            .await?;
        out.grant_id
            .ok_or_else(|| self.kms.unexpected("CreateGrant", "no GrantId"))
    }

    /// KMS's record of a key's last successful cryptographic operation (GetKeyLastUsage).
    pub(crate) async fn last_usage(&self, key: &KeyArn) -> Result<LastUsage, KmsError> {
        let request = self
            .kms
            .client
            .get_key_last_usage()
            .key_id(key.to_string())
            .send();
        let out = self
            .call("GetKeyLastUsage", &Subject::Key(key.clone()), request)
            .await?;
        Ok(LastUsage {
            last: out.key_last_usage().and_then(|u| {
                Some(LastUse {
                    operation: u.operation()?.as_str().to_owned(),
                    at: u.timestamp()?.secs(),
                    cloudtrail_event_id: u.cloud_trail_event_id().map(str::to_owned),
                })
            }),
            tracking_since: out.tracking_start_date().map(DateTime::secs),
        })
    }
}

/// What `GetKeyLastUsage` says about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LastUsage {
    /// The last successful cryptographic operation, when KMS recorded one.
    pub(crate) last: Option<LastUse>,
    /// Since when KMS records the key's use (seconds since the epoch).
    pub(crate) tracking_since: Option<i64>,
}

/// One successful use of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LastUse {
    pub(crate) operation: String,
    /// Seconds since the epoch.
    pub(crate) at: i64,
    pub(crate) cloudtrail_event_id: Option<String>,
}

fn grant_of(g: &aws_sdk_kms::types::GrantListEntry) -> Grant {
    let map = |m: Option<&std::collections::HashMap<String, String>>| {
        m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    };
    Grant {
        grant_id: g.grant_id().unwrap_or_default().to_owned(),
        name: g.name().filter(|n| !n.is_empty()).map(str::to_owned),
        grantee_principal: g.grantee_principal().map(str::to_owned),
        grantee_service_principal: g.grantee_service_principal().map(str::to_owned),
        retiring_principal: g.retiring_principal().map(str::to_owned),
        retiring_service_principal: g.retiring_service_principal().map(str::to_owned),
        operations: g
            .operations()
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect(),
        constraints: g.constraints().map(|c| GrantConstraints {
            encryption_context_subset: map(c.encryption_context_subset()),
            encryption_context_equals: map(c.encryption_context_equals()),
            source_arn: c.source_arn().map(str::to_owned),
        }),
        issuing_account: g.issuing_account().map(str::to_owned),
    }
}

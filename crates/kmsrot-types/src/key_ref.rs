//! Key references: alias names, key IDs, key ARNs and alias ARNs, parsed and validated the way
//! KMS validates them, with errors that say what a valid value looks like.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Every alias name starts with this prefix.
pub const ALIAS_PREFIX: &str = "alias/";
/// Aliases under this prefix belong to AWS managed keys and cannot be created or moved.
pub const RESERVED_ALIAS_PREFIX: &str = "alias/aws/";

/// The prefix of kmsrot's lock aliases: `alias/kmsrot-lock/NAME` exists while a run changes
/// `alias/NAME` (CreateAlias fails when an alias exists, so only one run can hold it). No alias
/// under it is managed.
pub const LOCK_ALIAS_PREFIX: &str = "alias/kmsrot-lock/";
/// KMS's limit on an alias name, the `alias/` prefix included.
pub const MAX_ALIAS_LEN: usize = 256;

const EXAMPLE_ALIAS: &str = "alias/payments/data-key";
const EXAMPLE_KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const EXAMPLE_MRK_ID: &str = "mrk-1234abcd12ab34cd56ef1234567890ab";
const EXAMPLE_KEY_ARN: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const EXAMPLE_ALIAS_ARN: &str = "arn:aws:kms:us-east-1:111122223333:alias/payments/data-key";

/// Why a key reference could not be read. Each message names the input and shows a valid value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The input is empty.
    #[error("empty key reference; give an alias such as `{EXAMPLE_ALIAS}`, a key ID, or a KMS ARN")]
    Empty,
    /// An alias name that lacks the `alias/` prefix.
    #[error(
        "`{0}` is not an alias name: alias names start with `alias/`, for example `{EXAMPLE_ALIAS}`"
    )]
    AliasWithoutPrefix(String),
    /// `alias/` with nothing after it.
    #[error("`alias/` needs a name after the prefix, for example `{EXAMPLE_ALIAS}`")]
    AliasEmptyName,
    /// An alias name longer than KMS allows.
    #[error(
        "alias name is {len} characters long; KMS allows at most {MAX_ALIAS_LEN}, `alias/` included"
    )]
    AliasTooLong {
        /// The length of the input.
        len: usize,
    },
    /// An alias name with a character KMS does not allow.
    #[error(
        "alias name `{input}` contains {ch:?} at position {position}; only letters A-Z and a-z, digits, `/`, `_` and `-` may follow `alias/`"
    )]
    AliasInvalidChar {
        /// The whole input.
        input: String,
        /// The offending character.
        ch: char,
        /// Its position, counted in characters from 0.
        position: usize,
    },
    /// An alias under `alias/aws/`, which AWS reserves for its managed keys.
    #[error(
        "`{0}` is reserved for AWS managed keys: names under `alias/aws/` cannot be managed or rotated; choose your own, for example `{EXAMPLE_ALIAS}`"
    )]
    AliasReserved(String),
    /// Not a UUID key ID nor a multi-Region key ID.
    #[error(
        "`{input}` is not a KMS key ID: expected a UUID such as `{EXAMPLE_KEY_ID}` or a multi-Region key ID such as `{EXAMPLE_MRK_ID}`{hint}"
    )]
    InvalidKeyId {
        /// The whole input.
        input: String,
        /// A suggestion, already formatted with its leading separator, or empty.
        hint: String,
    },
    /// A malformed KMS ARN.
    #[error(
        "`{input}` is not a valid KMS ARN: {reason}; expected `{EXAMPLE_KEY_ARN}` or `{EXAMPLE_ALIAS_ARN}`"
    )]
    InvalidArn {
        /// The whole input.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key ID or key ARN where an alias is required.
    #[error(
        "`{0}` names a key directly, but this call takes an alias (`alias/…` or an alias ARN): code that names a key is pinned to it and misses every rotation; use the alias that points at the key"
    )]
    NotAnAlias(String),
}

/// An AWS partition that has KMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Partition {
    /// The commercial partition, `aws`.
    Aws,
    /// The China partition, `aws-cn`.
    AwsCn,
    /// AWS GovCloud (US), `aws-us-gov`.
    AwsUsGov,
}

impl Partition {
    /// The partition as it appears in an ARN.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsCn => "aws-cn",
            Self::AwsUsGov => "aws-us-gov",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "aws" => Some(Self::Aws),
            "aws-cn" => Some(Self::AwsCn),
            "aws-us-gov" => Some(Self::AwsUsGov),
            _ => None,
        }
    }

    /// The partition a Region belongs to (`None` for the isolated partitions).
    pub fn of_region(region: &str) -> Option<Self> {
        [Self::Aws, Self::AwsCn, Self::AwsUsGov]
            .into_iter()
            .find(|p| p.holds(region))
    }

    /// Whether `region` belongs to this partition.
    fn holds(self, region: &str) -> bool {
        let china = region.starts_with("cn-");
        let gov = region.starts_with("us-gov-");
        // The isolated partitions (aws-iso, aws-iso-b, aws-iso-e, aws-iso-f) are not supported.
        let isolated = region.split('-').any(|part| part.starts_with("iso"));
        match self {
            Self::Aws => !china && !gov && !isolated,
            Self::AwsCn => china,
            Self::AwsUsGov => gov,
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alias name: `alias/` followed by letters, digits, `/`, `_` and `-`, at most 256 characters
/// in all, and never under the reserved `alias/aws/`. Case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AliasName(String);

impl AliasName {
    /// The full name, `alias/` included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of kmsrot's lock aliases ([`LOCK_ALIAS_PREFIX`]), or the marker of
    /// a lock's take-over (`alias/kmsrot-lock-takeover/…`): every name that starts
    /// `alias/kmsrot-lock` is kmsrot's.
    pub fn is_lock(&self) -> bool {
        self.0.starts_with(LOCK_ALIAS_PREFIX.trim_end_matches('/'))
    }

    /// The part after `alias/`.
    pub fn short_name(&self) -> &str {
        &self.0[ALIAS_PREFIX.len()..]
    }
}

impl FromStr for AliasName {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, ParseError> {
        if input.is_empty() {
            return Err(ParseError::Empty);
        }
        let Some(name) = input.strip_prefix(ALIAS_PREFIX) else {
            return Err(ParseError::AliasWithoutPrefix(input.to_owned()));
        };
        if name.is_empty() {
            return Err(ParseError::AliasEmptyName);
        }
        let len = input.chars().count();
        if len > MAX_ALIAS_LEN {
            return Err(ParseError::AliasTooLong { len });
        }
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-');
        if let Some((i, ch)) = name.chars().enumerate().find(|&(_, c)| !valid(c)) {
            return Err(ParseError::AliasInvalidChar {
                input: input.to_owned(),
                ch,
                position: ALIAS_PREFIX.len() + i,
            });
        }
        if input.starts_with(RESERVED_ALIAS_PREFIX) {
            return Err(ParseError::AliasReserved(input.to_owned()));
        }
        Ok(Self(input.to_owned()))
    }
}

/// A key ID: a UUID, or `mrk-` and 32 hex digits for a multi-Region key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The key ID as KMS writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a multi-Region key ID.
    pub fn is_multi_region(&self) -> bool {
        self.0.starts_with("mrk-")
    }
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

impl FromStr for KeyId {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, ParseError> {
        if input.is_empty() {
            return Err(ParseError::Empty);
        }
        let valid = match input.strip_prefix("mrk-") {
            Some(hex) => hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()),
            None => is_uuid(input),
        };
        if valid {
            // KMS writes key IDs in lower case; normalizing keeps comparisons of IDs and ARNs
            // exact.
            return Ok(Self(input.to_ascii_lowercase()));
        }
        // A bare name is most often an alias written without its prefix.
        let looks_like_alias = input
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'));
        let hint = if input.to_ascii_lowercase().starts_with(ALIAS_PREFIX) {
            "; alias names start with `alias/` in lower case".to_owned()
        } else if looks_like_alias && !input.starts_with("mrk-") {
            format!("; did you mean the alias `alias/{input}`?")
        } else {
            String::new()
        };
        Err(ParseError::InvalidKeyId {
            input: input.to_owned(),
            hint,
        })
    }
}

/// The parts every KMS ARN shares: `arn:PARTITION:kms:REGION:ACCOUNT:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ArnPrefix {
    partition: Partition,
    region: String,
    account: String,
}

/// Whether `text` is an AWS account ID: exactly 12 digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Splits a KMS ARN into its prefix and its resource (`key/…` or `alias/…`).
fn split_arn(input: &str) -> Result<(ArnPrefix, &str), ParseError> {
    let invalid = |reason: &str| ParseError::InvalidArn {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    let parts: Vec<&str> = input.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(invalid("an ARN has six `:`-separated parts"));
    };
    if arn != "arn" {
        return Err(invalid("an ARN starts with `arn:`"));
    }
    let partition = Partition::parse(partition)
        .ok_or_else(|| invalid("the partition must be `aws`, `aws-cn` or `aws-us-gov`"))?;
    if service != "kms" {
        return Err(invalid("the service must be `kms`"));
    }
    if !is_region(region) {
        return Err(invalid("the region must look like `us-east-1`"));
    }
    if !partition.holds(region) {
        return Err(invalid(&format!(
            "region `{region}` is not in partition `{partition}`"
        )));
    }
    if !is_account_id(account) {
        return Err(invalid("the account must be 12 digits"));
    }
    let prefix = ArnPrefix {
        partition,
        region: region.to_owned(),
        account: account.to_owned(),
    };
    Ok((prefix, resource))
}

/// A region name such as `us-east-1`, `us-gov-west-1` or `cn-north-1`.
fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words[0].len() == 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.chars().all(|c| c.is_ascii_digit())
}

impl fmt::Display for ArnPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:kms:{}:{}:",
            self.partition, self.region, self.account
        )
    }
}

/// A key ARN: `arn:PARTITION:kms:REGION:ACCOUNT:key/KEY_ID`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyArn {
    prefix: ArnPrefix,
    key_id: KeyId,
}

impl KeyArn {
    /// The partition.
    pub fn partition(&self) -> Partition {
        self.prefix.partition
    }

    /// The region that holds the key.
    pub fn region(&self) -> &str {
        &self.prefix.region
    }

    /// The account that owns the key.
    pub fn account(&self) -> &str {
        &self.prefix.account
    }

    /// The key ID.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The ARN of another key in the same partition, region and account.
    pub fn sibling(&self, key_id: KeyId) -> Self {
        Self {
            prefix: self.prefix.clone(),
            key_id,
        }
    }

    /// The ARN of the related multi-Region key in `region`: related keys "have the same key
    /// ID. Their key ARNs (Amazon Resource Names) differ only in the Region field" (AWS KMS).
    /// `None` when `region` is not a Region name.
    pub fn in_region(&self, region: &str) -> Option<Self> {
        format!(
            "arn:{}:kms:{region}:{}:key/{}",
            self.prefix.partition,
            self.prefix.account,
            self.key_id.as_str()
        )
        .parse()
        .ok()
    }
}

impl FromStr for KeyArn {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, ParseError> {
        match input.parse::<KeyRef>()? {
            KeyRef::KeyArn(arn) => Ok(arn),
            _ => Err(ParseError::InvalidArn {
                input: input.to_owned(),
                reason: "a key ARN ends in `:key/KEY_ID`".to_owned(),
            }),
        }
    }
}

impl fmt::Display for KeyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}key/{}", self.prefix, self.key_id.as_str())
    }
}

/// An alias ARN: `arn:PARTITION:kms:REGION:ACCOUNT:alias/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AliasArn {
    prefix: ArnPrefix,
    alias: AliasName,
}

impl AliasArn {
    /// The partition.
    pub fn partition(&self) -> Partition {
        self.prefix.partition
    }

    /// The region of the alias.
    pub fn region(&self) -> &str {
        &self.prefix.region
    }

    /// The account that owns the alias.
    pub fn account(&self) -> &str {
        &self.prefix.account
    }

    /// The alias name.
    pub fn alias(&self) -> &AliasName {
        &self.alias
    }
}

impl FromStr for AliasArn {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, ParseError> {
        match input.parse::<KeyRef>()? {
            KeyRef::AliasArn(arn) => Ok(arn),
            _ => Err(ParseError::InvalidArn {
                input: input.to_owned(),
                reason: "an alias ARN ends in `:alias/NAME`".to_owned(),
            }),
        }
    }
}

impl fmt::Display for AliasArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.prefix, self.alias.as_str())
    }
}

/// Any way to name a KMS key: an alias, an alias ARN, a key ID or a key ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyRef {
    /// `alias/NAME`.
    Alias(AliasName),
    /// `arn:…:alias/NAME`.
    AliasArn(AliasArn),
    /// A key ID.
    KeyId(KeyId),
    /// `arn:…:key/KEY_ID`.
    KeyArn(KeyArn),
}

impl KeyRef {
    /// Whether this names an alias (by name or ARN) rather than a key.
    pub fn is_alias(&self) -> bool {
        matches!(self, Self::Alias(_) | Self::AliasArn(_))
    }
}

impl FromStr for KeyRef {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, ParseError> {
        if input.is_empty() {
            return Err(ParseError::Empty);
        }
        if input.starts_with("arn:") {
            let (prefix, resource) = split_arn(input)?;
            if let Some(id) = resource.strip_prefix("key/") {
                let key_id = id.parse::<KeyId>().map_err(|_| ParseError::InvalidArn {
                    input: input.to_owned(),
                    reason: format!("`{id}` is not a key ID"),
                })?;
                return Ok(Self::KeyArn(KeyArn { prefix, key_id }));
            }
            if resource.starts_with(ALIAS_PREFIX) {
                let alias = resource.parse::<AliasName>()?;
                return Ok(Self::AliasArn(AliasArn { prefix, alias }));
            }
            return Err(ParseError::InvalidArn {
                input: input.to_owned(),
                reason: "the resource must be `key/KEY_ID` or `alias/NAME`".to_owned(),
            });
        }
        if input.starts_with(ALIAS_PREFIX) {
            return input.parse().map(Self::Alias);
        }
        input.parse().map(Self::KeyId)
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Alias(a) => f.write_str(a.as_str()),
            Self::AliasArn(a) => a.fmt(f),
            Self::KeyId(k) => f.write_str(k.as_str()),
            Self::KeyArn(k) => k.fmt(f),
        }
    }
}

/// An alias, by name or ARN: the only way kmsrot's data-plane calls name a key, so that a
/// rotation moves every caller to the new key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AliasRef {
    /// `alias/NAME`, resolved in the caller's account and region.
    Name(AliasName),
    /// `arn:…:alias/NAME`, for an alias in another account.
    Arn(AliasArn),
}

impl AliasRef {
    /// The alias name, without account or region.
    pub fn name(&self) -> &AliasName {
        match self {
            Self::Name(name) => name,
            Self::Arn(arn) => arn.alias(),
        }
    }
}

impl TryFrom<KeyRef> for AliasRef {
    type Error = ParseError;

    fn try_from(key: KeyRef) -> Result<Self, ParseError> {
        match key {
            KeyRef::Alias(name) => Ok(Self::Name(name)),
            KeyRef::AliasArn(arn) => Ok(Self::Arn(arn)),
            other @ (KeyRef::KeyId(_) | KeyRef::KeyArn(_)) => {
                Err(ParseError::NotAnAlias(other.to_string()))
            }
        }
    }
}

impl From<AliasName> for AliasRef {
    fn from(name: AliasName) -> Self {
        Self::Name(name)
    }
}

macro_rules! into_key_ref {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl From<$ty> for KeyRef {
            fn from(value: $ty) -> Self {
                Self::$variant(value)
            }
        }
    )*};
}

into_key_ref!(AliasName => Alias, AliasArn => AliasArn, KeyId => KeyId, KeyArn => KeyArn);

impl From<AliasRef> for KeyRef {
    fn from(alias: AliasRef) -> Self {
        match alias {
            AliasRef::Name(name) => Self::Alias(name),
            AliasRef::Arn(arn) => Self::AliasArn(arn),
        }
    }
}

impl FromStr for AliasRef {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, ParseError> {
        input.parse::<KeyRef>()?.try_into()
    }
}

impl fmt::Display for AliasRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name.as_str()),
            Self::Arn(arn) => arn.fmt(f),
        }
    }
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Serializes each type as its text and validates it again when deserializing, so that a
/// stored value can never bypass the parser.
macro_rules! serde_as_text {
    ($($ty:ty),* $(,)?) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_text!(AliasName, KeyId, KeyArn, AliasArn, KeyRef, AliasRef);

#[cfg(test)]
mod tests {
    use super::*;

    /// What an input parses to: the `KeyRef` variant, or the error variant's name.
    fn kind(input: &str) -> String {
        match input.parse::<KeyRef>() {
            Ok(KeyRef::Alias(_)) => "Alias".into(),
            Ok(KeyRef::AliasArn(_)) => "AliasArn".into(),
            Ok(KeyRef::KeyId(_)) => "KeyId".into(),
            Ok(KeyRef::KeyArn(_)) => "KeyArn".into(),
            Err(e) => {
                let debug = format!("{e:?}");
                let name = debug.split(['(', ' ', '{']).next().unwrap().to_owned();
                format!("Err::{name}")
            }
        }
    }

    #[test]
    fn key_references_table() {
        let long_ok = format!("alias/{}", "a".repeat(MAX_ALIAS_LEN - ALIAS_PREFIX.len()));
        let long_bad = format!(
            "alias/{}",
            "a".repeat(MAX_ALIAS_LEN - ALIAS_PREFIX.len() + 1)
        );
        let arn = |resource: &str| format!("arn:aws:kms:us-east-1:111122223333:{resource}");
        #[rustfmt::skip]
        let cases: Vec<(String, &str)> = vec![
            // Aliases.
            ("alias/app".into(), "Alias"),
            ("alias/a".into(), "Alias"),
            ("alias/App-Key_1".into(), "Alias"),
            ("alias/team/app/data-key".into(), "Alias"),
            ("alias/aws".into(), "Alias"),
            ("alias/AWS/upper-case-is-not-reserved".into(), "Alias"),
            ("alias/awsome".into(), "Alias"),
            ("alias/trailing/".into(), "Alias"),
            (long_ok, "Alias"),
            (long_bad, "Err::AliasTooLong"),
            ("alias/".into(), "Err::AliasEmptyName"),
            ("alias/aws/s3".into(), "Err::AliasReserved"),
            ("alias/aws/".into(), "Err::AliasReserved"),
            ("alias/has space".into(), "Err::AliasInvalidChar"),
            ("alias/dot.ted".into(), "Err::AliasInvalidChar"),
            ("alias/colon:x".into(), "Err::AliasInvalidChar"),
            ("alias/ünïcode".into(), "Err::AliasInvalidChar"),
            ("alias/tab\t".into(), "Err::AliasInvalidChar"),
            ("Alias/app".into(), "Err::InvalidKeyId"),
            ("".into(), "Err::Empty"),
            // Key IDs.
            ("1234abcd-12ab-34cd-56ef-1234567890ab".into(), "KeyId"),
            ("1234ABCD-12AB-34CD-56EF-1234567890AB".into(), "KeyId"),
            ("mrk-1234ABCD12AB34CD56EF1234567890AB".into(), "KeyId"),
            ("mrk-1234abcd12ab34cd56ef1234567890ab".into(), "KeyId"),
            ("1234abcd-12ab-34cd-56ef-1234567890a".into(), "Err::InvalidKeyId"),
            ("1234abcd-12ab-34cd-56ef-1234567890abc".into(), "Err::InvalidKeyId"),
            ("1234abcd12ab34cd56ef1234567890ab".into(), "Err::InvalidKeyId"),
            ("1234abcg-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidKeyId"),
            ("mrk-1234abcd12ab34cd56ef1234567890a".into(), "Err::InvalidKeyId"),
            ("mrk-1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidKeyId"),
            ("payments-key".into(), "Err::InvalidKeyId"),
            // Key ARNs.
            (arn("key/1234abcd-12ab-34cd-56ef-1234567890ab"), "KeyArn"),
            (arn("key/mrk-1234abcd12ab34cd56ef1234567890ab"), "KeyArn"),
            ("arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "KeyArn"),
            ("arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "KeyArn"),
            ("arn:aws:kms:ap-southeast-4:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "KeyArn"),
            (arn("key/not-a-key"), "Err::InvalidArn"),
            (arn("key/"), "Err::InvalidArn"),
            ("arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            ("arn:aws-iso:kms:us-iso-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            ("arn:aws:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            ("arn:aws:kms:us-iso-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            ("arn:aws:kms:us-isob-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            ("arn:aws:kms:eu-isoe-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            ("arn:aws-cn:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            ("arn:aws:kms:us-east-1:11112222333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            ("arn:aws:kms:us-east-1:11112222333a:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            ("arn:aws:kms:useast1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            ("arn:aws:kms::111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            ("arn:aws:kms:us-east-1:111122223333".into(), "Err::InvalidArn"),
            (arn("grant/1234"), "Err::InvalidArn"),
            ("arn:aws:kms:US-EAST-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(), "Err::InvalidArn"),
            // Alias ARNs.
            (arn("alias/app"), "AliasArn"),
            (arn("alias/team/app"), "AliasArn"),
            (arn("alias/aws/s3"), "Err::AliasReserved"),
            (arn("alias/bad name"), "Err::AliasInvalidChar"),
            (arn("alias/"), "Err::AliasEmptyName"),
        ];
        assert!(cases.len() >= 40);
        let failures: Vec<String> = cases
            .iter()
            .filter(|(input, want)| kind(input) != *want)
            .map(|(input, want)| format!("{input:?}: want {want}, got {}", kind(input)))
            .collect();
        assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
    }

    #[test]
    fn valid_references_print_as_given() {
        for input in [
            "alias/app",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            EXAMPLE_KEY_ARN,
            EXAMPLE_ALIAS_ARN,
            "arn:aws-us-gov:kms:us-gov-east-1:111122223333:alias/x",
        ] {
            let key: KeyRef = input.parse().unwrap();
            assert_eq!(key.to_string(), input);
        }
    }

    #[test]
    fn a_multi_region_keys_arn_in_another_region_differs_only_in_the_region() {
        let arn: KeyArn = "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
            .parse()
            .unwrap();
        let there = arn.in_region("us-gov-east-1").unwrap();
        assert_eq!(
            there.to_string(),
            "arn:aws-us-gov:kms:us-gov-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
        );
        assert_eq!(there.key_id(), arn.key_id());
        assert_eq!(arn.in_region("not a region"), None);
    }

    #[test]
    fn key_ids_are_normalized_to_lower_case() {
        let upper: KeyArn =
            "arn:aws:kms:us-east-1:111122223333:key/1234ABCD-12AB-34CD-56EF-1234567890AB"
                .parse()
                .unwrap();
        let lower: KeyArn = EXAMPLE_KEY_ARN.parse().unwrap();
        assert_eq!(upper, lower);
        assert_eq!(upper.to_string(), EXAMPLE_KEY_ARN);
    }

    #[test]
    fn arns_expose_their_parts() {
        let arn: KeyArn = EXAMPLE_KEY_ARN.parse().unwrap();
        assert_eq!(arn.partition(), Partition::Aws);
        assert_eq!(arn.region(), "us-east-1");
        assert_eq!(arn.account(), "111122223333");
        assert_eq!(arn.key_id().as_str(), EXAMPLE_KEY_ID);
        let alias: AliasArn = EXAMPLE_ALIAS_ARN.parse().unwrap();
        assert_eq!(alias.alias().short_name(), "payments/data-key");
        assert!(EXAMPLE_ALIAS_ARN.parse::<KeyArn>().is_err());
        assert!(EXAMPLE_KEY_ARN.parse::<AliasArn>().is_err());
    }

    #[test]
    fn error_messages_say_what_a_valid_value_looks_like() {
        let check = |input: &str, expect: &str| {
            let message = input.parse::<KeyRef>().unwrap_err().to_string();
            assert!(message.contains(expect), "{input:?} gave {message:?}");
        };
        check("alias/aws/ebs", "reserved for AWS managed keys");
        check("alias/aws/ebs", EXAMPLE_ALIAS);
        check("alias/a.b", "'.' at position 7");
        check("payments", "did you mean the alias `alias/payments`?");
        check("1234", EXAMPLE_KEY_ID);
        check("Alias/app", "in lower case");
        check(
            "arn:aws:kms:cn-north-1:111122223333:alias/x",
            "region `cn-north-1` is not in partition `aws`",
        );
        check("arn:aws:kms:us-east-1:1:alias/x", "12 digits");
    }

    #[test]
    fn data_plane_refuses_raw_keys() {
        assert!(matches!(
            "alias/app".parse::<AliasRef>(),
            Ok(AliasRef::Name(_))
        ));
        assert!(matches!(
            EXAMPLE_ALIAS_ARN.parse::<AliasRef>(),
            Ok(AliasRef::Arn(_))
        ));
        for raw in [EXAMPLE_KEY_ID, EXAMPLE_KEY_ARN, EXAMPLE_MRK_ID] {
            let err = raw.parse::<AliasRef>().unwrap_err();
            assert!(matches!(err, ParseError::NotAnAlias(_)), "{raw}: {err:?}");
            assert!(err.to_string().contains("takes an alias"));
        }
    }

    #[test]
    fn every_type_round_trips_through_json() {
        fn round_trip<T>(input: &str)
        where
            T: FromStr + Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug,
            T::Err: fmt::Debug,
        {
            let value: T = input.parse().unwrap();
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{input}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
        }
        round_trip::<AliasName>("alias/app");
        round_trip::<KeyId>(EXAMPLE_KEY_ID);
        round_trip::<KeyArn>(EXAMPLE_KEY_ARN);
        round_trip::<AliasArn>(EXAMPLE_ALIAS_ARN);
        round_trip::<KeyRef>(EXAMPLE_MRK_ID);
        round_trip::<AliasRef>("alias/app");
    }

    #[test]
    fn deserializing_validates_again() {
        let err = serde_json::from_str::<AliasName>("\"alias/aws/s3\"").unwrap_err();
        assert!(err.to_string().contains("reserved"));
    }
}

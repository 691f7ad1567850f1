//! Encryption contexts: the non-secret key-value pairs that KMS binds to a ciphertext.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An encryption context. Decryption must present exactly the pairs used to encrypt.
///
/// Ordered, so that it prints and serializes the same way every time.
///
/// `Debug` shows the keys only: kmsrot's logs and messages never carry context values.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl fmt::Debug for EncryptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.keys()).finish()
    }
}

/// Why a `key=value` pair could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// The pair has no `=`.
    #[error(
        "encryption context pair `{0}` has no `=`; write it as key=value, for example purpose=backup"
    )]
    MissingEquals(String),
    /// The key part is empty. The pair is not repeated, since its value may be sensitive.
    #[error(
        "an encryption context pair has an empty key; write it as key=value, for example purpose=backup"
    )]
    EmptyKey,
    /// The same key was given twice.
    #[error("encryption context key `{0}` is given twice; each key may appear once")]
    DuplicateKey(String),
}

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `key=value` pairs, as the CLI's `--context` flags give them. The value may contain
    /// `=`; only the first one separates key from value.
    pub fn from_pairs<I, S>(pairs: I) -> Result<Self, ContextError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut map = BTreeMap::new();
        for pair in pairs {
            let pair = pair.as_ref();
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| ContextError::MissingEquals(pair.to_owned()))?;
            if key.is_empty() {
                return Err(ContextError::EmptyKey);
            }
            if map.insert(key.to_owned(), value.to_owned()).is_some() {
                return Err(ContextError::DuplicateKey(key.to_owned()));
            }
        }
        Ok(Self(map))
    }

    /// Adds or replaces one pair.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The keys, ordered. Error messages name keys, never values.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl fmt::Display for EncryptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pairs: &[&str], expect: Result<&str, ContextError>) {
        let got = EncryptionContext::from_pairs(pairs).map(|c| c.to_string());
        assert_eq!(got, expect.map(str::to_owned), "input: {pairs:?}");
    }

    #[test]
    fn parses_pairs() {
        check(&[], Ok(""));
        check(&["a=1"], Ok("a=1"));
        check(&["b=2", "a=1"], Ok("a=1,b=2"));
        check(&["a="], Ok("a="));
        check(&["url=a=b"], Ok("url=a=b"));
        check(&["a"], Err(ContextError::MissingEquals("a".into())));
        check(&["=1"], Err(ContextError::EmptyKey));
        check(&["a=1", "a=2"], Err(ContextError::DuplicateKey("a".into())));
    }

    #[test]
    fn debug_and_errors_never_show_values() {
        let ctx = EncryptionContext::from_pairs(["tenant=acme"]).unwrap();
        assert_eq!(format!("{ctx:?}"), r#"{"tenant"}"#);
        let err = EncryptionContext::from_pairs(["=hunter2"]).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn round_trips_through_json_as_an_object() {
        let ctx: EncryptionContext = [("tenant", "acme"), ("purpose", "backup")]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&ctx).unwrap();
        assert_eq!(json, r#"{"purpose":"backup","tenant":"acme"}"#);
        assert_eq!(
            serde_json::from_str::<EncryptionContext>(&json).unwrap(),
            ctx
        );
    }
}

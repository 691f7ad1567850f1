//! `kmsrot sign` and `kmsrot verify`: signatures that carry the ARN of the key that made
//! them, so they verify after the alias moves.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use kmsrot_core::{HistoryKey, Kms, KmsError, Subject};
use kmsrot_types::{AliasName, AliasRef, KeyArn, Signature};

use crate::Global;
use crate::io::{Sink, read_document, read_input};
use crate::output::{Checked, print_verified, render_json};

/// Arguments of `kmsrot sign`.
#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// The alias of an asymmetric SIGN_VERIFY key.
    #[arg(long, value_name = "ALIAS", env = "KMSROT_ALIAS")]
    alias: AliasRef,
    /// Read the message (at most 4096 bytes) from FILE [default: stdin].
    #[arg(short = 'i', long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write the signature document (JSON: key ARN, algorithm, signature) to FILE
    /// [default: stdout].
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
}

pub(crate) async fn sign(global: &Global, args: SignArgs) -> Result<()> {
    let message = read_input(args.input.as_deref())?;
    let kms = super::kms(global).await?.alias(args.alias.clone());
    let signature = kms
        .sign(&message)
        .await
        .with_context(|| format!("signing {} bytes", message.len()))?;
    Sink::new(args.out).write(&render_json(&signature)?)
}

/// Who the caller trusts to have made a signature or MAC: `verify` and `verify-mac` share it.
#[derive(Debug, clap::Args)]
pub(crate) struct TrustArgs {
    /// The signer must be this alias's current key, or a key of its history as kmsrot's tags
    /// record it
    #[arg(long, value_name = "ALIAS", conflicts_with = "key")]
    alias: Option<AliasName>,
    /// The signer must be exactly this key
    #[arg(long, value_name = "KEY_ARN")]
    key: Option<KeyArn>,
}

/// Valid, but nothing said which key should have made it.
#[derive(Debug, thiserror::Error)]
#[error(
    "the {0} is valid, but its signer was not checked: any key the caller may use could have made it; give --alias ALIAS or --key KEY_ARN to say which key you trust"
)]
pub(crate) struct Unchecked(pub(crate) &'static str);

/// The keys a caller trusts to have made a signature or MAC, and how errors name them.
pub(crate) struct Trusted {
    subject: Subject,
    keys: Vec<HistoryKey>,
}

impl TrustArgs {
    /// The keys trusted; `None` when nothing is trusted.
    pub(crate) async fn trusted(&self, kms: &Kms) -> Result<Option<Trusted>> {
        if let Some(key) = &self.key {
            return Ok(Some(Trusted {
                subject: Subject::Key(key.clone()),
                keys: vec![HistoryKey {
                    arn: key.clone(),
                    public_key_sha256: None,
                }],
            }));
        }
        let Some(alias) = &self.alias else {
            return Ok(None);
        };
        let keys = kms
            .history_keys(alias)
            .await
            .with_context(|| format!("reading the history of {alias}"))?;
        Ok(Some(Trusted {
            subject: Subject::Alias(AliasRef::Name(alias.clone())),
            keys,
        }))
    }
}

/// Refuses `key` unless it is trusted.
pub(crate) fn check_signer(
    trusted: Option<&Trusted>,
    key: &KeyArn,
    region: &str,
) -> Result<(), KmsError> {
    match trusted {
        Some(trusted) if !trusted.keys.iter().any(|k| &k.arn == key) => {
            Err(KmsError::NotInHistory {
                subject: trusted.subject.clone(),
                region: region.to_owned(),
                key: key.clone(),
            })
        }
        _ => Ok(()),
    }
}

/// Arguments of `kmsrot verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The signature document `kmsrot sign` wrote.
    #[arg(long, value_name = "FILE")]
    signature: PathBuf,
    /// Read the message from FILE [default: stdin].
    #[arg(short = 'i', long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Verify without calling KMS, with the public key in --public-key (for verifiers without
    /// KMS access, and keys disabled or deleted); needs --key
    #[arg(long, requires_all = ["key", "public_key"])]
    offline: bool,
    /// The trusted signer's public key, as `aws kms get-public-key` returns it (DER, or its
    /// base64 text); the one in the signature document is only compared with it
    #[arg(long, value_name = "FILE", requires = "offline")]
    public_key: Option<PathBuf>,
}

pub(crate) async fn verify(global: &Global, args: VerifyArgs) -> Result<()> {
    let signature: Signature = read_document(&args.signature, "signature")?;
    let message = read_input(args.input.as_deref())?;
    if args.offline {
        let (Some(key), Some(path)) = (&args.trust.key, &args.public_key) else {
            bail!(crate::exit::UsageError(
                "--offline needs --key KEY_ARN and --public-key FILE".into()
            ));
        };
        let signer = verify_offline(&signature, &message, key, path)?;
        return print_verified(global.output, "signed", &signer, Checked::Offline);
    }
    let kms = super::kms(global).await?;
    let trusted = args.trust.trusted(&kms).await?;
    let region = kms.region().to_owned();
    check_signer(trusted.as_ref(), &signature.key_arn, &region)?;
    let signer = match kms.verify(&message, &signature).await {
        Ok(signer) => signer,
        Err(
            err @ (KmsError::Disabled { .. }
            | KmsError::PendingDeletion { .. }
            | KmsError::NotFound { .. }),
        ) => {
            // KMS no longer verifies with the key: what kmsrot recorded of its public key,
            // while KMS still gave it, is the trusted signer now.
            let recorded = match &trusted {
                Some(trusted) => recorded_public_key(&kms, trusted, &signature.key_arn).await?,
                None => None,
            };
            let Some(sha256) = recorded else {
                return Err(anyhow::Error::new(err).context(format!(
                    "verifying: KMS no longer verifies with {key}, and kmsrot recorded no public key for it{unchecked}; verify offline with the public key you trust for it: `kmsrot verify --offline --key {key} --public-key FILE`",
                    key = signature.key_arn,
                    unchecked = if trusted.is_none() {
                        " that this command may trust (give --alias or --key)"
                    } else {
                        ""
                    },
                )));
            };
            verify_recorded(&signature, &message, &sha256, &region)?;
            return print_verified(
                global.output,
                "signed",
                &signature.key_arn,
                Checked::Recorded,
            );
        }
        Err(err) => return Err(anyhow::Error::new(err).context("verifying")),
    };
    check_signer(trusted.as_ref(), &signer, &region)?;
    let checked = if trusted.is_some() {
        Checked::Signer
    } else {
        Checked::NotSigner
    };
    print_verified(global.output, "signed", &signer, checked)?;
    if trusted.is_none() {
        return Err(Unchecked("signature").into());
    }
    Ok(())
}

/// The public key fingerprint kmsrot recorded for a trusted key: from the alias's history as
/// read, or, for `--key`, from the key's own tags.
async fn recorded_public_key(kms: &Kms, trusted: &Trusted, key: &KeyArn) -> Result<Option<String>> {
    let Some(entry) = trusted.keys.iter().find(|k| &k.arn == key) else {
        return Ok(None);
    };
    if entry.public_key_sha256.is_some() || matches!(trusted.subject, Subject::Alias(_)) {
        return Ok(entry.public_key_sha256.clone());
    }
    kms.recorded_public_key(key)
        .await
        .with_context(|| format!("reading the public key kmsrot recorded for {key}"))
}

/// Offline verification against a recorded fingerprint: the document's public key must be
/// the one recorded.
fn verify_recorded(
    signature: &Signature,
    message: &[u8],
    sha256: &str,
    region: &str,
) -> Result<()> {
    let key = &signature.key_arn;
    let Some(carried) = &signature.public_key else {
        bail!(crate::exit::UsageError(format!(
            "KMS no longer verifies with {key}, and the signature document carries no public key (it was made before kmsrot wrote one); verify offline with the public key you trust for it: `kmsrot verify --offline --key {key} --public-key FILE`"
        )));
    };
    if kmsrot_core::offline::fingerprint(carried.as_slice()) != sha256 {
        return Err(anyhow::Error::new(KmsError::InvalidSignature {
            subject: Subject::Key(key.clone()),
            region: region.to_owned(),
        })
        .context(format!(
            "the public key in the signature document is not the one kmsrot recorded for {key}"
        )));
    }
    check_offline(signature, message, carried.as_slice())
}

/// Offline verification: the document must name the trusted key, carry its key spec, and (if
/// it carries a public key) the one trusted.
fn verify_offline(
    signature: &Signature,
    message: &[u8],
    key: &KeyArn,
    public_key: &std::path::Path,
) -> Result<KeyArn> {
    if &signature.key_arn != key {
        return Err(KmsError::NotInHistory {
            subject: Subject::Key(key.clone()),
            region: key.region().to_owned(),
            key: signature.key_arn.clone(),
        }
        .into());
    }
    let raw = std::fs::read(public_key)
        .with_context(|| format!("reading the public key {}", public_key.display()))?;
    let trusted = match std::str::from_utf8(&raw)
        .ok()
        .and_then(|text| kmsrot_types::Base64Bytes::from_base64(text).ok())
    {
        Some(decoded) => decoded.as_slice().to_vec(),
        None => raw,
    };
    if let Some(carried) = &signature.public_key
        && carried.as_slice() != trusted.as_slice()
    {
        bail!(KmsError::InvalidSignature {
            subject: Subject::Key(key.clone()),
            region: key.region().to_owned(),
        });
    }
    check_offline(signature, message, &trusted)?;
    Ok(key.clone())
}

/// The signature checked with a trusted public key, by the key spec the document records.
fn check_offline(signature: &Signature, message: &[u8], public_key: &[u8]) -> Result<()> {
    let Some(spec) = &signature.key_spec else {
        bail!(crate::exit::UsageError(
            "the signature document has no key_spec (it was made before kmsrot recorded one); verify it through KMS".into()
        ));
    };
    kmsrot_core::offline::verify(
        public_key,
        spec,
        &signature.signing_algorithm,
        message,
        signature.signature.as_slice(),
    )
    .context("verifying offline")
}

//! `kmsrot sign` and `kmsrot verify`: signatures that carry the ARN of the key that made
//! them, so they verify after the alias moves.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use kmsrot_core::{Kms, KmsError, Subject};
use kmsrot_types::{AliasName, AliasRef, KeyArn, Signature};

use crate::Global;
use crate::io::{Sink, read_document, read_input};
use crate::output::{print_verified, render_json};

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

impl TrustArgs {
    /// The keys trusted, and how errors name them; `None` when nothing is trusted.
    pub(crate) async fn trusted(&self, kms: &Kms) -> Result<Option<(Subject, Vec<KeyArn>)>> {
        if let Some(key) = &self.key {
            return Ok(Some((Subject::Key(key.clone()), vec![key.clone()])));
        }
        let Some(alias) = &self.alias else {
            return Ok(None);
        };
        let history = kms
            .history(alias)
            .await
            .with_context(|| format!("reading the history of {alias}"))?;
        Ok(Some((
            Subject::Alias(AliasRef::Name(alias.clone())),
            history,
        )))
    }
}

/// Refuses `key` unless it is trusted.
pub(crate) fn check_signer(
    trusted: Option<&(Subject, Vec<KeyArn>)>,
    key: &KeyArn,
    region: &str,
) -> Result<(), KmsError> {
    match trusted {
        Some((subject, keys)) if !keys.contains(key) => Err(KmsError::NotInHistory {
            subject: subject.clone(),
            region: region.to_owned(),
            key: key.clone(),
        }),
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
        return print_verified(global.output, "signed", &signer, true);
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
            return Err(anyhow::Error::new(err).context(format!(
                "verifying: KMS no longer verifies with {}; verify offline with the public key you trust for it: `kmsrot verify --offline --key {} --public-key FILE`",
                signature.key_arn, signature.key_arn
            )));
        }
        Err(err) => return Err(anyhow::Error::new(err).context("verifying")),
    };
    check_signer(trusted.as_ref(), &signer, &region)?;
    print_verified(global.output, "signed", &signer, trusted.is_some())?;
    if trusted.is_none() {
        return Err(Unchecked("signature").into());
    }
    Ok(())
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
    let Some(spec) = &signature.key_spec else {
        bail!(crate::exit::UsageError(
            "the signature document has no key_spec (it was made before kmsrot recorded one); verify it through KMS".into()
        ));
    };
    kmsrot_core::offline::verify(
        &trusted,
        spec,
        &signature.signing_algorithm,
        message,
        signature.signature.as_slice(),
    )
    .context("verifying offline")?;
    Ok(key.clone())
}

//! `kmsrot init` and `kmsrot adopt`: putting an alias under a rotation policy.

use anyhow::{Context, Result};
use kmsrot_core::RotationError;
use kmsrot_types::key_kind::{self, SpecInfo};
use kmsrot_types::{AliasName, KeyRef, Mode, Policy, RotationStatus};

use crate::Global;
use crate::output::{STATUS_HEADERS, emit, print_table, status_notes, status_row};

/// The policy flags shared by `init` and `adopt`. Unset flags take kmsrot's defaults.
#[derive(Debug, clap::Args)]
pub(crate) struct PolicyArgs {
    /// automatic: KMS rotates the key material (symmetric keys of origin AWS_KMS); manual:
    /// kmsrot moves the alias to a new key [default: automatic for SYMMETRIC_DEFAULT keys,
    /// manual for the others]
    #[arg(long)]
    mode: Option<Mode>,
    /// Rotate a key older than this, in days [default: 365]
    #[arg(long, value_name = "DAYS")]
    max_age_days: Option<u32>,
    /// Automatic rotation period, 90 to 2560 days [default: 365]
    #[arg(long, value_name = "DAYS")]
    period_days: Option<u32>,
    /// Days a previous key stays enabled after a manual rotation, 0 to 365 [default: 30]
    #[arg(long, value_name = "DAYS")]
    grace_days: Option<u32>,
    /// Days between disabling a previous key and scheduling its deletion, 0 to 365
    /// [default: 30]
    #[arg(long, value_name = "DAYS")]
    delete_after_days: Option<u32>,
    /// The deletion window, 7 to 30 days [default: 30]
    #[arg(long, value_name = "DAYS")]
    deletion_window_days: Option<u32>,
    /// Days without a successful use of an old key (KMS's GetKeyLastUsage) before it is
    /// disabled, 1 to 365 [default: 30]
    #[arg(long, value_name = "DAYS")]
    quiet_days: Option<u32>,
    /// Leave old keys enabled until their deletion is scheduled: for HMAC keys, whose MACs
    /// only KMS can verify (true or false) [default: false]
    #[arg(long, value_name = "BOOL")]
    keep_enabled: Option<bool>,
}

impl PolicyArgs {
    /// The policy: these flags over `base` (the defaults, or the alias's current policy).
    fn over(&self, base: Policy) -> Policy {
        Policy {
            mode: self.mode.unwrap_or(base.mode),
            max_age_days: self.max_age_days.unwrap_or(base.max_age_days),
            period_days: self.period_days.unwrap_or(base.period_days),
            grace_days: self.grace_days.unwrap_or(base.grace_days),
            delete_after_days: self.delete_after_days.unwrap_or(base.delete_after_days),
            deletion_window_days: self
                .deletion_window_days
                .unwrap_or(base.deletion_window_days),
            quiet_days: self.quiet_days.unwrap_or(base.quiet_days),
            keep_enabled: self.keep_enabled.unwrap_or(base.keep_enabled),
        }
    }
}

/// One status as `kmsrot status` prints it: the row, then its notes (grants, holds,
/// warnings).
fn print_status(status: &kmsrot_types::AliasStatus) -> Result<()> {
    print_table(&STATUS_HEADERS, &[status_row(status)])?;
    let notes: String = status_notes(status)
        .into_iter()
        .map(|line| format!("{line}\n"))
        .collect();
    crate::io::Sink::Stdout.write(notes.as_bytes())
}

/// The mode a new policy takes for a key spec, from the key-kind table; a spec KMS does not
/// offer gets manual, and is then refused for what it is.
fn default_mode(spec: &str) -> Mode {
    key_kind::spec_info(spec).map_or(Mode::Manual, SpecInfo::default_mode)
}

/// Arguments of `kmsrot init`.
#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// The alias to create (`alias/NAME`).
    alias: AliasName,
    /// The key spec: SYMMETRIC_DEFAULT, RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256,
    /// ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, ECC_NIST_EDWARDS25519, ML_DSA_44, ML_DSA_65,
    /// ML_DSA_87, SM2 (China Regions only), HMAC_224, HMAC_256, HMAC_384, HMAC_512
    #[arg(long, default_value = "SYMMETRIC_DEFAULT")]
    key_spec: String,
    /// The key usage: ENCRYPT_DECRYPT, SIGN_VERIFY or GENERATE_VERIFY_MAC [default: the spec's
    /// only usage; ENCRYPT_DECRYPT for RSA and SM2; SIGN_VERIFY for ECC]
    #[arg(long)]
    key_usage: Option<String>,
    /// The key's description [default: "kmsrot: ALIAS"]
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub(crate) async fn init(global: &Global, args: InitArgs) -> Result<()> {
    // A spec KMS does not offer keeps KMS's own default usage here, and the engine refuses it
    // with the list of specs.
    let usage = args.key_usage.clone().unwrap_or_else(|| {
        key_kind::spec_info(&args.key_spec)
            .map_or(key_kind::usage::ENCRYPT_DECRYPT, SpecInfo::default_usage)
            .to_owned()
    });
    let policy = args.policy.over(Policy::new(default_mode(&args.key_spec)));
    let engine = super::rotator(global).await?;
    let status = engine
        .init(
            &args.alias,
            &args.key_spec,
            &usage,
            args.description.as_deref(),
            policy,
        )
        .await
        .with_context(|| format!("creating {} ({} {usage})", args.alias, args.key_spec))?;
    emit(global.output, || &status, || print_status(&status))
}

/// Arguments of `kmsrot adopt`.
#[derive(Debug, clap::Args)]
pub(crate) struct AdoptArgs {
    /// The existing alias to manage (`alias/NAME`). Its key gets kmsrot's tags and nothing
    /// else changes. Run again to change the policy.
    alias: AliasName,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub(crate) async fn adopt(global: &Global, args: AdoptArgs) -> Result<()> {
    let engine = super::rotator(global).await?;
    // Unset flags keep the alias's policy when it has one; otherwise the defaults for its key.
    let base = match engine.policy(&args.alias).await {
        Ok(policy) => policy,
        // A policy in the tags that cannot be read is replaced by what the flags say over
        // the defaults; every other failure stops here.
        Err(RotationError::Unmanaged { .. } | RotationError::PolicyTags { .. }) => {
            let info = engine
                .kms()
                .describe(&KeyRef::Alias(args.alias.clone()))
                .await
                .with_context(|| format!("reading {}", args.alias))?;
            let mode = match info.rotation {
                RotationStatus::Unsupported => Mode::Manual,
                _ => default_mode(&info.key_spec),
            };
            Policy::new(mode)
        }
        Err(err) => return Err(anyhow::Error::new(err).context(format!("reading {}", args.alias))),
    };
    let status = engine
        .adopt(&args.alias, args.policy.over(base))
        .await
        .with_context(|| format!("adopting {}", args.alias))?;
    emit(global.output, || &status, || print_status(&status))
}

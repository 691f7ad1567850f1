//! The round trip through the alias, by key usage: encrypt and decrypt, sign and verify, or
//! MAC and verify.

use anyhow::{Result, bail};
use kmsrot_core::{AliasKms, Kms};
use kmsrot_types::{AsymmetricCiphertext, Ciphertext, EncryptionContext, KeyArn, Mac, Signature};

/// What the key is used for, and so which pair of operations the checks use.
#[derive(Debug, Clone, Copy)]
pub(super) enum Usage {
    Symmetric,
    Asymmetric,
    Signing,
    Mac,
}

/// Data made through the alias, to be opened later.
#[derive(Debug, Clone)]
pub(super) enum Sealed {
    Symmetric(Ciphertext),
    Asymmetric(AsymmetricCiphertext),
    Signature(Vec<u8>, Signature),
    Mac(Vec<u8>, Mac),
}

impl Sealed {
    pub(super) fn key_arn(&self) -> &KeyArn {
        match self {
            Sealed::Symmetric(c) => &c.key_arn,
            Sealed::Asymmetric(c) => &c.key_arn,
            Sealed::Signature(_, s) => &s.key_arn,
            Sealed::Mac(_, m) => &m.key_arn,
        }
    }
}

/// Random bytes for a round trip; never printed.
fn message() -> Vec<u8> {
    std::iter::repeat_with(|| fastrand::u8(..))
        .take(32)
        .collect()
}

impl Usage {
    /// The round trip for a key, as the key-kind table (`kmsrot_types::KeyKind`) says.
    pub(super) fn of(usage: &str, spec: &str) -> Result<Self> {
        Ok(match kmsrot_types::KeyKind::of(spec, usage) {
            Ok(kmsrot_types::KeyKind::Symmetric) => Usage::Symmetric,
            Ok(kmsrot_types::KeyKind::Asymmetric(_)) => Usage::Asymmetric,
            Ok(kmsrot_types::KeyKind::Sign(_)) => Usage::Signing,
            Ok(kmsrot_types::KeyKind::Mac(_)) => Usage::Mac,
            Err(err) => bail!("kmsrot-validate cannot check this key: {err}"),
        })
    }

    pub(super) fn operations(self) -> (&'static str, &'static str) {
        match self {
            Usage::Symmetric | Usage::Asymmetric => ("Encrypt", "Decrypt"),
            Usage::Signing => ("Sign", "Verify"),
            Usage::Mac => ("GenerateMac", "VerifyMac"),
        }
    }

    pub(super) async fn seal(
        self,
        alias: &AliasKms,
        context: &EncryptionContext,
    ) -> Result<Sealed> {
        let message = message();
        Ok(match self {
            Usage::Symmetric => Sealed::Symmetric(alias.encrypt(&message, context).await?),
            Usage::Asymmetric => Sealed::Asymmetric(alias.encrypt_asymmetric(&message).await?),
            Usage::Signing => {
                let signature = alias.sign(&message).await?;
                Sealed::Signature(message, signature)
            }
            Usage::Mac => {
                let mac = alias.generate_mac(&message).await?;
                Sealed::Mac(message, mac)
            }
        })
    }

    pub(super) async fn open(
        self,
        kms: &Kms,
        sealed: &Sealed,
        context: &EncryptionContext,
    ) -> Result<()> {
        match sealed {
            Sealed::Symmetric(c) => {
                let opened = kms.decrypt(c.ciphertext.as_slice(), context).await?;
                if opened.key_arn != c.key_arn {
                    bail!(
                        "Decrypt used {}, but the data was encrypted under {}",
                        opened.key_arn,
                        c.key_arn
                    );
                }
            }
            Sealed::Asymmetric(c) => {
                kms.decrypt_asymmetric(c).await?;
            }
            Sealed::Signature(message, signature) => {
                let signer = kms.verify(message, signature).await?;
                if signer != signature.key_arn {
                    bail!("Verify used {signer}, but {} signed", signature.key_arn);
                }
            }
            Sealed::Mac(message, mac) => {
                let signer = kms.verify_mac(message, mac).await?;
                if signer != mac.key_arn {
                    bail!("VerifyMac used {signer}, but {} made the MAC", mac.key_arn);
                }
            }
        }
        Ok(())
    }
}

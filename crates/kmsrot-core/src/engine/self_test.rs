//! Step 2 of a manual rotation: the new key proves itself before the alias moves to it. Its
//! spec and usage must equal the current key's, and a real round trip through its ARN must
//! work, as its key kind says (`kmsrot_types::KeyKind`): encrypt and decrypt, sign and verify,
//! or generate and verify a MAC. The calls are `Kms`'s own by-ARN primitives, the ones
//! `AliasKms` uses, made through the store's pace.

use kmsrot_types::key_kind::SYMMETRIC_DEFAULT;
use kmsrot_types::{AliasName, AsymmetricCiphertext, EncryptionContext, KeyKind};

use super::keys::KeyView;
use super::{RotationError, Rotator};
use crate::{KmsError, Subject};

impl Rotator {
    /// Step 2: the new key has the current key's spec and usage, and a real round trip
    /// through its ARN works.
    pub(super) async fn self_test(
        &self,
        alias: &AliasName,
        current: &KeyView,
        new: &KeyView,
    ) -> Result<(), RotationError> {
        self.mismatch(alias, current, new)?;
        let check = KeyKind::of(&new.spec, &new.usage)
            .map_err(|err| self.unsupported(alias, format!("{}: {err}", new.arn)))?;
        let probe: Vec<u8> = std::iter::repeat_with(|| fastrand::u8(..))
            .take(32)
            .collect();
        let fail = |source: KmsError| RotationError::SelfTest {
            alias: alias.clone(),
            key: new.arn.clone(),
            check: check.check_name(),
            source: Box::new(source),
        };
        let subject = Subject::Key(new.arn.clone());
        let kms = self.store.kms();
        let ok = match check {
            KeyKind::Symmetric | KeyKind::Asymmetric(_) => {
                let algorithm = check.asymmetric_encryption().unwrap_or(SYMMETRIC_DEFAULT);
                let sealed = self
                    .store
                    .paced(kms.encrypt_with(&new.arn, algorithm, &probe, &subject))
                    .await
                    .map_err(fail)?;
                // The other half through kmsrot's own decryption, the way data is read later.
                match check {
                    KeyKind::Asymmetric(algorithm) => {
                        let ciphertext = AsymmetricCiphertext {
                            key_arn: new.arn.clone(),
                            encryption_algorithm: algorithm.to_owned(),
                            ciphertext: sealed.into(),
                        };
                        let plaintext = self
                            .store
                            .paced(kms.decrypt_asymmetric(&ciphertext))
                            .await
                            .map_err(fail)?;
                        plaintext.expose() == probe.as_slice()
                    }
                    _ => {
                        let out = self
                            .store
                            .paced(kms.decrypt(&sealed, &EncryptionContext::default()))
                            .await
                            .map_err(fail)?;
                        out.key_arn == new.arn && out.plaintext.expose() == probe.as_slice()
                    }
                }
            }
            KeyKind::Sign(algorithm) => {
                let signature = self
                    .store
                    .paced(kms.sign_with(&new.arn, algorithm, &probe, &subject))
                    .await
                    .map_err(fail)?;
                self.store
                    .paced(kms.verify(&probe, &signature))
                    .await
                    .map_err(fail)?;
                self.record_public_key(new).await.map_err(fail)?;
                true
            }
            KeyKind::Mac(algorithm) => {
                let mac = self
                    .store
                    .paced(kms.generate_mac_with(&new.arn, algorithm, &probe, &subject))
                    .await
                    .map_err(fail)?;
                self.store
                    .paced(kms.verify_mac(&probe, &mac))
                    .await
                    .map_err(fail)?;
                true
            }
        };
        if ok {
            Ok(())
        } else {
            Err(fail(kms.unexpected(
                "self-test",
                "the round trip did not give back what went in",
            )))
        }
    }
}

//! Integration tests: kmsrot through the real AWS SDK against the local emulator that
//! `cargo xtask test` starts. One binary, one module per concern.

mod aliases;
mod emulator;
mod envelope;
mod errors;
mod multi_region;
mod policies;
mod races;
mod retirement;
mod rotation;
mod s3;
mod sweep;
mod tampering;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use kmsrot_testsuite::TestEnv;

async fn env() -> TestEnv {
    TestEnv::from_env().await.expect("test environment")
}

fn symmetric() -> (KeySpec, KeyUsageType) {
    (KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
}

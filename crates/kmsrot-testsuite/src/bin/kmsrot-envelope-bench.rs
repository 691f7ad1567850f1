//! `kmsrot-envelope-bench`: what `cargo xtask bench` measures of the envelope library that
//! the CLI cannot show: the KMS requests sent for many small messages with the data-key cache
//! on, counted by an interceptor on the client (every request sent, retries off). Prints one
//! JSON object.

#![allow(clippy::print_stdout, reason = "a benchmark helper reports on stdout")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use kmsrot_core::Kms;
use kmsrot_core::envelope::{CacheLimits, DataKeyCache, EncryptOptions};
use kmsrot_testsuite::{FaultInjector, TestEnv};
use kmsrot_types::EncryptionContext;

/// Encrypt many small messages through an alias with the data-key cache on, and count the KMS
/// requests sent. Reads the endpoint and credentials from the environment, as the tests do.
#[derive(Debug, Parser)]
#[command(name = "kmsrot-envelope-bench")]
struct Args {
    /// The alias (`alias/NAME`).
    #[arg(long)]
    alias: String,
    /// Messages to encrypt.
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// Bytes per message.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// The cache's maximum age, in seconds.
    #[arg(long, default_value_t = 300)]
    max_age: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let env = TestEnv::from_env().await.context("the environment")?;
    let requests = FaultInjector::default();
    let kms = Kms::from_client(env.faulty_client(&requests));
    let alias = kms.alias_from_str(&args.alias)?;
    let cache = Arc::new(DataKeyCache::new(
        CacheLimits::new(Duration::from_secs(args.max_age)),
        16,
    ));
    let options = EncryptOptions {
        signed: false,
        cache: Some(cache.clone()),
        ..EncryptOptions::default()
    };
    let mut context = EncryptionContext::new();
    context.insert("purpose", "bench");
    let plaintext = vec![0x5a; args.size];
    let started = Instant::now();
    let mut bytes = 0;
    for _ in 0..args.messages {
        bytes += alias
            .envelope_encrypt(&context, &plaintext, &options)
            .await?
            .len();
    }
    let seconds = started.elapsed().as_secs_f64();
    let stats = cache.stats();
    println!(
        "{}",
        serde_json::json!({
            "messages": args.messages,
            "message_bytes": bytes,
            "kms_requests": requests.calls().len(),
            "kms_operations": requests.calls(),
            "cache_hits": stats.hits,
            "cache_misses": stats.misses,
            "seconds": seconds,
        })
    );
    Ok(())
}

//! Latency of the round trip's pair of operations: p50 and p99 over timed calls.

use std::time::{Duration, Instant};

use anyhow::Result;
use kmsrot_core::{AliasKms, Kms};
use kmsrot_types::EncryptionContext;

use super::report::Latency;
use super::round_trip::Usage;

/// The value at percentile `p` (0 to 100) of sorted samples, by nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(super) async fn latency(
    usage: &Usage,
    kms: &Kms,
    alias: &AliasKms,
    context: &EncryptionContext,
    samples: usize,
) -> Result<Vec<Latency>> {
    let mut seal = Vec::with_capacity(samples);
    let mut open = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        let sealed = usage.seal(alias, context).await?;
        seal.push(started.elapsed());
        let started = Instant::now();
        usage.open(kms, &sealed, context).await?;
        open.push(started.elapsed());
    }
    let (seal_name, open_name) = usage.operations();
    Ok([(seal_name, seal), (open_name, open)]
        .into_iter()
        .map(|(operation, mut times)| {
            times.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            Latency {
                operation,
                samples,
                p50_ms: ms(percentile(&times, 50.0)),
                p99_ms: ms(percentile(&times, 99.0)),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        let sorted: Vec<_> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 50.0), ms(50));
        assert_eq!(percentile(&sorted, 99.0), ms(99));
        assert_eq!(percentile(&sorted, 100.0), ms(100));
        assert_eq!(percentile(&[ms(7)], 99.0), ms(7));
        assert_eq!(percentile(&[ms(1), ms(9)], 50.0), ms(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}

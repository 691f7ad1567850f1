//! The report: each check's verdict and detail, and the latency figures.

use anyhow::Result;
use serde::Serialize;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It did what it should.
    Pass,
    /// It did not; the detail says why.
    Fail,
    /// Not applicable to this stack; the detail says why.
    Skip,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Its name, for example `round-trip`.
    pub name: &'static str,
    /// Its verdict.
    pub verdict: Verdict,
    /// What was seen, or why it failed or was skipped.
    pub detail: String,
}

/// Latency of one operation, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// For example `Encrypt`.
    pub operation: &'static str,
    /// Calls timed.
    pub samples: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// The whole validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The stack.
    pub stack_name: String,
    /// Its region.
    pub region: String,
    /// How the function was run: `lambda` or `local-runtime`.
    pub invoked_by: &'static str,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
    /// The latency figures.
    pub latency: Vec<Latency>,
}

impl Report {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict != Verdict::Fail)
    }

    pub(super) fn record(&mut self, name: &'static str, result: Result<Found>) {
        let (verdict, detail) = match result {
            Ok(Found::Pass(detail)) => (Verdict::Pass, detail),
            Ok(Found::Skip(detail)) => (Verdict::Skip, detail),
            Err(err) => (Verdict::Fail, format!("{err:#}")),
        };
        self.checks.push(Check {
            name,
            verdict,
            detail,
        });
    }
}

/// What a check that did not fail found.
pub(super) enum Found {
    Pass(String),
    Skip(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_fails_when_any_check_fails() {
        let mut report = Report {
            stack_name: "s".into(),
            region: "r".into(),
            invoked_by: "lambda",
            checks: Vec::new(),
            latency: Vec::new(),
        };
        report.record("a", Ok(Found::Pass("ok".into())));
        report.record("b", Ok(Found::Skip("n/a".into())));
        assert!(report.passed());
        report.record("c", Err(anyhow::anyhow!("broken")));
        assert!(!report.passed());
        assert_eq!(report.checks[2].verdict, Verdict::Fail);
        assert_eq!(report.checks[2].detail, "broken");
    }
}

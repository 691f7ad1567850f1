//! The metrics kmsrot publishes: namespace `KMSRotation`, dimension `Alias`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::AliasName;

/// The CloudWatch namespace of every kmsrot metric.
pub const NAMESPACE: &str = "KMSRotation";
/// The one dimension: the alias a datum is about. Fleet-wide data have no dimension.
pub const DIMENSION: &str = "Alias";

/// A CloudWatch unit, as its API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// A count.
    Count,
    /// A duration.
    Milliseconds,
    /// A plain number (CloudWatch has no unit for days).
    None,
}

impl Unit {
    /// The name CloudWatch uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::None => "None",
        }
    }
}

macro_rules! metric_names {
    ($($variant:ident => $text:literal, $unit:ident, $doc:literal;)+) => {
        /// Every metric kmsrot publishes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum MetricName {
            $(#[doc = $doc] $variant,)+
        }

        impl MetricName {
            /// Every metric, in a fixed order.
            pub const ALL: &[MetricName] = &[$(MetricName::$variant),+];

            /// Its name in CloudWatch.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Its unit.
            pub fn unit(self) -> Unit {
                match self { $(Self::$variant => Unit::$unit),+ }
            }
        }
    };
}

metric_names! {
    RotationsSucceeded => "RotationsSucceeded", Count, "Rotations done (manual, or on demand).";
    RotationsFailed => "RotationsFailed", Count, "Rotations that failed.";
    MaterialRotations => "MaterialRotations", Count, "Key material rotations KMS reported.";
    Rollbacks => "Rollbacks", Count, "Rollbacks done.";
    GuardActions => "GuardActions", Count, "Guard actions: changes undone, or alerts in observe mode.";
    DriftAlerts => "DriftAlerts", Count, "Managed aliases changed by someone other than kmsrot.";
    KeysDeleted => "KeysDeleted", Count, "Former keys of managed aliases that KMS deleted.";
    MaterialExpirations => "MaterialExpirations", Count, "Managed keys whose imported material expired.";
    KeyAgeDays => "KeyAgeDays", None, "Days since the alias's key (or material) was last rotated.";
    OverdueKeys => "OverdueKeys", Count, "1 when the alias's key is past its maximum age, else 0.";
    KeysRetired => "KeysRetired", Count, "Old keys the sweep retired after their grace period (disabled, unless the policy keeps them enabled).";
    DeletionsScheduled => "DeletionsScheduled", Count, "Old keys whose deletion the sweep scheduled.";
    RetirementsHeld => "RetirementsHeld", Count, "Retirement steps that were due and are held (grants, recent use, other aliases, a failed use).";
    CanaryHolds => "CanaryHolds", Count, "Old keys enabled again after a use failed while they were disabled or pending deletion.";
    TamperDetected => "TamperDetected", Count, "Old keys held because kmsrot's tags on them do not hold together (changed by someone else).";
    TagChanges => "TagChanges", Count, "Changes of kmsrot tags on managed keys by another principal than the function.";
    OrphanKeys => "OrphanKeys", Count, "Keys tagged for a managed alias that it does not track, found by a sweep (fleet-wide).";
    AliasesNotReached => "AliasesNotReached", Count, "Aliases a sweep run did not reach before its deadline (fleet-wide).";
    RejectedEvents => "RejectedEvents", Count, "Events refused for their source, account or region, or malformed.";
    StepLatency => "StepLatency", Milliseconds, "Time taken to handle one event or request.";
}

impl fmt::Display for MetricName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value of one metric, about one alias or (with no alias) the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datum {
    /// The metric.
    pub name: MetricName,
    /// The alias, the `Alias` dimension's value.
    pub alias: Option<AliasName>,
    /// The value, in the metric's unit.
    pub value: f64,
}

impl Datum {
    /// A value about one alias.
    pub fn alias(name: MetricName, alias: &AliasName, value: f64) -> Self {
        Self {
            name,
            alias: Some(alias.clone()),
            value,
        }
    }

    /// A fleet-wide value.
    pub fn fleet(name: MetricName, value: f64) -> Self {
        Self {
            name,
            alias: None,
            value,
        }
    }
}

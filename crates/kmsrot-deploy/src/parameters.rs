//! The template's parameters: the `--parameter` flags, and the parameters a change set sends.

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result, bail};
use aws_sdk_cloudformation::Client as CloudFormation;
use aws_sdk_cloudformation::types::Parameter;

use super::{DeployArgs, TEMPLATE};

/// The template parameters `deploy` sets itself, from the uploaded artifact.
const ARTIFACT_PARAMETERS: [&str; 2] = ["ArtifactBucket", "ArtifactKey"];

pub(super) fn parse_parameter(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// Refuses parameters that deploy sets itself.
pub(super) fn check_parameters(parameters: &[(String, String)]) -> Result<()> {
    for (key, _) in parameters {
        if ARTIFACT_PARAMETERS.contains(&key.as_str()) {
            bail!(
                "--parameter {key} is set by deploy from the uploaded Lambda zip; choose the bucket with --artifact-bucket"
            );
        }
    }
    Ok(())
}

pub(super) fn given_parameters(args: &DeployArgs) -> BTreeMap<&str, &str> {
    args.parameters
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The stack's parameters: those given, the artifact's, and on an update the current value
/// of every other parameter the stack has.
pub(super) fn stack_parameters(
    declared: &[String],
    given: &BTreeMap<&str, &str>,
    current: &HashSet<String>,
    bucket: &str,
    key: &str,
) -> Result<Vec<Parameter>> {
    for name in given.keys() {
        if !declared.iter().any(|d| d == name) {
            bail!(
                "the template has no parameter {name}; it has: {}",
                declared.join(", ")
            );
        }
    }
    let mut parameters = Vec::new();
    for name in declared {
        let value = match name.as_str() {
            "ArtifactBucket" => Some(bucket),
            "ArtifactKey" => Some(key),
            other => given.get(other).copied(),
        };
        let parameter = Parameter::builder().parameter_key(name);
        match value {
            Some(value) => parameters.push(parameter.parameter_value(value).build()),
            None if current.contains(name) => {
                parameters.push(parameter.use_previous_value(true).build());
            }
            None => {}
        }
    }
    Ok(parameters)
}

/// The template's parameter names, as CloudFormation reads them (GetTemplateSummary, the
/// call made for this).
pub(super) async fn template_parameters(
    cfn: &CloudFormation,
    template: &str,
) -> Result<Vec<String>> {
    let summary = cfn
        .get_template_summary()
        .template_body(template)
        .send()
        .await
        .with_context(|| format!("GetTemplateSummary of {TEMPLATE}"))?;
    Ok(summary
        .parameters()
        .iter()
        .filter_map(|p| p.parameter_key().map(str::to_owned))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_key_value_pairs() {
        assert_eq!(
            parse_parameter("GuardMode=observe"),
            Ok(("GuardMode".into(), "observe".into()))
        );
        assert_eq!(
            parse_parameter("SweepSchedule=rate(1 day)=x"),
            Ok(("SweepSchedule".into(), "rate(1 day)=x".into()))
        );
        assert!(parse_parameter("GuardMode").is_err());
        assert!(parse_parameter("=x").is_err());
        assert!(check_parameters(&[("ArtifactKey".into(), "x".into())]).is_err());
    }

    #[test]
    fn update_keeps_current_values_and_create_takes_defaults() {
        let declared = ["AliasName", "GuardMode", "ArtifactBucket", "ArtifactKey"]
            .map(String::from)
            .to_vec();
        let given = BTreeMap::from([("GuardMode", "observe")]);
        let render = |ps: Vec<Parameter>| {
            ps.iter()
                .map(|p| {
                    format!(
                        "{}={}",
                        p.parameter_key().unwrap(),
                        p.parameter_value()
                            .unwrap_or(if p.use_previous_value() == Some(true) {
                                "(previous)"
                            } else {
                                "?"
                            })
                    )
                })
                .collect::<Vec<_>>()
        };
        let create = stack_parameters(&declared, &given, &HashSet::new(), "b", "k").unwrap();
        assert_eq!(
            render(create),
            ["GuardMode=observe", "ArtifactBucket=b", "ArtifactKey=k"]
        );
        let current = declared.iter().cloned().collect();
        let update = stack_parameters(&declared, &given, &current, "b", "k2").unwrap();
        assert_eq!(
            render(update),
            [
                "AliasName=(previous)",
                "GuardMode=observe",
                "ArtifactBucket=b",
                "ArtifactKey=k2"
            ]
        );
        let err = stack_parameters(
            &declared,
            &BTreeMap::from([("Nope", "x")]),
            &HashSet::new(),
            "b",
            "k",
        )
        .unwrap_err();
        assert!(err.to_string().contains("no parameter Nope"), "{err}");
    }
}

//! The template's parameters: the `--parameter` flags, and the parameters a change set sends.

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result, bail};
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

/// The template's parameters, read from the template itself.
#[derive(Debug, Clone, Default)]
pub(super) struct Declared {
    /// Every parameter's name, in the template's order.
    pub(super) names: Vec<String>,
    /// Those without a default value.
    pub(super) without_default: Vec<String>,
}

/// The parameters the template declares (its `Parameters` section), read here rather than by
/// GetTemplateSummary: the template is sent by URL once it is uploaded, and nothing is
/// uploaded before the parameters are checked. CloudFormation reads the same template again
/// at CreateChangeSet and refuses it there if it is not valid.
pub(super) fn template_parameters(template: &str) -> Result<Declared> {
    let document: serde_norway::Value =
        serde_norway::from_str(template).with_context(|| format!("reading {TEMPLATE} as YAML"))?;
    let mut declared = Declared::default();
    let Some(parameters) = document.get("Parameters") else {
        return Ok(declared);
    };
    let parameters = parameters
        .as_mapping()
        .with_context(|| format!("{TEMPLATE}: `Parameters` is not a mapping"))?;
    for (name, parameter) in parameters {
        let name = name
            .as_str()
            .with_context(|| format!("{TEMPLATE}: a parameter name is not a string"))?;
        declared.names.push(name.to_owned());
        if parameter.get("Default").is_none() {
            declared.without_default.push(name.to_owned());
        }
    }
    Ok(declared)
}

/// Refuses a change set that would leave a parameter without a value: one the template gives
/// no default, that deploy does not set itself, that is not given, and (on an update) that the
/// stack does not have already. CloudFormation would only say so at ExecuteChangeSet, after
/// the build and the upload, leaving a stack that was never created in REVIEW_IN_PROGRESS.
pub(super) fn check_missing(
    without_default: &[String],
    given: &BTreeMap<&str, &str>,
    current: &HashSet<String>,
) -> Result<()> {
    let missing: Vec<&str> = without_default
        .iter()
        .map(String::as_str)
        .filter(|name| {
            !ARTIFACT_PARAMETERS.contains(name)
                && !given.contains_key(name)
                && !current.contains(*name)
        })
        .collect();
    match missing.as_slice() {
        [] => Ok(()),
        names => {
            let flags: Vec<String> = names
                .iter()
                .map(|name| format!("--parameter {name}=VALUE"))
                .collect();
            bail!(
                "the template's parameter{} {} {} no default and no value; give {} with {}",
                if names.len() == 1 { "" } else { "s" },
                names.join(", "),
                if names.len() == 1 { "has" } else { "have" },
                if names.len() == 1 { "it" } else { "them" },
                flags.join(" ")
            )
        }
    }
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
    fn a_parameter_without_default_or_value_is_refused_with_its_flag() {
        let without_default = ["AliasName", "ArtifactBucket", "ArtifactKey"].map(String::from);
        let none = HashSet::new();
        let err = check_missing(&without_default, &BTreeMap::new(), &none).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the template's parameter AliasName has no default and no value; give it with --parameter AliasName=VALUE"
        );
        check_missing(
            &without_default,
            &BTreeMap::from([("AliasName", "alias/app")]),
            &none,
        )
        .unwrap();
        // On an update, the stack's current value counts.
        check_missing(
            &without_default,
            &BTreeMap::new(),
            &HashSet::from(["AliasName".to_owned()]),
        )
        .unwrap();
        let two = ["AliasName", "KeyAdmin"].map(String::from);
        let err = check_missing(&two, &BTreeMap::new(), &none).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the template's parameters AliasName, KeyAdmin have no default and no value; give them with --parameter AliasName=VALUE --parameter KeyAdmin=VALUE"
            ),
            "{err}"
        );
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

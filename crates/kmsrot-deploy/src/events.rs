//! The stack's events, streamed while a change set executes or the stack is deleted, and
//! where its status leaves a deploy or destroy.

use std::collections::HashSet;

use anyhow::Result;
use aws_sdk_cloudformation::Client as CloudFormation;
use aws_sdk_cloudformation::types::StackEvent;

use super::{POLL, describe_stack, is_missing_stack};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    InProgress,
    Succeeded,
    Failed,
}

/// Where a stack status leaves a deploy or destroy.
pub(super) fn phase(status: &str) -> Phase {
    match status {
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" | "DELETE_COMPLETE" => {
            Phase::Succeeded
        }
        s if s.ends_with("_IN_PROGRESS") => Phase::InProgress,
        _ => Phase::Failed,
    }
}

/// The IDs of the stack's newest events: watching shows only what comes after them. (Events
/// are listed newest first, so the first page is enough.) Stack events carry the service's
/// clock, so this needs none of this machine's.
pub(super) async fn known_events(cfn: &CloudFormation, stack_id: &str) -> Result<HashSet<String>> {
    match cfn
        .describe_stack_events()
        .stack_name(stack_id)
        .send()
        .await
    {
        Ok(page) => Ok(page
            .stack_events()
            .iter()
            .filter_map(|e| e.event_id().map(str::to_owned))
            .collect()),
        Err(err) if is_missing_stack(&err) => Ok(HashSet::new()),
        Err(err) => Err(anyhow::Error::new(err).context("DescribeStackEvents")),
    }
}

/// Streams the stack's new events until its status settles; returns that status and the
/// events.
pub(super) async fn watch(
    cfn: &CloudFormation,
    stack_id: &str,
    seen: &mut HashSet<String>,
) -> Result<(String, Vec<StackEvent>)> {
    let mut all = Vec::new();
    loop {
        for event in new_events(cfn, stack_id, seen).await? {
            print_event(&event);
            all.push(event);
        }
        let status = match describe_stack(cfn, stack_id).await? {
            None => "DELETE_COMPLETE".to_owned(),
            Some(stack) => stack
                .stack_status()
                .map_or_else(String::new, |s| s.as_str().to_owned()),
        };
        if phase(&status) != Phase::InProgress {
            // Events that arrived with the final status.
            for event in new_events(cfn, stack_id, seen).await? {
                print_event(&event);
                all.push(event);
            }
            return Ok((status, all));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The stack's events not yet in `seen`, oldest first.
async fn new_events(
    cfn: &CloudFormation,
    stack_id: &str,
    seen: &mut HashSet<String>,
) -> Result<Vec<StackEvent>> {
    let mut fresh = Vec::new();
    let mut pages = cfn
        .describe_stack_events()
        .stack_name(stack_id)
        .into_paginator()
        .send();
    // Newest first: stop at the first event already seen.
    'pages: while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(err) if is_missing_stack(&err) => break,
            Err(err) => return Err(anyhow::Error::new(err).context("DescribeStackEvents")),
        };
        for event in page.stack_events() {
            let id = event.event_id().unwrap_or_default();
            if seen.contains(id) {
                break 'pages;
            }
            fresh.push(event.clone());
        }
    }
    seen.extend(fresh.iter().filter_map(|e| e.event_id().map(str::to_owned)));
    fresh.reverse();
    Ok(fresh)
}

fn print_event(event: &StackEvent) {
    let time = event
        .timestamp()
        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
        .unwrap_or_default();
    let reason = event
        .resource_status_reason()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    println!(
        "  {time}  {:<28} {} ({}){reason}",
        event.resource_status().map_or("", |s| s.as_str()),
        event.logical_resource_id().unwrap_or_default(),
        event.resource_type().unwrap_or_default(),
    );
}

/// Prints the events of resources that failed, with CloudFormation's reasons.
pub(super) fn report_failures(events: &[StackEvent]) {
    let failed: Vec<_> = events
        .iter()
        .filter(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
        })
        .collect();
    eprintln!("kmsrot-deploy: failed resources:");
    if failed.is_empty() {
        eprintln!("  (CloudFormation reported no failed resource)");
    }
    for event in failed {
        eprintln!(
            "  {} ({}): {} {}",
            event.logical_resource_id().unwrap_or_default(),
            event.resource_type().unwrap_or_default(),
            event.resource_status().map_or("", |s| s.as_str()),
            event
                .resource_status_reason()
                .unwrap_or("(no reason given)")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change_set::is_empty_change_set;

    #[test]
    fn stack_statuses_settle_into_phases() {
        assert_eq!(phase("CREATE_IN_PROGRESS"), Phase::InProgress);
        assert_eq!(
            phase("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
            Phase::InProgress
        );
        assert_eq!(phase("UPDATE_ROLLBACK_IN_PROGRESS"), Phase::InProgress);
        assert_eq!(phase("CREATE_COMPLETE"), Phase::Succeeded);
        assert_eq!(phase("UPDATE_COMPLETE"), Phase::Succeeded);
        assert_eq!(phase("DELETE_COMPLETE"), Phase::Succeeded);
        assert_eq!(phase("ROLLBACK_COMPLETE"), Phase::Failed);
        assert_eq!(phase("UPDATE_ROLLBACK_COMPLETE"), Phase::Failed);
        assert_eq!(phase("DELETE_FAILED"), Phase::Failed);
        assert!(is_empty_change_set(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(!is_empty_change_set("Template format error"));
    }
}

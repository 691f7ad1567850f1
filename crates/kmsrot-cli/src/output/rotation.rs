//! What rotations, sweeps, the guard and `kmsrot event` did, in words.

use kmsrot_types::{
    Action, AliasOutcome, CanaryVerdict, GuardVerdict, HeldStep, Hold, HoldReason, Outcome, Undone,
};

use super::key::rotation_text;

/// One action, in words.
pub(crate) fn action_text(action: &Action) -> String {
    match action {
        Action::Rotate {
            reason,
            new_key: Some(key),
            grants_copied,
            moved_with,
            policy_notes,
            ..
        } => {
            let mut text = format!("rotated to {key} ({reason})");
            if !moved_with.is_empty() {
                text.push_str(&format!(
                    "; moved with it: {}",
                    moved_with
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            for copy in grants_copied {
                text.push_str(&format!(
                    "; grant {} for {} copied as {}",
                    copy.from_grant_id, copy.grantee, copy.to_grant_id
                ));
            }
            for note in policy_notes {
                text.push_str(&format!("; {note}"));
            }
            text
        }
        Action::Rotate {
            reason,
            policy_notes,
            policy_diff,
            ..
        } => {
            let mut text = format!("would rotate to a new key ({reason})");
            for note in policy_notes {
                text.push_str(&format!("; {note}"));
            }
            if !policy_diff.is_empty() {
                text.push_str("; the new key's policy, from the current key's:");
                for line in policy_diff {
                    text.push_str(&format!("\n    {line}"));
                }
            }
            text
        }
        Action::RotateOnDemand { reason, remaining } => match remaining {
            Some(left) => format!(
                "on-demand rotation of the key material ({reason}; about {left} on-demand rotations left)"
            ),
            None => format!("on-demand rotation of the key material ({reason})"),
        },
        Action::EnableRotation { period_days, was } => format!(
            "automatic rotation set to every {period_days} days (was: {})",
            rotation_text(was)
        ),
        Action::Retire { key } => format!("retired {key}"),
        Action::ScheduleDeletion { key, window_days } => {
            format!("scheduled deletion of {key} in {window_days} days")
        }
        Action::Hold(hold) => hold_text(hold),
        Action::BreakGlass { key, record } => {
            format!("left alone: {key} carries kmsrot:break-glass ({record})")
        }
        Action::Rollback {
            to,
            from,
            already_done: false,
        } => format!("rolled back from {from} to {to}"),
        Action::Rollback {
            to,
            from,
            already_done: true,
        } => format!("nothing to do: already rolled back from {from} to {to}"),
        Action::Abort {
            rotation_id,
            abandoned,
        } => match abandoned {
            Some(key) => format!(
                "gave up rotation {rotation_id}; its new key {key} is scheduled for deletion"
            ),
            None => format!(
                "gave up rotation {rotation_id}; kmsrot found no new key of it to delete (none is tagged as its pending key)"
            ),
        },
    }
}

/// A hold, in words: the key, the step held, and every reason.
pub(crate) fn hold_text(hold: &Hold) -> String {
    let step = match hold.step {
        HeldStep::Disable => "disabling",
        HeldStep::ScheduleDeletion => "scheduling the deletion of",
    };
    format!(
        "HELD: {step} {}: {}",
        hold.key,
        hold.reasons
            .iter()
            .map(HoldReason::describe)
            .collect::<Vec<_>>()
            .join("; ")
    )
}

fn undone_text(undone: &[Undone]) -> String {
    undone
        .iter()
        .map(|u| match u {
            Undone::DeletionCancelled => "deletion cancelled",
            Undone::Enabled => "enabled",
        })
        .collect::<Vec<_>>()
        .join(", then ")
}

/// What the canary did, in words.
pub(crate) fn canary_text(verdict: &CanaryVerdict) -> String {
    match verdict {
        CanaryVerdict::Unmanaged { key } => format!("{key} is not managed by kmsrot: left alone"),
        CanaryVerdict::Gone { key } => format!("{key} is already deleted: nothing to hold"),
        CanaryVerdict::NotRetiring {
            key,
            alias,
            key_state,
            ..
        } => {
            format!("{key} is not an old key of `{alias}` on its way out ({key_state}): left alone")
        }
        CanaryVerdict::AlreadyHeld { key, hold, .. } => {
            format!("{key} is already enabled and held ({hold}): nothing more to do")
        }
        CanaryVerdict::Held {
            key,
            alias,
            undone,
            hold,
            ..
        } => format!(
            "ALERT: an old key of `{alias}` was used while it could not be: {key} {}; its retirement is held ({hold}). Release it with `kmsrot release {alias} --key {key}` once the caller has moved",
            undone_text(undone)
        ),
    }
}

/// One alias of a sweep, in words.
pub(crate) fn outcome_lines(outcome: &AliasOutcome, dry_run: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let alias = &outcome.alias;
    if let Some(error) = &outcome.error {
        lines.push(format!("{alias}: FAILED: {error}"));
        return lines;
    }
    let verb = if dry_run { "would do" } else { "did" };
    for action in &outcome.actions {
        lines.push(format!("{alias}: {verb}: {}", action_text(action)));
    }
    if let Some(reason) = &outcome.reason {
        lines.push(format!("{alias}: {reason}"));
    }
    if lines.is_empty()
        && let Some(c) = &outcome.compliance
    {
        lines.push(format!(
            "{alias}: nothing due: the key is {} days old of {} allowed",
            c.age_days, c.max_age_days
        ));
    }
    lines
}

/// The guard's verdict, in words.
pub(crate) fn verdict_text(verdict: &GuardVerdict) -> String {
    match verdict {
        GuardVerdict::Unmanaged { key } => format!("{key} is not managed by kmsrot: left alone"),
        GuardVerdict::Gone { key_id } => {
            format!("{key_id} is already deleted: nothing to guard")
        }
        GuardVerdict::NotNeeded { key, reason, .. } => {
            format!("{key} is not needed: {reason}; left alone")
        }
        GuardVerdict::BreakGlass { key, record, .. } => {
            format!("{key} carries kmsrot:break-glass ({record}): left alone")
        }
        GuardVerdict::Intact { key, alias } => {
            format!("{key} is needed by `{alias}` and is enabled: nothing to undo")
        }
        GuardVerdict::Alert {
            key,
            needed_as,
            key_state,
            ..
        } => {
            format!("ALERT: {key} is {needed_as}, and it is {key_state} (observe mode: left as is)")
        }
        GuardVerdict::Restored {
            key,
            needed_as,
            undone,
            ..
        } => {
            format!("restored {key}, {needed_as}: {}", undone_text(undone))
        }
    }
}

/// What `kmsrot event` did, in words.
pub(crate) fn outcome_text(outcome: &Outcome) -> String {
    let mut lines: Vec<String> = Vec::new();
    match outcome {
        Outcome::MaterialRotated {
            key,
            rotation_type,
            aliases,
        } => {
            lines.push(format!(
                "key material of {key} rotated ({})",
                rotation_type.as_deref().unwrap_or("type not given")
            ));
            for check in aliases {
                lines.push(match (&check.key, &check.key_state) {
                    (Some(k), Some(state)) if check.ok => {
                        format!("{}: names {k} ({state}): ok", check.alias)
                    }
                    (Some(k), Some(state)) => {
                        format!("{}: names {k}, which is {state}: FAILED", check.alias)
                    }
                    _ => format!("{}: the alias no longer exists: FAILED", check.alias),
                });
            }
        }
        Outcome::Swept { report } => {
            if report.aliases.is_empty() {
                lines.push("no managed aliases in this region".into());
            }
            for alias in &report.aliases {
                lines.extend(outcome_lines(alias, report.dry_run));
            }
        }
        Outcome::KeyDeleted(d) => lines.push(if d.duplicate {
            format!(
                "deleted key {} of `{}` was already recorded on {}: nothing to do",
                d.key_id, d.alias, d.successor
            )
        } else {
            format!(
                "recorded the deletion of key {} (a former key of `{}`) on {}",
                d.key_id, d.alias, d.successor
            )
        }),
        Outcome::MaterialExpired(e) => lines.push(format!(
            "{} the expiry of the key material of {} (`{}`); aliases that name it: {}",
            if e.duplicate {
                "already recorded"
            } else {
                "recorded"
            },
            e.key,
            e.alias,
            e.named_by
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Outcome::Guarded {
            event_name,
            verdict,
        } => {
            lines.push(format!("{event_name}: {}", verdict_text(verdict)));
        }
        Outcome::Canary {
            event_name,
            error_code,
            verdict,
        } => lines.push(format!(
            "{event_name} failed with {error_code}: {}",
            canary_text(verdict)
        )),
        Outcome::Released(r) => lines.push(match &r.released {
            Some(hold) => format!("released {} of `{}` ({hold})", r.key, r.alias),
            None => format!("{} of `{}` has no hold", r.key, r.alias),
        }),
        Outcome::Drifted(d) => lines.push(format!(
            "DRIFT: {} by {}: {}",
            d.event_name,
            d.by.as_deref().unwrap_or("an unknown principal"),
            d.what
        )),
        Outcome::TagsChanged(c) => lines.push(format!(
            "TAGS CHANGED: {} by {} on {}{}: {} (not undone; see OPERATIONS.md, \"Tampered tags\")",
            c.event_name,
            c.by.as_deref().unwrap_or("an unknown principal"),
            c.key,
            c.alias
                .as_ref()
                .map(|a| format!(" (`{a}`)"))
                .unwrap_or_default(),
            c.changed
                .iter()
                .map(|e| match &e.value {
                    Some(value) => format!("{}={value}", e.tag),
                    None => format!("{} removed", e.tag),
                })
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Outcome::Consistent { alias, key } => {
            lines.push(format!("`{alias}` names {key}, its current key: no drift"));
        }
        Outcome::Ignored { reason } => lines.push(format!("ignored: {reason}")),
        Outcome::Rotated {
            alias,
            dry_run,
            actions,
        } => {
            if actions.is_empty() {
                lines.push(format!("{alias}: nothing to do"));
            }
            let verb = if *dry_run { "would do" } else { "did" };
            for action in actions {
                lines.push(format!("{alias}: {verb}: {}", action_text(action)));
            }
        }
        Outcome::RolledBack { alias, action } => {
            lines.push(format!("{alias}: {}", action_text(action)));
        }
        Outcome::Status { aliases } => {
            for status in aliases {
                lines.push(format!(
                    "{}: {} (next rotation {})",
                    status.alias, status.current.key_arn, status.next_rotation
                ));
            }
        }
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

//! `cargo xtask demo`: the story of kmsrot, told through the `kmsrot` binary against a fresh
//! local emulator: two managed aliases, data made through them, rotations, old data still
//! readable, status, rollback, and the deletion guard undoing a deletion, through the rotation
//! Lambda's own handler (`kmsrot event`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::emulator::Emulator;
use crate::project_root;

const SIGNING: &str = "alias/demo/release-signing";
const DATA: &str = "alias/demo/app-data";

/// The `kmsrot` binary and the emulator it talks to.
struct Stage {
    kmsrot: PathBuf,
    /// The pinned AWS CLI (`tools/awscli/`), for the operator who acts behind kmsrot's back.
    aws: PathBuf,
    emulator: Emulator,
    dir: PathBuf,
}

impl Stage {
    /// Prints a step and runs `kmsrot` with `args`; its output goes straight to the terminal.
    fn kmsrot(&self, what: &str, args: &[&str]) -> Result<()> {
        self.say(what, &format!("kmsrot {}", args.join(" ")));
        let status = self
            .command(&self.kmsrot)
            .args(args)
            .status()
            .with_context(|| format!("running kmsrot {}", args.join(" ")))?;
        if !status.success() {
            bail!("kmsrot {} failed with {status}", args.join(" "));
        }
        Ok(())
    }

    fn say(&self, what: &str, command: &str) {
        println!("\n== {what}\n$ {command}");
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        for name in Emulator::foreign_env() {
            command.env_remove(name);
        }
        command
            .current_dir(&self.dir)
            .envs(self.emulator.client_env());
        command
    }

    /// Writes the EventBridge event that carries CloudTrail's record of an operator's call on
    /// `key`, as the rotation Lambda receives it; returns the file's name.
    fn cloudtrail_record(&self, call: &str, key: &str) -> Result<String> {
        let id = key.rsplit('/').next().unwrap_or(key);
        let region = "us-east-1";
        let account = key.split(':').nth(4).unwrap_or("123456789012");
        let event = format!(
            r#"{{
  "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "AWS API Call via CloudTrail", "source": "aws.kms",
  "account": "{account}", "time": "2026-11-29T12:00:00Z", "region": "{region}", "resources": [],
  "detail": {{
    "eventVersion": "1.11", "eventSource": "kms.amazonaws.com", "eventName": "{call}",
    "awsRegion": "{region}", "recipientAccountId": "{account}",
    "userIdentity": {{"type": "AssumedRole", "arn": "arn:aws:sts::{account}:assumed-role/Ops/careless-script"}},
    "userAgent": "aws-cli/2.27.31",
    "requestParameters": {{"keyId": "{id}", "pendingWindowInDays": 7}},
    "responseElements": {{"keyId": "{key}", "keyState": "PendingDeletion"}},
    "resources": [{{"accountId": "{account}", "type": "AWS::KMS::Key", "ARN": "{key}"}}],
    "eventType": "AwsApiCall", "managementEvent": true, "eventCategory": "Management"
  }}
}}
"#
        );
        let name = format!("cloudtrail-{}.json", call.to_lowercase());
        std::fs::write(self.dir.join(&name), event).with_context(|| format!("writing {name}"))?;
        println!("\n(the record, as EventBridge delivers it, is in {name})");
        Ok(name)
    }

    /// Someone outside kmsrot schedules the deletion of the key behind `alias`, with the
    /// pinned AWS CLI, exactly as the lines it prints say. Returns the key's ARN.
    fn delete_behind_kmsrots_back(&self, alias: &str) -> Result<String> {
        let key = self.aws(
            "someone looks up the key the data alias names ...",
            &[
                "kms",
                "describe-key",
                "--key-id",
                alias,
                "--query",
                "KeyMetadata.Arn",
                "--output",
                "text",
            ],
        )?;
        self.aws(
            "... and schedules its deletion",
            &[
                "kms",
                "schedule-key-deletion",
                "--key-id",
                &key,
                "--pending-window-in-days",
                "7",
            ],
        )?;
        Ok(key)
    }

    /// Prints a step and runs the AWS CLI with `args`; returns what it printed, trimmed.
    fn aws(&self, what: &str, args: &[&str]) -> Result<String> {
        self.say(what, &format!("aws {}", args.join(" ")));
        let out = self
            .command(&self.aws)
            // The AWS CLI, unlike the Rust SDK, insists that a named profile exists.
            .env_remove("AWS_PROFILE")
            .args(args)
            .output()
            .context("running the AWS CLI")?;
        if !out.status.success() {
            bail!(
                "aws {} failed: {}",
                args[1],
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = String::from_utf8(out.stdout)?.trim().to_owned();
        println!("{text}");
        Ok(text)
    }
}

pub(crate) fn run() -> Result<()> {
    let root = project_root();
    let kmsrot = crate::workspace_binary("kmsrot")?;
    let dir = root.join("target").join("demo");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    println!("xtask: starting the local emulator");
    let stage = Stage {
        kmsrot,
        aws: crate::pytools::install(crate::pytools::AWSCLI)?
            .bin()
            .join("aws"),
        emulator: Emulator::start(None, None)?,
        dir,
    };
    std::fs::write(stage.dir.join("release.txt"), b"kmsrot 1.0 release notes\n")?;
    std::fs::write(stage.dir.join("secret.txt"), b"the database password\n")?;
    let result = story(&stage);
    let log = stage.emulator.stop();
    match result {
        Ok(()) => {
            println!("\nxtask: demo done; the emulator is stopped");
            Ok(())
        }
        Err(err) => {
            eprintln!("xtask: the emulator's log is at {}", log.display());
            Err(err)
        }
    }
}

fn story(s: &Stage) -> Result<()> {
    s.kmsrot(
        "a manual-rotation alias for signing (RSA keys cannot rotate their own material)",
        &[
            "init",
            SIGNING,
            "--key-spec",
            "RSA_2048",
            "--key-usage",
            "SIGN_VERIFY",
            "--mode",
            "manual",
            "--grace-days",
            "14",
        ],
    )?;
    s.kmsrot(
        "an automatic-rotation alias for data (KMS rotates the material every 180 days)",
        &[
            "init",
            DATA,
            "--mode",
            "automatic",
            "--period-days",
            "180",
            "--max-age-days",
            "200",
        ],
    )?;
    s.kmsrot(
        "encrypt through the data alias",
        &[
            "encrypt",
            "--alias",
            DATA,
            "-c",
            "app=billing",
            "-i",
            "secret.txt",
            "-o",
            "secret.bin",
        ],
    )?;
    s.kmsrot(
        "sign through the signing alias; the signature records the key that made it",
        &[
            "sign",
            "--alias",
            SIGNING,
            "-i",
            "release.txt",
            "-o",
            "release.sig.json",
        ],
    )?;
    s.kmsrot(
        "what a rotation of the signing alias would do",
        &["rotate", SIGNING, "--dry-run"],
    )?;
    s.kmsrot(
        "rotate it: create a key like the current one, test it, move the alias, keep the old key as previous",
        &["rotate", SIGNING],
    )?;
    s.kmsrot(
        "rotate the data key's material on demand",
        &["rotate", DATA],
    )?;
    s.kmsrot(
        "the ciphertext made before the rotation still decrypts",
        &["decrypt", "-c", "app=billing", "-i", "secret.bin"],
    )?;
    s.kmsrot(
        "the signature made before the rotation still verifies, with the key it names, which is in the alias's history",
        &[
            "verify",
            "--signature",
            "release.sig.json",
            "-i",
            "release.txt",
            "--alias",
            SIGNING,
        ],
    )?;
    s.kmsrot("the status of every managed alias", &["status"])?;
    s.kmsrot(
        "roll the signing alias back to its previous key",
        &["rollback", SIGNING],
    )?;
    s.kmsrot("the signing alias after the rollback", &["status", SIGNING])?;
    let key = s.delete_behind_kmsrots_back(DATA)?;
    let event = s.cloudtrail_record("ScheduleKeyDeletion", &key)?;
    s.kmsrot(
        "the rotation Lambda gets CloudTrail's record of that call; `kmsrot event` runs the Lambda's handler on it here. In observe mode the guard only reports",
        &["event", &event, "--guard", "observe"],
    )?;
    s.kmsrot(
        "in enforce mode (the Lambda's default) it undoes the deletion: the alias still needs that key",
        &["event", &event],
    )?;
    s.kmsrot(
        "the same record delivered again finds nothing left to undo",
        &["event", &event],
    )?;
    s.kmsrot(
        "the data alias names an enabled key again",
        &["describe", DATA],
    )?;
    s.kmsrot(
        "and the old data still decrypts",
        &["decrypt", "-c", "app=billing", "-i", "secret.bin"],
    )?;
    s.kmsrot(
        "what the next scheduled sweep would do",
        &["sweep", "--dry-run"],
    )?;
    Ok(())
}

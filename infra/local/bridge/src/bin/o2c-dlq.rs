//! `o2c-dlq`: the dlq-redrive Lambda's handler as a local command, against the local stack (or
//! any AWS account the standard credential chain reaches).
//!
//! ```text
//! set -a; . infra/local/.state/local.env; set +a
//! cargo build -p o2c-local-bridge --bin o2c-dlq
//! target/debug/o2c-dlq list --queue all
//! target/debug/o2c-dlq replay --queue captures --apply-suggested                 # dry run
//! target/debug/o2c-dlq replay --queue captures --message-id ID --apply-suggested --no-dry-run
//! target/debug/o2c-dlq replay --queue orders --message-id ID \
//!     --patch '[{"op":"replace","path":"/type","value":"authorize"}]' --no-dry-run
//! target/debug/o2c-dlq event '{"action":"list","queue":"refunds"}' --json
//! ```
//!
//! Environment: `STAGE`, `TABLE_NAME`, the five `*_QUEUE_URL` and `*_DLQ_URL` variables,
//! `AWS_ENDPOINT_URL` / `AWS_REGION` / credentials — all in `infra/local/.state/local.env`
//! (written by `infra/local/up.sh`). Output: text ([`render_text`]), or the Lambda's JSON
//! response with `--json`. Exit status 0 on success, 1 when a replay failed, 2 on a usage or
//! configuration error.

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};
use o2c_pipeline::redrive::{render_text, Action, Redrive, RedriveRequest};
use o2c_pipeline::specs;
use o2c_runtime::config::{Env, FunctionConfig};
use o2c_runtime::wiring::Adapters;
use std::process::ExitCode;

/// Usage of the command (also its `--help`).
const CLI_USAGE: &str = "\
o2c-dlq — inspect, fix and replay the dead-letter queues (the dlq-redrive Lambda, run locally)

  set -a; . infra/local/.state/local.env; set +a      # queue URLs, TABLE_NAME, moto endpoint
  target/debug/o2c-dlq list   [--queue all|orders|captures|refunds|clarity-sync|erp-sync]
  target/debug/o2c-dlq replay  --queue Q [--message-id ID]... [--apply-suggested [--min-confidence 0.5]
                               | --patch '[{\"op\":\"replace\",\"path\":\"/type\",\"value\":\"capture\"}]'
                               | --patch-file FILE] [--no-dry-run]
  target/debug/o2c-dlq event '{\"action\":\"list\",\"queue\":\"all\"}'   # the Lambda's event as is

Options: --max N (messages per DLQ, default 100), --json (the Lambda's JSON response instead of
text). Replays are dry runs unless --no-dry-run is given.";

#[derive(Parser, Debug)]
#[command(name = "o2c-dlq", disable_help_subcommand = true, override_help = CLI_USAGE)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the dead letters with their class, reason and suggested fix.
    List(Options),
    /// Replay (a dry run unless --no-dry-run).
    Replay(Options),
    /// The Lambda's event as is.
    Event {
        event: String,
        #[arg(long)]
        json: bool,
    },
    Help,
}

#[derive(Args, Debug)]
struct Options {
    /// `all` or one queue.
    #[arg(long, short = 'q')]
    queue: Option<String>,
    /// Only these DLQ message ids (repeatable, or comma-separated).
    #[arg(long = "message-id", visible_alias = "id", value_delimiter = ',')]
    message_ids: Option<Vec<String>>,
    /// An RFC 6902 patch (JSON) for the named messages.
    #[arg(long, conflicts_with = "patch_file")]
    patch: Option<String>,
    /// The patch, from a file.
    #[arg(long)]
    patch_file: Option<String>,
    #[arg(long)]
    apply_suggested: bool,
    #[arg(long)]
    min_confidence: Option<f64>,
    #[arg(long, overrides_with = "dry_run")]
    no_dry_run: bool,
    #[arg(long, overrides_with = "no_dry_run")]
    dry_run: bool,
    /// Messages per DLQ.
    #[arg(long)]
    max: Option<usize>,
    /// The Lambda's JSON response instead of text.
    #[arg(long)]
    json: bool,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
enum CliCommand {
    Run { request: RedriveRequest, json: bool },
    Help,
}

/// Parse the command line (without the program name). `read_file` reads `--patch-file`.
fn cli_request(
    args: &[String],
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<CliCommand, String> {
    let cli = match Cli::try_parse_from(std::iter::once("o2c-dlq".to_string()).chain(args.to_vec()))
    {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            return Ok(CliCommand::Help)
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            return Err(first.trim_start_matches("error: ").to_string());
        }
    };
    let (action, o) = match cli.command {
        None | Some(Command::Help) => return Ok(CliCommand::Help),
        Some(Command::Event { event, json }) => {
            let request: RedriveRequest =
                serde_json::from_str(&event).map_err(|e| format!("bad event: {e}"))?;
            return Ok(CliCommand::Run { request, json });
        }
        Some(Command::List(o)) => (Action::List, o),
        Some(Command::Replay(o)) => (Action::Replay, o),
    };
    let queue = match (action, o.queue) {
        (_, Some(q)) => q,
        (Action::List, None) => "all".to_string(),
        (Action::Replay, None) => return Err("replay needs --queue (one queue, or all)".into()),
    };
    let patch = match (&o.patch, &o.patch_file) {
        (Some(p), _) => Some(serde_json::from_str(p).map_err(|e| format!("--patch: {e}"))?),
        (None, Some(file)) => Some(
            serde_json::from_str(&read_file(file)?).map_err(|e| format!("--patch-file: {e}"))?,
        ),
        (None, None) => None,
    };
    let request = RedriveRequest {
        action,
        queue,
        message_ids: o.message_ids.map(|ids| {
            ids.iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        }),
        patch,
        apply_suggested: o.apply_suggested,
        min_confidence: o.min_confidence,
        dry_run: !o.no_dry_run,
        max_messages: o.max,
    };
    request.validate().map_err(|e| e.to_string())?;
    Ok(CliCommand::Run {
        request,
        json: o.json,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let (request, json) = match cli_request(&args, &read) {
        Ok(CliCommand::Run { request, json }) => (request, json),
        Ok(CliCommand::Help) => {
            println!("{CLI_USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("o2c-dlq: {e}\n\n{CLI_USAGE}");
            return ExitCode::from(2);
        }
    };
    let env = Env::process();
    let spec = &specs::DLQ_REDRIVE;
    let setup = async {
        let config = FunctionConfig::load(&env, spec.sends_to, spec.consumes, spec.secrets)
            .map_err(|e| {
                format!("{e} (did you `set -a; . infra/local/.state/local.env; set +a`?)")
            })?;
        let adapters = Adapters::build_for_tool(&config, &env)
            .await
            .map_err(|e| e.to_string())?;
        Redrive::from_config(&config, &adapters).map_err(|e| e.to_string())
    };
    let redrive = match setup.await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("o2c-dlq: {e}");
            return ExitCode::from(2);
        }
    };
    match redrive.handle(&request).await {
        Ok(response) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&response).unwrap_or_default()
                );
            } else {
                print!("{}", render_text(&response));
            }
            if response.summary.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("o2c-dlq: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use o2c_pipeline::redrive::PatchOp;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn no_file(_: &str) -> Result<String, String> {
        Err("no files".into())
    }

    fn run(a: &[String]) -> (RedriveRequest, bool) {
        match cli_request(a, &no_file) {
            Ok(CliCommand::Run { request, json }) => (request, json),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_command_line_builds_the_event() {
        assert_eq!(cli_request(&[], &no_file).unwrap(), CliCommand::Help);
        for h in ["help", "--help", "-h"] {
            assert_eq!(cli_request(&args(h), &no_file).unwrap(), CliCommand::Help);
        }
        let (request, json) = run(&args("list"));
        assert_eq!(
            (
                request.action,
                request.queue.as_str(),
                request.dry_run,
                json
            ),
            (Action::List, "all", true, false)
        );
        let (request, json) = run(&args(
            "replay --queue orders --apply-suggested --no-dry-run --message-id a,b --message-id c --json",
        ));
        assert!(request.apply_suggested && !request.dry_run && json);
        assert_eq!(request.message_ids.unwrap(), ["a", "b", "c"]);
        assert_eq!(request.queue, "orders");
        // The last of --dry-run / --no-dry-run wins.
        assert!(
            run(&args("replay -q orders --no-dry-run --dry-run"))
                .0
                .dry_run
        );
        assert!(
            !run(&args("replay -q orders --dry-run --no-dry-run"))
                .0
                .dry_run
        );
        let (request, _) = run(&args("list --queue clarity_sync --max 7 --id m1"));
        assert_eq!(request.max_messages, Some(7));
        assert_eq!(request.message_ids.unwrap(), ["m1"]);
        let patch_file = |_: &str| Ok::<String, String>(r#"[{"op":"remove","path":"/x"}]"#.into());
        let CliCommand::Run { request, .. } = cli_request(
            &args("replay --queue captures --id m1 --patch-file p.json"),
            &patch_file,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            request.patch.unwrap(),
            vec![PatchOp::Remove { path: "/x".into() }]
        );
        let (request, _) = run(&[
            "replay".into(),
            "--queue".into(),
            "captures".into(),
            "--id".into(),
            "m1".into(),
            "--patch".into(),
            r#"[{"op":"replace","path":"/type","value":"capture"}]"#.into(),
            "--min-confidence".into(),
            "0.7".into(),
        ]);
        assert_eq!(request.patch.unwrap().len(), 1);
        assert_eq!(request.min_confidence, Some(0.7));
        assert!(cli_request(&args("replay --apply-suggested"), &no_file)
            .unwrap_err()
            .contains("--queue"));
        assert!(cli_request(&args("list --bogus"), &no_file).is_err());
        assert!(cli_request(&args("frobnicate"), &no_file).is_err());
        assert!(cli_request(&args("list --apply-suggested"), &no_file)
            .unwrap_err()
            .contains("replay"));
        assert!(cli_request(&args("replay --queue nope"), &no_file)
            .unwrap_err()
            .contains("unknown queue"));
        let ev = vec![
            "event".to_string(),
            r#"{"action":"list","queue":"refunds"}"#.to_string(),
            "--json".to_string(),
        ];
        let (request, json) = run(&ev);
        assert_eq!((request.queue.as_str(), json), ("refunds", true));
        assert!(cli_request(&args("event"), &no_file).is_err());
    }
}

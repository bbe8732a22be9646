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
//! (written by `infra/local/up.sh`). Output: text, or the Lambda's JSON response with `--json`.
//! Exit status 0 on success, 1 when a replay failed, 2 on a usage or configuration error.

use o2c_pipeline::redrive::{cli_request, render_text, CliCommand, Redrive, CLI_USAGE};
use o2c_pipeline::specs;
use o2c_runtime::config::{Env, FunctionConfig};
use o2c_runtime::wiring::Adapters;
use std::process::ExitCode;

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
        let adapters = Adapters::build(&config, &env)
            .await
            .map_err(|e| e.to_string())?;
        Redrive::from_config(&config, &env, &adapters).map_err(|e| e.to_string())
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

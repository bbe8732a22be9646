//! `o2c`: the integration's operator command (docs/spec.md). Today: `o2c spec …` (the
//! integration spec: validate, preview, diff, push, promote, history, rollback, suggest),
//! `o2c quarantine list | show | replay` (inbound events that did not map; docs/quarantine.md)
//! and `o2c order capture` (the manual capture policy's "capture now").
//!
//! Stages: `--stage S` reads the orders table named by `O2C_TABLE_<S>` (upper case), or
//! `TABLE_NAME` when `STAGE` is S (as `infra/local/.state/local.env` sets it). AWS access: the
//! standard chain (`AWS_PROFILE`, …; `AWS_ENDPOINT_URL` for the local stack).
//!
//! Exit status: 0 done, 1 refused (invalid spec, conflict, not confirmed), 2 usage or
//! configuration error.

use clap::{Parser, Subcommand};
use o2c_aws::DynamoOrderStore;
use o2c_domain::ports::{Clock, SystemClock};
use o2c_spec::document::{load_dir, Sources, SpecDocument};
use o2c_spec::ops::{self, Actor, OpError, Pushed};
use o2c_spec::store::SpecStore;
use o2c_spec::{validate, Spec};
use serde_json::Value;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "o2c",
    about = "The order-to-cash integration's operator command"
)]
struct Cli {
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand, Debug)]
enum Top {
    /// The integration spec: mappings, lookups and rules (docs/spec.md).
    #[command(subcommand)]
    Spec(SpecCmd),
    /// Orders.
    #[command(subcommand)]
    Order(OrderCmd),
    /// Inbound events that did not map under the spec: kept, listed, replayed.
    #[command(subcommand)]
    Quarantine(QuarantineCmd),
}

#[derive(Subcommand, Debug)]
enum QuarantineCmd {
    /// Kept events, newest first (PII masked).
    List {
        #[arg(long)]
        stage: String,
        /// How many days back (records expire after 14).
        #[arg(long, default_value_t = 14)]
        days: u32,
        /// Only events not replayed yet.
        #[arg(long)]
        open: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// One event: its failure, the masked view and the suggested fix.
    Show {
        event: String,
        #[arg(long)]
        stage: String,
        /// Print only the raw body as delivered (PII in the clear: for `o2c spec suggest`).
        #[arg(long)]
        body: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Re-run events through the stage's current spec; the order is taken in exactly once.
    Replay {
        /// The event id (or --all).
        event: Option<String>,
        #[arg(long)]
        stage: String,
        /// Every open event of the last 14 days.
        #[arg(long, conflicts_with = "event")]
        all: bool,
        /// Map only: say what would happen, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// An RFC 6902 JSON Patch applied to the body first (one event only).
        #[arg(long, conflicts_with = "all")]
        patch: Option<PathBuf>,
        #[arg(long)]
        by: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Subcommand, Debug)]
enum SpecCmd {
    /// Check a spec directory: every problem at once, with file, line and path.
    Validate {
        #[arg(default_value = "config")]
        dir: PathBuf,
        /// Recorded events (files or directories of *.json) every mapping must handle.
        #[arg(long = "sample")]
        samples: Vec<PathBuf>,
    },
    /// Every outbound request the pipeline would make for an event, and each rule decision.
    Preview {
        #[arg(long)]
        event: PathBuf,
        /// The spec: a directory (default `config`) or `STAGE[:vN]`.
        #[arg(long, default_value = "config")]
        spec: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Semantic diff of two versions (each a directory or `STAGE[:vN]`), and the preview of
    /// the sample events under both.
    Diff {
        a: String,
        b: String,
        /// Events to preview under both (default: the `events/` samples with an order).
        #[arg(long = "event")]
        events: Vec<PathBuf>,
    },
    /// Validate, store as a new version and activate in a stage.
    Push {
        #[arg(long)]
        stage: String,
        #[arg(default_value = "config")]
        dir: PathBuf,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        by: Option<String>,
    },
    /// Push the active version of one stage into another (prod asks for confirmation).
    Promote {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Do not ask (scripts).
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        by: Option<String>,
    },
    /// Print the JSON Schema of a spec file (config/spec.schema.json).
    Schema,
    /// The mapping assistant: for each canonical field, the sample's paths that may hold it,
    /// best first, with a confidence and why (never a card number, CVV or secret).
    Suggest {
        /// A sample payload (an order as the source sends it, or an event with one).
        #[arg(long)]
        sample: PathBuf,
        /// The canonical document to map onto.
        #[arg(long, value_enum, default_value = "order")]
        target: SuggestTarget,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Write the proposal as a spec change for review: a copy of `--spec` in DIR whose
        /// `clarity.order` maps this source (never pushed or activated).
        #[arg(long, value_name = "DIR")]
        apply: Option<PathBuf>,
        /// The spec directory the change starts from.
        #[arg(long, default_value = "config")]
        spec: PathBuf,
    },
    /// The stage's versions and its audit trail.
    History {
        #[arg(long)]
        stage: String,
    },
    /// Activate the version active before the current one (or `--to vN`). Orders in flight
    /// keep the version they pinned.
    Rollback {
        #[arg(long)]
        stage: String,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum SuggestTarget {
    Order,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum OrderCmd {
    /// Queue the capture of an authorized order (the `manual` capture policy's release).
    Capture {
        #[arg(long)]
        stage: String,
        #[arg(long)]
        order: String,
    },
}

/// A failure and its exit status.
struct Fail(u8, String);

impl From<OpError> for Fail {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Store(o2c_spec::store::StoreError::Unavailable(m)) => Fail(2, m),
            other => Fail(1, other.to_string()),
        }
    }
}

fn actor(by: Option<String>) -> Actor {
    let by = by
        .or_else(|| std::env::var("O2C_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    Actor {
        by,
        at: SystemClock.now().to_rfc3339(),
    }
}

/// The orders table of a stage.
fn table_of(stage: &str) -> Result<String, Fail> {
    let var = format!("O2C_TABLE_{}", stage.to_ascii_uppercase().replace('-', "_"));
    if let Ok(t) = std::env::var(&var) {
        return Ok(t);
    }
    match (std::env::var("STAGE"), std::env::var("TABLE_NAME")) {
        (Ok(s), Ok(t)) if s == stage => Ok(t),
        _ => Err(Fail(
            2,
            format!("stage {stage}: set {var} to its orders table (or STAGE={stage} and TABLE_NAME, as infra/local/.state/local.env does)"),
        )),
    }
}

async fn store_of(stage: &str) -> Result<Arc<DynamoOrderStore>, Fail> {
    let table = table_of(stage)?;
    let sdk = o2c_aws::aws_config(None).await;
    Ok(Arc::new(DynamoOrderStore::from_conf(&sdk, table)))
}

fn load(dir: &Path) -> Result<(SpecDocument, Sources), Fail> {
    load_dir(dir).map_err(|p| Fail(1, format!("{p}\n{} problem(s)", p.len())))
}

/// A spec named on the command line: a directory, or `STAGE` (its active version) or
/// `STAGE:vN`.
async fn spec_of(name: &str) -> Result<Arc<Spec>, Fail> {
    if Path::new(name).is_dir() {
        let (doc, sources) = load(Path::new(name))?;
        let problems = validate(&doc, &sources, &[]);
        if !problems.is_empty() {
            return Err(Fail(
                1,
                format!("{problems}\n{} problem(s)", problems.len()),
            ));
        }
        return Spec::compile(doc, name)
            .map(Arc::new)
            .map_err(|e| Fail(1, e));
    }
    let (stage, version) = match name.split_once(':') {
        Some((s, v)) => (s, Some(v)),
        None => (name, None),
    };
    let store = store_of(stage).await?;
    let v = match version {
        Some(v) => store.version(v).await.map_err(OpError::from)?,
        None => match store.active().await.map_err(OpError::from)? {
            Some(a) => store.version(&a.version).await.map_err(OpError::from)?,
            None => return Ok(o2c_spec::bundled()),
        },
    }
    .ok_or_else(|| Fail(1, format!("{name}: no such version")))?;
    o2c_spec::from_json(&v.document, &format!("{stage}:{}", v.id))
        .map(Arc::new)
        .map_err(|p| Fail(1, p.to_string()))
}

fn read_json(path: &Path) -> Result<Value, Fail> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Fail(2, format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Fail(2, format!("{}: not JSON: {e}", path.display())))
}

/// `*.json` files of the given paths (directories are listed, sorted).
fn json_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn render_preview(p: &Value) -> String {
    let mut out = String::new();
    let o = &p["order"];
    out.push_str(&format!(
        "spec {} (label {}, hash {})\norder {} (Clarity {} status {}): {} {}, payable {}\n\nrules:\n",
        p["spec"]["version"].as_str().unwrap_or(""),
        p["spec"]["label"].as_str().unwrap_or(""),
        p["spec"]["hash"].as_str().unwrap_or(""),
        o["id"].as_str().unwrap_or(""),
        o["clarity_id"].as_str().unwrap_or(""),
        o["clarity_status"].as_str().unwrap_or(""),
        o["total"].as_str().unwrap_or(""),
        o["currency"].as_str().unwrap_or(""),
        o["payable"],
    ));
    for r in p["rules"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {}{}: {} ({})\n",
            r["rule"].as_str().unwrap_or(""),
            r.get("outcome")
                .and_then(Value::as_str)
                .map(|o| format!(" [{o}]"))
                .unwrap_or_default(),
            r["policy"].as_str().unwrap_or(""),
            r.get("reason")
                .or(r.get("detail"))
                .and_then(Value::as_str)
                .unwrap_or("default"),
        ));
    }
    for (phase, title) in [
        ("intake", "at intake"),
        ("accepted", "if accepted"),
        ("rejected", "if rejected"),
    ] {
        out.push_str(&format!("\nrequests {title}:\n"));
        for r in p["requests"][phase].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  {} {} {}{}\n    {}\n",
                r["system"].as_str().unwrap_or(""),
                r["method"].as_str().unwrap_or(""),
                r["path"].as_str().unwrap_or(""),
                r.get("when")
                    .and_then(Value::as_str)
                    .map(|w| format!("  ({w})"))
                    .unwrap_or_default(),
                serde_json::to_string(&r["body"]).unwrap_or_default(),
            ));
        }
    }
    out
}

fn confirm(stage: &str) -> Result<(), Fail> {
    if !std::io::stdin().is_terminal() {
        return Err(Fail(
            1,
            format!("promoting to {stage} needs confirmation: run it in a terminal, or pass --yes"),
        ));
    }
    print!("Promote to {stage}? Type the stage name to confirm: ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Fail(2, e.to_string()))?;
    if line.trim() == stage {
        Ok(())
    } else {
        Err(Fail(1, "not confirmed; nothing changed".into()))
    }
}

fn pushed(stage: &str, p: &Pushed) -> String {
    match p {
        Pushed::Unchanged { version } => {
            format!("{stage}: unchanged ({version} is already this spec); nothing stored")
        }
        Pushed::Activated { version, previous } => format!(
            "{stage}: stored and activated {version} (was {})",
            previous.as_deref().unwrap_or("the bundled spec")
        ),
    }
}

async fn run(cli: Cli) -> Result<String, Fail> {
    match cli.command {
        Top::Spec(SpecCmd::Suggest {
            sample: sample_file,
            target: SuggestTarget::Order,
            format,
            apply,
            spec,
        }) => {
            let sample = read_json(&sample_file)?;
            // An event (API Gateway or envelope) holding an order: the order itself.
            let sample = o2c_pipeline::spec_preview::order_of_event(&sample).unwrap_or(sample);
            let s = o2c_spec::suggest::suggest(&sample);
            if let Some(dir) = apply {
                return apply_suggestion(&sample, &sample_file, &s, &spec, &dir);
            }
            Ok(match format {
                Format::Json => {
                    serde_json::to_string_pretty(&s).map_err(|e| Fail(2, e.to_string()))?
                }
                Format::Text => s
                    .iter()
                    .map(|t| match t.candidates.first() {
                        Some(c) if c.confidence >= 0.5 => {
                            format!(
                                "{:<22} ← {:<40} {:.2}  {}",
                                t.target, c.source, c.confidence, c.why
                            )
                        }
                        _ => format!("{:<22}   (nothing in the sample)", t.target),
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            })
        }
        Top::Spec(SpecCmd::Validate { dir, samples }) => {
            let (doc, sources) = load(&dir)?;
            let mut inputs = Vec::new();
            // Files without a Clarity order (other systems' events) are not samples for it.
            for f in json_files(&samples) {
                if let Ok(order) = o2c_pipeline::spec_preview::order_of_event(&read_json(&f)?) {
                    inputs.push(("clarity.order".to_string(), order));
                }
            }
            let mut problems = validate(&doc, &sources, &inputs);
            // Every sample event through the whole pipeline's mappings and rules (a lookup
            // missing a key the data needs shows here).
            if problems.is_empty() {
                let spec =
                    Arc::new(Spec::compile(doc.clone(), "validating").map_err(|e| Fail(1, e))?);
                for f in json_files(&samples) {
                    let event = read_json(&f)?;
                    if o2c_pipeline::spec_preview::order_of_event(&event).is_err() {
                        continue;
                    }
                    if let Err(e) =
                        o2c_pipeline::spec_preview::preview(&spec, &event, SystemClock.now())
                    {
                        problems.push(o2c_spec::Problem::file(
                            f.display().to_string(),
                            format!("sample event fails: {e}"),
                        ));
                    }
                }
            }
            if problems.is_empty() {
                Ok(format!(
                    "valid: {} (label {}; {} mappings, {} lookups, {} rules, {} functions; {} sample event(s))",
                    dir.display(),
                    doc.version,
                    doc.mappings.len(),
                    doc.lookups.len(),
                    doc.rules.len(),
                    doc.functions.len(),
                    inputs.len()
                ))
            } else {
                Err(Fail(
                    1,
                    format!("{problems}\n{} problem(s)", problems.len()),
                ))
            }
        }
        Top::Spec(SpecCmd::Preview { event, spec, json }) => {
            let spec = spec_of(&spec).await?;
            let p =
                o2c_pipeline::spec_preview::preview(&spec, &read_json(&event)?, SystemClock.now())
                    .map_err(|e| Fail(1, e))?;
            Ok(if json {
                serde_json::to_string_pretty(&p).unwrap_or_default()
            } else {
                render_preview(&p)
            })
        }
        Top::Spec(SpecCmd::Diff { a, b, events }) => {
            let (sa, sb) = (spec_of(&a).await?, spec_of(&b).await?);
            let mut out = format!("diff {a} → {b}\n");
            let lines = ops::diff(&sa.document, &sb.document);
            if lines.is_empty() {
                out.push_str("  (no difference)\n");
            }
            for l in lines {
                out.push_str(&format!("  {l}\n"));
            }
            let events = if events.is_empty() {
                json_files(&[PathBuf::from("events")])
            } else {
                json_files(&events)
            };
            for f in events {
                let Ok(event) = read_json(&f) else { continue };
                if o2c_pipeline::spec_preview::order_of_event(&event).is_err() {
                    continue;
                }
                let now = SystemClock.now();
                let pa = o2c_pipeline::spec_preview::preview(&sa, &event, now);
                let pb = o2c_pipeline::spec_preview::preview(&sb, &event, now);
                out.push_str(&format!("\npreview of {}:\n", f.display()));
                match (pa, pb) {
                    (Ok(mut pa), Ok(mut pb)) => {
                        pa["spec"] = Value::Null;
                        pb["spec"] = Value::Null;
                        let changes = json_changes("", &pa, &pb);
                        if changes.is_empty() {
                            out.push_str("  the same requests and decisions\n");
                        }
                        for c in changes {
                            out.push_str(&format!("  {c}\n"));
                        }
                    }
                    (ra, rb) => out.push_str(&format!(
                        "  {a}: {}\n  {b}: {}\n",
                        ra.err().unwrap_or_else(|| "ok".into()),
                        rb.err().unwrap_or_else(|| "ok".into())
                    )),
                }
            }
            Ok(out)
        }
        Top::Spec(SpecCmd::Push {
            stage,
            dir,
            note,
            by,
        }) => {
            let (doc, sources) = load(&dir)?;
            let store = store_of(&stage).await?;
            let p = ops::push(&*store, &doc, &sources, &actor(by), &note).await?;
            Ok(pushed(&stage, &p))
        }
        Top::Spec(SpecCmd::Promote { from, to, yes, by }) => {
            if from == to {
                return Err(Fail(2, "--from and --to name the same stage".into()));
            }
            if to == "prod" && !yes {
                confirm(&to)?;
            }
            let (fs, ts) = (store_of(&from).await?, store_of(&to).await?);
            let p = ops::promote(&*fs, &from, &*ts, &actor(by)).await?;
            Ok(pushed(&to, &p))
        }
        Top::Spec(SpecCmd::Schema) => {
            Ok(serde_json::to_string_pretty(&o2c_spec::schema::json_schema()).unwrap_or_default())
        }
        Top::Spec(SpecCmd::History { stage }) => {
            let store = store_of(&stage).await?;
            let active = store.active().await.map_err(OpError::from)?;
            let mut out = format!(
                "{stage}: active {}\n\nversions:\n",
                active
                    .as_ref()
                    .map(|a| format!(
                        "{} (since {} by {})",
                        a.version, a.activated_at, a.activated_by
                    ))
                    .unwrap_or_else(|| "none (the bundled spec serves)".into())
            );
            for v in store.versions().await.map_err(OpError::from)? {
                out.push_str(&format!(
                    "  {:<5} label {:<16} hash {}  {} by {}\n",
                    v.id, v.label, v.hash, v.created_at, v.created_by
                ));
            }
            out.push_str("\naudit:\n");
            for e in store.history().await.map_err(OpError::from)? {
                out.push_str(&format!(
                    "  {}  {:<9} {:<5} from {:<5} by {}{}\n",
                    e.at,
                    e.action,
                    e.version,
                    e.from.as_deref().unwrap_or("-"),
                    e.by,
                    if e.note.is_empty() {
                        String::new()
                    } else {
                        format!("  ({})", e.note)
                    }
                ));
            }
            Ok(out)
        }
        Top::Spec(SpecCmd::Rollback { stage, to, by }) => {
            let store = store_of(&stage).await?;
            let v = ops::rollback(&*store, to.as_deref(), &actor(by)).await?;
            Ok(format!(
                "{stage}: {v} is active again; orders in flight keep the version they pinned"
            ))
        }
        Top::Quarantine(cmd) => quarantine(cmd).await,
        Top::Order(OrderCmd::Capture { stage, order }) => {
            let id = o2c_domain::OrderId::new(order.clone()).map_err(|e| Fail(2, e.to_string()))?;
            let store = store_of(&stage).await?;
            use o2c_domain::ports::OrderStore;
            let record = store
                .get(&id)
                .await
                .map_err(|e| Fail(2, e.to_string()))?
                .ok_or_else(|| Fail(1, format!("no order {order}")))?;
            if record.state != o2c_domain::OrderState::Authorized {
                return Err(Fail(
                    1,
                    format!(
                        "order {order} is {}, not Authorized: nothing to capture",
                        record.state
                    ),
                ));
            }
            let url = std::env::var("CAPTURES_QUEUE_URL").map_err(|_| {
                Fail(
                    2,
                    "CAPTURES_QUEUE_URL is not set (it is in infra/local/.state/local.env)".into(),
                )
            })?;
            let sdk = o2c_aws::aws_config(None).await;
            let publisher = o2c_aws::sqs::SqsPublisher::from_conf(
                &sdk,
                [(o2c_domain::ports::QueueName::Captures, url)]
                    .into_iter()
                    .collect(),
            );
            let m =
                o2c_pipeline::messages::PaymentCommand::Capture { order_id: id }.message("manual");
            use o2c_domain::ports::Publisher;
            publisher
                .publish(&m)
                .await
                .map_err(|e| Fail(2, e.to_string()))?;
            Ok(format!("order {order}: capture queued (manual)"))
        }
    }
}

async fn quarantine(cmd: QuarantineCmd) -> Result<String, Fail> {
    use o2c_local_bridge::quarantine_cli as q;
    let stage = match &cmd {
        QuarantineCmd::List { stage, .. }
        | QuarantineCmd::Show { stage, .. }
        | QuarantineCmd::Replay { stage, .. } => stage.clone(),
    };
    let ops = q::ops_for(&stage).await.map_err(|e| Fail(2, e))?;
    let json = |v: &Value| serde_json::to_string_pretty(v).map_err(|e| Fail(2, e.to_string()));
    match cmd {
        QuarantineCmd::List {
            days, open, format, ..
        } => {
            let items = ops
                .list(days, open)
                .await
                .map_err(|e| Fail(2, e.to_string()))?;
            match format {
                Format::Text => Ok(q::render_list(&items)),
                Format::Json => json(&q::list_json(&items)),
            }
        }
        QuarantineCmd::Show {
            event,
            body,
            format,
            ..
        } => {
            let item = ops.show(&event).await.map_err(|e| Fail(1, e.to_string()))?;
            if body {
                return item.body.ok_or_else(|| {
                    Fail(
                        1,
                        format!("{event}: the body was over the cap and was not kept"),
                    )
                });
            }
            match format {
                Format::Text => Ok(q::render_show(&item)),
                Format::Json => {
                    let mut v = q::list_json(std::slice::from_ref(&item))[0].clone();
                    v["suggested_fix"] = o2c_pipeline::quarantine::alert::fix_for(&item)
                        .map(|f| Value::String(f.line()))
                        .unwrap_or(Value::Null);
                    json(&v)
                }
            }
        }
        QuarantineCmd::Replay {
            event,
            all,
            dry_run,
            patch,
            by,
            format,
            ..
        } => {
            let patch = patch
                .map(|p| q::read_patch(&p))
                .transpose()
                .map_err(|e| Fail(2, e))?;
            let ids: Vec<String> = match (event, all) {
                (Some(id), false) => vec![id],
                (None, true) => ops
                    .list(14, true)
                    .await
                    .map_err(|e| Fail(2, e.to_string()))?
                    .into_iter()
                    .rev()
                    .map(|q| q.event_id)
                    .collect(),
                _ => return Err(Fail(2, "name an event id, or pass --all".into())),
            };
            let by = actor(by).by;
            let mut results = Vec::new();
            for id in ids {
                let r = ops
                    .replay(&id, patch.as_deref(), dry_run, &by)
                    .await
                    .map_err(|e| Fail(1, e.to_string()))?;
                results.push((id, r));
            }
            let failed = results.iter().filter(|(_, r)| !r.ok()).count();
            let out = match format {
                Format::Text => {
                    let mut lines: Vec<String> = results
                        .iter()
                        .map(|(id, r)| q::render_replay(id, r, dry_run))
                        .collect();
                    lines.push(format!(
                        "{} event(s){}: {} ok, {failed} not",
                        results.len(),
                        if dry_run {
                            " (dry run: nothing written)"
                        } else {
                            ""
                        },
                        results.len() - failed
                    ));
                    lines.join("\n")
                }
                Format::Json => json(&q::replay_json(&results))?,
            };
            if failed > 0 {
                return Err(Fail(1, out));
            }
            Ok(out)
        }
    }
}

/// `o2c spec suggest --apply DIR`: the spec in `from` copied to `dir` with a `clarity.order`
/// that maps the sample's source, validated against the sample, for review.
fn apply_suggestion(
    sample: &Value,
    sample_file: &Path,
    s: &[o2c_spec::suggest::Suggestion],
    from: &Path,
    dir: &Path,
) -> Result<String, Fail> {
    let (doc, _) = load(from)?;
    let current = doc
        .mappings
        .get("clarity.order")
        .and_then(|m| m.expr.clone())
        .unwrap_or_else(|| ".".into());
    let p = o2c_spec::suggest::apply::clarity_order(sample, s, &current);
    std::fs::create_dir_all(dir).map_err(|e| Fail(2, format!("{}: {e}", dir.display())))?;
    let mut old_lines = Vec::new();
    for e in std::fs::read_dir(from).map_err(|e| Fail(2, format!("{}: {e}", from.display())))? {
        let path = e.map_err(|e| Fail(2, e.to_string()))?.path();
        if !path.is_file() {
            continue;
        }
        let name = path.file_name().unwrap_or_default().to_owned();
        let mut text = std::fs::read_to_string(&path)
            .map_err(|e| Fail(2, format!("{}: {e}", path.display())))?;
        if name == "mappings.yaml" {
            let (new, old) = replace_clarity_order(&text, &p, sample_file)
                .ok_or_else(|| Fail(2, format!("{}: no clarity.order expr", path.display())))?;
            text = new;
            old_lines = old;
        }
        std::fs::write(dir.join(&name), text)
            .map_err(|e| Fail(2, format!("{}: {e}", dir.display())))?;
    }
    // The proposal against the sample it was made from.
    let (doc, sources) = load(dir)?;
    let problems = validate(
        &doc,
        &sources,
        &[("clarity.order".to_string(), sample.clone())],
    );
    let mut out = vec![format!(
        "wrote {} (a copy of {} with a new clarity.order); nothing pushed or activated",
        dir.display(),
        from.display()
    )];
    out.push(String::new());
    out.extend(old_lines.iter().map(|l| format!("- {l}")));
    out.extend(
        std::iter::once("    expr: >-".to_string())
            .chain(p.expr.lines().map(|l| format!("      {l}")))
            .map(|l| format!("+ {l}")),
    );
    out.push(String::new());
    out.push(format!("moved ({}): {}", p.moved.len(), p.moved.join(", ")));
    if !p.missing.is_empty() {
        out.push(format!(
            "not found ({}): {}",
            p.missing.len(),
            p.missing.join(", ")
        ));
    }
    if problems.is_empty() {
        out.push(format!("validate {} with the sample: valid", dir.display()));
    } else {
        out.push(format!(
            "validate {} with the sample: {} problem(s) to settle by hand:",
            dir.display(),
            problems.len()
        ));
        out.extend(problems.iter().map(|p| format!("  {p}")));
    }
    out.push(format!(
        "next: review it, `o2c spec validate {} --sample {}`, then `o2c spec push --stage dev {}`",
        dir.display(),
        sample_file.display(),
        dir.display()
    ));
    Ok(out.join("\n"))
}

/// `mappings.yaml` with `clarity.order`'s `expr` replaced by the proposal (the old lines
/// returned for the diff).
fn replace_clarity_order(
    text: &str,
    p: &o2c_spec::suggest::apply::Proposal,
    sample: &Path,
) -> Option<(String, Vec<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == "  clarity.order:")?;
    let expr = start
        + 1
        + lines[start + 1..]
            .iter()
            .take_while(|l| l.starts_with("    ") || l.trim().is_empty())
            .position(|l| l.starts_with("    expr:"))?;
    // The expr line and any block-scalar lines under it.
    let end = expr
        + 1
        + lines[expr + 1..]
            .iter()
            .take_while(|l| l.starts_with("      "))
            .count();
    let mut out: Vec<String> = lines[..expr].iter().map(|l| l.to_string()).collect();
    out.push(format!(
        "    # Proposed by `o2c spec suggest --apply` from {}: review before pushing.",
        sample.display()
    ));
    if !p.missing.is_empty() {
        out.push(format!(
            "    # Not found in the sample: {}.",
            p.missing.join(", ")
        ));
    }
    out.push("    expr: >-".into());
    out.extend(p.expr.lines().map(|l| format!("      {l}")));
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    let old = lines[expr..end].iter().map(|l| l.to_string()).collect();
    Some((out.join("\n") + "\n", old))
}

/// Leaf-level differences of two JSON documents: `path: a → b`.
fn json_changes(path: &str, a: &Value, b: &Value) -> Vec<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .flat_map(|k| {
                    json_changes(
                        &format!("{path}/{k}"),
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                    )
                })
                .collect()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .flat_map(|(i, (p, q))| json_changes(&format!("{path}/{i}"), p, q))
            .collect(),
        _ if a == b => vec![],
        _ => vec![format!("{path}: {a} → {b}")],
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(out) => {
            println!("{}", out.trim_end());
            ExitCode::SUCCESS
        }
        Err(Fail(code, message)) => {
            eprintln!("{}", message.trim_end());
            ExitCode::from(code)
        }
    }
}

//! The whole integration in one test process: moto provisioned from template.yaml, the four
//! simulators, every SQS function's handler behind the same bridge logic the local run uses,
//! and the webhook functions behind the local API Gateway stand-in — the same handlers and
//! wiring as the Lambda binaries, with configuration from the same environment variables.

#![allow(dead_code)]

pub mod invariants;

use o2c_domain::ports::{OrderRecord, OrderStore, QueueName};
use o2c_domain::recipe::Checkpoints;
use o2c_domain::{OrderId, OrderState};
use o2c_e2e::{LocalAws, Sandbox};
use o2c_local_bridge::gateway::{serve, Routes};
use o2c_local_bridge::{drain, Bridge, InProcessInvoker, Mapping, PollStats};
use o2c_pipeline::{app, handler::Accepts, specs};
use o2c_runtime::config::{Env, FunctionConfig};
use o2c_runtime::lambda::{FunctionSpec, HttpHandler};
use o2c_runtime::wiring::Adapters;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub struct Stack {
    pub sandbox: Sandbox,
    pub aws: LocalAws,
    pub sdk: aws_config::SdkConfig,
    pub bridges: Vec<Bridge>,
    /// The handler behind each queue (to invoke directly, e.g. two workers at once).
    pub handlers: HashMap<QueueName, Arc<dyn o2c_runtime::batch::MessageHandler>>,
    pub store: Arc<dyn OrderStore>,
    pub webhook_base: String,
    pub http: reqwest::Client,
}

/// Options for a stack.
#[derive(Default)]
pub struct Options {
    /// Crash hooks for the payment steps (fault injection).
    pub checkpoints: Option<Arc<dyn Checkpoints>>,
    /// Delay before a failed message is visible again.
    pub retry_delay: Duration,
    /// Claim lease (default: derived from the 10 s test timeout).
    pub lease: Option<Duration>,
    /// A routing document put in the table before the functions start (dynamic routing).
    pub routing_document: Option<String>,
}

async fn boot(
    aws: &LocalAws,
    sdk: &aws_config::SdkConfig,
    spec: &FunctionSpec,
    lease: Option<Duration>,
) -> (FunctionConfig, Adapters) {
    let mut vars = aws.env.clone();
    if let Some(l) = lease {
        vars.insert("CLAIM_LEASE_SECS".into(), l.as_secs().to_string());
    }
    vars.insert("FUNCTION_TIMEOUT_SECS".into(), "10".into());
    vars.insert("SECRET_CACHE_TTL_SECS".into(), "300".into());
    // A pushed spec version serves the next order at once.
    vars.insert("SPEC_REFRESH_SECS".into(), "0".into());
    let env = Env::from_pairs(vars);
    let config = FunctionConfig::load(&env, spec.sends_to, spec.consumes, spec.secrets)
        .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
    let adapters = Adapters::with_sdk(sdk.clone(), &config, &env)
        .await
        .unwrap();
    (config, adapters)
}

/// The local stack's Clarity webhook secret (`infra/local/secrets.local.json`).
pub fn clarity_secret() -> secrecy::SecretString {
    let path = o2c_e2e::repo_root().join("infra/local/secrets.local.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    secrecy::SecretString::from(
        v["ClaritySecret"]["webhook_secret"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

impl Stack {
    /// POST a Clarity webhook with these body bytes, signed as Clarity signs it (a fresh
    /// timestamp each call, as on a redelivery): the status and the JSON answer.
    pub async fn deliver_clarity(
        &self,
        event_id: &str,
        event_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let signature =
            o2c_connectors::clarity::webhook::signature_header(&clarity_secret(), &ts, &body);
        let r = self
            .http
            .post(format!("{}/webhooks/clarity", self.webhook_base))
            .header("content-type", "application/json")
            .header("x-clarity-event-id", event_id)
            .header("x-clarity-event-type", event_type)
            .header("x-clarity-timestamp", &ts)
            .header("x-clarity-signature", signature)
            .header("x-clarity-delivery-attempt", "1")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn start(options: Options) -> Stack {
        let sandbox = Sandbox::start();
        let aws = LocalAws::start_with(&sandbox.provision_env());
        let sdk = aws.moto.sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        if let Some(doc) = &options.routing_document {
            let table = o2c_aws::DynamoOrderStore::from_conf(&sdk, aws.var("TABLE_NAME"));
            o2c_aws::routing::put_routing_document(&table, doc)
                .await
                .expect("routing document stored");
        }
        let mut bridges = Vec::new();
        let consumers: [(&FunctionSpec, QueueName); 5] = [
            (&specs::AUTHORIZE, QueueName::Orders),
            (&specs::CAPTURE, QueueName::Captures),
            (&specs::REFUND, QueueName::Refunds),
            (&specs::CLARITY_SYNC, QueueName::ClaritySync),
            (&specs::ERP_SYNC, QueueName::ErpSync),
        ];
        let mut store = None;
        let mut handlers = HashMap::new();
        for (spec, queue) in consumers {
            let (config, adapters) = boot(&aws, &sdk, spec, options.lease).await;
            store.get_or_insert_with(|| adapters.store.clone() as Arc<dyn OrderStore>);
            let sink = adapters.dead_letters.clone().expect("consumer has a DLQ");
            let handler = match queue {
                QueueName::Orders | QueueName::Captures | QueueName::Refunds => {
                    let accepts = match queue {
                        QueueName::Orders => Accepts::Authorize,
                        QueueName::Captures => Accepts::Capture,
                        _ => Accepts::VoidOrRefund,
                    };
                    let mut h = app::payment_handler_parts(config, adapters, accepts)
                        .await
                        .unwrap();
                    if let Some(c) = &options.checkpoints {
                        h.ports.checkpoints = c.clone();
                    }
                    Arc::new(h) as Arc<dyn o2c_runtime::batch::MessageHandler>
                }
                QueueName::ClaritySync => app::clarity_sync(config, adapters).await.unwrap(),
                QueueName::ErpSync => app::erp_sync(config, adapters).await.unwrap(),
            };
            let mapping = Mapping {
                queue_url: aws.var(queue.url_env()).to_string(),
                function: spec.name.to_string(),
                batch_size: 10,
            };
            handlers.insert(queue, handler.clone());
            let invoker = Arc::new(InProcessInvoker { handler, sink });
            let mut bridge = Bridge::new(sqs.clone(), mapping, invoker, "us-east-1")
                .await
                .unwrap();
            bridge.retry_delay = options.retry_delay;
            bridges.push(bridge);
        }
        let (config, adapters) = boot(&aws, &sdk, &specs::CLARITY_ORDER_WEBHOOK, None).await;
        let webhook: Arc<dyn HttpHandler> = app::clarity_webhook(config, adapters).await.unwrap();
        let (config, adapters) = boot(&aws, &sdk, &specs::CYBERSOURCE_NOTIFICATION, None).await;
        let notification: Arc<dyn HttpHandler> = app::cybersource_notification(config, adapters)
            .await
            .unwrap();
        let (config, adapters) = boot(&aws, &sdk, &specs::CONSOLE, None).await;
        let console = o2c_console::wiring::console(config, adapters)
            .await
            .unwrap();
        let routes = Routes::new()
            .post("/webhooks/clarity", webhook)
            .post("/webhooks/cybersource", notification)
            .under("/console", console);
        let addr = serve(routes, 0).await.unwrap();
        let webhook_base = format!("http://{addr}");
        let http = reqwest::Client::new();
        let stack = Stack {
            sandbox,
            aws,
            sdk,
            bridges,
            handlers,
            store: store.unwrap(),
            webhook_base,
            http,
        };
        stack
            .admin(
                "clarity",
                "config",
                json!({"webhook_url": format!("{}/webhooks/clarity", stack.webhook_base)}),
            )
            .await;
        stack
            .admin(
                "cybersource",
                "config",
                json!({"notify_url": format!("{}/webhooks/cybersource", stack.webhook_base)}),
            )
            .await;
        stack
    }

    /// POST to a simulator's admin API.
    pub async fn admin(&self, sim: &str, path: &str, body: Value) -> Value {
        self.admin_send(reqwest::Method::POST, sim, path, body)
            .await
    }

    /// Send `body` to a simulator's admin API with `method`; panics unless it succeeds.
    pub async fn admin_send(
        &self,
        method: reqwest::Method,
        sim: &str,
        path: &str,
        body: Value,
    ) -> Value {
        self.sandbox
            .admin(&self.http, method, sim, path, body)
            .await
    }

    /// GET from a simulator's admin API.
    pub async fn admin_get(&self, sim: &str, path: &str) -> Value {
        let url = format!("{}/__admin/{path}", self.sandbox.url(sim));
        self.http
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A Cybersource transient token (Microform JWT) minted by the simulator.
    pub async fn transient_token(&self) -> String {
        let v = self
            .admin("cybersource", "transient-tokens", json!({}))
            .await;
        v["transientTokenJwt"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {v}"))
            .to_string()
    }

    /// Create an order in the Clarity simulator (which sends the signed `order.created`
    /// webhook to our receiver). `email_local` picks the Decision Manager outcome.
    pub async fn clarity_order(
        &self,
        id: &str,
        email_local: &str,
        currency: &str,
        extra: Value,
    ) -> Value {
        let token = self.transient_token().await;
        let mut body = json!({
            "id": id,
            "currency": currency,
            "customer": {"email": format!("{email_local}+{id}@example.test")},
            "payment": {"instrumentToken": token},
            "sync": true,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.admin("clarity", "orders", body).await
    }

    /// Run every bridge until all queues stay empty (at most two minutes).
    pub async fn drain(&self) -> PollStats {
        self.drain_within(Duration::from_secs(120)).await
    }

    /// Run every bridge until all queues stay empty, or `deadline` has passed (size it to the
    /// work: it returns as soon as everything is idle).
    pub async fn drain_within(&self, deadline: Duration) -> PollStats {
        drain(&self.bridges, 6, deadline).await
    }

    pub async fn record(&self, id: &str) -> OrderRecord {
        self.store
            .get(&OrderId::new(id).unwrap())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("order {id} not stored"))
    }

    pub async fn state(&self, id: &str) -> OrderState {
        self.record(id).await.state
    }

    /// The Clarity simulator's status of an order.
    pub async fn clarity_status(&self, id: &str) -> String {
        let v = self.admin_get("clarity", &format!("orders/{id}")).await;
        v["order"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The Cybersource ledger rows of a reference prefix (our order id).
    pub async fn ledger(&self) -> Vec<Value> {
        let v = self.admin_get("cybersource", "ledger").await;
        v["entries"].as_array().cloned().unwrap_or_default()
    }

    /// Every message in a DLQ. They are hidden for a minute while read (so each is read once),
    /// then visible again; call it at the end of a test.
    pub async fn dlq(&self, queue: QueueName) -> Vec<aws_sdk_sqs::types::Message> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let url = self.aws.var(queue.dlq_url_env());
        let mut all = Vec::new();
        loop {
            let out = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .message_attribute_names("All")
                .send()
                .await
                .unwrap();
            let batch = out.messages.unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            all.extend(batch);
        }
        for m in &all {
            if let Some(h) = m.receipt_handle() {
                let _ = sqs
                    .change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(h)
                    .visibility_timeout(0)
                    .send()
                    .await;
            }
        }
        all
    }

    /// The operator's move after an incident: replay every dead letter as it is
    /// (`dlq-redrive` `{"action":"replay","queue":"all","dry_run":false}`), built like the Lambda.
    pub async fn redrive_all(&self) -> Value {
        let env = Env::from_pairs(self.aws.env.clone());
        let spec = &specs::DLQ_REDRIVE;
        let config =
            FunctionConfig::load(&env, spec.sends_to, spec.consumes, spec.secrets).unwrap();
        let adapters = Adapters::with_sdk(self.sdk.clone(), &config, &env)
            .await
            .unwrap();
        let redrive = o2c_pipeline::redrive::Redrive::from_config(&config, &adapters).unwrap();
        redrive
            .handle_json(json!({"action": "replay", "queue": "all", "dry_run": false}))
            .await
            .unwrap()
    }
}

/// Count ledger rows by type for one reference prefix.
pub fn ledger_counts(ledger: &[Value], order: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for row in ledger {
        let code = row["code"].as_str().unwrap_or_default();
        if code.starts_with(&format!("{order}-")) {
            let kind = row["type"].as_str().unwrap_or_default().to_string();
            *out.entry(kind).or_default() += 1;
        }
    }
    out
}

/// The scheduled pollers, wired like their binaries (same specs, same app functions).
impl Stack {
    /// The chargeback-poller, ready to `run(event)`.
    pub async fn chargeback_poller(
        &self,
    ) -> Arc<o2c_pipeline::pollers::chargeback::ChargebackPoller> {
        let (config, adapters) = boot(&self.aws, &self.sdk, &specs::CHARGEBACK_POLLER, None).await;
        o2c_pipeline::pollers::app::chargeback_poller(config, adapters)
            .await
            .unwrap()
    }

    /// The erp-poller, ready to `run(event)`.
    pub async fn erp_poller(&self) -> Arc<o2c_pipeline::pollers::erp::ErpPoller> {
        let (config, adapters) = boot(&self.aws, &self.sdk, &specs::ERP_POLLER, None).await;
        o2c_pipeline::pollers::app::erp_poller(config, adapters)
            .await
            .unwrap()
    }
}

/// What a request could have changed in AWS: every item of every table, and the approximate
/// message counts of every queue and DLQ. Two snapshots compare equal when nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSnapshot {
    /// Table name → its items, each rendered with sorted attribute names, sorted.
    pub items: std::collections::BTreeMap<String, Vec<String>>,
    /// Queue name → (visible, in flight, delayed).
    pub queues: std::collections::BTreeMap<String, (i64, i64, i64)>,
}

impl AwsSnapshot {
    /// Human-readable differences from `before` (empty when equal).
    pub fn diff(&self, before: &AwsSnapshot) -> Vec<String> {
        let mut out = Vec::new();
        for (table, items) in &self.items {
            let old = before.items.get(table).cloned().unwrap_or_default();
            for i in items.iter().filter(|i| !old.contains(i)) {
                out.push(format!("{table}: + {}", &i[..i.len().min(300)]));
            }
            for i in old.iter().filter(|i| !items.contains(i)) {
                out.push(format!("{table}: - {}", &i[..i.len().min(300)]));
            }
        }
        for (q, counts) in &self.queues {
            let old = before.queues.get(q).copied().unwrap_or_default();
            if *counts != old {
                out.push(format!(
                    "{q}: (visible, in flight, delayed) {old:?} → {counts:?}"
                ));
            }
        }
        out
    }

    /// Messages across every queue and DLQ.
    pub fn messages(&self) -> i64 {
        self.queues.values().map(|(a, b, c)| a + b + c).sum()
    }

    /// Items across every table.
    pub fn item_count(&self) -> usize {
        self.items.values().map(Vec::len).sum()
    }
}

/// The card-data scan's report (`infra/local/cardscan.py --json`).
#[derive(Debug, Clone)]
pub struct CardScan {
    /// Card-number-like runs found (0 is the goal).
    pub hits: u64,
    /// 0 clean, 1 hits, 2 the scan could not run.
    pub exit: i32,
    /// `{total_hits, sources: [{kind, name, read, hits, notes, examples}]}`.
    pub report: Value,
}

impl Stack {
    /// Snapshot every table (full consistent scan) and every queue's approximate counts.
    pub async fn aws_snapshot(&self) -> AwsSnapshot {
        let ddb = aws_sdk_dynamodb::Client::new(&self.sdk);
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut items = std::collections::BTreeMap::new();
        let tables = ddb.list_tables().send().await.unwrap();
        for table in tables.table_names() {
            let mut rows = Vec::new();
            let mut start = None;
            loop {
                let page = ddb
                    .scan()
                    .table_name(table)
                    .consistent_read(true)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .unwrap();
                for item in page.items() {
                    rows.push(canonical_item(item));
                }
                start = page.last_evaluated_key().cloned();
                if start.is_none() {
                    break;
                }
            }
            rows.sort();
            items.insert(table.clone(), rows);
        }
        let mut queues = std::collections::BTreeMap::new();
        let urls = sqs.list_queues().send().await.unwrap();
        for url in urls.queue_urls() {
            use aws_sdk_sqs::types::QueueAttributeName as A;
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(A::ApproximateNumberOfMessages)
                .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
                .attribute_names(A::ApproximateNumberOfMessagesDelayed)
                .send()
                .await
                .unwrap();
            let get = |a: A| -> i64 {
                attrs
                    .attributes()
                    .and_then(|m| m.get(&a))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            let name = url.rsplit('/').next().unwrap_or(url).to_string();
            queues.insert(
                name,
                (
                    get(A::ApproximateNumberOfMessages),
                    get(A::ApproximateNumberOfMessagesNotVisible),
                    get(A::ApproximateNumberOfMessagesDelayed),
                ),
            );
        }
        AwsSnapshot { items, queues }
    }

    /// Run the card-data scan (`infra/local/cardscan.py`) over this stack's tables and queues
    /// (peeked, nothing deleted) and the given log files.
    pub fn card_scan(&self, logs: &[std::path::PathBuf]) -> CardScan {
        self.card_scan_with(logs, &[])
    }

    /// [`Stack::card_scan`] with extra `cardscan.py` arguments, e.g.
    /// `["--ignore-field", "Timestamp"]` for logs holding EMF metric lines.
    pub fn card_scan_with(&self, logs: &[std::path::PathBuf], args: &[&str]) -> CardScan {
        let dir = std::env::temp_dir().join(format!(
            "o2c-cardscan-{}-{}",
            std::process::id(),
            o2c_e2e::free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let env_file = dir.join("local.env");
        let text: String = self
            .aws
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        std::fs::write(&env_file, text).unwrap();
        let out = std::process::Command::new(o2c_e2e::python())
            .arg(o2c_e2e::repo_root().join("infra/local/cardscan.py"))
            .arg("--json")
            .arg("--env-file")
            .arg(&env_file)
            .args(args)
            .args(logs)
            .output()
            .expect("run cardscan.py");
        let _ = std::fs::remove_dir_all(&dir);
        let exit = out.status.code().unwrap_or(2);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "cardscan.py (exit {exit}) printed no report: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        CardScan {
            hits: report["total_hits"].as_u64().unwrap_or(0),
            exit,
            report,
        }
    }
}

/// The `o2c` binary (built by `cargo test --workspace`; built here when run alone).
pub fn o2c_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("o2c");
    if !bin.exists() {
        let ok = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "o2c-local-bridge", "--bin", "o2c"])
            .current_dir(o2c_e2e::repo_root())
            .status()
            .unwrap()
            .success();
        assert!(ok, "cargo build of o2c failed");
    }
    bin
}

/// `o2c ARGS` against this stack (its environment, as infra/local/.state/local.env gives it).
pub fn o2c(s: &Stack, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(o2c_bin());
    c.args(args)
        .envs(&s.aws.env)
        .env("O2C_USER", "integration-team")
        .current_dir(o2c_e2e::repo_root());
    c
}

/// Run only the bridge of one function until its queue stays empty.
pub async fn drain_only(s: &Stack, function: &str) {
    let i = s
        .bridges
        .iter()
        .position(|b| b.mapping().function == function)
        .unwrap_or_else(|| panic!("no bridge for {function}"));
    o2c_local_bridge::drain(&s.bridges[i..=i], 4, Duration::from_secs(60)).await;
}

/// An item rendered with every map's keys sorted, nested maps included (`AttributeValue::M`
/// holds a `HashMap`, whose order differs between two reads of the same item).
fn canonical_item(item: &HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> String {
    fn value(v: &aws_sdk_dynamodb::types::AttributeValue) -> String {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        match v {
            A::M(m) => canonical_item(m),
            A::L(l) => format!("[{}]", l.iter().map(value).collect::<Vec<_>>().join(", ")),
            other => format!("{other:?}"),
        }
    }
    let sorted: std::collections::BTreeMap<_, _> = item.iter().collect();
    let fields: Vec<String> = sorted
        .into_iter()
        .map(|(k, v)| format!("{k:?}: {}", value(v)))
        .collect();
    format!("{{{}}}", fields.join(", "))
}

//! The whole integration in one test process: moto provisioned from template.yaml, the four
//! simulators, every SQS function's handler behind the same bridge logic the local run uses,
//! and the webhook functions behind the local API Gateway stand-in — the same handlers and
//! wiring as the Lambda binaries, with configuration from the same environment variables.

#![allow(dead_code)]

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
    let env = Env::from_pairs(vars);
    let config = FunctionConfig::load(&env, spec.sends_to, spec.consumes, spec.secrets)
        .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
    let adapters = Adapters::with_sdk(sdk.clone(), &config, &env)
        .await
        .unwrap();
    (config, adapters)
}

impl Stack {
    pub async fn start(options: Options) -> Stack {
        let sandbox = Sandbox::start();
        let aws = LocalAws::start_with(&sandbox.provision_env());
        let sdk = aws.moto.sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
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
        let routes = Routes::new().post("/webhooks/clarity", webhook);
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
    }

    /// POST to a simulator's admin API.
    pub async fn admin(&self, sim: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/__admin/{path}", self.sandbox.url(sim));
        let r = self.http.post(&url).json(&body).send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {url}: {status} {v}");
        v
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

    /// Run every bridge until all queues stay empty.
    pub async fn drain(&self) -> PollStats {
        drain(&self.bridges, 6, Duration::from_secs(120)).await
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

    /// Messages in a DLQ (received with a short visibility so they stay).
    pub async fn dlq(&self, queue: QueueName) -> Vec<aws_sdk_sqs::types::Message> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let url = self.aws.var(queue.dlq_url_env());
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        out.messages.unwrap_or_default()
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

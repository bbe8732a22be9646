//! The Cybersource client against the local sandbox simulator
//! (`infra/local/simulators/cybersource.py`, see infra/README.md "Cybersource simulator").
//!
//! Every test starts its own simulator on a free port (`--port 0`) with the credentials of
//! `infra/local/secrets.local.json`, so fault rules and ledgers never mix. The interpreter is
//! `$PYTHON`, else `<repo>/infra/.venv/bin/python`; a missing interpreter FAILS the tests (it is
//! part of the dev setup, `infra/bootstrap.sh`), it never skips them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use o2c_connectors::cybersource::{
    AuthorizationInput, CaptureInput, ClientConfig, CustomerInput, CybersourceClient,
    CybersourceCredentials, CybersourceError, Deadline, EventKind, HttpSignatureSigner,
    Notification, PaymentGateway, PaymentOutcome, PaymentSource, RefundInput, ReversalInput,
    TerminalError, TimeoutReversalInput, TimeoutVoidInput, TokenizeInput, VoidInput, VoidTarget,
    WebhookSignatureError, SIGNATURE_HEADER,
};
use o2c_connectors::http::retry::{Retrier, RetryPolicy};
use o2c_domain::recipe::{FailureClass, StepError};
use o2c_domain::{Address, Currency, Money};
use secrecy::SecretString;
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let py = match std::env::var_os("PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_root().join("infra/.venv/bin/python"),
    };
    assert!(
        py.exists() || py.components().count() == 1,
        "python interpreter {} not found: run infra/bootstrap.sh or set PYTHON",
        py.display()
    );
    py
}

/// A running simulator; killed (by its pid) when dropped.
struct Sim {
    child: Child,
    base_url: String,
    admin: reqwest::Client,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    fn start(extra: &[&str]) -> Sim {
        let root = repo_root();
        let mut child = Command::new(python())
            .arg(root.join("infra/local/simulators/cybersource.py"))
            .args(["--port", "0", "--seed", "7", "--quiet", "--secrets-file"])
            .arg(root.join("infra/local/secrets.local.json"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the Cybersource simulator: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("the simulator did not report its address within 30 s");
            }
        };
        let base_url = line
            .trim()
            .strip_prefix("cybersource-sim listening on ")
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("unexpected simulator banner {line:?}")
            })
            .to_owned();
        Sim {
            child,
            base_url,
            admin: reqwest::Client::new(),
        }
    }

    fn credentials(&self) -> CybersourceCredentials {
        let text = std::fs::read_to_string(repo_root().join("infra/local/secrets.local.json"))
            .expect("secrets.local.json");
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        let mut secret = doc["CybersourceSecret"].take();
        secret["base_url"] = json!(self.base_url);
        CybersourceCredentials::from_json(&secret.to_string()).unwrap()
    }

    fn config(policy: RetryPolicy) -> ClientConfig {
        ClientConfig {
            request_timeout: Duration::from_secs(10),
            retry: policy,
            ..ClientConfig::default()
        }
    }

    fn client(&self) -> CybersourceClient {
        self.client_with(fast_retries(3))
    }

    fn client_with(&self, policy: RetryPolicy) -> CybersourceClient {
        CybersourceClient::new(&self.credentials(), Self::config(policy)).unwrap()
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self
            .admin
            .request(method.clone(), format!("{}{path}", self.base_url));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "admin {method} {path}: {status} {v}");
        v
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.admin(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.admin(reqwest::Method::GET, path, None).await
    }

    async fn ledger(&self, query: &str) -> Vec<Value> {
        let v = self.get(&format!("/__admin/ledger?{query}")).await;
        v["entries"].as_array().unwrap().clone()
    }

    async fn transient_token(&self) -> String {
        let v = self
            .post(
                "/__admin/transient-tokens",
                json!({"type": "001", "suffix": "1111"}),
            )
            .await;
        v["transientTokenJwt"].as_str().unwrap().to_owned()
    }
}

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_attempts,
        min_attempt_time: Duration::from_millis(50),
    }
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

fn address() -> Address {
    Address {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        line1: "1 Analytical Way".into(),
        line2: None,
        city: "London".into(),
        region: None,
        postal_code: "N1 1AA".into(),
        country: "GB".into(),
        phone: None,
    }
}

fn auth_input(reference: &str, email: &str, amount: Money, jwt: &str) -> AuthorizationInput {
    let mut input = AuthorizationInput::new(
        reference,
        reference,
        amount,
        PaymentSource::TransientToken(SecretString::from(jwt)),
    );
    input.bill_to = Some(address());
    input.email = Some(email.into());
    input
}

fn invalid_reason(e: &CybersourceError) -> Option<&str> {
    match e {
        CybersourceError::Terminal {
            error: TerminalError::InvalidRequest { reason, .. },
            ..
        } => Some(reason),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

mod notifications;
mod payments;
mod tms_and_follow_ons;

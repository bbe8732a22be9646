//! Test harness for the local stack: a moto server on a free loopback port, provisioned from
//! `template.yaml` by the same `infra/local/provision.py` the local run uses, and (later) the
//! sandbox simulators. Everything started here is killed on drop. Missing tools fail the test;
//! nothing is skipped.

use std::collections::HashMap;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The project venv's python (`PYTHON` overrides).
pub fn python() -> PathBuf {
    let p = std::env::var_os("PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("infra/.venv/bin/python"));
    assert!(
        p.is_file(),
        "python not found at {} — run infra/bootstrap.sh (or set PYTHON)",
        p.display()
    );
    p
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Wait until something listens on `port`, or panic after `timeout`.
pub fn wait_for_port(port: u16, child: &mut Child, what: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early with {status}");
        }
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not answer on port {port} within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A moto server on 127.0.0.1, killed on drop. The binary comes from `MOTO_SERVER_BIN` (default
/// `<repo>/infra/local/moto-server`, moto with atomic DynamoDB conditional writes).
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = std::env::var_os("MOTO_SERVER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("infra/local/moto-server"));
        assert!(
            bin.is_file(),
            "moto server binary not found at {} — set MOTO_SERVER_BIN or run infra/bootstrap.sh; \
             these tests need a real moto server",
            bin.display()
        );
        let port = free_port();
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        wait_for_port(port, &mut child, "moto server", Duration::from_secs(60));
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// SDK configuration pointing at this server (region us-east-1, dummy credentials).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .endpoint_url(&self.endpoint)
            .load()
            .await
    }
}

impl Moto {
    /// An orders table as the template defines it (`pk`, `sk` strings, on demand), without TTL.
    pub async fn create_orders_table(&self, name: &str) {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let ddb = aws_sdk_dynamodb::Client::new(&self.sdk_config().await);
        let key = |n: &str, k| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(k)
                .build()
                .expect("key")
        };
        let attr = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute")
        };
        ddb.create_table()
            .table_name(name)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect("create table");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto provisioned from template.yaml, with the environment the functions would get.
pub struct LocalAws {
    pub moto: Moto,
    /// `TABLE_NAME`, `*_QUEUE_URL`, `*_DLQ_URL`, `*_SECRET_ID`, `STAGE`, ...
    pub env: HashMap<String, String>,
}

impl LocalAws {
    pub fn start() -> LocalAws {
        Self::start_with(&HashMap::new())
    }

    /// Provision with extra environment for `provision.py` (e.g. the simulators' base URLs,
    /// which the seeded secrets take from `CYBERSOURCE_BASE_URL`, `CLARITY_BASE_URL`, ...).
    pub fn start_with(extra_env: &HashMap<String, String>) -> LocalAws {
        let moto = Moto::start();
        let dir =
            std::env::temp_dir().join(format!("o2c-e2e-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let env_file = dir.join("local.env");
        let status = Command::new(python())
            .arg(repo_root().join("infra/local/provision.py"))
            .args(["--endpoint", &moto.endpoint, "--quiet", "--env-out"])
            .arg(&env_file)
            .envs(extra_env)
            .current_dir(repo_root())
            .status()
            .expect("run provision.py");
        assert!(status.success(), "provision.py failed: {status}");
        let text = std::fs::read_to_string(&env_file).expect("env file");
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        LocalAws { moto, env }
    }

    pub fn var(&self, name: &str) -> &str {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("provisioner did not emit {name}"))
    }
}

/// The four simulators (Cybersource, Clarity, NetSuite, Salesforce) in one process on free
/// loopback ports, killed on drop.
pub struct Sandbox {
    child: Child,
    /// `cybersource`, `clarity`, `netsuite`, `salesforce` → base URL.
    pub urls: HashMap<String, String>,
}

impl Sandbox {
    /// Send `body` to a simulator's admin API (`/__admin/<path>`) with `method`; panics unless
    /// it succeeds, with the status and the answer.
    pub async fn admin(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        sim: &str,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let url = format!("{}/__admin/{path}", self.url(sim));
        let r = http
            .request(method.clone(), &url)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
        assert!(status.is_success(), "{method} {url}: {status} {v}");
        v
    }

    pub fn start() -> Sandbox {
        let dir = std::env::temp_dir().join(format!(
            "o2c-sandbox-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ports = dir.join("ports.json");
        let mut child = Command::new(python())
            .arg(repo_root().join("infra/local/simulators/sandbox.py"))
            .args(["--base-port", "0", "--quiet", "--ports-file"])
            .arg(&ports)
            .arg("--secrets-file")
            .arg(repo_root().join("infra/local/secrets.local.json"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sandbox.py");
        let deadline = Instant::now() + Duration::from_secs(30);
        let urls: HashMap<String, String> = loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("sandbox exited early with {status}");
            }
            if let Ok(text) = std::fs::read_to_string(&ports) {
                if let Ok(v) = serde_json::from_str(&text) {
                    break v;
                }
            }
            assert!(
                Instant::now() < deadline,
                "sandbox did not start within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let _ = std::fs::remove_dir_all(&dir);
        Sandbox { child, urls }
    }

    pub fn url(&self, name: &str) -> &str {
        self.urls
            .get(name)
            .unwrap_or_else(|| panic!("no {name} simulator"))
    }

    /// The environment `provision.py` needs so the seeded secrets point at these simulators.
    pub fn provision_env(&self) -> HashMap<String, String> {
        [
            ("CYBERSOURCE_BASE_URL", "cybersource"),
            ("CLARITY_BASE_URL", "clarity"),
            ("ERP_BASE_URL", "netsuite"),
            ("CRM_BASE_URL", "salesforce"),
        ]
        .into_iter()
        .map(|(k, n)| (k.to_string(), self.url(n).trim_end_matches('/').to_string()))
        .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

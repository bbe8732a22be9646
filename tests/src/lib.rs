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
/// `<repo>/infra/.venv/bin/moto_server`).
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = std::env::var_os("MOTO_SERVER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("infra/.venv/bin/moto_server"));
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
        let moto = Moto::start();
        let dir =
            std::env::temp_dir().join(format!("o2c-e2e-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let env_file = dir.join("local.env");
        let status = Command::new(python())
            .arg(repo_root().join("infra/local/provision.py"))
            .args(["--endpoint", &moto.endpoint, "--quiet", "--env-out"])
            .arg(&env_file)
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

//! Console benchmark (BENCHMARKS.md §9): the console function on moto, provisioned from
//! template.yaml, behind the local API Gateway stand-in, with `--orders` orders (default
//! 10,000: 2,000 customers of five orders each, spread over 30 days, 70 % Captured, 15 %
//! Authorized, 10 % Voided, 5 % Received) written through the order store as intake writes them.
//!
//! Measures, side by side in one run: order search by id (the table's key), by e-mail (index
//! `by_email`) and by state over one week (index `by_state`, 100 newest), each `--rounds` times
//! through the HTTP API with a session; the page's first load (index.html, app.js, app.css,
//! api/session); the bundle's size. With `--browser`, also Chromium's own navigation timing
//! of the page (tests/browser/page_load.py).
//!
//!     cargo run --release -p o2c-e2e --example console_bench -- [--orders 10000] [--rounds 200] [--browser]

use o2c_domain::model::sample;
use o2c_domain::ports::{OrderRecord, OrderStore};
use o2c_domain::{OrderState, TimelineEntry, Timestamp};
use o2c_e2e::{repo_root, LocalAws};
use o2c_local_bridge::gateway::{serve, Routes};
use o2c_runtime::config::{Env, FunctionConfig};
use o2c_runtime::wiring::Adapters;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

struct Args {
    orders: usize,
    rounds: usize,
    browser: bool,
}

fn args() -> Args {
    let mut a = Args {
        orders: 10_000,
        rounds: 200,
        browser: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--orders" => a.orders = it.next().and_then(|v| v.parse().ok()).expect("--orders N"),
            "--rounds" => a.rounds = it.next().and_then(|v| v.parse().ok()).expect("--rounds N"),
            "--browser" => a.browser = true,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

const DAY_MS: i64 = 86_400_000;

fn state_of(i: usize) -> OrderState {
    match i % 20 {
        0..=13 => OrderState::Captured,
        14..=16 => OrderState::Authorized,
        17 | 18 => OrderState::Voided,
        _ => OrderState::Received,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn timed<F, Fut>(rounds: usize, mut f: F) -> (f64, f64, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ms = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let t = Instant::now();
        f(i).await;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    (
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        *ms.last().unwrap(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let aws = LocalAws::start();
    let sdk = aws.moto.sdk_config().await;
    let mut vars = aws.env.clone();
    vars.insert("FUNCTION_TIMEOUT_SECS".into(), "15".into());
    let env = Env::from_pairs(vars);
    let spec = &o2c_pipeline::specs::CONSOLE;
    let config = FunctionConfig::load(&env, spec.sends_to, spec.consumes, spec.secrets).unwrap();
    let adapters = Adapters::with_sdk(sdk.clone(), &config, &env)
        .await
        .unwrap();
    let store: Arc<dyn OrderStore> = adapters.store.clone();
    let console = o2c_console::wiring::console(config, adapters)
        .await
        .unwrap();
    let addr = serve(Routes::new().under("/console", console), 0)
        .await
        .unwrap();
    let base = format!("http://{addr}/console");

    // The orders.
    let now = Timestamp::from_system_time(std::time::SystemTime::now()).millis();
    let t = Instant::now();
    let customers = (a.orders / 5).max(1);
    futures::future::join_all((0..16).map(|w| {
        let store = store.clone();
        async move {
            for i in (w..a.orders).step_by(16) {
                let mut order = sample::order(&format!("ORD-BENCH-{i:05}"));
                order.customer.email = format!("shopper{:04}@example.test", i % customers).into();
                order.created_at =
                    Timestamp::from_millis(now - (i as i64 * 30 * DAY_MS) / a.orders as i64);
                let mut record = OrderRecord::received(
                    order,
                    TimelineEntry::new(Timestamp::from_millis(now), "order.received", "bench"),
                );
                record.state = state_of(i);
                store.create(&record).await.unwrap();
            }
        }
    }))
    .await;
    let load_s = t.elapsed().as_secs_f64();

    // A session.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/session"))
        .json(&json!({"user": "bench", "role": "operator"}))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let get = |path: String| {
        let (http, cookie) = (http.clone(), cookie.clone());
        async move {
            let r = http
                .get(path)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.json::<Value>().await.unwrap()
        }
    };
    // Each query checked once for what it returns.
    let by_email = get(format!("{base}/api/orders?email=shopper0007@example.test")).await;
    assert_eq!(by_email.as_array().unwrap().len(), a.orders / customers);
    let week = |i: usize| {
        let to = Timestamp::from_millis(now - (i % 20) as i64 * DAY_MS);
        let from = Timestamp::from_millis(to.millis() - 7 * DAY_MS);
        (from, to)
    };
    let (from, to) = week(0);
    let by_state = get(format!(
        "{base}/api/orders?state=Captured&from={from}&to={to}"
    ))
    .await;
    assert_eq!(by_state.as_array().unwrap().len(), 100);

    let rounds = a.rounds;
    let id = timed(rounds, |i| {
        let g = get(format!(
            "{base}/api/orders?id=ORD-BENCH-{:05}",
            (i * 37) % a.orders
        ));
        async move {
            assert_eq!(g.await.as_array().unwrap().len(), 1);
        }
    })
    .await;
    let email = timed(rounds, |i| {
        let g = get(format!(
            "{base}/api/orders?email=shopper{:04}@example.test",
            (i * 13) % customers
        ));
        async move {
            assert!(!g.await.as_array().unwrap().is_empty());
        }
    })
    .await;
    let state = timed(rounds, |i| {
        let (from, to) = week(i);
        let g = get(format!(
            "{base}/api/orders?state=Captured&from={from}&to={to}"
        ));
        async move {
            assert!(!g.await.as_array().unwrap().is_empty());
        }
    })
    .await;
    let page = timed(rounds.min(50), |_| {
        let http = http.clone();
        let base = base.clone();
        async move {
            for p in ["index.html", "app.js", "app.css", "api/session"] {
                http.get(format!("{base}/{p}"))
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
            }
        }
    })
    .await;

    let assets = repo_root().join("shared/console/assets");
    let mut raw = 0usize;
    let mut gz = 0usize;
    for f in ["index.html", "app.js", "app.css"] {
        let bytes = std::fs::read(assets.join(f)).unwrap();
        raw += bytes.len();
        let out = std::process::Command::new("gzip")
            .args(["-9", "-c"])
            .arg(assets.join(f))
            .output()
            .unwrap();
        gz += out.stdout.len();
    }

    println!("console benchmark: {} orders ({customers} customers) written in {load_s:.1} s; {rounds} rounds each", a.orders);
    println!("| measure | p50 ms | p95 ms | max ms |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, (p50, p95, max)) in [
        ("search by order id (table key)", id),
        ("search by e-mail (by_email index)", email),
        (
            "search by state, one week, 100 newest (by_state index)",
            state,
        ),
        (
            "page load: index.html + app.js + app.css + api/session",
            page,
        ),
    ] {
        println!("| {name} | {p50:.1} | {p95:.1} | {max:.1} |");
    }
    println!("bundle: {raw} bytes ({gz} bytes gzip -9), 3 files, no dependency");
    if a.browser {
        let out = tokio::process::Command::new(repo_root().join("infra/.venv/bin/python"))
            .arg(repo_root().join("tests/browser/page_load.py"))
            .args(["--base", &base, "--rounds", "10"])
            .output()
            .await
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
}

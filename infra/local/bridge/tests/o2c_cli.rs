//! `o2c spec …` as a merchant runs it: the built binary against a real moto server with three
//! stages' tables (dev, qa, prod). Checks the command contract: what each prints, its exit
//! status, and that a refused command changes nothing.

use o2c_e2e::{repo_root, Moto};
use std::path::Path;
use std::process::{Command, Output, Stdio};

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn o2c(moto: &Moto, args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_o2c"))
        .args(args)
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("O2C_TABLE_DEV", "o2c-dev-orders")
        .env("O2C_TABLE_QA", "o2c-qa-orders")
        .env("O2C_TABLE_PROD", "o2c-prod-orders")
        .env("O2C_USER", "integration-team")
        .stdin(Stdio::null())
        .output()
        .expect("run o2c");
    let r = Run {
        code: status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&stdout).into_owned(),
        err: String::from_utf8_lossy(&stderr).into_owned(),
    };
    println!("$ o2c {}\n[{}]\n{}{}", args.join(" "), r.code, r.out, r.err);
    r
}

async fn tables(moto: &Moto) {
    for t in ["o2c-dev-orders", "o2c-qa-orders", "o2c-prod-orders"] {
        moto.create_orders_table(t).await;
    }
}

fn copy_config(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(repo_root().join("config")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_push_promote_diff_history_rollback_preview() {
    let moto = Moto::start();
    tables(&moto).await;
    let tmp = std::env::temp_dir().join(format!("o2c-cli-{}", std::process::id()));
    let edited = tmp.join("edited");
    let bad = tmp.join("bad");
    copy_config(&edited);
    copy_config(&bad);
    let replace = |dir: &Path, file: &str, from: &str, to: &str| {
        let p = dir.join(file);
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.contains(from));
        std::fs::write(&p, t.replacen(from, to, 1)).unwrap();
    };
    replace(
        &edited,
        "spec.yaml",
        "    default: on_accept",
        "    default: manual",
    );
    replace(
        &edited,
        "spec.yaml",
        "version: \"2026-12-07.2\"",
        "version: \"2026-12-07.3\"",
    );
    replace(
        &bad,
        "spec.yaml",
        "    default: on_accept",
        "    default: on_delivery",
    );
    replace(
        &bad,
        "mappings.yaml",
        "      firstName: .order.customer.first_name",
        "      firstName: .order.customer.frist_name",
    );

    // validate
    let r = o2c(&moto, &["spec", "validate"]);
    assert_eq!(r.code, 0);
    assert!(
        r.out
            .starts_with("valid: config (label 2026-12-07.2; 11 mappings"),
        "{}",
        r.out
    );
    let r = o2c(&moto, &["spec", "validate", bad.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.err.contains("spec.yaml:")
            && r.err
                .contains("rules.capture.default: unknown policy \"on_delivery\""),
        "{}",
        r.err
    );
    assert!(
        r.err.contains("mappings.yaml:")
            && r.err
                .contains("unknown source field `.order.customer.frist_name`"),
        "{}",
        r.err
    );
    assert!(r.err.trim_end().ends_with("2 problem(s)"), "{}", r.err);

    // push: a bad spec changes nothing; a good one twice stores once.
    let r = o2c(
        &moto,
        &["spec", "push", "--stage", "dev", bad.to_str().unwrap()],
    );
    assert_eq!(r.code, 1);
    let r = o2c(&moto, &["spec", "history", "--stage", "dev"]);
    assert!(
        r.out.contains("active none (the bundled spec serves)"),
        "{}",
        r.out
    );
    let r = o2c(&moto, &["spec", "push", "--stage", "dev"]);
    assert_eq!(
        (r.code, r.out.trim()),
        (0, "dev: stored and activated v1 (was the bundled spec)")
    );
    let r = o2c(&moto, &["spec", "push", "--stage", "dev"]);
    assert_eq!(
        (r.code, r.out.trim()),
        (
            0,
            "dev: unchanged (v1 is already this spec); nothing stored"
        )
    );

    // promote: qa freely, prod only when confirmed.
    let r = o2c(&moto, &["spec", "promote", "--from", "dev", "--to", "qa"]);
    assert_eq!(
        (r.code, r.out.trim()),
        (0, "qa: stored and activated v1 (was the bundled spec)")
    );
    let r = o2c(&moto, &["spec", "promote", "--from", "dev", "--to", "prod"]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("needs confirmation"), "{}", r.err);
    assert!(o2c(&moto, &["spec", "history", "--stage", "prod"])
        .out
        .contains("active none"));
    let r = o2c(
        &moto,
        &["spec", "promote", "--from", "dev", "--to", "prod", "--yes"],
    );
    assert_eq!(r.code, 0, "{}", r.err);

    // A change in dev: diff against qa shows the rule and its effect on the sample event.
    let r = o2c(
        &moto,
        &[
            "spec",
            "push",
            "--stage",
            "dev",
            edited.to_str().unwrap(),
            "--note",
            "hold every order",
        ],
    );
    assert_eq!(
        (r.code, r.out.trim()),
        (0, "dev: stored and activated v2 (was v1)")
    );
    let r = o2c(&moto, &["spec", "diff", "qa", "dev"]);
    assert_eq!(r.code, 0);
    assert!(
        r.out
            .contains("~ version: \"2026-12-07.2\" → \"2026-12-07.3\""),
        "{}",
        r.out
    );
    assert!(
        r.out
            .contains("~ rules.capture: default on_accept → default manual"),
        "{}",
        r.out
    );
    assert!(
        r.out
            .contains("/rules/0/policy: \"on_accept\" → \"manual\""),
        "{}",
        r.out
    );
    let r = o2c(&moto, &["spec", "diff", "config", "qa"]);
    assert!(r.out.contains("(no difference)"), "{}", r.out);

    // preview under a stage's version.
    let r = o2c(
        &moto,
        &[
            "spec",
            "preview",
            "--event",
            "events/apigw-clarity-order-webhook.json",
            "--spec",
            "dev",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(
        r.out.contains("spec dev:v2 (label 2026-12-07.3"),
        "{}",
        r.out
    );
    assert!(r.out.contains("capture: manual (default)"), "{}", r.out);
    assert!(
        r.out.contains("cybersource POST /pts/v2/payments"),
        "{}",
        r.out
    );
    assert!(
        r.out
            .contains("netsuite PUT /record/v1/salesOrder/eid:clr-so-ORD-1001?replace=item"),
        "{}",
        r.out
    );

    // history and rollback, audited.
    let r = o2c(&moto, &["spec", "rollback", "--stage", "dev"]);
    assert_eq!(
        (r.code, r.out.trim()),
        (
            0,
            "dev: v1 is active again; orders in flight keep the version they pinned"
        )
    );
    let r = o2c(&moto, &["spec", "history", "--stage", "dev"]);
    assert!(r.out.contains("dev: active v1"), "{}", r.out);
    for line in [
        "push      v1",
        "activate  v1",
        "push      v2",
        "activate  v2    from v1",
        "rollback  v1    from v2",
    ] {
        assert!(r.out.contains(line), "no {line:?} in\n{}", r.out);
    }
    assert!(r.out.contains("by integration-team"), "{}", r.out);
    let r = o2c(&moto, &["spec", "rollback", "--stage", "qa"]);
    assert_eq!(r.code, 1, "qa has no earlier version");

    // An unknown stage is a usage error naming the variable to set.
    let r = o2c(&moto, &["spec", "history", "--stage", "staging"]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("O2C_TABLE_STAGING"), "{}", r.err);
    let _ = std::fs::remove_dir_all(&tmp);
}

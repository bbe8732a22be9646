//! The bad-spec table: every kind of mistake a merchant can make is refused at `validate` (and
//! so at `push`) with a message naming the file, line and path; a push of a bad spec changes
//! nothing in the store. Run with `--nocapture` to print the table.

use o2c_spec::document::parse_files;
use o2c_spec::ops::{self, Actor, OpError, Pushed};
use o2c_spec::store::{MemorySpecStore, SpecStore};
use o2c_spec::{validate, BUNDLED_FILES};

/// The bundled files with one text replaced in `file` (the replaced text must be there).
fn edited(file: &str, from: &str, to: &str) -> Vec<(String, String)> {
    BUNDLED_FILES
        .iter()
        .map(|(n, t)| {
            let t = if n.ends_with(file) {
                assert!(t.contains(from), "{file} has no {from:?}");
                t.replacen(from, to, 1)
            } else {
                t.to_string()
            };
            (n.to_string(), t)
        })
        .collect()
}

/// Every problem `files` has, as printed by `o2c spec validate`.
fn problems(files: Vec<(String, String)>) -> Vec<String> {
    match parse_files(files) {
        Err(p) => p.iter().map(ToString::to_string).collect(),
        Ok((doc, sources)) => validate(&doc, &sources, &[])
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

struct Case {
    what: &'static str,
    file: &'static str,
    from: &'static str,
    to: &'static str,
    /// Fragments the message must hold (the file:line prefix is checked for every case).
    expect: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        what: "syntax error",
        file: "mappings.yaml",
        from: "memo: '\"Clarity order \\(.order.clarity_id)\"'",
        to: "memo: '\"Clarity order \\(.order.clarity_id\"'",
        expect: &["mappings.erp.sales_order.fields.memo", "syntax error"],
    },
    Case {
        what: "YAML syntax error",
        file: "lookups.yaml",
        from: "    rows: {open: New, won: Closed, lost: Closed}",
        to: "    rows: {open: New, won: Closed, lost: Closed",
        expect: &["config/lookups.yaml:", "not valid YAML"],
    },
    Case {
        what: "unknown source field",
        file: "mappings.yaml",
        from: "email: .order.customer.email\n      phone",
        to: "email: .order.custmer.email\n      phone",
        expect: &["mappings.erp.customer.fields.email", "unknown source field `.order.custmer`", "known here:"],
    },
    Case {
        what: "unknown target field",
        file: "mappings.yaml",
        from: "      isPerson: 'true'\n      firstName: .order.customer.first_name",
        to: "      isPerson: 'true'\n      frstName: .order.customer.first_name",
        expect: &["mappings.erp.customer.fields.frstName", "unknown target field"],
    },
    Case {
        what: "type mismatch (field of a value)",
        file: "mappings.yaml",
        from: "      otherRefNum: .order.clarity_id",
        to: "      otherRefNum: .order.clarity_id.value",
        expect: &["mappings.erp.sales_order.fields.otherRefNum", "cannot take a field of a value"],
    },
    Case {
        what: "type mismatch (text as an amount)",
        file: "mappings.yaml",
        from: "      custbody_o2c_tax_total: .order.tax_total | num",
        to: "      custbody_o2c_tax_total: .order.customer.first_name | num",
        expect: &["mappings.erp.sales_order.fields.custbody_o2c_tax_total", "fails on the built-in sample", "is not a decimal amount"],
    },
    Case {
        what: "lookup missing a key the sample needs",
        file: "lookups.yaml",
        from: "    rows: {}\n    default: null",
        to: "    rows: {EUR: \"2\"}\n    unmapped: error",
        expect: &["fails on the built-in sample", "lookup netsuite_currency_ids: no row for \"USD\""],
    },
    Case {
        what: "lookup table that does not exist",
        file: "mappings.yaml",
        from: "Origin: 'lookup(\"crm\"; \"origin\")'",
        to: "Origin: 'lookup(\"crm_settings\"; \"origin\")'",
        expect: &["Origin", "lookup table \"crm_settings\" is not defined"],
    },
    Case {
        what: "lookup with neither default nor unmapped",
        file: "lookups.yaml",
        from: "    rows: {open: High, won: Medium, lost: High}\n    unmapped: error",
        to: "    rows: {open: High, won: Medium, lost: High}",
        expect: &["lookups.crm_dispute_priority", "neither `default: <value>` nor `unmapped: error`"],
    },
    Case {
        what: "expression that could loop (range)",
        file: "mappings.yaml",
        from: "      tranDate: .order.created_date\n      otherRefNum",
        to: "      tranDate: '[range(1; 1000000000)] | length | tostring'\n      otherRefNum",
        expect: &["fields.tranDate", "`range` is not allowed: an unbounded generator"],
    },
    Case {
        what: "expression that could loop (until)",
        file: "mappings.yaml",
        from: "      tranDate: .order.created_date\n      otherRefNum",
        to: "      tranDate: '.order.created_date | until(false; .)'\n      otherRefNum",
        expect: &["fields.tranDate", "`until` is not allowed: an unbounded loop"],
    },
    Case {
        what: "recursion inside an expression",
        file: "mappings.yaml",
        from: "      tranDate: .order.created_date\n      otherRefNum",
        to: "      tranDate: 'def f: f; f'\n      otherRefNum",
        expect: &["fields.tranDate", "defining a function inside an expression is not allowed"],
    },
    Case {
        what: "recursion through the spec's functions",
        file: "spec.yaml",
        from: "    body: '\"\\(.order.customer.first_name) \\(.order.customer.last_name)\"'",
        to: "    body: 'customer_name'",
        expect: &["functions.customer_name", "calls `customer_name`, which is itself: recursion is not allowed"],
    },
    Case {
        what: "float arithmetic on money",
        file: "mappings.yaml",
        from: "      custbody_o2c_grand_total: .order.total | num",
        to: "      custbody_o2c_grand_total: '(.order.total | tonumber) * 1.1'",
        expect: &["custbody_o2c_grand_total", "`tonumber` is not allowed", "`*`, `/` and `%` are not allowed", "is a float"],
    },
    Case {
        what: "addition on an amount",
        file: "mappings.yaml",
        from: "      custbody_o2c_grand_total: .order.total | num",
        to: "      custbody_o2c_grand_total: '.order.total + .order.shipping'",
        expect: &["custbody_o2c_grand_total", "arithmetic on an amount", "money_add"],
    },
    Case {
        what: "amount compared as text",
        file: "spec.yaml",
        from: "    default: on_accept",
        to: "    default: on_accept\n    when:\n      - if: .order.total > \"1000.00\"\n        then: manual",
        expect: &["rules.capture.when.0.if", "comparison on an amount", "_minor"],
    },
    Case {
        what: "clock and environment",
        file: "mappings.yaml",
        from: "      tranDate: .order.created_date\n      otherRefNum",
        to: "      tranDate: 'now | tostring + $ENV.HOME'\n      otherRefNum",
        expect: &["`now` is not allowed: reads the clock", "`$ENV` is not available"],
    },
    Case {
        what: "rule naming an unknown policy",
        file: "spec.yaml",
        from: "    default: on_accept",
        to: "    default: on_delivery",
        expect: &["rules.capture.default", "unknown policy \"on_delivery\" (one of: on_accept, on_shipment, manual)"],
    },
    Case {
        what: "unknown rule",
        file: "spec.yaml",
        from: "  erp:\n",
        to: "  erp_sync:\n",
        expect: &["rules.erp_sync", "unknown rule (the code asks: capture, erp, crm_case, refund)", "rules.erp: is missing"],
    },
    Case {
        what: "authorization part the code owns",
        file: "mappings.yaml",
        from: "    expr: '{}'",
        to: "    expr: '{orderInformation: {amountDetails: {totalAmount: \"0.01\"}}}'",
        expect: &["mappings.cybersource.authorization.expr", "gives \"orderInformation\", which the code sets or does not send"],
    },
    Case {
        what: "bad exchange rates",
        file: "spec.yaml",
        from: "\nrules:\n",
        to: "\nrates:\n  as_of: \"2026-02-30\"\n  pairs:\n    USD/EURO: \"0.92\"\n    USD/GBP: \"7.9e-1\"\n\nrules:\n",
        expect: &["rates.as_of: \"2026-02-30\": a date, YYYY-MM-DD", "rates.pairs.USD/EURO: \"EURO\" is not an ISO 4217 currency code", "rates.pairs.USD/GBP: \"7.9e-1\": a rate is a positive decimal string"],
    },
    Case {
        what: "unknown mapping",
        file: "mappings.yaml",
        from: "  crm.dispute_case:",
        to: "  crm.disputes:",
        expect: &["mappings.crm.disputes", "unknown mapping", "mappings.crm.dispute_case: is missing"],
    },
    Case {
        what: "customer text that reveals screening",
        file: "lookups.yaml",
        from: "payment_not_completed: The payment could not be completed.",
        to: "payment_not_completed: Our fraud screening rejected the payment.",
        expect: &["lookups.customer_reasons.rows.payment_not_completed", "must not speak of how we know"],
    },
    Case {
        what: "customer text with digits",
        file: "lookups.yaml",
        from: "order_review: The order is under review.",
        to: "order_review: The order is under review (code 481).",
        expect: &["lookups.customer_reasons.rows.order_review", "no digits"],
    },
];

#[test]
fn every_bad_spec_is_refused_with_its_place() {
    let mut table = String::from("| mistake | message |\n|---|---|\n");
    for c in CASES {
        let found = problems(edited(c.file, c.from, c.to));
        assert!(!found.is_empty(), "{}: accepted", c.what);
        let all = found.join("\n");
        for e in c.expect {
            assert!(all.contains(e), "{}: no {e:?} in\n{all}", c.what);
        }
        for p in &found {
            let (file, rest) = p.split_once(':').expect("file:line:");
            let line: usize = rest.split(':').next().unwrap().parse().unwrap_or(0);
            assert!(file.starts_with("config/"), "{}: {p}", c.what);
            assert!(line > 0, "{}: no line in {p}", c.what);
        }
        table.push_str(&format!(
            "| {} | `{}` |\n",
            c.what,
            all.replace('\n', "` `").replace('|', "\\|")
        ));
    }
    println!("{table}");
}

#[test]
fn every_problem_is_reported_at_once() {
    // Three independent mistakes in three files: three problems, not the first one only.
    let mut files = edited(
        "spec.yaml",
        "    default: on_accept",
        "    default: on_delivery",
    );
    for (n, t) in files.iter_mut() {
        if n.ends_with("mappings.yaml") {
            *t = t.replacen(
                "      firstName: .order.customer.first_name",
                "      frstName: .order.customer.first_name",
                1,
            );
        }
        if n.ends_with("lookups.yaml") {
            *t = t.replacen(
                "order_review: The order is under review.",
                "order_review: Review 1.",
                1,
            );
        }
    }
    let found = problems(files);
    assert_eq!(found.len(), 3, "{found:#?}");
}

#[tokio::test]
async fn a_push_of_a_bad_spec_changes_nothing() {
    let store = MemorySpecStore::default();
    let actor = Actor {
        by: "test".into(),
        at: "2026-12-07T00:00:00.000Z".into(),
    };
    let (good, sources) = parse_files(edited("spec.yaml", "", "")).unwrap();
    let first = ops::push(&store, &good, &sources, &actor, "")
        .await
        .unwrap();
    assert_eq!(
        first,
        Pushed::Activated {
            version: "v1".into(),
            previous: None
        }
    );
    let (bad, sources) = parse_files(edited(
        "spec.yaml",
        "    default: on_accept",
        "    default: on_delivery",
    ))
    .unwrap();
    let e = ops::push(&store, &bad, &sources, &actor, "")
        .await
        .unwrap_err();
    assert!(matches!(e, OpError::Invalid(_)), "{e}");
    assert_eq!(store.versions().await.unwrap().len(), 1, "nothing stored");
    assert_eq!(
        store.active().await.unwrap().unwrap().version,
        "v1",
        "still active"
    );
    // And the same good spec again is no change at all.
    let again = ops::push(&store, &good, &sources, &actor, "")
        .await
        .unwrap();
    assert_eq!(
        again,
        Pushed::Unchanged {
            version: "v1".into()
        }
    );
}

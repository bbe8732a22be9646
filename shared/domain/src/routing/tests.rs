use super::config::BreakerSettings;
use super::stats::{breaker, bucket_start};
use super::*;
use crate::money::Money;
use crate::Timestamp;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::BTreeMap;

const DOC: &str = r#"{
  "version": 3,
  "routes": [
    {"name": "acq-a", "merchant_id": "mid_a", "secret": "primary", "cost": {"percent_bps": 250}},
    {"name": "acq-b", "merchant_id": "mid_b", "secret": "b", "currencies": ["USD", "EUR"], "cost": {"percent_bps": 200}},
    {"name": "acq-eu", "merchant_id": "mid_eu", "secret": "eu", "currencies": ["EUR"], "regions": ["DE", "FR"]},
    {"name": "amex-direct", "merchant_id": "mid_amex", "secret": "amex", "card_brands": ["amex"]}
  ],
  "rules": [
    {"name": "amex", "when": {"card_brands": ["amex"]}, "routes": ["amex-direct", "acq-a"]},
    {"name": "big-usd", "when": {"currencies": ["USD"], "amount_min": "1000.00"}, "routes": ["acq-b", "acq-a"]},
    {"name": "bin-range", "when": {"bin_ranges": [{"from": "555500", "to": "555599"}]}, "routes": ["acq-b"]},
    {"name": "eu", "when": {"billing_countries": ["DE", "FR"], "channels": ["web"]}, "routes": ["acq-eu", "acq-b", "acq-a"]},
    {"name": "default", "routes": ["acq-a", "acq-b"]}
  ],
  "optimisation": {"min_volume": 20, "max_exploration": 0.05}
}"#;

fn config() -> RoutingConfig {
    RoutingConfig::from_json(DOC).unwrap()
}

fn facts(
    amount: &str,
    cur: &str,
    brand: Option<&str>,
    bin: Option<&str>,
    country: &str,
) -> OrderFacts {
    OrderFacts {
        amount: Money::parse_with_code(amount, cur).unwrap(),
        card_brand: brand.map(str::to_string),
        bin: bin.map(str::to_string),
        billing_country: country.into(),
        channel: Some("web".into()),
    }
}

fn eligible(f: &OrderFacts) -> (Option<String>, Vec<String>) {
    let e = config().eligible(f);
    (e.rule.clone(), e.eligible().map(str::to_string).collect())
}

#[test]
fn first_matching_rule_gives_the_eligible_routes_in_order() {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        eligible(&facts("10.00", "USD", Some("amex"), None, "US")),
        (Some("amex".into()), v(&["amex-direct", "acq-a"]))
    );
    // Amount band: inclusive lower bound.
    assert_eq!(
        eligible(&facts("1000.00", "USD", Some("visa"), None, "US"))
            .0
            .as_deref(),
        Some("big-usd")
    );
    assert_eq!(
        eligible(&facts("999.99", "USD", Some("visa"), None, "US"))
            .0
            .as_deref(),
        Some("default")
    );
    // BIN range on the first digits, 8-digit BIN inside a 6-digit range.
    assert_eq!(
        eligible(&facts(
            "5.00",
            "USD",
            Some("mastercard"),
            Some("55551234"),
            "GB"
        )),
        (Some("bin-range".into()), v(&["acq-b"]))
    );
    assert_eq!(
        eligible(&facts(
            "5.00",
            "GBP",
            Some("mastercard"),
            Some("555600"),
            "GB"
        ))
        .0
        .as_deref(),
        Some("default")
    );
    // Country + channel; acq-b is filtered out for GBP? no: EUR here, all three accept it.
    assert_eq!(
        eligible(&facts("50.00", "EUR", Some("visa"), None, "DE")),
        (Some("eu".into()), v(&["acq-eu", "acq-b", "acq-a"]))
    );
}

#[test]
fn routes_that_do_not_accept_the_order_are_excluded_with_the_reason() {
    // A JPY order under the default rule: acq-b accepts USD and EUR only.
    let e = config().eligible(&facts("5000", "JPY", Some("visa"), None, "JP"));
    assert_eq!(e.rule.as_deref(), Some("default"));
    assert_eq!(e.eligible().collect::<Vec<_>>(), vec!["acq-a"]);
    assert_eq!(
        e.routes[1].1,
        Some(Exclusion::Unsupported("does not accept JPY".into()))
    );
}

#[test]
fn parse_errors_name_the_json_path() {
    let doc = DOC.replace(
        r#""currencies": ["EUR"], "regions""#,
        r#""currencies": ["EURO"], "regions""#,
    );
    let e = RoutingConfig::from_json(&doc).unwrap_err();
    assert_eq!(e.issues.len(), 1);
    assert_eq!(e.issues[0].at, "routes[2].currencies[0]");
    assert!(e.issues[0].problem.contains("EURO"), "{e}");

    let doc = DOC.replace(r#""version": 3"#, r#""version": 3, "verison": 4"#);
    let e = RoutingConfig::from_json(&doc).unwrap_err();
    assert!(e.to_string().contains("verison"), "{e}");
}

#[test]
fn validation_errors_name_the_rule_and_the_field_and_all_are_reported() {
    let doc = DOC
        .replace(r#""routes": ["acq-b"]}"#, r#""routes": ["acq-x"]}"#)
        .replace(r#""amount_min": "1000.00""#, r#""amount_min": "1000.001""#)
        .replace(r#""to": "555599""#, r#""to": "5555""#)
        .replace(r#""regions": ["DE", "FR"]"#, r#""regions": ["de"]"#);
    let e = RoutingConfig::from_json(&doc).unwrap_err();
    let text: Vec<String> = e.issues.iter().map(ToString::to_string).collect();
    assert_eq!(e.issues.len(), 4, "{text:#?}");
    assert!(
        text.iter()
            .any(|t| t
                .starts_with(r#"rule "bin-range" (rules[2]).routes[0]: unknown route "acq-x""#)),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with(r#"rule "big-usd" (rules[1]).when.amount_min: "1000.001""#)),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|t| t.starts_with(
            r#"rule "bin-range" (rules[2]).when.bin_ranges[0]: from and to must be 6-8 digits"#
        )),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with(r#"route "acq-eu" (routes[2]).regions[0]"#)),
        "{text:#?}"
    );
}

#[test]
fn more_validation_errors() {
    let mut c = config();
    c.rules[1].when.currencies.push(crate::Currency::EUR);
    c.rules[4].routes.push("acq-a".into());
    c.routes[1].name = "acq-a".into();
    c.optimisation.max_exploration = 1.5;
    let e = c.validate().unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("an amount band needs exactly one currency"),
        "{text}"
    );
    assert!(
        text.contains(r#"rule "default" (rules[4]).routes[2]: "acq-a" listed twice"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route "acq-a" (routes[1]).name: duplicate route name"#),
        "{text}"
    );
    assert!(text.contains("optimisation.max_exploration"), "{text}");
}

const BUCKET: u32 = 60;

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_millis(1_800_000_000_000 + secs * 1000)
}

#[test]
fn breaker_opens_on_an_error_spike_half_opens_after_the_cooldown_and_closes_on_good_probes() {
    let s = BreakerSettings::default(); // 50 % over 120 s, ≥ 10 attempts, 30 s cool-down, 3 probes
    let b0 = bucket_start(ts(0), BUCKET);
    let at = |secs: i64| Timestamp::from_millis(b0.millis() + secs * 1000);
    let mk = |secs: i64, attempts: u64, errors: u64| Bucket {
        start: at(secs),
        counts: Counts {
            attempts,
            approved: attempts - errors,
            errors,
            ..Counts::default()
        },
    };
    // Healthy: closed. A few errors under the threshold: closed.
    let healthy = vec![mk(0, 40, 1), mk(60, 40, 2)];
    assert_eq!(breaker(&healthy, at(110), BUCKET, &s), BreakerState::Closed);
    // Too little volume to judge: closed.
    assert_eq!(
        breaker(&[mk(0, 4, 4)], at(50), BUCKET, &s),
        BreakerState::Closed
    );
    // Spike in the bucket at 120 s: 38 of 40 failed; with the bucket before it in the 120 s
    // window that is 40 of 80 = 50 %.
    let mut spike = healthy.clone();
    spike.push(mk(120, 40, 38));
    assert_eq!(breaker(&spike, at(170), BUCKET, &s), BreakerState::Open);
    // Cool-down runs 30 s from the end of the erring bucket (180 s): open until 210 s.
    assert_eq!(breaker(&spike, at(209), BUCKET, &s), BreakerState::Open);
    assert_eq!(breaker(&spike, at(211), BUCKET, &s), BreakerState::HalfOpen);
    // Two good probes: still half-open; a third closes it.
    let mut probing = spike.clone();
    probing.push(mk(180, 2, 0));
    assert_eq!(
        breaker(&probing, at(230), BUCKET, &s),
        BreakerState::HalfOpen
    );
    probing.push(mk(240, 1, 0));
    assert_eq!(breaker(&probing, at(250), BUCKET, &s), BreakerState::Closed);
    // A failed probe instead: the new last error's window still holds the spike → open again.
    let mut failed = spike.clone();
    failed.push(mk(180, 1, 1));
    assert_eq!(breaker(&failed, at(245), BUCKET, &s), BreakerState::Open);
    assert_eq!(
        breaker(&failed, at(271), BUCKET, &s),
        BreakerState::HalfOpen
    );
}

fn stats_for(routes: &[(&str, u64, u64)], now_secs: i64) -> BTreeMap<String, Vec<Bucket>> {
    // (route, attempts, approved) all in one bucket a little over three minutes before now
    // (inside the statistics window, outside the breaker's).
    routes
        .iter()
        .map(|(r, attempts, approved)| {
            (
                r.to_string(),
                vec![Bucket {
                    start: bucket_start(ts(now_secs - 200), BUCKET),
                    counts: Counts {
                        attempts: *attempts,
                        approved: *approved,
                        hard_declined: attempts - approved,
                        ..Counts::default()
                    },
                }],
            )
        })
        .collect()
}

#[test]
fn dynamic_choice_follows_the_better_route_and_explains_itself() {
    let c = config();
    let f = facts("20.00", "USD", Some("visa"), None, "US");
    let stats = stats_for(&[("acq-a", 500, 350), ("acq-b", 500, 440)], 600);
    let mut rng = StdRng::seed_from_u64(1);
    let mut picks = BTreeMap::<String, u32>::new();
    for _ in 0..1000 {
        let d = decide(&c, &f, &stats, ts(600), &[], &mut rng);
        *picks.entry(d.chosen.clone().unwrap()).or_default() += 1;
    }
    assert!(picks["acq-b"] > 950, "{picks:?}");
    let d = decide(&c, &f, &stats, ts(600), &[], &mut rng);
    assert_eq!(d.rule.as_deref(), Some("default"));
    assert_eq!(d.segment, "USD|visa");
    assert_eq!(d.candidates.len(), 2);
    assert!(d.candidates.iter().all(|c| c.trusted && c.score.is_some()));
    let line = d.summary();
    assert!(line.contains("acq-a(approval 0.700"), "{line}");
    assert!(line.contains("acq-b(approval 0.880"), "{line}");
    assert!(line.contains("Thompson"), "{line}");
}

#[test]
fn untrusted_routes_get_at_most_the_exploration_share() {
    let c = config(); // min_volume 20, max_exploration 5 %
    let f = facts("20.00", "USD", Some("visa"), None, "US");
    let stats = stats_for(&[("acq-a", 500, 450), ("acq-b", 5, 5)], 600);
    let mut rng = StdRng::seed_from_u64(2);
    let n = 4000;
    let explored = (0..n)
        .filter(|_| {
            decide(&c, &f, &stats, ts(600), &[], &mut rng)
                .chosen
                .as_deref()
                == Some("acq-b")
        })
        .count();
    let share = explored as f64 / f64::from(n);
    assert!(share > 0.03 && share < 0.07, "{share}");
}

#[test]
fn rules_mode_and_tried_routes() {
    let mut c = config();
    c.optimisation.mode = Mode::Rules;
    let f = facts("20.00", "USD", Some("visa"), None, "US");
    let stats = stats_for(&[("acq-a", 500, 100), ("acq-b", 500, 490)], 600);
    let mut rng = StdRng::seed_from_u64(3);
    let d = decide(&c, &f, &stats, ts(600), &[], &mut rng);
    assert_eq!(
        d.chosen.as_deref(),
        Some("acq-a"),
        "rules mode ignores statistics"
    );
    let d = decide(&c, &f, &stats, ts(600), &["acq-a".into()], &mut rng);
    assert_eq!(d.chosen.as_deref(), Some("acq-b"));
    assert_eq!(d.candidates[0].excluded, Some(Exclusion::AlreadyTried));
    let d = decide(
        &c,
        &f,
        &stats,
        ts(600),
        &["acq-a".into(), "acq-b".into()],
        &mut rng,
    );
    assert_eq!(d.chosen, None);
    assert_eq!(d.why, "every eligible route has been tried");
}

#[test]
fn an_open_breaker_moves_traffic_and_a_half_open_one_gets_probes() {
    let c = config();
    let f = facts("20.00", "USD", Some("visa"), None, "US");
    let mut stats = stats_for(&[("acq-a", 500, 480), ("acq-b", 500, 400)], 600);
    // acq-a's last bucket: 40 attempts, 35 errors.
    stats.get_mut("acq-a").unwrap().push(Bucket {
        start: bucket_start(ts(590), BUCKET),
        counts: Counts {
            attempts: 40,
            approved: 5,
            errors: 35,
            ..Counts::default()
        },
    });
    let mut rng = StdRng::seed_from_u64(4);
    let now = bucket_start(ts(590), BUCKET).millis() / 1000 - 1_800_000_000 + 70;
    let d = decide(&c, &f, &stats, ts(now), &[], &mut rng);
    assert_eq!(d.candidates[0].breaker, BreakerState::Open);
    assert_eq!(d.candidates[0].excluded, Some(Exclusion::BreakerOpen));
    assert_eq!(d.chosen.as_deref(), Some("acq-b"));
    // After the cool-down: half-open, about probe_rate (10 %) of orders probe acq-a.
    let later = now + 60;
    let probes = (0..2000)
        .filter(|_| {
            let d = decide(&c, &f, &stats, ts(later), &[], &mut rng);
            assert_eq!(d.candidates[0].breaker, BreakerState::HalfOpen);
            d.chosen.as_deref() == Some("acq-a")
        })
        .count();
    assert!((120..=280).contains(&probes), "{probes}");
    // Only acq-a eligible (amex rule lists amex-direct first, which refuses visa... use tried):
    let d = decide(&c, &f, &stats, ts(now), &["acq-b".into()], &mut rng);
    assert_eq!(
        d.chosen,
        None,
        "a cascade never goes to an open route: {}",
        d.summary()
    );
}

#[test]
fn the_documented_example_document_is_valid() {
    let text = include_str!("../../../../infra/routing.example.json");
    let c = RoutingConfig::from_json(text).unwrap();
    assert_eq!(c.optimisation, super::config::Optimisation::default());
    let e = c.eligible(&facts("50.00", "EUR", Some("visa"), None, "DE"));
    assert_eq!(e.rule.as_deref(), Some("eu-billing"));
    assert_eq!(e.eligible().collect::<Vec<_>>(), vec!["eu", "backup"]);
}

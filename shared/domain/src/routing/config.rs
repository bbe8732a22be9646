//! The routing configuration: routes (a Cybersource merchant id / processor profile each, with
//! its own credentials and attributes), an ordered rule set, and the optimisation settings.
//!
//! One versioned JSON document, validated on load: a parse error names the JSON path
//! (`rules[1].when.currencies[0]: unknown currency "EURO"`), a semantic error names the rule and
//! the field (`rule "eu-cards" (rules[1]).routes[0]: unknown route "acquirer-x"`). Nothing is
//! half-loaded: either the whole document is valid or the caller gets every problem at once.

use crate::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// The whole routing document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Bumped by whoever edits the document; recorded with every decision.
    pub version: u32,
    pub routes: Vec<RouteSpec>,
    /// Evaluated in order; the first rule whose conditions all hold gives the eligible routes.
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub optimisation: Optimisation,
}

/// One way to reach Cybersource: a merchant id (or processor profile) with its own key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Short stable name (`[a-z0-9-]`, ≤ 24): recorded with the authorization and used by
    /// every follow-on operation (capture, void, refund) of that order.
    pub name: String,
    pub merchant_id: String,
    /// Which secret holds this route's REST key: `primary` = the stack's Cybersource secret,
    /// any other value `v` = the secret `<stack>/cybersource-<v>`.
    pub secret: String,
    /// Currencies this route accepts (empty: any).
    #[serde(default)]
    pub currencies: Vec<Currency>,
    /// Card brands this route accepts, lower case (`visa`, `mastercard`, …; empty: any).
    #[serde(default)]
    pub card_brands: Vec<String>,
    /// Billing countries (ISO 3166-1 alpha-2) this route serves (empty: any).
    #[serde(default)]
    pub regions: Vec<String>,
    /// Cost of one transaction: a percentage in basis points plus a fixed fee.
    #[serde(default)]
    pub cost: Cost,
}

/// What a route charges per transaction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    #[serde(default)]
    pub percent_bps: u32,
    /// A fixed fee, compared only against orders in the same currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<Money>,
}

impl Cost {
    /// The fee as a fraction of `amount` (0.029 for 2.9 %); a fixed fee in another currency is
    /// not converted and counts as zero.
    pub fn fraction_of(&self, amount: Money) -> f64 {
        let mut f = f64::from(self.percent_bps) / 10_000.0;
        if let Some(fixed) = self.fixed {
            if fixed.currency() == amount.currency() && amount.minor() > 0 {
                f += fixed.minor() as f64 / amount.minor() as f64;
            }
        }
        f
    }
}

/// A rule: conditions on the order's facts and the routes, in order of preference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default)]
    pub when: Conditions,
    pub routes: Vec<String>,
}

/// Every listed condition must hold; an empty list or an absent bound holds for any order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    #[serde(default)]
    pub currencies: Vec<Currency>,
    /// Inclusive lower bound of the order total, a decimal string in the rule's single currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_min: Option<String>,
    /// Exclusive upper bound of the order total, same currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_max: Option<String>,
    #[serde(default)]
    pub card_brands: Vec<String>,
    /// BIN ranges (inclusive, 6–8 digits each, compared on the BIN's first digits).
    #[serde(default)]
    pub bin_ranges: Vec<BinRange>,
    #[serde(default)]
    pub billing_countries: Vec<String>,
    #[serde(default)]
    pub channels: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinRange {
    pub from: String,
    pub to: String,
}

/// How the router chooses among the rule-eligible routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The rule's order, nothing else (the circuit breaker still applies).
    Rules,
    /// Success-rate optimisation (Thompson sampling) among the eligible routes.
    Dynamic,
}

/// Success-rate optimisation and circuit-breaker settings. Defaults are the documented ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Optimisation {
    pub mode: Mode,
    /// Statistics are kept in buckets of this many seconds.
    pub bucket_secs: u32,
    /// Buckets older than this are ignored.
    pub window_secs: u32,
    /// Exponential decay: an observation counts half after this many seconds.
    pub half_life_secs: u32,
    /// A route's statistics are trusted once its decayed volume reaches this.
    pub min_volume: f64,
    /// Share of traffic that may go to a route whose statistics are not yet trusted.
    pub max_exploration: f64,
    /// Write shards per route and segment (spreads the counter writes over partitions).
    pub shards: u8,
    pub breaker: BreakerSettings,
}

impl Default for Optimisation {
    fn default() -> Self {
        Optimisation {
            mode: Mode::Dynamic,
            bucket_secs: 60,
            window_secs: 3600,
            half_life_secs: 300,
            min_volume: 30.0,
            max_exploration: 0.05,
            shards: 4,
            breaker: BreakerSettings::default(),
        }
    }
}

/// When a route is taken out of rotation because its errors or timeouts spike.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerSettings {
    /// Error rate over `window_secs` that opens the breaker …
    pub error_rate: f64,
    /// … once at least this many attempts were seen in that window.
    pub min_attempts: u32,
    pub window_secs: u32,
    /// How long an open breaker stays open after its last error.
    pub cooldown_secs: u32,
    /// Half-open: the share of eligible traffic let through as probes.
    pub probe_rate: f64,
    /// Half-open: error-free attempts after the last error that close the breaker again.
    pub probes_to_close: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            error_rate: 0.5,
            min_attempts: 10,
            window_secs: 120,
            cooldown_secs: 30,
            probe_rate: 0.1,
            probes_to_close: 3,
        }
    }
}

/// One problem in a routing document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Where: a JSON path, with the rule's or route's name when there is one.
    pub at: String,
    pub problem: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.problem)
    }
}

/// A routing document that cannot be used, with every problem found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid routing configuration: {}", .issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigError {
    pub issues: Vec<ConfigIssue>,
}

impl RoutingConfig {
    /// Parse and validate a JSON document.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let config: RoutingConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let at = e.path().to_string();
            ConfigError {
                issues: vec![ConfigIssue {
                    at: if at == "." { "document".into() } else { at },
                    problem: e.into_inner().to_string(),
                }],
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The route named `name`.
    pub fn route(&self, name: &str) -> Option<&RouteSpec> {
        self.routes.iter().find(|r| r.name == name)
    }

    /// Check everything serde cannot: names, references, bounds and ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut issues = Vec::new();
        let mut issue = |at: String, problem: String| issues.push(ConfigIssue { at, problem });
        if self.routes.is_empty() {
            issue("routes".into(), "at least one route is required".into());
        }
        let mut names = BTreeSet::new();
        for (i, r) in self.routes.iter().enumerate() {
            let at = format!("route {:?} (routes[{i}])", r.name);
            if r.name.is_empty()
                || r.name.len() > 24
                || !r
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                issue(
                    format!("{at}.name"),
                    "must be 1-24 characters of a-z, 0-9 and -".into(),
                );
            }
            if !names.insert(r.name.as_str()) {
                issue(format!("{at}.name"), "duplicate route name".into());
            }
            if r.merchant_id.trim().is_empty() {
                issue(format!("{at}.merchant_id"), "must not be empty".into());
            }
            if r.secret.is_empty()
                || !r
                    .secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                issue(
                    format!("{at}.secret"),
                    "must be `primary` or a name of a-z, 0-9, - and _".into(),
                );
            }
            check_brands(&mut issue, &format!("{at}.card_brands"), &r.card_brands);
            check_countries(&mut issue, &format!("{at}.regions"), &r.regions);
            if r.cost.percent_bps > 10_000 {
                issue(
                    format!("{at}.cost.percent_bps"),
                    format!("{} is more than 100 %", r.cost.percent_bps),
                );
            }
        }
        if self.rules.is_empty() {
            issue("rules".into(), "at least one rule is required".into());
        }
        let mut rule_names = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("rule {:?} (rules[{i}])", rule.name);
            if rule.name.trim().is_empty() {
                issue(format!("{at}.name"), "must not be empty".into());
            }
            if !rule_names.insert(rule.name.as_str()) {
                issue(format!("{at}.name"), "duplicate rule name".into());
            }
            if rule.routes.is_empty() {
                issue(format!("{at}.routes"), "lists no route".into());
            }
            let mut seen = BTreeSet::new();
            for (j, name) in rule.routes.iter().enumerate() {
                if self.route(name).is_none() {
                    issue(
                        format!("{at}.routes[{j}]"),
                        format!("unknown route {name:?}"),
                    );
                }
                if !seen.insert(name) {
                    issue(
                        format!("{at}.routes[{j}]"),
                        format!("{name:?} listed twice"),
                    );
                }
            }
            let w = &rule.when;
            check_brands(
                &mut issue,
                &format!("{at}.when.card_brands"),
                &w.card_brands,
            );
            check_countries(
                &mut issue,
                &format!("{at}.when.billing_countries"),
                &w.billing_countries,
            );
            if w.amount_min.is_some() || w.amount_max.is_some() {
                match w.currencies.as_slice() {
                    [currency] => {
                        let min = bound(&mut issue, &at, "amount_min", &w.amount_min, *currency);
                        let max = bound(&mut issue, &at, "amount_max", &w.amount_max, *currency);
                        if let (Some(min), Some(max)) = (min, max) {
                            if min.minor() >= max.minor() {
                                issue(
                                    format!("{at}.when.amount_max"),
                                    format!("{max} is not above amount_min {min}"),
                                );
                            }
                        }
                    }
                    _ => issue(
                        format!("{at}.when.currencies"),
                        "an amount band needs exactly one currency to compare in".into(),
                    ),
                }
            }
            for (j, range) in w.bin_ranges.iter().enumerate() {
                let here = format!("{at}.when.bin_ranges[{j}]");
                let ok =
                    |s: &str| (6..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
                if !ok(&range.from) || !ok(&range.to) {
                    issue(here, "from and to must be 6-8 digits".into());
                } else if bin_key(&range.from) > bin_key_upper(&range.to) {
                    issue(
                        here,
                        format!("from {} is above to {}", range.from, range.to),
                    );
                }
            }
        }
        let o = &self.optimisation;
        let unit = |v: f64| (0.0..=1.0).contains(&v);
        if !unit(o.max_exploration) {
            issue(
                "optimisation.max_exploration".into(),
                "must be within 0..1".into(),
            );
        }
        if o.min_volume.is_nan() || o.min_volume < 0.0 {
            issue("optimisation.min_volume".into(), "must be 0 or more".into());
        }
        if o.bucket_secs == 0 || o.window_secs < o.bucket_secs {
            issue(
                "optimisation.window_secs".into(),
                "bucket_secs must be above 0 and window_secs at least one bucket".into(),
            );
        }
        if o.half_life_secs == 0 {
            issue(
                "optimisation.half_life_secs".into(),
                "must be above 0".into(),
            );
        }
        if o.shards == 0 || o.shards > 32 {
            issue("optimisation.shards".into(), "must be 1..32".into());
        }
        let b = &o.breaker;
        if !unit(b.error_rate) || b.error_rate == 0.0 {
            issue(
                "optimisation.breaker.error_rate".into(),
                "must be within (0, 1]".into(),
            );
        }
        if !unit(b.probe_rate) {
            issue(
                "optimisation.breaker.probe_rate".into(),
                "must be within 0..1".into(),
            );
        }
        if b.window_secs == 0 {
            issue(
                "optimisation.breaker.window_secs".into(),
                "must be above 0".into(),
            );
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { issues })
        }
    }
}

fn check_brands(issue: &mut impl FnMut(String, String), at: &str, brands: &[String]) {
    for (i, b) in brands.iter().enumerate() {
        if b.is_empty() || !b.bytes().all(|c| c.is_ascii_lowercase() || c == b'_') {
            issue(
                format!("{at}[{i}]"),
                format!("{b:?} is not a lower-case brand name such as \"visa\""),
            );
        }
    }
}

fn check_countries(issue: &mut impl FnMut(String, String), at: &str, countries: &[String]) {
    for (i, c) in countries.iter().enumerate() {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            issue(
                format!("{at}[{i}]"),
                format!("{c:?} is not an ISO 3166-1 alpha-2 code such as \"US\""),
            );
        }
    }
}

fn bound(
    issue: &mut impl FnMut(String, String),
    at: &str,
    field: &str,
    value: &Option<String>,
    currency: Currency,
) -> Option<Money> {
    let v = value.as_ref()?;
    match Money::parse(v, currency) {
        Ok(m) if !m.is_negative() => Some(m),
        Ok(_) => {
            issue(format!("{at}.when.{field}"), format!("{v:?} is negative"));
            None
        }
        Err(e) => {
            issue(format!("{at}.when.{field}"), format!("{v:?}: {e}"));
            None
        }
    }
}

/// A BIN padded to 8 digits with zeros (lower end of the range it names).
pub(crate) fn bin_key(bin: &str) -> u32 {
    format!("{bin:0<8}")
        .get(..8)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A BIN padded to 8 digits with nines (upper end of the range it names).
pub(crate) fn bin_key_upper(bin: &str) -> u32 {
    format!("{bin:9<8}")
        .get(..8)
        .and_then(|s| s.parse().ok())
        .unwrap_or(u32::MAX)
}

//! CloudWatch metrics through the Embedded Metric Format: one JSON line on stdout per data
//! point, which CloudWatch Logs turns into a metric (no API call, no extra latency). Alarms on
//! these metrics live in template.yaml.

/// The namespace of every metric this integration emits.
pub const NAMESPACE: &str = "O2C";

/// The EMF line for a count of 1 of `metric`, dimensioned by function.
pub fn count_line(function: &str, metric: &str) -> String {
    count_n_line(function, metric, 1)
}

/// The EMF line for a count of `n` of `metric`, dimensioned by function.
pub fn count_n_line(function: &str, metric: &str, n: u64) -> String {
    emf_line(function, metric, n, None)
}

/// The EMF line for a count of 1 of `metric`, dimensioned by function and also by function and
/// `dimension` (one data point, two metrics: the total for alarms, the split for dashboards).
pub fn count_by_line(function: &str, metric: &str, dimension: &str, value: &str) -> String {
    emf_line(function, metric, 1, Some((dimension, value)))
}

/// One EMF data point: `metric` = `n`, by function (and by function and `split`, if given).
fn emf_line(function: &str, metric: &str, n: u64, split: Option<(&str, &str)>) -> String {
    let dimensions = match split {
        Some((d, _)) => serde_json::json!([["function"], ["function", d]]),
        None => serde_json::json!([["function"]]),
    };
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() * 1000)
                .unwrap_or(0),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": [{ "Name": metric, "Unit": "Count" }]
            }]
        },
        "function": function,
        metric: n
    });
    if let Some((d, v)) = split {
        line[d] = serde_json::Value::from(v);
    }
    line.to_string()
}

/// Emit [`count_by_line`] (e.g. `Quarantined` by `class`).
pub fn count_by(function: &str, metric: &str, dimension: &str, value: &str) {
    println!("{}", count_by_line(function, metric, dimension, value));
}

/// Emit a count of 1 of `metric` (e.g. `CardDataRefused`, an alarmed security signal).
pub fn count(function: &str, metric: &str) {
    println!("{}", count_line(function, metric));
}

/// Emit a count of `n` of `metric` in one data point (e.g. `OrdersCaughtUp` per run).
pub fn count_n(function: &str, metric: &str, n: u64) {
    println!("{}", count_n_line(function, metric, n));
}

#[cfg(test)]
mod tests {
    #[test]
    fn emf_shape() {
        let v: serde_json::Value = serde_json::from_str(&super::count_line(
            "clarity-order-webhook",
            "CardDataRefused",
        ))
        .unwrap();
        assert_eq!(v["CardDataRefused"], 1);
        assert_eq!(v["function"], "clarity-order-webhook");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "O2C");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "CardDataRefused"
        );
        let n: serde_json::Value =
            serde_json::from_str(&super::count_n_line("clarity-catchup", "OrdersCaughtUp", 3))
                .unwrap();
        assert_eq!(n["OrdersCaughtUp"], 3);
        let c: serde_json::Value = serde_json::from_str(&super::count_by_line(
            "clarity-order-webhook",
            "Quarantined",
            "class",
            "missing_field",
        ))
        .unwrap();
        assert_eq!(c["Quarantined"], 1);
        assert_eq!(c["class"], "missing_field");
        assert_eq!(
            c["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["function"], ["function", "class"]])
        );
        assert_eq!(
            n["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "OrdersCaughtUp"
        );
    }
}

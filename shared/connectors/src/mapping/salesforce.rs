//! Canonical order + Decision Manager assessment → a Salesforce fraud Case (assumed contract and
//! field names in `shared/connectors/ERP_CRM_ASSUMED.md`, configurable in [`CrmMapping`]).
//!
//! The case key is `cybs-<transactionId>` in the external-id field (`Fraud_Case_Key__c`), so a
//! replayed fraud event updates the same case. The case carries the order id, the amount (an
//! exact JSON number) and currency, the Decision Manager decision, score and fired rules. The
//! customer's name and email go to `SuppliedName` / `SuppliedEmail`, masked when the stage is
//! not production.

use o2c_domain::model::{Chargeback, ChargebackStatus, Order};
use o2c_domain::pii::{mask_json, MaskPolicy};
use serde_json::{json, Map, Value};

use super::error::MappingError;
use crate::cybersource::dto::RiskInformation;
use crate::http::transport::decimal_json_number;
use crate::salesforce::CaseRecord;

/// One Decision Manager rule that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudRule {
    pub name: String,
    /// `IGNORE`, `REVIEW`, `REJECT`, `ACCEPT`.
    pub decision: String,
}

/// What Decision Manager said about an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudAssessment {
    /// The Cybersource transaction id of the authorization.
    pub transaction_id: String,
    /// `REVIEW`, `REJECT` (or the payment status, e.g. `AUTHORIZED_RISK_DECLINED`).
    pub decision: String,
    /// `errorInformation.reason` (`DECISION_PROFILE_REJECT`, `SCORE_EXCEEDS_THRESHOLD`, ...).
    pub reason: Option<String>,
    /// `riskInformation.score.result`.
    pub score: Option<String>,
    pub rules: Vec<FraudRule>,
    /// `riskInformation.profile.name`.
    pub profile: Option<String>,
}

impl FraudAssessment {
    /// From the authorization's `riskInformation` (docs/cybersource.md, Decision Manager).
    pub fn from_risk(
        transaction_id: impl Into<String>,
        decision: impl Into<String>,
        reason: Option<String>,
        risk: &RiskInformation,
    ) -> Self {
        let score = risk.score.as_ref().and_then(|s| match s {
            Value::Object(o) => o.get("result").and_then(|r| match r {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        Self {
            transaction_id: transaction_id.into(),
            decision: decision.into(),
            reason,
            score,
            rules: risk
                .rules
                .iter()
                .filter_map(|r| {
                    Some(FraudRule {
                        name: r.name.clone()?,
                        decision: r.decision.clone().unwrap_or_default(),
                    })
                })
                .collect(),
            profile: risk.profile.as_ref().and_then(|p| p.name.clone()),
        }
    }
}

/// Case field names and settings (data, not code).
#[derive(Debug, Clone)]
pub struct CrmMapping {
    pub external_id_field: String,
    pub order_id_field: String,
    pub amount_field: String,
    pub currency_field: String,
    pub decision_field: String,
    pub score_field: String,
    pub rules_field: String,
    pub transaction_id_field: String,
    /// `Origin` picklist value.
    pub origin: String,
    /// Mask PII when this stage is not production.
    pub mask: MaskPolicy,
}

impl Default for CrmMapping {
    fn default() -> Self {
        Self {
            external_id_field: "Fraud_Case_Key__c".into(),
            order_id_field: "Order_Id__c".into(),
            amount_field: "Order_Amount__c".into(),
            currency_field: "Order_Currency__c".into(),
            decision_field: "Fraud_Decision__c".into(),
            score_field: "Fraud_Score__c".into(),
            rules_field: "Fraud_Rules__c".into(),
            transaction_id_field: "Cybersource_Transaction_Id__c".into(),
            origin: "Web".into(),
            mask: MaskPolicy::Keep,
        }
    }
}

/// `cybs-<transactionId>`.
pub fn case_key(fraud: &FraudAssessment) -> Result<String, MappingError> {
    let t = fraud.transaction_id.trim();
    if t.is_empty() {
        return Err(MappingError::missing("fraud.transactionId"));
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(MappingError::invalid(
            "fraud.transactionId",
            t,
            "is not a Cybersource transaction id",
        ));
    }
    Ok(format!("cybs-{t}"))
}

/// The fraud Case for `order`.
pub fn fraud_case(
    order: &Order,
    fraud: &FraudAssessment,
    cfg: &CrmMapping,
) -> Result<CaseRecord, MappingError> {
    let key = case_key(fraud)?;
    let amount_text = order.total.to_decimal_string();
    let amount = decimal_json_number(&amount_text).ok_or_else(|| {
        MappingError::invalid(
            "order.total",
            &amount_text,
            "cannot be sent as an exact JSON number",
        )
    })?;
    let clarity_id = order
        .external
        .clarity
        .clone()
        .unwrap_or_else(|| order.id.to_string());
    let decision = fraud.decision.to_ascii_uppercase();
    let priority = if decision.contains("REJECT") || decision.contains("DECLINED") {
        "High"
    } else {
        "Medium"
    };
    let rules_text = fraud
        .rules
        .iter()
        .map(|r| format!("{} ({})", r.name, r.decision))
        .collect::<Vec<_>>()
        .join("; ");
    let mut description = format!(
        "Decision Manager {decision} for Clarity order {clarity_id} (our id {}), {} {}.\nCybersource transaction {}.",
        order.id,
        amount_text,
        order.currency(),
        fraud.transaction_id
    );
    if let Some(r) = &fraud.reason {
        description.push_str(&format!("\nReason: {r}."));
    }
    if let Some(s) = &fraud.score {
        description.push_str(&format!("\nScore: {s}."));
    }
    if let Some(p) = &fraud.profile {
        description.push_str(&format!("\nProfile: {p}."));
    }
    if !rules_text.is_empty() {
        description.push_str(&format!("\nRules: {rules_text}."));
    }
    let mut fields = json!({
        "Subject": format!("Fraud {}: order {clarity_id}", decision.to_lowercase()).chars().take(255).collect::<String>(),
        "Description": description,
        "Status": "New",
        "Priority": priority,
        "Origin": cfg.origin,
        "SuppliedName": format!(
            "{} {}",
            order.customer.first_name.as_str(),
            order.customer.last_name.as_str()
        ),
        "SuppliedEmail": order.customer.email,
    });
    let f = fields.as_object_mut().expect("object");
    f.insert(cfg.order_id_field.clone(), json!(clarity_id));
    f.insert(cfg.amount_field.clone(), Value::Number(amount));
    f.insert(cfg.currency_field.clone(), json!(order.currency().code()));
    f.insert(cfg.decision_field.clone(), json!(decision));
    f.insert(
        cfg.transaction_id_field.clone(),
        json!(fraud.transaction_id),
    );
    if let Some(s) = &fraud.score {
        let n = decimal_json_number(s.trim())
            .map(Value::Number)
            .unwrap_or_else(|| json!(s));
        f.insert(cfg.score_field.clone(), n);
    }
    if !rules_text.is_empty() {
        f.insert(cfg.rules_field.clone(), json!(rules_text));
    }
    mask_json(&mut fields, cfg.mask);
    let fields: Map<String, Value> = match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Ok(CaseRecord {
        external_id_field: cfg.external_id_field.clone(),
        external_id: key,
        fields,
    })
}

/// The case key of a chargeback: the chargeback id (`cb-<transactionId>`). It goes in the same
/// external-id field as fraud cases (one such field per Case object); the `cb-` and `cybs-`
/// prefixes keep disputes and fraud cases of one transaction apart.
pub fn dispute_case_key(chargeback: &Chargeback) -> Result<String, MappingError> {
    let k = chargeback.id.as_str();
    if !k
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(MappingError::invalid(
            "chargeback.id",
            k,
            "cannot be a case key (letters, digits, '-' and '_')",
        ));
    }
    Ok(k.to_owned())
}

/// The dispute Case for a chargeback on `order`, in the fraud case's style: keyed by the
/// chargeback id, so every poll and every later event (won, lost) updates the one case. An open
/// dispute is a `New`, `High` case (the merchant has a response deadline); a decided one is
/// `Closed`. `Type` = `Chargeback` (ASSUMED picklist value). `notes` (nature of the dispute,
/// response deadline, ...) are appended to the description.
pub fn dispute_case(
    order: &Order,
    chargeback: &Chargeback,
    notes: Option<&str>,
    cfg: &CrmMapping,
) -> Result<CaseRecord, MappingError> {
    let key = dispute_case_key(chargeback)?;
    let total_text = order.total.to_decimal_string();
    let total = decimal_json_number(&total_text).ok_or_else(|| {
        MappingError::invalid(
            "order.total",
            &total_text,
            "cannot be sent as an exact JSON number",
        )
    })?;
    let clarity_id = order
        .external
        .clarity
        .clone()
        .unwrap_or_else(|| order.id.to_string());
    let txn = chargeback.external.cybersource.clone().unwrap_or_default();
    let (status, case_status, priority) = match chargeback.status {
        ChargebackStatus::Open => ("open", "New", "High"),
        ChargebackStatus::Won => ("won", "Closed", "Medium"),
        ChargebackStatus::Lost => ("lost", "Closed", "High"),
    };
    let mut description = format!(
        "Chargeback {} ({status}) on Clarity order {clarity_id} (our id {}): {} {} disputed of {} {}.\nCybersource transaction {txn}.\nReceived {}.",
        chargeback.reason_code,
        order.id,
        chargeback.amount.to_decimal_string(),
        chargeback.amount.currency(),
        total_text,
        order.currency(),
        chargeback.received_at,
    );
    if let Some(n) = notes.filter(|n| !n.trim().is_empty()) {
        description.push('\n');
        description.push_str(n);
    }
    let mut fields = json!({
        "Subject": format!("Chargeback {} ({status}): order {clarity_id}", chargeback.reason_code)
            .chars()
            .take(255)
            .collect::<String>(),
        "Description": description,
        "Status": case_status,
        "Priority": priority,
        "Origin": cfg.origin,
        "Type": "Chargeback",
        "SuppliedName": format!(
            "{} {}",
            order.customer.first_name.as_str(),
            order.customer.last_name.as_str()
        ),
        "SuppliedEmail": order.customer.email,
    });
    let f = fields.as_object_mut().expect("object");
    f.insert(cfg.order_id_field.clone(), json!(clarity_id));
    f.insert(cfg.amount_field.clone(), Value::Number(total));
    f.insert(cfg.currency_field.clone(), json!(order.currency().code()));
    f.insert(cfg.transaction_id_field.clone(), json!(txn));
    mask_json(&mut fields, cfg.mask);
    let fields: Map<String, Value> = match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Ok(CaseRecord {
        external_id_field: cfg.external_id_field.clone(),
        external_id: key,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::clarity::{order_to_canonical, tests::clarity_order};

    fn risk() -> RiskInformation {
        serde_json::from_value(json!({
            "profile": {"name": "Standard", "selectorRule": "Default"},
            "rules": [{"name": "Velocity: 5 orders/hour", "decision": "REVIEW"},
                      {"name": "Ship-to country mismatch", "decision": "REJECT"}],
            "score": {"result": "87", "factorCodes": ["F", "V"]}
        }))
        .unwrap()
    }

    #[test]
    fn a_rejected_order_becomes_a_case_with_score_rules_and_exact_amount() {
        let o = order_to_canonical(
            &serde_json::from_value(clarity_order(
                "KWD",
                "1.250",
                "0.075",
                "0.125",
                "3.800",
                "0.500",
                ["3.750", "0.075", "", "0.125", "4.300"],
            ))
            .unwrap(),
        )
        .unwrap();
        let fraud = FraudAssessment::from_risk(
            "7000000000000000001",
            "REJECT",
            Some("DECISION_PROFILE_REJECT".into()),
            &risk(),
        );
        assert_eq!(fraud.score.as_deref(), Some("87"));
        assert_eq!(fraud.rules.len(), 2);
        assert_eq!(fraud.profile.as_deref(), Some("Standard"));
        let c = fraud_case(&o, &fraud, &CrmMapping::default()).unwrap();
        assert_eq!(c.external_id_field, "Fraud_Case_Key__c");
        assert_eq!(c.external_id, "cybs-7000000000000000001");
        assert_eq!(c.fields["Order_Id__c"], "ORD-1001");
        assert_eq!(c.fields["Order_Amount__c"].to_string(), "4.3");
        assert_eq!(c.fields["Order_Currency__c"], "KWD");
        assert_eq!(c.fields["Fraud_Score__c"], 87);
        assert_eq!(c.fields["Fraud_Decision__c"], "REJECT");
        assert_eq!(c.fields["Priority"], "High");
        assert_eq!(c.fields["SuppliedName"], "Zoë Ñandú-Østergård");
        assert!(c.fields["Fraud_Rules__c"]
            .as_str()
            .unwrap()
            .contains("Ship-to country mismatch (REJECT)"));
        assert!(c.fields["Description"]
            .as_str()
            .unwrap()
            .contains("4.300 KWD"));
        assert!(!c.fields.contains_key("Fraud_Case_Key__c"));
    }

    #[test]
    fn lower_stages_mask_the_supplied_name_and_email() {
        let o = order_to_canonical(
            &serde_json::from_value(clarity_order(
                "USD",
                "12.50",
                "2.50",
                "3.00",
                "38.00",
                "5.00",
                ["37.50", "2.50", "", "3.00", "43.00"],
            ))
            .unwrap(),
        )
        .unwrap();
        let fraud = FraudAssessment {
            transaction_id: "7000000000000000009".into(),
            decision: "REVIEW".into(),
            reason: None,
            score: None,
            rules: vec![],
            profile: None,
        };
        let c = fraud_case(
            &o,
            &fraud,
            &CrmMapping {
                mask: MaskPolicy::for_stage("staging"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.fields["SuppliedName"], "Z***");
        assert_eq!(c.fields["SuppliedEmail"], "z***@e***.com");
        assert_eq!(c.fields["Priority"], "Medium");
        assert_eq!(c.fields["Order_Amount__c"].to_string(), "43");
        let bad = FraudAssessment {
            transaction_id: "a/b".into(),
            ..fraud
        };
        assert_eq!(
            fraud_case(&o, &bad, &CrmMapping::default())
                .unwrap_err()
                .path,
            "fraud.transactionId"
        );
    }
}

//! Canonical order + Decision Manager assessment → a Salesforce fraud Case, chargeback → a
//! dispute Case (assumed contract in `shared/connectors/ERP_CRM_ASSUMED.md`; the fields are the
//! integration spec's `crm.*` mappings, `config/mappings.yaml`).
//!
//! The case key is `cybs-<transactionId>` in the external-id field (`Fraud_Case_Key__c`), so a
//! replayed fraud event updates the same case. The case carries the order id, the amount (an
//! exact JSON number) and currency, the Decision Manager decision, score and fired rules. The
//! customer's name and email go to `SuppliedName` / `SuppliedEmail`, masked when the stage is
//! not production.

use std::sync::Arc;

use o2c_domain::model::{Chargeback, Order};
use o2c_domain::pii::{mask_json, MaskPolicy};
use o2c_spec::{context, Spec};
use serde_json::{json, Map, Value};

use super::error::MappingError;
use super::netsuite::spec_error;
use crate::cybersource::dto::RiskInformation;
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

/// What the Cases say: the spec's `crm.*` mappings and its `crm` lookup (the external-id
/// field), PII masked below production.
#[derive(Debug, Clone)]
pub struct CrmMapping {
    pub spec: Arc<Spec>,
    /// Mask PII when this stage is not production.
    pub mask: MaskPolicy,
}

impl Default for CrmMapping {
    /// The bundled spec, PII kept.
    fn default() -> Self {
        Self {
            spec: o2c_spec::bundled(),
            mask: MaskPolicy::Keep,
        }
    }
}

impl CrmMapping {
    /// The Case's external-id field (lookup `crm`, row `case_key_field`).
    fn key_field(&self) -> Result<String, MappingError> {
        let v = self
            .spec
            .lookup("crm", "case_key_field")
            .map_err(spec_error)?;
        v.as_str().map(str::to_owned).ok_or_else(|| {
            MappingError::invalid(
                "spec lookups.crm.case_key_field",
                &v.to_string(),
                "must be a field name",
            )
        })
    }

    fn case(&self, mapping: &str, ctx: &Value, key: String) -> Result<CaseRecord, MappingError> {
        let mut fields = Value::Object(self.spec.map_fields(mapping, ctx).map_err(spec_error)?);
        mask_json(&mut fields, self.mask);
        let fields: Map<String, Value> = match fields {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Ok(CaseRecord {
            external_id_field: self.key_field()?,
            external_id: key,
            fields,
        })
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

/// The fraud Case for `order` (spec mapping `crm.fraud_case`; the context's `.fraud` has the
/// decision in upper case and the rules that carry a name).
pub fn fraud_case(
    order: &Order,
    fraud: &FraudAssessment,
    cfg: &CrmMapping,
) -> Result<CaseRecord, MappingError> {
    let key = case_key(fraud)?;
    let ctx = json!({
        "order": context::order(order),
        "fraud": {
            "transaction_id": fraud.transaction_id,
            "decision": fraud.decision.to_ascii_uppercase(),
            "reason": fraud.reason,
            "score": fraud.score,
            "profile": fraud.profile,
            "rules": fraud.rules.iter().map(|r| json!({"name": r.name, "decision": r.decision})).collect::<Vec<_>>(),
        },
    });
    cfg.case("crm.fraud_case", &ctx, key)
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

/// The dispute Case for a chargeback on `order` (spec mapping `crm.dispute_case`), keyed by the
/// chargeback id, so every poll and every later event (won, lost) updates the one case. By
/// default an open dispute is a `New`, `High` case (the merchant has a response deadline) and a
/// decided one `Closed`; `notes` (nature of the dispute, response deadline, ...) are in the
/// context as `.chargeback.notes`.
pub fn dispute_case(
    order: &Order,
    chargeback: &Chargeback,
    notes: Option<&str>,
    cfg: &CrmMapping,
) -> Result<CaseRecord, MappingError> {
    let key = dispute_case_key(chargeback)?;
    let ctx = json!({
        "order": context::order(order),
        "chargeback": context::chargeback(chargeback, notes),
    });
    cfg.case("crm.dispute_case", &ctx, key)
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

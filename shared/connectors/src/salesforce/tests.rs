//! Salesforce client tests against an in-test REST server (a real HTTP server on loopback) that
//! keeps cases by external id, so upsert idempotency is enforced by the server side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use o2c_domain::recipe::FailureClass;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;

use super::*;
use crate::http::retry::Retryable;
use crate::http::test_http::{Request, Response, TestServer, VirtualSleeper};
use crate::mapping::clarity::{order_to_canonical, tests::usd_order};
use crate::mapping::salesforce::{fraud_case, CrmMapping, FraudAssessment};
use o2c_domain::fakes::ManualClock;

#[derive(Default)]
struct Sf {
    base: String,
    sessions: Vec<String>,
    /// Fraud_Case_Key__c → (Id, fields)
    cases: HashMap<String, (String, Value)>,
    duplicate_key: Option<String>,
}

fn sf_error(status: u16, code: &str, message: &str) -> Response {
    Response::json(status, json!([{"message": message, "errorCode": code}]))
}

fn handle(sf: &Mutex<Sf>, r: &Request) -> Response {
    let mut s = sf.lock().unwrap();
    if r.path() == "/services/oauth2/token" {
        let form = r.form();
        if form.get("client_id").map(String::as_str) != Some("sf-client")
            || form.get("client_secret").map(String::as_str) != Some("sf-secret")
        {
            return Response::json(
                400,
                json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
            );
        }
        let tok = format!("00D!session-{}", s.sessions.len() + 1);
        s.sessions.push(tok.clone());
        return Response::json(
            200,
            json!({"access_token": tok, "instance_url": s.base, "token_type": "Bearer",
                                          "issued_at": "1717243200000", "signature": "sig"}),
        );
    }
    if !r
        .bearer()
        .is_some_and(|b| s.sessions.iter().any(|t| t == b))
    {
        return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid");
    }
    let segs: Vec<&str> = r.path().trim_start_matches('/').split('/').collect();
    match (r.method.as_str(), segs.as_slice()) {
        ("PATCH", ["services", "data", "v60.0", "sobjects", "Case", "Fraud_Case_Key__c", key]) => {
            if s.duplicate_key.as_deref() == Some(*key) {
                return Response::json(
                    300,
                    json!([
                        "/services/data/v60.0/sobjects/Case/500A",
                        "/services/data/v60.0/sobjects/Case/500B"
                    ]),
                );
            }
            let body = r.json();
            if body.get("Fraud_Case_Key__c").is_some() {
                return sf_error(400, "INVALID_FIELD", "external id in the body");
            }
            let n = s.cases.len() + 1;
            match s.cases.get_mut(*key) {
                Some((id, fields)) => {
                    *fields = body;
                    Response::json(
                        200,
                        json!({"id": id, "success": true, "errors": [], "created": false}),
                    )
                }
                None => {
                    let id = format!("5005g00000CASE{n:04}");
                    s.cases.insert((*key).to_owned(), (id.clone(), body));
                    Response::json(
                        201,
                        json!({"id": id, "success": true, "errors": [], "created": true}),
                    )
                }
            }
        }
        _ => sf_error(404, "NOT_FOUND", "The requested resource does not exist"),
    }
}

async fn fixture() -> (TestServer, Arc<Mutex<Sf>>, SalesforceClient) {
    let sf = Arc::new(Mutex::new(Sf::default()));
    let s = sf.clone();
    let server = TestServer::start(move |r: &Request| handle(&s, r)).await;
    sf.lock().unwrap().base = server.url();
    let creds = CrmCredentials::from_json(
        &json!({"instance_url": "http://127.0.0.1:9", "token_url": format!("{}/services/oauth2/token", server.url()),
                "client_id": "sf-client", "client_secret": "sf-secret"})
        .to_string(),
    )
    .unwrap();
    assert!(!format!("{creds:?}").contains("sf-secret"));
    let client = SalesforceClient::with_parts(
        SalesforceConfig::from_credentials(&creds),
        crate::http::rest::ClientParts {
            http: reqwest::Client::new(),
            clock: Arc::new(ManualClock::at_unix(1_717_243_200)),
            sleeper: VirtualSleeper::new(),
            rng: StdRng::seed_from_u64(5),
        },
    );
    (server, sf, client)
}

fn case() -> CaseRecord {
    let order = order_to_canonical(&serde_json::from_value(usd_order()).unwrap()).unwrap();
    let fraud = FraudAssessment {
        transaction_id: "7000000000000000001".into(),
        decision: "REJECT".into(),
        reason: Some("SCORE_EXCEEDS_THRESHOLD".into()),
        score: Some("91".into()),
        rules: vec![],
        profile: None,
    };
    fraud_case(&order, &fraud, &CrmMapping::default()).unwrap()
}

#[tokio::test]
async fn case_upsert_by_external_id_is_one_case() {
    let (server, sf, client) = fixture().await;
    let c = case();
    let first = client.upsert_case(&c).await.unwrap();
    assert!(first.created);
    let second = client.upsert_case(&c).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.id, first.id);
    assert_eq!(sf.lock().unwrap().cases.len(), 1, "one case");
    let patch = server
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(
        patch.path(),
        "/services/data/v60.0/sobjects/Case/Fraud_Case_Key__c/cybs-7000000000000000001"
    );
    let body = patch.json();
    assert_eq!(body["Order_Amount__c"].to_string(), "43");
    assert_eq!(body["Fraud_Score__c"], 91);
    // The token's instance_url was used (the configured one is unreachable), one token.
    assert_eq!(server.count("POST", "/services/oauth2/token"), 1);
}

#[tokio::test]
async fn expired_session_is_refreshed_once_and_errors_are_typed() {
    let (server, sf, client) = fixture().await;
    client.upsert_case(&case()).await.unwrap();
    sf.lock().unwrap().sessions.clear();
    client.upsert_case(&case()).await.unwrap();
    assert_eq!(server.count("POST", "/services/oauth2/token"), 2);

    sf.lock().unwrap().duplicate_key = Some("cybs-7000000000000000001".into());
    let e = client.upsert_case(&case()).await.unwrap_err();
    assert_eq!(e.http_status(), Some(300));
    assert_eq!(e.failure_class(), Some(FailureClass::TerminalApi));

    let mut bad = case();
    bad.fields.insert("Bogus".into(), json!(1));
    bad.external_id_field = "Not A Field".into();
    assert!(matches!(
        client.upsert_case(&bad).await.unwrap_err(),
        CrmError::InvalidRequest { .. }
    ));
}

/// Issue 12/5: a CRM body holding a card number is refused before anything is sent.
#[tokio::test]
async fn a_body_holding_a_card_number_is_never_sent() {
    let (server, _sf, client) = fixture().await;
    let mut c = case();
    c.fields.insert(
        "Description".into(),
        json!("customer wrote 5555\u{2013}5555\u{2013}5555\u{2013}4444"),
    );
    let e = client.upsert_case(&c).await.unwrap_err();
    assert!(matches!(e, CrmError::InvalidRequest { .. }), "{e}");
    assert!(!e.is_retryable());
    assert_eq!(e.failure_class(), Some(FailureClass::Validation));
    assert!(e.to_string().contains("$.Description"), "{e}");
    assert!(!e.to_string().contains("5555"), "{e}");
    assert!(server.requests().is_empty(), "nothing was sent");
}

//! NetSuite client tests against an in-test SuiteTalk server (a real HTTP server on loopback)
//! that checks the JWT client assertion with the test key's public half and keeps records by
//! external id, so upsert idempotency is enforced by the server side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use o2c_domain::recipe::{FailureClass, StepError};
use rand::rngs::StdRng;
use rand::SeedableRng;
use secrecy::SecretString;
use serde_json::{json, Value};

use super::*;
use crate::mapping::clarity::{order_to_canonical, tests::usd_order};
use crate::mapping::netsuite::{customer_record, sales_order_record, ErpMapping};
use o2c_domain::fakes::ManualClock;

use crate::http::oauth::AssertionClaims;
use crate::http::retry::Retryable;
use crate::http::test_http::{
    Request, Response, TestServer, VirtualSleeper, TEST_RSA_PRIVATE_PEM, TEST_RSA_PUBLIC_PEM,
};

const T0: u64 = 1_717_243_200;

#[derive(Default)]
struct Ns {
    token_url: String,
    tokens: Vec<String>,
    /// type → internal id → record
    records: HashMap<String, HashMap<String, Value>>,
    /// (type, external id) → internal id
    by_eid: HashMap<(String, String), String>,
    next_id: u64,
    creates: u32,
    updates: u32,
}

fn ns_error(status: u16, code: &str, detail: &str) -> Response {
    Response::json(
        status,
        json!({"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1", "title": "Bad Request",
               "status": status, "o:errorDetails": [{"detail": detail, "o:errorCode": code}]}),
    )
}

fn handle(ns: &Mutex<Ns>, base: &str, r: &Request) -> Response {
    let mut s = ns.lock().unwrap();
    if r.path() == "/services/rest/auth/oauth2/v1/token" {
        let form = r.form();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(TEST_RSA_PUBLIC_PEM.as_bytes()).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::PS256);
        v.set_audience(&[s.token_url.clone()]);
        v.validate_exp = false;
        let ok = form.get("client_assertion_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && jsonwebtoken::decode_header(&form["client_assertion"])
                .is_ok_and(|h| h.kid.as_deref() == Some("cert-1"))
            && jsonwebtoken::decode::<AssertionClaims>(&form["client_assertion"], &key, &v)
                .is_ok_and(|d| d.claims.iss == "ns-client" && d.claims.scope == "rest_webservices");
        if !ok {
            return Response::json(400, json!({"error": "invalid_client"}));
        }
        let tok = format!("ns-{}", s.tokens.len() + 1);
        s.tokens.push(tok.clone());
        return Response::json(
            200,
            json!({"access_token": tok, "token_type": "bearer", "expires_in": "3600"}),
        );
    }
    if !r.bearer().is_some_and(|b| s.tokens.iter().any(|t| t == b)) {
        return ns_error(401, "INVALID_LOGIN", "Invalid login attempt.");
    }
    let rest = r
        .path()
        .strip_prefix("/services/rest/record/v1/")
        .unwrap_or("");
    let segs: Vec<&str> = rest.split('/').collect();
    let rtype = segs[0].to_owned();
    match (r.method.as_str(), segs.as_slice()) {
        ("PUT", [_, key]) => {
            let Some(eid) = key.strip_prefix("eid:") else {
                return ns_error(400, "USER_ERROR", "Upsert needs eid:");
            };
            let body = r.json();
            if rtype == "salesOrder" {
                let cust = body["entity"]["externalId"].as_str().unwrap_or("");
                if !s
                    .by_eid
                    .contains_key(&("customer".to_owned(), cust.to_owned()))
                {
                    return ns_error(400, "USER_ERROR", "Invalid entity reference key.");
                }
            }
            let k = (rtype.clone(), eid.to_owned());
            let id = match s.by_eid.get(&k).cloned() {
                Some(id) => {
                    s.updates += 1;
                    id
                }
                None => {
                    s.next_id += 1;
                    s.creates += 1;
                    let id = s.next_id.to_string();
                    s.by_eid.insert(k, id.clone());
                    id
                }
            };
            let mut rec = body;
            rec["id"] = json!(id);
            rec["externalId"] = json!(eid);
            s.records
                .entry(rtype.clone())
                .or_default()
                .insert(id.clone(), rec);
            Response::empty(204).header(
                "Location",
                format!("{base}/services/rest/record/v1/{rtype}/{id}"),
            )
        }
        ("GET", [_, key]) => {
            let id = match key.strip_prefix("eid:") {
                Some(eid) => s.by_eid.get(&(rtype.clone(), eid.to_owned())).cloned(),
                None => Some((*key).to_owned()),
            };
            match id.and_then(|id| s.records.get(&rtype).and_then(|m| m.get(&id)).cloned()) {
                Some(rec) => Response::json(200, rec),
                None => ns_error(404, "NONEXISTENT_ID", "The record instance does not exist."),
            }
        }
        ("GET", [_]) => {
            let q = form_urlencoded::parse(r.query().unwrap_or("").as_bytes())
                .find(|(k, _)| k == "q")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let recs = s.records.get(&rtype).cloned().unwrap_or_default();
            let mut ids: Vec<&String> =
                recs.iter()
                    .filter(|(_, rec)| match q.split_once(' ') {
                        Some(("createdFrom", rest)) => rest.contains(&format!(
                            "[{}]",
                            rec["createdFrom"]["id"].as_str().unwrap_or("-")
                        )),
                        Some(("itemId", rest)) => rest
                            .ends_with(&format!("\"{}\"", rec["itemId"].as_str().unwrap_or("-"))),
                        _ => true,
                    })
                    .map(|(id, _)| id)
                    .collect();
            ids.sort();
            Response::json(
                200,
                json!({"count": ids.len(), "hasMore": false, "offset": 0, "totalResults": ids.len(),
                       "items": ids.iter().map(|id| json!({"id": id, "links": []})).collect::<Vec<_>>()}),
            )
        }
        _ => ns_error(405, "INVALID_REQUEST", "not here"),
    }
}

struct Fixture {
    server: TestServer,
    ns: Arc<Mutex<Ns>>,
    client: NetSuiteClient,
}

async fn fixture() -> Fixture {
    let ns = Arc::new(Mutex::new(Ns::default()));
    let base: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let (n, b) = (ns.clone(), base.clone());
    let server = TestServer::start(move |r: &Request| handle(&n, &b.lock().unwrap(), r)).await;
    *base.lock().unwrap() = server.url();
    let creds = ErpCredentials::from_json(
        &json!({
            "account_id": "TSTDRV1",
            "base_url": format!("{}/services/rest", server.url()),
            "token_url": format!("{}/services/rest/auth/oauth2/v1/token", server.url()),
            "client_id": "ns-client",
            "certificate_id": "cert-1",
            "private_key_pem": TEST_RSA_PRIVATE_PEM,
        })
        .to_string(),
    )
    .unwrap();
    assert!(!format!("{creds:?}").contains("PRIVATE KEY"));
    ns.lock().unwrap().token_url = creds.token_url.clone();
    let client = NetSuiteClient::with_parts(
        NetSuiteConfig::from_credentials(&creds).unwrap(),
        crate::http::rest::ClientParts {
            http: reqwest::Client::new(),
            clock: Arc::new(ManualClock::at_unix(T0)),
            sleeper: VirtualSleeper::new(),
            rng: StdRng::seed_from_u64(3),
        },
    );
    Fixture { server, ns, client }
}

#[tokio::test]
async fn upsert_by_external_id_twice_is_one_record() {
    let f = fixture().await;
    let order = order_to_canonical(&serde_json::from_value(usd_order()).unwrap()).unwrap();
    let customer = customer_record(&order, &ErpMapping::default()).unwrap();
    let first = f.client.upsert(&customer).await.unwrap();
    let second = f.client.upsert(&customer).await.unwrap();
    assert_eq!(first.internal_id.as_deref(), Some("1"));
    assert_eq!(second.internal_id, first.internal_id);
    {
        let ns = f.ns.lock().unwrap();
        assert_eq!((ns.creates, ns.updates), (1, 1));
        assert_eq!(ns.records["customer"].len(), 1, "one customer");
    }
    // The sales order references the customer by external id and replaces its item lines.
    let so = sales_order_record(&order, &ErpMapping::default()).unwrap();
    f.client.upsert(&so).await.unwrap();
    f.client.upsert(&so).await.unwrap();
    assert_eq!(
        f.ns.lock().unwrap().records["salesOrder"].len(),
        1,
        "one sales order"
    );
    let puts: Vec<_> = f
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(
        puts[0].path(),
        "/services/rest/record/v1/customer/eid:clr-cust-CUST-7"
    );
    assert_eq!(puts[0].query(), Some("replace=addressBook"));
    assert_eq!(
        puts[2].path(),
        "/services/rest/record/v1/salesOrder/eid:clr-so-ORD-1001"
    );
    assert_eq!(puts[2].query(), Some("replace=item"));
    // One token for all of it (JWT assertion checked by the server).
    assert_eq!(
        f.server
            .count("POST", "/services/rest/auth/oauth2/v1/token"),
        1
    );

    // Read back by external id (recovery check), and a miss is None.
    let got = f
        .client
        .get_by_external_id(RecordType::SalesOrder, "clr-so-ORD-1001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got["item"]["items"][0]["item"]["externalId"], "SKU-TEA");
    assert_eq!(
        f.client
            .get_by_external_id(RecordType::SalesOrder, "clr-so-NOPE")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn invalid_external_ids_and_user_errors() {
    let f = fixture().await;
    let bad = ErpRecord {
        record_type: RecordType::Customer,
        external_id: "a|b".into(),
        body: json!({}),
        replace_sublists: vec![],
    };
    let e = f.client.upsert(&bad).await.unwrap_err();
    assert!(matches!(e, ErpError::InvalidRequest { .. }));
    assert_eq!(f.server.count("PUT", "/"), 0, "never sent");

    // A sales order whose customer does not exist: 400 USER_ERROR, terminal, not retried.
    let order = order_to_canonical(&serde_json::from_value(usd_order()).unwrap()).unwrap();
    let so = sales_order_record(&order, &ErpMapping::default()).unwrap();
    let e = f.client.upsert(&so).await.unwrap_err();
    assert_eq!(e.error_code(), Some("USER_ERROR"));
    assert_eq!(e.failure_class(), Some(FailureClass::Validation));
    assert!(matches!(StepError::from(e), StepError::Terminal { .. }));
    assert_eq!(
        f.server.count("PUT", "/services/rest/record/v1/salesOrder"),
        1
    );
}

#[tokio::test]
async fn fulfilments_and_inventory_are_read() {
    let f = fixture().await;
    let order = order_to_canonical(&serde_json::from_value(usd_order()).unwrap()).unwrap();
    assert!(
        f.client
            .item_fulfillments("clr-so-ORD-1001")
            .await
            .unwrap()
            .is_empty(),
        "no sales order yet"
    );
    f.client
        .upsert(&customer_record(&order, &ErpMapping::default()).unwrap())
        .await
        .unwrap();
    f.client
        .upsert(&sales_order_record(&order, &ErpMapping::default()).unwrap())
        .await
        .unwrap();
    {
        let mut ns = f.ns.lock().unwrap();
        let so_id = ns.by_eid[&("salesOrder".to_owned(), "clr-so-ORD-1001".to_owned())].clone();
        ns.records.entry("itemFulfillment".into()).or_default().insert(
            "77".into(),
            json!({"id": "77", "tranId": "IF77", "tranDate": "2024-06-03", "createdFrom": {"id": so_id},
                   "shipStatus": {"id": "C", "refName": "Shipped"}, "shipMethod": {"refName": "UPS Ground"},
                   "item": {"items": [{"item": {"id": "9", "refName": "SKU-TEA"}, "quantity": 3, "orderLine": 1}]},
                   "package": {"items": [{"packageTrackingNumber": "1Z999AA1"}]}}),
        );
        ns.records
            .entry("itemFulfillment".into())
            .or_default()
            .insert(
                "78".into(),
                json!({"id": "78", "createdFrom": {"id": "999"}, "item": {"items": []}}),
            );
        ns.records.entry("inventoryItem".into()).or_default().insert(
            "9".into(),
            json!({"id": "9", "itemId": "SKU-TEA", "locations": {"items": [
                {"location": {"id": "1", "refName": "Main"}, "quantityOnHand": 10, "quantityAvailable": 7},
                {"location": {"id": "2"}, "quantityOnHand": "4.0"}]}}),
        );
    }
    let fs = f.client.item_fulfillments("clr-so-ORD-1001").await.unwrap();
    assert_eq!(fs.len(), 1, "only the one created from this sales order");
    let ff = &fs[0];
    assert!(ff.is_shipped());
    assert_eq!(ff.tracking_numbers, vec!["1Z999AA1"]);
    assert_eq!(
        ff.lines,
        vec![FulfillmentLine {
            sku: "SKU-TEA".into(),
            quantity: 3
        }]
    );
    let list = f
        .server
        .requests()
        .into_iter()
        .find(|r| r.path() == "/services/rest/record/v1/itemFulfillment")
        .unwrap();
    assert!(
        list.query()
            .unwrap()
            .contains("q=createdFrom%20ANY_OF%20%5B"),
        "{:?}",
        list.query()
    );

    let levels = f.client.inventory_levels("SKU-TEA").await.unwrap();
    assert_eq!(levels.len(), 2);
    assert_eq!(
        (levels[0].quantity_on_hand, levels[0].quantity_available),
        (10, 7)
    );
    assert_eq!(
        (
            levels[1].location_id.as_str(),
            levels[1].quantity_on_hand,
            levels[1].quantity_available
        ),
        ("2", 4, 4)
    );
    assert!(f
        .client
        .inventory_levels("SKU-NONE")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_bad_key_is_an_assertion_error_and_tokens_refresh_on_401() {
    let creds = ErpCredentials {
        account_id: "A".into(),
        base_url: "http://127.0.0.1:9/services/rest".into(),
        token_url: "http://127.0.0.1:9/token".into(),
        client_id: "c".into(),
        certificate_id: "k".into(),
        private_key_pem: SecretString::from("not a key"),
    };
    assert!(matches!(
        creds.token_endpoint(),
        Err(crate::http::oauth::OAuthError::Assertion(_))
    ));

    let f = fixture().await;
    f.client
        .get_by_external_id(RecordType::Customer, "x")
        .await
        .unwrap();
    f.ns.lock().unwrap().tokens.clear(); // the server forgets every token
    f.client
        .get_by_external_id(RecordType::Customer, "x")
        .await
        .unwrap();
    assert_eq!(
        f.server
            .count("POST", "/services/rest/auth/oauth2/v1/token"),
        2
    );
}

/// Issue 12/5: the outbound guard (in `BearerClient::send`) refuses a body holding a card
/// number, however written; nothing reaches the server, and the error never holds the number.
#[tokio::test]
async fn a_body_holding_a_card_number_is_never_sent() {
    let f = fixture().await;
    let order = order_to_canonical(&serde_json::from_value(usd_order()).unwrap()).unwrap();
    for disguised in [
        "Tea PAN4012888888881881",
        "Tea 4111\u{a0}1111\u{a0}1111\u{a0}1111",
        "Tea ４１１１１１１１１１１１１１１１",
    ] {
        let mut so = sales_order_record(&order, &ErpMapping::default()).unwrap();
        so.body["memo"] = json!(disguised);
        let e = f.client.upsert(&so).await.unwrap_err();
        assert!(matches!(e, ErpError::InvalidRequest { .. }), "{e}");
        assert!(!e.is_retryable());
        assert_eq!(e.failure_class(), Some(FailureClass::Validation));
        let text = e.to_string();
        assert!(
            text.contains("card data refused") && text.contains("$.memo"),
            "{text}"
        );
        assert!(!text.contains("4012") && !text.contains("1111"), "{text}");
    }
    assert!(
        f.server.requests().is_empty(),
        "nothing was sent, not even a token request"
    );
}

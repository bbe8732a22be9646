//! The adapters against a real moto server, which each test starts on a free loopback port and
//! kills when it ends. The binary comes from `MOTO_SERVER_BIN` (default
//! `<repo>/infra/local/moto-server`: moto with atomic DynamoDB conditional writes); without it the tests fail, they never skip.

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveSpecification};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use o2c_aws::store::{DynamoOrderStore, TTL_ATTRIBUTE};
use o2c_aws::{SecretsManagerSource, SqsDeadLetter, SqsPublisher};
use o2c_domain::model::sample;
use o2c_domain::ports::{
    Change, Claim, ClaimChange, EffectRecord, Expect, IdempotencyRecord, OrderRecord, OrderStore,
    OutboundMessage, Publisher, PutOutcome, QueueName, SecretError, SecretSource, StoreError,
};
use o2c_domain::{OrderId, OrderState, TimelineEntry, Timestamp, Transition};
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::time::Duration;

const TABLE: &str = "o2c-orders";

use o2c_e2e::Moto;

async fn sdk_config(moto: &Moto) -> SdkConfig {
    moto.sdk_config().await
}

// ---------------------------------------------------------------------------------------------
// fixtures
// ---------------------------------------------------------------------------------------------

struct StoreFixture {
    _moto: Moto,
    store: DynamoOrderStore,
    ddb: aws_sdk_dynamodb::Client,
}

async fn store_fixture() -> StoreFixture {
    let moto = Moto::start();
    let config = sdk_config(&moto).await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    moto.create_orders_table(TABLE).await;
    ddb.update_time_to_live()
        .table_name(TABLE)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("enable TTL");
    StoreFixture {
        _moto: moto,
        store: DynamoOrderStore::from_conf(&config, TABLE),
        ddb,
    }
}

fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp::from_millis(i64::try_from(ms).unwrap())
}

fn received(id: &str, at: Timestamp) -> OrderRecord {
    OrderRecord::received(
        sample::order(id),
        TimelineEntry::new(at, "order.received", "Clarity order.created webhook"),
    )
}

fn oid(id: &str) -> OrderId {
    OrderId::new(id).unwrap()
}

fn tr(from: OrderState, to: OrderState) -> Transition {
    Transition::new(from, to).unwrap()
}

async fn raw_item(f: &StoreFixture, pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    f.ddb
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
        .expect("item exists")
}

// ---------------------------------------------------------------------------------------------
// DynamoDB order store
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_then_duplicate_create_is_already_exists() {
    let f = store_fixture().await;
    let record = received("o1", now());
    f.store.create(&record).await.expect("first create");

    let err = f.store.create(&record).await.expect_err("duplicate create");
    assert_eq!(err, StoreError::AlreadyExists("o1".into()));

    assert_eq!(f.store.get(&oid("o1")).await.unwrap(), Some(record));
    assert_eq!(f.store.get(&oid("nobody")).await.unwrap(), None);

    let item = raw_item(&f, "ORDER#o1", "ORDER").await;
    assert_eq!(item["state"], AttributeValue::S("Received".into()));
    assert_eq!(item["version"], AttributeValue::N("1".into()));
    assert_eq!(item["effects"], AttributeValue::M(HashMap::new()));
    assert!(item["order"].is_s() && item["timeline"].is_l());
    assert!(!item.contains_key("claim_ref"));
}

#[tokio::test]
async fn duplicate_idempotency_put_returns_first_record() {
    let f = store_fixture().await;
    let t = now();
    let first = IdempotencyRecord {
        scope: "clarity-webhook".into(),
        key: "evt-1".into(),
        payload_hash: "aaaa".into(),
        created_at: t,
        expires_at: Timestamp::from_millis((t.epoch_seconds() + 86_400) * 1000),
        result: Some(serde_json::json!({"status": 202})),
    };
    assert_eq!(
        f.store.put_idempotency(&first).await.unwrap(),
        PutOutcome::Created
    );

    let second = IdempotencyRecord {
        payload_hash: "bbbb".into(),
        result: None,
        ..first.clone()
    };
    match f.store.put_idempotency(&second).await.unwrap() {
        PutOutcome::Exists(stored) => {
            assert_eq!(stored.payload_hash, "aaaa");
            assert_eq!(stored, first, "the first record, as written");
        }
        other => panic!("expected Exists, got {other:?}"),
    }
    // Another scope with the same key is another record.
    let other_scope = IdempotencyRecord {
        scope: "cybs-notification".into(),
        ..second
    };
    assert_eq!(
        f.store.put_idempotency(&other_scope).await.unwrap(),
        PutOutcome::Created
    );
}

#[tokio::test]
async fn idempotency_ttl_is_epoch_seconds_and_expired_records_count_as_absent() {
    let f = store_fixture().await;
    let t = now();
    let expires_at = t.plus(Duration::from_secs(86_400));
    let record = IdempotencyRecord {
        scope: "cybs-notification".into(),
        key: "n-1".into(),
        payload_hash: "h1".into(),
        created_at: t,
        expires_at,
        result: None,
    };
    f.store.put_idempotency(&record).await.unwrap();

    let item = raw_item(&f, "IDEM#cybs-notification#n-1", "IDEM").await;
    let AttributeValue::N(secs) = &item["expires_at"] else {
        panic!("expires_at must be N, got {:?}", item["expires_at"]);
    };
    assert_eq!(secs.len(), 10, "epoch seconds, never a 13-digit number");
    assert_eq!(secs.parse::<i64>().unwrap(), expires_at.epoch_seconds());
    assert_eq!(item["created_at"], AttributeValue::S(t.to_rfc3339()));
    assert!(!item.contains_key("result"));

    // A record whose TTL passed but that DynamoDB has not deleted yet is treated as absent.
    let expired = IdempotencyRecord {
        scope: "cybs-notification".into(),
        key: "n-2".into(),
        payload_hash: "old".into(),
        created_at: Timestamp::from_millis(t.millis() - 7_200_000),
        expires_at: Timestamp::from_millis(t.millis() - 3_600_000),
        result: None,
    };
    f.store.put_idempotency(&expired).await.unwrap();
    let fresh = IdempotencyRecord {
        payload_hash: "new".into(),
        created_at: t,
        expires_at,
        ..expired
    };
    assert_eq!(
        f.store.put_idempotency(&fresh).await.unwrap(),
        PutOutcome::Created
    );
    let item = raw_item(&f, "IDEM#cybs-notification#n-2", "IDEM").await;
    assert_eq!(item["payload_hash"], AttributeValue::S("new".into()));
}

#[tokio::test]
async fn stale_version_transition_is_rejected_and_state_unchanged() {
    let f = store_fixture().await;
    let t = now();
    f.store.create(&received("o1", t)).await.unwrap();
    let id = oid("o1");

    // v1 → v2 with a note.
    let noted = f
        .store
        .append_timeline(
            &id,
            OrderState::Received,
            1,
            TimelineEntry::new(t, "note", "operator"),
        )
        .await
        .unwrap();
    assert_eq!(noted.version, 2);

    // A writer still holding v1 is refused.
    let err = f
        .store
        .transition(
            &id,
            tr(OrderState::Received, OrderState::Authorizing),
            1,
            None,
            TimelineEntry::new(t, "authorize.claimed", "stale"),
        )
        .await
        .expect_err("stale version");
    match &err {
        StoreError::ConditionFailed { id, detail } => {
            assert_eq!(id, "o1");
            assert!(detail.contains("Received v2"), "detail: {detail}");
        }
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
    let stored = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(stored, noted, "nothing changed");

    // The current version goes through.
    let moved = f
        .store
        .transition(
            &id,
            tr(OrderState::Received, OrderState::Authorizing),
            2,
            None,
            TimelineEntry::new(t, "authorize.claimed", "current"),
        )
        .await
        .unwrap();
    assert_eq!((moved.state, moved.version), (OrderState::Authorizing, 3));

    // A change that does not start from the expected state is refused before any write.
    let err = f
        .store
        .update(
            &id,
            Expect::StateVersion {
                state: OrderState::Authorizing,
                version: 3,
            },
            Change {
                transition: Some(tr(OrderState::Received, OrderState::Authorizing)),
                ..Change::note(TimelineEntry::new(t, "x", "y"))
            },
        )
        .await
        .expect_err("invalid change");
    assert!(matches!(err, StoreError::InvalidChange(_)), "{err:?}");

    // Updating an order that does not exist is NotFound.
    let err = f
        .store
        .append_timeline(
            &oid("ghost"),
            OrderState::Received,
            1,
            TimelineEntry::new(t, "note", "x"),
        )
        .await
        .expect_err("missing order");
    assert_eq!(err, StoreError::NotFound("ghost".into()));
}

#[tokio::test]
async fn claim_takeover_refused_while_lease_live_allowed_after() {
    let f = store_fixture().await;
    let t = now();
    f.store.create(&received("o1", t)).await.unwrap();
    let id = oid("o1");
    let lease_until = t.plus(Duration::from_secs(60));
    let claim = Claim {
        step: "authorize".into(),
        effect_key: "authorize".into(),
        reference: "o1-auth-1".into(),
        from: OrderState::Received,
        lease_until,
        attempt: 1,
    };
    let claimed = f
        .store
        .claim(
            &id,
            tr(OrderState::Received, OrderState::Authorizing),
            1,
            claim.clone(),
            TimelineEntry::new(t, "authorize.claimed", "worker a"),
        )
        .await
        .unwrap();
    assert_eq!(claimed.state, OrderState::Authorizing);
    assert_eq!(claimed.claim.as_ref(), Some(&claim));
    let item = raw_item(&f, "ORDER#o1", "ORDER").await;
    assert_eq!(item["claim_ref"], AttributeValue::S("o1-auth-1".into()));
    assert_eq!(
        item["claim_lease_until"],
        AttributeValue::S(lease_until.to_rfc3339())
    );

    let takeover = |now: Timestamp| {
        let expect = Expect::LeaseExpired {
            state: OrderState::Authorizing,
            reference: "o1-auth-1".into(),
            now,
        };
        let change = Change {
            claim: ClaimChange::Set(Claim {
                lease_until: now.plus(Duration::from_secs(60)),
                attempt: 2,
                ..claim.clone()
            }),
            ..Change::note(TimelineEntry::new(
                now,
                "authorize.takeover",
                "lease expired",
            ))
        };
        (expect, change)
    };

    // Lease still live (one second before it ends): refused, nothing changes.
    let (expect, change) = takeover(Timestamp::from_millis(lease_until.millis() - 1000));
    let err = f
        .store
        .update(&id, expect, change)
        .await
        .expect_err("live lease");
    assert!(
        matches!(&err, StoreError::ConditionFailed { detail, .. } if detail.contains("claimed by o1-auth-1")),
        "{err:?}"
    );
    assert_eq!(f.store.get(&id).await.unwrap().unwrap(), claimed);

    // Exactly at the lease end: allowed (lease_until <= now).
    let (expect, change) = takeover(lease_until);
    let taken = f.store.update(&id, expect, change).await.unwrap();
    assert_eq!(taken.version, 3);
    assert_eq!(taken.state, OrderState::Authorizing);
    assert_eq!(taken.claim.as_ref().map(|c| c.attempt), Some(2));
    let item = raw_item(&f, "ORDER#o1", "ORDER").await;
    assert_eq!(
        item["claim_lease_until"],
        AttributeValue::S(lease_until.plus(Duration::from_secs(60)).to_rfc3339())
    );

    // Claimed under another reference: refused.
    let err = f
        .store
        .update(
            &id,
            Expect::Claimed {
                state: OrderState::Authorizing,
                reference: "o1-auth-9".into(),
            },
            Change::note(TimelineEntry::new(t, "x", "y")),
        )
        .await
        .expect_err("wrong reference");
    assert!(matches!(err, StoreError::ConditionFailed { .. }));

    // Record the result under the claim: state moves on, claim attributes are removed.
    let done = f
        .store
        .update(
            &id,
            Expect::Claimed {
                state: OrderState::Authorizing,
                reference: "o1-auth-1".into(),
            },
            Change {
                transition: Some(tr(OrderState::Authorizing, OrderState::Authorized)),
                claim: ClaimChange::Clear,
                effect: Some((
                    "authorize".into(),
                    EffectRecord {
                        reference: "o1-auth-1".into(),
                        outcome: serde_json::json!({"status": "AUTHORIZED", "id": "tx-1"}),
                        at: t,
                    },
                )),
                order: None,
                cancel: None,
                entry: TimelineEntry::new(t, "authorize.recorded", "ACCEPT").with_ref("tx-1"),
            },
        )
        .await
        .unwrap();
    assert_eq!((done.state, done.version), (OrderState::Authorized, 4));
    assert_eq!(done.claim, None);
    assert!(done.effects.contains_key("authorize"));
    let item = raw_item(&f, "ORDER#o1", "ORDER").await;
    for attr in ["claim", "claim_ref", "claim_lease_until"] {
        assert!(!item.contains_key(attr), "{attr} removed");
    }
    assert_eq!(f.store.get(&id).await.unwrap().unwrap(), done);
}

/// The claim is the only thing between a redelivered message and a second charge: of many
/// workers claiming the same version at once, exactly one may win, every round. Plain moto checks
/// the condition and writes without a lock, so under load two claims can both win (a CI run saw a
/// double authorization from it; `infra/local/test_moto_atomic.py` shows the race directly); the
/// local stack runs `infra/local/moto-server`, which keeps DynamoDB's atomic conditional write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_of_one_version_have_exactly_one_winner() {
    const ROUNDS: usize = 15;
    const WORKERS: usize = 8;
    let f = store_fixture().await;
    let t = now();
    for round in 0..ROUNDS {
        let order = format!("race-{round}");
        let mut record = received(&order, t);
        // A realistic order record: a long timeline is what moto copies between check and write.
        for i in 0..150 {
            record
                .timeline
                .push(TimelineEntry::new(t, format!("note.{i}"), "x".repeat(120)));
        }
        f.store.create(&record).await.unwrap();
        let id = oid(&order);
        let claims: Vec<_> = (0..WORKERS)
            .map(|w| {
                let store = f.store.clone();
                let id = id.clone();
                let claim = Claim {
                    step: "authorize".into(),
                    effect_key: "authorize".into(),
                    reference: format!("{order}-auth-1"),
                    from: OrderState::Received,
                    lease_until: t.plus(Duration::from_secs(60)),
                    attempt: 1,
                };
                tokio::spawn(async move {
                    store
                        .claim(
                            &id,
                            tr(OrderState::Received, OrderState::Authorizing),
                            1,
                            claim,
                            TimelineEntry::new(t, "authorize.claimed", format!("worker {w}")),
                        )
                        .await
                })
            })
            .collect();
        let mut winners = 0;
        for handle in claims {
            match handle.await.unwrap() {
                Ok(_) => winners += 1,
                Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => panic!("round {round}: unexpected store error {e}"),
            }
        }
        assert_eq!(winners, 1, "round {round}: {winners} workers won one claim");
        let after = f.store.get(&id).await.unwrap().unwrap();
        assert_eq!(after.version, 2, "round {round}: exactly one write landed");
    }
}

#[tokio::test]
async fn recording_the_same_effect_key_twice_is_refused() {
    let f = store_fixture().await;
    let t = now();
    f.store.create(&received("o1", t)).await.unwrap();
    let id = oid("o1");
    let effect = |reference: &str| {
        Some((
            "erp-sales-order".to_string(),
            EffectRecord {
                reference: reference.into(),
                outcome: serde_json::json!({"erp_id": "SO-1"}),
                at: t,
            },
        ))
    };
    let first = f
        .store
        .update(
            &id,
            Expect::StateVersion {
                state: OrderState::Received,
                version: 1,
            },
            Change {
                effect: effect("o1-erp-1"),
                ..Change::note(TimelineEntry::new(t, "erp.recorded", "first"))
            },
        )
        .await
        .unwrap();
    assert_eq!(first.effects["erp-sales-order"].reference, "o1-erp-1");

    // The version matches; only the effect key is already there.
    let err = f
        .store
        .update(
            &id,
            Expect::StateVersion {
                state: OrderState::Received,
                version: 2,
            },
            Change {
                effect: effect("o1-erp-2"),
                ..Change::note(TimelineEntry::new(t, "erp.recorded", "second"))
            },
        )
        .await
        .expect_err("effect recorded twice");
    assert!(
        matches!(&err, StoreError::ConditionFailed { detail, .. } if detail.contains("effect erp-sales-order already recorded")),
        "{err:?}"
    );
    assert_eq!(f.store.get(&id).await.unwrap().unwrap(), first);
}

#[tokio::test]
async fn timeline_is_appended_in_order_with_order_document_replaced() {
    let f = store_fixture().await;
    let t = now();
    f.store.create(&received("o1", t)).await.unwrap();
    let id = oid("o1");
    let mut version = 1;
    for i in 1..=5 {
        let rec = f
            .store
            .append_timeline(
                &id,
                OrderState::Received,
                version,
                TimelineEntry::new(
                    Timestamp::from_millis(t.millis() + i),
                    format!("note.{i}"),
                    "x",
                ),
            )
            .await
            .unwrap();
        version = rec.version;
    }
    let mut doc = sample::order("o1");
    doc.external.erp = Some("ERP-77".into());
    let rec = f
        .store
        .transition(
            &id,
            tr(OrderState::Received, OrderState::Authorizing),
            version,
            Some(doc.clone()),
            TimelineEntry::new(t, "authorize.claimed", "go"),
        )
        .await
        .unwrap();
    let whats: Vec<&str> = rec.timeline.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(
        whats,
        [
            "order.received",
            "note.1",
            "note.2",
            "note.3",
            "note.4",
            "note.5",
            "authorize.claimed"
        ]
    );
    let last = rec.timeline.last().unwrap();
    assert_eq!(
        (last.from, last.to),
        (Some(OrderState::Received), Some(OrderState::Authorizing))
    );
    assert_eq!(rec.version, 7);
    assert_eq!(rec.order, doc);
    assert_eq!(f.store.get(&id).await.unwrap().unwrap(), rec);
}

// ---------------------------------------------------------------------------------------------
// SQS
// ---------------------------------------------------------------------------------------------

async fn fifo_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url")
}

async fn receive_one(sqs: &aws_sdk_sqs::Client, url: &str) -> aws_sdk_sqs::types::Message {
    let messages = sqs
        .receive_message()
        .queue_url(url)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default();
    assert_eq!(messages.len(), 1, "{messages:?}");
    messages.into_iter().next().unwrap()
}

#[tokio::test]
async fn fifo_publish_carries_group_and_dedup_ids() {
    let moto = Moto::start();
    let config = sdk_config(&moto).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let captures = fifo_queue(&sqs, "captures.fifo").await;
    let publisher = SqsPublisher::from_conf(
        &config,
        HashMap::from([(QueueName::Captures, captures.clone())]),
    );

    let message = OutboundMessage {
        queue: QueueName::Captures,
        group_id: "o1".into(),
        dedup_id: "o1-capture-1".into(),
        body: r#"{"order_id":"o1"}"#.into(),
    };
    publisher.publish(&message).await.expect("publish");
    let got = receive_one(&sqs, &captures).await;
    assert_eq!(got.body(), Some(message.body.as_str()));
    let attrs = got.attributes().expect("system attributes");
    assert_eq!(
        attrs
            .get(&MessageSystemAttributeName::MessageGroupId)
            .map(String::as_str),
        Some("o1")
    );
    assert_eq!(
        attrs
            .get(&MessageSystemAttributeName::MessageDeduplicationId)
            .map(String::as_str),
        Some("o1-capture-1")
    );

    // A queue without a URL is a non-retryable failure.
    let err = publisher
        .publish(&OutboundMessage {
            queue: QueueName::Refunds,
            ..message.clone()
        })
        .await
        .expect_err("no URL");
    assert_eq!(err.queue, QueueName::Refunds);
    assert!(!o2c_aws::sqs::is_retryable(&err), "{err}");

    // A queue that does not exist is classified as rejected too.
    let missing = SqsPublisher::from_conf(
        &config,
        HashMap::from([(
            QueueName::Captures,
            format!("{}/123456789012/nope.fifo", moto.endpoint),
        )]),
    );
    let err = missing.publish(&message).await.expect_err("no queue");
    assert!(!o2c_aws::sqs::is_retryable(&err), "{err}");
}

#[tokio::test]
async fn dead_letter_send_carries_failure_attributes() {
    let moto = Moto::start();
    let config = sdk_config(&moto).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let dlq = fifo_queue(&sqs, "captures-dlq.fifo").await;
    let dead = SqsDeadLetter::from_conf(&config);

    let long_reason = format!("card 4111111111111111 refused; {}", "é".repeat(1000));
    dead.send_to_dlq(
        &dlq,
        r#"{"order_id":"o1"}"#,
        "o1",
        "o1-capture-1-dlq",
        "validation",
        &long_reason,
        "captures.fifo",
    )
    .await
    .expect("send to DLQ");

    let got = receive_one(&sqs, &dlq).await;
    let attrs = got.message_attributes().expect("message attributes");
    let attr = |name: &str| attrs[name].string_value().unwrap().to_string();
    assert_eq!(attr("failure_class"), "validation");
    assert_eq!(attr("source_queue"), "captures.fifo");
    let reason = attr("failure_reason");
    assert!(reason.len() <= 1024, "truncated to 1 KiB: {}", reason.len());
    assert!(reason.starts_with("card [digits redacted] refused; é"));
    assert!(!reason.contains("4111111111111111"));
    let sys = got.attributes().unwrap();
    assert_eq!(
        sys.get(&MessageSystemAttributeName::MessageGroupId)
            .map(String::as_str),
        Some("o1")
    );
    assert_eq!(
        sys.get(&MessageSystemAttributeName::MessageDeduplicationId)
            .map(String::as_str),
        Some("o1-capture-1-dlq")
    );
}

// ---------------------------------------------------------------------------------------------
// Secrets Manager
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn secret_reads_are_cached_for_the_ttl_then_refreshed() {
    let moto = Moto::start();
    let config = sdk_config(&moto).await;
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    sm.create_secret()
        .name("o2c/cybersource")
        .secret_string("old-value")
        .send()
        .await
        .expect("create secret");
    let source = SecretsManagerSource::from_conf(&config, Duration::from_secs(1)).await;

    let first = source.secret("o2c/cybersource").await.unwrap();
    assert_eq!(first.expose_secret(), "old-value");

    sm.put_secret_value()
        .secret_id("o2c/cybersource")
        .secret_string("new-value")
        .send()
        .await
        .expect("rotate");
    // Secrets Manager has the new value ...
    let direct = sm
        .get_secret_value()
        .secret_id("o2c/cybersource")
        .send()
        .await
        .unwrap();
    assert_eq!(direct.secret_string(), Some("new-value"));
    // ... but a read within the TTL is served from memory, without asking it.
    let cached = source.secret("o2c/cybersource").await.unwrap();
    assert_eq!(cached.expose_secret(), "old-value");

    // After the TTL the new version is fetched.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let refreshed = source.secret("o2c/cybersource").await.unwrap();
    assert_eq!(refreshed.expose_secret(), "new-value");

    // A secret that does not exist is NotFound, and no error or Debug output holds a value.
    let err = source.secret("o2c/missing").await.expect_err("missing");
    assert_eq!(err, SecretError::NotFound("o2c/missing".into()));
    let debug = format!("{source:?} {refreshed:?} {err:?}");
    assert!(
        !debug.contains("new-value") && !debug.contains("old-value"),
        "{debug}"
    );
}

#[tokio::test]
async fn secrets_source_on_a_plain_client_and_the_config_helper() {
    let moto = Moto::start();
    // The helper keeps the endpoint override; region and credentials come from the test.
    let config = o2c_aws::aws_config(Some(&moto.endpoint))
        .await
        .into_builder()
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "moto"),
        ))
        .build();
    assert_eq!(config.endpoint_url(), Some(moto.endpoint.as_str()));
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    sm.create_secret()
        .name("o2c/erp")
        .secret_string("erp-token")
        .send()
        .await
        .expect("create secret");
    let source = SecretsManagerSource::new(sm.clone(), Duration::from_secs(300));
    assert_eq!(
        source.secret("o2c/erp").await.unwrap().expose_secret(),
        "erp-token"
    );
    sm.delete_secret()
        .secret_id("o2c/erp")
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    // Still served from the cache within the TTL.
    assert_eq!(
        source.secret("o2c/erp").await.unwrap().expose_secret(),
        "erp-token"
    );
}

// ---------------------------------------------------------------------------------------------
// Routing state (document + statistics) on the same table
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn routing_document_and_statistics_round_trip_on_the_table() {
    use o2c_domain::ports::RoutingStore;
    use o2c_domain::routing::stats::bucket_start;
    use o2c_domain::routing::Observation;
    let f = store_fixture().await;
    assert_eq!(f.store.routing_document().await.unwrap(), None);
    o2c_aws::routing::put_routing_document(&f.store, r#"{"version":1}"#)
        .await
        .unwrap();
    assert_eq!(
        f.store.routing_document().await.unwrap().as_deref(),
        Some(r#"{"version":1}"#)
    );

    // 40 concurrent writers over 4 shards and two buckets: counters add up, nothing is lost.
    let t0 = bucket_start(now(), 60);
    let t1 = t0.plus(Duration::from_secs(60));
    let expires = t1.plus(Duration::from_secs(7200));
    let writes: Vec<_> = (0..40u8)
        .map(|i| {
            let store = f.store.clone();
            tokio::spawn(async move {
                let o = match i % 4 {
                    0 | 1 => Observation::Approved,
                    2 => Observation::SoftDecline,
                    _ => Observation::Error,
                };
                let bucket = if i < 30 { t0 } else { t1 };
                store
                    .record("a", "USD|visa", bucket, i % 4, o, expires)
                    .await
            })
        })
        .collect();
    for w in writes {
        w.await.unwrap().unwrap();
    }
    f.store
        .record("b", "USD|visa", t0, 0, Observation::HardDecline, expires)
        .await
        .unwrap();
    let buckets = f.store.buckets("a", "USD|visa", t0, 4).await.unwrap();
    assert_eq!(buckets.len(), 2);
    assert_eq!(buckets[0].start, t0);
    assert_eq!(buckets[0].counts.attempts, 30);
    assert_eq!(buckets[0].counts.approved, 16);
    assert_eq!(buckets[1].counts.attempts, 10);
    let total: u64 = buckets.iter().map(|b| b.counts.errors).sum();
    assert_eq!(total, 10);
    // `since` excludes older buckets; another route and segment are separate items.
    assert_eq!(
        f.store.buckets("a", "USD|visa", t1, 4).await.unwrap().len(),
        1
    );
    assert_eq!(
        f.store.buckets("a", "EUR|visa", t0, 4).await.unwrap().len(),
        0
    );
    let b = f.store.buckets("b", "USD|visa", t0, 4).await.unwrap();
    assert_eq!(b[0].counts.hard_declined, 1);
    // Every statistics item carries the TTL.
    let item = raw_item(&f, "RSTAT#a#USD|visa#0", &t0.to_rfc3339()).await;
    assert_eq!(
        item[TTL_ATTRIBUTE],
        AttributeValue::N(expires.epoch_seconds().to_string())
    );
}

// ---------------------------------------------------------------------------------------------
// Cybersource reference index and unknown notifications on the same table
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reference_index_remembers_once_and_never_moves_a_key() {
    use o2c_domain::ports::{CybsKey, ReferenceIndex};
    let f = store_fixture().await;
    let long = oid(&"L".repeat(64));
    let keys = [
        CybsKey::Reference("o2c0123456789abcdef01234567-auth".into()),
        CybsKey::ReferenceStem("o2c0123456789abcdef01234567".into()),
        CybsKey::AttemptId("o2c0123456789abcdef01234567-auth-1".into()),
    ];
    assert_eq!(f.store.order_of(keys[0].value()).await.unwrap(), None);
    f.store.remember(&long, &keys).await.unwrap();
    // Idempotent: the same keys for the same order again.
    f.store.remember(&long, &keys).await.unwrap();
    f.store
        .remember(
            &long,
            &[CybsKey::Transaction("7000000000000000000001".into())],
        )
        .await
        .unwrap();
    for v in [
        keys[0].value(),
        keys[1].value(),
        keys[2].value(),
        "7000000000000000000001",
    ] {
        assert_eq!(
            f.store.order_of(v).await.unwrap(),
            Some(long.clone()),
            "{v}"
        );
    }
    // A key never moves to another order.
    let err = f
        .store
        .remember(&oid("ORD-OTHER"), &keys[..1])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::ConditionFailed { detail, .. } if detail.contains(long.as_str())),
        "{err:?}"
    );
    assert_eq!(
        f.store.order_of(keys[0].value()).await.unwrap(),
        Some(long.clone())
    );
    let item = raw_item(&f, &format!("CYBSREF#{}", keys[0].value()), "CYBSREF").await;
    assert_eq!(item["order_id"], AttributeValue::S(long.to_string()));
    assert_eq!(item["kind"], AttributeValue::S("reference".into()));
    assert!(
        !item.contains_key(TTL_ATTRIBUTE),
        "kept as long as the order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_notifications_are_listed_in_time_order_once_each() {
    use o2c_domain::ports::{UnknownNotification, UnknownNotifications};
    let f = store_fixture().await;
    let t0 = now();
    let entry = |i: i64, id: &str| UnknownNotification {
        notification_id: id.to_string(),
        event_type: "risk.casemanagement.decision.accept".into(),
        transaction_id: Some(format!("70000000000000008880{i:02}")),
        reference: None,
        organization_id: Some("o2c_local_sandbox".into()),
        reason: "Cybersource does not know the transaction".into(),
        received_at: Timestamp::from_millis(t0.millis() + i * 1000),
        // Whole seconds: the TTL attribute keeps epoch seconds.
        expires_at: Timestamp::from_millis((t0.millis() / 1000 + 90 * 24 * 3600) * 1000),
    };
    // Written out of order; one of them twice (a redelivery keeps its first time).
    for (i, id) in [(2, "n-c"), (0, "n-a"), (1, "n-b"), (2, "n-c")] {
        f.store.record_unknown(&entry(i, id)).await.unwrap();
    }
    let all = f.store.unknown_since(t0, 10).await.unwrap();
    let ids: Vec<_> = all.iter().map(|e| e.notification_id.as_str()).collect();
    assert_eq!(ids, ["n-a", "n-b", "n-c"]);
    assert_eq!(all[0], entry(0, "n-a"));
    let later = f
        .store
        .unknown_since(Timestamp::from_millis(t0.millis() + 1000), 10)
        .await
        .unwrap();
    assert_eq!(later.len(), 2);
    assert_eq!(f.store.unknown_since(t0, 2).await.unwrap().len(), 2);
    let sk = o2c_aws::references::unknown_sk(entry(0, "n-a").received_at, "n-a");
    let item = raw_item(&f, o2c_aws::references::UNKNOWN_PK, &sk).await;
    assert_eq!(
        item[TTL_ATTRIBUTE],
        AttributeValue::N(entry(0, "n-a").expires_at.epoch_seconds().to_string())
    );
}

#[tokio::test]
async fn a_cancellation_intent_lands_in_any_state_once_and_survives_a_step_recording() {
    let f = store_fixture().await;
    let t = now();
    f.store.create(&received("oc", t)).await.unwrap();
    let id = oid("oc");
    // A step claims the order (Received -> Authorizing, claim with a reference).
    let claim = o2c_domain::ports::Claim {
        step: "authorize".into(),
        effect_key: "authorize".into(),
        reference: "oc-auth".into(),
        from: OrderState::Received,
        lease_until: t.plus(std::time::Duration::from_secs(60)),
        attempt: 1,
    };
    f.store
        .claim(
            &id,
            tr(OrderState::Received, OrderState::Authorizing),
            1,
            claim,
            TimelineEntry::new(t, "authorize.claimed", "x"),
        )
        .await
        .unwrap();
    // The intent lands while the claim is held, whatever the version.
    let intent = |event: &str| o2c_domain::ports::CancelIntent {
        event_id: event.into(),
        reason: "customer".into(),
        at: t,
    };
    let with_intent = f
        .store
        .update(
            &id,
            Expect::Exists,
            Change {
                cancel: Some(intent("evt-1")),
                ..Change::note(TimelineEntry::new(t, "order.cancel_requested", "x"))
            },
        )
        .await
        .unwrap();
    assert_eq!(with_intent.state, OrderState::Authorizing);
    assert_eq!(with_intent.version, 3);
    // A second intent is refused: the first wins.
    let err = f
        .store
        .update(
            &id,
            Expect::Exists,
            Change {
                cancel: Some(intent("evt-2")),
                ..Change::note(TimelineEntry::new(t, "order.cancel_requested", "y"))
            },
        )
        .await
        .expect_err("second intent");
    assert!(matches!(err, StoreError::ConditionFailed { .. }), "{err:?}");
    // The step records (conditional on its claim, replacing the document): the intent stays.
    let recorded = f
        .store
        .update(
            &id,
            Expect::Claimed {
                state: OrderState::Authorizing,
                reference: "oc-auth".into(),
            },
            Change {
                transition: Some(tr(OrderState::Authorizing, OrderState::Authorized)),
                claim: o2c_domain::ports::ClaimChange::Clear,
                order: Some(received("oc", t).order),
                ..Change::note(TimelineEntry::new(t, "authorize.recorded", "z"))
            },
        )
        .await
        .unwrap();
    assert_eq!(recorded.cancel.as_ref().unwrap().event_id, "evt-1");
    let read = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(read.cancel, recorded.cancel);
    // A transition needs a condition on the state.
    let err = f
        .store
        .update(
            &id,
            Expect::Exists,
            Change {
                transition: Some(tr(OrderState::Authorized, OrderState::Capturing)),
                ..Change::note(TimelineEntry::new(t, "x", "y"))
            },
        )
        .await
        .expect_err("transition without a state condition");
    assert!(matches!(err, StoreError::InvalidChange(_)), "{err:?}");
    // An intent for an order that does not exist is NotFound.
    let err = f
        .store
        .update(
            &oid("ghost"),
            Expect::Exists,
            Change {
                cancel: Some(intent("evt-3")),
                ..Change::note(TimelineEntry::new(t, "x", "y"))
            },
        )
        .await
        .expect_err("missing order");
    assert_eq!(err, StoreError::NotFound("ghost".into()));
}

// ---------------------------------------------------------------------------------------------
// integration spec versions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn spec_versions_push_activate_roll_back_audit_and_fall_back_on_the_table() {
    use o2c_spec::document::{parse_files, Sources};
    use o2c_spec::ops::{self, Actor, Pushed};
    use o2c_spec::store::{AuditEntry, SpecStore, StoreError as SpecStoreError};
    use o2c_spec::{LoadOutcome, Specs};
    use std::sync::Arc;

    let f = store_fixture().await;
    let store = Arc::new(f.store.clone());
    let actor = |by: &str| Actor {
        by: by.into(),
        at: now().to_rfc3339(),
    };
    let files: Vec<(String, String)> = o2c_spec::BUNDLED_FILES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let (v1_doc, sources) = parse_files(files).unwrap();
    assert_eq!(store.active().await.unwrap(), None);
    let (specs, outcome) = Specs::load(store.clone(), Duration::ZERO).await.unwrap();
    assert_eq!(outcome, LoadOutcome::Bundled);
    assert_eq!(specs.active().version, o2c_spec::BUNDLED);

    let p = ops::push(&*store, &v1_doc, &sources, &actor("ana"), "first")
        .await
        .unwrap();
    assert_eq!(
        p,
        Pushed::Activated {
            version: "v1".into(),
            previous: None
        }
    );
    let mut v2_doc = v1_doc.clone();
    v2_doc.version = "two".into();
    v2_doc
        .lookups
        .get_mut("crm")
        .unwrap()
        .rows
        .insert("origin".into(), serde_json::json!("Email"));
    let p = ops::push(&*store, &v2_doc, &Sources::default(), &actor("bo"), "")
        .await
        .unwrap();
    assert_eq!(
        p,
        Pushed::Activated {
            version: "v2".into(),
            previous: Some("v1".into())
        }
    );
    // The same document again changes nothing.
    let p = ops::push(&*store, &v2_doc, &Sources::default(), &actor("bo"), "")
        .await
        .unwrap();
    assert_eq!(
        p,
        Pushed::Unchanged {
            version: "v2".into()
        }
    );
    // A warm function sees the new active version (refresh interval 0 here).
    let (spec, changed) = specs.current().await.unwrap();
    assert_eq!(spec.version, "v2");
    assert!(changed.is_some());
    assert_eq!(spec.lookup("crm", "origin").unwrap(), "Email");
    // Pinned versions stay readable.
    assert_eq!(
        specs
            .pinned(Some("v1"))
            .await
            .unwrap()
            .lookup("crm", "origin")
            .unwrap(),
        "Web"
    );

    // An activation that raced another loses and says so.
    let stale = AuditEntry {
        at: now().to_rfc3339(),
        by: "cy".into(),
        action: "activate".into(),
        version: "v1".into(),
        from: Some("v1".into()),
        note: String::new(),
    };
    match store.activate("v1", Some("v1"), &stale).await {
        Err(SpecStoreError::Conflict { actual, .. }) => assert_eq!(actual.as_deref(), Some("v2")),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.active().await.unwrap().unwrap().version, "v2");

    // Rollback: v1 again, audited.
    let back = ops::rollback(&*store, None, &actor("ana")).await.unwrap();
    assert_eq!(back, "v1");
    let history = store.history().await.unwrap();
    let actions: Vec<(String, String, Option<String>, String)> = history
        .iter()
        .map(|e| {
            (
                e.action.clone(),
                e.version.clone(),
                e.from.clone(),
                e.by.clone(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("push".into(), "v1".into(), None, "ana".into()),
            ("activate".into(), "v1".into(), None, "ana".into()),
            ("push".into(), "v2".into(), None, "bo".into()),
            (
                "activate".into(),
                "v2".into(),
                Some("v1".into()),
                "bo".into()
            ),
            (
                "rollback".into(),
                "v1".into(),
                Some("v2".into()),
                "ana".into()
            ),
        ]
    );

    // Versions made invalid behind the tools' back: one edited in the table after it was
    // pushed (its hash no longer matches), one stored with an unknown policy (as a newer
    // build might have). A cold start serves the newest valid version before them, says so.
    let mut bad = v2_doc.clone();
    bad.rules.get_mut("capture").unwrap().default = "on_delivery".into();
    let bad_json = serde_json::to_string(&bad).unwrap();
    let bad_hash = o2c_spec::Spec::compile(bad.clone(), "x").unwrap().hash;
    let edited = v2_doc.clone();
    let mut edited_json = serde_json::to_value(&edited).unwrap();
    edited_json["lookups"]["crm"]["rows"]["origin"] = serde_json::json!("Phone");
    let good_hash = o2c_spec::Spec::compile(edited, "x").unwrap().hash;
    for (json, hash, expect) in [
        (bad_json, bad_hash, "unknown policy \"on_delivery\""),
        (
            edited_json.to_string(),
            good_hash,
            "does not match its stored hash",
        ),
    ] {
        let current = store.active().await.unwrap().unwrap().version;
        let v = store
            .put_version(&json, &hash, "bad", "hand", &now().to_rfc3339())
            .await
            .unwrap();
        let audit = AuditEntry {
            at: now().to_rfc3339(),
            by: "hand".into(),
            action: "activate".into(),
            version: v.id.clone(),
            from: Some(current.clone()),
            note: String::new(),
        };
        store.activate(&v.id, Some(&current), &audit).await.unwrap();
        let (specs, outcome) = Specs::load(store.clone(), Duration::from_secs(30))
            .await
            .unwrap();
        match outcome {
            LoadOutcome::FellBack {
                active,
                serving,
                problems,
            } => {
                assert_eq!((active.as_str(), serving.as_str()), (v.id.as_str(), "v2"));
                assert!(problems.contains(expect), "{problems}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(specs.active().version, "v2");
    }
}

//! The Clarity client: the [`ClarityApi`] port and its HTTP implementation against the ASSUMED
//! "Clarity Integration API v1" (assumed; E6 inventory and conventions in `CLARITY_ASSUMED.md` §A1, §A6).
//!
//! * Every call carries `Authorization: Bearer` from the shared [`TokenCache`] (one refresh and
//!   one retry on 401 invalid_token).
//! * Retries follow `CLARITY_ASSUMED.md` §4.8 through the shared [`Retrier`]: 429, 503, connection
//!   errors and timeouts; 0.5 s base, ×2, 30 s cap, 5 attempts, honouring `Retry-After`; never
//!   another 4xx.
//!   Every call here is retry-safe: GET, PUT (full replacement), PATCH (the no-op rule,
//!   `If-Match` and an `Idempotency-Key`), POST only with an `Idempotency-Key`.
//! * Optimistic concurrency: `ETag: "<version>"` is read into [`Versioned::version`];
//!   `If-Match: "<version>"` is sent when given, and a 412 is [`ClarityError::VersionConflict`].
//!
//! A second implementation for the real CEF routes (see `CLARITY_ASSUMED.md`, introduction) can implement
//! [`ClarityApi`] and inherit [`ClarityApi::set_status`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use serde::de::DeserializeOwned;

use super::credentials::ClarityCredentials;
use super::dto::{
    ClarityStatus, Customer, InventoryLevel, InventoryLevelUpdate, Order, OrderPatch, PaymentInfo,
    Shipment, ShipmentCreate,
};
use super::error::ClarityError;

use crate::http::oauth::{TokenCache, TokenEndpoint};
use crate::http::rest::{bearer_retry_policy, BearerClient, ClientParts};
use crate::http::retry::RetryPolicy;
use crate::http::transport::{encode_path_segment, encode_query_value, Reply};

/// A resource and the version its `ETag` named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// What `PUT /api/v1/customers/{id}` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerUpsert {
    pub customer: Customer,
    /// 201 (created) rather than 200 (replaced).
    pub created: bool,
    pub version: Option<u64>,
}

/// What `POST /api/v1/orders/{id}/shipments` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentCreated {
    pub shipment: Shipment,
    /// `Location` of the shipment.
    pub location: Option<String>,
    /// `Idempotent-Replayed: true`: the key had been used with this body before; nothing new
    /// was created.
    pub replayed: bool,
}

/// What [`ClarityApi::set_status`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusUpdate {
    /// The order already had the status (and payment info): nothing was sent.
    Unchanged(Versioned<Order>),
    /// The PATCH was applied.
    Applied(Versioned<Order>),
    /// The PATCH met a 412, and a fresh read shows the order already has the wanted status: an
    /// earlier attempt (whose answer was lost) or another writer did it.
    AlreadyApplied(Versioned<Order>),
}

impl StatusUpdate {
    pub fn order(&self) -> &Versioned<Order> {
        match self {
            StatusUpdate::Unchanged(o)
            | StatusUpdate::Applied(o)
            | StatusUpdate::AlreadyApplied(o) => o,
        }
    }
}

/// An `Idempotency-Key` is 1–255 printable ASCII characters (`CLARITY_ASSUMED.md` §4.7).
pub fn valid_idempotency_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// The key of a status PATCH: one per (order, version read, target status), so a retry of the
/// same PATCH replays while a later, legitimately repeated status change gets a new key.
pub fn status_idempotency_key(
    order_id: &str,
    version: u64,
    status: ClarityStatus,
) -> Option<String> {
    let key = format!("o2c:status:{order_id}:v{version}:{status}");
    valid_idempotency_key(&key).then_some(key)
}

/// Does `order` already carry `status` and every field set in `payment`?
pub fn status_already_set(
    order: &Order,
    status: ClarityStatus,
    payment: Option<&PaymentInfo>,
) -> bool {
    if order.status != status {
        return false;
    }
    let Some(wanted) = payment else {
        return true;
    };
    let have = serde_json::to_value(order.payment.clone().unwrap_or_default()).unwrap_or_default();
    let want = serde_json::to_value(wanted).unwrap_or_default();
    match want.as_object() {
        Some(fields) => fields.iter().all(|(k, v)| have.get(k) == Some(v)),
        None => false,
    }
}

/// The Clarity port.
#[async_trait]
pub trait ClarityApi: Send + Sync {
    /// E1 `GET /api/v1/orders/{orderId}`.
    async fn get_order(&self, order_id: &str) -> Result<Versioned<Order>, ClarityError>;

    /// E2 `PATCH /api/v1/orders/{orderId}`, with `If-Match: "<version>"` when `if_match` is set
    /// (412 → [`ClarityError::VersionConflict`]) and an optional `Idempotency-Key`.
    async fn patch_order(
        &self,
        order_id: &str,
        patch: &OrderPatch,
        if_match: Option<u64>,
        idempotency_key: Option<&str>,
    ) -> Result<Versioned<Order>, ClarityError>;

    /// E4 `PUT /api/v1/customers/{customerId}` (full replacement, upsert).
    async fn put_customer(
        &self,
        customer: &Customer,
        if_match: Option<u64>,
    ) -> Result<CustomerUpsert, ClarityError>;

    /// E5 `POST /api/v1/orders/{orderId}/shipments` with the required `Idempotency-Key`.
    async fn create_shipment(
        &self,
        order_id: &str,
        shipment: &ShipmentCreate,
        idempotency_key: &str,
    ) -> Result<ShipmentCreated, ClarityError>;

    /// E6 (ASSUMED) `PUT /api/v1/inventory/{sku}/locations/{locationId}`: absolute stock.
    async fn put_inventory(
        &self,
        sku: &str,
        location_id: &str,
        level: &InventoryLevelUpdate,
    ) -> Result<InventoryLevel, ClarityError>;

    /// Move an order to `status` (and merge `payment`), safely under retries and concurrency:
    ///
    /// 1. GET the order. Already in `status` with that payment info → nothing is sent (the
    ///    no-op rule, applied before the wire).
    /// 2. PATCH with `If-Match` = the version read and an `Idempotency-Key` derived from
    ///    (order, version, status), so a retried PATCH replays instead of failing.
    /// 3. 412 → read again: the wanted status is there → [`StatusUpdate::AlreadyApplied`];
    ///    otherwise the conflict is returned (re-decide from the new state).
    ///
    /// A 409 `invalid_status_transition` comes back as a terminal error.
    async fn set_status(
        &self,
        order_id: &str,
        status: ClarityStatus,
        reason: Option<&str>,
        payment: Option<&PaymentInfo>,
    ) -> Result<StatusUpdate, ClarityError> {
        let current = self.get_order(order_id).await?;
        if status_already_set(&current.value, status, payment) {
            return Ok(StatusUpdate::Unchanged(current));
        }
        let patch = OrderPatch {
            status: Some(status),
            status_reason: reason.map(str::to_owned),
            payment: payment.cloned(),
            metadata: None,
        };
        let key = status_idempotency_key(order_id, current.version, status);
        match self
            .patch_order(order_id, &patch, Some(current.version), key.as_deref())
            .await
        {
            Ok(updated) => Ok(StatusUpdate::Applied(updated)),
            Err(conflict) if conflict.is_conflict() => {
                let now = self.get_order(order_id).await?;
                if status_already_set(&now.value, status, payment) {
                    Ok(StatusUpdate::AlreadyApplied(now))
                } else {
                    Err(conflict)
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// E3 `GET /api/v1/orders` query (`CLARITY_ASSUMED.md` §A6, client conventions). Results are ordered by `updatedAt`, then
/// `id`; `cursor` is the previous page's opaque `nextCursor`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderListQuery {
    pub status: Option<ClarityStatus>,
    /// RFC 3339: orders updated at or after this time.
    pub updated_since: Option<String>,
    /// 1–100 (server default 50).
    pub limit: Option<u8>,
    pub cursor: Option<String>,
}

impl OrderListQuery {
    /// `/api/v1/orders?...` with every value percent-encoded.
    pub fn path(&self) -> String {
        let mut params = Vec::new();
        if let Some(s) = self.status {
            params.push(format!("status={}", encode_query_value(s.as_str())));
        }
        if let Some(t) = &self.updated_since {
            params.push(format!("updatedSince={}", encode_query_value(t)));
        }
        if let Some(l) = self.limit {
            params.push(format!("limit={l}"));
        }
        if let Some(c) = &self.cursor {
            params.push(format!("cursor={}", encode_query_value(c)));
        }
        if params.is_empty() {
            "/api/v1/orders".to_owned()
        } else {
            format!("/api/v1/orders?{}", params.join("&"))
        }
    }
}

/// One element of a list page: the order, or why it could not be read — its id when that much
/// was readable and the JSON path of the offending field — so one bad document does not hide
/// the rest of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListedOrder {
    Order(Box<Order>),
    Unreadable {
        id: Option<String>,
        path: String,
        reason: String,
    },
}

/// One E3 page, each order as Clarity sent it: the merchant's Clarity may shape its orders
/// differently from the assumed contract, so the integration spec's `clarity.order` maps each
/// one before [`ListedOrder::read`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<serde_json::Value>,
    /// `None` on the last page.
    pub next_cursor: Option<String>,
}

impl ListedOrder {
    /// Read one (mapped) order on its own.
    pub fn read(v: &serde_json::Value) -> ListedOrder {
        match serde_path_to_error::deserialize::<_, Order>(v) {
            Ok(o) => ListedOrder::Order(Box::new(o)),
            Err(e) => ListedOrder::Unreadable {
                id: v
                    .get("id")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
                path: format!("order.{}", e.path()),
                // serde's message names the expected type; values are not echoed.
                reason: e.into_inner().to_string(),
            },
        }
    }
}

impl OrderPage {
    /// Read a page body: its orders (as sent) and the cursor.
    pub fn from_json(body: &serde_json::Value) -> Result<OrderPage, String> {
        let data = body
            .get("data")
            .and_then(serde_json::Value::as_array)
            .ok_or("no `data` array")?;
        let next_cursor = match body.get("nextCursor") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(c)) => Some(c.clone()),
            Some(other) => {
                return Err(format!(
                    "nextCursor: expected a string or null, got {other}"
                ))
            }
        };
        let orders = data.clone();
        Ok(OrderPage {
            orders,
            next_cursor,
        })
    }
}

/// Listing orders (E3): what the catch-up poller needs, apart from [`ClarityApi`] so that a
/// consumer depends only on what it uses.
#[async_trait]
pub trait ClarityOrderList: Send + Sync {
    /// E3 `GET /api/v1/orders?status=&updatedSince=&limit=&cursor=`: one page.
    async fn list_orders(&self, query: &OrderListQuery) -> Result<OrderPage, ClarityError>;
}

/// The client's retry policy, `CLARITY_ASSUMED.md` §A6 (retries): 0.5 s base, ×2, 30 s cap, 5
/// attempts ([`bearer_retry_policy`]).
pub fn retry_policy() -> RetryPolicy {
    bearer_retry_policy()
}

/// How to reach Clarity.
#[derive(Debug, Clone)]
pub struct ClarityConfig {
    /// `https://clarity.example.test` (no trailing slash needed).
    pub base_url: String,
    pub token: TokenEndpoint,
    pub retry: RetryPolicy,
    /// Timeout of one attempt (shortened to the deadline).
    pub request_timeout: Duration,
}

impl ClarityConfig {
    pub fn from_credentials(credentials: &ClarityCredentials) -> Self {
        Self {
            base_url: credentials.base_url.trim_end_matches('/').to_owned(),
            token: credentials.token_endpoint(),
            retry: retry_policy(),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The HTTP implementation of [`ClarityApi`]. Cheap to clone.
#[derive(Clone)]
pub struct ClarityClient {
    api: Arc<BearerClient>,
    deadline: Option<Instant>,
}

impl std::fmt::Debug for ClarityClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClarityClient")
            .field("api", &self.api)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl ClarityClient {
    /// Real clock, real sleeps.
    pub fn new(config: ClarityConfig) -> Self {
        Self::with_parts(config, ClientParts::real())
    }

    pub fn from_credentials(credentials: &ClarityCredentials) -> Self {
        Self::new(ClarityConfig::from_credentials(credentials))
    }

    /// Injected HTTP client, clock, sleeper and jitter (tests).
    pub fn with_parts(config: ClarityConfig, parts: ClientParts) -> Self {
        Self {
            api: Arc::new(BearerClient::build(
                &config.base_url,
                false,
                config.token,
                config.retry,
                config.request_timeout,
                parts,
            )),
            deadline: None,
        }
    }

    /// The same client bounded by `deadline` (e.g. the Lambda's remaining time): no attempt
    /// and no retry sleep goes past it.
    pub fn with_deadline(&self, deadline: Instant) -> Self {
        Self {
            api: self.api.clone(),
            deadline: Some(deadline),
        }
    }

    pub fn tokens(&self) -> &TokenCache {
        &self.api.tokens
    }

    async fn send(
        &self,
        operation: &'static str,
        method: Method,
        path: String,
        body: Option<Vec<u8>>,
        headers: Vec<(&'static str, String)>,
    ) -> Result<Reply, ClarityError> {
        self.api
            .send(self.deadline, operation, method, &path, body, &headers)
            .await
    }
}

fn decode<T: DeserializeOwned>(operation: &'static str, reply: &Reply) -> Result<T, ClarityError> {
    reply.json().map_err(|reason| ClarityError::Protocol {
        operation,
        status: reply.status,
        reason,
    })
}

/// `"7"` / `W/"7"` → 7.
fn etag_version(reply: &Reply) -> Option<u64> {
    let v = reply.header("etag")?.trim();
    let v = v.strip_prefix("W/").unwrap_or(v);
    v.trim_matches('"').parse().ok()
}

fn json_body<T: serde::Serialize>(
    operation: &'static str,
    value: &T,
) -> Result<Vec<u8>, ClarityError> {
    serde_json::to_vec(value).map_err(|e| ClarityError::InvalidRequest {
        operation,
        reason: format!("cannot serialise the body: {e}"),
    })
}

fn if_match(version: Option<u64>) -> Option<(&'static str, String)> {
    version.map(|v| ("If-Match", format!("\"{v}\"")))
}

#[async_trait]
impl ClarityApi for ClarityClient {
    async fn get_order(&self, order_id: &str) -> Result<Versioned<Order>, ClarityError> {
        const OP: &str = "get order";
        let path = format!("/api/v1/orders/{}", encode_path_segment(order_id));
        let reply = self.send(OP, Method::GET, path, None, vec![]).await?;
        let order: Order = decode(OP, &reply)?;
        let version = etag_version(&reply).unwrap_or(order.version);
        Ok(Versioned {
            value: order,
            version,
        })
    }

    async fn patch_order(
        &self,
        order_id: &str,
        patch: &OrderPatch,
        if_match_version: Option<u64>,
        idempotency_key: Option<&str>,
    ) -> Result<Versioned<Order>, ClarityError> {
        const OP: &str = "patch order";
        if patch.is_empty() {
            return Err(ClarityError::InvalidRequest {
                operation: OP,
                reason: "an order patch needs at least one member".into(),
            });
        }
        let mut headers: Vec<(&'static str, String)> =
            if_match(if_match_version).into_iter().collect();
        if let Some(key) = idempotency_key {
            if !valid_idempotency_key(key) {
                return Err(ClarityError::InvalidRequest {
                    operation: OP,
                    reason: "Idempotency-Key must be 1-255 printable ASCII characters".into(),
                });
            }
            headers.push(("Idempotency-Key", key.to_owned()));
        }
        let path = format!("/api/v1/orders/{}", encode_path_segment(order_id));
        let body = json_body(OP, patch)?;
        let reply = self
            .send(OP, Method::PATCH, path, Some(body), headers)
            .await?;
        let order: Order = decode(OP, &reply)?;
        let version = etag_version(&reply).unwrap_or(order.version);
        Ok(Versioned {
            value: order,
            version,
        })
    }

    async fn put_customer(
        &self,
        customer: &Customer,
        if_match_version: Option<u64>,
    ) -> Result<CustomerUpsert, ClarityError> {
        const OP: &str = "put customer";
        let path = format!("/api/v1/customers/{}", encode_path_segment(&customer.id));
        let body = json_body(OP, customer)?;
        let headers = if_match(if_match_version).into_iter().collect();
        let reply = self
            .send(OP, Method::PUT, path, Some(body), headers)
            .await?;
        let stored: Customer = decode(OP, &reply)?;
        let version = etag_version(&reply).or(stored.version);
        Ok(CustomerUpsert {
            customer: stored,
            created: reply.status == 201,
            version,
        })
    }

    async fn create_shipment(
        &self,
        order_id: &str,
        shipment: &ShipmentCreate,
        idempotency_key: &str,
    ) -> Result<ShipmentCreated, ClarityError> {
        const OP: &str = "create shipment";
        if !valid_idempotency_key(idempotency_key) {
            return Err(ClarityError::InvalidRequest {
                operation: OP,
                reason: "Idempotency-Key must be 1-255 printable ASCII characters".into(),
            });
        }
        if shipment.lines.is_empty() {
            return Err(ClarityError::InvalidRequest {
                operation: OP,
                reason: "a shipment needs at least one line".into(),
            });
        }
        let path = format!("/api/v1/orders/{}/shipments", encode_path_segment(order_id));
        let body = json_body(OP, shipment)?;
        let headers = vec![("Idempotency-Key", idempotency_key.to_owned())];
        let reply = self
            .send(OP, Method::POST, path, Some(body), headers)
            .await?;
        Ok(ShipmentCreated {
            shipment: decode(OP, &reply)?,
            location: reply.header("location").map(str::to_owned),
            replayed: reply
                .header("idempotent-replayed")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }

    async fn put_inventory(
        &self,
        sku: &str,
        location_id: &str,
        level: &InventoryLevelUpdate,
    ) -> Result<InventoryLevel, ClarityError> {
        const OP: &str = "put inventory";
        let path = format!(
            "/api/v1/inventory/{}/locations/{}",
            encode_path_segment(sku),
            encode_path_segment(location_id)
        );
        let body = json_body(OP, level)?;
        let reply = self.send(OP, Method::PUT, path, Some(body), vec![]).await?;
        decode(OP, &reply)
    }
}

#[async_trait]
impl ClarityOrderList for ClarityClient {
    async fn list_orders(&self, query: &OrderListQuery) -> Result<OrderPage, ClarityError> {
        const OP: &str = "list orders";
        let reply = self
            .send(OP, Method::GET, query.path(), None, vec![])
            .await?;
        let body: serde_json::Value = decode(OP, &reply)?;
        OrderPage::from_json(&body).map_err(|reason| ClarityError::Protocol {
            operation: OP,
            status: reply.status,
            reason,
        })
    }
}

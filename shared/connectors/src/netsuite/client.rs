//! The HTTP implementation of [`ErpApi`] over SuiteTalk REST.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;

use super::{
    valid_external_id, ErpApi, ErpCredentials, ErpError, ErpInventoryLevel, ErpRecord, ErpUpsert,
    FulfillmentLine, FulfillmentUpdate, ItemFulfillment, RecordType,
};

use crate::http::oauth::{OAuthError, TokenCache, TokenEndpoint};
use crate::http::rest::{bearer_retry_policy, BearerClient, ClientParts};
use crate::http::retry::RetryPolicy;
use crate::http::transport::{encode_path_segment, encode_query_value, Reply};

/// The bearer-API policy ([`bearer_retry_policy`], the same as Clarity's), for NetSuite's 429
/// concurrency limits and 503s.
pub fn retry_policy() -> RetryPolicy {
    bearer_retry_policy()
}

/// How to reach NetSuite.
#[derive(Debug, Clone)]
pub struct NetSuiteConfig {
    /// `…/services/rest`.
    pub base_url: String,
    pub token: TokenEndpoint,
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
}

impl NetSuiteConfig {
    pub fn from_credentials(credentials: &ErpCredentials) -> Result<Self, OAuthError> {
        Ok(Self {
            base_url: credentials.base_url.trim_end_matches('/').to_owned(),
            token: credentials.token_endpoint()?,
            retry: retry_policy(),
            request_timeout: Duration::from_secs(20),
        })
    }
}

/// The NetSuite client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct NetSuiteClient {
    api: Arc<BearerClient>,
    deadline: Option<Instant>,
}

impl NetSuiteClient {
    pub fn new(config: NetSuiteConfig) -> Self {
        Self::with_parts(config, ClientParts::real())
    }

    pub fn from_credentials(credentials: &ErpCredentials) -> Result<Self, OAuthError> {
        Ok(Self::new(NetSuiteConfig::from_credentials(credentials)?))
    }

    pub fn with_parts(config: NetSuiteConfig, parts: ClientParts) -> Self {
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
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, ErpError> {
        self.api
            .send(self.deadline, operation, method, path, body, &[])
            .await
    }

    async fn get_json(
        &self,
        operation: &'static str,
        path: &str,
    ) -> Result<Option<Value>, ErpError> {
        match self.send(operation, Method::GET, path, None).await {
            Ok(reply) => reply.json().map(Some).map_err(|reason| ErpError::Protocol {
                operation,
                status: reply.status,
                reason,
            }),
            Err(ErpError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Internal ids of the records a `q` query finds, following `hasMore`.
    async fn query_ids(
        &self,
        operation: &'static str,
        record_type: RecordType,
        q: &str,
    ) -> Result<Vec<String>, ErpError> {
        const PAGE: usize = 1000;
        let mut ids = Vec::new();
        let mut offset = 0usize;
        loop {
            let path = format!(
                "/record/v1/{}?q={}&limit={PAGE}&offset={offset}",
                record_type.path(),
                encode_query_value(q)
            );
            let page = self
                .get_json(operation, &path)
                .await?
                .unwrap_or(Value::Null);
            let items = page["items"].as_array().cloned().unwrap_or_default();
            ids.extend(items.iter().filter_map(|i| id_of(&i["id"])));
            if page["hasMore"].as_bool() != Some(true) || items.is_empty() || offset > 100_000 {
                return Ok(ids);
            }
            offset += items.len();
        }
    }
}

/// A `q` condition "modified at or after `since`" (ASSUMED format: RFC 3339 UTC to the second,
/// quoted; like the `createdFrom` operator, to be verified on a live account, whose date
/// preferences may ask for another format).
fn modified_since(since: time::OffsetDateTime) -> String {
    let t = since.to_offset(time::UtcOffset::UTC);
    format!(
        "lastModifiedDate ON_OR_AFTER \"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z\"",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// An id given as a string or a number.
fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A quantity given as a number or a numeric string (NetSuite allows decimals; whole units
/// are kept, a fraction rounds down).
fn quantity(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.floor() as i64)),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().map(|f| f.floor() as i64)),
        _ => None,
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// Read an `itemFulfillment` record.
pub(crate) fn parse_fulfillment(v: &Value) -> Result<ItemFulfillment, String> {
    let id = id_of(&v["id"]).ok_or("itemFulfillment without id")?;
    let mut lines = Vec::new();
    for (i, line) in v["item"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let sku = str_at(line, &["item", "refName"])
            .or_else(|| str_at(line, &["item", "externalId"]))
            .or_else(|| str_at(line, &["itemName"]))
            .ok_or(format!("item.items[{i}] has no item name"))?;
        let q = quantity(&line["quantity"])
            .ok_or(format!("item.items[{i}].quantity is not a number"))?;
        let q = u32::try_from(q)
            .map_err(|_| format!("item.items[{i}].quantity {q} is out of range"))?;
        if q > 0 {
            lines.push(FulfillmentLine {
                sku: sku.to_owned(),
                quantity: q,
            });
        }
    }
    let tracking_numbers = v["package"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["packageTrackingNumber"].as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(ItemFulfillment {
        id,
        tran_id: str_at(v, &["tranId"]).map(str::to_owned),
        tran_date: str_at(v, &["tranDate"]).map(str::to_owned),
        ship_status: str_at(v, &["shipStatus", "id"]).map(str::to_owned),
        ship_method: str_at(v, &["shipMethod", "refName"]).map(str::to_owned),
        tracking_numbers,
        lines,
    })
}

/// Read the `locations` sublist of an `inventoryItem` record.
pub(crate) fn parse_inventory(sku: &str, v: &Value) -> Result<Vec<ErpInventoryLevel>, String> {
    let mut out = Vec::new();
    for (i, l) in v["locations"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let location_id = id_of(&l["location"]["id"])
            .or_else(|| id_of(&l["locationId"]))
            .ok_or(format!("locations.items[{i}] has no location id"))?;
        let on_hand = quantity(&l["quantityOnHand"]).unwrap_or(0);
        let available = quantity(&l["quantityAvailable"]).unwrap_or(on_hand);
        out.push(ErpInventoryLevel {
            sku: sku.to_owned(),
            location_id,
            location_name: str_at(l, &["location", "refName"]).map(str::to_owned),
            quantity_on_hand: on_hand,
            quantity_available: available,
        });
    }
    Ok(out)
}

#[async_trait]
impl ErpApi for NetSuiteClient {
    async fn upsert(&self, record: &ErpRecord) -> Result<ErpUpsert, ErpError> {
        const OP: &str = "upsert";
        if !valid_external_id(&record.external_id) {
            return Err(ErpError::InvalidRequest {
                operation: OP,
                reason: format!(
                    "external id {:?} must be 1-255 letters, digits, '_' or '-'",
                    record.external_id.chars().take(80).collect::<String>()
                ),
            });
        }
        let mut path = format!(
            "/record/v1/{}/eid:{}",
            record.record_type.path(),
            encode_path_segment(&record.external_id)
        );
        if !record.replace_sublists.is_empty() {
            path.push_str(&format!("?replace={}", record.replace_sublists.join(",")));
        }
        let body = serde_json::to_vec(&record.body).map_err(|e| ErpError::InvalidRequest {
            operation: OP,
            reason: format!("cannot serialise the body: {e}"),
        })?;
        let reply = self.send(OP, Method::PUT, &path, Some(body)).await?;
        let location = reply.header("location").map(str::to_owned);
        Ok(ErpUpsert {
            internal_id: location
                .as_deref()
                .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
                .filter(|id| !id.is_empty() && !id.starts_with("eid:"))
                .map(str::to_owned),
            location,
        })
    }

    async fn get_by_external_id(
        &self,
        record_type: RecordType,
        external_id: &str,
    ) -> Result<Option<Value>, ErpError> {
        let path = format!(
            "/record/v1/{}/eid:{}",
            record_type.path(),
            encode_path_segment(external_id)
        );
        self.get_json("get by external id", &path).await
    }

    async fn item_fulfillments(
        &self,
        sales_order_external_id: &str,
    ) -> Result<Vec<ItemFulfillment>, ErpError> {
        const OP: &str = "item fulfillments";
        let Some(so) = self
            .get_by_external_id(RecordType::SalesOrder, sales_order_external_id)
            .await?
        else {
            return Ok(Vec::new());
        };
        let so_id = id_of(&so["id"]).ok_or_else(|| ErpError::Protocol {
            operation: OP,
            status: 200,
            reason: "sales order without id".into(),
        })?;
        let ids = self
            .query_ids(
                OP,
                RecordType::ItemFulfillment,
                &format!("createdFrom ANY_OF [{so_id}]"),
            )
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let path = format!(
                "/record/v1/itemFulfillment/{}?expandSubResources=true",
                encode_path_segment(&id)
            );
            if let Some(v) = self.get_json(OP, &path).await? {
                out.push(parse_fulfillment(&v).map_err(|reason| ErpError::Protocol {
                    operation: OP,
                    status: 200,
                    reason,
                })?);
            }
        }
        Ok(out)
    }

    async fn inventory_levels(&self, sku: &str) -> Result<Vec<ErpInventoryLevel>, ErpError> {
        const OP: &str = "inventory levels";
        let quoted = format!("\"{}\"", sku.replace('\\', "\\\\").replace('"', "\\\""));
        let ids = self
            .query_ids(
                OP,
                RecordType::InventoryItem,
                &format!("itemId IS {quoted}"),
            )
            .await?;
        let mut out = Vec::new();
        for id in ids {
            let path = format!(
                "/record/v1/inventoryItem/{}?expandSubResources=true",
                encode_path_segment(&id)
            );
            if let Some(v) = self.get_json(OP, &path).await? {
                out.extend(
                    parse_inventory(sku, &v).map_err(|reason| ErpError::Protocol {
                        operation: OP,
                        status: 200,
                        reason,
                    })?,
                );
            }
        }
        Ok(out)
    }

    async fn fulfillments_modified_since(
        &self,
        since: time::OffsetDateTime,
    ) -> Result<Vec<FulfillmentUpdate>, ErpError> {
        const OP: &str = "fulfillments modified since";
        let ids = self
            .query_ids(OP, RecordType::ItemFulfillment, &modified_since(since))
            .await?;
        let protocol = |reason: String| ErpError::Protocol {
            operation: OP,
            status: 200,
            reason,
        };
        // Sales order internal id → (external id, our order id), read once per run.
        let mut sales_orders: std::collections::HashMap<String, (Option<String>, Option<String>)> =
            std::collections::HashMap::new();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let path = format!(
                "/record/v1/itemFulfillment/{}?expandSubResources=true",
                encode_path_segment(&id)
            );
            // Deleted between the query and the read: nothing to ship.
            let Some(v) = self.get_json(OP, &path).await? else {
                continue;
            };
            let fulfillment = parse_fulfillment(&v).map_err(protocol)?;
            let so_id = id_of(&v["createdFrom"]["id"])
                .ok_or_else(|| protocol(format!("itemFulfillment {id} has no createdFrom")))?;
            if !sales_orders.contains_key(&so_id) {
                let so = self
                    .get_json(
                        OP,
                        &format!("/record/v1/salesOrder/{}", encode_path_segment(&so_id)),
                    )
                    .await?;
                let field = |k: &str| {
                    so.as_ref()
                        .and_then(|s| s[k].as_str())
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                };
                sales_orders.insert(
                    so_id.clone(),
                    (field("externalId"), field("custbody_o2c_order_id")),
                );
            }
            let (external_id, order_id) = sales_orders[&so_id].clone();
            out.push(FulfillmentUpdate {
                sales_order_id: so_id,
                sales_order_external_id: external_id,
                order_id,
                fulfillment,
            });
        }
        Ok(out)
    }

    async fn inventory_modified_since(
        &self,
        since: time::OffsetDateTime,
    ) -> Result<Vec<ErpInventoryLevel>, ErpError> {
        const OP: &str = "inventory modified since";
        let ids = self
            .query_ids(OP, RecordType::InventoryItem, &modified_since(since))
            .await?;
        let mut out = Vec::new();
        for id in ids {
            let path = format!(
                "/record/v1/inventoryItem/{}?expandSubResources=true",
                encode_path_segment(&id)
            );
            let Some(v) = self.get_json(OP, &path).await? else {
                continue;
            };
            let sku = str_at(&v, &["itemId"]).ok_or_else(|| ErpError::Protocol {
                operation: OP,
                status: 200,
                reason: format!("inventoryItem {id} has no itemId"),
            })?;
            out.extend(
                parse_inventory(sku, &v).map_err(|reason| ErpError::Protocol {
                    operation: OP,
                    status: 200,
                    reason,
                })?,
            );
        }
        Ok(out)
    }
}

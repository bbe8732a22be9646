//! Wiring for the Lambda binaries: build each function's handler from its configuration and
//! the AWS adapters, reading credentials from Secrets Manager at cold start.

use crate::bounded::Bounded;
use crate::handler::{Accepts, PaymentHandler, Ports};
use crate::notification::CybersourceNotification;
use crate::payment::{PaymentContext, Route, Router, SingleRoute};
use crate::quarantine::{Quarantine, QuarantineConfig};
use crate::references::IndexedRouter;
use crate::routing::DynamicRouter;
use crate::spec_runtime;
use crate::sync::{ClaritySync, ErpSync};
use crate::webhook::{ClarityEvents, ClarityWebhook};
use o2c_aws::alerts::SnsAlerts;
use o2c_aws::quarantine::DynamoQuarantine;
use o2c_connectors::clarity::{ClarityClient, ClarityCredentials};
use o2c_connectors::cybersource::{ClientConfig, CybersourceClient, CybersourceCredentials};
use o2c_connectors::netsuite::{ErpCredentials, NetSuiteClient};
use o2c_connectors::salesforce::{CrmCredentials, SalesforceClient};
use o2c_domain::pii::MaskPolicy;
use o2c_domain::ports::{RoutingStore, SecretSource, SystemClock};
use o2c_domain::recipe::{lease_for, Checkpoints, NoCheckpoints};
use o2c_domain::routing::RoutingConfig;
use o2c_runtime::batch::MessageHandler;
use o2c_runtime::config::FunctionConfig;
use o2c_runtime::lambda::Error;
use o2c_runtime::lambda::HttpHandler;
use o2c_runtime::wiring::Adapters;
use o2c_spec::{SpecStore, Specs};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The secret id a function was configured with.
pub fn secret_id<'a>(config: &'a FunctionConfig, var: &'static str) -> Result<&'a str, Error> {
    config
        .secret_ids
        .get(var)
        .map(String::as_str)
        .ok_or_else(|| format!("{var} is not configured for this function").into())
}

/// The Cybersource credentials from Secrets Manager.
pub async fn cybersource_credentials(
    config: &FunctionConfig,
    adapters: &Adapters,
) -> Result<CybersourceCredentials, Error> {
    let id = secret_id(config, "CYBERSOURCE_SECRET_ID")?;
    let secret = adapters.secrets.secret(id).await?;
    Ok(CybersourceCredentials::from_secret(&secret)?)
}

/// A secret's JSON text, by the variable that names its id.
pub async fn secret_json(
    config: &FunctionConfig,
    adapters: &Adapters,
    var: &'static str,
) -> Result<secrecy::SecretString, Error> {
    Ok(adapters.secrets.secret(secret_id(config, var)?).await?)
}

/// The integration spec versions (docs/spec.md): the active one loaded and compiled now (or
/// the newest valid one before it, loudly), pinned ones on first use.
pub async fn specs(
    config: &FunctionConfig,
    adapters: &Adapters,
    function: &str,
) -> Result<Arc<Specs>, Error> {
    let store: Arc<dyn SpecStore> = adapters.store.clone();
    let (specs, outcome) = Specs::load(store, config.spec_refresh).await?;
    spec_runtime::report(function, &outcome);
    Ok(Arc::new(specs))
}

/// The clarity-order-webhook handler.
pub async fn clarity_webhook(
    config: FunctionConfig,
    adapters: Adapters,
) -> Result<Arc<dyn HttpHandler>, Error> {
    // The spec's active pointer is read while the secret is (one round trip, not two).
    let (secret, specs) = tokio::try_join!(
        secret_json(&config, &adapters, "CLARITY_SECRET_ID"),
        specs(&config, &adapters, "clarity-order-webhook")
    )?;
    let credentials = ClarityCredentials::from_json(secret.expose_secret())?;
    let function = "clarity-order-webhook";
    Ok(Arc::new(ClarityWebhook {
        verifier: credentials.webhook_verifier(),
        events: clarity_events(&adapters, specs, function),
        quarantine: quarantine(&config, &adapters, function)?,
    }))
}

/// What a verified Clarity event does (the webhook's and replay's).
pub fn clarity_events(
    adapters: &Adapters,
    specs: Arc<Specs>,
    function: &'static str,
) -> ClarityEvents {
    ClarityEvents {
        store: adapters.store.clone(),
        publisher: adapters.publisher.clone(),
        clock: Arc::new(SystemClock),
        remember: std::time::Duration::from_secs(7 * 24 * 3600),
        function,
        specs,
    }
}

/// The quarantine of a function configured with one (`QUARANTINE_TABLE_NAME`, …).
pub fn quarantine(
    config: &FunctionConfig,
    adapters: &Adapters,
    function: &'static str,
) -> Result<Quarantine, Error> {
    let vars = config.quarantine.as_ref().ok_or(
        "QUARANTINE_TABLE_NAME is not set: this function quarantines events it cannot map",
    )?;
    Ok(Quarantine {
        store: Arc::new(DynamoQuarantine::from_conf(&adapters.sdk, &vars.table_name)),
        alerts: Arc::new(SnsAlerts::from_conf(&adapters.sdk, &vars.alerts_topic_arn)),
        clock: Arc::new(SystemClock),
        config: QuarantineConfig {
            ttl: std::time::Duration::from_secs(vars.ttl_days * 24 * 3600),
            max_body_bytes: usize::try_from(vars.max_body_bytes).unwrap_or(usize::MAX),
            alerts_per_minute: vars.alerts_per_minute,
        },
        stage: config.stage.to_string(),
        function,
    })
}

/// The Cybersource routes (one merchant id today; the routing seam takes more).
pub async fn payment_context(
    config: &FunctionConfig,
    adapters: &Adapters,
) -> Result<(PaymentContext, CybersourceCredentials), Error> {
    let credentials = cybersource_credentials(config, adapters).await?;
    let client = CybersourceClient::new(&credentials, ClientConfig::default())?;
    let primary = Route {
        name: credentials.merchant_id.clone(),
        gateway: Arc::new(client),
    };
    let router: Arc<dyn Router> = match adapters.store.routing_document().await? {
        None => Arc::new(SingleRoute(primary)),
        Some(text) => Arc::new(dynamic_router(config, adapters, &text).await?),
    };
    // Every reference and transaction id sent to Cybersource is remembered with its order.
    let router: Arc<dyn Router> = Arc::new(IndexedRouter::new(router, adapters.store.clone()));
    let ctx = PaymentContext {
        router,
        // Leave a quarter of the function's time for recording and sending.
        call_budget: config.timeout * 3 / 4,
        // Set per message from the Lambda context (see `PaymentHandler`).
        invocation_deadline: None,
    };
    Ok((ctx, credentials))
}

/// The variable naming a route's secret id: `primary` → `CYBERSOURCE_SECRET_ID`, any other `v`
/// → `CYBERSOURCE_ROUTE_<V>_SECRET_ID`.
pub fn route_secret_var(secret: &str) -> String {
    if secret == "primary" {
        "CYBERSOURCE_SECRET_ID".to_string()
    } else {
        format!(
            "CYBERSOURCE_ROUTE_{}_SECRET_ID",
            secret.to_ascii_uppercase().replace('-', "_")
        )
    }
}

/// The routing document's router: one Cybersource client per route, each with its own key.
async fn dynamic_router(
    config: &FunctionConfig,
    adapters: &Adapters,
    text: &str,
) -> Result<DynamicRouter, Error> {
    let doc = RoutingConfig::from_json(text)?;
    let mut routes = BTreeMap::new();
    for spec in &doc.routes {
        let var = route_secret_var(&spec.secret);
        let id = config.secret_ids.get(var.as_str()).ok_or_else(|| {
            format!(
                "routing document route {:?} uses secret {:?}, but {var} is not configured for \
                 this function (add the secret, the variable and its IAM grant to template.yaml)",
                spec.name, spec.secret
            )
        })?;
        let credentials = CybersourceCredentials::from_secret(&adapters.secrets.secret(id).await?)?;
        if credentials.merchant_id != spec.merchant_id {
            return Err(format!(
                "routing document route {:?} names merchant {:?} but its secret holds {:?}",
                spec.name, spec.merchant_id, credentials.merchant_id
            )
            .into());
        }
        let client = CybersourceClient::new(&credentials, ClientConfig::default())?;
        routes.insert(
            spec.name.clone(),
            Route {
                name: spec.name.clone(),
                gateway: Arc::new(client),
            },
        );
    }
    tracing::info!(
        version = doc.version,
        routes = routes.len(),
        "routing document loaded"
    );
    Ok(DynamicRouter::new(
        doc,
        routes,
        adapters.store.clone(),
        Arc::new(SystemClock),
    )?)
}

/// The cybersource-notification handler.
pub async fn cybersource_notification(
    config: FunctionConfig,
    adapters: Adapters,
) -> Result<Arc<dyn HttpHandler>, Error> {
    let (payments, credentials) = payment_context(&config, &adapters).await?;
    Ok(Arc::new(CybersourceNotification {
        verifier: credentials.webhook_verifier()?,
        store: adapters.store.clone(),
        publisher: adapters.publisher.clone(),
        clock: Arc::new(SystemClock),
        payments,
        references: adapters.store.clone(),
        unknown: adapters.store.clone(),
        remember: std::time::Duration::from_secs(7 * 24 * 3600),
        keep_unknown: std::time::Duration::from_secs(90 * 24 * 3600),
        function: "cybersource-notification",
    }))
}

/// The clarity-sync handler.
pub async fn clarity_sync(
    config: FunctionConfig,
    adapters: Adapters,
) -> Result<Arc<dyn MessageHandler>, Error> {
    let (secret, specs) = tokio::try_join!(
        secret_json(&config, &adapters, "CLARITY_SECRET_ID"),
        specs(&config, &adapters, "clarity-sync")
    )?;
    let credentials = ClarityCredentials::from_json(secret.expose_secret())?;
    Ok(Arc::new(ClaritySync {
        specs,
        store: adapters.store.clone(),
        // Every call bounded by the invocation's deadline.
        clarity: Arc::new(Bounded(ClarityClient::from_credentials(&credentials))),
    }))
}

/// The erp-sync handler (NetSuite + Salesforce). PII is masked in what leaves for the ERP/CRM
/// outside production.
pub async fn erp_sync(
    config: FunctionConfig,
    adapters: Adapters,
) -> Result<Arc<dyn MessageHandler>, Error> {
    let (erp, specs) = tokio::try_join!(
        secret_json(&config, &adapters, "ERP_SECRET_ID"),
        specs(&config, &adapters, "erp-sync")
    )?;
    let erp = ErpCredentials::from_json(erp.expose_secret())?;
    let crm = secret_json(&config, &adapters, "CRM_SECRET_ID").await?;
    let crm = CrmCredentials::from_json(crm.expose_secret())?;
    let mask = MaskPolicy::for_stage(&config.stage.to_string());
    Ok(Arc::new(ErpSync {
        store: adapters.store.clone(),
        clock: Arc::new(SystemClock),
        // Every call bounded by the invocation's deadline.
        erp: Arc::new(Bounded(NetSuiteClient::from_credentials(&erp)?)),
        crm: Arc::new(Bounded(SalesforceClient::from_credentials(&crm))),
        specs,
        mask,
    }))
}

/// Step-boundary hooks: crash points when built with `fault-injection` and `O2C_CRASH_RATE` is
/// set, otherwise none.
pub fn checkpoints() -> Arc<dyn Checkpoints> {
    #[cfg(feature = "fault-injection")]
    if let Some(c) = crate::faults::RandomCrashes::from_env() {
        tracing::warn!("fault injection enabled: random crashes at step boundaries");
        return Arc::new(c);
    }
    Arc::new(NoCheckpoints)
}

/// The ports every step handler uses.
pub fn ports(config: &FunctionConfig, adapters: &Adapters) -> Ports {
    Ports {
        store: adapters.store.clone(),
        publisher: adapters.publisher.clone(),
        clock: Arc::new(SystemClock),
        lease: config.lease.unwrap_or_else(|| lease_for(config.timeout)),
        checkpoints: checkpoints(),
    }
}

/// The payment handler of authorize, capture or refund.
pub async fn payment_handler(
    config: FunctionConfig,
    adapters: Adapters,
    accepts: Accepts,
) -> Result<Arc<dyn MessageHandler>, Error> {
    Ok(Arc::new(
        payment_handler_parts(config, adapters, accepts).await?,
    ))
}

/// The payment handler, unboxed (tests swap its checkpoints).
pub async fn payment_handler_parts(
    config: FunctionConfig,
    adapters: Adapters,
    accepts: Accepts,
) -> Result<PaymentHandler, Error> {
    // Only the authorization maps (the spec's request parts); the spec loads alongside.
    let (ctx, specs) = if accepts == Accepts::Authorize {
        let (ctx, specs) = tokio::try_join!(
            payment_context(&config, &adapters),
            specs(&config, &adapters, "authorize")
        )?;
        (ctx.0, Some(specs))
    } else {
        (payment_context(&config, &adapters).await?.0, None)
    };
    Ok(PaymentHandler {
        ports: ports(&config, &adapters),
        ctx,
        accepts,
        specs,
    })
}

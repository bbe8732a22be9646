//! Wiring for the scheduled binaries: build each poller from its configuration and the AWS
//! adapters, reading credentials from Secrets Manager at cold start.

use super::catchup::{CatchUpSettings, ClarityCatchUp};
use super::chargeback::{ChargebackPoller, ChargebackSettings};
use super::erp::{ErpPollSettings, ErpPoller};
use super::StoreCursor;
use crate::app::{cybersource_credentials, secret_id};
use crate::intake::Intake;
use o2c_connectors::clarity::{ClarityClient, ClarityCredentials};
use o2c_connectors::cybersource::{ClientConfig, CybersourceClient};
use o2c_connectors::netsuite::{ErpCredentials, NetSuiteClient};
use o2c_connectors::salesforce::{CrmCredentials, SalesforceClient};
use o2c_domain::pii::MaskPolicy;
use o2c_domain::ports::{OrderStore, SecretSource, SystemClock};
use o2c_runtime::config::FunctionConfig;
use o2c_runtime::lambda::Error;
use o2c_runtime::wiring::Adapters;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

async fn secret(
    config: &FunctionConfig,
    adapters: &Adapters,
    var: &'static str,
) -> Result<SecretString, Error> {
    Ok(adapters.secrets.secret(secret_id(config, var)?).await?)
}

async fn clarity(config: &FunctionConfig, adapters: &Adapters) -> Result<ClarityClient, Error> {
    let s = secret(config, adapters, "CLARITY_SECRET_ID").await?;
    Ok(ClarityClient::from_credentials(
        &ClarityCredentials::from_json(s.expose_secret())?,
    ))
}

async fn netsuite(config: &FunctionConfig, adapters: &Adapters) -> Result<NetSuiteClient, Error> {
    let s = secret(config, adapters, "ERP_SECRET_ID").await?;
    Ok(NetSuiteClient::from_credentials(
        &ErpCredentials::from_json(s.expose_secret())?,
    )?)
}

/// The chargeback-poller: Cybersource (report), NetSuite, Salesforce and Clarity (effects).
pub async fn chargeback_poller(
    config: FunctionConfig,
    adapters: Adapters,
) -> Result<Arc<ChargebackPoller>, Error> {
    let cybs = cybersource_credentials(&config, &adapters).await?;
    let gateway = CybersourceClient::new(&cybs, ClientConfig::default())?;
    let crm = secret(&config, &adapters, "CRM_SECRET_ID").await?;
    let crm = CrmCredentials::from_json(crm.expose_secret())?;
    let mask = MaskPolicy::for_stage(&config.stage.to_string());
    let store: Arc<dyn OrderStore> = adapters.store.clone();
    Ok(Arc::new(ChargebackPoller {
        cursor: Arc::new(StoreCursor {
            store: store.clone(),
        }),
        store,
        references: adapters.store.clone(),
        gateway: Arc::new(gateway),
        clarity: Arc::new(clarity(&config, &adapters).await?),
        erp: Arc::new(netsuite(&config, &adapters).await?),
        crm: Arc::new(SalesforceClient::from_credentials(&crm)),
        specs: crate::app::specs(&config, &adapters, "chargeback-poller").await?,
        mask,
        clock: Arc::new(SystemClock),
        settings: ChargebackSettings {
            // Leave a third of the function's time for the rows.
            call_budget: config.timeout * 2 / 3,
            ..ChargebackSettings::default()
        },
    }))
}

/// The erp-poller: NetSuite (fulfilments, stock) → Clarity (shipments, inventory).
pub async fn erp_poller(
    config: FunctionConfig,
    adapters: Adapters,
) -> Result<Arc<ErpPoller>, Error> {
    let store: Arc<dyn OrderStore> = adapters.store.clone();
    Ok(Arc::new(ErpPoller {
        publisher: adapters.publisher.clone(),
        cursor: Arc::new(StoreCursor {
            store: store.clone(),
        }),
        store,
        erp: Arc::new(netsuite(&config, &adapters).await?),
        clarity: Arc::new(clarity(&config, &adapters).await?),
        clock: Arc::new(SystemClock),
        settings: ErpPollSettings::default(),
    }))
}

/// The clarity-catchup: Clarity's order list → the webhook's intake (orders queue).
pub async fn clarity_catchup(
    config: FunctionConfig,
    adapters: Adapters,
    settings: CatchUpSettings,
) -> Result<Arc<ClarityCatchUp>, Error> {
    let store: Arc<dyn OrderStore> = adapters.store.clone();
    let clock = Arc::new(SystemClock);
    Ok(Arc::new(ClarityCatchUp {
        cursor: Arc::new(StoreCursor {
            store: store.clone(),
        }),
        intake: Intake {
            store: store.clone(),
            publisher: adapters.publisher.clone(),
            clock: clock.clone(),
            // As the webhook's (`app::clarity_webhook`); the catch-up records no event ids.
            remember: std::time::Duration::from_secs(7 * 24 * 3600),
        },
        specs: crate::app::specs(&config, &adapters, "clarity-catchup").await?,
        store,
        clarity: Arc::new(clarity(&config, &adapters).await?),
        clock,
        settings,
    }))
}

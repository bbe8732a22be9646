//! The `console` function's handler from its configuration and adapters.

use crate::api::Api;
use crate::session::Sessions;
use crate::{Console, Login};
use o2c_aws::quarantine::DynamoQuarantine;
use o2c_domain::ports::SystemClock;
use o2c_pipeline::app::{clarity_events, secret_json, specs};
use o2c_pipeline::quarantine::ops::QuarantineOps;
use o2c_pipeline::redrive::Redrive;
use o2c_runtime::config::{FunctionConfig, Stage};
use o2c_runtime::lambda::{Error, HttpHandler};
use o2c_runtime::wiring::Adapters;
use secrecy::ExposeSecret;
use std::sync::Arc;

/// Sessions last 8 hours (a working day); then sign in again.
const SESSION_SECS: i64 = 8 * 3600;

/// The console secret (`CONSOLE_SECRET_ID`): `{"session_key": "<32+ random bytes, any text>",
/// "dev_login": false}`. `dev_login` is honoured only outside prod.
pub async fn console(
    config: FunctionConfig,
    adapters: Adapters,
) -> Result<Arc<dyn HttpHandler>, Error> {
    let function = "console";
    let (secret, specs) = tokio::try_join!(
        secret_json(&config, &adapters, "CONSOLE_SECRET_ID"),
        specs(&config, &adapters, function)
    )?;
    let v: serde_json::Value = serde_json::from_str(secret.expose_secret())
        .map_err(|_| "the console secret is not JSON")?;
    let key = v["session_key"].as_str().unwrap_or("");
    if key.len() < 32 {
        return Err("the console secret's session_key must have at least 32 characters".into());
    }
    let dev = v["dev_login"].as_bool().unwrap_or(false) && config.stage != Stage::Prod;
    let quarantine_table = config
        .quarantine
        .as_ref()
        .map(|q| q.table_name.clone())
        .ok_or("QUARANTINE_TABLE_NAME is not set")?;
    let clock = Arc::new(SystemClock);
    Ok(Arc::new(Console {
        // Plain HTTP only on the local dev login.
        sessions: Sessions::new(key.as_bytes(), SESSION_SECS, !dev),
        login: if dev { Login::Dev } else { Login::Cognito },
        api: Api {
            stage: config.stage.to_string(),
            orders: adapters.store.clone(),
            search: adapters.store.clone(),
            references: adapters.store.clone(),
            quarantine: QuarantineOps {
                store: Arc::new(DynamoQuarantine::from_conf(&adapters.sdk, quarantine_table)),
                events: clarity_events(&adapters, specs, function),
                clock: clock.clone(),
            },
            audit: adapters.store.clone(),
            clock,
            redrive: Redrive::from_config(&config, &adapters)?,
        },
    }))
}

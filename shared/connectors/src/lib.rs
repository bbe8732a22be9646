//! o2c-connectors: clients for Cybersource, Clarity, the ERP and the CRM (wire DTOs, request
//! signing, webhook signature verification, error taxonomy, retries).

pub mod clarity;
pub mod cybersource;
pub mod mapping;
pub mod netsuite;
pub mod oauth;
pub mod rest;
pub mod retry;
pub mod salesforce;
#[cfg(test)]
mod test_http;

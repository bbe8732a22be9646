//! o2c-connectors: clients for Cybersource, Clarity, the ERP (NetSuite) and the CRM
//! (Salesforce) — wire DTOs, request signing, webhook signature verification, error taxonomy —
//! over one HTTP layer ([`http`]: transport, retries, OAuth).

pub mod clarity;
pub mod cybersource;
pub mod http;
pub mod mapping;
pub mod netsuite;
pub mod salesforce;

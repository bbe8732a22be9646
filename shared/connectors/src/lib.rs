//! o2c-connectors: clients for Cybersource, Clarity, the ERP and the CRM (wire DTOs, request
//! signing, webhook signature verification, error taxonomy, retries).

pub mod cybersource;
pub mod retry;

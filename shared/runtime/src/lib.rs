//! o2c-runtime

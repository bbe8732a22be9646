//! o2c-aws

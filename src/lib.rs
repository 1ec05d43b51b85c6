//! lambda-sim: a local simulator of the AWS Lambda execution environment.
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod http;
pub mod id;
pub mod lifecycle;
pub mod time;

//! lambda-sim: a local simulator of the AWS Lambda execution environment.
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod api;
pub mod http;
pub mod id;
pub mod json;
pub mod lifecycle;
pub mod time;

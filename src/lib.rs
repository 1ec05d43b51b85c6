//! # lambda-sim
//!
//! A local simulator of the AWS Lambda execution environment, for people who test and benchmark
//! Lambda runtimes and extensions on their own machine or in CI. It serves the Runtime API
//! (2018-06-01) and the Extensions API (2020-01-01) with AWS's status codes, headers, limits and
//! error bodies and Lambda's init, invoke and shutdown orderings; spawns the function's
//! `bootstrap` and its external extensions as real child processes with Lambda's environment;
//! takes invocations on an
//! endpoint compatible with AWS's runtime interface emulator (RIE); and measures each
//! invocation to the microsecond.
//!
//! ## Embedding
//! ```no_run
//! use lambda_sim::Simulator;
//!
//! let sim = Simulator::builder().command(["./bootstrap"]).start()?;
//! let response = sim.invoke(r#"{"n":1}"#)?;
//! assert_eq!(response.function_error(), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Architecture
//! - [`lifecycle`]: every Lambda rule, pure and sans-IO: `handle_*(now, ...)` in,
//!   `poll_action()` out. It never reads a clock or touches a socket.
//! - [`http`]: an incremental, bounded HTTP/1.1 request decoder (httparse for the head; bodies,
//!   chunked encoding and trailers by hand) and a response writer.
//! - [`api`]: what requests mean and how answers look on the wire.
//! - [`reactor`]: one `mio::Poll` on one thread: sockets, child pipes, pidfds, the clock.
//! - [`process`]: spawning children with Lambda's environment; every `unsafe` call lives in
//!   [`process::sys`].
//!
//! The reactor drives the core with the contract written on [`lifecycle`]: carry out the
//! actions of `poll_action()` in order after each input, then wait until `poll_timeout()`.
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod api;
mod base64;
pub mod cli;
pub mod config;
pub mod demo;
pub mod http;
pub mod id;
pub mod json;
pub mod lifecycle;
mod mailbox;
pub mod process;
pub mod reactor;
mod simulator;
mod sys;
pub mod telemetry;
pub mod time;

pub use config::{
    Bootstrap, Config, ConnectionTimeouts, ExtensionCommand, LogOutput, StreamLimits,
};
pub use lifecycle::{Events, ExtensionInfo, InvokeRequest, Timings};
pub use simulator::{
    Awaited, Builder, DEFAULT_SPIN, EnvState, Handle, InvocationReport, InvokeResponse, Server,
    Simulator, Stopped, Streamed, TelemetryCapture, Ticket,
};

/// Internals re-exported for this repository's fuzz targets, benches and tests. Not part of the
/// API: hidden from the documentation, and free to change in any release.
#[doc(hidden)]
pub mod internals {
    /// Base64, for the tests that read `X-Amz-Log-Result`.
    pub mod base64 {
        pub use crate::base64::decode;
    }
    pub use crate::sys::raise_fd_limit;
}

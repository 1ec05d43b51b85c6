//! # lambda-sim
//!
//! A local simulator of the AWS Lambda execution environment, for people who write, test and
//! benchmark Lambda runtimes and extensions on their own machine or in CI, without Docker. It
//! serves the Runtime API (2018-06-01), the Extensions API (2020-01-01), the Telemetry API
//! (2022-07-01) and the Logs API (2020-08-15) with AWS's status codes, headers, limits and error
//! bodies and Lambda's init, invoke, freeze and shutdown orderings; spawns the function's
//! `bootstrap` and its external extensions as real child processes with Lambda's environment;
//! takes invocations on an endpoint compatible with AWS's runtime interface emulator (RIE), or
//! from Rust; and measures each invocation to the microsecond.
//!
//! This crate is the `lambda-sim` command's library. Its API has two parts:
//! - **the embedding API**, for Rust test suites: [`Simulator`], [`Builder`], [`Handle`] and
//!   what it answers ([`InvokeResponse`], [`InvocationReport`], [`State`], [`EnvState`],
//!   [`TelemetryCapture`], [`Ticket`], [`Streamed`]), configured with [`Config`] and its parts
//!   ([`Bootstrap`], [`ExtensionCommand`], [`StreamLimits`], [`ConnectionTimeouts`],
//!   [`LogOutput`]);
//! - **the lifecycle core**, [`lifecycle`]: every rule of Lambda's execution environment as a pure
//!   state machine, for people who drive it from their own fuzz harness or model checker.
//!
//! ## Embedding
//!
//! ```no_run
//! use std::time::Duration;
//! use lambda_sim::Simulator;
//!
//! let sim = Simulator::builder()
//!     .command(["./bootstrap"])
//!     .extension("logger", ["./extensions/logger"])
//!     .timeout(Duration::from_secs(3))
//!     .start()?;
//! let (response, report) = sim.invoke_reported(r#"{"n":1}"#)?;
//! assert_eq!(response.function_error(), None);
//! if let Some(report) = report {
//!     println!("{} µs, the logger added {:?}", report.duration.as_micros(), report.overhead("logger"));
//! }
//! sim.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Driving the core yourself
//!
//! The core takes the time as an argument and returns what it wants done; nothing in it reads a
//! clock, opens a socket or starts a process, so a harness can run it on a virtual clock:
//!
//! ```
//! use lambda_sim::Micros;
//! use lambda_sim::lifecycle::{
//!     Action, Config, EnvId, InvokeRequest, Lifecycle, Outcome, Rejection, RuntimeMode,
//!     RuntimeResult, WaiterId,
//! };
//!
//! // A runtime the harness plays itself (no process is spawned), in the one environment.
//! let config = Config { runtime: RuntimeMode::External, ..Config::default() };
//! let mut core = Lifecycle::new(config, Micros::ZERO);
//! let (env, runtime, invoker) = (EnvId(0), WaiterId(1), WaiterId(2));
//!
//! core.handle_runtime_next(Micros(10), env, runtime)?; // GET /next: parked
//! let request = InvokeRequest { payload: br#"{"n":1}"#.to_vec(), ..Default::default() };
//! let id = core.invoke(Micros(20), invoker, request)?;
//! // Mutate, then drain: the invocation is released to the parked `/next`.
//! let mut actions = std::iter::from_fn(|| core.poll_action());
//! assert!(actions.any(|a| matches!(a, Action::Release { waiter, .. } if waiter == runtime)));
//!
//! let body = b"ok".to_vec();
//! let result = RuntimeResult::Response { body, content_type: None };
//! core.handle_runtime_result(Micros(70), env, id, result)?;
//! let reply = std::iter::from_fn(|| core.poll_action())
//!     .find_map(|a| match a {
//!         Action::Reply { invoker: to, reply } if to == invoker => Some(reply),
//!         _ => None,
//!     })
//!     .expect("the invoker is answered");
//! assert!(matches!(reply.outcome, Outcome::Response { ref body, .. } if body == b"ok"));
//! // Nothing is due until the function timeout of the next invocation, if any.
//! let _next_timer = core.poll_timeout();
//! # Ok::<(), Rejection>(())
//! ```
//!
//! ## Architecture
//!
//! One thread, one `mio::Poll`, no async runtime. The layers, from the wire inwards (each is a
//! module under `src/`; only `lifecycle` is public):
//!
//! ```text
//!  invokers ─┐   ┌─ runtime, extensions (HTTP)      children's pipes, pidfds, signals, timerfd
//!            ▼   ▼                                                 │
//!  reactor/  one mio::Poll: sockets, parked long polls, children, the clock (read once a turn)
//!            │ bytes                                     ▲ bytes, signals, spawns
//!  http/     RequestDecoder (httparse heads; bodies,     │ write_response
//!            chunked, trailers, limits)                  │
//!            │ Head, body                                │
//!  api/      exchange: route, rapid's checks, limits,  ──┤ render: status codes, headers,
//!            which core event to raise  → Outcome        │ error bodies, log lines, events
//!            │ handle_*(now, …), invoke(now, …)          │ Action (poll_action)
//!  lifecycle/ the one state machine: phases, queue, timers, extensions, freeze; pure
//! ```
//!
//! Beside them: `telemetry/` (the Telemetry and Logs APIs' fan-out and batching, sans-IO),
//! `process/` (the environment a child starts with), `sys.rs` (every libc call and every
//! `unsafe` block), `simulator/` (the embedding API, which runs the reactor on its own thread and
//! talks to it through a channel and a `mio::Waker`), `cli/` and `demo.rs` (the command).
//!
//! **The contract between reactor and core** (quinn's driver over quinn-proto, str0m's run
//! loop):
//! - The reactor reads the monotonic clock once per turn and passes that `now` to every core
//!   call of the turn. The core never reads a clock; wall-clock timestamps are the start-up
//!   epoch plus `now`.
//! - Mutate, then drain: after every input (a request, a child's exit, a timer, a command), the
//!   reactor takes [`Lifecycle::poll_action`](lifecycle::Lifecycle::poll_action) until `None`
//!   and carries the actions out in order, then asks `poll_timeout` when to call
//!   `handle_timeout`. An action that fails (a spawn) comes back as a new input.
//! - The reactor decides IO only: when to read, write, close, linger, time out a peer. What a
//!   request means is `api::exchange`'s; every Lambda rule is the core's.
//!
//! **The data path of one invocation** over HTTP:
//! 1. `reactor/requests.rs` accepts the invoker's connection and reads it into its
//!    `http::RequestDecoder`; the head complete, `api::exchange::Exchange::begin` routes it and
//!    sets its body limit (6 MB); the body complete, `Exchange::complete` reads the Invoke API's
//!    headers and calls `Lifecycle::invoke`, and the connection is parked waiting.
//! 2. The core queues the invocation, or starts an init (spawning the extensions, then the
//!    runtime) and releases it once the runtime's `/next` is parked: `Action::Release`, and an
//!    `Action::ReleaseExtension` (INVOKE) for each subscribed extension, in the same drain.
//!    `reactor/actions.rs` writes the `/next` answer with `api::runtime::write_next` and, after
//!    the writes, sends SIGCONT if the environment was frozen.
//! 3. The runtime posts `/response`: `Exchange::begin` checks the id before the body is read;
//!    `Exchange::complete` gives the body to `Lifecycle::handle_runtime_result`, whose
//!    `Action::Reply` answers the invoker (`api::invoke::render`) before the runtime's 202.
//! 4. The runtime's next `/next` and every INVOKE-subscribed extension's `event/next` complete
//!    the invocation: `PlatformEvent::Report`, rendered as the REPORT line in a batch off the
//!    path (`reactor/logs.rs`), and as telemetry; the environment freezes once nothing is on
//!    the wire, after one more poll that does not wait finds nothing come in.
//!
//! **Where a change goes:**
//! - a Lambda rule (phases, timing, who may do what when): `src/lifecycle/`, with a test on the
//!   virtual clock in `src/lifecycle/tests*`, and its row in the module's transition table;
//! - what a request means or how an answer looks (a header, an error body, a limit):
//!   `src/api/` (`exchange.rs` for what is decided, the API's own file for how it renders);
//! - HTTP framing: `src/http/`; a telemetry record or batch: `src/telemetry/` and
//!   `src/api/telemetry.rs`;
//! - IO (a new kind of descriptor, a new listener): the reactor file of that job; a libc call:
//!   `src/sys.rs`, the only module allowed `unsafe`;
//! - a new embedding call: `src/simulator/` and `reactor/embed.rs`; a flag: `src/cli.rs` and
//!   [`Config`];
//! - several execution environments belong in the core's per-environment state, keyed like its
//!   waiters and timers; the reactor keeps one listener per environment.
//!
//! ## Sources
//!
//! Each module's documentation states its rules with their source: an AWS documentation page, or
//! a path in AWS's emulator, [aws-lambda-runtime-interface-emulator] ("RIE"), which embeds the
//! production platform's core ("rapid"); `internal/lambda/...` paths are in that repository.
//! Where AWS leaves a choice, the rule is lambda-sim's own and says so; the README lists them.
//!
//! [aws-lambda-runtime-interface-emulator]: https://github.com/aws/aws-lambda-runtime-interface-emulator
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod api;
mod base64;
mod cli;
mod config;
mod demo;
mod http;
mod id;
mod json;
pub mod lifecycle;
mod mailbox;
mod process;
mod reactor;
mod simulator;
mod sys;
mod telemetry;
mod time;

pub use config::{
    Bootstrap, Config, ConnectionTimeouts, ExtensionCommand, LogLevel, LogOutput, StreamLimits,
};
pub use lifecycle::{Events, ExtensionInfo, InvokeRequest, Status, Timings};
pub use simulator::{
    Awaited, Builder, DEFAULT_SPIN, EnvState, Handle, InvocationReport, InvokeResponse, Simulator,
    State, Stopped, Streamed, TelemetryCapture, Ticket,
};
pub use time::Micros;

/// Internals re-exported for this repository's own binary, fuzz targets, benches and tests. Not
/// part of the API: hidden from the documentation, and free to change in any release.
#[doc(hidden)]
pub mod internals {
    /// The `lambda-sim` command line: `src/main.rs` runs it.
    pub mod cli {
        pub use crate::cli::main;
    }

    /// The HTTP/1.1 codec, for its fuzz targets and its bench.
    pub mod http {
        pub use crate::http::client::{Answer, ResponseReader};
        pub use crate::http::{Event, Method, ParseError, RequestDecoder};
    }

    /// Routing and rendering, for the fuzz targets and the tests that check the wire.
    pub mod api {
        pub use crate::api::exchange::fuzz_router;
        pub use crate::api::{Context, Listener, Route, refusal, route};

        /// The event stream of `InvokeWithResponseStream`.
        pub mod eventstream {
            pub use crate::api::eventstream::{decode, write_message};
        }

        /// Telemetry API records, for the interop test that parses them with AWS's crate.
        pub mod telemetry {
            pub use crate::api::telemetry::{
                Api, Types, write_event, write_line, write_logs_dropped, write_subscription,
            };
        }
    }

    /// Ids, for tests that build the core's events by hand.
    pub mod id {
        pub use crate::id::{RequestId, Rng, TraceId, Uuid};
    }

    /// Spawning, for the test of the CLI's abort guard.
    pub mod process {
        pub use crate::process::{Launch, abort_guard, reap, spawn};
    }

    /// Base64, for the tests that read `X-Amz-Log-Result`.
    pub mod base64 {
        pub use crate::base64::decode;
    }

    pub use crate::reactor::exposure_warning;
    pub use crate::sys::raise_fd_limit;
}

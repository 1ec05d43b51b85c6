//! What the embedding API answers with: an invocation's response and report, the environment's
//! state, and the captured telemetry.

use crate::api;
use crate::lifecycle::{self, EnvId, ExtensionInfo, InvokeReply, PlatformEvent};
use crate::time::Micros;

/// The answer an embedded caller gets: what an HTTP invoker would see, plus timings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvokeResponse {
    /// The HTTP status the invoke endpoint would answer with.
    pub status: u16,
    /// Its headers (`X-Amzn-RequestId`, `X-Amz-Function-Error`, `Content-Type`, ...).
    pub headers: Vec<(&'static str, String)>,
    /// Its body.
    pub body: Vec<u8>,
    /// The request id (empty if the invocation was refused).
    pub request_id: String,
    /// When things happened, in microseconds since the simulator started.
    pub timings: lifecycle::Timings,
}

impl InvokeResponse {
    /// The value of header `name` (case-insensitive).
    #[inline(never)]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `X-Amz-Function-Error`, set when the function failed.
    pub fn function_error(&self) -> Option<&str> {
        self.header("X-Amz-Function-Error")
    }

    /// The body as text (lossy).
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn from_rendered(
        rendered: &api::Rendered<'_>,
        request_id: String,
        timings: lifecycle::Timings,
    ) -> Self {
        InvokeResponse {
            status: rendered.status,
            headers: owned_headers(rendered),
            body: rendered.body.to_vec(),
            request_id,
            timings,
        }
    }

    /// The answer to an invocation: what the invoke endpoint would send, with the runtime's
    /// body moved, not copied.
    pub(crate) fn from_reply(ctx: &api::Context, reply: InvokeReply) -> Self {
        let rendered = api::invoke::render(ctx, &reply);
        let status = rendered.status;
        let headers = owned_headers(&rendered);
        let rendered_body = match rendered.body {
            std::borrow::Cow::Owned(body) => Ok(body),
            // Borrowed from the reply: the runtime's bytes, which can move instead.
            std::borrow::Cow::Borrowed(body) => Err(body.len()),
        };
        let body = rendered_body.unwrap_or_else(|len| {
            let body = match reply.outcome {
                lifecycle::Outcome::Response { body, .. } => body,
                lifecycle::Outcome::FunctionError(e) => e.body,
                lifecycle::Outcome::Failure(_) => Vec::new(),
            };
            debug_assert_eq!(body.len(), len, "render borrows the outcome's body");
            body
        });
        InvokeResponse {
            status,
            headers,
            body,
            request_id: reply.request_id.to_string(),
            timings: reply.timings,
        }
    }
}

/// An invocation once complete: the runtime and every INVOKE-subscribed extension back on
/// next (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>, "Invoke phase"), as its REPORT line says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvocationReport {
    /// The request id.
    pub request_id: String,
    /// How it ended.
    pub status: lifecycle::Status,
    /// Why, when it did not succeed.
    pub error_type: Option<String>,
    /// From release to the runtime until complete (the REPORT's Duration), in microseconds.
    pub duration: Micros,
    /// The on-demand init it followed, if any.
    pub init_duration: Option<Micros>,
    /// SnapStart: the restore it followed, if any (the REPORT's Restore Duration).
    pub restore_duration: Option<Micros>,
    /// For each INVOKE-subscribed extension that came back, in registration order: its name
    /// and the time from the runtime's response to its next `event/next`.
    pub extensions: Vec<(String, Micros)>,
    /// The execution environment it ran in: its index, from 0, as in
    /// [`State::environments`] and the `[env N]` tag on its lines (N = index + 1).
    pub environment: usize,
}

impl InvocationReport {
    /// The overhead of extension `name`, if it took part.
    pub fn overhead(&self, name: &str) -> Option<Micros> {
        self.extensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, us)| *us)
    }

    /// The largest overhead: how long the invocation waited for its extensions after the
    /// runtime responded.
    pub fn max_overhead(&self) -> Option<Micros> {
        self.extensions.iter().map(|(_, us)| *us).max()
    }

    pub(crate) fn from_event(env: EnvId, event: &PlatformEvent) -> Option<InvocationReport> {
        let PlatformEvent::Report {
            request_id,
            status,
            error_type,
            duration,
            init_duration,
            extensions,
            restore_duration,
            ..
        } = event
        else {
            return None;
        };
        Some(InvocationReport {
            request_id: request_id.to_string(),
            status: *status,
            error_type: error_type.clone(),
            duration: *duration,
            init_duration: *init_duration,
            restore_duration: *restore_duration,
            extensions: extensions
                .iter()
                .map(|(name, us)| (name.to_string(), us))
                .collect(),
            environment: env.index(),
        })
    }
}

/// A snapshot of the simulator, as the core sees it: its queue and every execution
/// environment ([`Handle::state`](crate::Handle::state)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Invocations waiting for an environment.
    pub queued: usize,
    /// Every execution environment, in order ([`Builder::concurrency`](crate::Builder::concurrency)
    /// of them; one that has not been needed yet is `NotStarted`).
    pub environments: Vec<EnvState>,
    /// Whether shutdown has completed.
    pub shut_down: bool,
}

impl State {
    /// The first environment (the only one, unless [`Builder::concurrency`](crate::Builder::concurrency) says more).
    pub fn first(&self) -> &EnvState {
        &self.environments[0]
    }

    /// Whether every environment that has started is initialised, and at least one is.
    pub fn all_initialized(&self) -> bool {
        self.environments.iter().any(|e| e.initialized)
            && self
                .environments
                .iter()
                .all(|e| e.initialized || e.runtime_state == "NotStarted")
    }

    /// Whether nothing is queued, and every environment that has started is idle (at least
    /// one).
    pub fn all_idle(&self) -> bool {
        self.queued == 0
            && self.environments.iter().any(|e| e.idle)
            && self
                .environments
                .iter()
                .all(|e| e.idle || e.runtime_state == "NotStarted")
    }

    /// Whether every environment that has started is frozen (at least one).
    pub fn all_frozen(&self) -> bool {
        self.environments.iter().any(|e| e.frozen)
            && self
                .environments
                .iter()
                .all(|e| e.frozen || e.runtime_state == "NotStarted")
    }
}

/// A snapshot of one execution environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvState {
    /// Its Runtime API's address (`AWS_LAMBDA_RUNTIME_API` for its processes).
    pub runtime_api: std::net::SocketAddr,
    /// The runtime's state as rapid names it (`NotStarted`, `Started`, `Ready`, `Running`,
    /// ...).
    pub runtime_state: &'static str,
    /// Runtime `/next` calls parked.
    pub parked: usize,
    /// The request id of the invocation with the runtime, if any (with Managed Instances, the
    /// one released first of those in flight).
    pub current: Option<String>,
    /// How many invocations are with the runtime: at most one, or with Managed Instances, at
    /// most `max_concurrency`.
    pub in_flight: usize,
    /// The registered extensions, in registration order.
    pub extensions: Vec<ExtensionInfo>,
    /// Whether the environment is initialised (between invocations or running one).
    pub initialized: bool,
    /// Whether it is initialised with nothing to do: the last invocation complete, extensions
    /// included, and none queued.
    pub idle: bool,
    /// Whether the runtime and extensions are frozen (SIGSTOP) between invocations.
    pub frozen: bool,
}

/// A lifecycle state to wait for with [`Handle::wait_for`](crate::Handle::wait_for). With
/// several environments, each holds for every environment that has started (and at least one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Awaited {
    /// The environment is initialised: runtime and every extension ready.
    Initialized,
    /// Initialised, the last invocation complete (its extensions back on `event/next` too),
    /// nothing queued.
    Idle,
    /// The environment is frozen: idle, every reply written, no telemetry batch in flight,
    /// SIGSTOP sent to the runtime's and the extensions' process groups (the kernel stops
    /// each process when it next schedules it: one still running at that moment shows state
    /// `T` a moment later).
    Frozen,
    /// Shutdown has completed.
    ShutDown,
}

impl Awaited {
    pub(crate) fn reached(self, state: &State) -> bool {
        match self {
            Awaited::Initialized => state.all_initialized(),
            Awaited::Idle => state.all_idle(),
            Awaited::Frozen => state.all_frozen(),
            Awaited::ShutDown => state.shut_down,
        }
    }
}

/// The Telemetry API events a simulator captured (`Builder::capture_telemetry`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TelemetryCapture {
    /// The kept events, oldest first, as a subscriber to every type receives them.
    pub events: Vec<serde_json::Value>,
    /// Older events let go to stay within the bound.
    pub dropped: u64,
}

/// A rendering's headers as owned values, for the embedding API.
fn owned_headers(rendered: &api::Rendered<'_>) -> Vec<(&'static str, String)> {
    rendered
        .headers()
        .iter()
        .map(|(n, v)| (*n, String::from_utf8_lossy(v).into_owned()))
        .collect()
}

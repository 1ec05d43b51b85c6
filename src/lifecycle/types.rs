//! The data the lifecycle core takes in and hands out. No HTTP here: status codes and header
//! names are `api`'s business.

use std::fmt;
use std::sync::Arc;

use crate::id::{RequestId, TraceId, Uuid};
use crate::time::Micros;

/// A party waiting for an answer from the core: a connection parked on a long poll, an invoker's
/// connection, or an embedded caller's ticket. The reactor makes these up; the core only stores
/// and compares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WaiterId(pub u64);

/// A child process the core asked the reactor to start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildId(pub u64);

/// One of the execution environments, numbered from 0 in the order of their slots; Lambda
/// names each in its log stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvId(pub u16);

impl EnvId {
    /// Its index among the environments.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// What a child process is to the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The function's `bootstrap`.
    Runtime,
    /// The external extension at this index of [`Config::extensions`](super::Config::extensions).
    Extension(usize),
}

/// A signal the core asks the reactor to send to a child's process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: the runtime's notice of a shutdown when extensions exist (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>, "Shutdown phase").
    Term,
    /// SIGKILL: Lambda's way to end a runtime on reset, and at shutdown without extensions.
    Kill,
}

/// The events an extension subscribes to at registration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events {
    /// `INVOKE`: one event per invocation, released with the runtime's.
    pub invoke: bool,
    /// `SHUTDOWN`: one event when the environment shuts down (external extensions only).
    pub shutdown: bool,
}

/// Why the environment shuts down (`shutdownReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownReason {
    /// The environment is retired (the simulator stops).
    Spindown,
    /// A reset after a function timeout (or an init timeout).
    Timeout,
    /// A reset after a crash or an error.
    Failure,
}

impl ShutdownReason {
    /// The wire form, in the lower case rapid sends (the docs print it in upper case).
    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownReason::Spindown => "spindown",
            ShutdownReason::Timeout => "timeout",
            ShutdownReason::Failure => "failure",
        }
    }
}

/// An event for an extension's `event/next`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionEvent {
    /// An invocation, released at the same moment as the runtime's.
    Invoke {
        /// `Lambda-Extension-Event-Identifier`.
        event_id: Uuid,
        /// The invocation: [`Lifecycle::invocation`](super::Lifecycle::invocation) lends it.
        request_id: RequestId,
        /// The same absolute deadline as the runtime's.
        deadline: Micros,
    },
    /// The environment shuts down; the extension must exit by `deadline`.
    Shutdown {
        /// Why.
        reason: ShutdownReason,
        /// When it is killed, on the simulator's clock.
        deadline: Micros,
    },
}

/// Which of the two extension error calls was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionErrorKind {
    /// `POST /extension/init/error`.
    Init,
    /// `POST /extension/exit/error`.
    Exit,
}

/// The two APIs an extension may subscribe through for the platform's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TelemetryApi {
    /// `PUT /2022-07-01/telemetry`.
    Telemetry,
    /// `PUT /2020-08-15/logs` (deprecated, still live).
    Logs,
}

/// The most extensions an environment takes (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>; rapid `core/registrations.go`).
pub const MAX_EXTENSIONS: usize = 10;

/// An extension as the environment knows it, for the embedding API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionInfo {
    /// `Lambda-Extension-Name`.
    pub name: String,
    /// Its `Lambda-Extension-Identifier`.
    pub id: String,
    /// Whether it is one of the simulator's processes (else it runs inside the runtime).
    pub external: bool,
    /// What it subscribed to.
    pub events: Events,
    /// Its state as rapid names it (`Registered`, `Ready`, `Running`, `InitError`, ...).
    pub state: &'static str,
}

/// Per-extension overhead of one invocation: for each INVOKE-subscribed extension that came
/// back, the time from the runtime's response to that extension's next `event/next` (zero when
/// it was back before the runtime responded). Compact and allocation-free: the names are shared
/// by every report of one init, and each overhead is a `u32` of microseconds (over an hour;
/// the function timeout is at most 900 s).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overheads {
    /// The registered extensions' names, by slot.
    names: Option<Arc<[Arc<str>]>>,
    micros: [u32; MAX_EXTENSIONS],
    /// Which slots were measured.
    measured: u16,
}

impl Overheads {
    /// No overhead yet, for the extensions `names` (by slot).
    pub(crate) fn for_extensions(names: Arc<[Arc<str>]>) -> Overheads {
        Overheads {
            names: Some(names),
            ..Overheads::default()
        }
    }

    /// Records `overhead` for the extension in slot `slot`.
    pub(crate) fn set(&mut self, slot: usize, overhead: Micros) {
        if let Some(us) = self.micros.get_mut(slot) {
            *us = u32::try_from(overhead.as_micros()).unwrap_or(u32::MAX);
            self.measured |= 1 << slot;
        }
    }

    /// Each extension's name and overhead, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Micros)> {
        let names = self.names.as_deref().unwrap_or(&[]);
        names
            .iter()
            .zip(self.micros)
            .enumerate()
            .filter(|(slot, _)| self.measured & (1 << slot) != 0)
            .map(|(_, (name, us))| (&**name, Micros(u64::from(us))))
    }

    /// Whether no extension was measured.
    pub fn is_empty(&self) -> bool {
        self.measured == 0
    }

    /// The largest: how long the invocation waited for its extensions after the runtime
    /// responded (CloudWatch's `PostRuntimeExtensionsDuration`).
    pub fn max(&self) -> Option<Micros> {
        self.iter().map(|(_, us)| us).max()
    }
}

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
}

impl fmt::Display for ExitStatus {
    /// As Go's `os.ProcessState` prints it, which is what Lambda's `Runtime.ExitError`
    /// messages quote: `exit status 1`, `signal: killed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitStatus::Code(code) => write!(f, "exit status {code}"),
            ExitStatus::Signal(sig) => match signal_name(sig) {
                Some(name) => write!(f, "signal: {name}"),
                None => write!(f, "signal: signal {sig}"),
            },
        }
    }
}

/// Go's names for the signals a runtime usually dies of (`syscall.Signal.String`).
fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        7 => "bus error",
        8 => "floating point exception",
        9 => "killed",
        10 => "user defined signal 1",
        11 => "segmentation fault",
        12 => "user defined signal 2",
        13 => "broken pipe",
        14 => "alarm clock",
        15 => "terminated",
        _ => return None,
    })
}

/// An invocation as the invoker asked for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvokeRequest {
    /// The event, as bytes; the runtime receives them unchanged.
    pub payload: Vec<u8>,
    /// The event's content type; the runtime sees `application/json` when absent.
    pub content_type: Option<String>,
    /// The decoded client context (a JSON document), for `Lambda-Runtime-Client-Context`.
    pub client_context: Option<String>,
    /// The Cognito identity JSON, for `Lambda-Runtime-Cognito-Identity`.
    pub cognito_identity: Option<String>,
    /// The X-Ray trace header; generated when absent.
    pub trace_id: Option<String>,
    /// The tenant id of a tenant-isolated function, for `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
    /// The ARN as invoked (with a qualifier); `None` means the function's unqualified ARN.
    pub invoked_arn: Option<String>,
    /// `X-Amz-Log-Type: Tail`: the answer waits until the invocation is complete, so that the
    /// log it carries ends with the REPORT (decision *durations*).
    pub log_tail: bool,
}

impl InvokeRequest {
    /// The bytes it holds: its payload and the invoker's details (what a queue of them costs).
    pub fn bytes(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        self.payload.len()
            + text(&self.content_type)
            + text(&self.client_context)
            + text(&self.cognito_identity)
            + text(&self.trace_id)
            + text(&self.tenant_id)
            + text(&self.invoked_arn)
    }
}

/// An invocation as the runtime receives it: immutable once created. The core keeps it (queued,
/// then running); `/next` answers borrow it through [`Lifecycle::invocation`](super::Lifecycle::invocation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// The request id the core assigned.
    pub request_id: RequestId,
    /// The trace header, the invoker's or one the core generated.
    pub trace_id: TraceId,
    /// Everything else, as the invoker sent it.
    pub request: InvokeRequest,
}

/// Whether an init is the environment's first or one retried inside an invocation
/// (`phase` in the Telemetry API's init events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitPhase {
    /// The environment's first init, under the 10 s init limit.
    Init,
    /// A suppressed init, run inside an invocation after a failure or reset, under the
    /// function timeout.
    Invoke,
}

impl InitPhase {
    /// The value Lambda uses on the wire and in `INIT_REPORT`.
    pub fn as_str(self) -> &'static str {
        match self {
            InitPhase::Init => "init",
            InitPhase::Invoke => "invoke",
        }
    }
}

/// How the environment came to be initialised (`AWS_LAMBDA_INITIALIZATION_TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitType {
    /// Started by the first invocation.
    OnDemand,
    /// Started ahead of any invocation (`--eager-init`).
    ProvisionedConcurrency,
    /// A Managed Instances environment, started ahead of any invocation (RIE
    /// `internal/lambda-managed-instances/interop/model.go`, `InitializationType`).
    ManagedInstances,
    /// SnapStart: the init whose end is the snapshot (RIE `internal/lambda/telemetry/events_api.go`,
    /// `InitTypeInitCaching`).
    SnapStart,
}

impl InitType {
    /// The value Lambda uses on the wire and in the environment.
    pub fn as_str(self) -> &'static str {
        match self {
            InitType::OnDemand => "on-demand",
            InitType::ProvisionedConcurrency => "provisioned-concurrency",
            InitType::ManagedInstances => "lambda-managed-instances",
            InitType::SnapStart => "snap-start",
        }
    }
}

/// How a phase ended (`status` in the Telemetry API's platform events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It completed.
    Success,
    /// The function reported an error.
    Error,
    /// The runtime failed (it exited, or its response could not be taken).
    Failure,
    /// It ran out of time.
    Timeout,
}

impl Status {
    /// The value Lambda uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Failure => "failure",
            Status::Timeout => "timeout",
        }
    }
}

/// What the runtime posted for an invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeResult {
    /// `/response`.
    Response {
        /// The bytes, unchanged.
        body: Vec<u8>,
        /// The runtime's `Content-Type`.
        content_type: Option<String>,
    },
    /// `/error`.
    Error(FunctionError),
    /// A `/response` body over the payload limit: the runtime got 413.
    TooLarge,
    /// A `/response` or `/error` whose connection closed before its body was complete.
    Truncated,
    /// A `/response` with `Lambda-Runtime-Function-Response-Mode` other than `streaming`: the
    /// runtime got 400 `InvalidFunctionResponseMode`.
    InvalidResponseMode,
    /// A streamed `/response` (`Lambda-Runtime-Function-Response-Mode: streaming`) has ended.
    Streamed {
        /// The bytes already forwarded to a streaming invoker as they came.
        forwarded: u64,
        /// How the stream ended.
        end: StreamEnd,
    },
}

/// How a streamed response ended (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming>).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// Complete. `body` holds the bytes not forwarded as they came (all of them for a buffered
    /// invoker).
    Complete {
        /// The bytes not yet forwarded.
        body: Vec<u8>,
        /// The runtime's `Content-Type`.
        content_type: Option<String>,
    },
    /// The runtime reported an error mid-stream, in the `Lambda-Runtime-Function-Error-Type`
    /// and `-Body` trailers (or in those lines at the end of the body).
    Error(FunctionError),
    /// The stream went past `limit` bytes.
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The runtime's connection closed mid-stream.
    Truncated,
}

/// An error a runtime reported, on `/error` or `/init/error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionError {
    /// The error type, normalised as rapid does (`Lambda-Runtime-Function-Error-Type`, see the Runtime API).
    pub error_type: String,
    /// The body as posted (errorCause already stripped where the content type asks for it).
    pub body: Vec<u8>,
    /// The content type to forward with the body.
    pub content_type: Option<String>,
}

/// What the invoker receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The runtime's response.
    Response {
        /// The bytes, unchanged.
        body: Vec<u8>,
        /// The runtime's `Content-Type`.
        content_type: Option<String>,
    },
    /// The runtime reported an error (`/error`, or `/init/error` for the invocation that waited
    /// for the init).
    FunctionError(FunctionError),
    /// The platform answers for the function.
    Failure(Failure),
}

impl Outcome {
    /// The error type the invocation ended with, if it did not succeed.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Outcome::Response { .. } => None,
            Outcome::FunctionError(e) => Some(&e.error_type),
            Outcome::Failure(f) => Some(f.error_type()),
        }
    }
}

/// Failures the platform reports on the function's behalf (the invoker's answers, `api::invoke`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The function timeout (or, for an init, the limit that applied) passed.
    Timeout {
        /// The limit that passed.
        after: Micros,
    },
    /// The runtime process exited.
    RuntimeExit(ExitStatus),
    /// The runtime could not be started at all.
    InvalidEntrypoint {
        /// The operating system's reason.
        message: String,
    },
    /// The runtime's response was larger than Lambda accepts.
    ResponseTooLarge,
    /// The runtime's response was cut short.
    TruncatedResponse,
    /// A streamed response went past its limit.
    StreamTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The runtime posted a response mode Lambda does not know.
    InvalidResponseMode,
    /// The simulator shut down before the invocation completed.
    Shutdown,
    /// An external extension exited when Lambda did not expect it to.
    ExtensionCrash {
        /// The extension.
        name: Arc<str>,
        /// How it ended.
        status: ExitStatus,
    },
    /// An external extension could not be started.
    ExtensionLaunch {
        /// The extension.
        name: Arc<str>,
        /// The operating system's reason.
        message: String,
    },
    /// An extension posted `init/error` or `exit/error`.
    ExtensionError {
        /// The extension.
        name: Arc<str>,
        /// Which call.
        kind: ExtensionErrorKind,
        /// Its `Lambda-Extension-Function-Error-Type`.
        error_type: String,
    },
    /// SnapStart: the restore the invocation waited for failed (its after-restore hooks
    /// reported an error, the runtime exited) or ran out of time. The Invoke API answers
    /// `SnapStartException` or `SnapStartTimeoutException`, not a function error.
    Restore {
        /// It ran out of time.
        timeout: bool,
    },
}

impl Failure {
    /// Whether `error_type` is one [`Failure::error_type`] gives: the platform's, reported on
    /// the function's behalf, not the function's own.
    pub fn is_platform_error_type(error_type: &str) -> bool {
        error_type.starts_with("Sandbox.")
            || error_type.starts_with("Extension.")
            || matches!(
                error_type,
                "Runtime.ExitError"
                    | "Runtime.InvalidEntrypoint"
                    | "Runtime.TruncatedResponse"
                    | "Runtime.InvalidResponseModeHeader"
                    | "Function.ResponseSizeTooLarge"
            )
    }

    /// The Lambda error type.
    #[inline(never)]
    pub fn error_type(&self) -> &'static str {
        match self {
            Failure::Timeout { .. } => "Sandbox.Timedout",
            Failure::RuntimeExit(_) => "Runtime.ExitError",
            Failure::InvalidEntrypoint { .. } => "Runtime.InvalidEntrypoint",
            Failure::ResponseTooLarge => "Function.ResponseSizeTooLarge",
            Failure::TruncatedResponse => "Runtime.TruncatedResponse",
            Failure::StreamTooLarge { .. } => "Function.ResponseSizeTooLarge",
            Failure::InvalidResponseMode => "Runtime.InvalidResponseModeHeader",
            Failure::Shutdown => "Sandbox.Shutdown",
            Failure::ExtensionCrash { .. } => "Extension.Crash",
            Failure::ExtensionLaunch { .. } => "Extension.LaunchError",
            Failure::ExtensionError {
                kind: ExtensionErrorKind::Init,
                ..
            } => "Extension.InitError",
            Failure::ExtensionError {
                kind: ExtensionErrorKind::Exit,
                ..
            } => "Extension.ExitError",
            Failure::Restore { timeout: false } => "SnapStartException",
            Failure::Restore { timeout: true } => "SnapStartTimeoutException",
        }
    }

    /// The Lambda error message for invocation `id`.
    pub fn message(&self, id: RequestId) -> String {
        match self {
            Failure::Timeout { after } => {
                let ms = after.as_millis();
                format!(
                    "RequestId: {id} Error: Task timed out after {}.{:02} seconds",
                    ms / 1000,
                    (ms % 1000) / 10
                )
            }
            Failure::RuntimeExit(status) => {
                format!("RequestId: {id} Error: Runtime exited with error: {status}")
            }
            Failure::InvalidEntrypoint { message } => format!("RequestId: {id} Error: {message}"),
            Failure::ResponseTooLarge => format!(
                "Response payload size exceeded maximum allowed payload size ({} bytes).",
                super::MAX_RESPONSE_BYTES
            ),
            Failure::TruncatedResponse => {
                format!("RequestId: {id} Error: the runtime's response was truncated")
            }
            Failure::StreamTooLarge { limit } => format!(
                "Response payload size exceeded maximum allowed payload size ({limit} bytes)."
            ),
            Failure::InvalidResponseMode => format!(
                "RequestId: {id} Error: the runtime posted an invalid Lambda-Runtime-Function-Response-Mode"
            ),
            Failure::Shutdown => {
                format!(
                    "RequestId: {id} Error: the simulator shut down before the invocation completed"
                )
            }
            Failure::ExtensionCrash { name, status } => {
                format!("RequestId: {id} Error: extension {name} exited with error: {status}")
            }
            Failure::ExtensionLaunch { name, message } => {
                format!("RequestId: {id} Error: extension {name} could not start: {message}")
            }
            Failure::ExtensionError {
                name,
                kind,
                error_type,
            } => {
                let call = match kind {
                    ExtensionErrorKind::Init => "init/error",
                    ExtensionErrorKind::Exit => "exit/error",
                };
                format!("RequestId: {id} Error: extension {name} posted {call}: {error_type}")
            }
            // The Invoke API's texts (its SnapStartException and SnapStartTimeoutException).
            Failure::Restore { timeout: false } => "The afterRestore() runtime hook encountered an error. For more information, check the Amazon CloudWatch logs.".into(),
            Failure::Restore { timeout: true } => "Lambda couldn't restore the snapshot within the timeout limit.".into(),
        }
    }
}

/// Microsecond timestamps of one invocation, on the simulator's clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    /// When the invocation arrived.
    pub received: Micros,
    /// When it was released to the runtime (`None` if it never was).
    pub released: Option<Micros>,
    /// When its answer was ready.
    pub responded: Micros,
    /// The init this invocation waited for, if it triggered one.
    pub init: Option<Micros>,
}

impl Timings {
    /// Time spent waiting for the environment (queue and init).
    pub fn queued(&self) -> Micros {
        self.released.unwrap_or(self.responded).since(self.received)
    }

    /// Time from release to the runtime until the answer (the runtime's own response time).
    pub fn duration(&self) -> Micros {
        self.released
            .map_or(Micros::ZERO, |released| self.responded.since(released))
    }

    /// Time from arrival to answer.
    pub fn total(&self) -> Micros {
        self.responded.since(self.received)
    }
}

/// The core's answer to an invoker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvokeReply {
    /// The invocation's request id.
    pub request_id: RequestId,
    /// What happened.
    pub outcome: Outcome,
    /// When it happened.
    pub timings: Timings,
}

/// A lifecycle event: printed as CloudWatch-style lines now, rendered as Telemetry API
/// platform events later. Typed data; `api` renders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformEvent {
    /// An init began (`platform.initStart`).
    InitStart {
        /// First init or suppressed.
        phase: InitPhase,
        /// On demand or ahead of time.
        kind: InitType,
    },
    /// The runtime's part of an init ended: its first `/next`, or the failure that ended the
    /// init before it (`platform.initRuntimeDone`). Extensions may still be initialising.
    InitRuntimeDone {
        /// First init or suppressed.
        phase: InitPhase,
        /// On demand or ahead of time.
        kind: InitType,
        /// How it ended.
        status: Status,
        /// Why, when it failed.
        error_type: Option<String>,
    },
    /// An init ended, extensions included (`platform.initReport`; `INIT_REPORT`).
    InitDone {
        /// First init or suppressed.
        phase: InitPhase,
        /// On demand or ahead of time.
        kind: InitType,
        /// How it ended.
        status: Status,
        /// Why, when it failed.
        error_type: Option<String>,
        /// From start to end.
        duration: Micros,
    },
    /// An invocation was released to the runtime (`platform.start`; `START`).
    Start {
        /// The invocation.
        request_id: RequestId,
        /// Its trace header.
        trace_id: TraceId,
        /// Its tenant, if any.
        tenant_id: Option<String>,
    },
    /// The function timeout passed (`Task timed out after … seconds`).
    TimedOut {
        /// The invocation.
        request_id: RequestId,
        /// The limit.
        after: Micros,
    },
    /// The runtime process exited when Lambda did not expect it to.
    RuntimeExited {
        /// The invocation it was running, if any.
        request_id: Option<RequestId>,
        /// How it ended.
        status: ExitStatus,
    },
    /// The runtime finished with an invocation: back on `/next`, or reset
    /// (`platform.runtimeDone`).
    RuntimeDone {
        /// The invocation.
        request_id: RequestId,
        /// How it ended.
        status: Status,
        /// Why, when it did not succeed.
        error_type: Option<String>,
        /// From release to the runtime's next `/next` (or the reset).
        duration: Micros,
        /// Bytes of the runtime's response.
        produced_bytes: u64,
        /// When its response came, if it did (`responseLatency`, `responseDuration`).
        response: Option<ResponseTimes>,
    },
    /// SnapStart: an environment began its restore from the snapshot (`platform.restoreStart`;
    /// `RESTORE_START`).
    RestoreStart,
    /// The runtime's after-restore hooks ended: its `/next`, its `/restore/error`, or the
    /// failure that ended them (`platform.restoreRuntimeDone`).
    RestoreRuntimeDone {
        /// How they ended.
        status: Status,
        /// Why, when they did not succeed.
        error_type: Option<String>,
    },
    /// A restore ended (`platform.restoreReport`; `RESTORE_REPORT`).
    RestoreReport {
        /// How it ended.
        status: Status,
        /// Why, when it did not succeed.
        error_type: Option<String>,
        /// From the restore's start to its end.
        duration: Micros,
    },
    /// An extension took part in an init (`platform.extension`; `EXTENSION`).
    Extension {
        /// Its name.
        name: Arc<str>,
        /// Its state at the end of the init (`Ready`, or the state it failed in).
        state: &'static str,
        /// What it subscribed to.
        events: Events,
    },
    /// An external extension exited when Lambda did not expect it to.
    ExtensionExited {
        /// Its name.
        name: Arc<str>,
        /// How it ended.
        status: ExitStatus,
    },
    /// An invocation completed (`platform.report`; `END` and `REPORT`).
    Report {
        /// The invocation.
        request_id: RequestId,
        /// How it ended.
        status: Status,
        /// Why, when it did not succeed.
        error_type: Option<String>,
        /// From release to completion (decision *durations*).
        duration: Micros,
        /// The on-demand init this invocation followed, if any.
        init_duration: Option<Micros>,
        /// The runtime process, for its peak memory.
        runtime: Option<ChildId>,
        /// What each INVOKE-subscribed extension added after the runtime's response.
        extensions: Overheads,
        /// When the runtime's response was complete, if it was: the `extensionOverhead` span
        /// starts there.
        responded: Option<Micros>,
        /// The invocation's tenant, under tenant isolation.
        tenant_id: Option<String>,
        /// SnapStart: the restore this invocation followed, if any.
        restore_duration: Option<Micros>,
    },
}

/// When an invocation's response came, on the simulator's clock: the Telemetry API's
/// `responseLatency` span runs from `released` to `started`, `responseDuration` from `started`
/// to `completed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseTimes {
    /// The invocation was released to the runtime.
    pub released: Micros,
    /// The response's head arrived.
    pub started: Micros,
    /// Its body was complete.
    pub completed: Micros,
}

/// What the reactor still has on the wire for the environment, reported with
/// [`Lifecycle::handle_wire`](super::Lifecycle::handle_wire): the environment is not frozen
/// while either is non-zero (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wire {
    /// Replies (to an invoker, to the runtime's result) not yet fully written to their
    /// sockets.
    pub unwritten_replies: usize,
    /// Telemetry batches sent to a subscriber and not yet answered.
    pub batches_in_flight: usize,
}

impl Wire {
    /// Nothing on the wire.
    pub fn is_quiet(&self) -> bool {
        self.unwritten_replies == 0 && self.batches_in_flight == 0
    }
}

/// A side effect the core asks for. See [`Lifecycle::poll_action`](super::Lifecycle::poll_action)
/// for the order in which they must be carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answer a runtime's `/next` with an invocation.
    Release {
        /// The parked `/next`.
        waiter: WaiterId,
        /// The invocation to render: [`Lifecycle::invocation`](super::Lifecycle::invocation)
        /// lends it.
        request_id: RequestId,
        /// The absolute deadline (`Lambda-Runtime-Deadline-Ms`), on the simulator's clock.
        deadline: Micros,
    },
    /// SnapStart: answer a runtime's `/restore/next` (200, no body): the environment is
    /// restored.
    Restored(WaiterId),
    /// Answer an extension's `event/next`.
    ReleaseExtension {
        /// The parked `event/next`.
        waiter: WaiterId,
        /// What to answer with.
        event: ExtensionEvent,
    },
    /// Answer an invoker.
    Reply {
        /// The invoker.
        invoker: WaiterId,
        /// The answer.
        reply: InvokeReply,
    },
    /// Close a parked connection without an answer: it belonged to a runtime that is gone.
    Close(WaiterId),
    /// Start a child process.
    Spawn {
        /// The environment it belongs to: its Runtime API, its log stream.
        env: EnvId,
        /// The id the core will know it by.
        child: ChildId,
        /// What it is.
        role: Role,
        /// The init type to put in its environment.
        init_type: InitType,
    },
    /// Signal a child's process group.
    Signal {
        /// The child.
        child: ChildId,
        /// The signal.
        signal: Signal,
    },
    /// Freeze the environment (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>): SIGSTOP the process groups of its runtime
    /// and of every extension, and hold its telemetry batches until the [`Action::Thaw`].
    Freeze(EnvId),
    /// Thaw it: SIGCONT those process groups and let telemetry flow again. Comes before any
    /// release or signal that a frozen environment would otherwise get.
    Thaw(EnvId),
    /// A lifecycle event of an environment, to log and to deliver as its telemetry.
    Event(EnvId, PlatformEvent),
    /// Shutdown is complete: every invoker has its answer and the children are gone.
    Finished,
}

/// Why the core refused a request; `api` maps each to its status code and error body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The request id is not an invocation in flight (400 `InvalidRequestID`).
    InvalidRequestId,
    /// Managed Instances: a result for an invocation that has timed out already (410
    /// `InvokeTimeout`).
    InvokeTimeout,
    /// The runtime may not do this in its current state (403 `InvalidStateTransition`).
    InvalidStateTransition {
        /// The runtime's state, as rapid names it.
        from: &'static str,
        /// The state the request asked for.
        to: &'static str,
    },
    /// The invocation queue is full (429 `TooManyRequestsException`).
    TooManyRequests,
    /// The queue of `Event` invocations is full (429 `TooManyRequestsException`): lambda-sim's
    /// bound, where Lambda's queue is the service's.
    EventQueueFull,
    /// A tenant id where the function has no tenant isolation (`required: false`), or none
    /// where it has (400 `InvalidParameterValueException`,
    /// <https://docs.aws.amazon.com/lambda/latest/dg/tenant-isolation-troubleshooting.html>).
    Tenancy {
        /// The function has tenant isolation: the invocation must name a tenant.
        required: bool,
    },
    /// A registration after the runtime's first `/next` (403 `Extension.RegistrationClosed`).
    RegistrationClosed,
    /// A second extension with the same name (403 `Extension.InvalidExtensionState`).
    ExtensionNameTaken,
    /// An eleventh extension (403 `Extension.TooManyExtensions`).
    TooManyExtensions,
    /// An internal extension asked for SHUTDOWN (403 `Extension.InvalidEventType`).
    ShutdownForInternal,
    /// Managed Instances: an external extension asked for INVOKE, or an internal one for any
    /// event (403 `Extension.InvalidEventType`).
    EventNotAllowed {
        /// The extension is internal (it may subscribe to nothing).
        internal: bool,
    },
    /// An identifier no registered extension has (403 `Extension.UnknownExtensionIdentifier`).
    UnknownExtension(Uuid),
    /// The extension may not do this in its state (403 `Extension.InvalidExtensionState`).
    ExtensionState {
        /// The extension's state, as rapid names it.
        from: &'static str,
        /// The state the request asked for.
        to: &'static str,
    },
    /// A subscription after the init (403 `Telemetry.SubscriptionClosed`).
    SubscriptionClosed(TelemetryApi),
    /// A subscription through one API by an extension subscribed through the other (<https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html>:
    /// "the second returns an error"); carries the API it already holds.
    SubscribedElsewhere(TelemetryApi),
}

impl PlatformEvent {
    /// The invocation it is about, if it is about one.
    pub fn request_id(&self) -> Option<RequestId> {
        match self {
            PlatformEvent::Start { request_id, .. }
            | PlatformEvent::TimedOut { request_id, .. }
            | PlatformEvent::RuntimeDone { request_id, .. }
            | PlatformEvent::Report { request_id, .. } => Some(*request_id),
            PlatformEvent::RuntimeExited { request_id, .. } => *request_id,
            _ => None,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::InvalidRequestId => f.write_str("Invalid request ID"),
            Rejection::InvokeTimeout => f.write_str("Invoke timeout"),
            Rejection::InvalidStateTransition { from, to } => write!(
                f,
                "State transition from {from} to {to} failed for runtime. Error: State transition is not allowed"
            ),
            Rejection::TooManyRequests => f.write_str("Rate Exceeded."),
            Rejection::EventQueueFull => {
                f.write_str("The queue of asynchronous invocations is full (--max-event-queue).")
            }
            // AWS's text for both (tenant-isolation-troubleshooting.html).
            Rejection::Tenancy { .. } => f.write_str(
                "Tenant ID configuration not specified or passed to a function when tenant isolation is not enabled",
            ),
            Rejection::RegistrationClosed => f.write_str("Extension registration closed already"),
            Rejection::ExtensionNameTaken => {
                f.write_str("Extension with this name already registered")
            }
            Rejection::TooManyExtensions => {
                write!(f, "Extension limit ({MAX_EXTENSIONS}) reached")
            }
            Rejection::ShutdownForInternal => {
                f.write_str("SHUTDOWN: ShutdownEventNotSupportedForInternalExtension")
            }
            Rejection::EventNotAllowed { internal: false } => {
                f.write_str("INVOKE: ErrorInvalidEventType")
            }
            Rejection::EventNotAllowed { internal: true } => {
                f.write_str("No events allowed for internal extensions")
            }
            Rejection::UnknownExtension(id) => write!(f, "Unknown extension {id}"),
            Rejection::ExtensionState { from, to } => write!(
                f,
                "State transition from {from} to {to} failed for extension. Error: State transition is not allowed"
            ),
            Rejection::SubscriptionClosed(TelemetryApi::Telemetry) => {
                f.write_str("Telemetry API subscription is closed")
            }
            Rejection::SubscriptionClosed(TelemetryApi::Logs) => {
                f.write_str("Logs API subscription is closed")
            }
            Rejection::SubscribedElsewhere(TelemetryApi::Telemetry) => {
                f.write_str("The extension is subscribed through the Telemetry API already")
            }
            Rejection::SubscribedElsewhere(TelemetryApi::Logs) => {
                f.write_str("The extension is subscribed through the Logs API already")
            }
        }
    }
}

impl std::error::Error for Rejection {}

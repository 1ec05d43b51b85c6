//! The lifecycle machine: every rule of Lambda's execution environment, pure and sans-IO.
//!
//! It never reads a clock and never touches a socket or a process. The reactor passes `now` in
//! and carries the [`Action`]s out; tests do the same with a virtual clock.
//!
//! # Calling convention
//! Methods come in four kinds (quinn-proto's taxonomy):
//! - getters on `&self` ([`Lifecycle::runtime_state`], [`Lifecycle::check_runtime_result`], ...);
//! - `handle_*(now, ...)` for events from the world: a runtime's or an extension's request,
//!   a child's exit, a connection closing, a timer;
//! - commands: [`Lifecycle::invoke`], [`Lifecycle::shutdown`];
//! - `poll_*` for what the core wants done: [`Lifecycle::poll_action`], then
//!   [`Lifecycle::poll_timeout`].
//!
//! **Mutate, then drain:** actions queue up in the order the core decides them. Carry them out
//! in that order, draining `poll_action` to `None` after each input (the reactor does so after
//! every readiness event, tests after every call) and always before waiting for more input; then
//! ask `poll_timeout` when to call [`Lifecycle::handle_timeout`]. The core never depends on an
//! action having been carried out: an action that fails (a spawn) comes back as a new event,
//! after the drain.
//!
//! # Transitions
//! Per environment: one runtime, up to ten extensions, one invocation in flight (classic
//! Lambda; decision *Managed Instances* for several in flight). The machine holds
//! [`Config::concurrency`] environments (decision *several environments*); the table is one
//! environment's, and each input names the environment it concerns (the reactor knows it from
//! the Runtime API the request came to), except invocations, which the machine routes. The runtime's states are rapid's (RIE `internal/lambda/core/states.go`), the
//! extensions' too (`internal/lambda/core/agent_state_names.go`); `Phase` adds the
//! environment's own. `Lifecycle::progress` (private) moves the environment on whenever what a
//! phase waits for is there. The sources are linked at the end; "decision" names one of
//! lambda-sim's own rules, below the table.
//!
//! | phase (runtime state) | input | result | source |
//! |---|---|---|---|
//! | `Down` (NotStarted) | invocation queued | init: external extensions spawned; first init of the environment: phase `init`, 10 s limit; later ones: phase `invoke`, function timeout | [environment]; decision *init* |
//! | `Init`, stage extensions | every external extension registered | runtime spawned | [extensions-api] ("Init phase"); RIE `internal/lambda/rapid/handlers.go` `doRuntimeDomainInit` |
//! | `Init`, stages extensions and runtime | `register` | an external one by its name, any other name internal (no SHUTDOWN); a duplicate name or an eleventh: 403 | [extensions-api]; RIE `internal/lambda/core/registrations.go` |
//! | `Init`, stage runtime (Started) | runtime `/next` | registration closes; waiter parked | [extensions-api] ("Init phase") |
//! | `Init`, stage await (Ready) | every extension on `event/next` | init done, `Ready` | [extensions-api] ("Init phase") |
//! | `Init` | `/init/error`, an extension's `init/error`, runtime or extension exits, init limit | init fails, the environment stops (reason `failure` or `timeout`); a first on-demand init is then retried for the waiting invocation, any other answers it with the error | [runtime-api]; [extensions-api]; [environment]; decision *init* |
//! | `Down` | `/next` | external runtime: an init, then `Ready`; process: 403 | decision *external runtime* |
//! | `InitFailed` (InitError) | `/next` | 403 until the next invocation starts a new init | rapid `RuntimeInitErrorState`; decision *init* |
//! | `Ready` | `/next` | parked (longest-waiting first) | decision *parked waiters* |
//! | `Ready` | invocation + parked waiter | released to the runtime and, at the same moment, INVOKE to every INVOKE-subscribed extension; deadline = now + timeout, `Invoke` | [runtime-api]; [extensions-api] ("Invoke phase"); decision *init* |
//! | `Invoke` (Running) | `/next` | the same invocation rendered again | rapid `RuntimeRunningState.Ready` returns nil |
//! | `Invoke` (Running) | `/response`, `/error` | invoker answered now; RuntimeResponseSentState | [runtime-api]; [extensions-api] ("Invoke phase") |
//! | `Invoke` (RuntimeResponseSentState) | `/response`, `/error` | 403 | rapid `RuntimeResponseSentState` |
//! | `Invoke` (RuntimeResponseSentState) | `/next` | `runtimeDone`; complete once every INVOKE-subscribed extension is back on `event/next` too (REPORT with each one's overhead), `Ready` | [extensions-api] ("Invoke phase"); decision *durations* |
//! | `Invoke` | function timeout | invoker gets `Sandbox.Timedout` if unanswered; reset (reason `timeout`) | [environment] ("Failures during the invoke phase") |
//! | `Invoke` | runtime or extension exits, `exit/error` | invoker gets `Runtime.ExitError` / `Extension.*` if unanswered; reset (reason `failure`) | [environment]; RIE `internal/lambda/fatalerror/fatalerror.go` |
//! | `Ready` | runtime or extension exits, `exit/error` | reset (reason `failure`) | [environment] |
//! | any | `/response` for another id | 400 `InvalidRequestID` | rapid `AwsRequestIDValidator` |
//! | any but `Init` | `/init/error`; `register` | 403 | RIE `internal/lambda/rapi/handler/initerror.go`; [extensions-api] |
//! | any | shutdown | queued and unanswered invokers get `Sandbox.Shutdown`; the environment stops (reason `spindown`); `Finished` | [extensions-api] ("Shutdown phase"); decision *the queue* |
//! | `Ready`, none queued (idle), process runtime, freezing on | the reactor reports a quiet wire (`handle_wire`: every reply written, no telemetry batch in flight) | `Freeze` | [environment]: frozen when the runtime and each extension are done and nothing is pending |
//! | frozen | an invocation is released, or a stop (reset, shutdown) begins | `Thaw` before the release, the signals and SHUTDOWN | [environment] |
//!
//! **Stopping** (a reset, or shutdown; [extensions-api] "Shutdown phase", RIE
//! `internal/lambda/rapid/shutdown.go`): with no extension, the runtime is SIGKILLed; a reset
//! is then immediate, a shutdown waits for the exit. With extensions, the budget is 500 ms
//! (internal ones only) or 2000 ms: the runtime gets SIGTERM and 30 % of the budget (rapid's
//! `runtimeDeadlineShare`), then SIGKILL; then every external extension subscribed to SHUTDOWN
//! gets the event with the budget's deadline, the others SIGKILL; the stop completes when every
//! process has exited, or at the deadline with SIGKILL to what remains. A reset then goes
//! `Down` and the next invocation re-initialises runtime and extensions.
//!
//! # Decisions (where AWS leaves a choice)
//! - **Init.** On demand by default: the init starts with the first invocation, as on Lambda,
//!   reported `on-demand`, under its own 10 s limit; the first REPORT carries `Init Duration`.
//!   [`InitMode::Eager`] initialises at start-up and reports `provisioned-concurrency`, under
//!   [`PROVISIONED_INIT_TIMEOUT`] or the function timeout if that is longer. An
//!   invocation's deadline runs from its release to the runtime, not from its arrival. An
//!   on-demand init that fails in phase `init` (`/init/error`, an extension's `init/error`, a
//!   process exit or launch failure, the 10 s limit) is retried at once for the invocation that
//!   waited for it, once the failed runtime and extensions have stopped: a suppressed init,
//!   phase `invoke`, under the function timeout, which also bounds that invocation (its deadline
//!   runs from the retry's start) ([environment]: "If all three tasks do not complete within 10
//!   seconds, Lambda retries the Init phase at the time of the first function invocation with
//!   the configured function timeout"; a failing init also shows twice in Lambda's logs, phase
//!   `init` then phase `invoke`, so errors are retried as timeouts are). The invocation gets
//!   the error only if the retry fails too. Any later init (after a reset, always phase
//!   `invoke`) that fails answers its invocation at once, as do provisioned and Managed
//!   Instances inits, which no invocation waits for. After `/init/error` the runtime's `/next`
//!   is refused with 403.
//! - **Asynchronous invocations** ([`Lifecycle::invoke_event`]; [async]). `Event` invocations
//!   wait in the same first-in, first-out order, but apart in the bounds: the synchronous
//!   ones' bound does not count them, and they have their own, [`Config::max_event_queue`]
//!   of them accepted and not ended (queued, running, or waiting for a retry), whose refusal
//!   is [`Rejection::EventQueueFull`]. An attempt that fails (a function error, a timeout, a
//!   crash: not a shutdown) is retried with the same request id
//!   [`Config::retry_delay`] after it ended, twice that after a second failure, while fewer
//!   than [`Config::max_retry_attempts`] retries have run and the retry would start within
//!   [`Config::max_event_age`] of the first arrival ("If the function returns an error, by
//!   default Lambda attempts to run it two more times, with a one-minute wait between the
//!   first two attempts, and two minutes between the second and third attempts"). Each
//!   attempt answers its invoker; [`Lifecycle::event_retry`] says whether another is due. A
//!   shutdown drops the retries still waiting.
//! - **The queue.** Invocations wait first in, first out while the environment is busy, up to
//!   [`Config::max_queue`] of them (default [`DEFAULT_MAX_QUEUE`]) holding up to
//!   [`Config::max_queue_bytes`] (default [`DEFAULT_MAX_QUEUE_BYTES`]); past either, the
//!   Invoke API's 429. An invocation the idle environment takes at once never counts. With
//!   0, it is Lambda with reserved concurrency 1. Each failing init answers one invocation, so a
//!   crash-looping function answers every queued invocation rather than hanging it. At shutdown,
//!   queued invokers get `Sandbox.Shutdown`; the running invocation ends before anything is
//!   stopped, with its `runtimeDone`, END and REPORT: as it stands if the runtime has answered
//!   (it was only not back on `/next` yet), else with `Sandbox.Shutdown` (status `failure`).
//!   An invoker whose connection breaks (a reset) while queued is removed; one that leaves
//!   while its invocation runs does not stop it (nor does Lambda). An invoker's EOF is not
//!   leaving: it may be a half-close after the request, and the answer is still written (the
//!   reactor's rule, as Go's server has it).
//! - **Parked waiters.** Several `/next` calls may be parked at once (a runtime reconnecting, a
//!   benchmark): the longest-waiting one gets the next invocation. A waiter whose connection
//!   closes before its release is dropped, and the invocation waits for another. Parked long
//!   polls are never timed out ([runtime-api]: "the runtime ... may be frozen").
//! - **Durations.** REPORT's `Duration` and `platform.report`'s `durationMs` run from the release
//!   to the runtime until the invocation completes (the runtime and every INVOKE-subscribed
//!   extension back on next); `platform.runtimeDone`'s `durationMs` until the runtime's next
//!   `/next`. Billed duration is the ceiling of `Duration` in milliseconds. An invoker who asked
//!   for the log tail (`X-Amz-Log-Type: Tail`) is answered after the REPORT its log ends with.
//! - **External runtime** ([`RuntimeMode::External`]). No process is spawned: the core waits,
//!   without an init limit, for a runtime to connect (one under a debugger, a test's own client).
//!   Nothing is frozen. Timeouts still apply to invocations: the request id becomes invalid, and
//!   the runtime's next `/next` starts a new init. Parked connections stay through a reset.
//!
//! - **Managed Instances** ([`Config::max_concurrency`]; [managed], RIE
//!   `internal/lambda-managed-instances`). One environment runs up to M invocations at once
//!   over the same Runtime API. It initialises at start-up (reported
//!   `lambda-managed-instances`, under [`MANAGED_INIT_TIMEOUT`] or the function timeout if
//!   longer; no REPORT carries an `Init Duration`); the init is done once the extensions are
//!   ready and the runtime's first `/next` has come. After that the phase stays `Ready`: every
//!   parked `/next` takes the next invocation while fewer than M are in flight, and results
//!   come by id, in any order. An invocation is complete with its result (`runtimeDone`, END
//!   and REPORT then): no extension may subscribe to INVOKE (403
//!   `Extension.InvalidEventType`; an internal extension may subscribe to nothing), so none
//!   has to come back. Nothing is frozen ("continuously running"). A timeout ends its
//!   invocation only (`Sandbox.Timedout` to its invoker, status `timeout` on its REPORT); the
//!   environment and the other invocations go on, and the runtime's late `/response` or
//!   `/error` for it gets 410 `InvokeTimeout` once, for the last [`TIMED_OUT_REMEMBERED`]
//!   timed-out invocations, then `InvalidRequestID`. The runtime's exit, an extension's crash
//!   or error end every invocation in flight with that failure, each invoker answered once,
//!   and the environment is replaced at once (not after a failed init, which waits for the
//!   next invocation, as above). Invocations beyond the M slots wait in the queue, whose
//!   bound counts beyond the slots; AWS's docs say an environment whose workers are all busy
//!   rejects the invocation, and RIE answers `Runtime.Unavailable`: lambda-sim plays the
//!   service in front of the environment, which queues it, and `--max-queue 0` gives the
//!   429 at once. A shutdown ends those in flight with `Sandbox.Shutdown`.
//!
//! - **Several environments** ([`Config::concurrency`]; [concurrency]). Up to N environments,
//!   each with its own phase, timers, runtime, extensions, parked waiters and freeze, sharing
//!   the configuration, the id generator and one queue. After every input, queued invocations
//!   go, oldest first, to an environment that can take one now (`Ready`, a `/next` parked, a
//!   slot free), the first in order: environment 1 is reused first, so the others stay frozen
//!   while it keeps up. Otherwise, while more invocations wait than environments are
//!   initialising, the first environment that is down starts an init: a cold start, with its
//!   `Init Duration` on the REPORT of the invocation it takes. That environment *claims* one
//!   queued invocation: an environment that frees up meanwhile takes only what is queued
//!   beyond the claims, so the invocation that found no free environment waits for the new
//!   one's init, as on Lambda a request that finds no free environment is served by a new
//!   one (claims are counted, not named: the claiming environments take the oldest). A failed
//!   init drops its claim with the invocation it answers. A failure resets its own
//!   environment only. A result is taken only from the environment that holds its invocation
//!   (each has its own Runtime API; another's id is `InvalidRequestID`). The queue's bound
//!   counts beyond every environment's slots, so with `max_queue` 0 the invocation past N gets
//!   the 429 at once, as Lambda throttles a function at its reserved concurrency. Shutdown
//!   stops every environment at once, each with its own budget; `Finished` comes when all are
//!   done.
//!
//! - **Tenant isolation** ([`Config::per_tenant`]; [tenants]). Every invocation names a
//!   tenant, and none may where the function has no tenant isolation
//!   ([`Rejection::Tenancy`], AWS's `InvalidParameterValueException` for both). An environment
//!   belongs to the tenant it initialised for, and serves only that tenant's invocations
//!   ("execution environments are never reused across different tenants"): the routing above
//!   runs per tenant (an environment takes the oldest invocation of its own tenant; claims are
//!   counted per tenant). A tenant with none of its environments free gets a down one; with
//!   none down, an idle environment of a tenant with nothing queued is spun down for it
//!   (SHUTDOWN reason `spindown`, as Lambda reclaims an idle environment), and the tenant's
//!   init then starts as a new environment's (phase `init`). An environment reset after a
//!   failure stays its tenant's. Under tenant isolation nothing initialises at start-up (AWS:
//!   it excludes provisioned concurrency) and with an external runtime (one process, not an
//!   environment per tenant) only the rule on tenant ids applies. `platform.start` and
//!   `platform.report` carry the `tenantId`.
//!
//! - **SnapStart** ([`Config::snap_start`]; [snapstart], RIE `internal/lambda/rapid/handlers.go`
//!   `handleRestore`, `internal/lambda/core/states.go`). At start-up the first environment
//!   runs the snapshot's init, reported `snap-start` (`AWS_LAMBDA_INITIALIZATION_TYPE`), under
//!   [`PROVISIONED_INIT_TIMEOUT`] or the function timeout if longer. The runtime's part of it
//!   ends at its `/restore/next` (its before-snapshot hooks are done; the call is parked), or at
//!   a `/next` for a runtime without hooks, as rapid takes it; then the extensions' first
//!   `event/next`, as for any init. The environment is then the snapshot: initialised, frozen
//!   when the wire is quiet, taking no invocation until restored. An invocation that finds no
//!   free environment starts a restore of the snapshot, as it would a cold start (and claims
//!   the environment): `platform.restoreStart`, the thaw, `/restore/next` answered 200 with no
//!   body; the runtime's after-restore hooks run until its `/next`, within
//!   [`RESTORE_TIMEOUT`]; then `platform.restoreRuntimeDone`, `platform.restoreReport`, and
//!   the invocation, whose REPORT has `Restore Duration` (and no `Init Duration`: the init
//!   belongs to the snapshot). A runtime that went straight to `/next` is restored at once.
//!   `/restore/error`, the runtime's exit or the limit fail the restore: its invocation gets
//!   the Invoke API's `SnapStartException` (or `SnapStartTimeoutException`) and the
//!   environment stops. lambda-sim cannot copy a process: every environment after the
//!   snapshot's (another one, or one that failed) runs its own init out of sight (no init
//!   events or lines) and is restored as soon as its runtime is back on `/restore/next` (or
//!   `/next`). Extensions are part of the snapshot: they stay parked on `event/next` through
//!   the restore and see nothing of it until the INVOKE. `/restore/next` elsewhere is 403
//!   `InvalidStateTransition`, as is `/restore/error` outside a restore. Not under tenant
//!   isolation or Managed Instances, which Lambda offers without SnapStart.
//!
//! [snapstart]: https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-custom.html
//! [tenants]: https://docs.aws.amazon.com/lambda/latest/dg/tenant-isolation.html
//! [managed]: https://docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances-execution-environment.html
//! [concurrency]: https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html
//! [async]: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
//! [runtime-api]: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
//! [extensions-api]: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html
//! [environment]: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html

mod extensions;
mod inputs;
mod timers;
mod transitions;
mod types;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;

use crate::id::Rng;
use extensions::Extension;
use timers::TimerTable;

pub use crate::id::{RequestId, TraceId, Uuid};
pub use crate::time::Micros;
pub use types::{
    Action, ChildId, EnvId, Events, ExitStatus, ExtensionErrorKind, ExtensionEvent, ExtensionInfo,
    Failure, FunctionError, InitPhase, InitType, Invocation, InvokeReply, InvokeRequest,
    MAX_EXTENSIONS, Outcome, Overheads, PlatformEvent, Rejection, ResponseTimes, Role,
    RuntimeResult, ShutdownReason, Signal, Status, StreamEnd, TelemetryApi, Timings, WaiterId,
    Wire,
};

/// The largest response a runtime may post: `6 * 1024 * 1024 + 100` bytes
/// (RIE `interop.MaxPayloadSize`); larger is 413 for the runtime and
/// `Function.ResponseSizeTooLarge` for the invoker.
pub const MAX_RESPONSE_BYTES: u64 = 6 * 1024 * 1024 + 100;

/// The largest synchronous invoke payload: 6 MB (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>; the Invoke API's 413 past it).
pub const MAX_REQUEST_BYTES: u64 = 6 * 1024 * 1024;

/// Lambda's init limit for on-demand functions (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>).
pub const INIT_TIMEOUT: Micros = Micros::from_secs(10);

/// Lambda's default function timeout (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>).
pub const DEFAULT_TIMEOUT: Micros = Micros::from_secs(3);

/// How many invocations may wait for the environment by default (decision *the queue*).
pub const DEFAULT_MAX_QUEUE: usize = 1000;

/// How many bytes of invocations may wait for the environment by default (decision *the
/// queue*): 64 MiB, ten synchronous payloads at Lambda's 6 MB limit, 64 asynchronous ones.
pub const DEFAULT_MAX_QUEUE_BYTES: usize = 64 << 20;

/// The init limit of a Managed Instances environment: 130 s, or the function timeout if that is
/// longer (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances-execution-environment.html>, "Init phase").
pub const MANAGED_INIT_TIMEOUT: Micros = Micros::from_secs(130);

/// The init limit of provisioned concurrency (`--eager-init`) and SnapStart: 130 s, or the
/// function timeout if that is longer (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>,
/// "Init phase": "the 10-second timeout doesn't apply to functions that are using provisioned
/// concurrency or SnapStart").
pub const PROVISIONED_INIT_TIMEOUT: Micros = Micros::from_secs(130);

/// SnapStart: the limit on a restore, the runtime's after-restore hooks included
/// (<https://docs.aws.amazon.com/lambda/latest/dg/snapstart-troubleshooting.html>: "If an
/// after-restore runtime hook runs for longer than 10 seconds, the Restore phase times out").
pub const RESTORE_TIMEOUT: Micros = Micros::from_secs(10);

/// How many timed-out invocations a Managed Instances environment remembers, so that a late
/// result for one is answered `InvokeTimeout` rather than `InvalidRequestID` (RIE
/// `internal/lambda-managed-instances/invoke/timeout/timeout_cache.go`).
pub const TIMED_OUT_REMEMBERED: usize = 1000;

/// How long a shutdown without extensions waits for the killed runtime to exit before
/// finishing anyway.
pub const SHUTDOWN_GRACE: Micros = Micros::from_secs(2);

/// The shutdown budget with at least one external extension (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>, "Shutdown phase").
pub const SHUTDOWN_BUDGET_EXTERNAL: Micros = Micros::from_millis(2_000);

/// The shutdown budget with internal extensions only (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>, "Shutdown phase").
pub const SHUTDOWN_BUDGET_INTERNAL: Micros = Micros::from_millis(500);

/// The runtime's share of the shutdown budget, in percent (rapid `runtimeDeadlineShare`).
pub const RUNTIME_SHUTDOWN_SHARE: u64 = 30;

/// Where the runtime comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeMode {
    /// The simulator spawns the bootstrap as a child process.
    Process,
    /// Someone else runs the runtime (a debugger, a test's own client); see decision
    /// *external runtime*.
    External,
}

/// When the environment initialises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitMode {
    /// When the first invocation arrives (Lambda's default, and RIE's).
    OnDemand,
    /// At start-up, reported as `provisioned-concurrency` (`--eager-init`).
    Eager,
}

/// What the core needs to know about the function. No ARNs or commands: those are `api`'s
/// and the reactor's.
#[derive(Clone, Debug)]
pub struct Config {
    /// The function timeout.
    pub timeout: Micros,
    /// The limit on the environment's first init.
    pub init_timeout: Micros,
    /// How many invocations may wait beyond the one the environment is busy with.
    pub max_queue: usize,
    /// How many bytes of invocations ([`InvokeRequest::bytes`]) may wait beyond that one.
    pub max_queue_bytes: usize,
    /// Who runs the runtime.
    pub runtime: RuntimeMode,
    /// When to initialise.
    pub init: InitMode,
    /// The names of the external extensions, in launch order: each init spawns them
    /// ([`Role::Extension`] is an index here), and a registration under one of these names is
    /// external. At most [`MAX_EXTENSIONS`].
    pub extensions: Vec<String>,
    /// Whether to freeze the environment between invocations (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>). Only ever
    /// with [`RuntimeMode::Process`]: an external runtime is not ours to stop.
    pub freeze: bool,
    /// How many execution environments may run at once (Lambda's concurrency for the function;
    /// decision *several environments*). 0 counts as 1.
    pub concurrency: usize,
    /// Lambda Managed Instances: the environment runs up to this many invocations at once
    /// (the runtime's `AWS_LAMBDA_MAX_CONCURRENCY`); see decision *Managed Instances*. `None`
    /// is Lambda's default model: one invocation at a time.
    pub max_concurrency: Option<u32>,
    /// How many `Event` invocations may be accepted and not yet ended (queued, running, or
    /// waiting to be retried); decision *asynchronous invocations*.
    pub max_event_queue: usize,
    /// How many times a failed `Event` invocation is retried, 0 to 2 (Lambda's
    /// `MaximumRetryAttempts`, default 2).
    pub max_retry_attempts: u8,
    /// The oldest an `Event` invocation may be when a retry would start (Lambda's
    /// `MaximumEventAgeInSeconds`, default 6 h).
    pub max_event_age: Micros,
    /// The wait before the first retry; the second waits twice as long (Lambda's: one minute,
    /// then two).
    pub retry_delay: Micros,
    /// Tenant isolation (Lambda's `TenantIsolationMode: PER_TENANT`): see decision *tenant
    /// isolation*.
    pub per_tenant: bool,
    /// SnapStart: see decision *SnapStart*.
    pub snap_start: bool,
    /// Seeds request ids and trace ids.
    pub seed: u64,
    /// Unix time in microseconds at `Micros::ZERO`, for trace ids.
    pub epoch_us: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            timeout: DEFAULT_TIMEOUT,
            init_timeout: INIT_TIMEOUT,
            max_queue: DEFAULT_MAX_QUEUE,
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
            max_event_queue: DEFAULT_MAX_QUEUE,
            max_retry_attempts: 2,
            max_event_age: Micros::from_secs(6 * 3600),
            retry_delay: Micros::from_secs(60),
            runtime: RuntimeMode::Process,
            init: InitMode::OnDemand,
            extensions: Vec::new(),
            freeze: true,
            concurrency: 1,
            max_concurrency: None,
            per_tenant: false,
            snap_start: false,
            seed: 0,
            epoch_us: 0,
        }
    }
}

/// An invocation waiting for the environment.
#[derive(Debug)]
struct Queued {
    invoker: WaiterId,
    invocation: Invocation,
    received: Micros,
    /// An `Event` invocation's attempt: counted against its own bound, not the queue's.
    event: bool,
}

/// An `Event` invocation from its acceptance until its last attempt ends (decision
/// *asynchronous invocations*): where its attempts stand.
#[derive(Debug)]
struct EventRun {
    invoker: WaiterId,
    request_id: RequestId,
    /// While a retry is due: the invocation to queue again (the queue holds it otherwise).
    invocation: Option<Invocation>,
    first_received: Micros,
    /// The attempt under way, or the one that failed last, from 1.
    attempt: u8,
    /// When the next attempt is queued, once one is due.
    retry_at: Option<Micros>,
}

impl Queued {
    /// Timings of an invocation answered before it was released.
    fn timings(&self, now: Micros, init: Option<Micros>) -> Timings {
        Timings {
            received: self.received,
            released: None,
            responded: now,
            init,
        }
    }
}

/// The environment's phase; data lives only in the phase where it is valid.
#[allow(clippy::large_enum_variant)] // see `Invoke`
#[derive(Debug)]
enum Phase {
    /// No runtime is running. The next invocation starts an init.
    Down,
    /// Extensions and runtime are starting (rapid: Started).
    Init(Init),
    /// The runtime posted `/init/error` (rapid: InitError).
    InitFailed,
    /// The runtime is between invocations (rapid: Ready).
    Ready,
    /// An invocation is with the runtime and the extensions (rapid: Running, then
    /// RuntimeResponseSentState). Inline, not boxed: there is one phase per environment, and a
    /// box would be an allocation per invocation.
    Invoke(Running),
    /// A reset or a shutdown in progress: waiting for the processes to exit.
    Stopping(Stopping),
    /// Done; nothing more happens.
    Finished,
}

#[derive(Debug)]
struct Init {
    started: Micros,
    phase: InitPhase,
    kind: InitType,
    /// The limit that applies, if any (none for an external runtime).
    limit: Option<Micros>,
    /// For a suppressed init: the invocation whose timeout it counts against.
    for_request: Option<RequestId>,
    stage: InitStage,
    /// SnapStart: an init after the snapshot's, out of sight (no init events), the way to a
    /// restore.
    hidden: bool,
}

/// Where an init stands (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>, "Init phase").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InitStage {
    /// External extensions launched; waiting until all have registered.
    Extensions,
    /// The runtime is starting; registration is open until its first `/next`.
    Runtime,
    /// The runtime is on `/next`, registration closed; waiting for every extension's first
    /// `event/next`.
    AwaitExtensions,
    /// SnapStart: not an init but a restore. The runtime's `/restore/next` has been answered;
    /// its after-restore hooks run until its `/next`.
    Restore,
}

#[derive(Debug)]
struct Running {
    invocation: Invocation,
    /// `None` once answered, or once the invoker has gone.
    invoker: Option<WaiterId>,
    received: Micros,
    released: Micros,
    deadline: Micros,
    init_duration: Option<Micros>,
    /// SnapStart: the restore it followed.
    restore_duration: Option<Micros>,
    /// The runtime process, for the REPORT's memory.
    runtime: Option<ChildId>,
    /// When the head of the runtime's `/response` or `/error` arrived.
    response_started: Option<Micros>,
    /// The runtime's result, kept for an invoker who asked for the log tail: answered when the
    /// invocation is complete, after its report.
    held: Option<Outcome>,
    /// Set when the runtime has posted its result.
    response: Option<Responded>,
    /// When the runtime was back on `/next` after its result (`platform.runtimeDone`).
    runtime_done: Option<Micros>,
    /// INVOKE-subscribed extensions, by slot, not yet back on `event/next`.
    awaiting: u16,
    /// Extensions, by slot, back on `event/next` after their INVOKE.
    returned: u16,
    /// When each returned extension was back.
    back: [Micros; MAX_EXTENSIONS],
}

impl Running {
    /// Timings of this invocation answered at `now`.
    fn timings(&self, now: Micros) -> Timings {
        Timings {
            received: self.received,
            released: Some(self.released),
            responded: now,
            init: self.init_duration,
        }
    }

    /// What the runtime's result says so far: its status, error type and bytes produced, or
    /// success with nothing yet.
    fn result(&self) -> (Status, Option<String>, u64) {
        match &self.response {
            Some(resp) => (resp.status, resp.error_type.clone(), resp.produced_bytes),
            None => (Status::Success, None, 0),
        }
    }

    /// `platform.runtimeDone` for this invocation, the runtime done at `now`.
    #[inline(never)]
    fn runtime_done_event(&self, now: Micros) -> PlatformEvent {
        let (status, error_type, produced_bytes) = self.result();
        PlatformEvent::RuntimeDone {
            request_id: self.invocation.request_id,
            status,
            error_type,
            duration: now.since(self.released),
            produced_bytes,
            response: transitions::response_times(self),
        }
    }
}

#[derive(Debug)]
struct Responded {
    at: Micros,
    status: Status,
    error_type: Option<String>,
    produced_bytes: u64,
}

#[derive(Debug)]
struct Stopping {
    reason: ShutdownReason,
    /// A shutdown, not a reset: `Finished` at the end instead of `Down`.
    finish: bool,
    /// The SHUTDOWN event's deadline; whatever still runs then is killed.
    deadline: Micros,
    stage: StopStage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StopStage {
    /// The runtime has had SIGTERM and has its share of the budget.
    Runtime,
    /// The extensions have had SHUTDOWN (or SIGKILL); waiting for every process to exit.
    Exit,
}

/// How an init failed.
enum InitFailure {
    Reported(FunctionError),
    Timeout(Micros),
    Platform(Failure),
}

/// One execution environment: its runtime, its extensions, and what waits on them. A second
/// environment (Lambda concurrency) would be a second one of these.
#[derive(Debug)]
struct Environment {
    phase: Phase,
    /// Runtime `/next` calls parked while the runtime is Ready, longest-waiting first.
    parked: VecDeque<WaiterId>,
    /// The runtime process, while one is alive (or dying while the environment stops).
    runtime: Option<ChildId>,
    /// Registered extensions, in registration order: the index is the extension's slot.
    extensions: Vec<Extension>,
    /// Their names, by slot, once the init is done: shared by the reports.
    names: Option<Arc<[Arc<str>]>>,
    /// The external extensions' processes, by index in `Config::extensions`, while alive.
    external: Vec<Option<ChildId>>,
    /// How many inits have been started: the first is phase `init`, later ones `invoke`.
    inits: u32,
    /// The runtime and extensions are stopped (SIGSTOP) until the next thaw.
    frozen: bool,
    /// The duration of the last on-demand init, for the next REPORT.
    pending_init: Option<Micros>,
    /// SnapStart: the duration of the last restore, for the next REPORT.
    pending_restore: Option<Micros>,
    /// SnapStart: initialised and frozen as the snapshot, until a restore.
    snapshot: bool,
    /// SnapStart: the runtime's `/restore/next`, parked until the restore.
    restore_waiter: Option<WaiterId>,
    /// Started on demand for a queued invocation, which it serves when ready: no other
    /// environment takes that invocation meanwhile, as on Lambda the invocation that finds no
    /// warm environment waits for the cold start of a new one.
    claimed: bool,
    /// Tenant isolation: the tenant it initialised for, whose invocations only it serves.
    tenant: Option<String>,
    /// The start of a suppressed init and the invocation it counts against.
    budget: Option<(RequestId, Micros)>,
    timers: TimerTable,
    /// Managed Instances: the invocations in flight, in release order (the phase stays
    /// `Ready`). Empty, and never used, in the default model, where `Phase::Invoke` holds
    /// the one invocation.
    flying: Vec<Running>,
    /// Managed Instances: the invocations that timed out most recently, oldest first, at most
    /// [`TIMED_OUT_REMEMBERED`].
    timed_out: VecDeque<RequestId>,
    /// Managed Instances: the environment failed while serving; a new one initialises once
    /// this one has stopped.
    replace: bool,
}

impl Environment {
    fn new(config: &Config) -> Environment {
        Environment {
            phase: Phase::Down,
            parked: VecDeque::new(),
            runtime: None,
            extensions: Vec::new(),
            names: None,
            external: vec![None; config.extensions.len()],
            inits: 0,
            frozen: false,
            pending_init: None,
            pending_restore: None,
            snapshot: false,
            restore_waiter: None,
            claimed: false,
            tenant: None,
            budget: None,
            timers: TimerTable::default(),
            flying: Vec::with_capacity(config.max_concurrency.map_or(0, |m| m.min(1024) as usize)),
            timed_out: VecDeque::new(),
            replace: false,
        }
    }

    #[inline(never)]
    fn slot_of(&self, id: Uuid) -> Option<usize> {
        self.extensions.iter().position(|e| e.id == id)
    }

    /// The slot of extension `id`, if it is registered and has not reported an error (after
    /// which it may not move `to` any state).
    fn usable_slot(&self, id: Uuid, to: &'static str) -> Result<usize, Rejection> {
        let slot = self.slot_of(id).ok_or(Rejection::UnknownExtension(id))?;
        let state = self.extensions[slot].state;
        if state.failed() {
            return Err(Rejection::ExtensionState {
                from: state.as_str(),
                to,
            });
        }
        Ok(slot)
    }

    /// The runtime's state as rapid names it in 403 messages.
    #[inline(never)]
    fn runtime_state(&self) -> &'static str {
        match &self.phase {
            Phase::Down => "NotStarted",
            Phase::Init(init) if init.stage == InitStage::AwaitExtensions => "Ready",
            Phase::Init(init) if init.stage == InitStage::Restore => "Restoring",
            Phase::Ready if self.snapshot => "RestoreReady",
            Phase::Init(_) => "Started",
            Phase::InitFailed => "InitError",
            Phase::Ready => "Ready",
            Phase::Invoke(r) if r.response.is_none() => "Running",
            Phase::Invoke(_) => "RuntimeResponseSentState",
            Phase::Stopping(_) | Phase::Finished => "Shutdown",
        }
    }

    /// How many invocations are with the runtime.
    fn in_flight(&self) -> usize {
        match &self.phase {
            Phase::Invoke(_) => 1,
            _ => self.flying.len(),
        }
    }

    /// The invocation with the runtime, if any (with Managed Instances, the one released
    /// first of those in flight).
    fn current_request(&self) -> Option<RequestId> {
        match &self.phase {
            Phase::Invoke(r) => Some(r.invocation.request_id),
            _ => self.flying.first().map(|r| r.invocation.request_id),
        }
    }

    /// The invocation `request_id` while it is with the runtime.
    fn running(&self, request_id: RequestId) -> Option<&Running> {
        match &self.phase {
            Phase::Invoke(r) if r.invocation.request_id == request_id => Some(r),
            Phase::Invoke(_) => None,
            _ => self
                .flying
                .iter()
                .find(|r| r.invocation.request_id == request_id),
        }
    }

    /// [`Self::running`], to change.
    fn running_mut(&mut self, request_id: RequestId) -> Option<&mut Running> {
        match &mut self.phase {
            Phase::Invoke(r) if r.invocation.request_id == request_id => Some(r),
            Phase::Invoke(_) => None,
            _ => self
                .flying
                .iter_mut()
                .find(|r| r.invocation.request_id == request_id),
        }
    }

    /// Whether it is initialised with nothing to do: no invocation running, the last one
    /// complete (its extensions back too).
    fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Ready) && self.flying.is_empty()
    }

    /// Whether it may take a queued invocation now: `Ready`, a `/next` parked, and (with
    /// Managed Instances) a slot free.
    fn can_take(&self, slots: usize) -> bool {
        matches!(self.phase, Phase::Ready)
            && !self.parked.is_empty()
            && self.flying.len() < slots
            && !self.snapshot
    }

    /// Whether an invocation may start it: down, or (SnapStart) the snapshot to restore.
    fn startable(&self) -> bool {
        matches!(self.phase, Phase::Down | Phase::InitFailed) || self.snapshot
    }

    /// See [`Lifecycle::check_runtime_result`].
    fn check_runtime_result(&self, request_id: RequestId, error: bool) -> Result<(), Rejection> {
        match self.running(request_id) {
            Some(r) if r.response.is_some() => Err(Rejection::InvalidStateTransition {
                from: self.runtime_state(),
                to: if error {
                    "InvocationErrorResponse"
                } else {
                    "InvocationResponse"
                },
            }),
            Some(_) => Ok(()),
            None if self.timed_out.contains(&request_id) => Err(Rejection::InvokeTimeout),
            None => Err(Rejection::InvalidRequestId),
        }
    }

    /// See [`Lifecycle::check_init_error`].
    fn check_init_error(&self) -> Result<(), Rejection> {
        match &self.phase {
            Phase::Init(init) if init.stage != InitStage::AwaitExtensions => Ok(()),
            _ => Err(Rejection::InvalidStateTransition {
                from: self.runtime_state(),
                to: "InitError",
            }),
        }
    }

    /// Whether `child` is its runtime or one of its external extensions.
    fn owns(&self, child: ChildId) -> bool {
        self.runtime == Some(child) || self.external.contains(&Some(child))
    }

    /// When its next timer falls due.
    fn next_deadline(&self) -> Option<Micros> {
        if self.flying.is_empty() {
            return self.timers.next();
        }
        let flying = self.flying.iter().map(|r| r.deadline).min();
        match (self.timers.next(), flying) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What the environments share: the configuration, the invocation queue, the id generator and
/// the actions they ask for, in order.
#[derive(Debug)]
struct Shared {
    config: Config,
    /// `Config::extensions`, shared with the registrations and reports that name them.
    external_names: Vec<Arc<str>>,
    rng: Rng,
    queue: VecDeque<Queued>,
    actions: VecDeque<Action>,
    next_child: u64,
    /// Shutdown has begun: new invocations are answered `Sandbox.Shutdown`.
    shutting_down: bool,
    /// How many environments have claimed a queued invocation (`Environment::claimed`).
    claims: usize,
    /// SnapStart: the snapshot's init has begun; every later init is out of sight.
    snapshot_taken: bool,
    /// The `Event` invocations accepted and not yet ended.
    events: Vec<EventRun>,
}

impl Shared {
    /// Managed Instances' limit on invocations in flight in each environment, if they are
    /// Managed Instances.
    fn managed(&self) -> Option<usize> {
        self.config.max_concurrency.map(|m| m.max(1) as usize)
    }

    /// Whether environments start from a snapshot: SnapStart, with environments of our own,
    /// and not under tenant isolation or Managed Instances, which Lambda offers without it.
    fn snap_start(&self) -> bool {
        self.config.snap_start
            && self.config.runtime == RuntimeMode::Process
            && !self.config.per_tenant
            && self.managed().is_none()
    }

    /// How many invocations each environment may run at once.
    fn slots(&self) -> usize {
        self.managed().unwrap_or(1)
    }

    /// See [`Lifecycle::may_freeze`].
    fn may_freeze(&self, env: &Environment) -> bool {
        self.config.freeze
            && self.managed().is_none()
            && self.config.runtime == RuntimeMode::Process
            && !env.frozen
            && env.runtime.is_some()
            && env.is_idle()
            && self.queue.is_empty()
    }
}

/// One environment and what it shares with the others: the transitions and the inputs of one
/// environment are `Cx` methods (`transitions.rs`, `inputs.rs`).
struct Cx<'a> {
    s: &'a mut Shared,
    env: &'a mut Environment,
    id: EnvId,
}

/// The lifecycle machine. See the module docs for the calling convention and the transitions.
#[derive(Debug)]
pub struct Lifecycle {
    s: Shared,
    /// The execution environments, [`Config::concurrency`] of them, each `Down` until an
    /// invocation needs it.
    envs: Vec<Environment>,
    /// [`Action::Finished`] has gone out.
    finished: bool,
}

impl Lifecycle {
    /// The environments at `now`. With [`InitMode::Eager`], an external runtime, or Managed
    /// Instances, every one starts its init at once (drain [`Lifecycle::poll_action`] for the
    /// spawns).
    pub fn new(config: Config, now: Micros) -> Lifecycle {
        let external_names: Vec<Arc<str>> =
            config.extensions.iter().map(|n| Arc::from(&**n)).collect();
        let count = config.concurrency.max(1);
        let envs = (0..count).map(|_| Environment::new(&config)).collect();
        let mut lc = Lifecycle {
            s: Shared {
                rng: Rng::from_seed(config.seed),
                external_names,
                config,
                queue: VecDeque::new(),
                actions: VecDeque::new(),
                next_child: 0,
                shutting_down: false,
                claims: 0,
                snapshot_taken: false,
                events: Vec::new(),
            },
            envs,
            finished: false,
        };
        // A Managed Instances environment is initialised before any invocation (it has no
        // cold starts: <https://docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances-execution-environment.html>).
        let eager = lc.s.config.init == InitMode::Eager && !lc.s.config.per_tenant;
        if lc.s.snap_start() {
            // SnapStart: the first environment's init is the snapshot's, as when Lambda
            // publishes the version; the others restore from it when needed.
            let mut cx = lc.cx(EnvId(0));
            cx.start_init(now);
            cx.progress(now);
        } else if eager || lc.s.config.runtime == RuntimeMode::External || lc.s.managed().is_some()
        {
            for i in 0..count {
                let mut cx = lc.cx(EnvId(i as u16));
                cx.start_init(now);
                cx.progress(now);
            }
        }
        lc
    }

    /// Environment `env` with what it shares.
    fn cx(&mut self, env: EnvId) -> Cx<'_> {
        Cx {
            s: &mut self.s,
            env: &mut self.envs[env.index()],
            id: env,
        }
    }

    /// Environment `env`.
    fn env(&self, env: EnvId) -> &Environment {
        &self.envs[env.index()]
    }

    /// After every input: queued invocations go to the environments that can take them, the
    /// first such environment in order first, an environment that claimed one taking the
    /// head and another the oldest beyond the claims (decision *several environments*); while
    /// more wait than environments are starting, another environment starts its init. Then
    /// [`Action::Finished`], once every environment has finished.
    // Called after every input: one copy in the binary, not one per caller.
    #[inline(never)]
    fn settle(&mut self, now: Micros) {
        if !self.s.events.is_empty() {
            self.queue_due_retries(now);
        }
        let tenants = self.s.config.per_tenant && self.s.config.runtime == RuntimeMode::Process;
        loop {
            let next = match tenants {
                false => self.next_release(now),
                true => self.next_tenant_release(now),
            };
            // A release leaves nothing for `progress` to do: the invocation has only begun.
            let Some((env, at)) = next else { break };
            self.cx(env).release(now, at);
        }
        if self.s.shutting_down
            && !self.finished
            && self.envs.iter().all(|e| matches!(e.phase, Phase::Finished))
        {
            self.finished = true;
            self.s.actions.push_back(Action::Finished);
        }
    }

    /// For [`Self::settle`]: the next environment to take a queued invocation, and that
    /// invocation's place in the queue, once every cold start due has begun.
    fn next_release(&mut self, now: Micros) -> Option<(EnvId, usize)> {
        let slots = self.s.slots();
        while !self.s.queue.is_empty() {
            // Each environment starting for the queue will serve one of it: the others take
            // only what is queued beyond those.
            let claimed = self.s.claims;
            let unclaimed = self.s.queue.len() > claimed;
            let ready = self
                .envs
                .iter()
                .position(|e| e.can_take(slots) && (e.claimed || unclaimed));
            if let Some(i) = ready {
                // The claimed ones are the oldest: an environment that claimed takes the head,
                // another the oldest beyond them.
                let at = if self.envs[i].claimed { 0 } else { claimed };
                return Some((EnvId(i as u16), at));
            }
            // Eager inits (provisioned concurrency, Managed Instances) are for whatever comes.
            let starting = self
                .envs
                .iter()
                .filter(|e| matches!(e.phase, Phase::Init(_)) && !e.claimed)
                .count();
            let down = self.envs.iter().position(Environment::startable);
            match down {
                Some(i) if self.s.queue.len() > claimed + starting => self.cold_start(i, now),
                _ => break,
            }
        }
        None
    }

    /// Environment `i` starts its init (or, SnapStart, its restore) for a queued invocation,
    /// which it claims.
    fn cold_start(&mut self, i: usize, now: Micros) {
        let mut cx = self.cx(EnvId(i as u16));
        cx.claim();
        match cx.env.snapshot {
            true => cx.start_restore(now),
            false => cx.start_init(now),
        }
        cx.progress(now);
    }

    /// [`Self::next_release`] under tenant isolation: the same routing, per tenant (decision
    /// *tenant isolation*). Tenant mode is never the hot path, so each step counts afresh.
    fn next_tenant_release(&mut self, now: Micros) -> Option<(EnvId, usize)> {
        // Invocations that found no environment of their tenant free, starting or down.
        let mut unserved = 0;
        let mut i = 0;
        while i < self.s.queue.len() {
            let tenant = &self.s.queue[i].invocation.request.tenant_id;
            let ahead = (self.s.queue.range(..i))
                .filter(|q| q.invocation.request.tenant_id == *tenant)
                .count();
            let (mut claims, mut starting, mut down) = (0, 0, None);
            // The first of the tenant's environments free, and the first of those that claimed.
            let (mut free, mut free_claimed) = (None, None);
            for (k, e) in self.envs.iter().enumerate() {
                if e.startable() {
                    down = down.or(Some(k));
                }
                if e.tenant != *tenant {
                    continue;
                }
                claims += usize::from(e.claimed);
                starting += usize::from(!e.claimed && matches!(e.phase, Phase::Init(_)));
                if e.can_take(1) {
                    free = free.or(Some(k));
                    free_claimed = free_claimed.or(e.claimed.then_some(k));
                }
            }
            // The tenant's oldest invocations wait for the cold starts they claimed.
            let unclaimed = ahead >= claims;
            if let Some(k) = if unclaimed { free } else { free_claimed } {
                return Some((EnvId(k as u16), i));
            }
            if unclaimed && ahead >= claims + starting {
                let Some(k) = down else {
                    unserved += 1;
                    i += 1;
                    continue;
                };
                if self.envs[k].tenant != *tenant {
                    // Another tenant's environment, gone: a new one for this tenant.
                    self.envs[k].tenant = tenant.clone();
                    self.envs[k].inits = 0;
                }
                self.cold_start(k, now);
                continue;
            }
            i += 1;
        }
        // Idle environments of tenants with nothing queued are spun down for those left, less
        // those spinning down already (owned by nobody while they stop).
        let spinning = (self.envs.iter())
            .filter(|e| e.tenant.is_none() && matches!(e.phase, Phase::Stopping(_)))
            .count();
        let mut down = false;
        for _ in spinning..unserved {
            let queue = &self.s.queue;
            let spare = self.envs.iter().position(|e| {
                e.is_idle() && !(queue.iter()).any(|q| q.invocation.request.tenant_id == e.tenant)
            });
            let Some(e) = spare else { break };
            self.envs[e].tenant = None;
            self.cx(EnvId(e as u16))
                .stop(now, ShutdownReason::Spindown, false);
            // Without extensions the stop is immediate.
            down |= matches!(self.envs[e].phase, Phase::Down);
        }
        match down {
            true => self.next_tenant_release(now),
            false => None,
        }
    }

    // ----- getters -----

    /// The configuration it was built with.
    pub fn config(&self) -> &Config {
        &self.s.config
    }

    /// How many execution environments there are (each `Down` until needed).
    pub fn env_count(&self) -> usize {
        self.envs.len()
    }

    /// The runtime's state in `env`, as rapid names it in 403 messages.
    pub fn runtime_state(&self, env: EnvId) -> &'static str {
        self.env(env).runtime_state()
    }

    /// Whether `env` is initialised: between invocations or running one.
    pub fn is_initialized(&self, env: EnvId) -> bool {
        matches!(self.env(env).phase, Phase::Ready | Phase::Invoke(_))
    }

    /// Whether `env` is initialised with nothing to do: no invocation running, the last one
    /// complete (its extensions back too), none queued.
    pub fn is_idle(&self, env: EnvId) -> bool {
        self.env(env).is_idle() && self.s.queue.is_empty()
    }

    /// Whether `env` is frozen: between an [`Action::Freeze`] and an [`Action::Thaw`].
    pub fn is_frozen(&self, env: EnvId) -> bool {
        self.env(env).frozen
    }

    /// Whether `env` would freeze now if nothing were on its wire (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>):
    /// freezing is on, the runtime is a process of ours, and the environment is idle (the init
    /// or the last invocation complete, extensions included, none queued) and not frozen yet.
    /// The reactor then reports what it has on the wire with [`Lifecycle::handle_wire`].
    pub fn may_freeze(&self, env: EnvId) -> bool {
        self.s.may_freeze(self.env(env))
    }

    /// Invocations waiting for an environment.
    pub fn queued(&self) -> usize {
        self.s.queue.len()
    }

    /// Runtime `/next` calls parked in `env`.
    pub fn parked(&self, env: EnvId) -> usize {
        self.env(env).parked.len()
    }

    /// The request id of the invocation with `env`'s runtime, if any (with Managed Instances,
    /// the one released first of those in flight).
    pub fn current_request(&self, env: EnvId) -> Option<RequestId> {
        self.env(env).current_request()
    }

    /// How many invocations are with `env`'s runtime.
    pub fn in_flight(&self, env: EnvId) -> usize {
        self.env(env).in_flight()
    }

    /// The invocation `request_id` while it is with a runtime: what an [`Action::Release`]
    /// or an INVOKE [`Action::ReleaseExtension`] renders. `None` once it has ended.
    #[inline(never)]
    pub fn invocation(&self, request_id: RequestId) -> Option<&Invocation> {
        self.envs
            .iter()
            .find_map(|e| e.running(request_id))
            .map(|r| &r.invocation)
    }

    /// Who waits for the answer of invocation `request_id` while it runs: `None` once answered
    /// or gone. The reactor forwards a streamed response's chunks to it as they come.
    pub fn invoker(&self, request_id: RequestId) -> Option<WaiterId> {
        self.envs
            .iter()
            .find_map(|e| e.running(request_id))
            .and_then(|r| r.invoker)
    }

    /// The extensions registered in `env`, in registration order.
    pub fn extensions(&self, env: EnvId) -> Vec<ExtensionInfo> {
        self.env(env)
            .extensions
            .iter()
            .map(Extension::info)
            .collect()
    }

    /// The name of extension `id` in `env`, if it is registered there.
    pub fn extension_name(&self, env: EnvId, id: Uuid) -> Option<&str> {
        let env = self.env(env);
        env.slot_of(id).map(|slot| &*env.extensions[slot].name)
    }

    /// Whether shutdown has completed in every environment.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether a `/response` (`error == false`) or `/error` for `request_id` from `env`'s
    /// runtime would be taken now. Called when the request's head arrives, before its body is
    /// read, as rapid validates before any state change. Another environment's invocation is
    /// an invalid id: each environment has a Runtime API of its own.
    pub fn check_runtime_result(
        &self,
        env: EnvId,
        request_id: RequestId,
        error: bool,
    ) -> Result<(), Rejection> {
        self.env(env).check_runtime_result(request_id, error)
    }

    /// Whether `/init/error` would be taken now from `env`'s runtime: during an init, before
    /// the runtime's first `/next`.
    pub fn check_init_error(&self, env: EnvId) -> Result<(), Rejection> {
        self.env(env).check_init_error()
    }

    // ----- commands -----

    /// Queues an invocation from `invoker`, who will get exactly one [`Action::Reply`].
    /// Refused with [`Rejection::TooManyRequests`] when more than `max_queue` invocations, or
    /// more than `max_queue_bytes` of them, would wait beyond the ones the environments may
    /// run at once (decision *the queue*).
    pub fn invoke(
        &mut self,
        now: Micros,
        invoker: WaiterId,
        request: InvokeRequest,
    ) -> Result<RequestId, Rejection> {
        // One slot per invocation the environments may run at once.
        let slots = self.s.slots() * self.envs.len();
        let in_flight: usize = self.envs.iter().map(Environment::in_flight).sum();
        let queue = &self.s.queue;
        // `Event` invocations wait apart: only the synchronous ones count here. Counted when
        // the quick check fails: nothing waits on the hot path, and at most `max_queue` do.
        let synchronous = |q: &&Queued| !q.event;
        if queue.len() + in_flight >= slots + self.s.config.max_queue
            && queue.iter().filter(synchronous).count() + in_flight
                >= slots + self.s.config.max_queue
        {
            return Err(Rejection::TooManyRequests);
        }
        if in_flight >= slots || !queue.is_empty() {
            let waiting: usize = queue
                .iter()
                .filter(synchronous)
                .map(|q| q.invocation.request.bytes())
                .sum();
            if waiting + request.bytes() > self.s.config.max_queue_bytes {
                return Err(Rejection::TooManyRequests);
            }
        }
        self.enqueue(now, invoker, request, false)
    }

    /// Accepts an `Event` invocation from `invoker`, who gets an [`Action::Reply`] for each
    /// attempt: the first now, the retries of a failed one later (decision *asynchronous
    /// invocations*; [`Lifecycle::event_retry`] says whether another is due). Refused with
    /// [`Rejection::EventQueueFull`] when `max_event_queue` of them, or `max_queue_bytes` of
    /// their requests, are accepted and not yet ended; the synchronous queue does not count.
    pub fn invoke_event(
        &mut self,
        now: Micros,
        invoker: WaiterId,
        request: InvokeRequest,
    ) -> Result<RequestId, Rejection> {
        // The bytes of those waiting, in the queue or for a retry.
        let queued = self
            .s
            .queue
            .iter()
            .filter(|q| q.event)
            .map(|q| &q.invocation);
        let retrying = self.s.events.iter().filter_map(|e| e.invocation.as_ref());
        let bytes: usize = queued.chain(retrying).map(|i| i.request.bytes()).sum();
        if self.s.events.len() >= self.s.config.max_event_queue
            || bytes + request.bytes() > self.s.config.max_queue_bytes
        {
            return Err(Rejection::EventQueueFull);
        }
        self.enqueue(now, invoker, request, true)
    }

    fn enqueue(
        &mut self,
        now: Micros,
        invoker: WaiterId,
        mut request: InvokeRequest,
        event: bool,
    ) -> Result<RequestId, Rejection> {
        let required = self.s.config.per_tenant;
        if request.tenant_id.is_some() != required {
            return Err(Rejection::Tenancy { required });
        }
        let request_id = self.s.rng.uuid_v4();
        // The invoker's header moves into the invocation; the request keeps the rest.
        let trace_id = match request.trace_id.take() {
            Some(t) => TraceId::from(t),
            None => {
                let secs = (self.s.config.epoch_us + now.as_micros()) / 1_000_000;
                self.s.rng.trace_id(secs)
            }
        };
        let invocation = Invocation {
            request_id,
            trace_id,
            request,
        };
        if self.s.shutting_down {
            let timings = Timings {
                received: now,
                released: None,
                responded: now,
                init: None,
            };
            self.s.answer(
                invoker,
                request_id,
                timings,
                Outcome::Failure(Failure::Shutdown),
                None,
            );
            return Ok(request_id);
        }
        if event {
            self.s.events.push(EventRun {
                invoker,
                request_id,
                invocation: None,
                first_received: now,
                attempt: 1,
                retry_at: None,
            });
        }
        self.s.queue.push_back(Queued {
            invoker,
            invocation,
            received: now,
            event,
        });
        self.settle(now);
        Ok(request_id)
    }

    /// For an `Event` invocation whose last attempt failed and will be retried: that attempt's
    /// number (from 1) and when the next is queued. `None` once it has ended for good.
    pub fn event_retry(&self, request_id: RequestId) -> Option<(u8, Micros)> {
        let run = self.s.events.iter().find(|e| e.request_id == request_id)?;
        Some((run.attempt, run.retry_at?))
    }

    /// Begins shutdown: every queued or unanswered invoker gets `Sandbox.Shutdown`, and every
    /// environment stops with reason `spindown`, each with its own budget (see the module
    /// docs). [`Action::Finished`] follows once every process has exited, or at the deadlines.
    pub fn shutdown(&mut self, now: Micros) {
        if self.s.shutting_down {
            return;
        }
        self.s.shutting_down = true;
        // Retries waiting for their time are dropped with the environments.
        self.s.events.retain(|e| e.retry_at.is_none());
        while let Some(q) = self.s.queue.pop_front() {
            let timings = q.timings(now, None);
            self.s.answer(
                q.invoker,
                q.invocation.request_id,
                timings,
                Outcome::Failure(Failure::Shutdown),
                None,
            );
        }
        for i in 0..self.envs.len() {
            self.cx(EnvId(i as u16)).shutdown(now);
        }
        self.settle(now);
    }

    // ----- events -----

    /// `env`'s runtime called `GET /runtime/invocation/next` on `waiter`. `Ok` means it is
    /// parked or answered by an [`Action::Release`]; the caller answers a rejection itself.
    pub fn handle_runtime_next(
        &mut self,
        now: Micros,
        env: EnvId,
        waiter: WaiterId,
    ) -> Result<(), Rejection> {
        let r = self.cx(env).handle_runtime_next(now, waiter);
        self.settle(now);
        r
    }

    /// The head of `env`'s runtime's `/response` or `/error` for `request_id` arrived (its body
    /// may take a while): the end of the Telemetry API's `responseLatency`. Optional: without
    /// it the response counts as started when complete.
    pub fn handle_runtime_response_started(
        &mut self,
        now: Micros,
        env: EnvId,
        request_id: RequestId,
    ) {
        self.cx(env)
            .handle_runtime_response_started(now, request_id);
    }

    /// A result for `request_id` was refused as too late ([`Rejection::InvokeTimeout`]): the
    /// invocation is forgotten, so that another result for it is `InvalidRequestID` (RIE
    /// `internal/lambda-managed-instances/invoke/invoke_router.go` consumes it so).
    pub fn handle_late_result(&mut self, env: EnvId, request_id: RequestId) {
        self.cx(env).handle_late_result(request_id);
    }

    /// `env`'s runtime posted its result for `request_id`: `/response`, `/error`, or a
    /// response the HTTP layer could not take (too large, truncated). The invoker is answered
    /// at once.
    pub fn handle_runtime_result(
        &mut self,
        now: Micros,
        env: EnvId,
        request_id: RequestId,
        result: RuntimeResult,
    ) -> Result<(), Rejection> {
        let r = self.cx(env).handle_runtime_result(now, request_id, result);
        self.settle(now);
        r
    }

    /// `env`'s runtime posted `/runtime/init/error`. The invocation waiting for the init (if
    /// any) gets the posted error; the runtime is killed; `/next` is refused until a new init.
    pub fn handle_init_error(
        &mut self,
        now: Micros,
        env: EnvId,
        error: FunctionError,
    ) -> Result<(), Rejection> {
        let r = self.cx(env).handle_init_error(now, error);
        self.settle(now);
        r
    }

    /// SnapStart: `env`'s runtime called `GET /runtime/restore/next`: its before-snapshot hooks
    /// are done. Parked until a restore; refused (403) outside a SnapStart init's runtime part.
    pub fn handle_restore_next(
        &mut self,
        now: Micros,
        env: EnvId,
        waiter: WaiterId,
    ) -> Result<(), Rejection> {
        let r = self.cx(env).handle_restore_next(now, waiter);
        self.settle(now);
        r
    }

    /// SnapStart: `env`'s runtime posted `/runtime/restore/error`: its after-restore hooks
    /// failed. The restore fails; the invocation that waited for it gets
    /// `SnapStartException`. Refused (403) outside a restore.
    pub fn handle_restore_error(
        &mut self,
        now: Micros,
        env: EnvId,
        error: FunctionError,
    ) -> Result<(), Rejection> {
        let r = self.cx(env).handle_restore_error(now, error);
        self.settle(now);
        r
    }

    /// An extension asked `env` to register it as `name` for `events` (`POST
    /// /extension/register`). Returns its identifier. Registration is open from the start of
    /// an init until the runtime's first `/next` (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>, "Init phase").
    pub fn handle_extension_register(
        &mut self,
        now: Micros,
        env: EnvId,
        name: &str,
        events: Events,
    ) -> Result<Uuid, Rejection> {
        let r = self.cx(env).handle_extension_register(now, name, events);
        self.settle(now);
        r
    }

    /// Extension `id` of `env` subscribes through `api` for the platform's records. Taken
    /// while the environment initialises (<https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html>, <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-logs-api.html>); a repeat through the same
    /// API is taken again (idempotent: the caller must not deliver twice) and says so with
    /// `Ok(false)`; through the other API it is refused. Returns whether the subscription is
    /// new.
    pub fn handle_subscribe(
        &mut self,
        env: EnvId,
        id: Uuid,
        api: TelemetryApi,
    ) -> Result<bool, Rejection> {
        self.cx(env).handle_subscribe(id, api)
    }

    /// Extension `id` of `env` called `GET /extension/event/next` on `waiter`: it is done with
    /// what it was doing (its init, or an invocation) and waits for the next event. `Ok`
    /// means parked or answered by an [`Action::ReleaseExtension`].
    pub fn handle_extension_next(
        &mut self,
        now: Micros,
        env: EnvId,
        waiter: WaiterId,
        id: Uuid,
    ) -> Result<(), Rejection> {
        let r = self.cx(env).handle_extension_next(now, waiter, id);
        self.settle(now);
        r
    }

    /// Extension `id` of `env` posted `init/error` or `exit/error` with `error_type`. An init
    /// fails; a running invocation fails; an idle environment resets. The extension is refused
    /// from then on (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>, "init/error" and "exit/error").
    pub fn handle_extension_error(
        &mut self,
        now: Micros,
        env: EnvId,
        id: Uuid,
        kind: ExtensionErrorKind,
        error_type: String,
    ) -> Result<(), Rejection> {
        let r = self
            .cx(env)
            .handle_extension_error(now, id, kind, error_type);
        self.settle(now);
        r
    }

    /// The connection or ticket `waiter` went away. A parked `/next` or `event/next` is
    /// forgotten (decision *parked waiters*); a queued invocation is dropped (*the queue*); a
    /// running one continues without anyone to answer.
    pub fn handle_waiter_closed(&mut self, _now: Micros, waiter: WaiterId) {
        self.s.queue.retain(|q| q.invoker != waiter);
        for i in 0..self.envs.len() {
            self.cx(EnvId(i as u16)).handle_waiter_closed(waiter);
        }
    }

    /// What the reactor has on `env`'s wire, reported while [`Lifecycle::may_freeze`] holds.
    /// The environment freezes ([`Action::Freeze`]) only when the wire is quiet: every reply
    /// for the last invocation fully written, no telemetry batch in flight.
    pub fn handle_wire(&mut self, now: Micros, env: EnvId, wire: Wire) {
        self.cx(env).handle_wire(now, wire);
    }

    /// Child `child` exited with `status`.
    pub fn handle_child_exit(&mut self, now: Micros, child: ChildId, status: ExitStatus) {
        // A runtime or extension killed by an earlier reset is no longer ours: nothing to do.
        if let Some(i) = self.envs.iter().position(|e| e.owns(child)) {
            self.cx(EnvId(i as u16))
                .handle_child_exit(now, child, status);
        }
        self.settle(now);
    }

    /// The reactor could not start child `child` (the executable vanished or is not
    /// executable).
    pub fn handle_spawn_failed(&mut self, now: Micros, child: ChildId, message: String) {
        if let Some(i) = self.envs.iter().position(|e| e.owns(child)) {
            self.cx(EnvId(i as u16))
                .handle_spawn_failed(now, child, message);
        }
        self.settle(now);
    }

    /// Fires every timer due at `now`, in every environment.
    pub fn handle_timeout(&mut self, now: Micros) {
        // Retries that are due join the queue in `settle`.
        for i in 0..self.envs.len() {
            if self.envs[i].next_deadline().is_some_and(|at| at <= now) {
                self.cx(EnvId(i as u16)).handle_timeout(now);
            }
        }
        self.settle(now);
    }

    // ----- outputs -----

    /// The next side effect to carry out, in order. A [`Action::Release`],
    /// [`Action::ReleaseExtension`] or [`Action::Reply`] is an answer on a connection; a later
    /// [`Action::Close`] or [`Action::Signal`] must not overtake it.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.s.actions.pop_front()
    }

    /// When [`Lifecycle::handle_timeout`] should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Micros> {
        let envs = match &self.envs[..] {
            [env] => env.next_deadline(),
            envs => envs.iter().filter_map(Environment::next_deadline).min(),
        };
        match self.s.events.is_empty() {
            true => envs,
            false => self.s.next_retry(envs, &|id| running_in(&self.envs, id)),
        }
    }

    /// Retries that are due join the queue, but not before their last attempt has left its
    /// environment (a function error answers the invoker before the runtime is back on
    /// `/next`): one request id is never in two environments at once.
    fn queue_due_retries(&mut self, now: Micros) {
        let envs = &self.envs;
        self.s.queue_due_retries(now, &|id| running_in(envs, id));
    }
}

/// Whether invocation `id` is with a runtime in one of `envs`.
fn running_in(envs: &[Environment], id: RequestId) -> bool {
    envs.iter().any(|e| e.running(id).is_some())
}

impl Shared {
    /// Retries that are due join the queue, as their first attempt did, once their last attempt
    /// is no longer `running`.
    #[inline(never)]
    fn queue_due_retries(&mut self, now: Micros, running: &dyn Fn(RequestId) -> bool) {
        for run in self.events.iter_mut() {
            if run.retry_at.is_none_or(|at| at > now) || running(run.request_id) {
                continue;
            }
            run.retry_at = None;
            run.attempt += 1;
            if let Some(invocation) = run.invocation.take() {
                self.queue.push_back(Queued {
                    invoker: run.invoker,
                    invocation,
                    received: now,
                    event: true,
                });
            }
        }
    }

    /// The earlier of `at` and the next retry whose last attempt is no longer `running` (the
    /// others join the queue when it ends: `settle`).
    fn next_retry(
        &self,
        mut at: Option<Micros>,
        running: &dyn Fn(RequestId) -> bool,
    ) -> Option<Micros> {
        for run in &self.events {
            let Some(retry) = run.retry_at.filter(|_| !running(run.request_id)) else {
                continue;
            };
            at = Some(at.map_or(retry, |at| at.min(retry)));
        }
        at
    }

    /// An attempt of what may be an `Event` invocation ended at `now` with `outcome`
    /// (decision *asynchronous invocations*): a failed one is retried after the delay, while
    /// attempts remain, the event is young enough and no shutdown has begun; otherwise it has
    /// ended for good.
    /// `invocation` is the attempt's, while the core still holds it: a copy is kept for the
    /// retry.
    #[inline(never)]
    fn event_attempt_ended(
        &mut self,
        request_id: RequestId,
        now: Micros,
        outcome: &Outcome,
        invocation: Option<&Invocation>,
    ) {
        let Some(i) = self.events.iter().position(|e| e.request_id == request_id) else {
            return;
        };
        let failed = match outcome {
            Outcome::Response { .. } => false,
            Outcome::FunctionError(_) => true,
            Outcome::Failure(f) => *f != Failure::Shutdown,
        };
        let run = &mut self.events[i];
        let at = now + Micros(self.config.retry_delay.as_micros() * u64::from(run.attempt));
        let retried = failed
            && !self.shutting_down
            && run.attempt <= self.config.max_retry_attempts
            && at.since(run.first_received) <= self.config.max_event_age;
        match invocation {
            Some(invocation) if retried => {
                run.retry_at = Some(at);
                run.invocation = Some(invocation.clone());
            }
            _ => {
                self.events.swap_remove(i);
            }
        }
    }

    /// The invoker's [`Action::Reply`]. An `Event` invocation's attempt ends with it: with
    /// `invocation` (the attempt's, when the core still holds it) a failed one may be retried.
    fn answer(
        &mut self,
        invoker: WaiterId,
        request_id: RequestId,
        timings: Timings,
        outcome: Outcome,
        invocation: Option<&Invocation>,
    ) {
        if !self.events.is_empty() {
            self.event_attempt_ended(request_id, timings.responded, &outcome, invocation);
        }
        self.actions.push_back(Action::Reply {
            invoker,
            reply: InvokeReply {
                request_id,
                outcome,
                timings,
            },
        });
    }
}

//! The lifecycle machine: every rule of Lambda's execution environment, pure and sans-IO.
//!
//! It never reads a clock and never touches a socket or a process. The reactor passes `now` in
//! and carries the [`Action`]s out; tests do the same with a virtual clock.
//!
//! # Calling convention
//! Methods come in four kinds (quinn-proto's taxonomy):
//! - getters on `&self` ([`Lifecycle::runtime_state`], [`Lifecycle::check_runtime_result`], ...);
//! - `handle_*(now, ...)` for events from the world: a runtime's request, a child's exit,
//!   a connection closing, a timer;
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
//! One environment, one runtime, one invocation in flight (classic Lambda). The runtime's states
//! are rapid's (RIE `internal/lambda/core/states.go`); `Phase` adds the environment's own.
//!
//! | phase (runtime state) | input | result | source |
//! |---|---|---|---|
//! | `Down` (NotStarted) | invocation queued | spawn runtime, `Init`; first init of the environment: phase `init`, 10 s limit; later ones: phase `invoke`, function timeout | AWS-ENVLC; 11.2 |
//! | `Down` | `/next` | external runtime: a zero-length init, then `Ready`; process: 403 | 11.6 |
//! | `Init` (Started) | `/next` | init done, `Ready`, waiter parked | AWS-RT; rapid `RuntimeStartedState.Ready` |
//! | `Init` | `/init/error` | init fails: the waiting invocation gets the posted error, runtime killed, `InitFailed` | AWS-RT; rapid `initerror.go`; 11.2 |
//! | `Init` | runtime exits | init fails `Runtime.ExitError`, `Down` | 11.1 |
//! | `Init` | init limit | init fails `Sandbox.Timedout`, runtime killed, `Down` | AWS-ENVLC; 11.2 |
//! | `InitFailed` (InitError) | `/next` | 403 until the next invocation starts a new init | rapid `RuntimeInitErrorState`; 11.2 |
//! | `Ready` | `/next` | parked (longest-waiting first) | 11.4 |
//! | `Ready` | invocation + parked waiter | released to the waiter, deadline = now + timeout, `Invoke` | AWS-RT; 11.2 |
//! | `Invoke` (Running) | `/next` | the same invocation rendered again | rapid `RuntimeRunningState.Ready` returns nil |
//! | `Invoke` (Running) | `/response`, `/error` | invoker answered now; RuntimeResponseSentState | AWS-RT; PROTOCOL.md 5.2 |
//! | `Invoke` (RuntimeResponseSentState) | `/response`, `/error` | 403 | rapid `RuntimeResponseSentState` |
//! | `Invoke` (RuntimeResponseSentState) | `/next` | invocation complete (REPORT), `Ready` | PROTOCOL.md 5.2, 11.5 |
//! | `Invoke` | function timeout | invoker gets `Sandbox.Timedout` if unanswered; reset, `Down` | AWS-ENVLC; 5.4 |
//! | `Invoke` | runtime exits | invoker gets `Runtime.ExitError` if unanswered; reset, `Down` | 5.4; 11.1 |
//! | any | `/response` for another id | 400 `InvalidRequestID` | rapid `AwsRequestIDValidator` |
//! | any but `Init` | `/init/error` | 403 | rapid `initerror.go` |
//! | any | shutdown | queued and unanswered invokers get `Sandbox.Shutdown`; runtime killed; `Finished` once it exited | 11.3; PROTOCOL.md 5.5 |
//!
//! A reset kills the runtime's process group and closes the `/next` connections parked by it;
//! with an external runtime (11.6) there is nothing to kill, parked connections stay, and the
//! runtime's next `/next` is a new init.

mod timers;
mod types;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use crate::id::{RequestId, Rng, TraceId};
use crate::time::Micros;
use timers::{Timer, TimerTable};

pub use types::{
    Action, ChildId, ExitStatus, Failure, FunctionError, InitPhase, InitType, Invocation,
    InvokeReply, InvokeRequest, Outcome, PlatformEvent, Rejection, Role, RuntimeResult, Signal,
    Status, Timings, WaiterId,
};

/// The largest response a runtime may post: `6 * 1024 * 1024 + 100` bytes
/// (RIE `interop.MaxPayloadSize`); larger is 413 for the runtime and
/// `Function.ResponseSizeTooLarge` for the invoker.
pub const MAX_RESPONSE_BYTES: u64 = 6 * 1024 * 1024 + 100;

/// The largest synchronous invoke payload: 6 MB (AWS-LIM; Invoke API 413 past it).
pub const MAX_REQUEST_BYTES: u64 = 6 * 1024 * 1024;

/// Lambda's init limit for on-demand functions (AWS-ENVLC).
pub const INIT_TIMEOUT: Micros = Micros::from_secs(10);

/// Lambda's default function timeout (AWS-LIM).
pub const DEFAULT_TIMEOUT: Micros = Micros::from_secs(3);

/// How many invocations may wait for the environment by default (11.3).
pub const DEFAULT_MAX_QUEUE: usize = 1000;

/// How long shutdown waits for a killed runtime to exit before finishing anyway.
pub const SHUTDOWN_GRACE: Micros = Micros::from_secs(2);

/// Where the runtime comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeMode {
    /// The simulator spawns the bootstrap as a child process.
    Process,
    /// Someone else runs the runtime (a debugger, a test's own client); see 11.6.
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

/// What the core needs to know about the function. No names or ARNs: those are `api`'s.
#[derive(Clone, Debug)]
pub struct Config {
    /// The function timeout.
    pub timeout: Micros,
    /// The limit on the environment's first init.
    pub init_timeout: Micros,
    /// How many invocations may wait beyond the one the environment is busy with.
    pub max_queue: usize,
    /// Who runs the runtime.
    pub runtime: RuntimeMode,
    /// When to initialise.
    pub init: InitMode,
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
            runtime: RuntimeMode::Process,
            init: InitMode::OnDemand,
            seed: 0,
            epoch_us: 0,
        }
    }
}

/// Rapid's normalisation of `Lambda-Runtime-Function-Error-Type` (RIE `fatalerror.go`): a value
/// containing `(Runtime|Function)\.[A-Z][a-zA-Z]+` is kept as sent; anything else becomes
/// `Function.Unknown` if it starts with `Function.`, else `Runtime.Unknown`.
pub fn normalize_error_type(raw: &str) -> String {
    // The Go regexp is unanchored: any occurrence counts.
    let matches = raw
        .match_indices("Runtime.")
        .chain(raw.match_indices("Function."));
    for (at, prefix) in matches {
        let rest = &raw.as_bytes()[at + prefix.len()..];
        if rest.len() >= 2 && rest[0].is_ascii_uppercase() && rest[1].is_ascii_alphabetic() {
            return raw.to_string();
        }
    }
    if raw.starts_with("Function.") {
        "Function.Unknown".to_string()
    } else {
        "Runtime.Unknown".to_string()
    }
}

/// An invocation waiting for the environment.
#[derive(Debug)]
struct Queued {
    invoker: WaiterId,
    invocation: Invocation,
    received: Micros,
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
    /// The runtime was started and has not yet called `/next` (rapid: Started).
    Init(Init),
    /// The runtime posted `/init/error` (rapid: InitError).
    InitFailed,
    /// The runtime is between invocations (rapid: Ready).
    Ready,
    /// An invocation is with the runtime (rapid: Running, then RuntimeResponseSentState).
    /// Inline, not boxed: there is one phase per environment, and a box would be an allocation
    /// per invocation.
    Invoke(Running),
    /// Shutting down: waiting for the runtime to exit.
    Shutdown,
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
    /// Set when the runtime has posted its result.
    response: Option<Responded>,
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
}

#[derive(Debug)]
struct Responded {
    status: Status,
    error_type: Option<String>,
    produced_bytes: u64,
}

/// How an init failed.
enum InitFailure {
    Reported(FunctionError),
    Timeout(Micros),
    Exit(ExitStatus),
    Spawn(String),
}

/// One execution environment: its runtime and what waits on it. A second environment
/// (Lambda concurrency) would be a second one of these.
#[derive(Debug)]
struct Environment {
    phase: Phase,
    /// Runtime `/next` calls parked while the runtime is Ready, longest-waiting first.
    parked: VecDeque<WaiterId>,
    /// The runtime process, while one is alive (or dying at shutdown).
    runtime: Option<ChildId>,
    /// How many inits have been started: the first is phase `init`, later ones `invoke`.
    inits: u32,
    /// The duration of the last on-demand init, for the next REPORT.
    pending_init: Option<Micros>,
    /// The start of a suppressed init and the invocation it counts against.
    budget: Option<(RequestId, Micros)>,
    timers: TimerTable,
}

/// The lifecycle machine. See the module docs for the calling convention and the transitions.
#[derive(Debug)]
pub struct Lifecycle {
    config: Config,
    rng: Rng,
    env: Environment,
    queue: VecDeque<Queued>,
    actions: VecDeque<Action>,
    next_child: u64,
}

impl Lifecycle {
    /// A new environment at `now`. With [`InitMode::Eager`], or an external runtime, its init
    /// starts at once (drain [`Lifecycle::poll_action`] for the spawn).
    pub fn new(config: Config, now: Micros) -> Lifecycle {
        let mut lc = Lifecycle {
            rng: Rng::from_seed(config.seed),
            config,
            env: Environment {
                phase: Phase::Down,
                parked: VecDeque::new(),
                runtime: None,
                inits: 0,
                pending_init: None,
                budget: None,
                timers: TimerTable::default(),
            },
            queue: VecDeque::new(),
            actions: VecDeque::new(),
            next_child: 0,
        };
        if lc.config.init == InitMode::Eager || lc.config.runtime == RuntimeMode::External {
            lc.start_init(now);
        }
        lc
    }

    // ----- getters -----

    /// The configuration it was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The runtime's state as rapid names it in 403 messages.
    pub fn runtime_state(&self) -> &'static str {
        match &self.env.phase {
            Phase::Down => "NotStarted",
            Phase::Init(_) => "Started",
            Phase::InitFailed => "InitError",
            Phase::Ready => "Ready",
            Phase::Invoke(r) if r.response.is_none() => "Running",
            Phase::Invoke(_) => "RuntimeResponseSentState",
            Phase::Shutdown | Phase::Finished => "Shutdown",
        }
    }

    /// Invocations waiting for the environment.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Runtime `/next` calls parked.
    pub fn parked(&self) -> usize {
        self.env.parked.len()
    }

    /// The request id of the invocation with the runtime, if any.
    pub fn current_request(&self) -> Option<RequestId> {
        match &self.env.phase {
            Phase::Invoke(r) => Some(r.invocation.request_id),
            _ => None,
        }
    }

    /// The invocation `request_id` while it is with the runtime: what an
    /// [`Action::Release`] renders. `None` once it has ended.
    pub fn invocation(&self, request_id: RequestId) -> Option<&Invocation> {
        match &self.env.phase {
            Phase::Invoke(r) if r.invocation.request_id == request_id => Some(&r.invocation),
            _ => None,
        }
    }

    /// Whether shutdown has completed.
    pub fn is_finished(&self) -> bool {
        matches!(self.env.phase, Phase::Finished)
    }

    /// Whether a `/response` (`error == false`) or `/error` for `request_id` would be taken
    /// now. Called when the request's head arrives, before its body is read, as rapid validates
    /// before any state change.
    pub fn check_runtime_result(
        &self,
        request_id: RequestId,
        error: bool,
    ) -> Result<(), Rejection> {
        match &self.env.phase {
            Phase::Invoke(r) if r.invocation.request_id == request_id => {
                if r.response.is_some() {
                    Err(Rejection::InvalidStateTransition {
                        from: self.runtime_state(),
                        to: if error {
                            "InvocationErrorResponse"
                        } else {
                            "InvocationResponse"
                        },
                    })
                } else {
                    Ok(())
                }
            }
            _ => Err(Rejection::InvalidRequestId),
        }
    }

    /// Whether `/init/error` would be taken now.
    pub fn check_init_error(&self) -> Result<(), Rejection> {
        match self.env.phase {
            Phase::Init(_) => Ok(()),
            _ => Err(Rejection::InvalidStateTransition {
                from: self.runtime_state(),
                to: "InitError",
            }),
        }
    }

    // ----- commands -----

    /// Queues an invocation from `invoker`, who will get exactly one
    /// [`Action::Reply`]. Refused with [`Rejection::TooManyRequests`] when more than
    /// `max_queue` invocations would wait beyond the one in flight (11.3).
    pub fn invoke(
        &mut self,
        now: Micros,
        invoker: WaiterId,
        mut request: InvokeRequest,
    ) -> Result<RequestId, Rejection> {
        let busy = usize::from(matches!(self.env.phase, Phase::Invoke(_)));
        if self.queue.len() + busy > self.config.max_queue {
            return Err(Rejection::TooManyRequests);
        }
        let request_id = self.rng.uuid_v4();
        // The invoker's header moves into the invocation; the request keeps the rest.
        let trace_id = match request.trace_id.take() {
            Some(t) => TraceId::from(t),
            None => {
                let secs = (self.config.epoch_us + now.as_micros()) / 1_000_000;
                self.rng.trace_id(secs)
            }
        };
        let invocation = Invocation {
            request_id,
            trace_id,
            request,
        };
        if matches!(self.env.phase, Phase::Shutdown | Phase::Finished) {
            let timings = Timings {
                received: now,
                released: None,
                responded: now,
                init: None,
            };
            self.answer(
                invoker,
                request_id,
                timings,
                Outcome::Failure(Failure::Shutdown),
            );
            return Ok(request_id);
        }
        self.queue.push_back(Queued {
            invoker,
            invocation,
            received: now,
        });
        self.progress(now);
        Ok(request_id)
    }

    /// Begins shutdown: every queued or unanswered invoker gets `Sandbox.Shutdown`, parked
    /// connections are closed, and the runtime is killed (without extensions Lambda sends
    /// SIGKILL straight away, PROTOCOL.md 5.5). [`Action::Finished`] follows once the runtime
    /// has exited, or after [`SHUTDOWN_GRACE`].
    pub fn shutdown(&mut self, now: Micros) {
        if matches!(self.env.phase, Phase::Shutdown | Phase::Finished) {
            return;
        }
        while let Some(q) = self.queue.pop_front() {
            let timings = q.timings(now, None);
            self.answer(
                q.invoker,
                q.invocation.request_id,
                timings,
                Outcome::Failure(Failure::Shutdown),
            );
        }
        if let Phase::Invoke(mut r) = self.set_phase(Phase::Shutdown) {
            if let Some(invoker) = r.invoker.take() {
                let timings = r.timings(now);
                let id = r.invocation.request_id;
                self.answer(invoker, id, timings, Outcome::Failure(Failure::Shutdown));
            }
        }
        self.env.timers.stop(Timer::Init);
        self.env.timers.stop(Timer::Invoke);
        match self.env.runtime {
            Some(child) => {
                self.actions.push_back(Action::Signal {
                    child,
                    signal: Signal::Kill,
                });
                self.env.timers.set(Timer::Shutdown, now + SHUTDOWN_GRACE);
            }
            None => self.finish(),
        }
    }

    // ----- events -----

    /// A runtime called `GET /runtime/invocation/next` on `waiter`. `Ok` means it is parked or
    /// answered by an [`Action::Release`]; the caller answers a rejection itself.
    pub fn handle_runtime_next(&mut self, now: Micros, waiter: WaiterId) -> Result<(), Rejection> {
        match &self.env.phase {
            // 11.6: with no process of ours, a /next after a reset is a runtime starting over.
            Phase::Down if self.config.runtime == RuntimeMode::External => {
                self.start_init(now);
                self.complete_init(now);
            }
            // rapid's RuntimeStartedState.Ready: the first /next ends the init.
            Phase::Init(_) => self.complete_init(now),
            Phase::Down | Phase::InitFailed => {
                return Err(Rejection::InvalidStateTransition {
                    from: self.runtime_state(),
                    to: "Ready",
                });
            }
            Phase::Ready => {}
            // rapid's RuntimeRunningState.Ready returns nil and the handler renders the current
            // invocation again: a runtime that reconnects gets its work back.
            Phase::Invoke(r) if r.response.is_none() => {
                self.actions.push_back(Action::Release {
                    waiter,
                    request_id: r.invocation.request_id,
                    deadline: r.deadline,
                });
                return Ok(());
            }
            // Back on /next after its response: the invocation is complete.
            Phase::Invoke(_) => self.complete_invocation(now),
            // Parked until shutdown finishes, then closed.
            Phase::Shutdown | Phase::Finished => {}
        }
        self.env.parked.push_back(waiter);
        self.progress(now);
        Ok(())
    }

    /// The runtime posted its result for `request_id`: `/response`, `/error`, or a response the
    /// HTTP layer could not take (too large, truncated). The invoker is answered at once.
    pub fn handle_runtime_result(
        &mut self,
        now: Micros,
        request_id: RequestId,
        result: RuntimeResult,
    ) -> Result<(), Rejection> {
        self.check_runtime_result(request_id, matches!(result, RuntimeResult::Error(_)))?;
        let Phase::Invoke(r) = &mut self.env.phase else {
            return Err(Rejection::InvalidRequestId);
        };
        let (outcome, status, produced_bytes) = match result {
            RuntimeResult::Response { body, content_type } => {
                let n = body.len() as u64;
                (Outcome::Response { body, content_type }, Status::Success, n)
            }
            RuntimeResult::Error(e) => {
                let n = e.body.len() as u64;
                (Outcome::FunctionError(e), Status::Error, n)
            }
            RuntimeResult::TooLarge => (
                Outcome::Failure(Failure::ResponseTooLarge),
                Status::Error,
                0,
            ),
            RuntimeResult::Truncated => (
                Outcome::Failure(Failure::TruncatedResponse),
                Status::Failure,
                0,
            ),
        };
        r.response = Some(Responded {
            status,
            error_type: outcome.error_type().map(str::to_string),
            produced_bytes,
        });
        if let Some(invoker) = r.invoker.take() {
            let timings = r.timings(now);
            let id = r.invocation.request_id;
            self.answer(invoker, id, timings, outcome);
        }
        Ok(())
    }

    /// The runtime posted `/runtime/init/error`. The invocation waiting for the init (if any)
    /// gets the posted error; the runtime is killed; `/next` is refused until a new init.
    pub fn handle_init_error(
        &mut self,
        now: Micros,
        error: FunctionError,
    ) -> Result<(), Rejection> {
        self.check_init_error()?;
        self.fail_init(now, Status::Error, InitFailure::Reported(error));
        self.set_phase(Phase::InitFailed);
        self.progress(now);
        Ok(())
    }

    /// The connection or ticket `waiter` went away. A parked `/next` is forgotten (11.4); a
    /// queued invocation is dropped (11.3); a running one continues without anyone to answer.
    pub fn handle_waiter_closed(&mut self, _now: Micros, waiter: WaiterId) {
        self.env.parked.retain(|w| *w != waiter);
        self.queue.retain(|q| q.invoker != waiter);
        if let Phase::Invoke(r) = &mut self.env.phase {
            if r.invoker == Some(waiter) {
                r.invoker = None;
            }
        }
    }

    /// Child `child` exited with `status`.
    pub fn handle_child_exit(&mut self, now: Micros, child: ChildId, status: ExitStatus) {
        if self.env.runtime != Some(child) {
            return; // a runtime killed by an earlier reset
        }
        self.env.runtime = None;
        match &self.env.phase {
            Phase::Init(_) => {
                self.event(PlatformEvent::RuntimeExited {
                    request_id: None,
                    status,
                });
                self.fail_init(now, Status::Failure, InitFailure::Exit(status));
            }
            Phase::Ready => {
                // Exited while idle: re-initialised on the next invocation.
                self.event(PlatformEvent::RuntimeExited {
                    request_id: None,
                    status,
                });
                self.reset();
            }
            Phase::Invoke(_) => {
                let Phase::Invoke(mut r) = self.set_phase(Phase::Down) else {
                    return;
                };
                self.env.timers.stop(Timer::Invoke);
                let id = r.invocation.request_id;
                self.event(PlatformEvent::RuntimeExited {
                    request_id: Some(id),
                    status,
                });
                let failure = Failure::RuntimeExit(status);
                if let Some(invoker) = r.invoker.take() {
                    let timings = r.timings(now);
                    self.answer(invoker, id, timings, Outcome::Failure(failure.clone()));
                }
                let error_type = Some(failure.error_type().to_string());
                self.end_invocation(now, &r, Status::Failure, error_type, now, Some(child));
                self.reset();
            }
            Phase::Shutdown => self.finish(),
            Phase::Down | Phase::InitFailed | Phase::Finished => {}
        }
        self.progress(now);
    }

    /// The reactor could not start child `child` (the bootstrap vanished or is not executable).
    pub fn handle_spawn_failed(&mut self, now: Micros, child: ChildId, message: String) {
        if self.env.runtime != Some(child) {
            return;
        }
        self.env.runtime = None;
        if matches!(self.env.phase, Phase::Init(_)) {
            self.fail_init(now, Status::Failure, InitFailure::Spawn(message));
        }
        self.progress(now);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Micros) {
        if self.env.timers.is_due(Timer::Init, now) {
            self.env.timers.stop(Timer::Init);
            if let Phase::Init(init) = &self.env.phase {
                let limit = init.limit.unwrap_or(self.config.init_timeout);
                self.fail_init(now, Status::Timeout, InitFailure::Timeout(limit));
            }
        }
        if self.env.timers.is_due(Timer::Invoke, now) {
            self.env.timers.stop(Timer::Invoke);
            self.timeout_invocation(now);
        }
        if self.env.timers.is_due(Timer::Shutdown, now) {
            self.env.timers.stop(Timer::Shutdown);
            if matches!(self.env.phase, Phase::Shutdown) {
                self.finish();
            }
        }
        self.progress(now);
    }

    // ----- outputs -----

    /// The next side effect to carry out, in order. A [`Action::Release`] or [`Action::Reply`]
    /// is an answer on a connection; a later [`Action::Close`] or [`Action::Signal`] must not
    /// overtake it.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Lifecycle::handle_timeout`] should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Micros> {
        self.env.timers.next()
    }

    // ----- transitions -----

    /// Moves the environment forward as far as it goes without new input.
    fn progress(&mut self, now: Micros) {
        loop {
            let external = self.config.runtime == RuntimeMode::External;
            match self.env.phase {
                Phase::Ready if !self.queue.is_empty() && !self.env.parked.is_empty() => {
                    self.release(now);
                }
                Phase::Down | Phase::InitFailed if !self.queue.is_empty() => self.start_init(now),
                // An external runtime already parked on /next after a reset starts over.
                Phase::Down if external && !self.env.parked.is_empty() => self.start_init(now),
                Phase::Init(_) if !self.env.parked.is_empty() => self.complete_init(now),
                _ => return,
            }
        }
    }

    fn start_init(&mut self, now: Micros) {
        let phase = if self.env.inits == 0 {
            InitPhase::Init
        } else {
            InitPhase::Invoke
        };
        self.env.inits += 1;
        let kind = if phase == InitPhase::Init && self.config.init == InitMode::Eager {
            InitType::ProvisionedConcurrency
        } else {
            InitType::OnDemand
        };
        let limit = match (self.config.runtime, phase) {
            (RuntimeMode::External, _) => None,
            (RuntimeMode::Process, InitPhase::Init) => Some(self.config.init_timeout),
            // A suppressed init counts against the function timeout (AWS-ENVLC).
            (RuntimeMode::Process, InitPhase::Invoke) => Some(self.config.timeout),
        };
        let for_request = match phase {
            InitPhase::Invoke => self.queue.front().map(|q| q.invocation.request_id),
            InitPhase::Init => None,
        };
        if let Some(limit) = limit {
            self.env.timers.set(Timer::Init, now + limit);
        }
        self.event(PlatformEvent::InitStart { phase, kind });
        if self.config.runtime == RuntimeMode::Process {
            let child = ChildId(self.next_child);
            self.next_child += 1;
            self.env.runtime = Some(child);
            self.actions.push_back(Action::Spawn {
                child,
                role: Role::Runtime,
                init_type: kind,
            });
        }
        self.set_phase(Phase::Init(Init {
            started: now,
            phase,
            kind,
            limit,
            for_request,
        }));
    }

    /// The runtime's first `/next`: the init succeeded.
    fn complete_init(&mut self, now: Micros) {
        let Phase::Init(init) = self.set_phase(Phase::Ready) else {
            return;
        };
        self.env.timers.stop(Timer::Init);
        let duration = now.since(init.started);
        self.event(PlatformEvent::InitDone {
            phase: init.phase,
            kind: init.kind,
            status: Status::Success,
            error_type: None,
            duration,
        });
        // Only an on-demand init we timed ourselves goes on the next REPORT: an external
        // runtime's start is not ours to measure.
        if init.kind == InitType::OnDemand && self.config.runtime == RuntimeMode::Process {
            self.env.pending_init = Some(duration);
        }
        self.env.budget = init.for_request.map(|id| (id, init.started));
    }

    /// An init failed: the invocation that waited for it gets the error, the runtime goes.
    fn fail_init(&mut self, now: Micros, status: Status, failure: InitFailure) {
        let Phase::Init(init) = self.set_phase(Phase::Down) else {
            return;
        };
        self.env.timers.stop(Timer::Init);
        let duration = now.since(init.started);
        let outcome = match failure {
            InitFailure::Reported(e) => Outcome::FunctionError(e),
            InitFailure::Timeout(after) => Outcome::Failure(Failure::Timeout { after }),
            InitFailure::Exit(status) => Outcome::Failure(Failure::RuntimeExit(status)),
            InitFailure::Spawn(message) => Outcome::Failure(Failure::InvalidEntrypoint { message }),
        };
        self.event(PlatformEvent::InitDone {
            phase: init.phase,
            kind: init.kind,
            status,
            error_type: outcome.error_type().map(str::to_string),
            duration,
        });
        // 11.2 and 11.3: each failing init answers the invocation that waited for it.
        if let Some(q) = self.queue.pop_front() {
            let timings = q.timings(now, Some(duration));
            self.answer(q.invoker, q.invocation.request_id, timings, outcome);
        }
        self.reset();
    }

    fn release(&mut self, now: Micros) {
        let (Some(q), Some(waiter)) = (self.queue.pop_front(), self.env.parked.pop_front()) else {
            return;
        };
        let id = q.invocation.request_id;
        let budget_start = match self.env.budget.take() {
            Some((for_id, started)) if for_id == id => started,
            _ => now,
        };
        let deadline = budget_start + self.config.timeout;
        self.env.timers.set(Timer::Invoke, deadline);
        self.event(PlatformEvent::Start {
            request_id: id,
            trace_id: q.invocation.trace_id.clone(),
            tenant_id: q.invocation.request.tenant_id.clone(),
        });
        self.actions.push_back(Action::Release {
            waiter,
            request_id: id,
            deadline,
        });
        let init_duration = self.env.pending_init.take();
        self.set_phase(Phase::Invoke(Running {
            invocation: q.invocation,
            invoker: Some(q.invoker),
            received: q.received,
            released: now,
            deadline,
            init_duration,
            response: None,
        }));
    }

    /// The runtime is back on `/next` after posting its result.
    fn complete_invocation(&mut self, now: Micros) {
        let Phase::Invoke(r) = self.set_phase(Phase::Ready) else {
            return;
        };
        self.env.timers.stop(Timer::Invoke);
        let (status, error_type) = match &r.response {
            Some(resp) => (resp.status, resp.error_type.clone()),
            None => (Status::Success, None),
        };
        let runtime = self.env.runtime;
        self.end_invocation(now, &r, status, error_type, now, runtime);
    }

    fn timeout_invocation(&mut self, now: Micros) {
        if !matches!(self.env.phase, Phase::Invoke(_)) {
            return;
        }
        let Phase::Invoke(mut r) = self.set_phase(Phase::Down) else {
            return;
        };
        let id = r.invocation.request_id;
        self.event(PlatformEvent::TimedOut {
            request_id: id,
            after: self.config.timeout,
        });
        let failure = Failure::Timeout {
            after: self.config.timeout,
        };
        if let Some(invoker) = r.invoker.take() {
            let timings = r.timings(now);
            self.answer(invoker, id, timings, Outcome::Failure(failure.clone()));
        }
        let ended = r.deadline.min(now);
        let runtime = self.env.runtime;
        let error_type = Some(failure.error_type().to_string());
        self.end_invocation(now, &r, Status::Timeout, error_type, ended, runtime);
        self.reset();
    }

    /// Emits `runtimeDone` and the report for a finished invocation; `ended` is when its
    /// duration stops (the deadline, for a timeout); `runtime` is whose memory to report.
    fn end_invocation(
        &mut self,
        now: Micros,
        r: &Running,
        status: Status,
        error_type: Option<String>,
        ended: Micros,
        runtime: Option<ChildId>,
    ) {
        let id = r.invocation.request_id;
        let produced_bytes = r.response.as_ref().map_or(0, |resp| resp.produced_bytes);
        self.event(PlatformEvent::RuntimeDone {
            request_id: id,
            status,
            error_type: error_type.clone(),
            duration: now.min(ended).since(r.released),
            produced_bytes,
        });
        self.event(PlatformEvent::Report {
            request_id: id,
            status,
            error_type,
            duration: ended.since(r.released),
            init_duration: r.init_duration,
            runtime,
        });
    }

    /// Lambda's reset: the runtime's process group is killed and the environment goes down;
    /// the next invocation re-initialises it (5.4).
    fn reset(&mut self) {
        if let Some(child) = self.env.runtime.take() {
            self.actions.push_back(Action::Signal {
                child,
                signal: Signal::Kill,
            });
        }
        if self.config.runtime == RuntimeMode::Process {
            for waiter in self.env.parked.drain(..) {
                self.actions.push_back(Action::Close(waiter));
            }
        }
        self.env.pending_init = None;
        self.env.budget = None;
        self.set_phase(Phase::Down);
    }

    fn finish(&mut self) {
        self.env.timers = TimerTable::default();
        for waiter in self.env.parked.drain(..) {
            self.actions.push_back(Action::Close(waiter));
        }
        self.set_phase(Phase::Finished);
        self.actions.push_back(Action::Finished);
    }

    fn answer(
        &mut self,
        invoker: WaiterId,
        request_id: RequestId,
        timings: Timings,
        outcome: Outcome,
    ) {
        self.actions.push_back(Action::Reply {
            invoker,
            reply: InvokeReply {
                request_id,
                outcome,
                timings,
            },
        });
    }

    fn event(&mut self, event: PlatformEvent) {
        self.actions.push_back(Action::Event(event));
    }

    fn set_phase(&mut self, phase: Phase) -> Phase {
        let old = std::mem::replace(&mut self.env.phase, phase);
        log::trace!(
            "lifecycle: {} => {}",
            phase_name(&old),
            phase_name(&self.env.phase)
        );
        old
    }
}

fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::Down => "Down",
        Phase::Init(_) => "Init",
        Phase::InitFailed => "InitFailed",
        Phase::Ready => "Ready",
        Phase::Invoke(_) => "Invoke",
        Phase::Shutdown => "Shutdown",
        Phase::Finished => "Finished",
    }
}

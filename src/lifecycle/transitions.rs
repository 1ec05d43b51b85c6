//! The core's transitions, private to it: moving the environment on when what a phase waits for
//! is there (`progress`), and the steps it takes: starting, completing and failing an init,
//! releasing an invocation, completing, timing out and aborting one, stopping, resetting and
//! finishing the environment. The rules are in the module docs' transition table.

use super::extensions::ExtState;
use super::timers::{Timer, TimerTable};
use super::{
    Action, ChildId, Cx, ExtensionEvent, Failure, Init, InitFailure, InitMode, InitPhase,
    InitStage, InitType, MANAGED_INIT_TIMEOUT, MAX_EXTENSIONS, Micros, Outcome, Overheads,
    PROVISIONED_INIT_TIMEOUT, Phase, PlatformEvent, RESTORE_TIMEOUT, RUNTIME_SHUTDOWN_SHARE,
    RequestId, ResponseTimes, Role, Running, RuntimeMode, SHUTDOWN_BUDGET_EXTERNAL,
    SHUTDOWN_BUDGET_INTERNAL, SHUTDOWN_GRACE, ShutdownReason, Signal, Status, StopStage, Stopping,
    TIMED_OUT_REMEMBERED, Timings, WaiterId,
};

impl Cx<'_> {
    /// Moves the environment forward as far as it goes without new input: each arm fires when
    /// what its phase waits for is there, and leaves that phase.
    pub(super) fn progress(&mut self, now: Micros) {
        loop {
            let external = self.s.config.runtime == RuntimeMode::External;
            let parked = !self.env.parked.is_empty();
            // Taking a queued invocation, and starting an init for one, are decided by the
            // `Lifecycle`, which chooses the environment (`settle`).
            match &self.env.phase {
                // Managed Instances: a serving environment that failed is replaced at once.
                Phase::Down if self.env.replace => self.start_init(now),
                // An external runtime already parked on /next after a reset starts over.
                Phase::Down if external && parked => self.start_init(now),
                Phase::Init(init)
                    if init.stage == InitStage::Extensions && self.externals_registered() =>
                {
                    self.start_runtime();
                }
                // The runtime's first /next (SnapStart: or /restore/next) closes registration
                // (5.1 step 4).
                Phase::Init(init)
                    if init.stage == InitStage::Runtime
                        && (parked || self.env.restore_waiter.is_some()) =>
                {
                    let event = PlatformEvent::InitRuntimeDone {
                        phase: init.phase,
                        kind: init.kind,
                        status: Status::Success,
                        error_type: None,
                    };
                    let hidden = init.hidden;
                    if let Phase::Init(init) = &mut self.env.phase {
                        init.stage = InitStage::AwaitExtensions;
                    }
                    if !hidden {
                        self.event(event);
                    }
                }
                // SnapStart: the runtime is back on /next after its after-restore hooks.
                Phase::Init(init) if init.stage == InitStage::Restore && parked => {
                    let started = init.started;
                    self.set_phase(Phase::Ready);
                    self.env.timers.stop(Timer::Init);
                    self.end_restore(now, started, Status::Success, None);
                }
                Phase::Init(init)
                    if init.stage == InitStage::AwaitExtensions
                        && self
                            .env
                            .extensions
                            .iter()
                            .all(|e| e.state == ExtState::Ready) =>
                {
                    self.complete_init(now);
                }
                Phase::Invoke(r) if r.runtime_done.is_some() && r.awaiting == 0 => {
                    self.complete_invocation(now);
                }
                Phase::Stopping(s)
                    if s.stage == StopStage::Exit
                        && self.env.runtime.is_none()
                        && self.env.external.iter().all(Option::is_none) =>
                {
                    self.complete_stop();
                }
                _ => return,
            }
        }
    }

    /// Whether every external extension of this init has registered.
    pub(super) fn externals_registered(&self) -> bool {
        (0..self.s.external_names.len())
            .all(|i| self.env.extensions.iter().any(|e| e.external == Some(i)))
    }

    pub(super) fn shutting_down(&self) -> bool {
        match &self.env.phase {
            Phase::Stopping(s) => s.finish,
            Phase::Finished => true,
            _ => false,
        }
    }

    pub(super) fn start_init(&mut self, now: Micros) {
        self.env.replace = false;
        // SnapStart: every init ends in a snapshot (the first) or a restore (the others).
        let snap = self.s.snap_start();
        let hidden = snap && std::mem::replace(&mut self.s.snapshot_taken, true);
        // Managed Instances: each init is a new environment's, never inside an invocation.
        let phase = if self.env.inits == 0 || self.s.managed().is_some() || snap {
            InitPhase::Init
        } else {
            InitPhase::Invoke
        };
        self.env.inits += 1;
        let kind = if snap {
            InitType::SnapStart
        } else if self.s.managed().is_some() {
            InitType::ManagedInstances
        } else if phase == InitPhase::Init && self.s.config.init == InitMode::Eager {
            InitType::ProvisionedConcurrency
        } else {
            InitType::OnDemand
        };
        let limit = match (self.s.config.runtime, phase) {
            (RuntimeMode::External, _) => None,
            (RuntimeMode::Process, _) if kind == InitType::ManagedInstances => {
                Some(MANAGED_INIT_TIMEOUT.max(self.s.config.timeout))
            }
            (RuntimeMode::Process, _)
                if matches!(kind, InitType::ProvisionedConcurrency | InitType::SnapStart) =>
            {
                Some(PROVISIONED_INIT_TIMEOUT.max(self.s.config.timeout))
            }
            (RuntimeMode::Process, InitPhase::Init) => Some(self.s.config.init_timeout),
            // A suppressed init counts against the function timeout (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>).
            (RuntimeMode::Process, InitPhase::Invoke) => Some(self.s.config.timeout),
        };
        let for_request = match phase {
            InitPhase::Invoke if kind == InitType::OnDemand => {
                self.s.queue.front().map(|q| q.invocation.request_id)
            }
            _ => None,
        };
        if let Some(limit) = limit {
            self.env.timers.set(Timer::Init, now + limit);
        }
        if !hidden {
            self.event(PlatformEvent::InitStart { phase, kind });
        }
        // External extensions first; the runtime once they have all registered (5.1 step 2).
        for i in 0..self.s.external_names.len() {
            let child = self.new_child();
            self.env.external[i] = Some(child);
            self.s.actions.push_back(Action::Spawn {
                env: self.id,
                child,
                role: Role::Extension(i),
                init_type: kind,
            });
        }
        self.set_phase(Phase::Init(Init {
            started: now,
            phase,
            kind,
            limit,
            for_request,
            stage: InitStage::Extensions,
            hidden,
        }));
        // With no external extension, `progress` starts the runtime at once.
    }

    pub(super) fn start_runtime(&mut self) {
        let Phase::Init(init) = &mut self.env.phase else {
            return;
        };
        init.stage = InitStage::Runtime;
        let init_type = init.kind;
        if self.s.config.runtime == RuntimeMode::Process {
            let child = self.new_child();
            self.env.runtime = Some(child);
            self.s.actions.push_back(Action::Spawn {
                env: self.id,
                child,
                role: Role::Runtime,
                init_type,
            });
        }
    }

    pub(super) fn new_child(&mut self) -> ChildId {
        let child = ChildId(self.s.next_child);
        self.s.next_child += 1;
        child
    }

    /// The runtime is on `/next` and every extension on `event/next`: the init succeeded.
    pub(super) fn complete_init(&mut self, now: Micros) {
        let Phase::Init(init) = self.set_phase(Phase::Ready) else {
            return;
        };
        self.env.timers.stop(Timer::Init);
        let duration = now.since(init.started);
        if !self.env.extensions.is_empty() {
            // One allocation per init, so that reports allocate nothing.
            let names = self.env.extensions.iter().map(|e| e.name.clone()).collect();
            self.env.names = Some(names);
        }
        if init.kind == InitType::SnapStart {
            // Decision *SnapStart*: the snapshot, or for an invocation waiting, its restore.
            match self.env.claimed {
                true => self.start_restore(now),
                false => self.env.snapshot = true,
            }
            if init.hidden {
                return;
            }
        }
        for i in 0..self.env.extensions.len() {
            let ext = &self.env.extensions[i];
            let event = PlatformEvent::Extension {
                name: ext.name.clone(),
                state: ext.state.as_str(),
                events: ext.events,
            };
            self.event(event);
        }
        self.event(PlatformEvent::InitDone {
            phase: init.phase,
            kind: init.kind,
            status: Status::Success,
            error_type: None,
            duration,
        });
        // Only an on-demand init we timed ourselves goes on the next REPORT: an external
        // runtime's start is not ours to measure.
        if init.kind == InitType::OnDemand && self.s.config.runtime == RuntimeMode::Process {
            self.env.pending_init = Some(duration);
        }
        self.env.budget = init.for_request.map(|id| (id, init.started));
    }

    /// An init failed: the invocation that waited for it gets the error, the environment stops.
    /// SnapStart: so does a restore, whose invocation gets `SnapStartException` or
    /// `SnapStartTimeoutException`.
    pub(super) fn fail_init(&mut self, now: Micros, status: Status, failure: InitFailure) {
        let Phase::Init(init) = self.set_phase(Phase::Down) else {
            return;
        };
        self.env.timers.stop(Timer::Init);
        let duration = now.since(init.started);
        let reason = if status == Status::Timeout {
            ShutdownReason::Timeout
        } else {
            ShutdownReason::Failure
        };
        let mut outcome = match failure {
            InitFailure::Reported(e) => Outcome::FunctionError(e),
            InitFailure::Timeout(after) => Outcome::Failure(Failure::Timeout { after }),
            InitFailure::Platform(failure) => Outcome::Failure(failure),
        };
        if init.stage == InitStage::Restore {
            let error_type = match status {
                Status::Timeout => None,
                _ => outcome.error_type().map(str::to_string),
            };
            self.end_restore(now, init.started, status, error_type);
            let timeout = status == Status::Timeout;
            outcome = Outcome::Failure(Failure::Restore { timeout });
        } else if !init.hidden {
            // An init out of sight has no events.
            let error_type = outcome.error_type().map(str::to_string);
            if init.stage != InitStage::AwaitExtensions {
                // The init ended before the runtime's part of it did.
                self.event(PlatformEvent::InitRuntimeDone {
                    phase: init.phase,
                    kind: init.kind,
                    status,
                    error_type: error_type.clone(),
                });
            }
            self.event(PlatformEvent::InitDone {
                phase: init.phase,
                kind: init.kind,
                status,
                error_type,
                duration,
            });
        }
        // Decision *init*: an on-demand init that fails in phase `init` is retried at once,
        // inside the invocation that waited for it (a suppressed init: phase `invoke`, under the
        // function timeout), once this environment has stopped. Decision *the queue*: a retry
        // that fails, or any other failing init, answers the invocation that waited for it.
        let retried = init.phase == InitPhase::Init
            && init.kind == InitType::OnDemand
            && self.s.config.runtime == RuntimeMode::Process
            && !self.s.shutting_down;
        if !retried {
            if let Some(q) = self.s.queue.pop_front() {
                let timings = q.timings(now, Some(duration));
                let id = q.invocation.request_id;
                self.s
                    .answer(q.invoker, id, timings, outcome, Some(&q.invocation));
            }
        }
        self.stop(now, reason, false);
    }

    /// A process failed or an extension reported an error: an init fails, an invocation fails,
    /// an idle environment resets.
    pub(super) fn fail_environment(&mut self, now: Micros, failure: Failure) {
        match &self.env.phase {
            Phase::Init(_) => {
                self.fail_init(now, Status::Failure, InitFailure::Platform(failure));
            }
            Phase::Invoke(_) => {
                self.abort_invocation(now, failure, Status::Failure, now);
                self.stop(now, ShutdownReason::Failure, false);
            }
            Phase::Ready | Phase::InitFailed => {
                // Managed Instances: each invocation in flight ends with the failure, and a
                // new environment replaces this one (not after a failed init: a function that
                // cannot initialise waits for the next invocation, rather than spinning).
                self.env.replace =
                    self.s.managed().is_some() && matches!(self.env.phase, Phase::Ready);
                self.abort_flying(now, || failure.clone());
                self.stop(now, ShutdownReason::Failure, false);
            }
            Phase::Down | Phase::Stopping(_) | Phase::Finished => {}
        }
    }

    pub(super) fn release(&mut self, now: Micros, at: usize) {
        if self.env.parked.is_empty() {
            return;
        }
        let q = match at {
            0 => self.s.queue.pop_front(),
            at => self.s.queue.remove(at),
        };
        let (Some(q), Some(waiter)) = (q, self.env.parked.pop_front()) else {
            return;
        };
        self.unclaim();
        let id = q.invocation.request_id;
        let budget_start = match self.env.budget.take() {
            Some((for_id, started)) if for_id == id => started,
            _ => now,
        };
        let deadline = budget_start + self.s.config.timeout;
        if self.s.managed().is_none() {
            self.env.timers.set(Timer::Invoke, deadline);
        }
        self.thaw();
        self.event(PlatformEvent::Start {
            request_id: id,
            trace_id: q.invocation.trace_id.clone(),
            tenant_id: q.invocation.request.tenant_id.clone(),
        });
        self.s.actions.push_back(Action::Release {
            waiter,
            request_id: id,
            deadline,
        });
        // INVOKE to every subscribed extension at the same moment, with the same deadline.
        let mut awaiting = 0u16;
        for (slot, ext) in self.env.extensions.iter_mut().enumerate() {
            if ext.events.invoke && !ext.state.failed() {
                let event = ExtensionEvent::Invoke {
                    event_id: self.s.rng.uuid_v4(),
                    request_id: id,
                    deadline,
                };
                ext.deliver(event, &mut self.s.actions);
                awaiting |= 1 << slot;
            }
        }
        let init_duration = self.env.pending_init.take();
        let restore_duration = self.env.pending_restore.take();
        let runtime = self.env.runtime;
        let running = Running {
            invocation: q.invocation,
            invoker: Some(q.invoker),
            received: q.received,
            released: now,
            deadline,
            init_duration,
            restore_duration,
            runtime,
            response_started: None,
            held: None,
            response: None,
            runtime_done: None,
            awaiting,
            returned: 0,
            back: [Micros::ZERO; MAX_EXTENSIONS],
        };
        if self.s.managed().is_some() {
            self.env.flying.push(running);
        } else {
            // Assigned, not swapped through `set_phase`: the phase was `Ready`, which holds
            // nothing, and the invocation is written where it stays.
            debug_assert!(matches!(self.env.phase, Phase::Ready));
            log::trace!("lifecycle: Ready => Invoke");
            self.env.phase = Phase::Invoke(running);
        }
    }

    /// Managed Instances: invocation `id` has its result, so it is complete: `runtimeDone`
    /// and its report now (decision *Managed Instances*).
    pub(super) fn complete_flying(&mut self, now: Micros, id: RequestId) {
        let Some(mut r) = self.take_flying(id) else {
            return;
        };
        self.event(r.runtime_done_event(now));
        let (status, error_type, _) = r.result();
        self.report(&r, status, error_type, now);
        self.answer_held(&mut r, now, None);
    }

    /// Managed Instances: invocation `id`, no longer in flight.
    #[inline(never)]
    fn take_flying(&mut self, id: RequestId) -> Option<Running> {
        let flying = &mut self.env.flying;
        let at = flying.iter().position(|r| r.invocation.request_id == id)?;
        Some(flying.remove(at))
    }

    /// Managed Instances: invocation `id` timed out. Its invoker gets `Sandbox.Timedout`; the
    /// environment and the other invocations go on, and a late result for it is told so
    /// (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances-execution-environment.html>, "Independent timeouts").
    pub(super) fn timeout_flying(&mut self, now: Micros, id: RequestId) {
        let Some(r) = self.take_flying(id) else {
            return;
        };
        let after = self.s.config.timeout;
        self.event(PlatformEvent::TimedOut {
            request_id: id,
            after,
        });
        let ended = r.deadline.min(now);
        self.end_running(r, now, Failure::Timeout { after }, Status::Timeout, ended);
        if self.env.timed_out.len() >= TIMED_OUT_REMEMBERED {
            self.env.timed_out.pop_front();
        }
        self.env.timed_out.push_back(id);
    }

    /// Managed Instances: every invocation in flight ends with `failure()` (the environment
    /// stops, or shuts down).
    pub(super) fn abort_flying(&mut self, now: Micros, failure: impl Fn() -> Failure) {
        while !self.env.flying.is_empty() {
            let r = self.env.flying.remove(0);
            self.end_running(r, now, failure(), Status::Failure, now);
        }
    }

    /// The runtime is back on `/next` after posting its result (5.2 step 4).
    pub(super) fn runtime_done(&mut self, now: Micros) {
        let Phase::Invoke(r) = &mut self.env.phase else {
            return;
        };
        if r.runtime_done.is_some() {
            return;
        }
        r.runtime_done = Some(now);
        let event = r.runtime_done_event(now);
        self.event(event);
    }

    /// The runtime and every INVOKE-subscribed extension are back: the invocation is complete
    /// (5.2 step 5).
    pub(super) fn complete_invocation(&mut self, now: Micros) {
        let Phase::Invoke(mut r) = self.set_phase(Phase::Ready) else {
            return;
        };
        self.env.timers.stop(Timer::Invoke);
        let (status, error_type, _) = r.result();
        self.report(&r, status, error_type, now);
        self.answer_held(&mut r, now, None);
    }

    /// Answers a log-tail invoker after the report: with the runtime's result if it posted
    /// one, else with `failure`.
    pub(super) fn answer_held(&mut self, r: &mut Running, now: Micros, failure: Option<Failure>) {
        let Some(invoker) = r.invoker.take() else {
            return;
        };
        let outcome = match (r.held.take(), failure) {
            (Some(outcome), _) => outcome,
            (None, Some(failure)) => Outcome::Failure(failure),
            // Complete without a result: cannot happen (completion needs runtimeDone, which
            // needs the result); answered all the same, never left waiting.
            (None, None) => Outcome::Failure(Failure::TruncatedResponse),
        };
        let timings = r.timings(now);
        self.answer(invoker, r.invocation.request_id, timings, outcome);
    }

    pub(super) fn timeout_invocation(&mut self, now: Micros) {
        let Phase::Invoke(r) = &self.env.phase else {
            return;
        };
        let ended = r.deadline.min(now);
        self.event(PlatformEvent::TimedOut {
            request_id: r.invocation.request_id,
            after: self.s.config.timeout,
        });
        let failure = Failure::Timeout {
            after: self.s.config.timeout,
        };
        self.abort_invocation(now, failure, Status::Timeout, ended);
        self.stop(now, ShutdownReason::Timeout, false);
    }

    /// Ends the running invocation with `failure`: its invoker, if still waiting, gets it;
    /// `runtimeDone` (unless the runtime was done already) and the report follow, their
    /// durations ending at `ended`. The caller stops the environment.
    pub(super) fn abort_invocation(
        &mut self,
        now: Micros,
        failure: Failure,
        status: Status,
        ended: Micros,
    ) {
        let Phase::Invoke(r) = self.set_phase(Phase::Down) else {
            return;
        };
        self.env.timers.stop(Timer::Invoke);
        self.end_running(r, now, failure, status, ended);
    }

    /// Ends invocation `r`, no longer in flight, with `failure`; see [`Self::abort_invocation`].
    fn end_running(
        &mut self,
        mut r: Running,
        now: Micros,
        failure: Failure,
        status: Status,
        ended: Micros,
    ) {
        let id = r.invocation.request_id;
        let error_type = Some(failure.error_type().to_string());
        let tail = r.invocation.request.log_tail;
        let mut failure = Some(failure);
        if !tail {
            if let (Some(invoker), Some(failure)) = (r.invoker.take(), failure.take()) {
                let timings = r.timings(now);
                self.answer(invoker, id, timings, Outcome::Failure(failure));
            }
        }
        if r.runtime_done.is_none() {
            let produced_bytes = r.response.as_ref().map_or(0, |resp| resp.produced_bytes);
            self.event(PlatformEvent::RuntimeDone {
                request_id: id,
                status,
                error_type: error_type.clone(),
                duration: ended.since(r.released),
                produced_bytes,
                response: response_times(&r),
            });
        }
        self.report(&r, status, error_type, ended);
        // A log-tail invoker is answered after the report its log ends with.
        self.answer_held(&mut r, now, failure);
    }

    /// Emits the report of invocation `r`, whose duration ends at `ended`.
    pub(super) fn report(
        &mut self,
        r: &Running,
        status: Status,
        error_type: Option<String>,
        ended: Micros,
    ) {
        let mut extensions = match &self.env.names {
            Some(names) => Overheads::for_extensions(names.clone()),
            None => Overheads::default(),
        };
        if let Some(responded) = r.response.as_ref().map(|resp| resp.at) {
            for (slot, back) in r.back.iter().enumerate() {
                if r.returned & (1 << slot) != 0 {
                    extensions.set(slot, back.since(responded));
                }
            }
        }
        self.event(PlatformEvent::Report {
            request_id: r.invocation.request_id,
            status,
            error_type,
            duration: ended.since(r.released),
            init_duration: r.init_duration,
            runtime: r.runtime,
            extensions,
            responded: r.response.as_ref().map(|resp| resp.at),
            tenant_id: r.invocation.request.tenant_id.clone(),
            restore_duration: r.restore_duration,
        });
    }

    /// SnapStart: the snapshot is restored for the invocation this environment claimed
    /// (decision *SnapStart*). The runtime's `/restore/next` is answered and its after-restore
    /// hooks run until its `/next`, within [`RESTORE_TIMEOUT`]; a runtime that went straight
    /// to `/next` has nothing to run, and the restore ends at once.
    pub(super) fn start_restore(&mut self, now: Micros) {
        self.env.snapshot = false;
        self.thaw();
        self.event(PlatformEvent::RestoreStart);
        let Some(waiter) = self.env.restore_waiter.take() else {
            return self.end_restore(now, now, Status::Success, None);
        };
        self.s.actions.push_back(Action::Restored(waiter));
        self.env.timers.set(Timer::Init, now + RESTORE_TIMEOUT);
        self.set_phase(Phase::Init(Init {
            started: now,
            phase: InitPhase::Init,
            kind: InitType::SnapStart,
            limit: Some(RESTORE_TIMEOUT),
            for_request: None,
            stage: InitStage::Restore,
            hidden: false,
        }));
    }

    /// SnapStart: a restore begun at `started` ended at `now`: `platform.restoreRuntimeDone`,
    /// `platform.restoreReport`, and on success its duration for the next REPORT.
    pub(super) fn end_restore(
        &mut self,
        now: Micros,
        started: Micros,
        status: Status,
        error_type: Option<String>,
    ) {
        let duration = now.since(started);
        self.event(PlatformEvent::RestoreRuntimeDone {
            status,
            error_type: error_type.clone(),
        });
        self.event(PlatformEvent::RestoreReport {
            status,
            error_type,
            duration,
        });
        if status == Status::Success {
            self.env.pending_restore = Some(duration);
        }
    }

    /// Stops the environment: a reset (`finish == false`, then `Down`) or the shutdown
    /// (`Finished`). See "Stopping" in the module docs.
    pub(super) fn stop(&mut self, now: Micros, reason: ShutdownReason, finish: bool) {
        // Before any SIGTERM, SIGKILL or SHUTDOWN: a stopped process can take none of them.
        self.thaw();
        self.env.timers.stop(Timer::Init);
        self.env.timers.stop(Timer::Invoke);
        let budget = if self.env.external.iter().any(Option::is_some) {
            SHUTDOWN_BUDGET_EXTERNAL
        } else if !self.env.extensions.is_empty() {
            SHUTDOWN_BUDGET_INTERNAL
        } else {
            return self.stop_without_extensions(now, reason, finish);
        };
        let deadline = now + budget;
        self.set_phase(Phase::Stopping(Stopping {
            reason,
            finish,
            deadline,
            stage: StopStage::Runtime,
        }));
        self.env.timers.set(Timer::Stop, deadline);
        if self.env.runtime.is_some() {
            self.signal_runtime(Signal::Term);
            let share = Micros(budget.as_micros() * RUNTIME_SHUTDOWN_SHARE / 100);
            self.env.timers.set(Timer::StopRuntime, now + share);
        } else {
            self.stop_extensions();
        }
    }

    /// No extension: SIGKILL, no notice (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>, "Shutdown phase"). A reset is immediate (the killed runtime is
    /// forgotten: its exit changes nothing); a shutdown waits for the exit.
    pub(super) fn stop_without_extensions(
        &mut self,
        now: Micros,
        reason: ShutdownReason,
        finish: bool,
    ) {
        self.signal_runtime(Signal::Kill);
        if !finish {
            self.env.runtime = None;
            self.reset();
            return;
        }
        self.set_phase(Phase::Stopping(Stopping {
            reason,
            finish,
            deadline: now + SHUTDOWN_GRACE,
            stage: StopStage::Exit,
        }));
        self.env.timers.set(Timer::Stop, now + SHUTDOWN_GRACE);
    }

    /// The runtime is gone or has had its share: SHUTDOWN to every external extension that
    /// subscribed to it, SIGKILL to the others.
    pub(super) fn stop_extensions(&mut self) {
        let Phase::Stopping(stopping) = &mut self.env.phase else {
            return;
        };
        stopping.stage = StopStage::Exit;
        let event = ExtensionEvent::Shutdown {
            reason: stopping.reason,
            deadline: stopping.deadline,
        };
        self.env.timers.stop(Timer::StopRuntime);
        for (i, child) in self.env.external.iter().enumerate() {
            let Some(child) = *child else { continue };
            let subscriber = self
                .env
                .extensions
                .iter_mut()
                .find(|e| e.external == Some(i) && e.events.shutdown && !e.state.failed());
            match subscriber {
                Some(ext) => ext.deliver(event, &mut self.s.actions),
                None => self.s.actions.push_back(Action::Signal {
                    child,
                    signal: Signal::Kill,
                }),
            }
        }
    }

    /// Every process has exited, or the deadline passed: the stop is over.
    pub(super) fn complete_stop(&mut self) {
        let Phase::Stopping(stopping) = self.set_phase(Phase::Down) else {
            return;
        };
        self.env.timers.stop(Timer::StopRuntime);
        self.env.timers.stop(Timer::Stop);
        // Whatever is still alive was killed at the deadline; its exit is no longer ours.
        self.env.runtime = None;
        self.env.external.fill(None);
        if stopping.finish {
            self.finish();
        } else {
            self.reset();
        }
    }

    /// Continues a frozen environment (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>).
    #[inline(never)]
    pub(super) fn thaw(&mut self) {
        if std::mem::take(&mut self.env.frozen) {
            self.s.actions.push_back(Action::Thaw(self.id));
        }
    }

    pub(super) fn signal_runtime(&mut self, signal: Signal) {
        if let Some(child) = self.env.runtime {
            self.s.actions.push_back(Action::Signal { child, signal });
        }
    }

    pub(super) fn kill_all(&mut self) {
        let alive = self
            .env
            .runtime
            .into_iter()
            .chain(self.env.external.iter().flatten().copied());
        for child in alive {
            self.s.actions.push_back(Action::Signal {
                child,
                signal: Signal::Kill,
            });
        }
    }

    /// The environment goes down; the next invocation re-initialises it (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>). Parked
    /// connections of our runtime and of the extensions are closed: those processes are gone.
    pub(super) fn reset(&mut self) {
        self.close_waiters(self.s.config.runtime == RuntimeMode::Process);
        self.env.snapshot = false;
        self.env.pending_restore = None;
        self.forget_extensions();
        self.env.pending_init = None;
        self.env.budget = None;
        self.set_phase(Phase::Down);
    }

    /// Closes the runtime's parked connections (`parked`: its `/next`s, which an external
    /// runtime keeps across a reset) and its `/restore/next`: the process is gone.
    fn close_waiters(&mut self, parked: bool) {
        if parked {
            for waiter in self.env.parked.drain(..) {
                self.s.actions.push_back(Action::Close(waiter));
            }
        }
        if let Some(waiter) = self.env.restore_waiter.take() {
            self.s.actions.push_back(Action::Close(waiter));
        }
    }

    pub(super) fn finish(&mut self) {
        self.env.timers = TimerTable::default();
        self.close_waiters(true);
        self.forget_extensions();
        self.set_phase(Phase::Finished);
    }

    pub(super) fn forget_extensions(&mut self) {
        self.env.names = None;
        for ext in self.env.extensions.drain(..) {
            if let Some(waiter) = ext.waiter {
                self.s.actions.push_back(Action::Close(waiter));
            }
        }
    }

    pub(super) fn answer(
        &mut self,
        invoker: WaiterId,
        request_id: RequestId,
        timings: Timings,
        outcome: Outcome,
    ) {
        // For an `Event` attempt that ended, the invocation to retry is still running here.
        let invocation = match self.s.events.is_empty() {
            true => None,
            false => self.env.running(request_id).map(|r| &r.invocation),
        };
        self.s
            .answer(invoker, request_id, timings, outcome, invocation);
    }

    pub(super) fn event(&mut self, event: PlatformEvent) {
        self.s.actions.push_back(Action::Event(self.id, event));
    }

    /// This environment starts for a queued invocation and will serve one.
    pub(super) fn claim(&mut self) {
        if !self.env.claimed {
            self.env.claimed = true;
            self.s.claims += 1;
        }
    }

    /// Its claim, if any, ends: it took an invocation, or its init failed.
    fn unclaim(&mut self) {
        if self.env.claimed {
            self.env.claimed = false;
            self.s.claims -= 1;
        }
    }

    pub(super) fn set_phase(&mut self, phase: Phase) -> Phase {
        // A claim lasts through the init until the release; an init that fails ends it.
        if !matches!(phase, Phase::Init(_) | Phase::Ready) {
            self.unclaim();
        }
        let old = std::mem::replace(&mut self.env.phase, phase);
        log::trace!(
            "lifecycle: {} => {}",
            phase_name(&old),
            phase_name(&self.env.phase)
        );
        old
    }
}

/// When the response of invocation `r` came, if it has.
pub(super) fn response_times(r: &Running) -> Option<ResponseTimes> {
    let completed = r.response.as_ref()?.at;
    Some(ResponseTimes {
        released: r.released,
        started: r.response_started.unwrap_or(completed),
        completed,
    })
}

fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::Down => "Down",
        Phase::Init(_) => "Init",
        Phase::InitFailed => "InitFailed",
        Phase::Ready => "Ready",
        Phase::Invoke(_) => "Invoke",
        Phase::Stopping(_) => "Stopping",
        Phase::Finished => "Finished",
    }
}

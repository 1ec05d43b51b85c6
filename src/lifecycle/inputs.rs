//! One environment's inputs: what its runtime and extensions ask of the Runtime and
//! Extensions APIs, its children's exits and its timers, as [`Cx`] methods. The public API
//! ([`Lifecycle`](super::Lifecycle)) finds the environment and calls these; the rules are in
//! the module docs' transition table.

use super::extensions::{ExtState, Extension};
use super::timers::Timer;
use super::{
    Action, ChildId, Cx, Events, ExitStatus, ExtensionErrorKind, Failure, FunctionError,
    InitFailure, InitStage, InitType, MAX_EXTENSIONS, Micros, Outcome, Phase, PlatformEvent,
    Rejection, RequestId, Responded, RuntimeMode, RuntimeResult, ShutdownReason, Signal, Status,
    StopStage, StreamEnd, TelemetryApi, Uuid, WaiterId, Wire,
};
use std::sync::Arc;

impl Cx<'_> {
    /// Shutdown reaches this environment: its invocation ends before it stops, with its lines
    /// and its telemetry: completed as it stands if the runtime has answered (it was only not
    /// back on `/next` yet), else ended by the shutdown. Then it stops with reason `spindown`.
    pub(super) fn shutdown(&mut self, now: Micros) {
        if self.shutting_down() {
            return;
        }
        if let Phase::Invoke(r) = &self.env.phase {
            if r.response.is_some() {
                self.runtime_done(now);
                self.complete_invocation(now);
            } else {
                self.abort_invocation(now, Failure::Shutdown, Status::Failure, now);
            }
        }
        // Managed Instances: an invocation completes with its result, so those in flight have
        // none yet.
        self.abort_flying(now, || Failure::Shutdown);
        if let Phase::Stopping(stopping) = &mut self.env.phase {
            // A reset in progress becomes the last stop.
            stopping.finish = true;
            return;
        }
        self.stop(now, ShutdownReason::Spindown, true);
        self.progress(now);
    }

    /// See [`Lifecycle::handle_runtime_next`](super::Lifecycle::handle_runtime_next).
    pub(super) fn handle_runtime_next(
        &mut self,
        now: Micros,
        waiter: WaiterId,
    ) -> Result<(), Rejection> {
        match &self.env.phase {
            // Decision *external runtime*: with no process of ours, a /next after a reset is a runtime starting over.
            Phase::Down if self.s.config.runtime == RuntimeMode::External => self.start_init(now),
            // Parked; in stage runtime, `progress` takes it as the end of the runtime's init.
            Phase::Init(_) => {}
            Phase::Down | Phase::InitFailed => {
                return Err(Rejection::InvalidStateTransition {
                    from: self.env.runtime_state(),
                    to: "Ready",
                });
            }
            Phase::Ready => {}
            // rapid's RuntimeRunningState.Ready returns nil and the handler renders the current
            // invocation again: a runtime that reconnects gets its work back.
            Phase::Invoke(r) if r.response.is_none() => {
                self.s.actions.push_back(Action::Release {
                    waiter,
                    request_id: r.invocation.request_id,
                    deadline: r.deadline,
                });
                return Ok(());
            }
            // Back on /next after its response: the runtime is done with the invocation.
            Phase::Invoke(_) => self.runtime_done(now),
            // Parked until the stop completes, then closed.
            Phase::Stopping(_) | Phase::Finished => {}
        }
        self.env.parked.push_back(waiter);
        self.progress(now);
        Ok(())
    }

    /// See [`Lifecycle::handle_restore_next`](super::Lifecycle::handle_restore_next).
    pub(super) fn handle_restore_next(
        &mut self,
        now: Micros,
        waiter: WaiterId,
    ) -> Result<(), Rejection> {
        match &self.env.phase {
            Phase::Init(init)
                if init.kind == InitType::SnapStart
                    && init.stage == InitStage::Runtime
                    && self.env.restore_waiter.is_none() =>
            {
                self.env.restore_waiter = Some(waiter);
                self.progress(now);
                Ok(())
            }
            _ => Err(Rejection::InvalidStateTransition {
                from: self.env.runtime_state(),
                to: "RestoreReady",
            }),
        }
    }

    /// See [`Lifecycle::handle_restore_error`](super::Lifecycle::handle_restore_error).
    pub(super) fn handle_restore_error(
        &mut self,
        now: Micros,
        error: FunctionError,
    ) -> Result<(), Rejection> {
        match &self.env.phase {
            Phase::Init(init) if init.stage == InitStage::Restore => {
                self.fail_init(now, Status::Error, InitFailure::Reported(error));
                self.progress(now);
                Ok(())
            }
            _ => Err(Rejection::InvalidStateTransition {
                from: self.env.runtime_state(),
                to: "RestoreError",
            }),
        }
    }

    /// See [`Lifecycle::handle_runtime_response_started`](super::Lifecycle::handle_runtime_response_started).
    pub(super) fn handle_runtime_response_started(&mut self, now: Micros, request_id: RequestId) {
        if let Some(r) = self.env.running_mut(request_id) {
            if r.response.is_none() {
                r.response_started.get_or_insert(now);
            }
        }
    }

    /// See [`Lifecycle::handle_late_result`](super::Lifecycle::handle_late_result).
    pub(super) fn handle_late_result(&mut self, request_id: RequestId) {
        self.env.timed_out.retain(|id| *id != request_id);
    }

    /// See [`Lifecycle::handle_runtime_result`](super::Lifecycle::handle_runtime_result).
    pub(super) fn handle_runtime_result(
        &mut self,
        now: Micros,
        request_id: RequestId,
        result: RuntimeResult,
    ) -> Result<(), Rejection> {
        self.env
            .check_runtime_result(request_id, matches!(result, RuntimeResult::Error(_)))?;
        let Some(r) = self.env.running_mut(request_id) else {
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
            RuntimeResult::InvalidResponseMode => (
                Outcome::Failure(Failure::InvalidResponseMode),
                Status::Failure,
                0,
            ),
            RuntimeResult::Streamed { forwarded, end } => match end {
                StreamEnd::Complete { body, content_type } => {
                    let n = forwarded + body.len() as u64;
                    (Outcome::Response { body, content_type }, Status::Success, n)
                }
                StreamEnd::Error(e) => (Outcome::FunctionError(e), Status::Error, forwarded),
                StreamEnd::TooLarge { limit } => (
                    Outcome::Failure(Failure::StreamTooLarge { limit }),
                    Status::Error,
                    forwarded,
                ),
                StreamEnd::Truncated => (
                    Outcome::Failure(Failure::TruncatedResponse),
                    Status::Failure,
                    forwarded,
                ),
            },
        };
        r.response = Some(Responded {
            at: now,
            status,
            error_type: outcome.error_type().map(str::to_string),
            produced_bytes,
        });
        if r.invocation.request.log_tail {
            r.held = Some(outcome);
        } else if let Some(invoker) = r.invoker.take() {
            let timings = r.timings(now);
            let id = r.invocation.request_id;
            self.answer(invoker, id, timings, outcome);
        }
        if self.s.managed().is_some() {
            // Decision *Managed Instances*: no extension takes INVOKE, so the invocation is
            // complete with its result.
            self.complete_flying(now, request_id);
            self.progress(now);
        }
        Ok(())
    }

    /// See [`Lifecycle::handle_init_error`](super::Lifecycle::handle_init_error).
    pub(super) fn handle_init_error(
        &mut self,
        now: Micros,
        error: FunctionError,
    ) -> Result<(), Rejection> {
        self.env.check_init_error()?;
        self.fail_init(now, Status::Error, InitFailure::Reported(error));
        if matches!(self.env.phase, Phase::Down) {
            self.set_phase(Phase::InitFailed);
        }
        self.progress(now);
        Ok(())
    }

    /// See [`Lifecycle::handle_extension_register`](super::Lifecycle::handle_extension_register).
    pub(super) fn handle_extension_register(
        &mut self,
        now: Micros,
        name: &str,
        events: Events,
    ) -> Result<Uuid, Rejection> {
        if !matches!(&self.env.phase, Phase::Init(init) if init.stage != InitStage::AwaitExtensions)
        {
            return Err(Rejection::RegistrationClosed);
        }
        if self.env.extensions.iter().any(|e| &*e.name == name) {
            return Err(Rejection::ExtensionNameTaken);
        }
        if self.env.extensions.len() >= MAX_EXTENSIONS {
            return Err(Rejection::TooManyExtensions);
        }
        let external = self.s.external_names.iter().position(|n| &**n == name);
        if self.s.managed().is_some() {
            // SHUTDOWN only, and nothing for an internal extension (RIE
            // `internal/lambda-managed-instances/core/externalagent.go` and
            // `rapi/handler/agentregister.go`).
            let internal = external.is_none();
            if events.invoke || (internal && events.shutdown) {
                return Err(Rejection::EventNotAllowed { internal });
            }
        }
        if external.is_none() && events.shutdown {
            return Err(Rejection::ShutdownForInternal);
        }
        let id = self.s.rng.uuid_v4();
        let name = match external {
            Some(i) => self.s.external_names[i].clone(),
            None => Arc::from(name),
        };
        self.env.extensions.push(Extension {
            id,
            name,
            events,
            external,
            state: ExtState::Registered,
            waiter: None,
            pending: None,
            subscribed: None,
        });
        self.progress(now);
        Ok(id)
    }

    /// See [`Lifecycle::handle_subscribe`](super::Lifecycle::handle_subscribe).
    pub(super) fn handle_subscribe(
        &mut self,
        id: Uuid,
        api: TelemetryApi,
    ) -> Result<bool, Rejection> {
        let in_init = matches!(self.env.phase, Phase::Init(_));
        let slot = self.env.usable_slot(id, "Subscribed")?;
        let ext = &mut self.env.extensions[slot];
        match ext.subscribed {
            Some(held) if held != api => Err(Rejection::SubscribedElsewhere(held)),
            _ if !in_init => Err(Rejection::SubscriptionClosed(api)),
            Some(_) => Ok(false),
            None => {
                ext.subscribed = Some(api);
                Ok(true)
            }
        }
    }

    /// See [`Lifecycle::handle_extension_next`](super::Lifecycle::handle_extension_next).
    pub(super) fn handle_extension_next(
        &mut self,
        now: Micros,
        waiter: WaiterId,
        id: Uuid,
    ) -> Result<(), Rejection> {
        let slot = self.env.usable_slot(id, "Ready")?;
        let ext = &mut self.env.extensions[slot];
        if let Some(event) = ext.pending.take() {
            ext.state = ExtState::Running;
            self.s
                .actions
                .push_back(Action::ReleaseExtension { waiter, event });
            return Ok(());
        }
        if ext.state == ExtState::Running {
            if let Phase::Invoke(r) = &mut self.env.phase {
                let bit = 1 << slot;
                if r.awaiting & bit != 0 {
                    r.awaiting &= !bit;
                    r.returned |= bit;
                    r.back[slot] = now;
                }
            }
        }
        ext.state = ExtState::Ready;
        // A second call while parked (a reconnect): the newest connection waits.
        if let Some(old) = ext.waiter.replace(waiter) {
            self.s.actions.push_back(Action::Close(old));
        }
        self.progress(now);
        Ok(())
    }

    /// See [`Lifecycle::handle_extension_error`](super::Lifecycle::handle_extension_error).
    pub(super) fn handle_extension_error(
        &mut self,
        now: Micros,
        id: Uuid,
        kind: ExtensionErrorKind,
        error_type: String,
    ) -> Result<(), Rejection> {
        let slot = self
            .env
            .slot_of(id)
            .ok_or(Rejection::UnknownExtension(id))?;
        let in_init = matches!(self.env.phase, Phase::Init(_));
        let ext = &mut self.env.extensions[slot];
        let (allowed, to) = match kind {
            ExtensionErrorKind::Init => (in_init && ext.state == ExtState::Registered, "InitError"),
            ExtensionErrorKind::Exit => (!ext.state.failed(), "ExitError"),
        };
        if !allowed {
            return Err(Rejection::ExtensionState {
                from: ext.state.as_str(),
                to,
            });
        }
        ext.state = match kind {
            ExtensionErrorKind::Init => ExtState::InitError,
            ExtensionErrorKind::Exit => ExtState::ExitError,
        };
        let failure = Failure::ExtensionError {
            name: ext.name.clone(),
            kind,
            error_type,
        };
        self.fail_environment(now, failure);
        self.progress(now);
        Ok(())
    }

    /// See [`Lifecycle::handle_waiter_closed`](super::Lifecycle::handle_waiter_closed).
    pub(super) fn handle_waiter_closed(&mut self, waiter: WaiterId) {
        self.env.parked.retain(|w| *w != waiter);
        if self.env.restore_waiter == Some(waiter) {
            self.env.restore_waiter = None;
        }
        if let Phase::Invoke(r) = &mut self.env.phase {
            if r.invoker == Some(waiter) {
                r.invoker = None;
            }
        }
        for r in &mut self.env.flying {
            if r.invoker == Some(waiter) {
                r.invoker = None;
            }
        }
        for ext in &mut self.env.extensions {
            if ext.waiter == Some(waiter) {
                ext.waiter = None;
            }
        }
    }

    /// See [`Lifecycle::handle_wire`](super::Lifecycle::handle_wire).
    pub(super) fn handle_wire(&mut self, _now: Micros, wire: Wire) {
        if wire.is_quiet() && self.s.may_freeze(self.env) {
            self.env.frozen = true;
            self.s.actions.push_back(Action::Freeze(self.id));
        }
    }

    /// See [`Lifecycle::handle_child_exit`](super::Lifecycle::handle_child_exit).
    pub(super) fn handle_child_exit(&mut self, now: Micros, child: ChildId, status: ExitStatus) {
        if self.env.runtime == Some(child) {
            self.env.runtime = None;
            let request_id = self.env.current_request();
            match &self.env.phase {
                Phase::Init(_) | Phase::Ready | Phase::Invoke(_) => {
                    self.event(PlatformEvent::RuntimeExited { request_id, status });
                    self.fail_environment(now, Failure::RuntimeExit(status));
                }
                Phase::Stopping(s) if s.stage == StopStage::Runtime => self.stop_extensions(),
                Phase::Stopping(_) | Phase::Down | Phase::InitFailed | Phase::Finished => {}
            }
        } else if let Some(i) = self.env.external.iter().position(|c| *c == Some(child)) {
            self.env.external[i] = None;
            let name = self.s.external_names[i].clone();
            match &self.env.phase {
                Phase::Init(_) | Phase::Ready | Phase::Invoke(_) | Phase::InitFailed => {
                    self.event(PlatformEvent::ExtensionExited {
                        name: name.clone(),
                        status,
                    });
                    self.fail_environment(now, Failure::ExtensionCrash { name, status });
                }
                // Exiting is what a stopping extension is asked to do.
                Phase::Stopping(_) | Phase::Down | Phase::Finished => {}
            }
        }
        // A runtime or extension killed by an earlier reset is no longer ours: nothing to do.
        self.progress(now);
    }

    /// See [`Lifecycle::handle_spawn_failed`](super::Lifecycle::handle_spawn_failed).
    pub(super) fn handle_spawn_failed(&mut self, now: Micros, child: ChildId, message: String) {
        if self.env.runtime == Some(child) {
            self.env.runtime = None;
            if matches!(self.env.phase, Phase::Init(_)) {
                let failure = Failure::InvalidEntrypoint { message };
                self.fail_init(now, Status::Failure, InitFailure::Platform(failure));
            }
        } else if let Some(i) = self.env.external.iter().position(|c| *c == Some(child)) {
            self.env.external[i] = None;
            if matches!(self.env.phase, Phase::Init(_)) {
                let name = self.s.external_names[i].clone();
                let failure = Failure::ExtensionLaunch { name, message };
                self.fail_init(now, Status::Failure, InitFailure::Platform(failure));
            }
        }
        self.progress(now);
    }

    /// See [`Lifecycle::handle_timeout`](super::Lifecycle::handle_timeout).
    pub(super) fn handle_timeout(&mut self, now: Micros) {
        if self.env.timers.is_due(Timer::Init, now) {
            self.env.timers.stop(Timer::Init);
            if let Phase::Init(init) = &self.env.phase {
                let limit = init.limit.unwrap_or(self.s.config.init_timeout);
                self.fail_init(now, Status::Timeout, InitFailure::Timeout(limit));
            }
        }
        if self.env.timers.is_due(Timer::Invoke, now) {
            self.env.timers.stop(Timer::Invoke);
            self.timeout_invocation(now);
        }
        while let Some(r) = self.env.flying.iter().find(|r| r.deadline <= now) {
            let id = r.invocation.request_id;
            self.timeout_flying(now, id);
        }
        if self.env.timers.is_due(Timer::StopRuntime, now) {
            self.env.timers.stop(Timer::StopRuntime);
            if matches!(&self.env.phase, Phase::Stopping(s) if s.stage == StopStage::Runtime) {
                self.signal_runtime(Signal::Kill);
                self.stop_extensions();
            }
        }
        if self.env.timers.is_due(Timer::Stop, now) {
            self.env.timers.stop(Timer::Stop);
            if matches!(self.env.phase, Phase::Stopping(_)) {
                self.kill_all();
                self.complete_stop();
            }
        }
        self.progress(now);
    }
}

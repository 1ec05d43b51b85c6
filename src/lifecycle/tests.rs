//! Lifecycle tests: no sockets, no processes, a virtual clock. Fixtures build each phase from
//! the previous one (smoltcp style); tests are named `<phase>_<input>[_<expectation>]`.

use super::*;

/// The one environment, unless a test says otherwise.
const E0: EnvId = EnvId(0);

const MS: u64 = 1_000;
const S: u64 = 1_000_000;

/// The core, a virtual clock, and every action it emitted.
struct Harness {
    lc: Lifecycle,
    now: Micros,
    /// Actions drained by the last step.
    out: Vec<Action>,
}

fn config(runtime: RuntimeMode, init: InitMode) -> Config {
    Config {
        runtime,
        init,
        seed: 42,
        epoch_us: 1_700_000_000 * S,
        ..Config::default()
    }
}

impl Harness {
    fn new(config: Config) -> Harness {
        let lc = Lifecycle::new(config, Micros::ZERO);
        let mut h = Harness {
            lc,
            now: Micros::ZERO,
            out: Vec::new(),
        };
        h.drain();
        h
    }

    fn drain(&mut self) -> &[Action] {
        self.out.clear();
        while let Some(a) = self.lc.poll_action() {
            self.out.push(a);
        }
        &self.out
    }

    /// Moves the clock by `us`, firing any timer that falls due on the way.
    fn advance(&mut self, us: u64) {
        let target = self.now + Micros(us);
        let mut all = Vec::new();
        while let Some(at) = self.lc.poll_timeout().filter(|at| *at <= target) {
            self.now = at.max(self.now);
            self.lc.handle_timeout(self.now);
            all.extend(self.drain().iter().cloned());
        }
        self.now = target;
        self.out = all;
    }

    fn invoke(&mut self, invoker: u64, payload: &str) -> Result<RequestId, Rejection> {
        let r = self.lc.invoke(
            self.now,
            WaiterId(invoker),
            InvokeRequest {
                payload: payload.as_bytes().to_vec(),
                ..InvokeRequest::default()
            },
        );
        self.drain();
        r
    }

    fn next(&mut self, waiter: u64) -> Result<(), Rejection> {
        let r = self.lc.handle_runtime_next(self.now, E0, WaiterId(waiter));
        self.drain();
        r
    }

    fn respond(&mut self, id: RequestId, body: &str) -> Result<(), Rejection> {
        let r = self.lc.handle_runtime_result(
            self.now,
            E0,
            id,
            RuntimeResult::Response {
                body: body.as_bytes().to_vec(),
                content_type: Some("text/plain".into()),
            },
        );
        self.drain();
        r
    }

    fn error(&mut self, id: RequestId, error_type: &str) -> Result<(), Rejection> {
        let r = self.lc.handle_runtime_result(
            self.now,
            E0,
            id,
            RuntimeResult::Error(FunctionError {
                error_type: error_type.into(),
                body: br#"{"errorMessage":"boom","errorType":"Boom"}"#.to_vec(),
                content_type: None,
            }),
        );
        self.drain();
        r
    }

    fn exit(&mut self, child: ChildId, status: ExitStatus) {
        self.lc.handle_child_exit(self.now, child, status);
        self.drain();
    }

    // ----- what came out -----

    fn replies(&self) -> Vec<(u64, InvokeReply)> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::Reply { invoker, reply } => Some((invoker.0, reply.clone())),
                _ => None,
            })
            .collect()
    }

    #[track_caller]
    fn one_reply(&self, invoker: u64) -> InvokeReply {
        let replies = self.replies();
        assert_eq!(replies.len(), 1, "{:#?}", self.out);
        assert_eq!(replies[0].0, invoker);
        replies[0].1.clone()
    }

    fn releases(&self) -> Vec<(u64, RequestId, Micros)> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::Release {
                    waiter,
                    request_id,
                    deadline,
                } => Some((waiter.0, *request_id, *deadline)),
                _ => None,
            })
            .collect()
    }

    #[track_caller]
    fn one_release(&self, waiter: u64) -> (RequestId, Micros) {
        let releases = self.releases();
        assert_eq!(releases.len(), 1, "{:#?}", self.out);
        assert_eq!(releases[0].0, waiter);
        (releases[0].1, releases[0].2)
    }

    fn spawns(&self) -> Vec<(ChildId, InitType)> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::Spawn {
                    child,
                    role: Role::Runtime,
                    init_type,
                    ..
                } => Some((*child, *init_type)),
                _ => None,
            })
            .collect()
    }

    fn kills(&self) -> Vec<ChildId> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::Signal {
                    child,
                    signal: Signal::Kill,
                } => Some(*child),
                _ => None,
            })
            .collect()
    }

    fn closes(&self) -> Vec<u64> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::Close(w) => Some(w.0),
                _ => None,
            })
            .collect()
    }

    fn events(&self) -> Vec<PlatformEvent> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::Event(_, e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// The index of the first action that matches `test`.
    #[track_caller]
    fn position(&self, test: impl Fn(&Action) -> bool) -> usize {
        self.out
            .iter()
            .position(test)
            .unwrap_or_else(|| panic!("not found in {:#?}", self.out))
    }

    fn report(&self) -> Option<PlatformEvent> {
        self.events()
            .into_iter()
            .find(|e| matches!(e, PlatformEvent::Report { .. }))
    }

    /// After the first init failed: no answer yet, and the retry started, a suppressed init
    /// (phase `invoke`) in a new runtime process, `child`.
    #[track_caller]
    fn retrying(&self, child: ChildId) {
        assert!(self.replies().is_empty(), "{:#?}", self.out);
        assert_eq!(
            self.spawns(),
            [(child, InitType::OnDemand)],
            "{:#?}",
            self.out
        );
        assert!(
            self.events().contains(&PlatformEvent::InitStart {
                phase: InitPhase::Invoke,
                kind: InitType::OnDemand
            }),
            "{:#?}",
            self.out
        );
    }

    fn init_done(&self) -> Option<PlatformEvent> {
        self.events()
            .into_iter()
            .find(|e| matches!(e, PlatformEvent::InitDone { .. }))
    }
}

fn failure(reply: &InvokeReply) -> &Failure {
    match &reply.outcome {
        Outcome::Failure(f) => f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

// ----- fixtures: each built from the previous one -----

const INVOKER: u64 = 100;
const RUNTIME: u64 = 1;

/// Process mode, on demand, nothing has happened.
fn down() -> Harness {
    let h = Harness::new(config(RuntimeMode::Process, InitMode::OnDemand));
    assert!(h.out.is_empty());
    assert_eq!(h.lc.runtime_state(E0), "NotStarted");
    h
}

/// The first invocation arrived and started the init; the runtime was spawned.
fn initializing() -> (Harness, RequestId) {
    let mut h = down();
    let id = h.invoke(INVOKER, r#"{"n":1}"#).unwrap();
    assert_eq!(h.spawns(), [(ChildId(0), InitType::OnDemand)]);
    assert_eq!(
        h.events(),
        [PlatformEvent::InitStart {
            phase: InitPhase::Init,
            kind: InitType::OnDemand
        }]
    );
    assert_eq!(h.lc.runtime_state(E0), "Started");
    assert_eq!(h.lc.poll_timeout(), Some(Micros::from_secs(10)));
    (h, id)
}

/// The runtime called /next after 5 ms of init and got the invocation.
fn running() -> (Harness, RequestId) {
    let (mut h, id) = initializing();
    h.advance(5 * MS);
    h.next(RUNTIME).unwrap();
    let (released, deadline) = h.one_release(RUNTIME);
    assert_eq!(released, id);
    assert_eq!(deadline, Micros(5 * MS + 3 * S));
    assert_eq!(h.lc.runtime_state(E0), "Running");
    (h, id)
}

/// The runtime posted its response 2 ms after release.
fn responded() -> (Harness, RequestId) {
    let (mut h, id) = running();
    h.advance(2 * MS);
    h.respond(id, "ok").unwrap();
    assert_eq!(h.lc.runtime_state(E0), "RuntimeResponseSentState");
    (h, id)
}

/// The runtime came back on /next 1 ms later: the invocation completed, the runtime is parked.
fn ready() -> Harness {
    let (mut h, _) = responded();
    h.advance(MS);
    h.next(RUNTIME).unwrap();
    assert_eq!(h.lc.runtime_state(E0), "Ready");
    assert_eq!(h.lc.parked(E0), 1);
    h
}

// ----- Down -----

#[test]
fn down_next_is_refused_without_a_runtime() {
    let mut h = down();
    assert_eq!(
        h.next(RUNTIME),
        Err(Rejection::InvalidStateTransition {
            from: "NotStarted",
            to: "Ready"
        })
    );
    assert!(h.out.is_empty());
}

#[test]
fn down_response_is_an_invalid_request_id() {
    let mut h = down();
    let id = Rng::from_seed(1).uuid_v4();
    assert_eq!(h.respond(id, "x"), Err(Rejection::InvalidRequestId));
    assert_eq!(
        h.lc.check_runtime_result(E0, Rng::from_seed(99).uuid_v4(), false),
        Err(Rejection::InvalidRequestId)
    );
}

#[test]
fn down_invoke_starts_an_on_demand_init() {
    // Asserted in the fixture: InitStart(init, on-demand), Spawn, a 10 s init timer.
    let (h, _) = initializing();
    assert_eq!(h.lc.queued(), 1);
}

// ----- Init -----

#[test]
fn init_next_completes_init_and_releases_with_deadline_from_release() {
    let (h, _) = running();
    assert_eq!(
        h.init_done(),
        Some(PlatformEvent::InitDone {
            phase: InitPhase::Init,
            kind: InitType::OnDemand,
            status: Status::Success,
            error_type: None,
            duration: Micros(5 * MS),
        })
    );
    assert!(
        h.events()
            .iter()
            .any(|e| matches!(e, PlatformEvent::Start { .. }))
    );
    assert_eq!(h.lc.poll_timeout(), Some(Micros(5 * MS + 3 * S)));
}

#[test]
fn init_error_is_retried_inside_the_invocation_that_waited() {
    // https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html: a failed
    // init is retried at the first invocation, under the function timeout: INIT_REPORT twice,
    // phase `init` then phase `invoke`, and the invocation fails only if the retry does.
    let (mut h, id) = initializing();
    h.advance(MS);
    let posted = br#"{"errorMessage":"bad config","errorType":"InitFail"}"#.to_vec();
    let error = FunctionError {
        error_type: "Runtime.InitFail".into(),
        body: posted.clone(),
        content_type: Some("application/json".into()),
    };
    h.lc.handle_init_error(h.now, E0, error.clone()).unwrap();
    h.drain();
    assert_eq!(h.kills(), [ChildId(0)]);
    assert!(matches!(
        h.init_done(),
        Some(PlatformEvent::InitDone { phase: InitPhase::Init, status: Status::Error, error_type: Some(t), .. }) if t == "Runtime.InitFail"
    ));
    h.retrying(ChildId(1));
    assert_eq!(h.lc.poll_timeout(), Some(h.now + Micros::from_secs(3)));
    // The retry fails too: now the invocation gets the error.
    h.advance(2 * MS);
    h.lc.handle_init_error(h.now, E0, error).unwrap();
    h.drain();
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.request_id, id);
    assert_eq!(
        reply.outcome,
        Outcome::FunctionError(FunctionError {
            error_type: "Runtime.InitFail".into(),
            body: posted,
            content_type: Some("application/json".into()),
        })
    );
    assert_eq!(reply.timings.init, Some(Micros(2 * MS)), "the retry's");
    assert_eq!(h.kills(), [ChildId(1)]);
    assert!(matches!(
        h.init_done(),
        Some(PlatformEvent::InitDone {
            phase: InitPhase::Invoke,
            status: Status::Error,
            ..
        })
    ));
    assert!(h.spawns().is_empty(), "no third init");
    assert_eq!(h.lc.runtime_state(E0), "InitError");
    assert_eq!(h.lc.poll_timeout(), None);
}

#[test]
fn a_retried_init_that_succeeds_serves_the_invocation_under_its_timeout() {
    let (mut h, id) = initializing();
    h.advance(MS);
    h.exit(ChildId(0), ExitStatus::Code(1));
    h.retrying(ChildId(1));
    let retry_started = h.now;
    h.advance(5 * MS);
    h.next(2).unwrap();
    let (released, deadline) = h.one_release(2);
    assert_eq!(released, id);
    // The retry counts against the function timeout, from its start.
    assert_eq!(deadline, retry_started + Micros::from_secs(3));
    h.advance(MS);
    h.respond(id, "ok").unwrap();
    assert_eq!(h.one_reply(INVOKER).request_id, id);
    h.next(2).unwrap();
    let Some(PlatformEvent::Report { init_duration, .. }) = h.report() else {
        panic!("no report: {:#?}", h.out);
    };
    assert_eq!(init_duration, Some(Micros(5 * MS)), "the retry's init");
}

/// Fails the first init with `/init/error` and then its retry: the invocation is answered,
/// the environment is left in `InitError`.
fn init_failed_twice() -> Harness {
    let (mut h, _) = initializing();
    let error = FunctionError {
        error_type: "Runtime.Unknown".into(),
        body: Vec::new(),
        content_type: None,
    };
    h.lc.handle_init_error(h.now, E0, error.clone()).unwrap();
    h.drain();
    h.retrying(ChildId(1));
    h.lc.handle_init_error(h.now, E0, error).unwrap();
    h.drain();
    h.one_reply(INVOKER);
    h
}

#[test]
fn init_failed_next_is_refused_until_the_next_invocation() {
    let mut h = init_failed_twice();
    assert_eq!(
        h.next(RUNTIME),
        Err(Rejection::InvalidStateTransition {
            from: "InitError",
            to: "Ready"
        })
    );
    // The runtime's exit, after our kill, changes nothing.
    h.exit(ChildId(1), ExitStatus::Signal(9));
    assert!(h.out.is_empty());
    assert_eq!(h.lc.runtime_state(E0), "InitError");
    // The next invocation starts a suppressed init in a new runtime.
    h.invoke(101, "{}").unwrap();
    assert_eq!(h.spawns(), [(ChildId(2), InitType::OnDemand)]);
    assert!(h.events().contains(&PlatformEvent::InitStart {
        phase: InitPhase::Invoke,
        kind: InitType::OnDemand
    }));
    h.next(2).unwrap();
    h.one_release(2);
}

#[test]
fn init_error_is_refused_outside_init() {
    let mut h = ready();
    let err = FunctionError {
        error_type: "Runtime.X".into(),
        body: Vec::new(),
        content_type: None,
    };
    assert_eq!(
        h.lc.handle_init_error(h.now, E0, err.clone()),
        Err(Rejection::InvalidStateTransition {
            from: "Ready",
            to: "InitError"
        })
    );
    let (mut h, _) = running();
    assert_eq!(
        h.lc.handle_init_error(h.now, E0, err),
        Err(Rejection::InvalidStateTransition {
            from: "Running",
            to: "InitError"
        })
    );
    assert!(h.lc.poll_action().is_none());
}

#[test]
fn init_exit_answers_runtime_exit_error() {
    let (mut h, id) = initializing();
    h.advance(3 * MS);
    h.exit(ChildId(0), ExitStatus::Code(2));
    h.retrying(ChildId(1));
    h.exit(ChildId(1), ExitStatus::Code(2));
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.request_id, id);
    assert_eq!(failure(&reply), &Failure::RuntimeExit(ExitStatus::Code(2)));
    assert_eq!(
        failure(&reply).message(id),
        format!("RequestId: {id} Error: Runtime exited with error: exit status 2")
    );
    assert!(h.kills().is_empty(), "nothing left to kill");
    assert_eq!(h.lc.runtime_state(E0), "NotStarted");
}

#[test]
fn init_timeout_after_the_init_limit() {
    let (mut h, id) = initializing();
    h.advance(10 * S - 1);
    assert!(h.replies().is_empty());
    h.advance(1);
    assert_eq!(h.kills(), [ChildId(0)]);
    assert!(matches!(
        h.init_done(),
        Some(PlatformEvent::InitDone { phase: InitPhase::Init, status: Status::Timeout, duration, .. }) if duration == Micros::from_secs(10)
    ));
    // Retried under the function timeout, 3 s, which it runs out too.
    h.retrying(ChildId(1));
    h.advance(3 * S - 1);
    assert!(h.replies().is_empty());
    h.advance(1);
    let reply = h.one_reply(INVOKER);
    assert_eq!(
        failure(&reply),
        &Failure::Timeout {
            after: Micros::from_secs(3)
        }
    );
    assert_eq!(
        failure(&reply).message(id),
        format!("RequestId: {id} Error: Task timed out after 3.00 seconds")
    );
    assert_eq!(failure(&reply).error_type(), "Sandbox.Timedout");
    assert_eq!(h.kills(), [ChildId(1)]);
    assert!(matches!(
        h.init_done(),
        Some(PlatformEvent::InitDone { phase: InitPhase::Invoke, status: Status::Timeout, duration, .. }) if duration == Micros::from_secs(3)
    ));
}

#[test]
fn init_spawn_failure_is_an_invalid_entrypoint() {
    let (mut h, id) = initializing();
    for child in [ChildId(0), ChildId(1)] {
        h.lc.handle_spawn_failed(
            h.now,
            child,
            "No such file or directory (os error 2)".into(),
        );
        h.drain();
        if child == ChildId(0) {
            h.retrying(ChildId(1));
        }
    }
    let reply = h.one_reply(INVOKER);
    assert_eq!(failure(&reply).error_type(), "Runtime.InvalidEntrypoint");
    assert_eq!(
        failure(&reply).message(id),
        format!("RequestId: {id} Error: No such file or directory (os error 2)")
    );
}

#[test]
fn suppressed_init_counts_against_the_function_timeout() {
    let mut h = init_failed_twice();
    // The next invocation re-initialises inside its own invoke, under the 3 s timeout.
    let id = h.invoke(101, "{}").unwrap();
    let init_started = h.now;
    assert_eq!(
        h.lc.poll_timeout(),
        Some(init_started + Micros::from_secs(3))
    );
    h.advance(S);
    h.next(2).unwrap();
    let (released, deadline) = h.one_release(2);
    assert_eq!(released, id);
    // The deadline runs from the start of the suppressed init, not from the release.
    assert_eq!(deadline, init_started + Micros::from_secs(3));
    // A suppressed init that takes too long times out at the function timeout.
    let mut h = init_failed_twice();
    let id = h.invoke(102, "{}").unwrap();
    h.advance(3 * S);
    let reply = h.one_reply(102);
    assert_eq!(
        failure(&reply).message(id),
        format!("RequestId: {id} Error: Task timed out after 3.00 seconds")
    );
}

// ----- Running -----

#[test]
fn running_next_renders_the_same_invocation_again() {
    let (mut h, id) = running();
    h.advance(MS);
    h.next(7).unwrap();
    let (again, deadline) = h.one_release(7);
    assert_eq!(again, id);
    assert_eq!(deadline, Micros(5 * MS + 3 * S));
    assert_eq!(h.lc.runtime_state(E0), "Running");
    assert_eq!(h.lc.parked(E0), 0);
}

#[test]
fn running_response_answers_the_invoker_at_once() {
    let (h, id) = responded();
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.request_id, id);
    assert_eq!(
        reply.outcome,
        Outcome::Response {
            body: b"ok".to_vec(),
            content_type: Some("text/plain".into())
        }
    );
    assert_eq!(
        reply.timings,
        Timings {
            received: Micros::ZERO,
            released: Some(Micros(5 * MS)),
            responded: Micros(7 * MS),
            init: Some(Micros(5 * MS)),
        }
    );
    assert_eq!(reply.timings.duration(), Micros(2 * MS));
    assert_eq!(reply.timings.queued(), Micros(5 * MS));
    // No report until the runtime is back on /next.
    assert_eq!(h.report(), None);
}

#[test]
fn running_error_answers_the_posted_error() {
    let (mut h, id) = running();
    h.error(id, "Runtime.Unknown").unwrap();
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.outcome.error_type(), Some("Runtime.Unknown"));
    let Outcome::FunctionError(e) = &reply.outcome else {
        panic!()
    };
    assert_eq!(e.body, br#"{"errorMessage":"boom","errorType":"Boom"}"#);
    h.next(RUNTIME).unwrap();
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report { status: Status::Error, error_type: Some(t), .. }) if t == "Runtime.Unknown"
    ));
}

#[test]
fn running_response_for_another_id_is_an_invalid_request_id() {
    let (mut h, _) = running();
    let other = Rng::from_seed(99).uuid_v4();
    assert_eq!(h.respond(other, "x"), Err(Rejection::InvalidRequestId));
    assert_eq!(
        h.error(other, "Runtime.X"),
        Err(Rejection::InvalidRequestId)
    );
    assert!(h.out.is_empty());
    assert_eq!(h.lc.runtime_state(E0), "Running");
}

#[test]
fn running_too_large_response_answers_function_response_size_too_large() {
    let (mut h, id) = running();
    h.lc.handle_runtime_result(h.now, E0, id, RuntimeResult::TooLarge)
        .unwrap();
    h.drain();
    let reply = h.one_reply(INVOKER);
    assert_eq!(failure(&reply), &Failure::ResponseTooLarge);
    assert_eq!(
        failure(&reply).error_type(),
        "Function.ResponseSizeTooLarge"
    );
    assert_eq!(
        failure(&reply).message(id),
        "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    );
    // The runtime's state moved on, as in rapid: a retry is a second response.
    assert_eq!(
        h.respond(id, "small"),
        Err(Rejection::InvalidStateTransition {
            from: "RuntimeResponseSentState",
            to: "InvocationResponse"
        })
    );
}

#[test]
fn running_truncated_response_answers_runtime_truncated_response() {
    let (mut h, id) = running();
    h.lc.handle_runtime_result(h.now, E0, id, RuntimeResult::Truncated)
        .unwrap();
    h.drain();
    assert_eq!(
        failure(&h.one_reply(INVOKER)).error_type(),
        "Runtime.TruncatedResponse"
    );
}

#[test]
fn running_timeout_answers_sandbox_timedout_and_resets() {
    let (mut h, id) = running();
    h.next(8).ok(); // a second connection re-rendered the invocation: not parked
    h.advance(3 * S);
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.request_id, id);
    assert_eq!(
        failure(&reply).message(id),
        format!("RequestId: {id} Error: Task timed out after 3.00 seconds")
    );
    assert_eq!(h.kills(), [ChildId(0)]);
    let events = h.events();
    assert!(events.contains(&PlatformEvent::TimedOut {
        request_id: id,
        after: Micros::from_secs(3)
    }));
    assert!(events.contains(&PlatformEvent::Report {
        request_id: id,
        status: Status::Timeout,
        error_type: Some("Sandbox.Timedout".into()),
        duration: Micros::from_secs(3),
        init_duration: Some(Micros(5 * MS)),
        runtime: Some(ChildId(0)),
        extensions: Overheads::default(),
        responded: None,
        tenant_id: None,
        restore_duration: None,
    }));
    assert_eq!(h.lc.runtime_state(E0), "NotStarted");
    // The request id is no longer valid.
    assert_eq!(h.respond(id, "late"), Err(Rejection::InvalidRequestId));
    // The next invocation re-initialises (suppressed init).
    h.invoke(101, "{}").unwrap();
    assert_eq!(h.spawns(), [(ChildId(1), InitType::OnDemand)]);
}

#[test]
fn running_timeout_closes_the_dead_runtimes_parked_connections() {
    let mut h = ready();
    h.next(2).unwrap(); // a second parked connection
    h.invoke(101, "{}").unwrap();
    h.one_release(RUNTIME);
    h.advance(3 * S);
    assert_eq!(h.closes(), [2]);
    assert_eq!(h.lc.parked(E0), 0);
}

#[test]
fn running_exit_answers_runtime_exit_error() {
    let (mut h, id) = running();
    h.advance(MS);
    h.exit(ChildId(0), ExitStatus::Signal(9));
    let reply = h.one_reply(INVOKER);
    assert_eq!(
        failure(&reply).message(id),
        format!("RequestId: {id} Error: Runtime exited with error: signal: killed")
    );
    assert!(h.events().contains(&PlatformEvent::RuntimeExited {
        request_id: Some(id),
        status: ExitStatus::Signal(9)
    }));
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report {
            status: Status::Failure,
            runtime: Some(ChildId(0)),
            ..
        })
    ));
    assert_eq!(h.lc.poll_timeout(), None);
    assert_eq!(h.lc.runtime_state(E0), "NotStarted");
}

#[test]
fn running_invoker_gone_the_invocation_continues_unanswered() {
    let (mut h, id) = running();
    h.lc.handle_waiter_closed(h.now, WaiterId(INVOKER));
    h.respond(id, "ok").unwrap();
    assert!(h.replies().is_empty());
    h.next(RUNTIME).unwrap();
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report {
            status: Status::Success,
            ..
        })
    ));
}

// ----- RuntimeResponseSentState -----

#[test]
fn responded_second_response_or_error_is_refused() {
    let (mut h, id) = responded();
    assert_eq!(
        h.respond(id, "again"),
        Err(Rejection::InvalidStateTransition {
            from: "RuntimeResponseSentState",
            to: "InvocationResponse"
        })
    );
    assert_eq!(
        h.error(id, "Runtime.X"),
        Err(Rejection::InvalidStateTransition {
            from: "RuntimeResponseSentState",
            to: "InvocationErrorResponse"
        })
    );
    assert!(h.out.is_empty());
}

#[test]
fn responded_next_completes_with_a_report() {
    let (mut h, id) = responded();
    h.advance(MS);
    h.next(RUNTIME).unwrap();
    assert_eq!(
        h.report(),
        Some(PlatformEvent::Report {
            request_id: id,
            status: Status::Success,
            error_type: None,
            duration: Micros(3 * MS),
            init_duration: Some(Micros(5 * MS)),
            runtime: Some(ChildId(0)),
            extensions: Overheads::default(),
            responded: Some(Micros(7 * MS)),
            tenant_id: None,
            restore_duration: None,
        })
    );
    // No head was reported apart: the response started when it completed.
    assert!(h.events().contains(&PlatformEvent::RuntimeDone {
        request_id: id,
        status: Status::Success,
        error_type: None,
        duration: Micros(3 * MS),
        produced_bytes: 2,
        response: Some(ResponseTimes {
            released: Micros(5 * MS),
            started: Micros(7 * MS),
            completed: Micros(7 * MS),
        }),
    }));
    // A response for the completed invocation is now an invalid request id.
    assert_eq!(h.respond(id, "late"), Err(Rejection::InvalidRequestId));
}

#[test]
fn responded_timeout_does_not_answer_twice() {
    let (mut h, id) = responded();
    h.advance(3 * S);
    assert!(h.replies().is_empty());
    assert!(
        matches!(h.report(), Some(PlatformEvent::Report { status: Status::Timeout, request_id, .. }) if request_id == id)
    );
    assert_eq!(h.kills(), [ChildId(0)]);
}

// ----- Ready -----

#[test]
fn ready_invoke_releases_to_the_parked_runtime_without_init_duration() {
    let mut h = ready();
    h.advance(10 * MS);
    let id = h.invoke(101, "{}").unwrap();
    let (released, deadline) = h.one_release(RUNTIME);
    assert_eq!(released, id);
    assert_eq!(deadline, h.now + Micros::from_secs(3));
    assert!(h.spawns().is_empty());
    h.respond(id, "ok").unwrap();
    h.next(RUNTIME).unwrap();
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report {
            init_duration: None,
            ..
        })
    ));
}

#[test]
fn ready_runtime_exit_while_idle_reinitialises_on_the_next_invoke() {
    let mut h = ready();
    h.exit(ChildId(0), ExitStatus::Code(0));
    assert_eq!(h.closes(), [RUNTIME]);
    assert!(h.replies().is_empty());
    assert_eq!(h.lc.runtime_state(E0), "NotStarted");
    h.invoke(101, "{}").unwrap();
    assert_eq!(h.spawns(), [(ChildId(1), InitType::OnDemand)]);
    assert!(h.events().contains(&PlatformEvent::InitStart {
        phase: InitPhase::Invoke,
        kind: InitType::OnDemand
    }));
}

#[test]
fn ready_stale_child_exit_is_ignored() {
    let mut h = ready();
    h.exit(ChildId(7), ExitStatus::Code(1));
    assert!(h.out.is_empty());
    assert_eq!(h.lc.runtime_state(E0), "Ready");
}

// ----- decision: the queue -----

#[test]
fn queue_is_fifo_and_deadlines_run_from_release() {
    let mut h = ready();
    let a = h.invoke(101, "a").unwrap();
    h.one_release(RUNTIME);
    h.advance(MS);
    let b = h.invoke(102, "b").unwrap();
    let c = h.invoke(103, "c").unwrap();
    assert!(h.releases().is_empty());
    assert_eq!(h.lc.queued(), 2);
    h.advance(50 * MS);
    h.respond(a, "A").unwrap();
    h.next(RUNTIME).unwrap();
    let (released, deadline) = h.one_release(RUNTIME);
    assert_eq!(released, b);
    // Decision *init*: from release, not from arrival.
    assert_eq!(deadline, h.now + Micros::from_secs(3));
    h.respond(b, "B").unwrap();
    h.next(RUNTIME).unwrap();
    assert_eq!(h.one_release(RUNTIME).0, c);
}

#[test]
fn queue_is_bounded_by_max_queue() {
    let mut h = Harness::new(Config {
        max_queue: 2,
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    });
    h.invoke(101, "a").unwrap(); // holds the environment (init)
    h.next(RUNTIME).unwrap(); // released
    h.invoke(102, "b").unwrap();
    h.invoke(103, "c").unwrap();
    assert_eq!(h.invoke(104, "d"), Err(Rejection::TooManyRequests));
    assert!(h.out.is_empty());
}

#[test]
fn queue_is_bounded_by_bytes_too() {
    let mut h = Harness::new(Config {
        max_queue_bytes: 10,
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    });
    // Taken by the idle environment: a large invocation never waits, so never counts.
    let a = h.invoke(101, &"a".repeat(100)).unwrap();
    h.next(RUNTIME).unwrap();
    h.invoke(102, "bbbbbb").unwrap(); // 6 bytes wait
    h.invoke(103, "cccc").unwrap(); // 10
    assert_eq!(h.invoke(104, "d"), Err(Rejection::TooManyRequests));
    // The invoker's details count with the payload.
    h.respond(a, "A").unwrap();
    h.next(RUNTIME).unwrap(); // b runs: 4 bytes wait
    let r = h.lc.invoke(
        h.now,
        WaiterId(105),
        InvokeRequest {
            payload: b"ee".to_vec(),
            tenant_id: Some("tenant".into()),
            ..InvokeRequest::default()
        },
    );
    assert_eq!(r, Err(Rejection::TooManyRequests));
    h.invoke(105, "ee").unwrap();
}

#[test]
fn queue_of_zero_refuses_while_busy() {
    let mut h = Harness::new(Config {
        max_queue: 0,
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    });
    let a = h.invoke(101, "a").unwrap();
    // Busy initialising for a.
    assert_eq!(h.invoke(102, "b"), Err(Rejection::TooManyRequests));
    h.next(RUNTIME).unwrap();
    // Busy running a.
    assert_eq!(h.invoke(102, "b"), Err(Rejection::TooManyRequests));
    h.respond(a, "A").unwrap();
    assert_eq!(h.invoke(102, "b"), Err(Rejection::TooManyRequests));
    h.next(RUNTIME).unwrap();
    // Idle again.
    h.invoke(102, "b").unwrap();
    h.one_release(RUNTIME);
}

#[test]
fn queued_invoker_that_leaves_is_dropped() {
    let mut h = ready();
    let a = h.invoke(101, "a").unwrap();
    h.invoke(102, "b").unwrap();
    let c = h.invoke(103, "c").unwrap();
    h.lc.handle_waiter_closed(h.now, WaiterId(102));
    assert_eq!(h.lc.queued(), 1);
    h.respond(a, "A").unwrap();
    h.next(RUNTIME).unwrap();
    assert_eq!(h.one_release(RUNTIME).0, c);
}

#[test]
fn init_continues_when_its_invoker_leaves() {
    let (mut h, _) = initializing();
    h.lc.handle_waiter_closed(h.now, WaiterId(INVOKER));
    assert_eq!(h.lc.queued(), 0);
    h.next(RUNTIME).unwrap();
    assert!(h.releases().is_empty());
    assert_eq!(h.lc.runtime_state(E0), "Ready");
}

#[test]
fn crash_looping_runtime_answers_every_queued_invocation() {
    let mut h = down();
    let ids: Vec<_> = (0..3).map(|i| h.invoke(101 + i, "{}").unwrap()).collect();
    // The first init fails and is retried for the first invocation.
    h.exit(ChildId(0), ExitStatus::Code(1));
    h.retrying(ChildId(1));
    for (i, id) in ids.iter().enumerate() {
        h.exit(ChildId(i as u64 + 1), ExitStatus::Code(1));
        let reply = h.one_reply(101 + i as u64);
        assert_eq!(reply.request_id, *id);
        assert_eq!(failure(&reply), &Failure::RuntimeExit(ExitStatus::Code(1)));
        // Then each failing init answers one invocation; the next one starts a new init.
        let expect_spawn = i < 2;
        assert_eq!(h.spawns().len(), usize::from(expect_spawn), "{:#?}", h.out);
    }
    assert_eq!(h.lc.queued(), 0);
}

#[test]
fn shutdown_answers_everyone_and_kills_the_runtime() {
    let mut h = ready();
    h.next(2).unwrap();
    let a = h.invoke(101, "a").unwrap();
    let b = h.invoke(102, "b").unwrap();
    h.lc.shutdown(h.now);
    h.drain();
    let replies = h.replies();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0].0, 102);
    assert_eq!(replies[0].1.request_id, b);
    assert_eq!(failure(&replies[0].1), &Failure::Shutdown);
    assert_eq!(replies[1].0, 101);
    assert_eq!(replies[1].1.request_id, a);
    assert_eq!(failure(&replies[1].1).error_type(), "Sandbox.Shutdown");
    assert_eq!(h.kills(), [ChildId(0)]);
    assert!(!h.lc.is_finished());
    // Finished once the runtime has exited; the parked connection is closed.
    h.exit(ChildId(0), ExitStatus::Signal(9));
    assert_eq!(h.closes(), [2]);
    assert_eq!(h.out.last(), Some(&Action::Finished));
    assert!(h.lc.is_finished());
    // Late invocations are answered at once.
    h.invoke(103, "c").unwrap();
    assert_eq!(failure(&h.one_reply(103)), &Failure::Shutdown);
}

#[test]
fn shutdown_finishes_after_the_grace_period_if_the_runtime_lingers() {
    let mut h = ready();
    h.lc.shutdown(h.now);
    h.drain();
    h.advance(SHUTDOWN_GRACE.as_micros());
    assert_eq!(h.out.last(), Some(&Action::Finished));
}

#[test]
fn shutdown_without_a_runtime_finishes_at_once() {
    let mut h = down();
    h.lc.shutdown(h.now);
    assert_eq!(h.drain(), [Action::Finished]);
}

// ----- decision: parked waiters -----

#[test]
fn parked_longest_waiting_gets_the_next_invocation() {
    let mut h = ready();
    h.next(2).unwrap();
    h.next(3).unwrap();
    assert_eq!(h.lc.parked(E0), 3);
    let a = h.invoke(101, "a").unwrap();
    h.one_release(RUNTIME);
    h.respond(a, "A").unwrap();
    h.next(4).unwrap(); // back on next: completes; 2 is now the longest waiting
    let b = h.invoke(102, "b").unwrap();
    assert_eq!(h.one_release(2).0, b);
    assert_eq!(h.lc.parked(E0), 2);
}

#[test]
fn parked_waiter_that_closes_is_dropped() {
    let mut h = ready();
    h.lc.handle_waiter_closed(h.now, WaiterId(RUNTIME));
    assert_eq!(h.lc.parked(E0), 0);
    let id = h.invoke(101, "a").unwrap();
    assert!(h.releases().is_empty());
    // The invocation waits for another /next.
    h.next(5).unwrap();
    assert_eq!(h.one_release(5).0, id);
}

#[test]
fn parked_waiters_have_no_timeout() {
    let mut h = ready();
    assert_eq!(h.lc.poll_timeout(), None);
    h.advance(3600 * S);
    assert!(h.out.is_empty());
    assert_eq!(h.lc.parked(E0), 1);
}

// ----- decision: eager init -----

#[test]
fn eager_init_spawns_at_start_as_provisioned_concurrency() {
    let mut h = Harness::new(config(RuntimeMode::Process, InitMode::Eager));
    assert_eq!(h.spawns(), [(ChildId(0), InitType::ProvisionedConcurrency)]);
    // Not the 10 s of an on-demand init: 130 s, the function timeout being shorter.
    assert_eq!(h.lc.poll_timeout(), Some(Micros::from_secs(130)));
    h.advance(20 * MS);
    h.next(RUNTIME).unwrap();
    assert!(matches!(
        h.init_done(),
        Some(PlatformEvent::InitDone {
            kind: InitType::ProvisionedConcurrency,
            phase: InitPhase::Init,
            ..
        })
    ));
    let id = h.invoke(101, "{}").unwrap();
    h.one_release(RUNTIME);
    h.respond(id, "ok").unwrap();
    h.next(RUNTIME).unwrap();
    // Provisioned concurrency: no Init Duration on the report.
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report {
            init_duration: None,
            ..
        })
    ));
}

#[test]
fn provisioned_init_runs_up_to_130_s_or_the_function_timeout() {
    // https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html, Init phase.
    let mut h = Harness::new(config(RuntimeMode::Process, InitMode::Eager));
    h.advance(129 * S);
    assert!(
        h.init_done().is_none() && h.kills().is_empty(),
        "{:#?}",
        h.out
    );
    h.advance(S);
    assert!(matches!(
        h.init_done(),
        Some(PlatformEvent::InitDone { status: Status::Timeout, duration, .. }) if duration == Micros::from_secs(130)
    ));
    // A function timeout over 130 s is the limit then.
    let h = Harness::new(Config {
        timeout: Micros::from_secs(600),
        ..config(RuntimeMode::Process, InitMode::Eager)
    });
    assert_eq!(h.lc.poll_timeout(), Some(Micros::from_secs(600)));
}

#[test]
fn eager_init_failure_with_nobody_waiting_then_a_suppressed_init() {
    let mut h = Harness::new(config(RuntimeMode::Process, InitMode::Eager));
    h.exit(ChildId(0), ExitStatus::Code(3));
    assert!(h.replies().is_empty());
    assert!(matches!(
        h.init_done(),
        Some(PlatformEvent::InitDone {
            status: Status::Failure,
            ..
        })
    ));
    h.invoke(101, "{}").unwrap();
    assert_eq!(h.spawns(), [(ChildId(1), InitType::OnDemand)]);
}

// ----- decision: external runtime -----

fn external() -> Harness {
    let h = Harness::new(config(RuntimeMode::External, InitMode::OnDemand));
    assert!(h.spawns().is_empty());
    assert_eq!(h.lc.runtime_state(E0), "Started");
    // No init limit: the simulator waits for the runtime to connect.
    assert_eq!(h.lc.poll_timeout(), None);
    h
}

#[test]
fn external_waits_without_limit_and_reports_no_init_duration() {
    let mut h = external();
    h.advance(60 * S);
    let id = h.invoke(101, "{}").unwrap();
    assert!(h.releases().is_empty());
    h.next(RUNTIME).unwrap();
    assert_eq!(h.one_release(RUNTIME).0, id);
    h.respond(id, "ok").unwrap();
    assert_eq!(h.one_reply(101).timings.init, None);
    h.next(RUNTIME).unwrap();
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report {
            init_duration: None,
            runtime: None,
            ..
        })
    ));
}

#[test]
fn external_timeout_invalidates_the_id_and_the_next_next_starts_a_new_init() {
    let mut h = external();
    h.next(RUNTIME).unwrap();
    h.next(2).unwrap();
    let id = h.invoke(101, "{}").unwrap();
    h.one_release(RUNTIME);
    h.advance(3 * S);
    assert_eq!(failure(&h.one_reply(101)).error_type(), "Sandbox.Timedout");
    assert!(h.kills().is_empty() && h.closes().is_empty());
    // The still-parked connection counts as the runtime starting over.
    assert!(h.events().contains(&PlatformEvent::InitStart {
        phase: InitPhase::Invoke,
        kind: InitType::OnDemand
    }));
    assert_eq!(h.lc.runtime_state(E0), "Ready");
    assert_eq!(h.respond(id, "late"), Err(Rejection::InvalidRequestId));
    let b = h.invoke(102, "{}").unwrap();
    assert_eq!(h.one_release(2).0, b);
}

#[test]
fn external_next_after_a_reset_is_a_new_init() {
    let mut h = external();
    h.next(RUNTIME).unwrap();
    h.invoke(101, "{}").unwrap();
    h.one_release(RUNTIME);
    h.advance(3 * S);
    assert_eq!(h.lc.runtime_state(E0), "NotStarted");
    h.next(RUNTIME).unwrap();
    assert_eq!(h.lc.runtime_state(E0), "Ready");
    assert!(matches!(
        h.init_done(),
        Some(PlatformEvent::InitDone {
            phase: InitPhase::Invoke,
            status: Status::Success,
            ..
        })
    ));
}

#[test]
fn external_init_error_refuses_next_until_the_next_invocation() {
    let mut h = external();
    h.lc.handle_init_error(
        h.now,
        E0,
        FunctionError {
            error_type: "Runtime.Bad".into(),
            body: b"{}".to_vec(),
            content_type: None,
        },
    )
    .unwrap();
    h.drain();
    assert!(h.kills().is_empty());
    assert!(h.next(RUNTIME).is_err());
    let id = h.invoke(101, "{}").unwrap();
    h.next(RUNTIME).unwrap();
    assert_eq!(h.one_release(RUNTIME).0, id);
}

// ----- helpers and details -----

#[test]
fn exit_statuses_print_as_go_does() {
    assert_eq!(ExitStatus::Code(42).to_string(), "exit status 42");
    assert_eq!(ExitStatus::Signal(9).to_string(), "signal: killed");
    assert_eq!(
        ExitStatus::Signal(11).to_string(),
        "signal: segmentation fault"
    );
    assert_eq!(ExitStatus::Signal(64).to_string(), "signal: signal 64");
}

#[test]
fn trace_ids_are_generated_unless_given() {
    let mut h = ready();
    h.invoke(101, "{}").unwrap();
    let Some(Action::Release { request_id, .. }) =
        h.out.iter().find(|a| matches!(a, Action::Release { .. }))
    else {
        panic!()
    };
    let t = h.lc.invocation(*request_id).unwrap().trace_id.as_str();
    // Root=1-<8 hex epoch secs>-<24 hex>;Parent=<16 hex>;Sampled=0
    let root = t.strip_prefix("Root=1-").unwrap();
    assert_eq!(
        &root[..8],
        format!("{:08x}", 1_700_000_000 + h.now.as_micros() / S)
    );
    assert_eq!(
        root.len(),
        8 + 1 + 24 + ";Parent=".len() + 16 + ";Sampled=0".len()
    );
    assert!(t.ends_with(";Sampled=0"));

    let mut h = ready();
    h.lc.invoke(
        h.now,
        WaiterId(101),
        InvokeRequest {
            trace_id: Some(
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".into(),
            ),
            ..InvokeRequest::default()
        },
    )
    .unwrap();
    h.drain();
    let Some(Action::Release { request_id, .. }) =
        h.out.iter().find(|a| matches!(a, Action::Release { .. }))
    else {
        panic!()
    };
    assert_eq!(
        h.lc.invocation(*request_id).unwrap().trace_id.as_str(),
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
    );
}

#[test]
fn request_ids_are_reproducible_from_the_seed() {
    let ids = |seed| {
        let mut h = Harness::new(Config {
            seed,
            ..config(RuntimeMode::Process, InitMode::OnDemand)
        });
        (0..3)
            .map(|i| h.invoke(i, "{}").unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(5), ids(5));
    assert_ne!(ids(5), ids(6));
}

mod environments;
mod events;
mod extensions;
mod freeze;
mod managed;
mod snapstart;
mod tenants;

// ----- X-Amz-Log-Type: Tail (decision: durations) -----

/// An invocation whose invoker asked for the log tail, released at 5 ms.
fn running_with_tail() -> (Harness, RequestId) {
    let mut h = down();
    let request = InvokeRequest {
        payload: b"{}".to_vec(),
        log_tail: true,
        ..InvokeRequest::default()
    };
    let id = h.lc.invoke(h.now, WaiterId(INVOKER), request).unwrap();
    h.drain();
    h.advance(5 * MS);
    h.next(RUNTIME).unwrap();
    assert_eq!(h.one_release(RUNTIME).0, id);
    (h, id)
}

#[test]
fn a_log_tail_invoker_is_answered_after_the_report_not_at_the_response() {
    let (mut h, id) = running_with_tail();
    h.advance(2 * MS);
    h.respond(id, "ok").unwrap();
    assert_eq!(h.replies(), [], "held until the invocation is complete");
    h.advance(MS);
    h.next(RUNTIME).unwrap();
    let report = h.position(|a| matches!(a, Action::Event(_, PlatformEvent::Report { .. })));
    let reply = h.position(|a| matches!(a, Action::Reply { .. }));
    assert!(report < reply, "{:#?}", h.out);
    let answer = h.one_reply(INVOKER);
    assert_eq!(
        answer.outcome,
        Outcome::Response {
            body: b"ok".to_vec(),
            content_type: Some("text/plain".into()),
        }
    );
    assert_eq!(answer.timings.responded, Micros(8 * MS));
}

#[test]
fn a_log_tail_invoker_of_a_timed_out_invocation_gets_the_timeout_after_the_report() {
    let (mut h, _) = running_with_tail();
    h.advance(3 * S);
    let report = h.position(|a| matches!(a, Action::Event(_, PlatformEvent::Report { .. })));
    let reply = h.position(|a| matches!(a, Action::Reply { .. }));
    assert!(report < reply, "{:#?}", h.out);
    let answer = h.one_reply(INVOKER);
    assert!(matches!(failure(&answer), Failure::Timeout { .. }));
}

// ----- streamed responses (runtimes-custom.html#runtimes-custom-response-streaming) -----

#[test]
fn running_invoker_is_known_until_answered() {
    let (mut h, id) = running();
    assert_eq!(h.lc.invoker(id), Some(WaiterId(INVOKER)));
    assert_eq!(h.lc.invoker(Rng::from_seed(77).uuid_v4()), None);
    h.respond(id, "ok").unwrap();
    assert_eq!(h.lc.invoker(id), None, "answered");
}

fn streamed(h: &mut Harness, id: RequestId, forwarded: u64, end: StreamEnd) -> InvokeReply {
    h.lc.handle_runtime_result(h.now, E0, id, RuntimeResult::Streamed { forwarded, end })
        .unwrap();
    h.drain();
    let reply = h.one_reply(INVOKER);
    h.next(RUNTIME).unwrap();
    reply
}

fn produced(h: &Harness) -> u64 {
    h.events()
        .iter()
        .find_map(|e| match e {
            PlatformEvent::RuntimeDone { produced_bytes, .. } => Some(*produced_bytes),
            _ => None,
        })
        .expect("runtimeDone")
}

#[test]
fn running_streamed_response_counts_every_byte_forwarded_or_not() {
    let (mut h, id) = running();
    let end = StreamEnd::Complete {
        body: b"tail".to_vec(),
        content_type: Some("text/plain".into()),
    };
    let reply = streamed(&mut h, id, 1000, end);
    assert_eq!(
        reply.outcome,
        Outcome::Response {
            body: b"tail".to_vec(),
            content_type: Some("text/plain".into())
        }
    );
    assert_eq!(produced(&h), 1004);
}

#[test]
fn running_stream_errors_are_function_errors_and_overruns_and_cuts_are_failures() {
    let (mut h, id) = running();
    let error = FunctionError {
        error_type: "Runtime.StreamError".into(),
        body: br#"{"errorMessage":"mid-stream"}"#.to_vec(),
        content_type: None,
    };
    let reply = streamed(&mut h, id, 10, StreamEnd::Error(error.clone()));
    assert_eq!(reply.outcome, Outcome::FunctionError(error));
    assert_eq!(produced(&h), 10);

    let id = h.invoke(INVOKER, "{}").unwrap();
    let reply = streamed(&mut h, id, 99, StreamEnd::TooLarge { limit: 64 });
    assert_eq!(failure(&reply), &Failure::StreamTooLarge { limit: 64 });
    assert_eq!(
        failure(&reply).error_type(),
        "Function.ResponseSizeTooLarge"
    );

    let id = h.invoke(INVOKER, "{}").unwrap();
    let reply = streamed(&mut h, id, 5, StreamEnd::Truncated);
    assert_eq!(failure(&reply).error_type(), "Runtime.TruncatedResponse");

    let id = h.invoke(INVOKER, "{}").unwrap();
    h.lc.handle_runtime_result(h.now, E0, id, RuntimeResult::InvalidResponseMode)
        .unwrap();
    h.drain();
    let reply = h.one_reply(INVOKER);
    assert_eq!(
        failure(&reply).error_type(),
        "Runtime.InvalidResponseModeHeader"
    );
}

#[test]
fn every_failure_is_recognised_as_the_platforms() {
    let name: Arc<str> = Arc::from("ext");
    let failures = [
        Failure::Timeout { after: Micros(1) },
        Failure::RuntimeExit(ExitStatus::Code(1)),
        Failure::InvalidEntrypoint {
            message: String::new(),
        },
        Failure::ResponseTooLarge,
        Failure::TruncatedResponse,
        Failure::StreamTooLarge { limit: 1 },
        Failure::InvalidResponseMode,
        Failure::Shutdown,
        Failure::ExtensionCrash {
            name: name.clone(),
            status: ExitStatus::Code(1),
        },
        Failure::ExtensionLaunch {
            name: name.clone(),
            message: String::new(),
        },
        Failure::ExtensionError {
            name,
            kind: ExtensionErrorKind::Exit,
            error_type: String::new(),
        },
    ];
    for failure in &failures {
        assert!(
            Failure::is_platform_error_type(failure.error_type()),
            "{failure:?}"
        );
    }
    for function in [
        "Boom",
        "Runtime.Unknown",
        "Function.Unknown",
        "Runtime.StreamError",
    ] {
        assert!(!Failure::is_platform_error_type(function), "{function}");
    }
}

#[test]
fn shutdown_before_the_runtime_is_back_on_next_still_reports_the_invocation() {
    // Answered, not yet complete: the report comes with the shutdown, with the result's status.
    let (mut h, id) = responded();
    h.advance(MS);
    h.lc.shutdown(h.now);
    h.drain();
    assert!(h.replies().is_empty(), "the invoker was answered already");
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report { request_id, status: Status::Success, error_type: None, duration, .. })
            if request_id == id && duration == Micros(3 * MS)
    ));
    let done = h.position(|a| matches!(a, Action::Event(_, PlatformEvent::RuntimeDone { .. })));
    let report = h.position(|a| matches!(a, Action::Event(_, PlatformEvent::Report { .. })));
    let kill = h.position(|a| matches!(a, Action::Signal { .. }));
    assert!(done < report && report < kill, "{:#?}", h.out);
}

#[test]
fn shutdown_while_the_runtime_works_ends_the_invocation_with_a_report() {
    let (mut h, id) = running();
    h.advance(MS);
    h.lc.shutdown(h.now);
    h.drain();
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.request_id, id);
    assert_eq!(failure(&reply), &Failure::Shutdown);
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report { request_id, status: Status::Failure, error_type: Some(t), .. })
            if request_id == id && t == "Sandbox.Shutdown"
    ));
}

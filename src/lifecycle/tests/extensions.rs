//! Extensions in the lifecycle: the Extensions API's registration and phases (runtimes-extensions-api.html), on the virtual clock, with exact
//! microsecond overheads. Fixtures build on each other as in the parent module.

use super::*;

pub(super) const LOGGER: u64 = 2;
const SECOND: u64 = 3;

impl Harness {
    pub(super) fn register(
        &mut self,
        name: &str,
        invoke: bool,
        shutdown: bool,
    ) -> Result<Uuid, Rejection> {
        let r = self
            .lc
            .handle_extension_register(self.now, E0, name, Events { invoke, shutdown });
        self.drain();
        r
    }

    pub(super) fn ext_next(&mut self, waiter: u64, id: Uuid) -> Result<(), Rejection> {
        let r = self
            .lc
            .handle_extension_next(self.now, E0, WaiterId(waiter), id);
        self.drain();
        r
    }

    fn ext_error(
        &mut self,
        id: Uuid,
        kind: ExtensionErrorKind,
        error_type: &str,
    ) -> Result<(), Rejection> {
        let r = self
            .lc
            .handle_extension_error(self.now, E0, id, kind, error_type.into());
        self.drain();
        r
    }

    pub(super) fn ext_events(&self) -> Vec<(u64, ExtensionEvent)> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::ReleaseExtension { waiter, event } => Some((waiter.0, *event)),
                _ => None,
            })
            .collect()
    }

    fn ext_spawns(&self) -> Vec<(ChildId, usize)> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::Spawn {
                    child,
                    role: Role::Extension(i),
                    ..
                } => Some((*child, *i)),
                _ => None,
            })
            .collect()
    }

    pub(super) fn signals(&self) -> Vec<(ChildId, Signal)> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::Signal { child, signal } => Some((*child, *signal)),
                _ => None,
            })
            .collect()
    }

    fn ext_state(&self, name: &str) -> &'static str {
        self.lc
            .extensions(E0)
            .iter()
            .find(|e| e.name == name)
            .map_or("absent", |e| e.state)
    }
}

pub(super) fn with_extensions(names: &[&str]) -> Config {
    Config {
        extensions: names.iter().map(|n| n.to_string()).collect(),
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    }
}

pub(super) const EXT_CHILD: ChildId = ChildId(0);
pub(super) const RUNTIME_CHILD: ChildId = ChildId(1);

/// One external extension, `logger`, launched by the first invocation; nothing else yet.
pub(super) fn launching() -> (Harness, RequestId) {
    let mut h = Harness::new(with_extensions(&["logger"]));
    let id = h.invoke(INVOKER, "{}").unwrap();
    assert_eq!(h.ext_spawns(), [(EXT_CHILD, 0)]);
    assert_eq!(h.spawns(), [], "the runtime waits for the extension");
    (h, id)
}

/// `logger` registered for INVOKE and SHUTDOWN 1 ms in: the runtime is spawned.
pub(super) fn registered() -> (Harness, RequestId, Uuid) {
    let (mut h, id) = launching();
    h.advance(MS);
    let ext = h.register("logger", true, true).unwrap();
    assert_eq!(h.spawns(), [(RUNTIME_CHILD, InitType::OnDemand)]);
    assert_eq!(h.ext_state("logger"), "Registered");
    (h, id, ext)
}

/// The runtime called /next at 4 ms (registration closed), `logger` its event/next at 6 ms:
/// the init is done and the invocation released to both, with one deadline.
pub(super) fn ext_running() -> (Harness, RequestId, Uuid) {
    let (mut h, id, ext) = registered();
    h.advance(3 * MS);
    h.next(RUNTIME).unwrap();
    assert_eq!(h.init_done(), None, "init waits for the extension");
    assert_eq!(h.lc.runtime_state(E0), "Ready");
    h.advance(2 * MS);
    h.ext_next(LOGGER, ext).unwrap();
    let (released, deadline) = h.one_release(RUNTIME);
    assert_eq!(released, id);
    assert_eq!(deadline, Micros(6 * MS + 3 * S));
    let events = h.ext_events();
    assert_eq!(events.len(), 1);
    let (
        waiter,
        ExtensionEvent::Invoke {
            request_id,
            deadline: ext_deadline,
            ..
        },
    ) = events[0]
    else {
        panic!("{events:?}");
    };
    assert_eq!((waiter, request_id, ext_deadline), (LOGGER, id, deadline));
    assert_eq!(h.ext_state("logger"), "Running");
    (h, id, ext)
}

/// The runtime responded 2 ms after release and was back on /next 1 ms later; `logger` is
/// still working.
pub(super) fn ext_runtime_done() -> (Harness, RequestId, Uuid) {
    let (mut h, id, ext) = ext_running();
    h.advance(MS + 500);
    h.lc.handle_runtime_response_started(h.now, E0, id);
    h.advance(500);
    h.respond(id, "ok").unwrap();
    assert_eq!(h.one_reply(INVOKER).outcome.error_type(), None);
    h.advance(MS);
    h.next(RUNTIME).unwrap();
    assert_eq!(h.report(), None, "not complete while the extension works");
    assert!(h.events().contains(&PlatformEvent::RuntimeDone {
        request_id: id,
        status: Status::Success,
        error_type: None,
        duration: Micros(3 * MS),
        produced_bytes: 2,
        response: Some(ResponseTimes {
            released: Micros(6 * MS),
            started: Micros(7 * MS + 500),
            completed: Micros(8 * MS),
        }),
    }));
    (h, id, ext)
}

fn overhead(report: Option<PlatformEvent>, name: &str) -> Option<Micros> {
    match report {
        Some(PlatformEvent::Report { extensions, .. }) => extensions
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, us)| us),
        other => panic!("expected a report, got {other:?}"),
    }
}

// ----- init -----

#[test]
fn init_completes_only_when_every_extension_is_on_next() {
    let (h, _, _) = ext_running();
    let events = h.events();
    assert_eq!(
        events[..2],
        [
            PlatformEvent::Extension {
                name: "logger".into(),
                state: "Ready",
                events: Events {
                    invoke: true,
                    shutdown: true
                },
            },
            PlatformEvent::InitDone {
                phase: InitPhase::Init,
                kind: InitType::OnDemand,
                status: Status::Success,
                error_type: None,
                duration: Micros(6 * MS),
            },
        ]
    );
}

#[test]
fn registration_closes_at_the_runtimes_first_next() {
    let (mut h, _, _) = registered();
    // Before the runtime's /next, an internal extension may register.
    let internal = h.register("in-process", true, false).unwrap();
    h.next(RUNTIME).unwrap();
    assert_eq!(
        h.register("late", true, false),
        Err(Rejection::RegistrationClosed)
    );
    let info = h.lc.extensions(E0);
    assert_eq!(info.len(), 2);
    assert!(info[0].external && !info[1].external);
    assert_eq!(info[1].id, internal.to_string());
    // An extension may not post init/error once ready, nor the runtime once on /next.
    assert!(h.lc.check_init_error(E0).is_err());
}

#[test]
fn registration_refuses_duplicates_internal_shutdown_and_an_eleventh() {
    let (mut h, _, _) = registered();
    assert_eq!(
        h.register("logger", true, false),
        Err(Rejection::ExtensionNameTaken)
    );
    assert_eq!(
        h.register("internal", true, true),
        Err(Rejection::ShutdownForInternal)
    );
    for i in 1..MAX_EXTENSIONS {
        h.register(&format!("ext{i}"), false, false).unwrap();
    }
    assert_eq!(
        h.register("eleventh", false, false),
        Err(Rejection::TooManyExtensions)
    );
}

#[test]
fn registration_is_closed_outside_an_init() {
    let mut h = Harness::new(with_extensions(&["logger"]));
    assert_eq!(
        h.register("logger", true, true),
        Err(Rejection::RegistrationClosed)
    );
}

#[test]
fn unknown_identifiers_are_refused() {
    let (mut h, _, _) = registered();
    let stranger = Rng::from_seed(7).uuid_v4();
    assert_eq!(
        h.ext_next(9, stranger),
        Err(Rejection::UnknownExtension(stranger))
    );
    assert_eq!(
        h.ext_error(stranger, ExtensionErrorKind::Init, "Extension.Bad"),
        Err(Rejection::UnknownExtension(stranger))
    );
}

#[test]
fn an_extension_that_never_registers_times_the_init_out() {
    let (mut h, _) = launching();
    h.advance(10 * S);
    assert!(h.replies().is_empty(), "the init is retried first");
    assert_eq!(h.spawns(), [], "the runtime never started");
    // The unregistered extension is killed as the environment stops; then the retry, under
    // the function timeout, launches it again, and it never registers either.
    assert!(h.signals().contains(&(EXT_CHILD, Signal::Kill)));
    h.exit(EXT_CHILD, ExitStatus::Signal(9));
    assert_eq!(h.ext_spawns(), [(ChildId(1), 0)], "{:#?}", h.out);
    h.advance(3 * S);
    let reply = h.one_reply(INVOKER);
    assert_eq!(
        failure(&reply),
        &Failure::Timeout {
            after: Micros::from_secs(3)
        }
    );
}

#[test]
fn an_extension_that_crashes_during_init_fails_it() {
    let (mut h, _, _) = registered();
    h.advance(MS);
    h.exit(EXT_CHILD, ExitStatus::Code(3));
    assert!(
        h.replies().is_empty(),
        "the init is retried first: {:#?}",
        h.out
    );
    assert!(h.events().contains(&PlatformEvent::ExtensionExited {
        name: "logger".into(),
        status: ExitStatus::Code(3),
    }));
    // The runtime gets SIGTERM (extensions exist) and 30 % of the 2 s budget... but the only
    // external extension is gone, so the budget is the internal one: nothing is left to wait
    // for but the runtime.
    assert_eq!(h.signals(), [(RUNTIME_CHILD, Signal::Term)]);
    // Once it has exited, the retry launches the extension again; it crashes again.
    h.exit(RUNTIME_CHILD, ExitStatus::Signal(15));
    assert_eq!(h.ext_spawns(), [(ChildId(2), 0)], "{:#?}", h.out);
    h.exit(ChildId(2), ExitStatus::Code(3));
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.outcome.error_type(), Some("Extension.Crash"));
}

#[test]
fn init_error_from_an_extension_fails_the_init_and_locks_it_out() {
    let (mut h, _, ext) = registered();
    h.ext_error(ext, ExtensionErrorKind::Init, "Extension.ConfigInvalid")
        .unwrap();
    assert!(
        h.replies().is_empty(),
        "the init is retried first: {:#?}",
        h.out
    );
    assert_eq!(h.ext_state("logger"), "InitError");
    assert_eq!(
        h.ext_next(LOGGER, ext),
        Err(Rejection::ExtensionState {
            from: "InitError",
            to: "Ready"
        })
    );
    // The environment stops; the retry launches the extension again, which fails again.
    h.exit(RUNTIME_CHILD, ExitStatus::Signal(15));
    h.exit(EXT_CHILD, ExitStatus::Code(0));
    assert_eq!(h.ext_spawns(), [(ChildId(2), 0)], "{:#?}", h.out);
    let ext = h.register("logger", true, true).unwrap();
    h.ext_error(ext, ExtensionErrorKind::Init, "Extension.ConfigInvalid")
        .unwrap();
    let reply = h.one_reply(INVOKER);
    let f = failure(&reply);
    assert_eq!(f.error_type(), "Extension.InitError");
    assert!(
        f.message(reply.request_id)
            .ends_with("extension logger posted init/error: Extension.ConfigInvalid"),
        "{}",
        f.message(reply.request_id)
    );
}

#[test]
fn init_error_is_refused_after_the_extensions_init() {
    let (mut h, _, ext) = ext_running();
    assert_eq!(
        h.ext_error(ext, ExtensionErrorKind::Init, "Extension.Late"),
        Err(Rejection::ExtensionState {
            from: "Running",
            to: "InitError"
        })
    );
}

// ----- invoke -----

#[test]
fn overhead_runs_from_the_runtimes_response_to_the_extensions_next() {
    let (mut h, id, ext) = ext_runtime_done();
    h.advance(4 * MS + 321);
    h.ext_next(LOGGER, ext).unwrap();
    let report = h.report();
    // Released at 6 ms, responded at 8 ms, extension back at 13.321 ms.
    assert_eq!(
        overhead(report.clone(), "logger"),
        Some(Micros(5 * MS + 321))
    );
    assert!(matches!(
        report,
        Some(PlatformEvent::Report { request_id, status: Status::Success, duration, .. })
            if request_id == id && duration == Micros(7 * MS + 321)
    ));
    assert_eq!(h.lc.runtime_state(E0), "Ready");
    assert!(h.lc.is_idle(E0));
}

#[test]
fn an_extension_back_before_the_response_adds_nothing() {
    let (mut h, id, ext) = ext_running();
    h.advance(MS);
    h.ext_next(LOGGER, ext).unwrap();
    h.advance(MS);
    h.respond(id, "ok").unwrap();
    h.advance(MS);
    h.next(RUNTIME).unwrap();
    assert_eq!(overhead(h.report(), "logger"), Some(Micros::ZERO));
}

#[test]
fn the_next_invocation_waits_for_the_extension() {
    let (mut h, _, ext) = ext_runtime_done();
    let second = h.invoke(101, "{}").unwrap();
    assert_eq!(h.releases(), [], "the first invocation is not complete");
    h.advance(MS);
    h.ext_next(LOGGER, ext).unwrap();
    assert_eq!(h.one_release(RUNTIME).0, second);
    assert!(matches!(
        h.ext_events()[..],
        [(LOGGER, ExtensionEvent::Invoke { request_id, .. })] if request_id == second
    ));
}

#[test]
fn extensions_without_invoke_do_not_hold_the_invocation() {
    let mut h = Harness::new(with_extensions(&["watcher"]));
    let id = h.invoke(INVOKER, "{}").unwrap();
    let ext = h.register("watcher", false, true).unwrap();
    h.next(RUNTIME).unwrap();
    h.ext_next(LOGGER, ext).unwrap();
    assert_eq!(h.ext_events(), []);
    h.advance(MS);
    h.respond(id, "ok").unwrap();
    h.next(RUNTIME).unwrap();
    match h.report() {
        Some(PlatformEvent::Report { extensions, .. }) => assert!(extensions.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_extension_that_never_comes_back_times_the_invocation_out() {
    let (mut h, id, _) = ext_runtime_done();
    // The deadline is 3 s after the release at 6 ms; 3 ms have passed since.
    h.advance(3 * S - 3 * MS);
    assert_eq!(h.replies(), [], "the invoker had its answer already");
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report { request_id, status: Status::Timeout, duration, .. })
            if request_id == id && duration == Micros::from_secs(3)
    ));
    // A reset with extensions: SIGTERM to the runtime first.
    assert_eq!(h.signals(), [(RUNTIME_CHILD, Signal::Term)]);
    let stop = h.now;
    // The runtime exits: the extension gets SHUTDOWN (timeout) when it calls next.
    h.advance(MS);
    h.exit(RUNTIME_CHILD, ExitStatus::Signal(15));
    assert_eq!(h.ext_events(), []);
    let ext = h.lc.extensions(E0)[0].id.clone();
    let ext = Uuid::parse(&ext).unwrap();
    h.ext_next(LOGGER, ext).unwrap();
    assert_eq!(
        h.ext_events(),
        [(
            LOGGER,
            ExtensionEvent::Shutdown {
                reason: ShutdownReason::Timeout,
                deadline: stop + SHUTDOWN_BUDGET_EXTERNAL,
            }
        )]
    );
    // It exits: the environment is down, and the next invocation re-initialises it all.
    h.exit(EXT_CHILD, ExitStatus::Code(0));
    assert_eq!(h.lc.runtime_state(E0), "NotStarted");
    assert!(
        h.closes().contains(&RUNTIME),
        "the old runtime's /next is closed"
    );
    h.invoke(101, "{}").unwrap();
    assert_eq!(h.ext_spawns(), [(ChildId(2), 0)]);
    assert_eq!(
        h.events()[0],
        PlatformEvent::InitStart {
            phase: InitPhase::Invoke,
            kind: InitType::OnDemand
        }
    );
}

#[test]
fn an_extension_crash_mid_invoke_fails_the_invocation() {
    let (mut h, id, _) = ext_running();
    h.advance(MS);
    h.exit(EXT_CHILD, ExitStatus::Signal(11));
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.request_id, id);
    assert_eq!(
        failure(&reply),
        &Failure::ExtensionCrash {
            name: "logger".into(),
            status: ExitStatus::Signal(11)
        }
    );
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report { status: Status::Failure, error_type: Some(t), .. })
            if t == "Extension.Crash"
    ));
    // Only internal... no: no extension process is left, so the budget is 500 ms and the
    // runtime alone is stopped.
    assert_eq!(h.signals(), [(RUNTIME_CHILD, Signal::Term)]);
    h.exit(RUNTIME_CHILD, ExitStatus::Signal(15));
    assert_eq!(h.lc.runtime_state(E0), "NotStarted");
}

#[test]
fn exit_error_while_idle_resets_the_environment() {
    let (mut h, _, ext) = ext_runtime_done();
    h.ext_next(LOGGER, ext).unwrap();
    h.ext_error(ext, ExtensionErrorKind::Exit, "Extension.Broken")
        .unwrap();
    assert_eq!(h.lc.runtime_state(E0), "Shutdown");
    assert_eq!(h.signals(), [(RUNTIME_CHILD, Signal::Term)]);
    assert_eq!(
        h.ext_error(ext, ExtensionErrorKind::Exit, "Extension.Again"),
        Err(Rejection::ExtensionState {
            from: "ExitError",
            to: "ExitError"
        })
    );
}

// ----- shutdown -----

#[test]
fn shutdown_terms_the_runtime_then_sends_shutdown_to_extensions() {
    let (mut h, _, ext) = ext_runtime_done();
    h.ext_next(LOGGER, ext).unwrap();
    h.lc.shutdown(h.now);
    h.drain();
    let start = h.now;
    assert_eq!(h.signals(), [(RUNTIME_CHILD, Signal::Term)]);
    assert_eq!(h.ext_events(), [], "the runtime goes first");
    // The runtime ignores SIGTERM: killed after its 30 % share (600 ms of 2 s).
    h.advance(600 * MS);
    assert_eq!(h.signals(), [(RUNTIME_CHILD, Signal::Kill)]);
    assert_eq!(
        h.ext_events(),
        [(
            LOGGER,
            ExtensionEvent::Shutdown {
                reason: ShutdownReason::Spindown,
                deadline: start + SHUTDOWN_BUDGET_EXTERNAL,
            }
        )]
    );
    h.exit(RUNTIME_CHILD, ExitStatus::Signal(9));
    assert!(!h.lc.is_finished(), "the extension is still running");
    h.advance(50 * MS);
    h.exit(EXT_CHILD, ExitStatus::Code(0));
    assert!(h.lc.is_finished());
    assert!(h.out.contains(&Action::Finished));
}

#[test]
fn an_extension_ignoring_shutdown_is_killed_at_the_deadline() {
    let (mut h, _, ext) = ext_runtime_done();
    h.ext_next(LOGGER, ext).unwrap();
    h.lc.shutdown(h.now);
    h.drain();
    h.exit(RUNTIME_CHILD, ExitStatus::Code(0));
    assert_eq!(
        h.ext_events().len(),
        1,
        "SHUTDOWN at once once the runtime is gone"
    );
    h.advance(2 * S - MS);
    assert!(!h.lc.is_finished());
    h.advance(MS);
    assert_eq!(h.signals(), [(EXT_CHILD, Signal::Kill)]);
    assert!(h.lc.is_finished());
}

#[test]
fn extensions_not_subscribed_to_shutdown_are_killed_at_once() {
    let mut h = Harness::new(with_extensions(&["a", "b"]));
    h.invoke(INVOKER, "{}").unwrap();
    let a = h.register("a", false, false).unwrap();
    let b = h.register("b", false, true).unwrap();
    h.next(RUNTIME).unwrap();
    h.ext_next(LOGGER, a).unwrap();
    h.ext_next(SECOND, b).unwrap();
    h.lc.shutdown(h.now);
    h.drain();
    h.exit(ChildId(2), ExitStatus::Code(0));
    assert_eq!(h.signals(), [(ChildId(0), Signal::Kill)]);
    assert!(matches!(
        h.ext_events()[..],
        [(SECOND, ExtensionEvent::Shutdown { .. })]
    ));
}

#[test]
fn internal_extensions_give_the_runtime_30_percent_of_500_ms() {
    let mut h = Harness::new(config(RuntimeMode::Process, InitMode::OnDemand));
    h.invoke(INVOKER, "{}").unwrap();
    let internal = h.register("agent", false, false).unwrap();
    h.next(RUNTIME).unwrap();
    h.ext_next(LOGGER, internal).unwrap();
    h.lc.shutdown(h.now);
    h.drain();
    assert_eq!(h.signals(), [(ChildId(0), Signal::Term)]);
    h.advance(150 * MS - 1);
    assert_eq!(h.signals(), []);
    h.advance(1);
    assert_eq!(h.signals(), [(ChildId(0), Signal::Kill)]);
    // No external extension to tell: the parked internal one is closed when the runtime exits.
    h.exit(ChildId(0), ExitStatus::Signal(9));
    assert!(h.closes().contains(&LOGGER));
    assert!(h.lc.is_finished());
}

#[test]
fn an_external_runtime_waits_for_the_extensions_too() {
    let mut h = Harness::new(Config {
        extensions: vec!["logger".into()],
        ..config(RuntimeMode::External, InitMode::OnDemand)
    });
    assert_eq!(h.ext_spawns(), [(ChildId(0), 0)]);
    // The runtime connects before the extension registered: it waits.
    h.next(RUNTIME).unwrap();
    assert_eq!(h.init_done(), None);
    let ext = h.register("logger", true, true).unwrap();
    assert_eq!(h.init_done(), None);
    h.ext_next(LOGGER, ext).unwrap();
    assert!(h.init_done().is_some());
    assert!(h.lc.is_initialized(E0));
}

#[test]
fn exit_error_mid_invoke_fails_the_invocation_and_stops_with_reason_failure() {
    let mut h = Harness::new(with_extensions(&["logger", "tracer"]));
    h.invoke(INVOKER, "{}").unwrap();
    let logger = h.register("logger", true, true).unwrap();
    let tracer = h.register("tracer", false, true).unwrap();
    h.next(RUNTIME).unwrap();
    h.ext_next(LOGGER, logger).unwrap();
    h.ext_next(SECOND, tracer).unwrap();
    h.advance(MS);
    h.ext_error(logger, ExtensionErrorKind::Exit, "Extension.Broken")
        .unwrap();
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.outcome.error_type(), Some("Extension.ExitError"));
    let stop = h.now;
    // The runtime (child 2) gets SIGTERM; once it is gone, the extensions get SHUTDOWN
    // (failure): the one parked now, the other (it reported an error) is killed.
    assert_eq!(h.signals(), [(ChildId(2), Signal::Term)]);
    h.exit(ChildId(2), ExitStatus::Code(0));
    assert_eq!(h.signals(), [(ChildId(0), Signal::Kill)]);
    assert_eq!(
        h.ext_events(),
        [(
            SECOND,
            ExtensionEvent::Shutdown {
                reason: ShutdownReason::Failure,
                deadline: stop + SHUTDOWN_BUDGET_EXTERNAL,
            }
        )]
    );
}

#[test]
fn a_runtime_crash_mid_invoke_sends_shutdown_with_reason_failure() {
    let (mut h, id, _) = ext_running();
    h.advance(MS);
    h.exit(RUNTIME_CHILD, ExitStatus::Code(2));
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.request_id, id);
    assert_eq!(reply.outcome.error_type(), Some("Runtime.ExitError"));
    // The runtime is gone already: SHUTDOWN goes out at once. The extension is busy with the
    // INVOKE, so it gets SHUTDOWN when it next asks.
    assert_eq!(h.signals(), []);
    let ext = Uuid::parse(&h.lc.extensions(E0)[0].id).unwrap();
    h.ext_next(LOGGER, ext).unwrap();
    assert!(matches!(
        h.ext_events()[..],
        [(
            LOGGER,
            ExtensionEvent::Shutdown {
                reason: ShutdownReason::Failure,
                ..
            }
        )]
    ));
}

#[test]
fn a_second_event_next_replaces_the_first() {
    let (mut h, _, ext) = registered();
    h.ext_next(LOGGER, ext).unwrap();
    h.ext_next(SECOND, ext).unwrap();
    assert_eq!(h.closes(), [LOGGER], "the older connection is closed");
    h.next(RUNTIME).unwrap();
    assert!(matches!(
        h.ext_events()[..],
        [(SECOND, ExtensionEvent::Invoke { .. })]
    ));
}

#[test]
fn an_invoke_for_an_extension_without_a_connection_waits_for_its_next_call() {
    let (mut h, _, ext) = registered();
    h.ext_next(LOGGER, ext).unwrap();
    h.lc.handle_waiter_closed(h.now, WaiterId(LOGGER));
    h.next(RUNTIME).unwrap();
    let id = h.one_release(RUNTIME).0;
    assert_eq!(h.ext_events(), [], "nobody to give it to");
    h.advance(MS);
    h.ext_next(SECOND, ext).unwrap();
    assert!(matches!(
        h.ext_events()[..],
        [(SECOND, ExtensionEvent::Invoke { request_id, .. })] if request_id == id
    ));
}

#[test]
fn an_extension_that_fails_to_start_fails_the_init() {
    let (mut h, _) = launching();
    for child in [EXT_CHILD, ChildId(1)] {
        h.lc.handle_spawn_failed(h.now, child, "fork/exec /opt/extensions/x: denied".into());
        h.drain();
        if child == EXT_CHILD {
            assert!(h.replies().is_empty(), "the init is retried first");
            assert_eq!(h.ext_spawns(), [(ChildId(1), 0)], "{:#?}", h.out);
        }
    }
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.outcome.error_type(), Some("Extension.LaunchError"));
    assert_eq!(h.lc.runtime_state(E0), "NotStarted");
}

#[test]
fn an_extension_crash_while_idle_resets_at_once() {
    let (mut h, _, ext) = ext_runtime_done();
    h.ext_next(LOGGER, ext).unwrap();
    assert!(h.lc.is_idle(E0));
    h.exit(EXT_CHILD, ExitStatus::Code(1));
    assert!(h.events().contains(&PlatformEvent::ExtensionExited {
        name: "logger".into(),
        status: ExitStatus::Code(1),
    }));
    // No external extension is left: the runtime has the internal budget's share.
    assert_eq!(h.signals(), [(RUNTIME_CHILD, Signal::Term)]);
    h.exit(RUNTIME_CHILD, ExitStatus::Signal(15));
    assert_eq!(h.lc.runtime_state(E0), "NotStarted");
    h.invoke(101, "{}").unwrap();
    assert_eq!(
        h.ext_spawns(),
        [(ChildId(2), 0)],
        "a new init, extensions first"
    );
}

#[test]
fn init_events_come_in_lambdas_order() {
    let (mut h, _, ext) = registered();
    h.advance(MS);
    h.next(RUNTIME).unwrap();
    // The runtime's part is done at its first /next (5.1 step 7), before the extensions'.
    assert_eq!(
        h.events(),
        [PlatformEvent::InitRuntimeDone {
            phase: InitPhase::Init,
            kind: InitType::OnDemand,
            status: Status::Success,
            error_type: None,
        }]
    );
    h.ext_next(LOGGER, ext).unwrap();
    let names: Vec<&str> = h
        .events()
        .iter()
        .map(|e| match e {
            PlatformEvent::Extension { .. } => "extension",
            PlatformEvent::InitDone { .. } => "initReport",
            PlatformEvent::Start { .. } => "start",
            _ => "other",
        })
        .collect();
    assert_eq!(names, ["extension", "initReport", "start"]);
}

#[test]
fn a_failed_init_reports_the_runtimes_part_once() {
    // Failing before the runtime's /next: initRuntimeDone carries the failure.
    let (mut h, _, _) = registered();
    h.exit(RUNTIME_CHILD, ExitStatus::Code(1));
    let done: Vec<_> = h
        .events()
        .into_iter()
        .filter(|e| matches!(e, PlatformEvent::InitRuntimeDone { .. }))
        .collect();
    assert_eq!(
        done,
        [PlatformEvent::InitRuntimeDone {
            phase: InitPhase::Init,
            kind: InitType::OnDemand,
            status: Status::Failure,
            error_type: Some("Runtime.ExitError".into()),
        }]
    );
    // Failing after it (the extension never asks for its first event): only initReport.
    let (mut h, _, _) = registered();
    h.next(RUNTIME).unwrap();
    h.advance(10 * S);
    let events = h.events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, PlatformEvent::InitRuntimeDone { .. })),
        "{events:?}"
    );
    assert!(matches!(
        h.init_done(),
        Some(PlatformEvent::InitDone {
            status: Status::Timeout,
            ..
        })
    ));
}

// ----- telemetry subscriptions -----

#[test]
fn subscriptions_are_taken_during_init_once_per_extension() {
    let (mut h, _, ext) = registered();
    assert_eq!(
        h.lc.handle_subscribe(E0, ext, TelemetryApi::Telemetry),
        Ok(true)
    );
    assert_eq!(
        h.lc.handle_subscribe(E0, ext, TelemetryApi::Telemetry),
        Ok(false),
        "idempotent: taken, not delivered twice"
    );
    assert_eq!(
        h.lc.handle_subscribe(E0, ext, TelemetryApi::Logs),
        Err(Rejection::SubscribedElsewhere(TelemetryApi::Telemetry))
    );
    assert_eq!(h.lc.extension_name(E0, ext), Some("logger"));
    let stranger = Rng::from_seed(5).uuid_v4();
    assert_eq!(
        h.lc.handle_subscribe(E0, stranger, TelemetryApi::Logs),
        Err(Rejection::UnknownExtension(stranger))
    );
    // Still during the init after the runtime's /next: the extension has not asked for its
    // first event yet.
    h.next(RUNTIME).unwrap();
    assert_eq!(
        h.lc.handle_subscribe(E0, ext, TelemetryApi::Telemetry),
        Ok(false)
    );
}

#[test]
fn subscriptions_close_with_the_init() {
    let (mut h, _, ext) = ext_running();
    assert_eq!(
        h.lc.handle_subscribe(E0, ext, TelemetryApi::Telemetry),
        Err(Rejection::SubscriptionClosed(TelemetryApi::Telemetry))
    );
    assert_eq!(
        h.lc.handle_subscribe(E0, ext, TelemetryApi::Logs),
        Err(Rejection::SubscriptionClosed(TelemetryApi::Logs))
    );
}

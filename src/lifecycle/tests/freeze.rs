//! Freeze and thaw (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>), on the virtual clock: the environment freezes
//! when it is idle and the reactor reports a quiet wire, never with a reply or a telemetry
//! batch in flight, and thaws before anything that needs its processes running.

use super::extensions::{EXT_CHILD, LOGGER, RUNTIME_CHILD, ext_runtime_done};
use super::*;

const QUIET: Wire = Wire {
    unwritten_replies: 0,
    batches_in_flight: 0,
};

impl Harness {
    fn wire(&mut self, unwritten_replies: usize, batches_in_flight: usize) -> &[Action] {
        let wire = Wire {
            unwritten_replies,
            batches_in_flight,
        };
        self.lc.handle_wire(self.now, E0, wire);
        self.drain()
    }
}

/// `ready()`, then frozen on a quiet wire.
fn frozen() -> Harness {
    let mut h = ready();
    assert_eq!(h.wire(0, 0), [Action::Freeze(E0)]);
    assert!(h.lc.is_frozen(E0));
    h
}

#[test]
fn ready_freezes_only_once_every_reply_is_written_and_no_batch_is_in_flight() {
    let mut h = ready();
    assert!(h.lc.may_freeze(E0));
    assert!(!h.lc.is_frozen(E0));
    // The core never freezes on its own: only the reactor's report of a quiet wire does it.
    assert_eq!(
        h.wire(1, 0),
        [],
        "the invoker's reply is still being written"
    );
    assert_eq!(h.wire(0, 1), [], "a telemetry batch is in flight");
    assert_eq!(h.wire(2, 3), []);
    assert!(!h.lc.is_frozen(E0));
    assert_eq!(h.wire(0, 0), [Action::Freeze(E0)]);
    assert!(h.lc.is_frozen(E0));
    assert!(!h.lc.may_freeze(E0), "frozen once, not twice");
    assert_eq!(h.wire(0, 0), []);
}

#[test]
fn nothing_freezes_while_an_init_or_an_invocation_is_under_way() {
    let (mut h, id) = initializing();
    assert!(!h.lc.may_freeze(E0));
    assert_eq!(h.wire(0, 0), []);
    h.advance(5 * MS);
    h.next(RUNTIME).unwrap();
    assert!(!h.lc.may_freeze(E0), "running");
    assert_eq!(h.wire(0, 0), []);
    h.respond(id, "ok").unwrap();
    assert!(!h.lc.may_freeze(E0), "responded, the runtime not back yet");
    assert_eq!(h.wire(0, 0), []);
    h.next(RUNTIME).unwrap();
    assert!(h.lc.may_freeze(E0), "complete");
}

#[test]
fn nothing_freezes_while_an_extension_is_still_working() {
    let (mut h, _, ext) = ext_runtime_done();
    assert!(!h.lc.may_freeze(E0));
    assert_eq!(h.wire(0, 0), []);
    h.advance(MS);
    h.ext_next(LOGGER, ext).unwrap();
    assert!(h.report().is_some());
    assert_eq!(h.wire(0, 0), [Action::Freeze(E0)]);
}

#[test]
fn an_invocation_completing_with_another_queued_releases_it_without_a_freeze() {
    let (mut h, id) = responded();
    let second = h.invoke(INVOKER + 1, "{}").unwrap();
    assert!(!h.lc.may_freeze(E0), "one is queued");
    h.next(RUNTIME).unwrap();
    assert_eq!(h.one_release(RUNTIME).0, second);
    assert!(!h.out.contains(&Action::Freeze(E0)) && !h.out.contains(&Action::Thaw(E0)));
    assert_ne!(id, second);
    assert!(!h.lc.may_freeze(E0));
}

#[test]
fn an_eager_init_freezes_once_complete_with_nothing_queued() {
    let mut h = Harness::new(config(RuntimeMode::Process, InitMode::Eager));
    assert!(!h.lc.may_freeze(E0), "initialising");
    h.advance(3 * MS);
    h.next(RUNTIME).unwrap();
    assert!(h.init_done().is_some());
    assert_eq!(h.wire(0, 0), [Action::Freeze(E0)]);
}

#[test]
fn a_frozen_environment_thaws_before_the_next_release() {
    let mut h = frozen();
    h.advance(40 * MS);
    let id = h.invoke(INVOKER + 1, "{}").unwrap();
    assert!(!h.lc.is_frozen(E0));
    let thaw = h.position(|a| *a == Action::Thaw(E0));
    let start = h.position(|a| matches!(a, Action::Event(_, PlatformEvent::Start { .. })));
    let release = h.position(|a| matches!(a, Action::Release { .. }));
    assert!(thaw < start && start < release, "{:#?}", h.out);
    assert_eq!(h.one_release(RUNTIME).0, id);
    // And it freezes again after this one.
    h.respond(id, "ok").unwrap();
    h.next(RUNTIME).unwrap();
    assert_eq!(h.wire(0, 0), [Action::Freeze(E0)]);
}

#[test]
fn a_frozen_environment_thaws_before_the_runtime_is_killed_at_shutdown() {
    let mut h = frozen();
    h.lc.shutdown(h.now);
    h.drain();
    let thaw = h.position(|a| *a == Action::Thaw(E0));
    let kill = h.position(|a| {
        matches!(
            a,
            Action::Signal {
                signal: Signal::Kill,
                ..
            }
        )
    });
    assert!(thaw < kill, "{:#?}", h.out);
    assert!(!h.lc.is_frozen(E0));
}

#[test]
fn a_frozen_environment_thaws_before_sigterm_and_shutdown_to_extensions() {
    let (mut h, _, ext) = ext_runtime_done();
    h.ext_next(LOGGER, ext).unwrap();
    assert_eq!(h.wire(0, 0), [Action::Freeze(E0)]);
    h.lc.shutdown(h.now);
    h.drain();
    assert_eq!(h.out[0], Action::Thaw(E0), "{:#?}", h.out);
    assert_eq!(h.signals(), [(RUNTIME_CHILD, Signal::Term)]);
    // The runtime exits on SIGTERM; SHUTDOWN goes to the (thawed) extension.
    h.exit(RUNTIME_CHILD, ExitStatus::Code(0));
    assert!(matches!(
        h.ext_events()[..],
        [(LOGGER, ExtensionEvent::Shutdown { .. })]
    ));
    assert!(!h.out.contains(&Action::Thaw(E0)), "thawed once");
    h.exit(EXT_CHILD, ExitStatus::Code(0));
    assert!(h.lc.is_finished());
}

#[test]
fn a_frozen_process_killed_from_outside_thaws_the_rest_before_the_reset() {
    let (mut h, _, ext) = ext_runtime_done();
    h.ext_next(LOGGER, ext).unwrap();
    assert_eq!(h.wire(0, 0), [Action::Freeze(E0)]);
    // SIGKILL reaches a stopped process (the OOM killer, a user's kill -9).
    h.exit(RUNTIME_CHILD, ExitStatus::Signal(9));
    let thaw = h.position(|a| *a == Action::Thaw(E0));
    let shutdown = h.position(|a| {
        matches!(
            a,
            Action::ReleaseExtension {
                event: ExtensionEvent::Shutdown {
                    reason: ShutdownReason::Failure,
                    ..
                },
                ..
            }
        )
    });
    assert!(thaw < shutdown, "{:#?}", h.out);
    assert!(!h.lc.is_frozen(E0));
}

#[test]
fn freezing_off_never_freezes() {
    let mut h = Harness::new(Config {
        freeze: false,
        ..config(RuntimeMode::Process, InitMode::Eager)
    });
    h.next(RUNTIME).unwrap();
    assert!(h.lc.is_idle(E0));
    assert!(!h.lc.may_freeze(E0));
    h.lc.handle_wire(h.now, E0, QUIET);
    assert_eq!(h.drain(), []);
}

#[test]
fn an_external_runtime_is_never_frozen() {
    // Decision *external runtime*: the runtime is not a process of ours.
    let mut h = Harness::new(config(RuntimeMode::External, InitMode::OnDemand));
    h.next(RUNTIME).unwrap();
    assert!(h.lc.is_idle(E0));
    assert!(!h.lc.may_freeze(E0));
    h.lc.handle_wire(h.now, E0, QUIET);
    assert_eq!(h.drain(), []);
}

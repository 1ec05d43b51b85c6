//! SnapStart (`Config::snap_start`) on the virtual clock: the snapshot's init at start-up, the
//! restore each environment goes through for the invocation that needs it, and its failures
//! (<https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-custom.html>).

use super::*;

fn snap(concurrency: usize) -> Harness {
    Harness::new(Config {
        concurrency,
        snap_start: true,
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    })
}

impl Harness {
    fn restore_next(&mut self, env: EnvId, waiter: u64) -> Result<(), Rejection> {
        let r = self.lc.handle_restore_next(self.now, env, WaiterId(waiter));
        self.drain();
        r
    }

    fn restored(&self) -> Vec<u64> {
        (self.out.iter())
            .filter_map(|a| match a {
                Action::Restored(w) => Some(w.0),
                _ => None,
            })
            .collect()
    }
}

/// The snapshot: the runtime's before-snapshot hooks are done 30 ms into the init.
fn snapshotted() -> Harness {
    let mut h = snap(1);
    let spawns = h.spawns();
    assert_eq!(spawns.len(), 1, "the snapshot's init starts at start-up");
    assert_eq!(
        spawns[0].1,
        InitType::SnapStart,
        "AWS_LAMBDA_INITIALIZATION_TYPE=snap-start"
    );
    assert!(h.events().contains(&PlatformEvent::InitStart {
        phase: InitPhase::Init,
        kind: InitType::SnapStart,
    }));
    h.advance(30 * MS);
    h.restore_next(E0, RUNTIME).unwrap();
    assert!(matches!(
        h.init_done(),
        Some(PlatformEvent::InitDone {
            kind: InitType::SnapStart,
            status: Status::Success,
            ..
        })
    ));
    assert_eq!(h.lc.runtime_state(E0), "RestoreReady");
    assert!(h.restored().is_empty());
    h
}

#[test]
fn the_snapshot_is_restored_for_the_first_invocation_and_its_report_says_how_long() {
    let mut h = snapshotted();
    let id = h.invoke(INVOKER, "{}").unwrap();
    assert_eq!(h.restored(), [RUNTIME], "/restore/next is answered");
    assert!(h.events().contains(&PlatformEvent::RestoreStart));
    assert!(
        h.releases().is_empty(),
        "not before the after-restore hooks"
    );
    assert_eq!(h.lc.runtime_state(E0), "Restoring");
    // A second /restore/next is refused.
    assert!(h.restore_next(E0, RUNTIME + 1).is_err());
    h.advance(5 * MS);
    h.next(RUNTIME + 2).unwrap();
    let events = h.events();
    assert!(events.contains(&PlatformEvent::RestoreRuntimeDone {
        status: Status::Success,
        error_type: None,
    }));
    assert!(events.contains(&PlatformEvent::RestoreReport {
        status: Status::Success,
        error_type: None,
        duration: Micros(5 * MS),
    }));
    assert_eq!(h.one_release(RUNTIME + 2).0, id);
    h.respond(id, "ok").unwrap();
    h.next(RUNTIME + 2).unwrap();
    let Some(PlatformEvent::Report {
        restore_duration,
        init_duration,
        ..
    }) = h.report()
    else {
        panic!("no report: {:#?}", h.out);
    };
    assert_eq!(restore_duration, Some(Micros(5 * MS)), "Restore Duration");
    assert_eq!(
        init_duration, None,
        "the init is the snapshot's, not the invocation's"
    );
    // The next invocation: no restore.
    let again = h.invoke(INVOKER + 1, "{}").unwrap();
    assert_eq!(h.one_release(RUNTIME + 2).0, again);
    assert!(!h.events().contains(&PlatformEvent::RestoreStart));
}

#[test]
fn a_runtime_without_hooks_goes_straight_to_next_and_is_restored_at_once() {
    let mut h = snap(1);
    h.next(RUNTIME).unwrap();
    assert_eq!(h.lc.runtime_state(E0), "RestoreReady");
    let id = h.invoke(INVOKER, "{}").unwrap();
    let events = h.events();
    assert!(events.contains(&PlatformEvent::RestoreStart));
    assert!(events.contains(&PlatformEvent::RestoreReport {
        status: Status::Success,
        error_type: None,
        duration: Micros::ZERO,
    }));
    assert_eq!(h.one_release(RUNTIME).0, id);
}

#[test]
fn a_restore_error_fails_its_invocation_and_the_next_one_restores_anew_out_of_sight() {
    let mut h = snapshotted();
    h.invoke(INVOKER, "{}").unwrap();
    h.advance(MS);
    let error = FunctionError {
        error_type: "Runtime.AfterRestoreError".into(),
        body: b"{}".to_vec(),
        content_type: None,
    };
    h.lc.handle_restore_error(h.now, E0, error).unwrap();
    h.drain();
    assert_eq!(
        failure(&h.one_reply(INVOKER)),
        &Failure::Restore { timeout: false },
        "SnapStartException"
    );
    assert!(h.events().contains(&PlatformEvent::RestoreReport {
        status: Status::Error,
        error_type: Some("Runtime.AfterRestoreError".into()),
        duration: Micros(MS),
    }));
    assert_eq!(h.kills().len(), 1, "the failed environment is stopped");
    // Outside a restore, /restore/error is refused.
    let error = FunctionError {
        error_type: "X".into(),
        body: Vec::new(),
        content_type: None,
    };
    assert!(h.lc.handle_restore_error(h.now, E0, error).is_err());

    // The next invocation: a new environment's init, out of sight, then its restore.
    let id = h.invoke(INVOKER + 1, "{}").unwrap();
    assert_eq!(h.spawns().len(), 1);
    assert!(
        h.init_done().is_none()
            && !h
                .events()
                .iter()
                .any(|e| matches!(e, PlatformEvent::InitStart { .. }))
    );
    h.restore_next(E0, RUNTIME + 5).unwrap();
    assert_eq!(
        h.restored(),
        [RUNTIME + 5],
        "restored at once for the waiting invocation"
    );
    assert!(h.init_done().is_none(), "no init events: {:#?}", h.out);
    h.advance(2 * MS);
    h.next(RUNTIME + 6).unwrap();
    assert_eq!(h.one_release(RUNTIME + 6).0, id);
}

#[test]
fn a_restore_past_ten_seconds_times_out() {
    let mut h = snapshotted();
    h.invoke(INVOKER, "{}").unwrap();
    h.advance(RESTORE_TIMEOUT.as_micros() - 1);
    assert!(h.replies().is_empty());
    h.advance(1);
    assert_eq!(
        failure(&h.one_reply(INVOKER)),
        &Failure::Restore { timeout: true },
        "SnapStartTimeoutException"
    );
    assert!(h.events().iter().any(|e| matches!(
        e,
        PlatformEvent::RestoreReport {
            status: Status::Timeout,
            ..
        }
    )));
}

#[test]
fn restore_next_is_refused_outside_a_snap_start_init() {
    let mut h = Harness::new(config(RuntimeMode::Process, InitMode::OnDemand));
    h.invoke(INVOKER, "{}").unwrap();
    let refused = h.restore_next(E0, RUNTIME);
    assert!(
        matches!(
            refused,
            Err(Rejection::InvalidStateTransition {
                to: "RestoreReady",
                ..
            })
        ),
        "{refused:?}"
    );
    let mut h = snapshotted();
    assert!(
        h.restore_next(E0, RUNTIME + 1).is_err(),
        "the snapshot is taken"
    );
}

#[test]
fn a_second_environment_restores_from_the_snapshot_after_an_init_out_of_sight() {
    let mut h = snap(2);
    h.restore_next(E0, RUNTIME).unwrap();
    let first = h.invoke(INVOKER, "{}").unwrap();
    assert_eq!(h.restored(), [RUNTIME]);
    let second = h.invoke(INVOKER + 1, "{}").unwrap();
    let spawns = h.spawns();
    assert_eq!(spawns.len(), 1, "environment 2 starts: {:#?}", h.out);
    assert_eq!(spawns[0].1, InitType::SnapStart);
    assert!(
        !h.events()
            .iter()
            .any(|e| matches!(e, PlatformEvent::InitStart { .. }))
    );
    h.restore_next(EnvId(1), RUNTIME + 10).unwrap();
    assert_eq!(h.restored(), [RUNTIME + 10]);
    h.lc.handle_runtime_next(h.now, EnvId(1), WaiterId(RUNTIME + 11))
        .unwrap();
    h.drain();
    assert_eq!(h.one_release(RUNTIME + 11).0, first, "the oldest first");
    h.next(RUNTIME + 2).unwrap();
    assert_eq!(h.one_release(RUNTIME + 2).0, second);
}

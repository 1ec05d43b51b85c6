//! Lambda Managed Instances in the lifecycle: several invocations in flight in one environment
//! (lambda-managed-instances-execution-environment.html; RIE
//! `internal/lambda-managed-instances`), on the virtual clock.

use super::*;

/// At most this many invocations in flight in the fixtures.
const M: u32 = 3;
const WORKERS: [u64; 4] = [11, 12, 13, 14];

fn managed_config() -> Config {
    Config {
        max_concurrency: Some(M),
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    }
}

/// A Managed Instances environment initialised at start-up: its runtime's workers are all on
/// `/next`.
fn serving() -> Harness {
    let mut h = Harness::new(managed_config());
    assert_eq!(h.spawns(), [(ChildId(0), InitType::ManagedInstances)]);
    assert_eq!(
        h.events(),
        [PlatformEvent::InitStart {
            phase: InitPhase::Init,
            kind: InitType::ManagedInstances
        }]
    );
    assert_eq!(
        h.lc.poll_timeout(),
        Some(MANAGED_INIT_TIMEOUT),
        "130 s: the function timeout (3 s) is shorter"
    );
    h.advance(4 * MS);
    for w in WORKERS {
        h.next(w).unwrap();
    }
    assert!(h.lc.is_idle(E0));
    assert_eq!(h.lc.parked(E0), WORKERS.len());
    h
}

#[test]
fn managed_init_starts_at_once_with_the_longer_limit() {
    let h = serving();
    assert_eq!(h.lc.runtime_state(E0), "Ready");
    // A long function timeout raises the init limit with it.
    let h = Harness::new(Config {
        timeout: Micros::from_secs(600),
        ..managed_config()
    });
    assert_eq!(h.lc.poll_timeout(), Some(Micros::from_secs(600)));
}

#[test]
fn managed_invocations_run_side_by_side_up_to_the_limit_then_wait() {
    let mut h = serving();
    let mut ids = Vec::new();
    for i in 0..=M {
        ids.push(h.invoke(INVOKER + u64::from(i), "{}").unwrap());
        if i < M {
            let (id, deadline) = h.one_release(WORKERS[i as usize]);
            assert_eq!(id, ids[i as usize]);
            assert_eq!(deadline, h.now + Micros::from_secs(3));
        } else {
            assert!(h.releases().is_empty(), "the fourth waits: {:#?}", h.out);
        }
    }
    assert_eq!(h.lc.in_flight(E0), M as usize);
    assert_eq!(h.lc.queued(), 1);
    // Answered in another order than released; each completes with its result.
    h.advance(MS);
    h.respond(ids[1], "one").unwrap();
    assert_eq!(h.one_reply(INVOKER + 1).request_id, ids[1]);
    let Some(PlatformEvent::Report { request_id, .. }) = h.report() else {
        panic!("no report: {:#?}", h.out);
    };
    assert_eq!(request_id, ids[1]);
    // The slot it freed goes to the one waiting, on the last parked worker.
    assert_eq!(h.one_release(WORKERS[3]).0, ids[3]);
    h.respond(ids[0], "zero").unwrap();
    assert_eq!(h.one_reply(INVOKER).request_id, ids[0]);
    assert_eq!(h.lc.in_flight(E0), 2);
    // Another result for one already answered is an unknown id.
    assert_eq!(h.respond(ids[0], "again"), Err(Rejection::InvalidRequestId));
}

#[test]
fn managed_queue_limit_counts_beyond_the_slots() {
    let mut h = Harness::new(Config {
        max_queue: 0,
        ..managed_config()
    });
    h.advance(MS);
    h.next(WORKERS[0]).unwrap();
    for i in 0..M {
        h.invoke(INVOKER + u64::from(i), "{}").unwrap();
    }
    assert_eq!(
        h.invoke(INVOKER + 9, "{}"),
        Err(Rejection::TooManyRequests),
        "every slot taken (one released, two waiting for a worker) and no queue beyond them"
    );
}

#[test]
fn managed_timeout_ends_one_invocation_and_not_the_environment() {
    let mut h = serving();
    let slow = h.invoke(INVOKER, "{}").unwrap();
    h.advance(MS);
    let fast = h.invoke(INVOKER + 1, "{}").unwrap();
    h.advance(3 * S - MS);
    let reply = h.one_reply(INVOKER);
    assert_eq!(reply.request_id, slow);
    assert_eq!(
        failure(&reply),
        &Failure::Timeout {
            after: Micros::from_secs(3)
        }
    );
    assert!(h.kills().is_empty(), "no reset: {:#?}", h.out);
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report {
            status: Status::Timeout,
            ..
        })
    ));
    // The other one goes on and is answered.
    h.respond(fast, "ok").unwrap();
    assert_eq!(h.one_reply(INVOKER + 1).request_id, fast);
    // The late result is told so, once; then the id is unknown.
    assert_eq!(
        h.lc.check_runtime_result(E0, slow, false),
        Err(Rejection::InvokeTimeout)
    );
    h.lc.handle_late_result(E0, slow);
    assert_eq!(
        h.lc.check_runtime_result(E0, slow, true),
        Err(Rejection::InvalidRequestId)
    );
    // The environment still serves.
    let next = h.invoke(INVOKER + 2, "{}").unwrap();
    assert_eq!(h.releases().len(), 1);
    h.respond(next, "ok").unwrap();
    assert_eq!(h.one_reply(INVOKER + 2).request_id, next);
}

#[test]
fn managed_timed_out_ids_are_remembered_up_to_the_bound() {
    let mut h = Harness::new(Config {
        max_concurrency: Some(1),
        timeout: Micros::from_millis(1),
        ..managed_config()
    });
    let mut first = None;
    for i in 0..=TIMED_OUT_REMEMBERED {
        h.next(RUNTIME).unwrap();
        let id = h.invoke(INVOKER, "{}").unwrap();
        first.get_or_insert(id);
        h.advance(MS);
        assert_eq!(
            failure(&h.one_reply(INVOKER)).error_type(),
            "Sandbox.Timedout",
            "{i}"
        );
    }
    let first = first.unwrap();
    assert_eq!(
        h.lc.check_runtime_result(E0, first, false),
        Err(Rejection::InvalidRequestId),
        "the oldest was forgotten"
    );
}

#[test]
fn managed_runtime_exit_answers_every_invocation_in_flight_once() {
    let mut h = serving();
    let ids: Vec<RequestId> = (0..M)
        .map(|i| h.invoke(INVOKER + u64::from(i), "{}").unwrap())
        .collect();
    let queued = h.invoke(INVOKER + 9, "{}").unwrap();
    h.advance(MS);
    h.exit(ChildId(0), ExitStatus::Code(1));
    let replies = h.replies();
    assert_eq!(replies.len(), M as usize, "{:#?}", h.out);
    for (i, (invoker, reply)) in replies.iter().enumerate() {
        assert_eq!(*invoker, INVOKER + i as u64);
        assert_eq!(reply.request_id, ids[i]);
        assert_eq!(failure(reply).error_type(), "Runtime.ExitError");
    }
    // A new environment replaces it at once, reported as Managed Instances again, and takes
    // the queued one.
    assert_eq!(h.spawns(), [(ChildId(1), InitType::ManagedInstances)]);
    h.advance(MS);
    h.next(RUNTIME).unwrap();
    assert_eq!(h.one_release(RUNTIME).0, queued);
}

#[test]
fn managed_shutdown_answers_the_invocations_in_flight() {
    let mut h = serving();
    h.invoke(INVOKER, "{}").unwrap();
    h.invoke(INVOKER + 1, "{}").unwrap();
    h.lc.shutdown(h.now);
    h.drain();
    let replies = h.replies();
    assert_eq!(replies.len(), 2);
    for (_, reply) in &replies {
        assert_eq!(failure(reply), &Failure::Shutdown);
    }
}

#[test]
fn managed_extensions_may_subscribe_to_shutdown_only() {
    let mut h = Harness::new(Config {
        extensions: vec!["logger".into()],
        ..managed_config()
    });
    assert_eq!(
        h.register("logger", true, true),
        Err(Rejection::EventNotAllowed { internal: false })
    );
    assert_eq!(
        h.register("internal", false, false).map(|_| ()),
        Ok(()),
        "an internal one with no events"
    );
    assert_eq!(
        h.register("internal2", true, false),
        Err(Rejection::EventNotAllowed { internal: true })
    );
    assert!(h.register("logger", false, true).is_ok());
}

#[test]
fn managed_environment_is_never_frozen() {
    let mut h = serving();
    let id = h.invoke(INVOKER, "{}").unwrap();
    h.respond(id, "ok").unwrap();
    assert!(h.lc.is_idle(E0));
    assert!(!h.lc.may_freeze(E0));
    h.lc.handle_wire(h.now, E0, Wire::default());
    assert!(h.drain().is_empty());
}

#[test]
fn managed_init_reports_no_init_duration_on_the_first_report() {
    let mut h = serving();
    let id = h.invoke(INVOKER, "{}").unwrap();
    h.respond(id, "ok").unwrap();
    assert!(matches!(
        h.report(),
        Some(PlatformEvent::Report {
            init_duration: None,
            ..
        })
    ));
}

#[test]
fn managed_environment_that_fails_while_serving_is_replaced_at_once() {
    let mut h = serving();
    h.exit(ChildId(0), ExitStatus::Code(0));
    assert_eq!(
        h.spawns(),
        [(ChildId(1), InitType::ManagedInstances)],
        "no invocation needed"
    );
    assert!(h.events().contains(&PlatformEvent::InitStart {
        phase: InitPhase::Init,
        kind: InitType::ManagedInstances
    }));
    // An init that fails is not retried until an invocation comes: no spinning.
    h.exit(ChildId(1), ExitStatus::Code(1));
    assert!(h.spawns().is_empty(), "{:#?}", h.out);
    h.invoke(INVOKER, "{}").unwrap();
    assert_eq!(h.spawns(), [(ChildId(2), InitType::ManagedInstances)]);
}

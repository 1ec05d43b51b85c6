//! Several execution environments in one lifecycle machine (`Config::concurrency`), on the
//! virtual clock: routing, cold starts, and each environment's own failures.

use super::*;

const E1: EnvId = EnvId(1);
const RT0: u64 = 10;
const RT1: u64 = 11;

fn two() -> Harness {
    Harness::new(Config {
        concurrency: 2,
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    })
}

fn spawned_envs(h: &Harness) -> Vec<EnvId> {
    h.out
        .iter()
        .filter_map(|a| match a {
            Action::Spawn {
                env,
                role: Role::Runtime,
                ..
            } => Some(*env),
            _ => None,
        })
        .collect()
}

#[test]
fn environments_cold_start_one_per_waiting_invocation_each_reporting_its_init() {
    let mut h = two();
    let a = h.invoke(INVOKER, "{}").unwrap();
    assert_eq!(spawned_envs(&h), [E0]);
    let b = h.invoke(INVOKER + 1, "{}").unwrap();
    assert_eq!(
        spawned_envs(&h),
        [E1],
        "a second environment for the second"
    );
    // A third waits: no more environments.
    h.invoke(INVOKER + 2, "{}").unwrap();
    assert!(spawned_envs(&h).is_empty());
    h.advance(5 * MS);
    let r = h.lc.handle_runtime_next(h.now, E1, WaiterId(RT1));
    assert_eq!(r, Ok(()));
    h.drain();
    assert_eq!(h.one_release(RT1).0, a, "the first ready takes the oldest");
    h.advance(MS);
    h.lc.handle_runtime_next(h.now, E0, WaiterId(RT0)).unwrap();
    h.drain();
    assert_eq!(h.one_release(RT0).0, b);
    // Each environment's result, from its own Runtime API only.
    assert_eq!(
        h.lc.check_runtime_result(E0, a, false),
        Err(Rejection::InvalidRequestId),
        "another environment's invocation"
    );
    for (env, id, invoker) in [(E1, a, INVOKER), (E0, b, INVOKER + 1)] {
        let result = RuntimeResult::Response {
            body: b"ok".to_vec(),
            content_type: None,
        };
        h.lc.handle_runtime_result(h.now, env, id, result).unwrap();
        h.drain();
        assert_eq!(h.one_reply(invoker).request_id, id);
        h.lc.handle_runtime_next(h.now, env, WaiterId(if env == E0 { RT0 } else { RT1 }))
            .unwrap();
        h.drain();
        let Some(PlatformEvent::Report { init_duration, .. }) = h.report() else {
            panic!("no report: {:#?}", h.out);
        };
        assert!(
            init_duration.is_some(),
            "a cold start's report carries its init"
        );
    }
}

#[test]
fn an_invocation_that_starts_an_environment_waits_for_its_cold_start() {
    // Lambda (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html): a request
    // that finds no free environment is served by a new one, after its init. An environment
    // that frees up meanwhile does not take it; it takes the next request.
    let mut h = two();
    let a = h.invoke(INVOKER, "{}").unwrap();
    h.advance(5 * MS);
    h.next(RT0).unwrap();
    assert_eq!(h.one_release(RT0).0, a);
    let b = h.invoke(INVOKER + 1, "{}").unwrap();
    assert_eq!(spawned_envs(&h), [E1], "b found no free environment");
    h.advance(MS);
    h.respond(a, "ok").unwrap();
    h.next(RT0).unwrap();
    assert!(
        h.releases().is_empty(),
        "E0 is free, but b waits for E1: {:#?}",
        h.out
    );
    assert!(!h.lc.is_idle(E0), "b is still queued");
    // A request that arrives now goes to the free environment at once.
    let c = h.invoke(INVOKER + 2, "{}").unwrap();
    assert_eq!(h.one_release(RT0).0, c);
    assert!(spawned_envs(&h).is_empty());
    // E1's init ends: b is released there, and its REPORT carries the init.
    h.advance(20 * MS);
    h.lc.handle_runtime_next(h.now, E1, WaiterId(RT1)).unwrap();
    h.drain();
    assert_eq!(h.one_release(RT1).0, b);
    let result = RuntimeResult::Response {
        body: b"ok".to_vec(),
        content_type: None,
    };
    h.lc.handle_runtime_result(h.now, E1, b, result).unwrap();
    h.lc.handle_runtime_next(h.now, E1, WaiterId(RT1)).unwrap();
    h.drain();
    let Some(PlatformEvent::Report { init_duration, .. }) = h.report() else {
        panic!("no report: {:#?}", h.out);
    };
    assert_eq!(init_duration, Some(Micros(21 * MS)));
}

#[test]
fn a_failed_cold_start_releases_its_claim() {
    // E1 starts for b and fails; b gets the init's error, and what comes next may go to E0.
    let mut h = two();
    let a = h.invoke(INVOKER, "{}").unwrap();
    h.advance(5 * MS);
    h.next(RT0).unwrap();
    assert_eq!(h.one_release(RT0).0, a);
    h.invoke(INVOKER + 1, "{}").unwrap();
    // E1's init fails, is retried once (a new runtime), and fails again: b gets the error.
    for _ in 0..2 {
        let child = h
            .out
            .iter()
            .find_map(|a| match a {
                Action::Spawn {
                    env: E1,
                    child,
                    role: Role::Runtime,
                    ..
                } => Some(*child),
                _ => None,
            })
            .unwrap();
        h.exit(child, ExitStatus::Code(1));
    }
    assert!(matches!(
        h.one_reply(INVOKER + 1).outcome,
        Outcome::Failure(_)
    ));
    h.respond(a, "ok").unwrap();
    h.next(RT0).unwrap();
    let c = h.invoke(INVOKER + 2, "{}").unwrap();
    assert_eq!(h.one_release(RT0).0, c, "no claim left on the queue");
}

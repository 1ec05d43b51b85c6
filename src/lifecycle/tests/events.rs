//! `Event` invocations in the core (decision *asynchronous invocations*): their own queue and
//! bound, and the retries of a failed one, on the virtual clock
//! (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>).

use super::*;

const EVENT: u64 = 500;

impl Harness {
    fn event(&mut self, payload: &str) -> Result<RequestId, Rejection> {
        let request = InvokeRequest {
            payload: payload.as_bytes().to_vec(),
            ..InvokeRequest::default()
        };
        let r = self.lc.invoke_event(self.now, WaiterId(EVENT), request);
        self.drain();
        r
    }
}

/// An event whose every attempt fails: the runtime (waiter `RUNTIME`) posts an error.
fn fail_attempt(h: &mut Harness, id: RequestId) -> InvokeReply {
    let (released, _) = h.one_release(RUNTIME);
    assert_eq!(released, id, "the same request id at every attempt");
    h.advance(MS);
    h.error(id, "Boom").unwrap();
    let reply = h.one_reply(EVENT);
    h.next(RUNTIME).unwrap();
    reply
}

#[test]
fn a_failed_event_is_tried_twice_more_a_minute_then_two_minutes_later() {
    let mut h = ready();
    h.next(RUNTIME).unwrap();
    let id = h.event("{}").unwrap();
    let first = fail_attempt(&mut h, id);
    assert_eq!(first.request_id, id);
    let failed_at = h.now;
    assert_eq!(
        h.lc.event_retry(id),
        Some((1, failed_at + Micros::from_secs(60)))
    );
    assert_eq!(h.lc.poll_timeout(), Some(failed_at + Micros::from_secs(60)));
    // Nothing before the minute is up.
    h.advance(60 * S - 1);
    assert!(h.releases().is_empty());
    h.advance(1);
    fail_attempt(&mut h, id);
    let failed_at = h.now;
    assert_eq!(
        h.lc.event_retry(id),
        Some((2, failed_at + Micros::from_secs(120)))
    );
    h.advance(120 * S);
    fail_attempt(&mut h, id);
    // Three attempts: it has ended for good.
    assert_eq!(h.lc.event_retry(id), None);
    h.advance(600 * S);
    assert!(h.releases().is_empty());
}

#[test]
fn a_retry_that_succeeds_ends_it_and_synchronous_invocations_are_not_retried() {
    let mut h = ready();
    h.next(RUNTIME).unwrap();
    let id = h.event("{}").unwrap();
    fail_attempt(&mut h, id);
    h.advance(60 * S);
    let (released, _) = h.one_release(RUNTIME);
    assert_eq!(released, id);
    h.respond(id, "ok").unwrap();
    assert_eq!(h.one_reply(EVENT).request_id, id);
    assert_eq!(h.lc.event_retry(id), None);
    // A synchronous invocation's failure is the invoker's to handle.
    h.next(RUNTIME).unwrap();
    let sync = h.invoke(INVOKER, "{}").unwrap();
    h.one_release(RUNTIME);
    h.error(sync, "Boom").unwrap();
    assert_eq!(h.lc.event_retry(sync), None);
    // No retry timer: at most the invocation's own, within its 3 s.
    let at = h.lc.poll_timeout();
    assert!(
        at.is_none_or(|at| at <= h.now + Micros::from_secs(3)),
        "{at:?}"
    );
}

#[test]
fn retries_are_configured_as_lambdas_asynchronous_invocation_is() {
    // MaximumRetryAttempts 0: one attempt.
    let mut h = Harness::new(Config {
        max_retry_attempts: 0,
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    });
    h.invoke(INVOKER, "{}").unwrap();
    h.advance(5 * MS);
    h.next(RUNTIME).unwrap();
    let warm = h.one_release(RUNTIME).0;
    h.respond(warm, "ok").unwrap();
    h.next(RUNTIME).unwrap();
    let id = h.event("{}").unwrap();
    fail_attempt(&mut h, id);
    assert_eq!(h.lc.event_retry(id), None);
    // MaximumEventAgeInSeconds 60, with Lambda's one-minute delay: the retry would start
    // after the event is a minute old, so there is none.
    let mut h = Harness::new(Config {
        max_event_age: Micros::from_secs(60),
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    });
    let id = h.event("{}").unwrap();
    h.advance(5 * MS);
    h.next(RUNTIME).unwrap();
    fail_attempt(&mut h, id);
    assert_eq!(h.lc.event_retry(id), None);
    // A shorter delay (for tests) fits within that age.
    let mut h = Harness::new(Config {
        max_event_age: Micros::from_secs(60),
        retry_delay: Micros::from_millis(10),
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    });
    let id = h.event("{}").unwrap();
    h.advance(5 * MS);
    h.next(RUNTIME).unwrap();
    fail_attempt(&mut h, id);
    assert_eq!(
        h.lc.event_retry(id),
        Some((1, h.now + Micros::from_millis(10)))
    );
}

#[test]
fn events_wait_apart_from_the_synchronous_queue_and_have_their_own_bound() {
    let mut h = Harness::new(Config {
        max_queue: 1,
        max_event_queue: 2,
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    });
    // One waiting for the init it started, one queued: the synchronous queue is full...
    h.invoke(101, "a").unwrap();
    h.invoke(102, "b").unwrap();
    assert_eq!(h.invoke(103, "c"), Err(Rejection::TooManyRequests));
    // ...but events are taken, up to their own bound.
    h.event("{}").unwrap();
    h.event("{}").unwrap();
    assert_eq!(h.event("{}"), Err(Rejection::EventQueueFull));
    // Queued events do not refuse a synchronous invocation either.
    assert_eq!(h.invoke(104, "d"), Err(Rejection::TooManyRequests));
    assert_eq!(h.lc.queued(), 4);
}

#[test]
fn a_shutdown_ends_the_retries() {
    let mut h = ready();
    h.next(RUNTIME).unwrap();
    let id = h.event("{}").unwrap();
    fail_attempt(&mut h, id);
    assert!(h.lc.event_retry(id).is_some());
    h.lc.shutdown(h.now);
    h.drain();
    // The pending retry is dropped: not queued after the shutdown began.
    assert_eq!(h.lc.event_retry(id), None);
    h.advance(120 * S);
    assert!(h.releases().is_empty(), "{:#?}", h.out);
}

#[test]
fn an_event_whose_init_fails_is_retried_too() {
    // Its first init fails, and the init's own retry: the attempt fails, and the event is
    // tried again a minute later, starting an init of its own.
    let mut h = down();
    let id = h.event("{}").unwrap();
    h.exit(ChildId(0), ExitStatus::Code(1));
    h.exit(ChildId(1), ExitStatus::Code(1));
    assert_eq!(h.one_reply(EVENT).request_id, id);
    assert_eq!(
        h.lc.event_retry(id),
        Some((1, h.now + Micros::from_secs(60)))
    );
    h.advance(60 * S);
    assert_eq!(
        h.spawns(),
        [(ChildId(2), InitType::OnDemand)],
        "{:#?}",
        h.out
    );
    h.next(RUNTIME).unwrap();
    let (released, _) = h.one_release(RUNTIME);
    assert_eq!(released, id);
}

#[test]
fn a_retry_waits_for_its_last_attempt_to_leave_its_environment() {
    // Two environments and no delay: the first attempt's error answers the invoker before
    // the runtime is back on /next, and the idle second environment could take the retry
    // at once. One request id must never be in two environments.
    let mut h = Harness::new(Config {
        concurrency: 2,
        retry_delay: Micros::ZERO,
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    });
    let warm = h.invoke(INVOKER, "{}").unwrap();
    h.lc.handle_runtime_next(h.now, E0, WaiterId(RUNTIME))
        .unwrap();
    h.drain();
    h.respond(warm, "ok").unwrap();
    let id = h.event("{}").unwrap();
    // Environment 1 starts for the event while environment 0 finishes the warm one.
    h.lc.handle_runtime_next(h.now, EnvId(1), WaiterId(RUNTIME + 1))
        .unwrap();
    h.drain();
    assert_eq!(h.one_release(RUNTIME + 1).0, id);
    h.lc.handle_runtime_next(h.now, E0, WaiterId(RUNTIME))
        .unwrap();
    h.drain();
    h.advance(MS);
    let error = FunctionError {
        error_type: "Boom".into(),
        body: b"{}".to_vec(),
        content_type: None,
    };
    h.lc.handle_runtime_result(h.now, EnvId(1), id, RuntimeResult::Error(error))
        .unwrap();
    h.drain();
    assert_eq!(h.one_reply(EVENT).request_id, id);
    assert_eq!(h.lc.event_retry(id), Some((1, h.now)));
    assert_ne!(
        h.lc.poll_timeout(),
        Some(h.now),
        "no timer due while the attempt runs"
    );
    h.advance(10 * MS);
    assert!(
        h.releases().is_empty(),
        "the retry went to environment 0 while environment 1 still runs it: {:#?}",
        h.out
    );
    // Environment 1's runtime is back: the attempt is over, and the retry goes.
    h.lc.handle_runtime_next(h.now, EnvId(1), WaiterId(RUNTIME + 1))
        .unwrap();
    h.drain();
    let released: Vec<RequestId> = h.releases().iter().map(|r| r.1).collect();
    assert_eq!(released, [id]);
}

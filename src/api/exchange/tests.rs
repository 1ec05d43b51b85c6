//! The exchange without sockets: raw requests in, outcomes and the core's actions out, on a
//! virtual clock. The core runs an external runtime, so nothing is spawned.

use super::*;
use crate::api::test_support::ctx;
use crate::http::{Event, RequestDecoder};
use crate::lifecycle::{Action, Config, Failure, InvokeReply, Outcome as Answered, RuntimeMode};

/// The core, the hub and the context a request acts on, and the actions the core emitted.
struct Sim {
    core: Lifecycle,
    hub: Hub,
    ctx: Context,
    events: u64,
    now: Micros,
    actions: Vec<Action>,
}

/// What a request came to: refused from its head, or its outcome once complete.
#[derive(Debug)]
enum Step {
    Refused(Rendered<'static>),
    Done(Outcome),
}

impl Step {
    fn refused(self) -> Rendered<'static> {
        match self {
            Step::Refused(r) => r,
            Step::Done(o) => panic!("not refused from the head: {o:?}"),
        }
    }

    fn outcome(self) -> Outcome {
        match self {
            Step::Done(o) => o,
            Step::Refused(r) => panic!("refused from the head: {}", r.status),
        }
    }
}

impl Sim {
    fn new() -> Sim {
        let config = Config {
            runtime: RuntimeMode::External,
            seed: 7,
            ..Config::default()
        };
        let mut sim = Sim {
            core: Lifecycle::new(config, Micros::ZERO),
            hub: Hub::new(),
            ctx: ctx(),
            events: 0,
            now: Micros::ZERO,
            actions: Vec::new(),
        };
        sim.drain();
        sim
    }

    fn exchange(&mut self) -> Exchange<'_> {
        Exchange {
            now: self.now,
            core: &mut self.core,
            env: EnvId(0),
            hub: &mut self.hub,
            ctx: &self.ctx,
            events: &mut self.events,
        }
    }

    fn drain(&mut self) {
        self.actions.clear();
        while let Some(action) = self.core.poll_action() {
            self.actions.push(action);
        }
    }

    /// One whole request on `listener` from `waiter`, then the core's actions drained.
    fn request(&mut self, listener: Listener, waiter: Waiter, raw: &str) -> Step {
        let mut decoder = RequestDecoder::new();
        decoder.feed(raw.as_bytes());
        assert_eq!(decoder.next_event(), Ok(Some(Event::Head)));
        let begin = self.exchange().begin(listener, &decoder.head());
        let step = match begin {
            Begin::Refused(answer) => Step::Refused(*answer),
            Begin::Read {
                route,
                limit,
                stream,
            } => {
                decoder.read_body(limit).expect("within the limit");
                assert_eq!(decoder.next_event(), Ok(Some(Event::Complete)));
                let mut x = self.exchange();
                Step::Done(x.complete(listener, waiter, route, stream, &mut decoder))
            }
        };
        self.drain();
        step
    }

    fn invoke(&mut self, invoker: u64, headers: &str, payload: &str) -> Step {
        let raw = format!(
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\n{headers}\
             Content-Length: {}\r\n\r\n{payload}",
            payload.len()
        );
        self.request(Listener::Invoke, Waiter::Conn(invoker), &raw)
    }

    fn next(&mut self, waiter: u64) -> Step {
        let raw = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n";
        self.request(Listener::Runtime, Waiter::Conn(waiter), raw)
    }

    fn respond(&mut self, waiter: u64, id: &str, headers: &str, body: &str) -> Step {
        let raw = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n{headers}\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.request(Listener::Runtime, Waiter::Conn(waiter), &raw)
    }

    /// The id of the invocation released to the runtime by the last step.
    fn released(&self) -> RequestId {
        self.actions
            .iter()
            .find_map(|a| match a {
                Action::Release { request_id, .. } => Some(*request_id),
                _ => None,
            })
            .expect("an invocation released")
    }

    fn reply_to(&self, invoker: Waiter) -> Option<&InvokeReply> {
        self.actions.iter().find_map(|a| match a {
            Action::Reply { invoker: w, reply } if *w == invoker.id() => Some(reply),
            _ => None,
        })
    }

    /// An invocation from waiter 1, released to the runtime parked as waiter 2.
    fn running() -> (Sim, RequestId) {
        let mut sim = Sim::new();
        assert!(matches!(sim.next(2).outcome(), Outcome::Park(Wait::Next)));
        assert!(matches!(
            sim.invoke(1, "", "{}").outcome(),
            Outcome::Park(Wait::Invoke)
        ));
        let id = sim.released();
        (sim, id)
    }
}

fn status(answer: &Answer, ctx: &Context) -> u16 {
    answer.render(ctx).status
}

fn error_type(rendered: &Rendered<'_>) -> String {
    let body: serde_json::Value = serde_json::from_slice(&rendered.body).unwrap();
    body["errorType"].as_str().unwrap_or_default().to_string()
}

#[test]
fn waiters_round_trip_through_the_cores_ids() {
    for waiter in [
        Waiter::Conn(0),
        Waiter::Conn(NUMBER),
        Waiter::Ticket(5),
        Waiter::Event(1),
        Waiter::Event(NUMBER),
    ] {
        assert_eq!(Waiter::of(waiter.id()), waiter);
    }
    assert_ne!(Waiter::Conn(5).id(), Waiter::Ticket(5).id());
    assert_ne!(Waiter::Ticket(5).id(), Waiter::Event(5).id());
}

#[test]
fn an_invocation_parks_its_invoker_and_the_response_answers_it_before_the_runtime() {
    let (mut sim, id) = Sim::running();
    let outcome = sim
        .respond(2, &id.to_string(), "", r#"{"ok":true}"#)
        .outcome();
    let Outcome::AnswerAfterActions { answer, piece } = outcome else {
        panic!("a runtime's post is answered after the core's actions");
    };
    assert!(piece.is_none());
    assert_eq!(status(&answer, &sim.ctx), 202);
    let reply = sim.reply_to(Waiter::Conn(1)).expect("the invoker answered");
    assert_eq!(reply.request_id, id);
    assert!(matches!(&reply.outcome, Answered::Response { body, .. } if body == br#"{"ok":true}"#));
}

#[test]
fn a_response_for_another_id_is_refused_from_its_head() {
    let (mut sim, _) = Sim::running();
    let other = crate::id::Rng::from_seed(99).uuid_v4();
    let refused = sim.respond(2, &other.to_string(), "", "{}").refused();
    assert_eq!(
        (refused.status, error_type(&refused)),
        (400, "InvalidRequestID".into())
    );
    assert!(
        sim.reply_to(Waiter::Conn(1)).is_none(),
        "the invocation goes on"
    );
    // Not a UUID at all: the router refuses it the same way.
    let refused = sim.respond(2, "not-an-id", "", "{}").refused();
    assert_eq!(refused.status, 400);
}

#[test]
fn a_second_result_is_an_invalid_state_transition() {
    let (mut sim, id) = Sim::running();
    sim.respond(2, &id.to_string(), "", "{}").outcome();
    let refused = sim.respond(2, &id.to_string(), "", "{}").refused();
    assert_eq!(
        (refused.status, error_type(&refused)),
        (403, "InvalidStateTransition".into())
    );
}

#[test]
fn an_unknown_response_mode_fails_the_invocation_with_the_runtimes_400() {
    let (mut sim, id) = Sim::running();
    let mode = "Lambda-Runtime-Function-Response-Mode: sideways\r\n";
    let refused = sim.respond(2, &id.to_string(), mode, "{}").refused();
    assert_eq!(
        (refused.status, error_type(&refused)),
        (400, "InvalidFunctionResponseMode".into())
    );
    let reply = sim.reply_to(Waiter::Conn(1)).expect("the invoker answered");
    assert!(matches!(
        reply.outcome,
        Answered::Failure(Failure::InvalidResponseMode)
    ));
}

#[test]
fn a_body_cut_short_ends_the_invocation_as_rapid_does() {
    for (cut, failure) in [
        (
            Cut::TooLarge {
                limit: MAX_RESPONSE_BYTES,
            },
            Failure::ResponseTooLarge,
        ),
        (Cut::Truncated, Failure::TruncatedResponse),
    ] {
        let (mut sim, id) = Sim::running();
        sim.exchange()
            .cut_short(Some(Route::Response(id)), None, cut);
        sim.drain();
        let reply = sim.reply_to(Waiter::Conn(1)).expect("the invoker answered");
        assert_eq!(reply.outcome, Answered::Failure(failure), "{cut:?}");
    }
    // Any other request cut short tells the core nothing.
    let (mut sim, _) = Sim::running();
    sim.exchange()
        .cut_short(Some(Route::Next), None, Cut::Truncated);
    sim.drain();
    assert!(sim.actions.is_empty());
}

#[test]
fn an_event_invocation_is_accepted_at_once_and_nobody_waits() {
    let mut sim = Sim::new();
    let event = "X-Amz-Invocation-Type: Event\r\n";
    let Outcome::Answer(first) = sim.invoke(1, event, "{}").outcome() else {
        panic!("answered at once");
    };
    let Outcome::Answer(second) = sim.invoke(1, event, "{}").outcome() else {
        panic!("answered at once");
    };
    let rendered = first.render(&sim.ctx);
    assert_eq!(rendered.status, 202);
    let first_id = rendered
        .get("X-Amzn-RequestId")
        .expect("its request id")
        .to_vec();
    assert_ne!(
        Some(&first_id[..]),
        second.render(&sim.ctx).get("X-Amzn-RequestId")
    );
    assert_eq!(
        sim.events, 2,
        "each Event invocation has a waiter of its own"
    );
    assert_eq!(sim.core.queued(), 2);
    // The embedded path is the same one.
    let request = InvokeRequest::default();
    let Invoked::Answered(Some(_), answer) = sim.exchange().invoke_event(request) else {
        panic!("an embedded Event invocation is accepted the same way");
    };
    assert!(matches!(answer, Answer::Accepted(_)));
    assert_eq!((sim.events, sim.core.queued()), (3, 3));
}

#[test]
fn a_dry_run_is_204_and_runs_nothing() {
    let mut sim = Sim::new();
    let Outcome::Answer(answer) = sim
        .invoke(1, "X-Amz-Invocation-Type: DryRun\r\n", "{}")
        .outcome()
    else {
        panic!("answered at once");
    };
    assert_eq!(status(&answer, &sim.ctx), 204);
    assert_eq!(sim.core.queued(), 0);
}

#[test]
fn a_full_queue_refuses_an_invoker_with_the_invoke_apis_429() {
    let mut sim = Sim::new();
    sim.core = Lifecycle::new(
        Config {
            runtime: RuntimeMode::External,
            max_queue: 0,
            ..Config::default()
        },
        Micros::ZERO,
    );
    sim.next(2).outcome();
    sim.invoke(1, "", "{}").outcome();
    let Outcome::Answer(answer) = sim.invoke(3, "", "{}").outcome() else {
        panic!("refused at once");
    };
    let rendered = answer.render(&sim.ctx);
    assert_eq!(rendered.status, 429);
    assert_eq!(
        rendered.get("x-amzn-ErrorType"),
        Some(&b"TooManyRequestsException"[..])
    );
}

#[test]
fn a_streamed_response_is_forwarded_as_it_comes_and_its_error_lines_are_held_back() {
    let (mut sim, id) = Sim::running();
    let mut decoder = RequestDecoder::new();
    decoder.feed(
        format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n\
             Lambda-Runtime-Function-Response-Mode: streaming\r\n\
             Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(decoder.next_event(), Ok(Some(Event::Head)));
    let Begin::Read {
        limit,
        stream: Some(mut stream),
        ..
    } = sim.exchange().begin(Listener::Runtime, &decoder.head())
    else {
        panic!("a stream is read");
    };
    assert_eq!(limit, sim.ctx.max_stream_bytes);
    // A buffered invoker keeps to the buffered limit.
    assert_eq!(stream.over_limit(MAX_RESPONSE_BYTES as usize), None);
    assert_eq!(
        stream.over_limit(MAX_RESPONSE_BYTES as usize + 1),
        Some(MAX_RESPONSE_BYTES)
    );
    stream.resolve(Some(Waiter::Conn(1).id()));
    assert_eq!(
        stream.over_limit(usize::MAX),
        None,
        "a streaming invoker has no such limit"
    );
    // What may begin the in-body error lines waits for the next bytes.
    assert_eq!(stream.forward(b"hello Lambda-Runtime".to_vec()), b"hello ");
    assert_eq!(stream.forward(b" world".to_vec()), b"Lambda-Runtime world");
    assert_eq!(stream.forwarded, 26);
    // The end: in-body error lines, as the Rust runtime writes them.
    let body = b"partial\r\nLambda-Runtime-Function-Error-Type: Runtime.Boom\r\n\
                 Lambda-Runtime-Function-Error-Body: eyJlcnJvclR5cGUiOiJCb29tIn0=\r\n"
        .to_vec();
    let (result, piece) = stream.finish(body, Some("text/plain".into()), &|_: &str| None);
    let piece = piece.expect("the payload before the error still reaches the invoker");
    assert_eq!(piece.bytes, b"partial\r\n");
    assert_eq!(piece.content_type.as_deref(), Some("text/plain"));
    let RuntimeResult::Streamed {
        forwarded,
        end: StreamEnd::Error(error),
    } = result
    else {
        panic!("the stream ends in its error: {result:?}");
    };
    assert_eq!(forwarded, 26 + 9);
    assert_eq!(error.error_type, "Runtime.Boom");
    assert_eq!(error.body, br#"{"errorType":"Boom"}"#);
}

#[test]
fn an_extension_registers_and_subscribes_through_the_hub() {
    let mut sim = Sim::new();
    let events = r#"{"events":["INVOKE"]}"#;
    let raw = format!(
        "POST /2020-01-01/extension/register HTTP/1.1\r\nLambda-Extension-Name: logger\r\n\
         Content-Length: {}\r\n\r\n{events}",
        events.len()
    );
    let Outcome::Answer(answer) = sim
        .request(Listener::Runtime, Waiter::Conn(3), &raw)
        .outcome()
    else {
        panic!("answered at once");
    };
    let Answer::Registered { id, .. } = &answer else {
        panic!("registered: {answer:?}");
    };
    let rendered = answer.render(&sim.ctx);
    assert_eq!(rendered.status, 200);
    assert_eq!(
        rendered.get("Lambda-Extension-Identifier"),
        Some(id.as_bytes())
    );
    assert!(sim.hub.is_empty());
    let subscription = r#"{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243"}}"#;
    let raw = format!(
        "PUT /2022-07-01/telemetry HTTP/1.1\r\nLambda-Extension-Identifier: {id}\r\n\
         Content-Length: {}\r\n\r\n{subscription}",
        subscription.len()
    );
    let Outcome::Answer(answer) = sim
        .request(Listener::Runtime, Waiter::Conn(3), &raw)
        .outcome()
    else {
        panic!("answered at once");
    };
    assert_eq!(status(&answer, &sim.ctx), 200);
    assert!(!sim.hub.is_empty(), "the subscriber is in the hub");
    // The same request again is taken and adds no second subscriber.
    let again = sim
        .request(Listener::Runtime, Waiter::Conn(3), &raw)
        .outcome();
    assert!(matches!(&again, Outcome::Answer(a) if status(a, &sim.ctx) == 200));
    assert_eq!(sim.hub.len(), 1);
}

#[test]
fn the_same_requests_come_to_the_same_outcomes() {
    let run = || {
        let (mut sim, id) = Sim::running();
        let outcome = sim.respond(2, &id.to_string(), "", "done").outcome();
        let Outcome::AnswerAfterActions { answer, .. } = outcome else {
            panic!("a post");
        };
        let rendered = answer.render(&sim.ctx);
        (
            id,
            rendered.status,
            rendered.body.to_vec(),
            sim.actions.len(),
        )
    };
    assert_eq!(run(), run());
}

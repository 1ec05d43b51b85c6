//! The body of the `router` fuzz target, compiled with the library so that it keeps building
//! (str0m keeps its fuzz bodies the same way): one request, from arbitrary bytes, through
//! [`Exchange`] on both listeners, against a core in one of a few states.

use super::*;
use crate::http::client::ResponseReader;
use crate::http::{Event, Method};
use crate::lifecycle::{Config, MAX_REQUEST_BYTES, RuntimeMode};

/// In the request, these bytes stand for the request id of the invocation in flight, so that
/// the fuzzer reaches a runtime's posts for the right invocation.
const ID_MARK: &[u8] = b"@ID@";

/// Runs `data` as a request on both listeners and checks, for every input: the exchange never
/// panics; it is deterministic; each route is reachable only from its own listener and with its
/// own method; a request id in a route is the one in the path; every answer is a well-formed
/// HTTP response (parsed back by the response reader to the same status), and every refusal
/// has a JSON object for its body; a request is parked only on a route that waits.
///
/// A first byte under 16 picks the core's state and is not part of the request, so that the
/// seeds (requests recorded from real clients) are requests as they are; otherwise the state
/// follows from the input's length.
pub fn fuzz_router(data: &[u8]) {
    let (scenario, request) = match data.split_first() {
        Some((&first, rest)) if first < 16 => (first, rest),
        _ => ((data.len() % 6) as u8, data),
    };
    let first = run(scenario, request);
    assert_eq!(
        first,
        run(scenario, request),
        "the same request, the same answers"
    );
}

/// The core's state the request meets.
fn scenario(which: u8) -> (Lifecycle, Option<RequestId>) {
    let config = Config {
        runtime: RuntimeMode::External,
        max_queue: usize::from(which % 3),
        seed: 1,
        ..Config::default()
    };
    let mut core = Lifecycle::new(config, Micros::ZERO);
    let mut id = None;
    if which % 2 == 1 {
        // A runtime parked, and an invocation released to it.
        let _ = core.handle_runtime_next(Micros(1), EnvId(0), Waiter::Conn(1).id());
        id = core
            .invoke(Micros(2), Waiter::Conn(2).id(), InvokeRequest::default())
            .ok();
    }
    while core.poll_action().is_some() {}
    (core, id)
}

/// What each listener answered, as bytes, for the determinism check.
fn run(which: u8, raw: &[u8]) -> Vec<Vec<u8>> {
    let mut answers = Vec::new();
    for listener in [Listener::Runtime, Listener::Invoke] {
        let (mut core, id) = scenario(which);
        let raw = match id {
            Some(id) => replace(raw, ID_MARK, id.as_bytes()),
            None => raw.to_vec(),
        };
        let mut hub = Hub::new();
        let ctx = Context::new("function", "$LATEST", "us-east-1", "012345678912", 128, 0);
        let mut events = 0;
        let mut exchange = Exchange {
            now: Micros(3),
            core: &mut core,
            env: EnvId(0),
            hub: &mut hub,
            ctx: &ctx,
            events: &mut events,
        };
        answers.push(one(&mut exchange, listener, &raw));
        while core.poll_action().is_some() {}
    }
    answers
}

/// One request on `listener`: its answer's bytes, or nothing if it never came whole.
fn one(exchange: &mut Exchange<'_>, listener: Listener, raw: &[u8]) -> Vec<u8> {
    let mut decoder = RequestDecoder::new();
    decoder.feed(raw);
    let Ok(Some(Event::Head)) = decoder.next_event() else {
        return Vec::new();
    };
    let head = decoder.head();
    check_route(
        listener,
        &head,
        &super::super::route(listener, &head, exchange.ctx),
    );
    let (route, limit, stream) = match exchange.begin(listener, &head) {
        Begin::Refused(answer) => {
            assert!((400..500).contains(&answer.status), "{}", answer.status);
            return wire(&answer);
        }
        Begin::Read {
            route,
            limit,
            stream,
        } => (route, limit, stream),
    };
    assert!(
        limit
            <= MAX_RESPONSE_BYTES
                .max(MAX_REQUEST_BYTES)
                .max(exchange.ctx.max_stream_bytes)
    );
    if let Err(e) = decoder.read_body(limit) {
        exchange.cut_short(Some(route), stream, Cut::TooLarge { limit });
        return wire(&super::super::parse_error(listener, e));
    }
    match decoder.next_event() {
        Ok(Some(Event::Complete)) => {}
        Ok(_) => {
            // The body never came whole: its peer went away.
            exchange.cut_short(Some(route), stream, Cut::Truncated);
            return Vec::new();
        }
        Err(e) => return wire(&super::super::parse_error(listener, e)),
    }
    let waits = match &route {
        Route::Next => Some(Wait::Next),
        Route::ExtensionNext => Some(Wait::Event),
        Route::Invoke { stream: true, .. } => Some(Wait::InvokeStream),
        Route::Invoke { stream: false, .. } => Some(Wait::Invoke),
        _ => None,
    };
    let posts = route.is_runtime_post() || matches!(route, Route::ExtensionError(_));
    let ctx = exchange.ctx;
    match exchange.complete(listener, Waiter::Conn(9), route, stream, &mut decoder) {
        Outcome::Answer(answer) => wire(&answer.render(ctx)),
        Outcome::Park(wait) => {
            assert_eq!(Some(wait), waits, "parked on a route that does not wait");
            format!("parked {wait:?}").into_bytes()
        }
        Outcome::AnswerAfterActions { answer, piece } => {
            assert!(posts, "only a post is answered after the core's actions");
            assert!(piece.is_none() || waits.is_none());
            wire(&answer.render(ctx))
        }
    }
}

/// Each route only from its own listener and with its own method; a request id in a route is
/// the one in the path.
fn check_route(listener: Listener, head: &Head<'_>, route: &Route) {
    let wanted = match route {
        Route::Refuse(_) => return,
        Route::Ping | Route::Next | Route::ExtensionNext => Method::Get,
        Route::Subscribe(_) => Method::Put,
        _ => Method::Post,
    };
    assert_eq!(
        head.method(),
        wanted,
        "{route:?} reached with {:?}",
        head.method()
    );
    match listener {
        Listener::Invoke => assert!(
            matches!(route, Route::Ping | Route::Invoke { .. }),
            "{route:?} on the invoke listener"
        ),
        Listener::Runtime => assert!(
            !matches!(route, Route::Invoke { .. }),
            "an invocation from a runtime"
        ),
    }
    if let Route::Response(id) | Route::Error(id) = route {
        let path = head.path().to_ascii_lowercase();
        let id = id.to_string().to_ascii_lowercase();
        assert!(path.contains(&id), "{id} not in {path}");
    }
}

/// An answer as it goes on the wire, checked: it parses back to its status, and a refusal's
/// body is a JSON object.
fn wire(answer: &Rendered<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    answer.write(&mut out, false);
    let mut reader = ResponseReader::default();
    let parsed = reader
        .feed(&out)
        .map(|(answer, used)| (answer, used == out.len()));
    assert!(
        matches!(parsed, Ok((Some(a), true)) if a.status == answer.status),
        "{} does not parse back: {parsed:?}",
        answer.status
    );
    if answer.status >= 400 {
        let body: Result<serde_json::Value, _> = serde_json::from_slice(&answer.body);
        assert!(
            body.is_ok_and(|b| b.is_object()),
            "{}: not a JSON object",
            answer.status
        );
    }
    out
}

fn replace(haystack: &[u8], mark: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(mark.len()).position(|w| w == mark) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + mark.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds the fuzz target starts from, and a few hand-written requests, pass here too.
    #[test]
    fn the_fuzz_body_passes_on_the_seeds_and_on_requests_of_every_route() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/router");
        let mut seeds = 0;
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if let Ok(bytes) = std::fs::read(entry.path()) {
                fuzz_router(&bytes);
                seeds += 1;
            }
        }
        assert!(seeds > 0, "no seeds in {dir}");
        let requests = [
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n",
            "POST /2018-06-01/runtime/invocation/@ID@/response HTTP/1.1\r\nContent-Length: 2\r\n\r\nok",
            "POST /2018-06-01/runtime/invocation/@ID@/error HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
            "POST /2018-06-01/runtime/invocation/@ID@/response HTTP/1.1\r\nLambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            "POST /2018-06-01/runtime/invocation/@ID@/response HTTP/1.1\r\nLambda-Runtime-Function-Response-Mode: x\r\nContent-Length: 0\r\n\r\n",
            "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nX-Amz-Invocation-Type: Event\r\nContent-Length: 2\r\n\r\n{}",
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nX-Amz-Invocation-Type: DryRun\r\nContent-Length: 2\r\n\r\n{}",
            "POST /2021-11-15/functions/function/response-streaming-invocations HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
            "POST /2020-01-01/extension/register HTTP/1.1\r\nLambda-Extension-Name: x\r\nContent-Length: 0\r\n\r\n",
            "GET /2020-01-01/extension/event/next HTTP/1.1\r\nLambda-Extension-Identifier: nope\r\n\r\n",
            "PUT /2022-07-01/telemetry HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
            "DELETE /ping HTTP/1.1\r\n\r\n",
            "GET /ping HTTP/1.1\r\n\r\n",
            "POST /2018-06-01/runtime/invocation/@ID@/response HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
        ];
        for request in requests {
            for scenario in 0..6 {
                let mut data = vec![scenario];
                data.extend_from_slice(request.as_bytes());
                fuzz_router(&data);
            }
        }
    }
}

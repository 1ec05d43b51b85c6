//! One request from arbitrary bytes through the exchange (route, checks on the head, limits,
//! the core's event, the answer) on both listeners, against a core in one of a few states: it
//! never panics, it is deterministic, each route is reachable only from its own listener and with
//! its own method, a request id in a route is the one in the path, every answer is a well-formed
//! HTTP response and every refusal a JSON object, and a request is parked only on a route that
//! waits. The body lives in the library (`lambda_sim::internals::api::fuzz_router`), where a unit
//! test runs it on this target's seeds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lambda_sim::internals::api::fuzz_router(data);
});

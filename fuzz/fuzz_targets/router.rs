//! The router on every head the decoder accepts, on both listeners: it never panics, each
//! route is reachable only from its own listener and with its own method, a request id in a
//! route is the one in the path, and every refusal renders as a 4xx with a JSON body.
#![no_main]

use lambda_sim::api::{self, Context, Listener, Route};
use lambda_sim::http::{Event, Method, RequestDecoder};
use lambda_sim::lifecycle::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = Context::new("function", "$LATEST", "us-east-1", "012345678912", 128, 0);
    let mut dec = RequestDecoder::new();
    dec.feed(data);
    let Ok(Some(Event::Head)) = dec.next_event() else {
        return;
    };
    let head = dec.head();
    for listener in [Listener::Runtime, Listener::Invoke] {
        let route = api::route(listener, &head, &ctx);
        assert_eq!(route, api::route(listener, &head, &ctx), "deterministic");
        assert!(route.body_limit() <= MAX_RESPONSE_BYTES.max(MAX_REQUEST_BYTES));
        let method = head.method();
        let wanted = match &route {
            Route::Refuse(refusal) => {
                let answer = api::refusal(listener, refusal, &head);
                assert!(
                    (400..500).contains(&answer.status),
                    "{route:?}: {}",
                    answer.status
                );
                let body: Result<serde_json::Value, _> = serde_json::from_slice(&answer.body);
                assert!(
                    body.is_ok_and(|b| b.is_object()),
                    "{route:?}: not a JSON object"
                );
                continue;
            }
            Route::Ping | Route::Next | Route::ExtensionNext => Method::Get,
            Route::Subscribe(_) => Method::Put,
            _ => Method::Post,
        };
        assert_eq!(method, wanted, "{route:?} reached with {method:?}");
        let runtime_only = !matches!(route, Route::Ping | Route::Invoke { .. });
        match listener {
            Listener::Invoke => assert!(!runtime_only, "{route:?} on the invoke listener"),
            Listener::Runtime => {
                assert!(
                    !matches!(route, Route::Invoke { .. }),
                    "an invocation from a runtime"
                )
            }
        }
        if let Route::Response(id) | Route::Error(id) = &route {
            let path = head.path().to_ascii_lowercase();
            assert!(
                path.contains(&id.to_string().to_ascii_lowercase()),
                "{id} not in {path}"
            );
        }
    }
});

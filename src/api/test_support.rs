//! Helpers for the API's unit tests: a function context and a decoded request.

use super::Context;
use crate::http::{Event, Head, RequestDecoder};

/// The function every API test renders for.
pub(crate) fn ctx() -> Context {
    Context::new(
        "my-fn",
        "$LATEST",
        "eu-west-1",
        "123456789012",
        256,
        1_700_000_000_000_000,
    )
}

/// Decodes one request and hands its head and body to `f`.
pub(crate) fn with_request<T>(raw: &str, f: impl FnOnce(&Head<'_>, Vec<u8>) -> T) -> T {
    let mut dec = RequestDecoder::new();
    dec.feed(raw.as_bytes());
    assert_eq!(dec.next_event(), Ok(Some(Event::Head)));
    dec.read_body(1 << 20).unwrap();
    assert_eq!(dec.next_event(), Ok(Some(Event::Complete)));
    let body = dec.take_body();
    f(&dec.head(), body)
}

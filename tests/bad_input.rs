//! Malformed and hostile HTTP, as a table: each request gets AWS's error or a clear 4xx/5xx
//! with a JSON body in its listener's dialect (the Runtime API's `errorType`, the Invoke API's
//! `x-amzn-ErrorType`), and none of it disturbs the other connections: an invocation in flight
//! meanwhile and a keep-alive invoker are answered as if nothing happened. Slow heads are in
//! tests/timeouts.rs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use common::*;
use lambda_sim::Simulator;

/// Which listener a case goes to.
#[derive(Clone, Copy, Debug)]
enum To {
    Runtime,
    Invoke,
}

/// One exchange: the status, the error type (the Runtime API's `errorType` in the body, the
/// Invoke API's `x-amzn-ErrorType` header), the body, and the head.
fn exchange(addr: SocketAddr, raw: &[u8]) -> (u16, String, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // A peer that stops reading a huge head may see its write cut short; the answer counts.
    let _ = s.write_all(raw);
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let (head, body_at) = loop {
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break (String::from_utf8_lossy(&got[..at]).into_owned(), at + 4);
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => panic!(
                "no answer to {:?}",
                String::from_utf8_lossy(&raw[..raw.len().min(120)])
            ),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    };
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(": ")
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            })
            .map(|(_, v)| v.trim().to_string())
    };
    let length: usize = header("Content-Length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while got.len() < body_at + length {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = String::from_utf8_lossy(&got[body_at..]).into_owned();
    let error_type = match header("x-amzn-ErrorType") {
        Some(t) => t,
        None => serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["errorType"].as_str().map(str::to_string))
            .unwrap_or_default(),
    };
    (status, error_type, body, head)
}

const INVOKE_HEAD: &str = "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\n";

fn invoke(extra: &str, body: &str) -> Vec<u8> {
    format!("{INVOKE_HEAD}{extra}\r\n{body}").into_bytes()
}

#[test]
fn malformed_and_hostile_requests_get_clear_errors_and_disturb_no_one() {
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .start()
        .unwrap();
    // A keep-alive invoker, before and after it all.
    let mut keeper = Client::connect(sim.invoke_addr());
    assert_eq!(keeper.request("POST", INVOKE, &[], b"{}").status, 200);
    // An invocation in flight all along: the runtime sleeps a second on it.
    let in_flight = {
        let addr = sim.invoke_addr();
        thread::spawn(move || {
            Client::connect(addr).request("POST", INVOKE, &[], br#"{"action":"sleep","seconds":1}"#)
        })
    };

    let mut big_head = INVOKE_HEAD.as_bytes().to_vec();
    big_head.extend_from_slice(b"X-Big: ");
    big_head.resize(big_head.len() + 1100 * 1024, b'a');
    big_head.extend_from_slice(b"\r\n\r\n");
    let mut many = b"GET /2018-06-01/ping HTTP/1.1\r\n".to_vec();
    for i in 0..150 {
        many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let chunked = "Transfer-Encoding: chunked\r\n";
    let cases: Vec<(&str, To, Vec<u8>, u16, &str)> = vec![
        // Request lines.
        ("garbage", To::Runtime, b"GARBAGE\r\n\r\n".to_vec(), 400, "InvalidRequestFormat"),
        ("no version", To::Runtime, b"GET /2018-06-01/ping\r\n\r\n".to_vec(), 400, "InvalidRequestFormat"),
        ("HTTP/0.9", To::Runtime, b"GET /\r\n".to_vec(), 400, "InvalidRequestFormat"),
        ("HTTP/2.0", To::Runtime, b"GET /ping HTTP/2.0\r\nHost: x\r\n\r\n".to_vec(), 505, "HTTPVersionNotSupported"),
        ("NUL in the path", To::Runtime, b"GET /2018-06-01/ping\0 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), 400, "InvalidRequestFormat"),
        ("invalid UTF-8 in an id", To::Runtime, b"POST /2018-06-01/runtime/invocation/\xff\xfe/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}".to_vec(), 400, "InvalidRequestFormat"),
        ("an id that is no UUID", To::Runtime, b"POST /2018-06-01/runtime/invocation/..%2f..%2fetc/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}".to_vec(), 400, "InvalidRequestID"),
        ("unknown method", To::Runtime, b"BREW /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), 405, "MethodNotAllowed"),
        ("unknown path (Runtime API)", To::Runtime, b"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), 404, "NotFound"),
        ("unknown path (invoke)", To::Invoke, b"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), 404, "UnknownOperationException"),
        ("a CRLF in the function name", To::Invoke, b"POST /2015-03-31/functions/function%0d%0aX-Evil:%201/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}".to_vec(), 404, "ResourceNotFoundException"),
        ("a CRLF in the qualifier", To::Invoke, b"POST /2015-03-31/functions/function/invocations?Qualifier=%0d%0aX-Evil:%201 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}".to_vec(), 404, "ResourceNotFoundException"),
        ("another function", To::Invoke, b"POST /2015-03-31/functions/other/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}".to_vec(), 404, "ResourceNotFoundException"),
        // Header fields.
        ("a bare CR smuggling a header", To::Invoke, invoke("X-A: a\rX-Amz-Invocation-Type: Event\r\nContent-Length: 2\r\n", "{}"), 400, "InvalidRequestContentException"),
        ("a field without a colon", To::Invoke, invoke("Host x\r\nContent-Length: 2\r\n", "{}"), 400, "InvalidRequestContentException"),
        ("a space before the colon", To::Invoke, invoke("Content-Length : 2\r\n", "{}"), 400, "InvalidRequestContentException"),
        ("an obsolete line folding", To::Invoke, invoke("X-A: a\r\n b\r\nContent-Length: 2\r\n", "{}"), 400, "InvalidRequestContentException"),
        ("invalid UTF-8 in a client context", To::Invoke, invoke("X-Amz-Client-Context: \u{fffd}\r\nContent-Length: 2\r\n", "{}"), 400, "InvalidRequestContentException"),
        ("an unknown invocation type", To::Invoke, invoke("X-Amz-Invocation-Type: Sometimes\r\nContent-Length: 2\r\n", "{}"), 400, "InvalidParameterValueException"),
        ("an unknown log type", To::Invoke, invoke("X-Amz-Log-Type: All\r\nContent-Length: 2\r\n", "{}"), 400, "InvalidParameterValueException"),
        ("a head over 1 MiB", To::Invoke, big_head, 431, "InvalidRequestContentException"),
        ("over 100 fields", To::Runtime, many, 431, "RequestHeaderFieldsTooLarge"),
        // Framing.
        ("two different lengths", To::Invoke, invoke("Content-Length: 2\r\nContent-Length: 3\r\n", "{}"), 400, "InvalidRequestContentException"),
        ("a length and chunked", To::Invoke, invoke(&format!("Content-Length: 2\r\n{chunked}"), "2\r\n{}\r\n0\r\n\r\n"), 400, "InvalidRequestContentException"),
        ("gzip", To::Invoke, invoke("Transfer-Encoding: gzip\r\n", ""), 501, "InvalidRequestContentException"),
        ("chunked twice", To::Invoke, invoke("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"), 400, "InvalidRequestContentException"),
        ("a negative length", To::Invoke, invoke("Content-Length: -1\r\n", ""), 400, "InvalidRequestContentException"),
        ("a length past u64", To::Invoke, invoke("Content-Length: 99999999999999999999999\r\n", ""), 400, "InvalidRequestContentException"),
        ("a length over 6 MB", To::Invoke, invoke("Content-Length: 7000000\r\n", ""), 413, "RequestEntityTooLargeException"),
        ("a chunk size past u64", To::Invoke, invoke(chunked, "ffffffffffffffffffff\r\n"), 400, "InvalidRequestContentException"),
        ("a chunk size not in hex", To::Invoke, invoke(chunked, "zz\r\n"), 400, "InvalidRequestContentException"),
        ("a chunk over 6 MB", To::Invoke, invoke(chunked, "7000000\r\n"), 413, "RequestEntityTooLargeException"),
        ("a chunk without its CRLF", To::Invoke, invoke(chunked, "2\r\n{}XX0\r\n\r\n"), 400, "InvalidRequestContentException"),
        ("a body that is not JSON", To::Invoke, invoke("Content-Length: 3\r\n", "{{{"), 400, "InvalidRequestContentException"),
        ("an oversized response for no invocation", To::Runtime, b"POST /2018-06-01/runtime/invocation/8f5e2d1c-0000-4000-8000-000000000000/response HTTP/1.1\r\nHost: x\r\nContent-Length: 7000000\r\n\r\n".to_vec(), 400, "InvalidRequestID"),
    ];
    for (what, to, raw, status, error_type) in &cases {
        let addr = match to {
            To::Runtime => sim.runtime_api_addr(),
            To::Invoke => sim.invoke_addr(),
        };
        let (got_status, got_type, body, head) = exchange(addr, raw);
        assert_eq!(
            (got_status, got_type.as_str()),
            (*status, *error_type),
            "{what}: {body}"
        );
        // Nothing a request says becomes a header of its answer.
        assert!(
            !head.to_ascii_lowercase().contains("x-evil"),
            "{what}: {head}"
        );
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{what}: the body is not JSON ({e}): {body}"));
        let message = match to {
            To::Runtime => &json["errorMessage"],
            To::Invoke => &json["message"],
        };
        assert!(
            message.as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }

    // Lenient where HTTP allows it: an identical repeated length, absolute-form targets and
    // bare-LF line ends are read as the requests they are.
    for (what, raw) in [
        ("one length twice", invoke("Content-Length: 2\r\nContent-Length: 2\r\n", "{}")),
        ("an absolute-form target", b"POST http://x/2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}".to_vec()),
        ("bare LF line ends", b"POST /2015-03-31/functions/function/invocations HTTP/1.1\nHost: x\nContent-Length: 2\n\n{}".to_vec()),
    ] {
        let (status, _, body, _) = exchange(sim.invoke_addr(), &raw);
        assert_eq!((status, body.as_str()), (200, "{}"), "{what}");
    }

    // Nobody else noticed.
    let r = in_flight.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("X-Amz-Function-Error"), None, "{}", r.text());
    let r = keeper.request("POST", INVOKE, &[], br#"{"after":true}"#);
    assert_eq!((r.status, r.text()), (200, r#"{"after":true}"#.to_string()));
}

//! The official `lambda_runtime` crate's streaming handler (`lambda_runtime::streaming::Response`)
//! under lambda-sim: its chunked `/response`, its HTTP-integration prelude and its mid-stream
//! error (written into the body, not as trailers) reach an `InvokeWithResponseStream` invoker
//! as AWS's event stream.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use lambda_sim::internals::api::eventstream;

const FUNCTION: &str = env!("CARGO_BIN_EXE_stream-fn");

/// Invokes through `InvokeWithResponseStream`: the answer's head lines, and its events as
/// (`:event-type`, payload), CRCs checked.
fn stream_invoke(addr: std::net::SocketAddr, body: &str) -> (String, Vec<(String, Vec<u8>)>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /2021-11-15/functions/function/response-streaming-invocations HTTP/1.1\r\n\
         Host: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    // Undo the HTTP chunking, then read the events.
    let mut rest = &raw[split..];
    let mut stream = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size");
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16)
            .expect("hex");
        rest = &rest[line_end + 2..];
        if size == 0 {
            break;
        }
        stream.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
    let mut events = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let message = eventstream::decode(&stream[at..]).expect("a valid event");
        at += message.len;
        let kind = message.header(":event-type").unwrap().to_string();
        events.push((kind, message.payload));
    }
    (head, events)
}

/// The HTTP-integration prelude the crate writes first: JSON, then 8 NUL bytes.
fn split_prelude(bytes: &[u8]) -> (serde_json::Value, &[u8]) {
    let at = bytes
        .windows(8)
        .position(|w| w == [0u8; 8])
        .expect("the 8 NUL bytes after the prelude");
    let prelude = serde_json::from_slice(&bytes[..at]).expect("a JSON prelude");
    (prelude, &bytes[at + 8..])
}

#[test]
fn the_crates_stream_arrives_as_payload_chunks_then_invoke_complete() {
    let dir = std::env::temp_dir();
    let sim = common::start(&dir, &["--", FUNCTION]);
    let (head, events) = stream_invoke(sim.invoke, r#"{"pieces":["Hello"," ","world"]}"#);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("Content-Type: application/vnd.awslambda.http-integration-response"),
        "{head}"
    );
    let (last, chunks) = events.split_last().unwrap();
    assert_eq!(last.0, "InvokeComplete");
    assert_eq!(last.1, b"{}");
    assert!(chunks.iter().all(|(kind, _)| kind == "PayloadChunk"));
    let payload: Vec<u8> = chunks.iter().flat_map(|(_, p)| p.clone()).collect();
    let (prelude, data) = split_prelude(&payload);
    assert_eq!(prelude["statusCode"], 200);
    assert_eq!(
        prelude["headers"]["content-type"],
        "application/octet-stream"
    );
    assert_eq!(data, b"Hello world");
    // How the pieces are cut depends on when the crate's client writes them; that each goes
    // on as it comes is pinned with a runtime that waits for a cue (tests/streaming.rs).
}

#[test]
fn the_crates_stream_error_ends_the_stream_with_runtime_stream_error() {
    let dir = std::env::temp_dir();
    let sim = common::start(&dir, &["--", FUNCTION]);
    let (_, events) = stream_invoke(sim.invoke, r#"{"pieces":["partial"],"fail":true}"#);
    let (last, chunks) = events.split_last().unwrap();
    assert_eq!(last.0, "InvokeComplete");
    let complete: serde_json::Value = serde_json::from_slice(&last.1).unwrap();
    assert_eq!(complete["ErrorCode"], "Runtime.StreamError");
    assert!(
        complete["ErrorDetails"]
            .as_str()
            .unwrap()
            .contains("the stream broke"),
        "{complete}"
    );
    // The crate writes the error as lines of the body: none of them reaches the invoker.
    let payload: Vec<u8> = chunks.iter().flat_map(|(_, p)| p.clone()).collect();
    let (_, data) = split_prelude(&payload);
    assert_eq!(data, b"partial");
}

#[test]
fn a_buffered_invoker_gets_the_crates_whole_stream() {
    let dir = std::env::temp_dir();
    let sim = common::start(&dir, &["--", FUNCTION]);
    let r = common::invoke(sim.invoke, r#"{"pieces":["a","b","c"]}"#);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amz-function-error"), None);
    let (_, data) = split_prelude(&r.body);
    assert_eq!(data, b"abc");
}

#[test]
fn streams_from_several_environments_at_once() {
    // Three at once under --concurrency 3: each arrives whole, with its own pieces, whichever
    // environment served it.
    let dir = std::env::temp_dir();
    let sim = common::start(&dir, &["--concurrency", "3", "--", FUNCTION]);
    let addr = sim.invoke;
    let calls: Vec<_> = (0..3)
        .map(|i| {
            std::thread::spawn(move || {
                stream_invoke(addr, &format!(r#"{{"pieces":["stream {i}",", ","done"]}}"#))
            })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let (head, events) = call.join().unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let (last, chunks) = events.split_last().unwrap();
        assert_eq!(last.0, "InvokeComplete");
        let payload: Vec<u8> = chunks.iter().flat_map(|(_, p)| p.clone()).collect();
        let (_, data) = split_prelude(&payload);
        assert_eq!(data, format!("stream {i}, done").as_bytes());
    }
}

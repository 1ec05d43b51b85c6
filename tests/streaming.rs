//! Response streaming over real sockets and a real runtime (runtimes-custom.html#runtimes-custom-response-streaming): a
//! runtime streams a chunked `/response`; an `InvokeWithResponseStream` invoker gets each piece
//! as a `PayloadChunk` event as it comes, then `InvokeComplete`; a buffered invoker gets the
//! whole body. Mid-stream errors (trailers or body lines), a runtime that hangs up, a stream
//! over the buffered limit, an unknown response mode.
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use lambda_sim::internals::api::eventstream;
use lambda_sim::{Handle, InvokeRequest, LogOutput, Simulator};

const STREAM_PATH: &str = "/2021-11-15/functions/function/response-streaming-invocations";

fn sim() -> Handle {
    Simulator::builder()
        .command(python_runtime("echo"))
        .log_output(LogOutput::Capture)
        .seed(41)
        .start()
        .unwrap()
}

/// An `InvokeWithResponseStream` call in progress: its head, then its events one by one.
struct EventStream {
    reader: BufReader<TcpStream>,
    status: u16,
    headers: Vec<(String, String)>,
    /// Bytes of the event stream not yet decoded.
    pending: Vec<u8>,
}

impl EventStream {
    fn open(addr: SocketAddr, payload: &str) -> EventStream {
        EventStream::open_with(addr, payload, "")
    }

    fn open_with(addr: SocketAddr, payload: &str, headers: &str) -> EventStream {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            s,
            "POST {STREAM_PATH} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\n\r\n{payload}",
            payload.len()
        )
        .unwrap();
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            let (k, v) = line.trim_end().split_once(": ").unwrap();
            headers.push((k.to_ascii_lowercase(), v.to_string()));
        }
        EventStream {
            reader,
            status,
            headers,
            pending: Vec::new(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The next event: its `:event-type` and payload; `None` after the last HTTP chunk.
    fn next_event(&mut self) -> Option<(String, Vec<u8>)> {
        loop {
            if let Some(message) = eventstream::decode(&self.pending) {
                self.pending.drain(..message.len);
                let kind = message.header(":event-type").expect("an event type");
                return Some((kind.to_string(), message.payload));
            }
            // One HTTP chunk more.
            let mut size = String::new();
            self.reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut data = vec![0; size + 2];
            self.reader.read_exact(&mut data).unwrap();
            assert_eq!(&data[size..], b"\r\n");
            if size == 0 {
                assert!(self.pending.is_empty(), "a partial event at the end");
                return None;
            }
            self.pending.extend_from_slice(&data[..size]);
        }
    }
}

fn payload(action: serde_json::Value) -> String {
    action.to_string()
}

#[test]
fn chunks_reach_a_streaming_invoker_before_the_runtime_has_written_the_last() {
    let sim = sim();
    let cue = std::env::temp_dir().join(format!("lambda-sim-stream-cue-{}", std::process::id()));
    let _ = std::fs::remove_file(&cue);
    let event = payload(serde_json::json!({
        "action": "stream",
        "chunks": ["one,", "two,", "three"],
        "pause": 0.05,
        "wait_for": cue.display().to_string(),
    }));
    let mut stream = EventStream::open(sim.invoke_addr(), &event);
    assert_eq!(stream.status, 200);
    // ResponseStreamContentType: the function's stream's type (the fixture's text/plain).
    assert_eq!(stream.header("content-type"), Some("text/plain"));
    assert!(stream.header("x-amzn-requestid").is_some());
    // The runtime writes its last chunk only once the cue exists: seeing the first two first
    // proves they were forwarded as they came, not buffered.
    let mut seen = Vec::new();
    while seen.concat() != b"one,two," {
        let (kind, piece) = stream.next_event().expect("an event");
        assert_eq!(kind, "PayloadChunk");
        seen.push(piece);
    }
    std::fs::write(&cue, b"go").unwrap();
    let (kind, piece) = stream.next_event().unwrap();
    assert_eq!(
        (kind.as_str(), piece.as_slice()),
        ("PayloadChunk", &b"three"[..])
    );
    let (kind, complete) = stream.next_event().unwrap();
    assert_eq!(kind, "InvokeComplete");
    assert_eq!(complete, b"{}", "no error");
    assert!(stream.next_event().is_none());
    let _ = std::fs::remove_file(&cue);
    wait_line(&sim, "stream: HTTP/1.1 202", Duration::from_secs(10));
}

#[test]
fn a_buffered_invoker_gets_the_whole_streamed_body() {
    let sim = sim();
    let event = payload(serde_json::json!({
        "action": "stream",
        "chunks": ["a", "b", "c"],
        "content_type": "text/csv",
    }));
    let r = Client::connect(sim.invoke_addr()).request("POST", INVOKE, &[], event.as_bytes());
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "abc");
    assert_eq!(r.header("Content-Type"), Some("text/csv"));
    assert_eq!(r.header("X-Amz-Function-Error"), None);
}

#[test]
fn a_buffered_response_to_a_streaming_invoker_is_one_chunk() {
    let sim = sim();
    let mut stream = EventStream::open(sim.invoke_addr(), r#"{"plain":true}"#);
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("content-type"), Some("application/json"));
    assert_eq!(
        stream.next_event().unwrap(),
        ("PayloadChunk".to_string(), br#"{"plain":true}"#.to_vec())
    );
    assert_eq!(stream.next_event().unwrap().0, "InvokeComplete");
    assert!(stream.next_event().is_none());

    // A function error before any chunk: InvokeComplete carries it.
    let mut stream = EventStream::open(sim.invoke_addr(), r#"{"action":"error"}"#);
    assert_eq!(stream.header("x-amz-function-error"), Some("Unhandled"));
    let (kind, complete) = stream.next_event().unwrap();
    assert_eq!(kind, "InvokeComplete");
    let complete: serde_json::Value = serde_json::from_slice(&complete).unwrap();
    assert_eq!(complete["ErrorCode"], "Runtime.Unknown");
    assert!(
        complete["ErrorDetails"]
            .as_str()
            .unwrap()
            .contains("it broke"),
        "{complete}"
    );
}

#[test]
fn mid_stream_errors_in_trailers_or_in_the_body_end_the_stream_with_the_error() {
    let sim = sim();
    // Written piece by piece, or whole in one write: then the request is complete at its first
    // read, before the stream was ever forwarded, and its payload must not be lost for that.
    for (error, whole) in [
        ("trailer", false),
        ("body", false),
        ("trailer", true),
        ("body", true),
    ] {
        let event = payload(serde_json::json!({
            "action": "stream",
            "chunks": ["partial"],
            "error": error,
            "whole": whole,
        }));
        let mut stream = EventStream::open(sim.invoke_addr(), &event);
        let mut pieces = Vec::new();
        let complete = loop {
            match stream.next_event().expect("an event") {
                (kind, piece) if kind == "PayloadChunk" => pieces.push(piece),
                (_, complete) => break complete,
            }
        };
        // The error lines in the body never reach the invoker as payload.
        assert_eq!(pieces.concat(), b"partial", "{error}, whole: {whole}");
        let complete: serde_json::Value = serde_json::from_slice(&complete).unwrap();
        assert_eq!(complete["ErrorCode"], "Runtime.StreamError", "{error}");
        assert_eq!(
            complete["ErrorDetails"], r#"{"errorMessage":"failed mid-stream"}"#,
            "{error}"
        );
        // A buffered invoker gets the error as a function error.
        let r = Client::connect(sim.invoke_addr()).request("POST", INVOKE, &[], event.as_bytes());
        assert_eq!(
            r.header("X-Amz-Function-Error"),
            Some("Unhandled"),
            "{error}"
        );
        assert_eq!(r.text(), r#"{"errorMessage":"failed mid-stream"}"#);
    }
}

#[test]
fn a_runtime_that_hangs_up_mid_stream_is_a_truncated_response() {
    let sim = sim();
    let event = payload(serde_json::json!({
        "action": "stream",
        "chunks": ["half"],
        "disconnect": true,
    }));
    let mut stream = EventStream::open(sim.invoke_addr(), &event);
    let mut last = stream.next_event().unwrap();
    while last.0 == "PayloadChunk" {
        last = stream.next_event().unwrap();
    }
    let complete: serde_json::Value = serde_json::from_slice(&last.1).unwrap();
    assert_eq!(complete["ErrorCode"], "Runtime.TruncatedResponse");
    // The environment goes on: the next invocation is answered.
    let r = Client::connect(sim.invoke_addr()).request("POST", INVOKE, &[], b"{}");
    assert_eq!(r.status, 200);
}

#[test]
fn a_stream_over_the_buffered_limit_fails_a_buffered_invoker_only() {
    let sim = sim();
    // 7 MiB in 1 MiB chunks: over the 6 MB a buffered invoker may get.
    let event = payload(serde_json::json!({
        "action": "stream",
        "size": 1024 * 1024,
        "repeat": 7,
    }));
    let r = Client::connect(sim.invoke_addr()).request("POST", INVOKE, &[], event.as_bytes());
    assert_eq!(r.header("X-Amz-Function-Error"), Some("Unhandled"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errorType"], "Function.ResponseSizeTooLarge");
    wait_line(&sim, "stream: HTTP/1.1 413", Duration::from_secs(10));

    // A streaming invoker gets all 7 MiB.
    let mut stream = EventStream::open(sim.invoke_addr(), &event);
    let mut total = 0;
    loop {
        match stream.next_event().unwrap() {
            (kind, piece) if kind == "PayloadChunk" => total += piece.len(),
            (_, complete) => {
                assert_eq!(complete, b"{}");
                break;
            }
        }
    }
    assert_eq!(total, 7 * 1024 * 1024);
}

#[test]
fn an_unknown_response_mode_is_400_and_fails_the_invocation() {
    let sim = sim();
    let event = payload(serde_json::json!({
        "action": "stream",
        "chunks": ["x"],
        "mode": "sideways",
    }));
    let r = Client::connect(sim.invoke_addr()).request("POST", INVOKE, &[], event.as_bytes());
    assert_eq!(r.header("X-Amz-Function-Error"), Some("Unhandled"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errorType"], "Runtime.InvalidResponseModeHeader");
    let lines = wait_line(&sim, "stream: HTTP/1.1 400", Duration::from_secs(10));
    assert!(
        lines.last().unwrap().ends_with("400 Bad Request"),
        "{lines:?}"
    );
}

#[test]
fn the_embedding_api_iterates_over_the_pieces() {
    let sim = sim();
    let cue = std::env::temp_dir().join(format!("lambda-sim-embed-cue-{}", std::process::id()));
    let _ = std::fs::remove_file(&cue);
    let event = payload(serde_json::json!({
        "action": "stream",
        "chunks": ["first", "second"],
        "wait_for": cue.display().to_string(),
    }));
    let mut streamed = sim
        .invoke_streaming(InvokeRequest {
            payload: event.into_bytes(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(streamed.next().unwrap(), b"first");
    std::fs::write(&cue, b"go").unwrap();
    assert_eq!(streamed.next().unwrap(), b"second");
    let end = streamed.finish().unwrap();
    assert_eq!(end.status, 200);
    assert!(end.body.is_empty(), "everything was given out as pieces");
    let _ = std::fs::remove_file(&cue);

    // A buffered response comes whole at the finish.
    let streamed = sim
        .invoke_streaming(InvokeRequest {
            payload: b"{\"k\":1}".to_vec(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(streamed.finish().unwrap().body, b"{\"k\":1}");
}

fn sim_with(limits: lambda_sim::StreamLimits) -> Handle {
    Simulator::builder()
        .command(python_runtime("echo"))
        .log_output(LogOutput::Capture)
        .stream_limits(limits)
        .seed(42)
        .start()
        .unwrap()
}

/// Reads a stream to its end: the payload bytes and the `InvokeComplete` payload.
fn read_all(stream: &mut EventStream) -> (usize, serde_json::Value) {
    let mut total = 0;
    loop {
        match stream.next_event().expect("an event") {
            (kind, piece) if kind == "PayloadChunk" => total += piece.len(),
            (_, complete) => return (total, serde_json::from_slice(&complete).unwrap()),
        }
    }
}

#[test]
fn a_stream_past_its_burst_goes_no_faster_than_the_rate() {
    let sim = sim_with(lambda_sim::StreamLimits {
        max_bytes: 10 << 20,
        burst_bytes: 64 << 10,
        rate: 512 << 10,
    });
    // 64 KiB of burst, then 512 KiB at 512 KiB/s: at least about a second, however fast
    // the machine (a lower bound on time is the shaping, not a speed target).
    let event = payload(serde_json::json!({
        "action": "stream",
        "size": 16 << 10,
        "repeat": 36,
    }));
    let started = std::time::Instant::now();
    let mut stream = EventStream::open(sim.invoke_addr(), &event);
    let (total, complete) = read_all(&mut stream);
    let took = started.elapsed();
    assert_eq!(total, 576 << 10);
    assert_eq!(complete, serde_json::json!({}));
    assert!(took >= Duration::from_millis(900), "{took:?}: not shaped");
}

#[test]
fn a_stream_over_its_limit_fails_with_response_size_too_large() {
    let sim = sim_with(lambda_sim::StreamLimits {
        max_bytes: 100 << 10,
        ..Default::default()
    });
    let event = payload(serde_json::json!({
        "action": "stream",
        "size": 16 << 10,
        "repeat": 12,
    }));
    let mut stream = EventStream::open(sim.invoke_addr(), &event);
    let (total, complete) = read_all(&mut stream);
    assert!(total <= 100 << 10, "{total}");
    assert_eq!(complete["ErrorCode"], "Function.ResponseSizeTooLarge");
    assert!(
        complete["ErrorDetails"]
            .as_str()
            .unwrap()
            .contains("(102400 bytes)"),
        "{complete}"
    );
}

#[test]
fn invoke_complete_carries_the_log_tail_when_asked() {
    let sim = sim();
    let event = payload(serde_json::json!({"action": "stream", "chunks": ["x"]}));
    let mut stream = EventStream::open_with(sim.invoke_addr(), &event, "X-Amz-Log-Type: Tail\r\n");
    let id = stream.header("x-amzn-requestid").unwrap().to_string();
    let (_, complete) = read_all(&mut stream);
    let log = complete["LogResult"].as_str().expect("a LogResult");
    let log = lambda_sim::internals::base64::decode(log.as_bytes()).unwrap();
    let log = String::from_utf8(log).unwrap();
    assert!(log.starts_with(&format!("START RequestId: {id}")), "{log}");
    assert!(log.contains(&format!("\nREPORT RequestId: {id}")), "{log}");
}

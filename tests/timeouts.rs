//! Connections that wait on their peer are closed after a timeout: a request that does not
//! arrive whole in time (a slowloris head, a stalled body) gets 408, an idle keep-alive
//! connection is closed; nothing that waits on the function is ever timed out (a parked
//! `/next`, an invoker waiting for a slow function, a runtime streaming slowly). Times are
//! bounds: never earlier than the timeout, and within a generous ceiling.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use lambda_sim::{ConnectionTimeouts, Handle, InvokeRequest, Simulator};

const REQUEST: Duration = Duration::from_millis(300);
const IDLE: Duration = Duration::from_millis(400);
/// Far more than a sweep's lateness on a busy machine.
const CEILING: Duration = Duration::from_secs(10);

fn timeouts() -> ConnectionTimeouts {
    ConnectionTimeouts {
        request: REQUEST,
        idle: IDLE,
    }
}

fn with_runtime() -> Handle {
    Simulator::builder()
        .command(python_runtime("echo"))
        .connection_timeouts(timeouts())
        .start()
        .unwrap()
}

/// A simulator that waits for the test to play the runtime.
fn external(timeout: Duration) -> Handle {
    Simulator::builder()
        .timeout(timeout)
        .connection_timeouts(timeouts())
        .start()
        .unwrap()
}

/// Reads until the server closes the connection; what it sent, and when it closed.
fn read_to_close(stream: &mut TcpStream) -> (String, Instant) {
    stream.set_read_timeout(Some(CEILING)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), Instant::now()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&out).into_owned(), Instant::now());
            }
            Err(e) => panic!("not closed within {CEILING:?}: {e}; got {out:?}"),
        }
    }
}

#[test]
fn a_slowloris_head_gets_408_and_disturbs_no_one() {
    let sim = with_runtime();
    let mut slow = TcpStream::connect(sim.invoke_addr()).unwrap();
    let started = Instant::now();
    slow.write_all(b"POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // A byte every 50 ms: always progress, never a whole head.
    let dripping = {
        let mut drip = slow.try_clone().unwrap();
        thread::spawn(move || {
            for _ in 0..200 {
                if drip.write_all(b"a").is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // Meanwhile, others are served.
    for n in 0..3 {
        let r = Client::connect(sim.invoke_addr()).request(
            "POST",
            INVOKE,
            &[],
            format!(r#"{{"n":{n}}}"#).as_bytes(),
        );
        assert_eq!(r.status, 200);
    }
    let (answer, closed) = read_to_close(&mut slow);
    assert!(
        closed - started >= REQUEST,
        "closed after {:?}",
        closed - started
    );
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.contains("x-amzn-ErrorType: RequestTimeoutException"),
        "{answer}"
    );
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("300 ms"),
        "{body}"
    );
    dripping.join().unwrap();
    // And the simulator still serves.
    assert_eq!(sim.invoke("{}").unwrap().status, 200);
}

#[test]
fn a_stalled_body_or_a_slow_head_on_the_runtime_api_gets_408() {
    let sim = with_runtime();
    // An invocation whose body stops short of its Content-Length.
    let mut stalled = TcpStream::connect(sim.invoke_addr()).unwrap();
    let started = Instant::now();
    let head = format!("POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"n\":");
    stalled.write_all(head.as_bytes()).unwrap();
    let (answer, closed) = read_to_close(&mut stalled);
    assert!(closed - started >= REQUEST);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    // A head that never ends, on the Runtime API.
    let mut slow = TcpStream::connect(sim.runtime_api_addr()).unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost:")
        .unwrap();
    let (answer, closed) = read_to_close(&mut slow);
    assert!(closed - started >= REQUEST);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.contains(r#""errorType":"RequestTimeout""#),
        "{answer}"
    );
    // Neither invocation was lost or disturbed the function.
    assert_eq!(sim.invoke(r#"{"n":1}"#).unwrap().body, br#"{"n":1}"#);
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let sim = with_runtime();
    let mut client = Client::connect(sim.invoke_addr());
    let r = client.request("POST", INVOKE, &[], b"{}");
    assert_eq!(r.status, 200);
    let answered = Instant::now();
    let (rest, closed) = read_to_close(client.stream());
    assert_eq!(rest, "", "nothing more is sent");
    assert!(
        closed - answered >= IDLE,
        "closed after {:?}",
        closed - answered
    );
}

#[test]
fn nothing_that_waits_on_the_function_is_timed_out() {
    let sim = external(Duration::from_secs(10));
    let addr = sim.runtime_api_addr();
    // A parked /next, left alone for several times both timeouts.
    let mut runtime = Client::connect(addr);
    runtime.send(&request_bytes("GET", NEXT, &[], b""));
    thread::sleep(4 * IDLE);
    let invoker = {
        let addr = sim.invoke_addr();
        thread::spawn(move || Client::connect(addr).request("POST", INVOKE, &[], br#"{"slow":1}"#))
    };
    let r = runtime.read_response();
    assert_eq!(r.status, 200, "the parked /next got the invocation");
    let id = r
        .header("Lambda-Runtime-Aws-Request-Id")
        .unwrap()
        .to_string();
    // The function takes longer than both timeouts; its invoker waits for it, and the
    // runtime's connection, idle meanwhile, stays open.
    thread::sleep(4 * IDLE);
    let r = runtime.request("POST", &response_path(&id), &[], b"\"late\"");
    assert_eq!(r.status, 202);
    let answer = invoker.join().unwrap();
    assert_eq!(
        (answer.status, answer.text()),
        (200, "\"late\"".to_string())
    );
}

#[test]
fn a_stream_slower_than_the_request_timeout_completes() {
    let sim = with_runtime();
    let event = serde_json::json!({
        "action": "stream",
        "chunks": ["one,", "two,", "three"],
        "pause": 0.4,
    })
    .to_string();
    // The runtime's streamed /response pauses longer than a request may take to arrive.
    let mut streamed = sim
        .invoke_streaming(InvokeRequest {
            payload: event.into_bytes(),
            ..InvokeRequest::default()
        })
        .unwrap();
    let pieces: Vec<Vec<u8>> = streamed.by_ref().collect();
    let end = streamed.finish().unwrap();
    assert_eq!(end.function_error(), None, "{}", end.body_str());
    let mut all = pieces.concat();
    all.extend_from_slice(&end.body);
    assert_eq!(all, b"one,two,three");
}

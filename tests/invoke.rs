//! The RIE-compatible invoke endpoint over real sockets: answers (PROTOCOL.md 11.1), the queue
//! (11.3), refusals in the Invoke API's REST-JSON form.
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use common::*;
use lambda_sim::{LogOutput, Simulator};

const TIMEOUT: Duration = Duration::from_secs(5);

fn invoke_async(addr: std::net::SocketAddr, body: String) -> thread::JoinHandle<Response> {
    thread::spawn(move || Client::connect(addr).request("POST", INVOKE, &[], body.as_bytes()))
}

/// Echoes `count` invocations as `{"echo": <event>}`, returning the events in arrival order.
fn echo_runtime(addr: std::net::SocketAddr, count: usize) -> thread::JoinHandle<Vec<String>> {
    thread::spawn(move || {
        let mut rt = Client::connect(addr);
        let mut seen = Vec::new();
        for _ in 0..count {
            let (id, next) = next(&mut rt);
            let event = next.text();
            let body = format!(r#"{{"echo":{event}}}"#);
            assert_eq!(
                rt.request("POST", &response_path(&id), &[], body.as_bytes())
                    .status,
                202
            );
            seen.push(event);
        }
        seen
    })
}

#[test]
fn concurrent_invokers_each_get_their_own_answer() {
    let sim = external(TIMEOUT);
    let runtime = echo_runtime(sim.runtime_api_addr(), 16);
    let invokers: Vec<_> = (0..16)
        .map(|i| {
            (
                i,
                invoke_async(sim.invoke_addr(), format!(r#"{{"n":{i}}}"#)),
            )
        })
        .collect();
    for (i, invoker) in invokers {
        let r = invoker.join().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["echo"]["n"], i);
    }
    assert_eq!(runtime.join().unwrap().len(), 16);
}

#[test]
fn queued_invocations_run_in_arrival_order() {
    let sim = external(TIMEOUT);
    // Submitted in order through the embedding API: the arrival order is this loop's.
    let tickets: Vec<_> = (0..8)
        .map(|i| sim.submit(format!(r#"{{"n":{i}}}"#)).unwrap())
        .collect();
    wait_state(&sim, "all queued", |s| s.queued == 8);
    let runtime = echo_runtime(sim.runtime_api_addr(), 8);
    for (i, ticket) in tickets.into_iter().enumerate() {
        assert_eq!(
            ticket.wait().unwrap().body_str(),
            format!(r#"{{"echo":{{"n":{i}}}}}"#)
        );
    }
    let expected: Vec<String> = (0..8).map(|i| format!(r#"{{"n":{i}}}"#)).collect();
    assert_eq!(runtime.join().unwrap(), expected, "FIFO");
}

#[test]
fn past_max_queue_invokers_get_429() {
    let sim = Simulator::builder().max_queue(1).start().unwrap();
    let mut rt = Client::connect(sim.runtime_api_addr());
    let a = invoke_async(sim.invoke_addr(), r#"{"n":"a"}"#.into());
    let (a_id, _) = next(&mut rt);
    let b = invoke_async(sim.invoke_addr(), r#"{"n":"b"}"#.into());
    wait_state(&sim, "b queued", |s| s.queued == 1);
    // a runs, b waits: c is one too many.
    let c = Client::connect(sim.invoke_addr()).request("POST", INVOKE, &[], b"{}");
    assert_eq!(c.status, 429);
    assert_eq!(
        c.header("x-amzn-ErrorType"),
        Some("TooManyRequestsException")
    );
    assert_eq!(
        c.json()["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    rt.request("POST", &response_path(&a_id), &[], b"A");
    let (b_id, _) = next(&mut rt);
    rt.request("POST", &response_path(&b_id), &[], b"B");
    assert_eq!(a.join().unwrap().body, b"A");
    assert_eq!(b.join().unwrap().body, b"B");
}

#[test]
fn an_invoker_that_leaves_the_queue_is_dropped() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let a = invoke_async(sim.invoke_addr(), r#"{"n":"a"}"#.into());
    let (a_id, _) = next(&mut rt);
    {
        let mut leaver = Client::connect(sim.invoke_addr());
        leaver.send(&request_bytes("POST", INVOKE, &[], br#"{"n":"gone"}"#));
        wait_state(&sim, "the leaver queued", |s| s.queued == 1);
    }
    wait_state(&sim, "the leaver dropped", |s| s.queued == 0);
    let c = invoke_async(sim.invoke_addr(), r#"{"n":"c"}"#.into());
    wait_state(&sim, "c queued", |s| s.queued == 1);
    rt.request("POST", &response_path(&a_id), &[], b"A");
    let (c_id, next_c) = next(&mut rt);
    assert_eq!(
        next_c.body, br#"{"n":"c"}"#,
        "the one that left never reaches the runtime"
    );
    rt.request("POST", &response_path(&c_id), &[], b"C");
    assert_eq!(a.join().unwrap().body, b"A");
    assert_eq!(c.join().unwrap().body, b"C");
}

#[test]
fn an_invoker_that_leaves_mid_body_changes_nothing() {
    let sim = external(TIMEOUT);
    {
        let mut s = TcpStream::connect(sim.invoke_addr()).unwrap();
        s.write_all(b"POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"n\":")
            .unwrap();
    }
    thread::sleep(Duration::from_millis(50));
    let runtime = echo_runtime(sim.runtime_api_addr(), 1);
    let r = Client::connect(sim.invoke_addr()).request("POST", INVOKE, &[], br#"{"n":1}"#);
    assert_eq!(r.json()["echo"]["n"], 1);
    assert_eq!(runtime.join().unwrap(), [r#"{"n":1}"#]);
}

#[test]
fn an_invoker_that_leaves_while_running_does_not_stop_the_invocation() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    {
        let mut leaver = Client::connect(sim.invoke_addr());
        leaver.send(&request_bytes("POST", INVOKE, &[], br#"{"n":1}"#));
        let (id, _) = next(&mut rt);
        drop(leaver);
        // The runtime still completes it, as on Lambda.
        assert_eq!(
            rt.request("POST", &response_path(&id), &[], b"done").status,
            202
        );
    }
    let runtime = thread::spawn(move || {
        let (id, _) = next(&mut rt);
        rt.request("POST", &response_path(&id), &[], b"second");
    });
    let r = Client::connect(sim.invoke_addr()).request("POST", INVOKE, &[], b"{}");
    assert_eq!(r.body, b"second");
    runtime.join().unwrap();
}

#[test]
fn refused_invocations_use_the_invoke_apis_error_form() {
    let sim = external(TIMEOUT);
    let mut c = Client::connect(sim.invoke_addr());
    let r = c.request(
        "POST",
        "/2015-03-31/functions/other/invocations",
        &[],
        b"{}",
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("ResourceNotFoundException")
    );
    assert_eq!(
        r.json()["message"],
        "Function not found: arn:aws:lambda:us-east-1:012345678912:function:other"
    );
    assert_eq!(r.json()["Type"], "User");
    let r = c.request(
        "POST",
        "/2015-03-31/functions/test_function/invocations?Qualifier=7",
        &[],
        b"{}",
    );
    assert_eq!(r.status, 404);
    let r = c.request("POST", INVOKE, &[], b"{not json");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("InvalidRequestContentException")
    );
    let r = c.request("POST", INVOKE, &[("X-Amz-Client-Context", "%%%")], b"{}");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "Client context must be a valid Base64-encoded JSON object."
    );
    let r = c.request("POST", "/2015-03-31/functions/function/nope", &[], b"{}");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("UnknownOperationException")
    );
    // The connection survived every refusal.
    assert_eq!(c.request("GET", "/ping", &[], b"").status, 200);
}

#[test]
fn a_payload_over_6_mb_is_413() {
    let sim = external(TIMEOUT);
    let mut c = Client::connect(sim.invoke_addr());
    let mut body = b"\"".to_vec();
    body.resize(6 * 1024 * 1024 + 1, b'a');
    let r = c.request("POST", INVOKE, &[], &body);
    assert_eq!(r.status, 413);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("RequestEntityTooLargeException")
    );
    assert_eq!(
        r.json()["message"],
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    );
}

#[test]
fn a_qualified_invocation_gets_the_qualified_arn() {
    let sim = Simulator::builder()
        .function_name("orders")
        .region("eu-central-1")
        .start()
        .unwrap();
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = thread::spawn({
        let addr = sim.invoke_addr();
        move || {
            Client::connect(addr).request(
                "POST",
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-central-1%3A012345678912%3Afunction%3Aorders/invocations?Qualifier=%24LATEST",
                &[],
                b"{}",
            )
        }
    });
    let (id, next) = next(&mut rt);
    assert_eq!(
        next.header("Lambda-Runtime-Invoked-Function-Arn"),
        Some("arn:aws:lambda:eu-central-1:012345678912:function:orders:$LATEST")
    );
    rt.request("POST", &response_path(&id), &[], b"{}");
    assert_eq!(invoker.join().unwrap().status, 200);
}

#[test]
fn shutdown_answers_every_queued_invoker() {
    let sim = Simulator::builder()
        .log_output(LogOutput::Discard)
        .start()
        .unwrap();
    let invokers: Vec<_> = (0..3)
        .map(|i| invoke_async(sim.invoke_addr(), format!(r#"{{"n":{i}}}"#)))
        .collect();
    wait_state(&sim, "three queued", |s| s.queued == 3);
    sim.shutdown().unwrap();
    for invoker in invokers {
        let r = invoker.join().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("X-Amz-Function-Error"), Some("Unhandled"));
        assert_eq!(r.json()["errorType"], "Sandbox.Shutdown");
    }
}

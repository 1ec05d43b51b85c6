//! The RIE-compatible invoke endpoint over real sockets: answers (the table in `api::invoke`), the
//! queue (the core's decision), refusals in the Invoke API's REST-JSON form.
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use common::binary::Binary;
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
        // Leaves by a reset: an EOF alone may be a half-close, still answered.
        reset(leaver.stream());
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
    // Lambda's message, then which function the simulator serves.
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with(
            "Function not found: arn:aws:lambda:us-east-1:012345678912:function:other. "
        ),
        "{message}"
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

// ----- Invoke API options: DryRun, Event, Tail (API_Invoke.html) -----

/// Sends an `Event` invocation with `headers` besides its type: answered 202 at once, with an
/// empty body and the request id, which it returns.
fn accepted_event(addr: std::net::SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> String {
    let mut all = vec![("X-Amz-Invocation-Type", "Event")];
    all.extend_from_slice(headers);
    let r = Client::connect(addr).request("POST", INVOKE, &all, body);
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(r.body.is_empty());
    r.header("X-Amzn-RequestId")
        .expect("a request id")
        .to_string()
}

fn python_sim() -> lambda_sim::Handle {
    Simulator::builder()
        .command(python_runtime("echo"))
        .log_output(LogOutput::Capture)
        .seed(21)
        .start()
        .unwrap()
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=').map(value).collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, d) in chunk.iter().enumerate() {
            n |= u32::from(*d) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn a_dry_run_is_validated_answered_204_and_runs_nothing() {
    let sim = python_sim();
    let c = || Client::connect(sim.invoke_addr());
    let r = c().request(
        "POST",
        INVOKE,
        &[("X-Amz-Invocation-Type", "DryRun")],
        b"{}",
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    let r = c().request(
        "POST",
        INVOKE,
        &[("X-Amz-Invocation-Type", "DryRun")],
        b"not json",
    );
    assert_eq!(r.status, 400);
    let state = sim.state().unwrap();
    assert_eq!(
        state.first().runtime_state,
        "NotStarted",
        "nothing ran: {state:?}"
    );
    assert!(!sim.lines().iter().any(|l| l.starts_with("START")));
}

#[test]
fn an_event_invocation_is_answered_202_at_once_runs_and_keeps_its_outcome() {
    // No retries here: the failing one's outcome is its only attempt's.
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .log_output(LogOutput::Capture)
        .maximum_retry_attempts(0)
        .start()
        .unwrap();
    let id = accepted_event(
        sim.invoke_addr(),
        &[],
        br#"{"action":"sleep","seconds":0.3}"#,
    );
    // Answered before the function has run (it sleeps 0.3 s): no outcome yet.
    assert!(sim.event_outcomes().unwrap().is_empty());
    let outcome = sim
        .event_outcome(&id, Duration::from_secs(10))
        .unwrap()
        .expect("an outcome");
    assert_eq!(outcome.status, 200);
    assert_eq!(outcome.body, br#"{"action":"sleep","seconds":0.3}"#);
    assert_eq!(outcome.function_error(), None);
    wait_line(
        &sim,
        &format!("Event invocation {id} ended: success"),
        TIMEOUT,
    );

    // A failing one: the outcome says so, and so does the log.
    let id = accepted_event(sim.invoke_addr(), &[], br#"{"action":"error"}"#);
    let outcome = sim
        .event_outcome(&id, Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(outcome.function_error(), Some("Unhandled"));
    wait_line(
        &sim,
        &format!("Event invocation {id} ended: function error (Boom)"),
        TIMEOUT,
    );
    // Both are kept, oldest first; an outcome asked for after it came is still found.
    let kept = sim.event_outcomes().unwrap();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[1].request_id, id);
    assert!(sim.event_outcome(&id, TIMEOUT).unwrap().is_some());
}

#[test]
fn event_payloads_over_1_mb_are_413_and_under_it_accepted() {
    let sim = python_sim();
    let big = |n: usize| format!(r#"{{"pad":"{}"}}"#, "x".repeat(n - 10));
    let event = [("X-Amz-Invocation-Type", "Event")];
    let r = Client::connect(sim.invoke_addr()).request(
        "POST",
        INVOKE,
        &event,
        big(1_048_577).as_bytes(),
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("RequestEntityTooLargeException")
    );
    // 300 KB: over the old 256 KB limit, under today's 1 MB.
    let r = Client::connect(sim.invoke_addr()).request(
        "POST",
        INVOKE,
        &event,
        big(300 * 1024).as_bytes(),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    // The same 1.1 MB synchronously is fine (6 MB).
    let r =
        Client::connect(sim.invoke_addr()).request("POST", INVOKE, &[], big(1_100_000).as_bytes());
    assert_eq!(r.status, 200);
}

#[test]
fn log_tail_carries_start_the_lines_end_and_report_and_the_last_4_kb() {
    let sim = python_sim();
    let tail = [("X-Amz-Log-Type", "Tail")];
    let r = Client::connect(sim.invoke_addr()).request(
        "POST",
        INVOKE,
        &tail,
        br#"{"action":"print","lines":["hello from the function"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.header("X-Amzn-RequestId").unwrap().to_string();
    let log = String::from_utf8(base64_decode(
        r.header("X-Amz-Log-Result").expect("a log tail"),
    ))
    .unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines[0],
        format!("START RequestId: {id} Version: $LATEST"),
        "{log}"
    );
    assert!(lines.contains(&"hello from the function"), "{log}");
    assert!(lines.contains(&"to stderr"), "{log}");
    let end = lines.len() - 2;
    assert_eq!(lines[end], format!("END RequestId: {id}"), "{log}");
    assert!(lines[end + 1].starts_with(&format!("REPORT RequestId: {id}\tDuration: ")));
    assert!(lines[end + 1].contains("Init Duration: "), "{log}");

    // Without the header: no log.
    let r = Client::connect(sim.invoke_addr()).request("POST", INVOKE, &[], b"{}");
    assert_eq!(r.header("X-Amz-Log-Result"), None);

    // A long log: the last 4 KB, ending with the REPORT.
    let many: Vec<String> = (0..200)
        .map(|i| format!("line {i:03} {}", "-".repeat(40)))
        .collect();
    let payload = serde_json::json!({"action": "print", "lines": many}).to_string();
    let r = Client::connect(sim.invoke_addr()).request("POST", INVOKE, &tail, payload.as_bytes());
    let log = base64_decode(r.header("X-Amz-Log-Result").unwrap());
    assert_eq!(log.len(), 4096);
    let log = String::from_utf8_lossy(&log);
    assert!(log.contains("line 199"), "{log}");
    assert!(!log.contains("line 000"));
    assert!(
        log.trim_end()
            .rsplit('\n')
            .next()
            .unwrap()
            .starts_with("REPORT RequestId: ")
    );
}

#[test]
fn the_embedding_api_takes_event_invocations_and_the_log_tail() {
    let sim = python_sim();
    let accepted = sim
        .invoke_event(lambda_sim::InvokeRequest {
            payload: br#"{"n":7}"#.to_vec(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(accepted.status, 202);
    let outcome = sim
        .event_outcome(&accepted.request_id, Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(outcome.body, br#"{"n":7}"#);

    let r = sim
        .invoke_with(lambda_sim::InvokeRequest {
            payload: br#"{"action":"print","lines":["tail me"]}"#.to_vec(),
            log_tail: true,
            ..Default::default()
        })
        .unwrap();
    let log = String::from_utf8(base64_decode(r.header("X-Amz-Log-Result").unwrap())).unwrap();
    assert!(log.contains("\ntail me\n"), "{log}");
    assert!(
        log.contains(&format!("REPORT RequestId: {}", r.request_id)),
        "{log}"
    );
}

#[test]
fn an_event_invocation_does_not_pass_the_client_context_on() {
    // API_Invoke.html: "Lambda passes the ClientContext object to your function for
    // synchronous invocations only."
    let sim = python_sim();
    let context = "eyJjdXN0b20iOnsiYSI6MX19"; // {"custom":{"a":1}}
    let header = |r: &lambda_sim::InvokeResponse| {
        let seen: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        seen["lambda-runtime-client-context"].clone()
    };
    let sync = Client::connect(sim.invoke_addr()).request(
        "POST",
        INVOKE,
        &[("X-Amz-Client-Context", context)],
        br#"{"action":"headers"}"#,
    );
    let seen: serde_json::Value = serde_json::from_slice(&sync.body).unwrap();
    assert_eq!(
        seen["lambda-runtime-client-context"],
        r#"{"custom":{"a":1}}"#
    );
    let id = accepted_event(
        sim.invoke_addr(),
        &[("X-Amz-Client-Context", context)],
        br#"{"action":"headers"}"#,
    );
    let outcome = sim
        .event_outcome(&id, Duration::from_secs(10))
        .unwrap()
        .expect("an outcome");
    assert_eq!(
        header(&outcome),
        serde_json::Value::Null,
        "{}",
        outcome.body_str()
    );
    // A malformed one is still refused.
    let bad = Client::connect(sim.invoke_addr()).request(
        "POST",
        INVOKE,
        &[
            ("X-Amz-Invocation-Type", "Event"),
            ("X-Amz-Client-Context", "%%%"),
        ],
        b"{}",
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
}

#[test]
fn a_failed_event_invocation_is_retried_with_the_same_request_id() {
    // Lambda retries twice, a minute then two minutes later
    // (invocation-async-error-handling.html); here 100 ms, then 200 ms.
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .log_output(LogOutput::Capture)
        .retry_delay(Duration::from_millis(100))
        .start()
        .unwrap();
    let id = accepted_event(sim.invoke_addr(), &[], br#"{"action":"error"}"#);
    // The outcome asked for is the last attempt's.
    let last = sim
        .event_outcome(&id, Duration::from_secs(10))
        .unwrap()
        .expect("an outcome");
    assert_eq!(last.function_error(), Some("Unhandled"));
    let all = sim.event_outcomes().unwrap();
    assert_eq!(all.len(), 3, "three attempts");
    assert!(all.iter().all(|o| o.request_id == id));
    let ended = format!("Event invocation {id} ended: function error (Boom); attempt");
    let mut lines = wait_line(&sim, &format!("{ended} 1, retried in 100 ms"), TIMEOUT);
    lines.extend(wait_line(
        &sim,
        &format!("{ended} 2, retried in 200 ms"),
        TIMEOUT,
    ));
    lines.extend(wait_line(&sim, &format!("{ended} 3"), TIMEOUT));
    // Each attempt was a START of the same request id (lines come in their own order: the
    // last START may follow the last outcome).
    let start = format!("START RequestId: {id}");
    while lines.iter().filter(|l| l.starts_with(&start)).count() < 3 {
        lines.extend(wait_line(&sim, &start, TIMEOUT));
    }
    assert_eq!(lines.iter().filter(|l| l.starts_with(&start)).count(), 3);
}

#[test]
fn event_retries_and_the_event_queue_are_configured_on_the_command_line() {
    // --maximum-retry-attempts 0: one attempt; --max-event-queue 1: a second event while the
    // first runs gets 429, while a synchronous one is still taken.
    let runtime = python_runtime("echo");
    let mut args = vec![
        "--maximum-retry-attempts",
        "0",
        "--max-event-queue",
        "1",
        "--max-queue",
        "0",
        "--",
    ];
    args.extend(runtime.iter().map(String::as_str));
    let sim = Binary::start(&args, &[]);
    let event = [("X-Amz-Invocation-Type", "Event")];
    let first = Client::connect(sim.invoke).request(
        "POST",
        INVOKE,
        &event,
        br#"{"action":"sleep","seconds":0.5}"#,
    );
    assert_eq!(first.status, 202);
    let second = Client::connect(sim.invoke).request("POST", INVOKE, &event, b"{}");
    assert_eq!(second.status, 429, "{}", second.text());
    assert_eq!(
        second.header("x-amzn-ErrorType"),
        Some("TooManyRequestsException")
    );
    assert!(
        second.text().contains("--max-event-queue"),
        "{}",
        second.text()
    );
    let failing = sim.invoke(r#"{"action":"error"}"#);
    assert_eq!(failing.status, 200);
    let id = accepted_event(sim.invoke, &[], br#"{"action":"error"}"#);
    sim.wait_line(&format!(
        "Event invocation {id} ended: function error (Boom)"
    ));
    std::thread::sleep(Duration::from_millis(300));
    let attempts = sim
        .lines_so_far()
        .iter()
        .filter(|l| l.contains(&format!("START RequestId: {id}")))
        .count();
    assert_eq!(attempts, 1, "no retry");
    // Out of range: refused.
    for args in [
        &["--maximum-retry-attempts", "3"][..],
        &["--maximum-event-age", "59"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lambda-sim"))
            .args(args)
            .args(["--", "true"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

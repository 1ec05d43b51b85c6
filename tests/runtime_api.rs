//! The Runtime API over real sockets, with the test playing an external runtime
//! (runtimes-api.html, and the core's decisions on parked waiters and
//! external runtimes).
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const TIMEOUT: Duration = Duration::from_secs(3);

/// Starts an invocation over HTTP on its own thread; returns the join handle for its response.
fn invoke_async(
    sim: &lambda_sim::Handle,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> thread::JoinHandle<Response> {
    let addr = sim.invoke_addr();
    thread::spawn(move || Client::connect(addr).request("POST", INVOKE, headers, body.as_bytes()))
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn next_carries_the_invocation_and_every_header() {
    // Tenant isolation: only then may an invocation name a tenant.
    let sim = lambda_sim::Simulator::builder()
        .timeout(TIMEOUT)
        .tenant_isolation(true)
        .log_output(lambda_sim::LogOutput::Capture)
        .start()
        .unwrap();
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(
        &sim,
        &[
            // base64 of {"custom":{"k":"v"}}
            ("X-Amz-Client-Context", "eyJjdXN0b20iOnsiayI6InYifX0="),
            (
                "X-Amzn-Trace-Id",
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
            ),
            ("X-Amz-Tenant-Id", "tenant-a"),
            (
                "X-Amz-Cognito-Identity",
                r#"{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}"#,
            ),
        ],
        r#"{"hello": "world"}"#,
    );
    let before = epoch_ms();
    let (id, next) = next(&mut rt);
    let after = epoch_ms();
    assert_eq!(
        next.body, br#"{"hello": "world"}"#,
        "the payload, unchanged"
    );
    assert_eq!(id.len(), 36);
    let deadline: u64 = next
        .header("Lambda-Runtime-Deadline-Ms")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        deadline >= before + 3000 - 5 && deadline <= after + 3000 + 5,
        "deadline {deadline} is not 3 s after release ({before}..{after})"
    );
    assert_eq!(
        next.header("Lambda-Runtime-Invoked-Function-Arn"),
        Some("arn:aws:lambda:us-east-1:012345678912:function:test_function")
    );
    assert_eq!(
        next.header("Lambda-Runtime-Trace-Id"),
        Some("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
    );
    assert_eq!(
        next.header("Lambda-Runtime-Client-Context"),
        Some(r#"{"custom":{"k":"v"}}"#)
    );
    assert_eq!(
        next.header("Lambda-Runtime-Cognito-Identity"),
        Some(r#"{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}"#)
    );
    assert_eq!(
        next.header("Lambda-Runtime-Aws-Tenant-Id"),
        Some("tenant-a")
    );
    assert_eq!(next.header("Content-Type"), Some("application/json"));

    // No Content-Type needed on the response; any bytes are taken.
    let accepted = rt.request("POST", &response_path(&id), &[], b"SUCCESS");
    assert_eq!(accepted.status, 202);
    assert_eq!(accepted.text(), r#"{"status":"OK"}"#);
    let reply = invoker.join().unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"SUCCESS");
    assert_eq!(reply.header("X-Amzn-RequestId"), Some(id.as_str()));
    assert_eq!(reply.header("X-Amz-Executed-Version"), Some("$LATEST"));
    assert_eq!(reply.header("X-Amz-Function-Error"), None);
}

#[test]
fn an_untraced_invocation_gets_a_generated_trace_id() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    let (id, next) = next(&mut rt);
    let trace = next.header("Lambda-Runtime-Trace-Id").unwrap();
    let parts: Vec<&str> = trace.split(';').collect();
    assert!(
        parts[0].starts_with("Root=1-") && parts[0].len() == "Root=1-".len() + 8 + 1 + 24,
        "{trace}"
    );
    assert!(
        parts[1].starts_with("Parent=") && parts[1].len() == "Parent=".len() + 16,
        "{trace}"
    );
    assert_eq!(parts[2], "Sampled=0");
    assert_eq!(next.header("Lambda-Runtime-Client-Context"), None);
    assert_eq!(next.header("Lambda-Runtime-Aws-Tenant-Id"), None);
    rt.request(
        "POST",
        &response_path(&id),
        &[("Content-Type", "text/html")],
        b"<p>",
    );
    let reply = invoker.join().unwrap();
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/html"),
        "the runtime's content type is forwarded"
    );
}

#[test]
fn error_posts_answer_unhandled_with_the_posted_body() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    let (id, _) = next(&mut rt);
    let posted = r#"{"errorMessage":"bad","errorType":"ValueError","stackTrace":["x"]}"#;
    let r = rt.request(
        "POST",
        &error_path(&id),
        &[("Lambda-Runtime-Function-Error-Type", "Unhandled")],
        posted.as_bytes(),
    );
    assert_eq!((r.status, r.text().as_str()), (202, r#"{"status":"OK"}"#));
    let reply = invoker.join().unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(reply.text(), posted);
}

#[test]
fn error_cause_is_stripped_before_forwarding() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    let (id, _) = next(&mut rt);
    rt.request(
        "POST",
        &error_path(&id),
        &[(
            "Content-Type",
            "application/vnd.aws.lambda.error.cause+json",
        )],
        br#"{"errorMessage":"m","errorType":"T","errorCause":{"exceptions":[]}}"#,
    );
    let reply = invoker.join().unwrap();
    assert_eq!(reply.text(), r#"{"errorMessage":"m","errorType":"T"}"#);
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
}

#[test]
fn a_second_result_is_403_and_a_wrong_id_is_400() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    let (id, _) = next(&mut rt);
    let wrong = rt.request(
        "POST",
        &response_path("8f5e2d1c-0000-4000-8000-000000000000"),
        &[],
        b"x",
    );
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json()["errorType"], "InvalidRequestID");
    assert_eq!(wrong.json()["errorMessage"], "Invalid request ID");
    let not_a_uuid = rt.request("POST", &response_path("abc"), &[], b"x");
    assert_eq!(not_a_uuid.status, 400);
    assert_eq!(
        rt.request("POST", &response_path(&id), &[], b"1").status,
        202
    );
    let again = rt.request("POST", &response_path(&id), &[], b"2");
    assert_eq!(again.status, 403);
    assert_eq!(again.json()["errorType"], "InvalidStateTransition");
    assert_eq!(
        again.json()["errorMessage"],
        "State transition from RuntimeResponseSentState to InvocationResponse failed for runtime. Error: State transition is not allowed"
    );
    let error = rt.request("POST", &error_path(&id), &[], b"{}");
    assert_eq!(error.status, 403);
    assert_eq!(invoker.join().unwrap().body, b"1");
    // After the runtime is back on /next the invocation is complete and its id unknown.
    let mut rt2 = Client::connect(sim.runtime_api_addr());
    rt2.send(&request_bytes("GET", NEXT, &[], b""));
    assert!(wait_until(Duration::from_secs(5), || {
        rt.request("POST", &response_path(&id), &[], b"3").status == 400
    }));
}

#[test]
fn an_oversized_response_is_413_and_the_invoker_gets_response_size_too_large() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    let (id, _) = next(&mut rt);
    let big = vec![b'a'; 6_291_557];
    let r = rt.request("POST", &response_path(&id), &[], &big);
    assert_eq!(r.status, 413);
    assert_eq!(
        r.text(),
        r#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#
    );
    let reply = invoker.join().unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(reply.json()["errorType"], "Function.ResponseSizeTooLarge");
    assert_eq!(
        reply.json()["errorMessage"],
        "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    );
    // Exactly the limit is fine.
    let invoker = invoke_async(&sim, &[], "{}");
    let mut rt = Client::connect(sim.runtime_api_addr());
    let (id, _) = next(&mut rt);
    let r = rt.request("POST", &response_path(&id), &[], &vec![b'b'; 6_291_556]);
    assert_eq!(r.status, 202);
    assert_eq!(invoker.join().unwrap().body.len(), 6_291_556);
}

#[test]
fn a_chunked_response_over_the_limit_is_refused_midway() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    let (id, _) = next(&mut rt);
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        response_path(&id)
    );
    rt.send(head.as_bytes());
    let chunk = vec![b'z'; 1 << 20];
    for _ in 0..7 {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        if rt.stream().write_all(&framed).is_err() {
            break;
        }
    }
    let r = rt.read_response();
    assert_eq!(r.status, 413);
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(
        invoker.join().unwrap().json()["errorType"],
        "Function.ResponseSizeTooLarge"
    );
}

#[test]
fn chunked_bodies_with_trailers_and_expect_continue() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    let (id, _) = next(&mut rt);
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\
         Trailer: X-Checksum\r\n\r\n",
        response_path(&id)
    );
    rt.send(head.as_bytes());
    // The server says to go on before the body is sent.
    let interim = rt.read_response();
    assert_eq!(interim.status, 100);
    rt.send(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Checksum: 1\r\n\r\n");
    assert_eq!(rt.read_response().status, 202);
    assert_eq!(invoker.join().unwrap().body, b"hello world");
}

#[test]
fn error_trailers_on_a_buffered_response_make_it_a_function_error() {
    // aws-lambda-go sends every /response chunked and, when the handler's reader fails
    // part-way, puts the error in trailers; as in RIE's Managed Instances code, the
    // invocation is that function error, not the partial body.
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    let (id, _) = next(&mut rt);
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
         Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n",
        response_path(&id)
    );
    rt.send(head.as_bytes());
    // {"errorMessage":"read failed","errorType":"ReaderError"}, base64.
    let body = "eyJlcnJvck1lc3NhZ2UiOiJyZWFkIGZhaWxlZCIsImVycm9yVHlwZSI6IlJlYWRlckVycm9yIn0=";
    let chunks = format!(
        "7\r\npartial\r\n0\r\nLambda-Runtime-Function-Error-Type: ReaderError\r\n\
         Lambda-Runtime-Function-Error-Body: {body}\r\n\r\n"
    );
    rt.send(chunks.as_bytes());
    assert_eq!(rt.read_response().status, 202);
    let r = invoker.join().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(
        r.json(),
        serde_json::json!({"errorMessage": "read failed", "errorType": "ReaderError"})
    );
}

#[test]
fn init_error_answers_the_waiting_invoker_and_next_is_refused_until_a_new_init() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    wait_state(&sim, "the invocation to wait for the init", |s| {
        s.queued == 1
    });
    let r = rt.request(
        "POST",
        "/2018-06-01/runtime/init/error",
        &[("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")],
        br#"{"errorMessage":"no config","errorType":"ConfigError"}"#,
    );
    assert_eq!((r.status, r.text().as_str()), (202, r#"{"status":"OK"}"#));
    let reply = invoker.join().unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(
        reply.text(),
        r#"{"errorMessage":"no config","errorType":"ConfigError"}"#
    );
    let refused = rt.request("GET", NEXT, &[], b"");
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.json()["errorMessage"],
        "State transition from InitError to Ready failed for runtime. Error: State transition is not allowed"
    );
    let again = rt.request("POST", "/2018-06-01/runtime/init/error", &[], b"{}");
    assert_eq!(again.status, 403);
    // The next invocation starts a new init; the runtime's /next now succeeds.
    let invoker = invoke_async(&sim, &[], r#"{"n":2}"#);
    wait_state(&sim, "a new init", |s| {
        s.queued == 1 && s.first().runtime_state == "Started"
    });
    let (id, next) = next(&mut rt);
    assert_eq!(next.body, br#"{"n":2}"#);
    rt.request("POST", &response_path(&id), &[], b"ok");
    assert_eq!(invoker.join().unwrap().body, b"ok");
}

#[test]
fn init_error_after_init_is_403() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    let (id, _) = next(&mut rt);
    let r = rt.request("POST", "/2018-06-01/runtime/init/error", &[], b"{}");
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["errorMessage"],
        "State transition from Running to InitError failed for runtime. Error: State transition is not allowed"
    );
    rt.request("POST", &response_path(&id), &[], b"fine");
    assert_eq!(invoker.join().unwrap().body, b"fine");
}

#[test]
fn several_parked_next_calls_longest_waiting_first() {
    let sim = external(TIMEOUT);
    let mut a = Client::connect(sim.runtime_api_addr());
    let mut b = Client::connect(sim.runtime_api_addr());
    a.send(&request_bytes("GET", NEXT, &[], b""));
    wait_state(&sim, "a parked", |s| s.first().parked == 1);
    b.send(&request_bytes("GET", NEXT, &[], b""));
    wait_state(&sim, "b parked", |s| s.first().parked == 2);
    let first = invoke_async(&sim, &[], r#"{"n":1}"#);
    let got = a.read_response();
    assert_eq!(got.body, br#"{"n":1}"#);
    let id = got
        .header("Lambda-Runtime-Aws-Request-Id")
        .unwrap()
        .to_string();
    a.request("POST", &response_path(&id), &[], b"one");
    assert_eq!(first.join().unwrap().body, b"one");
    // a is back on /next; b waited longer and gets the next one.
    a.send(&request_bytes("GET", NEXT, &[], b""));
    wait_state(&sim, "both parked", |s| {
        s.first().parked == 2 && s.first().runtime_state == "Ready"
    });
    let second = invoke_async(&sim, &[], r#"{"n":2}"#);
    let got = b.read_response();
    assert_eq!(got.body, br#"{"n":2}"#);
    let id = got
        .header("Lambda-Runtime-Aws-Request-Id")
        .unwrap()
        .to_string();
    b.request("POST", &response_path(&id), &[], b"two");
    assert_eq!(second.join().unwrap().body, b"two");
}

#[test]
fn a_parked_next_that_disconnects_is_dropped() {
    let sim = external(TIMEOUT);
    {
        let mut gone = Client::connect(sim.runtime_api_addr());
        gone.send(&request_bytes("GET", NEXT, &[], b""));
        wait_state(&sim, "the /next parked", |s| s.first().parked == 1);
    }
    wait_state(&sim, "the closed /next dropped", |s| s.first().parked == 0);
    let invoker = invoke_async(&sim, &[], r#"{"n":1}"#);
    wait_state(&sim, "the invocation queued", |s| s.queued == 1);
    // The invocation waits for a live /next rather than going to the closed one.
    let mut rt = Client::connect(sim.runtime_api_addr());
    let (id, next) = next(&mut rt);
    assert_eq!(next.body, br#"{"n":1}"#);
    rt.request("POST", &response_path(&id), &[], b"ok");
    assert_eq!(invoker.join().unwrap().body, b"ok");
}

#[test]
fn a_next_while_running_renders_the_same_invocation_again() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], r#"{"n":1}"#);
    let (id, _) = next(&mut rt);
    let mut reconnected = Client::connect(sim.runtime_api_addr());
    let (again, body) = next(&mut reconnected);
    assert_eq!(again, id);
    assert_eq!(body.body, br#"{"n":1}"#);
    reconnected.request("POST", &response_path(&id), &[], b"ok");
    assert_eq!(invoker.join().unwrap().body, b"ok");
}

#[test]
fn a_timeout_answers_sandbox_timedout_and_invalidates_the_id() {
    let sim = external(Duration::from_millis(300));
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    let (id, _) = next(&mut rt);
    let reply = invoker.join().unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(reply.json()["errorType"], "Sandbox.Timedout");
    assert_eq!(
        reply.json()["errorMessage"],
        format!("RequestId: {id} Error: Task timed out after 0.30 seconds")
    );
    let late = rt.request("POST", &response_path(&id), &[], b"late");
    assert_eq!(late.status, 400);
    // Decision *external runtime*: the runtime's next /next starts a new init and gets new work.
    let invoker = invoke_async(&sim, &[], r#"{"n":2}"#);
    let (id2, next) = next(&mut rt);
    assert_ne!(id2, id);
    assert_eq!(next.body, br#"{"n":2}"#);
    rt.request("POST", &response_path(&id2), &[], b"ok");
    assert_eq!(invoker.join().unwrap().body, b"ok");
    let lines = wait_line(&sim, "Status: timeout", Duration::from_secs(5));
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("{id} Task timed out after 0.30 seconds"))),
        "{lines:?}"
    );
}

#[test]
fn keep_alive_pipelining_and_http10() {
    let sim = external(TIMEOUT);
    let mut c = Client::connect(sim.runtime_api_addr());
    // Three pipelined requests in one write, answered in order on one connection.
    let mut batch = request_bytes("GET", "/ping", &[], b"");
    batch.extend(request_bytes("GET", "/nope", &[], b""));
    batch.extend(request_bytes("GET", "/2018-06-01/ping", &[], b""));
    c.send(&batch);
    assert_eq!(c.read_response().text(), "pong");
    assert_eq!(c.read_response().status, 404);
    assert_eq!(c.read_response().text(), "pong");
    // HTTP/1.0 without keep-alive: answered, then closed.
    let mut old = Client::connect(sim.runtime_api_addr());
    old.send(b"GET /ping HTTP/1.0\r\n\r\n");
    let r = old.read_response();
    assert_eq!((r.status, r.header("Connection")), (200, Some("close")));
    assert!(old.is_closed());
    // Connection: close is honoured.
    let mut once = Client::connect(sim.runtime_api_addr());
    once.send(b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(once.read_response().status, 200);
    assert!(once.is_closed());
}

#[test]
fn a_pipelined_request_behind_a_parked_next_waits_its_turn() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let mut batch = request_bytes("GET", NEXT, &[], b"");
    batch.extend(request_bytes("GET", "/ping", &[], b""));
    rt.send(&batch);
    wait_state(&sim, "the /next parked", |s| s.first().parked == 1);
    let invoker = invoke_async(&sim, &[], r#"{"n":1}"#);
    let first = rt.read_response();
    assert_eq!(first.body, br#"{"n":1}"#, "the /next answer comes first");
    assert_eq!(rt.read_response().text(), "pong");
    let id = first.header("Lambda-Runtime-Aws-Request-Id").unwrap();
    rt.request("POST", &response_path(id), &[], b"ok");
    invoker.join().unwrap();
}

#[test]
fn malformed_requests_get_400_json_and_are_closed() {
    let sim = external(TIMEOUT);
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"POST /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
        b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ] {
        let mut c = Client::connect(sim.runtime_api_addr());
        c.send(garbage);
        let r = c.read_response();
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(garbage));
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert!(
            r.json()["errorMessage"]
                .as_str()
                .unwrap()
                .starts_with("malformed HTTP request")
        );
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(c.is_closed());
    }
    // The server is unharmed.
    assert_eq!(
        Client::connect(sim.runtime_api_addr())
            .request("GET", "/ping", &[], b"")
            .status,
        200
    );
}

#[test]
fn oversized_heads_get_431() {
    let sim = external(TIMEOUT);
    let mut c = Client::connect(sim.runtime_api_addr());
    let long = "a".repeat(1024 * 1024 + 1);
    let r = c.request("GET", "/ping", &[("X-Long", &long)], b"");
    assert_eq!(r.status, 431);
    assert_eq!(r.json()["errorType"], "RequestHeaderFieldsTooLarge");
    let mut c = Client::connect(sim.runtime_api_addr());
    let many: Vec<(String, String)> = (0..101)
        .map(|i| (format!("X-{i}"), "v".to_string()))
        .collect();
    let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(c.request("GET", "/ping", &refs, b"").status, 431);
}

#[test]
fn a_large_xray_error_cause_header_is_accepted() {
    let sim = external(TIMEOUT);
    let mut rt = Client::connect(sim.runtime_api_addr());
    let invoker = invoke_async(&sim, &[], "{}");
    let (id, _) = next(&mut rt);
    // A deep stack trace in the X-Ray cause header, as the Java and .NET clients send it.
    let cause = format!(
        r#"{{"working_directory":"/var/task","exceptions":[{{"message":"{}"}}]}}"#,
        "x".repeat(200_000)
    );
    let r = rt.request(
        "POST",
        &error_path(&id),
        &[("Lambda-Runtime-Function-XRay-Error-Cause", &cause)],
        br#"{"errorMessage":"deep","errorType":"Deep"}"#,
    );
    assert_eq!(r.status, 202);
    assert_eq!(invoker.join().unwrap().json()["errorType"], "Deep");
}

#[test]
fn unknown_routes_404_and_wrong_methods_405_in_json() {
    let sim = external(TIMEOUT);
    let mut c = Client::connect(sim.runtime_api_addr());
    let r = c.request("GET", "/2018-06-01/runtime/nothing", &[], b"");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["errorType"], "NotFound");
    let r = c.request("POST", NEXT, &[], b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET"));
    let mut inv = Client::connect(sim.invoke_addr());
    let r = inv.request("GET", INVOKE, &[], b"");
    assert_eq!(r.status, 405);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("MethodNotAllowedException")
    );
    let r = inv.request("GET", "/ping", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "pong"));
}

#[test]
fn a_request_followed_by_eof_is_answered_and_closed() {
    // The request and the client's EOF arrive together: the short read that empties the socket
    // must not hide the EOF (the readiness event reports it).
    let sim = external(TIMEOUT);
    for _ in 0..20 {
        let mut stream = std::net::TcpStream::connect(sim.runtime_api_addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"GET /2018-06-01/ping HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .expect("the server closes after answering");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.ends_with("pong"), "{text}");
    }
}

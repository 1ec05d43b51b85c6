//! The embedding API: builder, handle, tickets, captured lines, several simulators in one
//! test binary.
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use common::*;
use lambda_sim::{InvokeRequest, LogOutput, Simulator};

#[test]
fn two_simulators_side_by_side() {
    let a = Simulator::builder()
        .command(python_runtime("echo"))
        .function_name("a")
        .start()
        .unwrap();
    let b = Simulator::builder()
        .command(python_runtime("echo"))
        .function_name("b")
        .start()
        .unwrap();
    assert_ne!(a.runtime_api_addr(), b.runtime_api_addr());
    let ta = thread::spawn(move || {
        let r = a.invoke(r#"{"action":"env"}"#).unwrap();
        let env: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        (env["AWS_LAMBDA_FUNCTION_NAME"].clone(), a)
    });
    let r = b.invoke(r#"{"action":"env"}"#).unwrap();
    let env: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "b");
    let (name_a, a) = ta.join().unwrap();
    assert_eq!(name_a, "a");
    // One shutting down leaves the other running (no process-wide signal handling or reaping).
    a.shutdown().unwrap();
    assert_eq!(
        b.invoke(r#"{"still":"here"}"#).unwrap().body_str(),
        r#"{"still":"here"}"#
    );
}

#[test]
fn tickets_deliver_answers_with_timings() {
    let sim = external(Duration::from_secs(5));
    let ticket = sim.submit(r#"{"n":1}"#).unwrap();
    assert_eq!(ticket.try_result().unwrap(), None);
    assert_eq!(
        ticket.wait_timeout(Duration::from_millis(20)).unwrap(),
        None
    );
    let mut rt = Client::connect(sim.runtime_api_addr());
    let (id, _) = next(&mut rt);
    rt.request(
        "POST",
        &response_path(&id),
        &[("Content-Type", "text/plain")],
        b"done",
    );
    let r = ticket
        .wait_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.request_id, id);
    assert_eq!(r.body, b"done");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("X-Amzn-RequestId"), Some(id.as_str()));
    let t = r.timings;
    assert!(t.released.is_some());
    assert!(t.received <= t.released.unwrap() && t.released.unwrap() <= t.responded);
    assert_eq!(t.total(), t.queued() + t.duration());
}

#[test]
fn invoke_with_carries_every_detail() {
    // Tenant isolation: only then may an invocation name a tenant.
    let sim = Simulator::builder()
        .timeout(Duration::from_secs(5))
        .tenant_isolation(true)
        .log_output(LogOutput::Capture)
        .start()
        .unwrap();
    let mut rt = Client::connect(sim.runtime_api_addr());
    let ticket = sim
        .submit_with(InvokeRequest {
            payload: b"raw bytes, not JSON".to_vec(),
            content_type: Some("application/octet-stream".into()),
            client_context: Some(r#"{"env":{}}"#.into()),
            tenant_id: Some("t-9".into()),
            trace_id: Some(
                "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1".into(),
            ),
            ..InvokeRequest::default()
        })
        .unwrap();
    let (id, next) = next(&mut rt);
    assert_eq!(
        next.body, b"raw bytes, not JSON",
        "the embedding API passes raw bytes"
    );
    assert_eq!(
        next.header("Content-Type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        next.header("Lambda-Runtime-Client-Context"),
        Some(r#"{"env":{}}"#)
    );
    assert_eq!(next.header("Lambda-Runtime-Aws-Tenant-Id"), Some("t-9"));
    assert!(
        next.header("Lambda-Runtime-Trace-Id")
            .unwrap()
            .ends_with("Sampled=1")
    );
    rt.request("POST", &response_path(&id), &[], b"ok");
    assert_eq!(ticket.wait().unwrap().body, b"ok");

    // Checked as over HTTP: never forwarded as they came.
    for request in [
        InvokeRequest {
            tenant_id: Some("t;9".into()),
            ..InvokeRequest::default()
        },
        InvokeRequest {
            tenant_id: Some("t-9".into()),
            trace_id: Some("Root=1-00000000-000000000000000000000000;\"<".into()),
            ..InvokeRequest::default()
        },
    ] {
        let refused = sim.invoke_with(request).unwrap();
        assert_eq!(
            refused.status,
            400,
            "{}",
            String::from_utf8_lossy(&refused.body)
        );
        assert_eq!(
            refused.header("X-Amzn-ErrorType"),
            Some("InvalidParameterValueException")
        );
    }
}

#[test]
fn queued_tickets_get_sandbox_shutdown_and_later_calls_fail() {
    let sim = Simulator::builder().start().unwrap();
    let tickets: Vec<_> = (0..3).map(|_| sim.submit("{}").unwrap()).collect();
    wait_state(&sim, "all queued", |s| s.queued == 3);
    sim.shutdown().unwrap();
    for ticket in tickets {
        let r = ticket.wait().unwrap();
        assert_eq!(r.function_error(), Some("Unhandled"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["errorType"], "Sandbox.Shutdown");
    }
}

#[test]
fn a_dropped_handle_stops_the_simulator_and_its_children() {
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .start()
        .unwrap();
    let r = sim.invoke(r#"{"action":"pid"}"#).unwrap();
    let pid = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["pid"]
        .as_i64()
        .unwrap() as i32;
    let addr: SocketAddr = sim.invoke_addr();
    drop(sim);
    assert!(!alive(pid));
    // Closed: connections are refused. Not at once in every case, because another test of
    // this process may be between fork and exec, its child holding a copy of every
    // descriptor (CLOEXEC closes them at the exec).
    assert!(
        wait_until(Duration::from_secs(2), || std::net::TcpStream::connect(
            addr
        )
        .is_err()),
        "the listener is closed"
    );
}

#[test]
fn a_rejected_submission_is_answered_not_lost() {
    let sim = Simulator::builder().max_queue(0).start().unwrap();
    let first = sim.submit("{}").unwrap();
    let second = sim.invoke("{}").unwrap();
    assert_eq!(second.status, 429);
    assert_eq!(
        second.header("x-amzn-ErrorType"),
        Some("TooManyRequestsException")
    );
    assert!(second.request_id.is_empty());
    drop(first);
}

#[test]
fn captured_lines_and_quiet() {
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .log_output(LogOutput::Capture)
        .quiet(true)
        .start()
        .unwrap();
    let r = sim
        .invoke(r#"{"action":"print","lines":["hello"]}"#)
        .unwrap();
    assert_eq!(r.status, 200);
    let lines = wait_line(&sim, "to stderr", Duration::from_secs(10));
    assert!(lines.iter().any(|l| l == "hello"));
    // Quiet: the function's output stays, the lifecycle lines go.
    let later: Vec<String> =
        std::iter::from_fn(|| sim.next_line(Duration::from_millis(300))).collect();
    let all: Vec<&String> = lines.iter().chain(later.iter()).collect();
    assert!(
        !all.iter()
            .any(|l| l.starts_with("START") || l.starts_with("REPORT")),
        "{all:?}"
    );
}

#[test]
fn the_state_of_the_environment() {
    let sim = external(Duration::from_secs(5));
    let s = sim.state().unwrap();
    assert_eq!(
        (
            s.first().runtime_state,
            s.queued,
            s.first().parked,
            s.first().current.clone()
        ),
        ("Started", 0, 0, None)
    );
    let mut rt = Client::connect(sim.runtime_api_addr());
    rt.send(&request_bytes("GET", NEXT, &[], b""));
    wait_state(&sim, "ready and parked", |s| {
        s.first().runtime_state == "Ready" && s.first().parked == 1
    });
    let ticket = sim.submit("{}").unwrap();
    let next = rt.read_response();
    let id = next
        .header("Lambda-Runtime-Aws-Request-Id")
        .unwrap()
        .to_string();
    let s = sim.state().unwrap();
    assert_eq!(
        (s.first().runtime_state, s.first().current.as_deref()),
        ("Running", Some(id.as_str()))
    );
    rt.request("POST", &response_path(&id), &[], b"x");
    ticket.wait().unwrap();
    let s = sim.state().unwrap();
    assert_eq!(s.first().runtime_state, "RuntimeResponseSentState");
    assert_eq!(
        s.first().current.as_deref(),
        Some(id.as_str()),
        "in flight until back on /next"
    );
}

#[test]
fn answers_arrive_whether_the_caller_polls_or_sleeps() {
    // The default polls for up to DEFAULT_SPIN, then sleeps; zero sleeps at once. A slow
    // invocation outlasts the polling in both cases.
    for spin in [lambda_sim::DEFAULT_SPIN, Duration::ZERO] {
        let sim = Simulator::builder()
            .command(python_runtime("echo"))
            .spin_wait(spin)
            .start()
            .unwrap();
        let fast = sim.invoke(r#"{"n":1}"#).unwrap();
        assert_eq!(fast.body_str(), r#"{"n":1}"#, "spin {spin:?}");
        let slow = sim.invoke(r#"{"action":"sleep","seconds":0.05}"#).unwrap();
        assert_eq!(slow.status, 200, "spin {spin:?}: {}", slow.body_str());
        assert!(slow.timings.duration().to_duration() >= Duration::from_millis(50));
    }
}

#[test]
fn a_ticket_answers_once_then_gives_its_report() {
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .start()
        .unwrap();
    let ticket = sim.submit_reported(InvokeRequest::default()).unwrap();
    let answer = ticket.wait().unwrap();
    assert_eq!(answer.status, 200);
    // The answer came once: a second wait says so at once rather than blocking.
    assert_eq!(ticket.wait().unwrap_err(), lambda_sim::Stopped);
    let report = ticket.report().unwrap().expect("it reached the runtime");
    assert_eq!(report.request_id, answer.request_id);
    // The simulator's thread has done work, and its clock reads while it runs.
    let cpu = sim.cpu_time().expect("running");
    assert!(cpu > Duration::ZERO);
    sim.shutdown().unwrap();
}

#[test]
fn a_command_that_cannot_run_fails_start_with_the_clis_message() {
    let err = Simulator::builder()
        .command(["/nonexistent/bootstrap"])
        .start()
        .expect_err("nothing to run");
    assert!(
        err.to_string()
            .contains("bootstrap /nonexistent/bootstrap does not exist"),
        "{err}"
    );
    let err = Simulator::builder()
        .command(["no-such-program-on-path-xyz"])
        .start()
        .expect_err("nothing to run");
    assert!(
        err.to_string().contains("not an executable on PATH"),
        "{err}"
    );
    let err = Simulator::builder()
        .command(["/bin/true"])
        .extension("logger", [env!("CARGO_MANIFEST_DIR")])
        .start()
        .expect_err("a directory is no extension");
    assert!(
        err.to_string().contains("extension logger: ")
            && err.to_string().contains("not an executable file"),
        "{err}"
    );
}

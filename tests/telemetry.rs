//! The Telemetry API over real sockets and processes: an extension (tests/fixtures/extension.py)
//! subscribes during its init, and a listener in this test receives the batches. A cold start's
//! events in order and their schemas; a listener that answers 500, one that is slow, one that
//! is down (telemetry-api.html).
//!
//! These simulators do not freeze, so that each invocation's records can arrive before the next
//! one; what freezing does to delivery (the last report held until the thaw) is pinned in
//! tests/freeze.rs.
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::listener::{Answer, Listener, listener};
use common::*;
use lambda_sim::{Handle, LogOutput, Simulator};

fn extension_command(mode: &[&str]) -> Vec<String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/extension.py");
    let mut command = vec![
        "python3".to_string(),
        script.display().to_string(),
        "tel".to_string(),
    ];
    command.extend(mode.iter().map(|m| m.to_string()));
    command
}

fn sim(port: u16) -> Handle {
    Simulator::builder()
        .freeze(false)
        .command(python_runtime("echo"))
        .extension("tel", extension_command(&["telemetry", &port.to_string()]))
        .log_output(LogOutput::Capture)
        .seed(11)
        .start()
        .unwrap()
}

/// Collects events until one of type `kind` for `request_id` has come (or panics).
fn until(listener: &Listener, kind: &str, request_id: &str) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let Ok(batch) = listener.batches.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let done = batch
            .iter()
            .any(|e| e["type"] == kind && e["record"]["requestId"] == request_id);
        seen.extend(batch);
        if done {
            return seen;
        }
    }
    panic!("no {kind} for {request_id}; saw {seen:#?}");
}

fn types(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_cold_start_reaches_the_subscriber_in_lambdas_order() {
    let listener = listener(vec![Answer::Ok]);
    let sim = sim(listener.port);
    let r = sim
        .invoke(r#"{"action":"print","lines":["hello from the function"]}"#)
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body_str());
    let events = until(&listener, "platform.report", &r.request_id);
    let platform: Vec<String> = types(&events)
        .into_iter()
        .filter(|t| t.starts_with("platform."))
        .collect();
    assert_eq!(
        platform,
        [
            "platform.initStart",
            "platform.telemetrySubscription",
            "platform.initRuntimeDone",
            "platform.extension",
            "platform.initReport",
            "platform.start",
            "platform.runtimeDone",
            "platform.report",
        ],
        "{events:#?}"
    );
    // The init is replayed: the extension's own early lines are there, before it subscribed.
    let first_line = events
        .iter()
        .position(|e| e["type"] == "extension")
        .expect("extension lines");
    let subscribed = events
        .iter()
        .position(|e| e["type"] == "platform.telemetrySubscription")
        .unwrap();
    assert!(first_line < subscribed, "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "function" && e["record"] == "hello from the function"),
        "{events:#?}"
    );
    let find = |kind: &str| events.iter().find(|e| e["type"] == kind).unwrap();
    assert_eq!(
        find("platform.telemetrySubscription")["record"],
        serde_json::json!({"name": "tel", "state": "Subscribed", "types": ["platform", "function", "extension"]})
    );
    let start = &find("platform.start")["record"];
    assert_eq!(start["requestId"], r.request_id);
    assert_eq!(start["tracing"]["type"], "X-Amzn-Trace-Id");
    let done = &find("platform.runtimeDone")["record"];
    assert_eq!(done["status"], "success");
    assert!(done["metrics"]["durationMs"].as_f64().unwrap() > 0.0);
    assert_eq!(done["spans"][0]["name"], "responseLatency");
    assert_eq!(done["spans"][1]["name"], "responseDuration");
    let report = &find("platform.report")["record"];
    assert_eq!(report["status"], "success");
    assert_eq!(report["metrics"]["memorySizeMB"], 128);
    assert!(report["metrics"]["maxMemoryUsedMB"].as_u64().unwrap() > 0);
    assert!(report["metrics"]["initDurationMs"].as_f64().is_some());
    assert_eq!(report["spans"][0]["name"], "extensionOverhead");
    assert!(
        events.iter().all(|e| e["time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 24)),
        "ISO-8601 with milliseconds"
    );

    // A warm invocation: start, runtimeDone, report, and no init.
    let warm = sim.invoke("{}").unwrap();
    let events = until(&listener, "platform.report", &warm.request_id);
    let platform: Vec<String> = types(&events)
        .into_iter()
        .filter(|t| t.starts_with("platform."))
        .collect();
    assert_eq!(
        platform,
        ["platform.start", "platform.runtimeDone", "platform.report"]
    );
}

#[test]
fn a_listener_that_answers_500_gets_the_batch_again() {
    let listener = listener(vec![Answer::Status500, Answer::Status500, Answer::Ok]);
    let sim = sim(listener.port);
    let r = sim.invoke("{}").unwrap();
    assert_eq!(r.status, 200);
    let first = listener
        .batches
        .recv_timeout(Duration::from_secs(15))
        .unwrap();
    let second = listener
        .batches
        .recv_timeout(Duration::from_secs(15))
        .unwrap();
    // The retry starts where the refused batch did.
    assert_eq!(first[0], second[0]);
    assert_eq!(first[0]["type"], "platform.initStart");
    until(&listener, "platform.report", &r.request_id);
}

#[test]
fn a_slow_listener_delays_nobody() {
    let listener = listener(vec![Answer::Hold, Answer::Ok]);
    let sim = sim(listener.port);
    // The first batch is held, unanswered, while invocations go on.
    let r = sim.invoke("{}").unwrap();
    assert_eq!(r.status, 200);
    let held = listener
        .batches
        .recv_timeout(Duration::from_secs(15))
        .unwrap();
    assert_eq!(held[0]["type"], "platform.initStart");
    for _ in 0..5 {
        let r = sim.invoke("{}").unwrap();
        assert_eq!(r.status, 200);
    }
    assert!(
        listener.batches.try_recv().is_err(),
        "one batch in flight per subscriber"
    );
    listener.release.send(()).unwrap();
    let last = sim.invoke("{}").unwrap();
    until(&listener, "platform.report", &last.request_id);
}

#[test]
fn a_listener_that_is_down_changes_nothing_for_the_function() {
    // A port with nothing behind it.
    let port = {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().port()
    };
    let sim = sim(port);
    for _ in 0..3 {
        let r = sim.invoke(r#"{"n":1}"#).unwrap();
        assert_eq!((r.status, r.body_str()), (200, r#"{"n":1}"#.to_string()));
    }
    let lines = wait_line(&sim, "subscribe 200", Duration::from_secs(5));
    assert!(
        lines.iter().any(|l| l.contains(r#"subscribe 200 "OK""#)),
        "{lines:#?}"
    );
}

#[test]
fn subscriptions_close_with_the_init_and_refusals_are_awss() {
    let sim = external(Duration::from_secs(3));
    let addr = sim.runtime_api_addr();
    let mut ext = Client::connect(addr);
    let r = ext.request(
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", "late")],
        br#"{"events":[]}"#,
    );
    let id = r.header("Lambda-Extension-Identifier").unwrap().to_string();
    let body = br#"{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:9"}}"#;
    let r = ext.request("PUT", "/2022-07-01/telemetry", &[], body);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["errorType"],
        "Extension.MissingExtensionIdentifier"
    );
    let r = ext.request(
        "PUT",
        "/2022-07-01/telemetry",
        &[("Lambda-Extension-Identifier", &id)],
        br#"{"schemaVersion":"2022-07-01","types":[]}"#,
    );
    assert_eq!(
        (r.status, r.json()["errorType"].as_str()),
        (400, Some("ValidationError"))
    );
    // The init ends when the runtime and the extension are on next.
    let mut runtime = Client::connect(addr);
    runtime.send(&request_bytes("GET", NEXT, &[], b""));
    ext.send(&request_bytes(
        "GET",
        "/2020-01-01/extension/event/next",
        &[("Lambda-Extension-Identifier", &id)],
        b"",
    ));
    sim.wait_for(lambda_sim::Awaited::Initialized, Duration::from_secs(10))
        .unwrap()
        .expect("initialised");
    let mut again = Client::connect(addr);
    let r = again.request(
        "PUT",
        "/2022-07-01/telemetry",
        &[("Lambda-Extension-Identifier", &id)],
        body,
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["errorType"], "Telemetry.SubscriptionClosed");
}

#[test]
fn the_embedding_api_captures_every_event_and_waits_for_one() {
    let sim = Simulator::builder()
        .freeze(false)
        .command(python_runtime("echo"))
        .capture_telemetry(1_000)
        .seed(12)
        .start()
        .unwrap();
    let r = sim
        .invoke(r#"{"action":"print","lines":["captured line"]}"#)
        .unwrap();
    let id = r.request_id.clone();
    let report = sim
        .wait_for_event(
            move |e| e["type"] == "platform.report" && e["record"]["requestId"] == id.as_str(),
            Duration::from_secs(10),
        )
        .unwrap()
        .expect("the report");
    assert_eq!(report["record"]["status"], "success");
    // Race-free: an event emitted long before the call is found too.
    let start = sim
        .wait_for_event(
            |e| e["type"] == "platform.initStart",
            Duration::from_secs(1),
        )
        .unwrap();
    assert!(start.is_some());
    assert_eq!(
        sim.wait_for_event(|e| e["type"] == "platform.never", Duration::from_millis(50))
            .unwrap(),
        None
    );
    let captured = sim.telemetry().unwrap();
    assert_eq!(captured.dropped, 0);
    let kinds = types(&captured.events);
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("platform.initStart")
    );
    assert!(kinds.iter().any(|k| k == "function"), "{kinds:?}");
    assert!(
        captured
            .events
            .iter()
            .any(|e| e["type"] == "function" && e["record"] == "captured line")
    );
}

#[test]
fn the_capture_is_bounded_and_counts_what_it_let_go() {
    let sim = Simulator::builder()
        .freeze(false)
        .command(python_runtime("echo"))
        .capture_telemetry(3)
        .start()
        .unwrap();
    let r = sim.invoke("{}").unwrap();
    wait_for_report(&sim, &r.request_id);
    let captured = sim.telemetry().unwrap();
    assert_eq!(captured.events.len(), 3);
    assert!(captured.dropped > 0);
    assert_eq!(captured.events[2]["type"], "platform.report");
    // Without capture, nothing is kept.
    let plain = Simulator::builder().start().unwrap();
    assert_eq!(
        plain.telemetry().unwrap(),
        lambda_sim::TelemetryCapture::default()
    );
}

#[test]
fn a_logs_api_subscriber_gets_the_older_records() {
    let listener = listener(vec![Answer::Ok]);
    let sim = Simulator::builder()
        .freeze(false)
        .command(python_runtime("echo"))
        .extension(
            "tel",
            extension_command(&["logs", &listener.port.to_string()]),
        )
        .start()
        .unwrap();
    let r = sim
        .invoke(r#"{"action":"print","lines":["for the logs api"]}"#)
        .unwrap();
    let events = until(&listener, "platform.report", &r.request_id);
    let platform: Vec<String> = types(&events)
        .into_iter()
        .filter(|t| t.starts_with("platform."))
        .collect();
    assert_eq!(
        platform,
        [
            "platform.logsSubscription",
            "platform.extension",
            "platform.start",
            "platform.runtimeDone",
            "platform.end",
            "platform.report",
        ],
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "function" && e["record"] == "for the logs api")
    );
}

#[test]
fn with_the_json_log_format_json_lines_reach_subscribers_as_objects() {
    let sim = Simulator::builder()
        .freeze(false)
        .command(python_runtime("echo"))
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .capture_telemetry(100)
        .start()
        .unwrap();
    sim.invoke(r#"{"action":"print","lines":["{\"level\":\"INFO\",\"message\":\"structured\"}"]}"#)
        .unwrap();
    let event = sim
        .wait_for_event(
            |e| e["type"] == "function" && e["record"]["message"] == "structured",
            Duration::from_secs(10),
        )
        .unwrap()
        .expect("the line as an object");
    assert_eq!(event["record"]["level"], "INFO");
}

#[test]
fn a_failed_init_and_its_retry_each_report_their_phase() {
    let mark = std::env::temp_dir().join(format!(
        "lambda-sim-telemetry-retry-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut runtime = python_runtime("exit-at-first-init");
    runtime.push(mark.display().to_string());
    let sim = Simulator::builder()
        .freeze(false)
        .command(runtime)
        .capture_telemetry(1_000)
        .start()
        .unwrap();
    // The first init fails, the retry inside the invocation succeeds: the invoker sees only
    // the success.
    let r = sim.invoke(r#"{"n":1}"#).unwrap();
    assert_eq!((r.status, r.body_str()), (200, r#"{"n":1}"#.to_string()));
    wait_for_report(&sim, &r.request_id);
    let events = sim.telemetry().unwrap().events;
    let init: Vec<(String, String, String)> = events
        .iter()
        .filter(|e| e["type"] == "platform.initStart" || e["type"] == "platform.initReport")
        .map(|e| {
            let field = |k: &str| e["record"][k].as_str().unwrap_or("").to_string();
            (
                e["type"].as_str().unwrap().to_string(),
                field("phase"),
                field("status"),
            )
        })
        .collect();
    let expect = |t: &str, phase: &str, status: &str| (t.into(), phase.into(), status.into());
    assert_eq!(
        init,
        [
            expect("platform.initStart", "init", ""),
            expect("platform.initReport", "init", "failure"),
            expect("platform.initStart", "invoke", ""),
            expect("platform.initReport", "invoke", "success"),
        ],
        "{events:#?}"
    );
    let _ = std::fs::remove_file(mark);
}

/// Waits for the captured `platform.report` of invocation `id`.
fn wait_for_report(sim: &lambda_sim::Handle, id: &str) {
    let id = id.to_string();
    sim.wait_for_event(
        move |e| e["type"] == "platform.report" && e["record"]["requestId"] == id.as_str(),
        Duration::from_secs(10),
    )
    .unwrap()
    .expect("the report");
}

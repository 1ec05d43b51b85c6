//! The official `lambda-extension` crate's telemetry processor as a subscriber: an external
//! extension under lambda-sim, beside a function written with `lambda_runtime`, receives a cold
//! start's records and every invocation's, through the crate's own listener and parser.
//!
//! The environment is frozen between invocations, as on Lambda, so each invocation's report
//! reaches the extension during the next one: three invocations are checked, a fourth
//! delivers the third's report.

// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::invoke;
use serde_json::Value;

const FUNCTION: &str = env!("CARGO_BIN_EXE_echo-fn");
const EXTENSION: &str = env!("CARGO_BIN_EXE_telemetry-ext");

/// The records the extension wrote, one per line, once `done` holds for them (or at 20 s).
fn records_when(log: &std::path::Path, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let records: Vec<Value> = std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        if done(&records) || start.elapsed() > Duration::from_secs(20) {
            return records;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kind(record: &Value) -> &str {
    record["type"].as_str().unwrap_or("")
}

#[test]
fn receives_a_cold_start_and_every_invocation_and_parses_every_batch() {
    if !common::in_private_network(
        "receives_a_cold_start_and_every_invocation_and_parses_every_batch",
    ) {
        return;
    }
    let dir = std::env::temp_dir();
    let log = dir.join(format!(
        "lambda-sim-interop-telemetry-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&log);
    // Any port is free in a namespace of our own; ask the kernel for one all the same.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let ext_log = format!("EXT_LOG={}", log.display());
    let ext_port = format!("TELEMETRY_PORT={port}");
    let mut sim = common::start(
        &dir,
        &[
            "--extension",
            EXTENSION,
            "--env",
            &ext_log,
            "--env",
            &ext_port,
            "--function-name",
            "interop",
            "--",
            FUNCTION,
        ],
    );
    let mut request_ids = Vec::new();
    for i in 0..4 {
        // Frozen between invocations, the environment sends nothing; what came due while
        // frozen (25 ms batching) goes when the next invocation thaws it.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let r = invoke(
            sim.invoke,
            &format!(r#"{{"action":"log","line":"line {i}"}}"#),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        request_ids.push(
            r.header("x-amzn-requestid")
                .expect("a request id")
                .to_string(),
        );
    }
    let records = records_when(&log, |rs| {
        rs.iter().filter(|r| kind(r) == "platform.report").count() == 3
    });
    let status = sim.terminate();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_file(&log);
    let text: Vec<String> = records.iter().map(Value::to_string).collect();
    let text = text.join("\n");

    // The cold start, replayed to the subscriber from `initStart` on. The subscription's own
    // record races the runtime's first /next, so it is checked apart from the others.
    let subscriptions: Vec<&Value> = records
        .iter()
        .filter(|r| kind(r) == "platform.telemetrySubscription")
        .collect();
    assert_eq!(subscriptions.len(), 1, "{text}");
    assert_eq!(subscriptions[0]["record"]["name"], "telemetry-ext");
    assert_eq!(
        subscriptions[0]["record"]["types"],
        serde_json::json!(["platform", "function", "extension"])
    );
    let platform: Vec<&Value> = records
        .iter()
        .filter(|r| kind(r).starts_with("platform.") && kind(r) != "platform.telemetrySubscription")
        .collect();
    // The fourth invocation's start and runtimeDone may have come too, never its report.
    let order: Vec<&str> = platform.iter().take(13).map(|r| kind(r)).collect();
    let mut expected = vec![
        "platform.initStart",
        "platform.initRuntimeDone",
        "platform.extension",
        "platform.initReport",
    ];
    for _ in 0..3 {
        expected.extend(["platform.start", "platform.runtimeDone", "platform.report"]);
    }
    assert_eq!(order, expected, "{text}");
    assert_eq!(platform[0]["record"]["initializationType"], "on-demand");
    assert_eq!(platform[0]["record"]["phase"], "init");
    assert_eq!(platform[1]["record"]["status"], "success");
    assert_eq!(platform[2]["record"]["name"], "telemetry-ext");
    assert_eq!(platform[2]["record"]["state"], "Ready");
    // The crate's `platform.initReport` has no status field: what it keeps is the duration.
    assert!(platform[3]["record"]["metrics"]["durationMs"].as_f64() > Some(0.0));

    // Each invocation's three records carry its request id, and its line comes between its
    // start and the next invocation's.
    let mut lines: HashMap<&str, usize> = HashMap::new();
    for (at, r) in records.iter().enumerate() {
        if kind(r) == "function" {
            lines.insert(r["record"].as_str().unwrap_or(""), at);
        }
    }
    for (i, id) in request_ids.iter().take(3).enumerate() {
        let triple = &platform[4 + 3 * i..7 + 3 * i];
        for r in triple {
            assert_eq!(r["record"]["requestId"], id.as_str(), "{text}");
        }
        assert_eq!(triple[1]["record"]["status"], "success");
        assert_eq!(triple[2]["record"]["status"], "success");
        assert!(triple[2]["record"]["metrics"]["durationMs"].as_f64() > Some(0.0));
        let start_at = records
            .iter()
            .position(|r| std::ptr::eq(r, triple[0]))
            .expect("in the records");
        let line_at = lines
            .get(format!("line {i}").as_str())
            .unwrap_or_else(|| panic!("no function record for line {i}: {text}"));
        assert!(*line_at > start_at, "{text}");
    }
    // The first report carries the cold start's init duration, the others do not.
    let reports: Vec<&&Value> = platform
        .iter()
        .filter(|r| kind(r) == "platform.report")
        .collect();
    assert!(reports[0]["record"]["metrics"]["initDurationMs"].as_f64() > Some(0.0));
    assert!(reports[1]["record"]["metrics"]["initDurationMs"].is_null());
}

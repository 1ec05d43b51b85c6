//! lambda-sim's own diagnostic lines through the binary, as env_logger users know them:
//! `RUST_LOG` over `--log-level` and `LOG_LEVEL` for every target, module filters, the `/`
//! filter, microsecond timestamps; lifecycle lines in order with the diagnostic lines of the same
//! invocation on a shared stream; a refused extension registration named in a warning.
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use common::binary::Binary;
use common::{Client, python_extension, python_runtime};

/// Starts lambda-sim with an external runtime, its stderr in its stdout, makes one request to
/// its Runtime API (whose handling logs at debug), then stops it: every line it wrote.
fn lines_after_a_ping(args: &[&str], envs: &[(&str, &str)]) -> Vec<String> {
    let mut all_args = vec!["--external-runtime"];
    all_args.extend_from_slice(args);
    let sim = Binary::start_merged(&all_args, envs);
    let pong = Client::connect(sim.runtime_api).request("GET", "/2018-06-01/ping", &[], b"");
    assert_eq!(pong.status, 200);
    // The request is answered after its debug line is written.
    sim.stop_and_read()
}

fn debug_lines(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.contains(" DEBUG ")).collect()
}

#[test]
fn the_log_level_turns_on_lambda_sims_debug_lines_with_microsecond_timestamps() {
    let lines = lines_after_a_ping(&["--log-level", "debug"], &[]);
    let debug = debug_lines(&lines);
    assert!(!debug.is_empty(), "{lines:#?}");
    for line in &debug {
        // [2026-12-06T07:26:51.054379Z DEBUG lambda_sim::reactor::requests] ...
        let stamp = &line[1..28];
        let bytes = stamp.as_bytes();
        assert!(
            line.starts_with('[')
                && bytes[4] == b'-'
                && bytes[10] == b'T'
                && bytes[19] == b'.'
                && bytes[26] == b'Z'
                && stamp[20..26].bytes().all(|b| b.is_ascii_digit()),
            "not an RFC 3339 time to the microsecond: {line}"
        );
        assert!(line.contains(" DEBUG lambda_sim::"), "{line}");
    }
    // LOG_LEVEL does the same.
    let lines = lines_after_a_ping(&[], &[("LOG_LEVEL", "debug")]);
    assert!(!debug_lines(&lines).is_empty(), "{lines:#?}");
}

#[test]
fn rust_log_wins_over_the_log_level_and_log_level() {
    for (args, envs) in [
        (vec![], vec![("RUST_LOG", "error"), ("LOG_LEVEL", "debug")]),
        (vec!["--log-level", "debug"], vec![("RUST_LOG", "off")]),
        (vec!["--log-level", "trace"], vec![("RUST_LOG", "warn")]),
    ] {
        let lines = lines_after_a_ping(&args, &envs);
        assert!(
            debug_lines(&lines).is_empty(),
            "{args:?} {envs:?}: {lines:#?}"
        );
    }
}

#[test]
fn rust_log_filters_by_module_and_by_message_as_env_logger_does() {
    let lines = lines_after_a_ping(&[], &[("RUST_LOG", "lambda_sim::api=debug")]);
    let debug = debug_lines(&lines);
    assert!(!debug.is_empty(), "{lines:#?}");
    assert!(
        debug.iter().all(|l| l.contains(" lambda_sim::api::")),
        "{debug:#?}"
    );
    // The reactor logs the connection at debug too: the module filter left it out.
    let all = lines_after_a_ping(&[], &[("RUST_LOG", "debug")]);
    assert!(
        all.iter().any(|l| l.contains(" lambda_sim::reactor::")),
        "{all:#?}"
    );
    // After '/', only lines whose message contains the text.
    let lines = lines_after_a_ping(&[], &[("RUST_LOG", "debug/ping")]);
    let debug = debug_lines(&lines);
    assert!(!debug.is_empty(), "{lines:#?}");
    assert!(debug.iter().all(|l| l.contains("ping")), "{debug:#?}");
}

#[test]
fn an_unknown_log_level_is_a_bad_flag() {
    for (args, envs) in [
        (vec!["--log-level", "verbose", "./b"], vec![]),
        (vec!["./b"], vec![("LOG_LEVEL", "loud")]),
    ] {
        let out = std::process::Command::new(common::binary::BIN)
            .args(&args)
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("unknown log level") && err.contains("trace"),
            "{err}"
        );
    }
}

#[test]
fn lifecycle_lines_come_before_the_diagnostic_lines_of_their_invocation() {
    let runtime = python_runtime("echo");
    let mut args = vec!["--log-level", "debug", "--"];
    args.extend(runtime.iter().map(String::as_str));
    let sim = Binary::start_merged(&args, &[]);
    let mut ids = Vec::new();
    for n in 0..3 {
        let r = sim.invoke(&format!(r#"{{"n":{n}}}"#));
        assert_eq!(r.status, 200);
        ids.push(r.header("X-Amzn-RequestId").unwrap().to_string());
    }
    // Stopped at once: the shutdown completes the last invocation, REPORT included, even if
    // the runtime is not back on `/next` yet.
    let lines = sim.stop_and_read();
    for id in &ids {
        let at = |needle: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle}: {lines:#?}"))
        };
        let start = at(&format!("START RequestId: {id}"));
        let response = at(&format!("/invocation/{id}/response"));
        let report = at(&format!("REPORT RequestId: {id}"));
        assert!(
            start < response,
            "START after its response's debug line: {lines:#?}"
        );
        assert!(response < report, "{lines:#?}");
    }
}

#[test]
fn a_refused_extension_registration_is_a_warning_that_names_it() {
    // Started as "other", it registers as "wrong": an internal extension, which may not ask
    // for SHUTDOWN.
    let extension = python_extension("wrong", &["well-behaved"]).join(" ");
    let flag = format!("other={extension}");
    let runtime = python_runtime("echo");
    let mut args = vec!["--extension", flag.as_str(), "--"];
    args.extend(runtime.iter().map(String::as_str));
    let sim = Binary::start_merged(&args, &[]);
    let r = sim.invoke("{}");
    assert_eq!(r.header("X-Amz-Function-Error"), Some("Unhandled"));
    let lines = sim.stop_and_read();
    assert!(
        lines.iter().any(|l| l.contains(" WARN ")
            && l.contains("extension 'wrong' was refused registration: 403")
            && l.contains("Extension.InvalidEventType")
            && l.contains("ShutdownEventNotSupportedForInternalExtension")),
        "{lines:#?}"
    );
}

/// Starts lambda-sim on the scripted runtime with `flags`, makes `events` invocations one after
/// the other, and reads every line it wrote to stdout until it stops.
/// The records, and the last invocation's answer.
fn json_run(flags: &[&str], events: &[&str]) -> (Vec<serde_json::Value>, serde_json::Value) {
    let runtime = python_runtime("echo");
    let mut args = flags.to_vec();
    args.push("--");
    args.extend(runtime.iter().map(String::as_str));
    let sim = Binary::start(&args, &[]);
    let mut last = serde_json::Value::Null;
    for event in events {
        last = serde_json::from_str(&sim.invoke(event).text()).unwrap_or_default();
    }
    // A moment for the last lines to be written (they go in 10 ms batches).
    std::thread::sleep(std::time::Duration::from_millis(300));
    let records = sim
        .stop_and_read()
        .iter()
        // lambda-sim's own notices (the ready line, the signal) stay text.
        .filter(|l| !l.starts_with("lambda-sim"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    (records, last)
}

fn types(records: &[serde_json::Value]) -> Vec<&str> {
    records.iter().filter_map(|r| r["type"].as_str()).collect()
}

#[test]
fn with_the_json_log_format_every_line_is_a_json_record_filtered_by_level() {
    // https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html and
    // monitoring-cloudwatchlogs-log-level.html.
    let print = r#"{"action":"print","lines":["plain text","{\"level\":\"DEBUG\",\"msg\":\"detail\"}","{\"level\":\"error\",\"msg\":\"shown\"}"]}"#;
    let (records, env) = json_run(&["--log-format", "json"], &[print, r#"{"action":"env"}"#]);
    // The runtime is told, as Lambda tells it.
    assert_eq!(env["AWS_LAMBDA_LOG_FORMAT"], "JSON", "{env}");
    let kinds = types(&records);
    // System level INFO: start and report; the init and runtimeDone records are DEBUG.
    assert_eq!(
        kinds.iter().filter(|k| **k == "platform.start").count(),
        2,
        "{records:#?}"
    );
    assert_eq!(kinds.iter().filter(|k| **k == "platform.report").count(), 2);
    assert!(!kinds.contains(&"platform.runtimeDone"), "{kinds:?}");
    assert!(!kinds.contains(&"platform.initStart"), "{kinds:?}");
    // The function's plain line as a `function` record; its JSON lines as they are, the
    // DEBUG one filtered out at the default application level, INFO.
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "function" && r["record"] == "plain text")
    );
    assert!(records.iter().any(|r| r["msg"] == "shown"), "{records:#?}");
    assert!(
        !records.iter().any(|r| r["msg"] == "detail"),
        "{records:#?}"
    );
    // lambda-sim's records carry their time.
    assert!(
        records
            .iter()
            .filter(|r| r.get("msg").is_none())
            .all(|r| r["time"].as_str().is_some_and(|t| t.ends_with('Z'))),
        "{records:#?}"
    );
}

#[test]
fn the_application_and_system_log_levels_filter_as_lambdas_do() {
    let print = r#"{"action":"print","lines":["{\"level\":\"DEBUG\",\"msg\":\"detail\"}"]}"#;
    let (records, env) = json_run(
        &[
            "--log-format",
            "json",
            "--application-log-level",
            "debug",
            "--system-log-level",
            "warn",
        ],
        &[print, r#"{"action":"error"}"#, r#"{"action":"env"}"#],
    );
    // DEBUG lines of the function's are shown now.
    assert!(records.iter().any(|r| r["msg"] == "detail"), "{records:#?}");
    // At WARN, only the records of what did not succeed: the failed invocation's.
    let reports: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["type"] == "platform.report")
        .collect();
    assert_eq!(reports.len(), 1, "{records:#?}");
    assert_eq!(reports[0]["record"]["status"], "error");
    assert!(!types(&records).contains(&"platform.start"));
    assert_eq!(env["AWS_LAMBDA_LOG_LEVEL"], "DEBUG", "{env}");
}

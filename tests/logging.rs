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

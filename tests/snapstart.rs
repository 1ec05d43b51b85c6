//! SnapStart through the real binary (`--snap-start`, RIE's `--enable-init-caching`): the
//! snapshot's init at start-up, the frozen snapshot, the restore the first invocation waits
//! for, and a failed restore
//! (<https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-custom.html>).
#![allow(clippy::disallowed_methods)]

mod common;

use std::process::Command;

use common::binary::*;
use common::*;

fn start(mode: &str, flags: &[&str]) -> Binary {
    let runtime = python_runtime(mode);
    let mut args = flags.to_vec();
    args.push("--");
    args.extend(runtime.iter().map(String::as_str));
    Binary::start(&args, &[])
}

#[test]
fn the_snapshot_is_taken_at_start_up_and_restored_for_the_first_invocation() {
    let sim = start("echo", &["--snap-start"]);
    // The snapshot's init, at start-up: its report, then the runtime frozen in /restore/next.
    let init = sim.wait_line("INIT_REPORT");
    assert!(init.iter().any(|l| l.contains("mode=echo")), "{init:#?}");
    let runtime = sim.wait_children(1)[0];
    wait_stopped(runtime);

    let first = sim.invoke(r#"{"action":"pid"}"#);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(
        first.json()["restores"],
        1,
        "its /restore/next was answered once"
    );
    assert_eq!(
        first.json()["pid"],
        runtime,
        "the snapshot's process, thawed"
    );
    let report = sim.wait_line("REPORT RequestId");
    let line = report.last().unwrap();
    assert!(
        line.contains("Restore Duration: ") && line.contains("Billed Restore Duration: "),
        "{line}"
    );
    assert!(!line.contains("Init Duration"), "{line}");
    assert!(
        report.iter().any(|l| l.contains("restore/next: 200 ''")),
        "200 and no body: {report:#?}"
    );

    let second = sim.invoke(r#"{"action":"pid"}"#);
    assert_eq!(second.json()["restores"], 1);
    let line = sim.wait_line("REPORT RequestId").pop().unwrap();
    assert!(!line.contains("Restore Duration"), "restored once: {line}");
    sim.stop();
}

#[test]
fn the_restore_events_are_lambdas_records() {
    let sim = start(
        "slow-restore",
        &[
            "--enable-init-caching",
            "--log-format",
            "json",
            "--system-log-level",
            "debug",
        ],
    );
    let answer = sim.invoke(r#"{"action":"pid"}"#);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let lines = sim.stop_and_read();
    let records: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let of = |kind: &str| -> &serde_json::Value {
        let found = records.iter().find(|r| r["type"] == kind);
        &found.unwrap_or_else(|| panic!("no {kind}: {lines:#?}"))["record"]
    };
    assert_eq!(of("platform.initStart")["initializationType"], "snap-start");
    assert_eq!(of("platform.restoreStart")["functionName"], "test_function");
    assert_eq!(of("platform.restoreRuntimeDone")["status"], "success");
    let restore = of("platform.restoreReport");
    assert_eq!(restore["status"], "success");
    // The fixture's after-restore hooks take 300 ms.
    let ms = restore["metrics"]["durationMs"].as_f64().unwrap();
    assert!(ms >= 300.0, "{restore}");
    assert_eq!(of("platform.report")["metrics"]["restoreDurationMs"], ms);
}

#[test]
fn a_failed_restore_answers_snap_start_exception_and_the_next_invocation_restores_anew() {
    let sim = start("restore-error", &["--snap-start"]);
    let mut lines = Vec::new();
    for _ in 0..2 {
        let answer = sim.invoke("{}");
        assert_eq!(answer.status, 400, "{}", answer.text());
        assert_eq!(
            answer.header("X-Amzn-ErrorType"),
            Some("SnapStartException")
        );
        assert!(
            answer.json()["message"]
                .as_str()
                .unwrap()
                .contains("afterRestore()"),
            "{}",
            answer.text()
        );
        lines.extend(sim.wait_line("RESTORE_REPORT"));
        let line = lines.last().unwrap();
        assert!(
            line.contains("Status: error") && line.contains("Runtime.AfterRestoreError"),
            "{line}"
        );
    }
    lines.extend(sim.stop_and_read());
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    // The error type came from the post's header; the runtime, stopped at once (it has no
    // extensions), may not live to print its 202.
    // Two runtimes: the snapshot's, and one whose init ran out of sight for the second.
    assert_eq!(
        count("fixture runtime: mode=restore-error"),
        2,
        "{lines:#?}"
    );
    assert_eq!(count("INIT_REPORT"), 1, "{lines:#?}");
}

#[test]
fn snap_start_refuses_what_lambda_excludes() {
    for flags in [
        &["--snap-start", "--eager-init", "--", "true"][..],
        &["--snap-start", "--tenancy", "per-tenant", "--", "true"],
        &["--snap-start", "--max-concurrency", "2", "--", "true"],
        &["--snap-start", "--external-runtime"],
    ] {
        let out = Command::new(BIN).args(flags).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("SnapStart"), "{flags:?}: {stderr}");
    }
}

#[test]
fn extensions_are_in_the_snapshot_and_see_only_the_invoke_after_the_restore() {
    let ext = python_extension("snapext", &["well-behaved"]).join(" ");
    let flag = format!("snapext={ext}");
    let sim = start("echo", &["--snap-start", "--extension", &flag]);
    // The snapshot holds the extension too: registered, on event/next, frozen.
    let mut lines = sim.wait_line("INIT_REPORT");
    for pid in sim.wait_children(2) {
        wait_stopped(pid);
    }
    let answer = sim.invoke("{}");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let id = answer.header("X-Amzn-RequestId").unwrap().to_string();
    lines.extend(sim.wait_line("REPORT RequestId"));
    lines.extend(sim.stop_and_read());
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ext snapext: register 200")),
        "{lines:#?}"
    );
    let events: Vec<&String> = (lines.iter())
        .filter(|l| l.starts_with("ext snapext: event "))
        .collect();
    assert_eq!(events.len(), 2, "INVOKE, then SHUTDOWN: {lines:#?}");
    assert!(
        events[0].contains("\"INVOKE\"") && events[0].contains(&id),
        "{events:#?}"
    );
    assert!(events[1].contains("\"SHUTDOWN\""), "{events:#?}");
}

#[test]
fn the_embedding_api_restores_and_reports_the_restore() {
    use lambda_sim::{InvokeRequest, LogOutput, Simulator};
    let sim = Simulator::builder()
        .command(python_runtime("slow-restore"))
        .snap_start(true)
        .log_output(LogOutput::Capture)
        .start()
        .unwrap();
    let report = |sim: &lambda_sim::Handle| {
        let ticket = sim
            .submit_reported(InvokeRequest {
                payload: br#"{"action":"pid"}"#.to_vec(),
                ..InvokeRequest::default()
            })
            .unwrap();
        let answer = ticket.wait().unwrap();
        assert_eq!(answer.status, 200);
        ticket.report().unwrap().expect("a report")
    };
    let first = report(&sim);
    let restore = first
        .restore_duration
        .expect("the first follows the restore");
    // The fixture's after-restore hooks take 300 ms.
    assert!(restore.as_millis() >= 300, "{restore:?}");
    assert_eq!(first.init_duration, None);
    assert_eq!(report(&sim).restore_duration, None);
    sim.shutdown().unwrap();
    // Refused with what Lambda excludes.
    let refused = Simulator::builder()
        .command(python_runtime("echo"))
        .snap_start(true)
        .eager_init(true)
        .start();
    assert!(refused.is_err());
}

//! Freeze and thaw over real processes (lambda-runtime-environment.html): between invocations the
//! runtime's and the extensions' process groups are stopped (state `T` in /proc), background
//! threads make no progress, and telemetry for the last invocation waits for the thaw.
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::listener::{Answer, listener};
use common::*;
use lambda_sim::{Awaited, Builder, Handle, LogOutput, Simulator};

fn builder(runtime_mode: &str) -> Builder {
    Simulator::builder()
        .command(python_runtime(runtime_mode))
        .log_output(LogOutput::Capture)
        .seed(6)
}

/// The state letter of process `pid` in /proc (`S` sleeping, `T` stopped, ...).
fn state_of(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("a live process");
    let (_, rest) = stat.rsplit_once(')').expect("a stat line");
    rest.trim_start().chars().next().expect("a state")
}

/// The pid the extension printed at start.
fn extension_pid(sim: &Handle, name: &str) -> i32 {
    let prefix = format!("ext {name}: started pid=");
    let lines = wait_line(sim, &prefix, Duration::from_secs(10));
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|pid| pid.parse().ok())
        .expect("a pid")
}

/// SIGSTOP is asynchronous: a process that was still running (an extension between sending
/// its `event/next` and blocking on the answer) stops when the kernel next schedules it.
#[track_caller]
fn assert_stopped(pid: i32) {
    let stopped = wait_until(Duration::from_secs(2), || state_of(pid) == 'T');
    assert!(stopped, "pid {pid} is {} while frozen", state_of(pid));
}

#[track_caller]
fn wait_frozen(sim: &Handle) {
    let state = sim
        .wait_for(Awaited::Frozen, Duration::from_secs(10))
        .expect("running")
        .expect("frozen within 10 s");
    assert!(state.first().frozen && state.first().idle, "{state:?}");
}

#[test]
fn the_runtime_its_children_and_the_extensions_are_stopped_between_invocations() {
    let sim = builder("echo")
        .extension("ext", python_extension("ext", &["well-behaved"]))
        .start()
        .unwrap();
    let r = sim.invoke(r#"{"action":"grandchild"}"#).unwrap();
    let ext = extension_pid(&sim, "ext");
    let pids: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let runtime = pids["pid"].as_i64().unwrap() as i32;
    let grandchild = pids["grandchild"].as_i64().unwrap() as i32;
    wait_frozen(&sim);
    for pid in [runtime, grandchild, ext] {
        assert_stopped(pid);
    }

    // Thawed for the next invocation: running while it runs, stopped again after it.
    let ticket = sim.submit(r#"{"action":"sleep","seconds":0.5}"#).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || [runtime, grandchild, ext]
            .iter()
            .all(|pid| state_of(*pid) != 'T')),
        "thawed for the invocation"
    );
    assert!(!sim.state().unwrap().first().frozen);
    assert_eq!(ticket.wait().unwrap().status, 200);
    wait_frozen(&sim);
    for pid in [runtime, grandchild, ext] {
        assert_stopped(pid);
    }

    // Shutdown thaws them first: the extension gets its SHUTDOWN, and everything ends.
    sim.shutdown().unwrap();
    for pid in [runtime, grandchild, ext] {
        assert!(!alive(pid), "pid {pid} outlived the simulator");
    }
}

/// The ticker runtime's count, from its file.
fn ticks(file: &std::path::Path) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// The count after the first invocation, and `idle` later, with freezing on or off.
fn ticks_while_idle(freeze: bool, idle: Duration) -> (u64, u64, Handle, PathBuf) {
    let file =
        std::env::temp_dir().join(format!("lambda-sim-ticks-{}-{freeze}", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let sim = builder("ticker")
        .env("TICK_FILE", &file.display().to_string())
        .freeze(freeze)
        .start()
        .unwrap();
    let r = sim.invoke(r#"{"action":"pid"}"#).unwrap();
    let pid = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["pid"]
        .as_i64()
        .unwrap() as i32;
    assert!(wait_until(Duration::from_secs(5), || ticks(&file) > 0));
    if freeze {
        wait_frozen(&sim);
        assert_stopped(pid);
    } else {
        sim.wait_for(Awaited::Idle, Duration::from_secs(10))
            .unwrap()
            .unwrap();
    }
    let before = ticks(&file);
    std::thread::sleep(idle);
    let after = ticks(&file);
    (before, after, sim, file)
}

#[test]
fn a_background_thread_makes_no_progress_while_frozen_and_goes_on_after_the_thaw() {
    let (before, after, sim, file) = ticks_while_idle(true, Duration::from_millis(400));
    assert_eq!(before, after, "the counter moved while frozen");

    // During an invocation of 300 ms it counts again (every 10 ms).
    let r = sim.invoke(r#"{"action":"sleep","seconds":0.3}"#).unwrap();
    assert_eq!(r.status, 200);
    let during = ticks(&file);
    assert!(
        during >= after + 5,
        "{after} then {during}: no progress after the thaw"
    );
    sim.shutdown().unwrap();
    let _ = std::fs::remove_file(&file);
}

#[test]
fn without_freezing_the_same_thread_runs_between_invocations() {
    // The control for the test above: what it measures does move when nothing is frozen.
    let (before, after, sim, file) = ticks_while_idle(false, Duration::from_millis(400));
    assert!(after >= before + 5, "{before} then {after}");
    assert!(!sim.state().unwrap().first().frozen);
    sim.shutdown().unwrap();
    let _ = std::fs::remove_file(&file);
}

#[test]
fn the_last_invocations_telemetry_arrives_after_the_thaw() {
    let listener = listener(vec![Answer::Ok]);
    let sim = builder("echo")
        .extension(
            "tel",
            python_extension("tel", &["telemetry", &listener.port.to_string()]),
        )
        .start()
        .unwrap();
    let first = sim.invoke("{}").unwrap();
    wait_frozen(&sim);
    // The subscription batches every 25 ms: unfrozen, the report would be here long before
    // a second has passed.
    let held_until = Instant::now() + Duration::from_secs(1);
    let mut before_thaw = Vec::new();
    while let Some(left) = held_until.checked_duration_since(Instant::now()) {
        if let Ok(batch) = listener.batches.recv_timeout(left) {
            before_thaw.extend(batch);
        }
    }
    let is_report_of = |e: &serde_json::Value, id: &str| {
        e["type"] == "platform.report" && e["record"]["requestId"] == id
    };
    assert!(
        !before_thaw
            .iter()
            .any(|e| is_report_of(e, &first.request_id)),
        "a report reached a frozen subscriber: {before_thaw:#?}"
    );

    // The next invocation thaws the environment, and the report goes.
    let second = sim.invoke("{}").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after_thaw = Vec::new();
    while !after_thaw
        .iter()
        .any(|e| is_report_of(e, &first.request_id))
    {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("no report after the thaw: {after_thaw:#?}"));
        if let Ok(batch) = listener.batches.recv_timeout(left) {
            after_thaw.extend(batch);
        }
    }
    // Held, not lost: nothing was dropped on its account.
    assert!(
        !before_thaw
            .iter()
            .chain(&after_thaw)
            .any(|e| e["type"] == "platform.logsDropped"),
        "{after_thaw:#?}"
    );
    assert_ne!(first.request_id, second.request_id);
    sim.shutdown().unwrap();
}

#[test]
fn with_freezing_off_nothing_is_ever_frozen() {
    let sim = builder("echo").freeze(false).start().unwrap();
    let r = sim.invoke(r#"{"action":"pid"}"#).unwrap();
    let pid = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["pid"]
        .as_i64()
        .unwrap() as i32;
    sim.wait_for(Awaited::Idle, Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(
        sim.wait_for(Awaited::Frozen, Duration::from_millis(300))
            .unwrap(),
        None
    );
    assert_ne!(state_of(pid), 'T');
    sim.shutdown().unwrap();
}

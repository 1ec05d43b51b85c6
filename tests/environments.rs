//! Several execution environments through the real binary (`--concurrency N`): one runtime
//! process, Runtime API and log stream each; an invocation goes to an idle environment, else a
//! new one starts, else it waits; one environment's crash leaves the others serving.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::HashSet;

use common::binary::*;
use common::workers_runtime;

fn start(flags: &[&str]) -> Binary {
    let runtime = workers_runtime();
    let mut args = flags.to_vec();
    args.push("--");
    args.extend(runtime.iter().map(String::as_str));
    Binary::start(&args, &[])
}

#[test]
fn n_environments_serve_side_by_side_each_with_its_own_api_stream_and_lines() {
    let sim = start(&["--concurrency", "3"]);
    let calls: Vec<_> = (0..6)
        .map(|_| sim.invoke_async(r#"{"action":"sleep","seconds":0.4}"#))
        .collect();
    let answers: Vec<serde_json::Value> = calls
        .into_iter()
        .map(|c| {
            let r = c.join().unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()
        })
        .collect();
    let distinct = |key: &str| -> usize {
        answers
            .iter()
            .map(|a| a[key].to_string())
            .collect::<HashSet<_>>()
            .len()
    };
    assert_eq!(distinct("pid"), 3, "three runtimes: {answers:#?}");
    assert_eq!(distinct("runtime_api"), 3, "a Runtime API each");
    assert_eq!(distinct("log_stream"), 3, "a log stream each");
    for a in &answers {
        assert_eq!(a["most_at_once"], 1, "one invocation at a time in each");
    }
    let lines = sim.stop_and_read();
    for n in 1..=3 {
        let tag = format!("[env {n}] ");
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with(&tag) && l.contains("REPORT RequestId"))
                .count(),
            2,
            "two invocations in environment {n}: {lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&tag) && l.contains("Init Duration")),
            "environment {n}'s cold start is on its first REPORT"
        );
    }
}

#[test]
fn one_environment_crashing_mid_load_leaves_the_others_serving() {
    let sim = start(&["--quiet", "--concurrency", "4"]);
    let held: Vec<_> = (0..3)
        .map(|_| sim.invoke_async(r#"{"action":"sleep","seconds":1}"#))
        .collect();
    let crash = sim.invoke_async(r#"{"action":"crash","seconds":0.3}"#);
    let crash = crash.join().unwrap();
    assert_eq!(
        crash.json()["errorType"],
        "Runtime.ExitError",
        "{}",
        crash.text()
    );
    let mut pids = HashSet::new();
    for call in held {
        // Each answered once (`invoke_async` watches for anything more), undisturbed.
        let r = call.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.header("X-Amz-Function-Error").is_none(), "{}", r.text());
        pids.insert(r.json()["pid"].as_u64().unwrap());
    }
    assert_eq!(pids.len(), 3);
    // The crashed environment starts again for the next invocation; the others stay warm.
    let after = sim.invoke(r#"{"action":"sleep","seconds":0.1}"#);
    assert_eq!(after.status, 200);
    sim.stop();
}

#[test]
fn one_environment_timing_out_mid_load_leaves_the_others_serving() {
    let sim = start(&["--quiet", "--concurrency", "4", "--timeout", "1"]);
    let slow = sim.invoke_async(r#"{"action":"sleep","seconds":3}"#);
    // While it runs out its time, a stream of invocations through the other three.
    let quick: Vec<_> = (0..9)
        .map(|_| sim.invoke_async(r#"{"action":"sleep","seconds":0.2}"#))
        .collect();
    let slow = slow.join().unwrap();
    assert_eq!(
        slow.json()["errorType"],
        "Sandbox.Timedout",
        "{}",
        slow.text()
    );
    for call in quick {
        // Each answered once (`invoke_async` watches for anything more), undisturbed. (Which
        // environments served them depends on when the others' cold starts end: the quick
        // ones may outlast the timeout and be served by the reset environment too.)
        let r = call.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.header("X-Amz-Function-Error").is_none(), "{}", r.text());
    }
    // The timed-out environment was reset; the next invocations are served.
    let after: Vec<_> = (0..4)
        .map(|_| sim.invoke_async(r#"{"action":"sleep","seconds":0.2}"#))
        .collect();
    for call in after {
        assert_eq!(call.join().unwrap().status, 200);
    }
    sim.stop();
}

#[test]
fn past_the_environments_and_the_queue_an_invocation_is_throttled() {
    let sim = start(&["--quiet", "--concurrency", "2", "--max-queue", "0"]);
    let held: Vec<_> = (0..2)
        .map(|_| sim.invoke_async(r#"{"action":"sleep","seconds":1}"#))
        .collect();
    // Both environments busy (or starting for them) and no queue: Lambda's throttling
    // answer. (The two are sent well before, and take a second each.)
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = sim.invoke("{}");
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("TooManyRequestsException")
    );
    for call in held {
        assert_eq!(call.join().unwrap().status, 200);
    }
    sim.stop();
}

#[test]
fn eager_init_initialises_every_environment_at_start_up() {
    let sim = start(&["--concurrency", "2", "--eager-init"]);
    let mut seen = HashSet::new();
    while seen.len() < 2 {
        let lines = sim.wait_line("INIT_REPORT");
        let line = lines.last().unwrap();
        seen.insert(line.split(']').next().unwrap().to_string());
    }
    assert_eq!(
        seen.len(),
        2,
        "each environment reports its own init: {seen:?}"
    );
    sim.stop();
}

/// `lambda-sim invoke --count K --parallel P` through the command, with `flags`: the answers'
/// JSON lines, in the order sent.
fn invoke_parallel(flags: &[&str]) -> Vec<serde_json::Value> {
    let runtime = workers_runtime();
    let out = std::process::Command::new(BIN)
        .args(["invoke", "--quiet", "--count", "4", "--parallel", "4"])
        .args([
            "--invoke-addr",
            "127.0.0.1:0",
            "--runtime-api-addr",
            "127.0.0.1:0",
        ])
        .args(["--payload", r#"{"action":"sleep","seconds":0.3}"#])
        .args(flags)
        .arg("--")
        .args(&runtime)
        .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
        .output()
        .expect("run lambda-sim invoke");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn invoke_parallel_runs_side_by_side_in_environments_or_in_one_managed_environment() {
    let answers = invoke_parallel(&["--concurrency", "4"]);
    assert_eq!(answers.len(), 4);
    let pids: HashSet<String> = answers.iter().map(|a| a["pid"].to_string()).collect();
    assert_eq!(pids.len(), 4, "four environments: {answers:#?}");

    let answers = invoke_parallel(&["--max-concurrency", "4"]);
    assert_eq!(answers.len(), 4);
    let pids: HashSet<String> = answers.iter().map(|a| a["pid"].to_string()).collect();
    assert_eq!(pids.len(), 1, "one environment: {answers:#?}");
    let most = answers
        .iter()
        .map(|a| a["most_at_once"].as_u64().unwrap())
        .max();
    assert_eq!(most, Some(4), "four at once in it");

    let refused = std::process::Command::new(BIN)
        .args(["invoke", "--parallel", "2", "--endpoint", "127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
}

#[test]
fn managed_instances_in_several_environments_fill_each_to_m() {
    // Two Managed Instances environments of two slots each: four at once are two in each.
    let answers = invoke_parallel(&["--concurrency", "2", "--max-concurrency", "2"]);
    assert_eq!(answers.len(), 4);
    let mut by_pid: std::collections::HashMap<String, Vec<u64>> = Default::default();
    for a in &answers {
        by_pid
            .entry(a["pid"].to_string())
            .or_default()
            .push(a["most_at_once"].as_u64().unwrap());
    }
    assert_eq!(by_pid.len(), 2, "two environments: {answers:#?}");
    for (pid, most) in &by_pid {
        assert_eq!(most.len(), 2, "two in {pid}: {answers:#?}");
        assert!(
            most.iter().all(|m| *m <= 2),
            "at most M in {pid}: {answers:#?}"
        );
        assert!(most.contains(&2), "both at once in {pid}: {answers:#?}");
    }
}

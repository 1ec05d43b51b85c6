//! Lambda Managed Instances through the real binary (`--max-concurrency M`): a runtime with M
//! workers, each on `/next` over its own connection, takes M invocations at once; timeouts end
//! one invocation and not the environment; a crash answers every invocation in flight once;
//! extensions may take SHUTDOWN only.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::HashSet;

use common::binary::*;
use common::*;

/// The simulator in Managed Instances mode with `flags`, running the workers fixture.
fn managed(flags: &[&str]) -> Binary {
    let runtime = workers_runtime();
    let mut args = flags.to_vec();
    args.push("--");
    args.extend(runtime.iter().map(String::as_str));
    let sim = Binary::start(&args, &[]);
    sim.wait_line("workers:");
    sim
}

#[test]
fn m_invocations_run_at_once_in_one_environment_and_the_rest_wait_for_a_slot() {
    let sim = managed(&["--quiet", "--max-concurrency", "4"]);
    // Eight at once, each holding its worker for 300 ms: four run, four wait for a slot.
    let calls: Vec<_> = (0..8)
        .map(|_| sim.invoke_async(r#"{"action":"sleep","seconds":0.3}"#))
        .collect();
    let answers: Vec<serde_json::Value> = calls
        .into_iter()
        .map(|c| {
            let r = c.join().unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()
        })
        .collect();
    let ids: HashSet<&str> = answers
        .iter()
        .map(|a| a["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 8, "eight invocations, eight ids");
    let pids: HashSet<u64> = answers.iter().map(|a| a["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids.len(), 1, "one environment, one runtime process");
    let most = answers
        .iter()
        .map(|a| a["most_at_once"].as_u64().unwrap())
        .max();
    assert_eq!(most, Some(4), "never more than M in flight, and M reached");
    assert_eq!(answers[0]["max_concurrency"], "4");
    assert_eq!(answers[0]["init_type"], "lambda-managed-instances");
    sim.stop();
}

#[test]
fn a_timeout_ends_its_invocation_only_and_the_late_response_is_gone() {
    let sim = managed(&["--max-concurrency", "2", "--timeout", "1"]);
    let slow = sim.invoke_async(r#"{"action":"late","seconds":1.5}"#);
    let fast = sim.invoke(r#"{"action":"sleep","seconds":0.1}"#);
    assert_eq!(fast.status, 200);
    let pid = fast.json()["pid"].clone();
    let slow = slow.join().unwrap();
    assert_eq!(slow.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(slow.json()["errorType"], "Sandbox.Timedout");
    // The worker's late response is told so, once; the second is an unknown id (RIE's cache).
    let late = sim.wait_line("late ");
    let late = late.last().unwrap();
    assert!(
        late.contains(
            r#": 410 {"errorMessage":"Invoke timeout","errorType":"InvokeTimeout"} then 400"#
        ),
        "{late}"
    );
    // The same environment serves on: no reset.
    let after = sim.invoke("{}");
    assert_eq!(after.status, 200);
    assert_eq!(after.json()["pid"], pid);
    let lines = sim.stop_and_read();
    assert!(
        !lines.iter().any(|l| l.starts_with("INIT_START")),
        "no second init: {lines:#?}"
    );
}

#[test]
fn a_crash_answers_every_invocation_in_flight_once_and_a_new_environment_serves() {
    let sim = managed(&["--quiet", "--max-concurrency", "4"]);
    let first_pid = sim.invoke("{}").json()["pid"].clone();
    let held: Vec<_> = (0..3)
        .map(|_| sim.invoke_async(r#"{"action":"sleep","seconds":5}"#))
        .collect();
    wait_until(std::time::Duration::from_secs(5), || {
        sim.descendants().len() == 1
    });
    let crash = sim.invoke_once(r#"{"action":"crash","seconds":0.2}"#);
    assert_eq!(
        crash.json()["errorType"],
        "Runtime.ExitError",
        "{}",
        crash.text()
    );
    for call in held {
        // `invoke_async` checks that nothing follows the one answer.
        let r = call.join().unwrap();
        assert_eq!(r.json()["errorType"], "Runtime.ExitError", "{}", r.text());
    }
    sim.wait_line("workers:");
    let after = sim.invoke("{}");
    assert_eq!(after.status, 200);
    assert_ne!(after.json()["pid"], first_pid, "a new environment");
    sim.stop();
}

#[test]
fn extensions_may_take_shutdown_only() {
    let refused = python_extension("refused", &["well-behaved"]);
    let refused = format!("refused={}", refused.join(" "));
    let sim = Binary::start(
        &[
            "--quiet",
            "--max-concurrency",
            "2",
            "--extension",
            &refused,
            "--",
            "python3",
            "-c",
            "import time; time.sleep(60)",
        ],
        &[],
    );
    let lines = sim.wait_line("ext refused: register");
    assert!(
        lines.last().unwrap().ends_with(
            r#"register 403 {"errorMessage":"INVOKE: ErrorInvalidEventType","errorType":"Extension.InvalidEventType"}"#
        ),
        "{lines:#?}"
    );
    drop(sim);

    let taken = python_extension("taken", &["shutdown-only"]);
    let taken = format!("taken={}", taken.join(" "));
    let runtime = workers_runtime();
    let mut args = vec![
        "--quiet",
        "--max-concurrency",
        "2",
        "--extension",
        &taken,
        "--",
    ];
    args.extend(runtime.iter().map(String::as_str));
    let sim = Binary::start(&args, &[]);
    let lines = sim.wait_line("ext taken: register");
    assert!(lines.last().unwrap().contains("register 200"), "{lines:#?}");
    assert_eq!(sim.invoke("{}").status, 200);
    let rest = sim.stop_and_read();
    assert!(
        rest.iter()
            .any(|l| l.contains("ext taken:") && l.contains("SHUTDOWN")),
        "{rest:#?}"
    );
}

#[test]
fn the_embedding_api_runs_managed_instances_and_shows_what_is_in_flight() {
    let sim = lambda_sim::Simulator::builder()
        .command(workers_runtime())
        .max_concurrency(3)
        .start()
        .unwrap();
    let tickets: Vec<_> = (0..3)
        .map(|_| sim.submit(r#"{"action":"sleep","seconds":0.5}"#).unwrap())
        .collect();
    assert!(
        wait_until(std::time::Duration::from_secs(5), || sim
            .state()
            .is_ok_and(|s| s.first().in_flight == 3)),
        "{:?}",
        sim.state()
    );
    let state = sim.state().unwrap();
    assert_eq!(state.first().runtime_state, "Ready");
    assert!(!state.first().idle);
    for ticket in tickets {
        let answer = ticket.wait().unwrap();
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(body["most_at_once"], 3);
    }
    wait_state(&sim, "idle", |s| s.first().idle && s.first().in_flight == 0);
    sim.shutdown().unwrap();
}

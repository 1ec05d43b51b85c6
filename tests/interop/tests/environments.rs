//! The official clients under several execution environments (`--concurrency N`) and in
//! Managed Instances' concurrent mode (`--max-concurrency M`).

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use common::invoke;

const FUNCTION: &str = env!("CARGO_BIN_EXE_echo-fn");
const CONCURRENT: &str = env!("CARGO_BIN_EXE_concurrent-fn");
const EXTENSION: &str = env!("CARGO_BIN_EXE_log-ext");

/// `bodies` sent at once, each on its own connection: the answers' JSON, in the order sent.
fn at_once(addr: SocketAddr, bodies: Vec<String>) -> Vec<serde_json::Value> {
    let calls: Vec<_> = bodies
        .into_iter()
        .map(|body| std::thread::spawn(move || invoke(addr, &body)))
        .collect();
    calls
        .into_iter()
        .map(|call| {
            let r = call.join().unwrap();
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            assert_eq!(r.header("x-amz-function-error"), None);
            r.json()
        })
        .collect()
}

#[test]
fn lambda_runtime_and_lambda_extension_in_three_environments() {
    let dir = std::env::temp_dir();
    let log = dir.join(format!(
        "lambda-sim-interop-envs-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&log);
    let env = format!("EXT_LOG={}", log.display());
    let mut sim = common::start(
        &dir,
        &[
            "--concurrency",
            "3",
            "--extension",
            EXTENSION,
            "--env",
            &env,
            "--",
            FUNCTION,
        ],
    );
    // Three at once, each held 300 ms: three environments, each its own runtime and stream.
    let bodies = (0..3)
        .map(|_| r#"{"action":"context","ms":300}"#.to_string())
        .collect();
    let answers = at_once(sim.invoke, bodies);
    let pids: HashSet<u64> = answers.iter().map(|a| a["pid"].as_u64().unwrap()).collect();
    let streams: HashSet<&str> = answers
        .iter()
        .map(|a| a["log_stream"].as_str().unwrap())
        .collect();
    assert_eq!((pids.len(), streams.len()), (3, 3), "{answers:#?}");
    let status = sim.terminate();
    assert!(status.success(), "{status}");

    // Each environment's extension got its own environment's INVOKE, then its SHUTDOWN.
    let text = std::fs::read_to_string(&log).expect("the extensions wrote their log");
    let _ = std::fs::remove_file(&log);
    let mut by_extension: HashMap<u64, Vec<serde_json::Value>> = HashMap::new();
    for line in text.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        by_extension
            .entry(event["pid"].as_u64().unwrap())
            .or_default()
            .push(event);
    }
    assert_eq!(by_extension.len(), 3, "three extension processes: {text}");
    let mut invoked = HashSet::new();
    for events in by_extension.values() {
        assert_eq!(events.len(), 2, "one INVOKE, one SHUTDOWN: {text}");
        assert_eq!(events[0]["event"], "INVOKE");
        assert_eq!(events[1]["event"], "SHUTDOWN");
        assert_eq!(events[1]["reason"], "spindown");
        invoked.insert(events[0]["request_id"].as_str().unwrap().to_string());
    }
    let ids: HashSet<String> = answers
        .iter()
        .map(|a| a["request_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        invoked, ids,
        "each invocation went to one environment's extension"
    );
}

#[test]
fn lambda_runtime_run_concurrent_takes_m_invocations_at_once() {
    let dir = std::env::temp_dir();
    let sim = common::start(&dir, &["--max-concurrency", "4", "--", CONCURRENT]);
    let bodies = (0..4).map(|i| format!(r#"{{"ms":300,"n":{i}}}"#)).collect();
    let answers = at_once(sim.invoke, bodies);
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a["event"]["n"], i);
    }
    let pids: HashSet<u64> = answers.iter().map(|a| a["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids.len(), 1, "one environment: {answers:#?}");
    let most = answers
        .iter()
        .filter_map(|a| a["most_at_once"].as_u64())
        .max();
    assert_eq!(most, Some(4), "four loops held one each: {answers:#?}");
}

#[test]
fn lambda_runtime_run_concurrent_in_two_managed_environments() {
    let dir = std::env::temp_dir();
    let sim = common::start(
        &dir,
        &[
            "--concurrency",
            "2",
            "--max-concurrency",
            "2",
            "--",
            CONCURRENT,
        ],
    );
    let bodies = (0..4).map(|i| format!(r#"{{"ms":300,"n":{i}}}"#)).collect();
    let answers = at_once(sim.invoke, bodies);
    let mut by_pid: HashMap<u64, u64> = HashMap::new();
    for a in &answers {
        let most = by_pid.entry(a["pid"].as_u64().unwrap()).or_default();
        *most = (*most).max(a["most_at_once"].as_u64().unwrap());
    }
    assert_eq!(by_pid.len(), 2, "two environments: {answers:#?}");
    assert!(
        by_pid.values().all(|m| *m == 2),
        "two at once in each: {answers:#?}"
    );
}

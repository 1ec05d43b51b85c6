//! AWS's Python runtime interface client (`pip install awslambdaric`) under the lambda-sim CLI,
//! started as a new user would: `lambda-sim -- python3 -m awslambdaric app.handler`.

mod common;

use std::path::PathBuf;

use common::invoke;

/// `lambda-sim <flags> -- python3 -m awslambdaric app.handler` in the Python fixtures'
/// directory; `None` (the test skipped) where awslambdaric is not installed.
fn start_app(flags: &[&str]) -> Option<common::Sim> {
    if !common::have_python("awslambdaric") {
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/python");
    let app = ["--", "python3", "-m", "awslambdaric", "app.handler"];
    Some(common::start(&dir, &[flags, &app[..]].concat()))
}

#[test]
fn awslambdaric_answers_events_errors_and_timeouts() {
    let Some(sim) = start_app(&["--timeout", "2"]) else {
        return;
    };

    let r = invoke(sim.invoke, r#"{"a":1}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-amz-function-error"), None);
    let body = r.json();
    assert_eq!(body["event"]["a"], 1);
    assert_eq!(
        body["handler"], "app.handler",
        "_HANDLER is the last argument, as with RIE"
    );
    assert_eq!(
        body["arn"],
        "arn:aws:lambda:us-east-1:012345678912:function:test_function"
    );
    let remaining = body["remaining_ms"].as_i64().unwrap();
    assert!(
        (1_500..=2_000).contains(&remaining),
        "remaining {remaining} ms of a 2 s timeout"
    );
    assert!(body["trace"].as_str().unwrap().starts_with("Root=1-"));

    let r = invoke(sim.invoke, r#"{"fail":true}"#);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(r.json()["errorType"], "ValueError");
    assert_eq!(r.json()["errorMessage"], "asked to fail");

    let r = invoke(sim.invoke, r#"{"sleep":5}"#);
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(r.json()["errorType"], "Sandbox.Timedout");

    let r = invoke(sim.invoke, r#"{"after":"timeout"}"#);
    assert_eq!(
        (r.status, &r.json()["event"]["after"]),
        (200, &serde_json::json!("timeout"))
    );
}

/// awslambdaric 4 runs `AWS_LAMBDA_MAX_CONCURRENCY` worker processes, each on `/next`, when
/// the variable is set: its Managed Instances mode.
#[test]
fn awslambdaric_runs_its_multi_concurrent_mode_under_max_concurrency() {
    let Some(sim) = start_app(&["--max-concurrency", "4", "--timeout", "2"]) else {
        return;
    };
    let addr = sim.invoke;
    // Four at once, each holding its worker for half a second: four workers answer.
    assert_eq!(
        sleepers_at_once(addr, 4).len(),
        4,
        "four worker processes took one invocation each"
    );

    // A timeout ends that invocation only; the others are served meanwhile.
    let slow = std::thread::spawn(move || invoke(addr, r#"{"sleep":3}"#));
    let r = invoke(addr, r#"{"quick":true}"#);
    assert_eq!(r.status, 200);
    let slow = slow.join().unwrap();
    assert_eq!(slow.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(slow.json()["errorType"], "Sandbox.Timedout");
    let r = invoke(addr, r#"{"after":"timeout"}"#);
    assert_eq!(r.json()["event"]["after"], "timeout");
}

/// awslambdaric, one process per environment, under `--concurrency 3`: three at once go to
/// three environments.
#[test]
fn awslambdaric_in_three_environments() {
    let Some(sim) = start_app(&["--concurrency", "3"]) else {
        return;
    };
    assert_eq!(
        sleepers_at_once(sim.invoke, 3).len(),
        3,
        "three runtime processes, one per environment"
    );
}

/// Tenant isolation: awslambdaric's context carries the tenant, and each tenant has its own
/// runtime process.
#[test]
fn awslambdaric_sees_its_tenant_in_an_environment_of_its_own() {
    let Some(sim) = start_app(&["--tenancy", "per-tenant", "--concurrency", "2"]) else {
        return;
    };
    let mut pids = std::collections::HashSet::new();
    for tenant in ["blue", "green"] {
        let r = common::invoke_as(sim.invoke, Some(tenant), "{}");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["tenant_id"], tenant);
        pids.insert(r.json()["pid"].as_i64().unwrap());
    }
    assert_eq!(pids.len(), 2, "one runtime process per tenant");
    let refused = invoke(sim.invoke, "{}");
    assert_eq!(refused.status, 400, "no tenant");
}

/// `n` invocations at once, each holding its runtime process half a second: each answered with
/// its own event; the processes that answered.
fn sleepers_at_once(addr: std::net::SocketAddr, n: usize) -> std::collections::HashSet<i64> {
    let calls: Vec<_> = (0..n)
        .map(|i| std::thread::spawn(move || invoke(addr, &format!(r#"{{"sleep":0.5,"n":{i}}}"#))))
        .collect();
    let mut pids = std::collections::HashSet::new();
    for (i, call) in calls.into_iter().enumerate() {
        let r = call.join().unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["event"]["n"], i);
        pids.insert(r.json()["pid"].as_i64().unwrap());
    }
    pids
}

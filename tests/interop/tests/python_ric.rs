//! AWS's Python runtime interface client (`pip install awslambdaric`) under the lambda-sim CLI,
//! started as a new user would: `lambda-sim -- python3 -m awslambdaric app.handler`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::invoke;

#[test]
fn awslambdaric_answers_events_errors_and_timeouts() {
    let check = Command::new("python3")
        .args(["-c", "import awslambdaric"])
        .status();
    if !check.is_ok_and(|s| s.success()) {
        // Skipped, saying why, unless it is required (as .ci/run requires it).
        assert!(
            std::env::var_os("LAMBDA_SIM_REQUIRE_CLIENTS").is_none(),
            "awslambdaric is not installed: pip install awslambdaric (.ci/run does)"
        );
        eprintln!("skipped: awslambdaric is not installed (pip install awslambdaric)");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/python");
    let sim = common::start(
        &dir,
        &[
            "--timeout",
            "2",
            "--",
            "python3",
            "-m",
            "awslambdaric",
            "app.handler",
        ],
    );

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

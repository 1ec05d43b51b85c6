//! The official `lambda_runtime` crate as the bootstrap under lambda-sim, through the CLI and
//! through the embedding API.

mod common;

use common::{Sim, invoke};

const FUNCTION: &str = env!("CARGO_BIN_EXE_echo-fn");

fn start(timeout: &str) -> Sim {
    let dir = std::env::temp_dir();
    common::start(
        &dir,
        &[
            "--timeout",
            timeout,
            "--function-name",
            "interop",
            "--",
            FUNCTION,
        ],
    )
}

#[test]
fn echo_through_the_cli() {
    let sim = start("3");
    let r = invoke(sim.invoke, r#"{"hello":"interop"}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-amz-function-error"), None);
    assert_eq!(r.json(), serde_json::json!({"hello": "interop"}));
}

#[test]
fn errors_reach_the_invoker_with_type_and_message() {
    let sim = start("3");
    let r = invoke(sim.invoke, r#"{"action":"error"}"#);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(r.json()["errorType"], "InteropError");
    assert_eq!(r.json()["errorMessage"], "the event asked for an error");
    // The runtime carries on.
    let r = invoke(sim.invoke, r#"{"after":"error"}"#);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &br#"{"after":"error"}"#[..])
    );
}

#[test]
fn the_deadline_is_the_configured_timeout_away() {
    let sim = start("7");
    let r = invoke(sim.invoke, r#"{"action":"context"}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let ctx = r.json();
    let left = ctx["deadline"].as_u64().unwrap() as i64 - ctx["now_ms"].as_u64().unwrap() as i64;
    assert!(
        (6_500..=7_000).contains(&left),
        "deadline is {left} ms away, not 7 s"
    );
    assert_eq!(ctx["request_id"], r.header("x-amzn-requestid").unwrap());
    assert_eq!(
        ctx["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:012345678912:function:interop"
    );
    assert_eq!(ctx["function_name"], "interop");
    assert_eq!(ctx["memory"], 128);
    assert_eq!(ctx["version"], "$LATEST");
    assert_eq!(ctx["log_group"], "/aws/lambda/interop");
    assert!(
        ctx["xray_trace_id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );
}

#[test]
fn the_context_carries_the_tenant_under_tenant_isolation() {
    let sim = common::start(
        &std::env::temp_dir(),
        &["--tenancy", "per-tenant", "--", FUNCTION],
    );
    let r = common::invoke_as(sim.invoke, Some("blue"), r#"{"action":"context"}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["tenant_id"], "blue");
}

#[test]
fn a_timeout_resets_and_the_next_invocation_works() {
    let sim = start("1");
    let r = invoke(sim.invoke, r#"{"action":"sleep","ms":3000}"#);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(r.json()["errorType"], "Sandbox.Timedout");
    let r = invoke(sim.invoke, r#"{"n":2}"#);
    assert_eq!((r.status, r.body.as_slice()), (200, &br#"{"n":2}"#[..]));
}

#[test]
fn through_the_embedding_api() {
    let sim = lambda_sim::Simulator::builder()
        .command([FUNCTION])
        .start()
        .unwrap();
    for i in 0..20 {
        let r = sim.invoke(format!(r#"{{"i":{i}}}"#)).unwrap();
        assert_eq!(r.body_str(), format!(r#"{{"i":{i}}}"#));
    }
    let r = sim.invoke(r#"{"action":"error"}"#).unwrap();
    assert_eq!(r.function_error(), Some("Unhandled"));
}

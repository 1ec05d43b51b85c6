//! Tenant isolation through the real binary and the embedding API (`--tenancy per-tenant`;
//! <https://docs.aws.amazon.com/lambda/latest/dg/tenant-isolation.html>): every invocation
//! names a tenant, an environment serves one tenant only, and the tenant id reaches the
//! runtime and the platform's records.
#![allow(clippy::disallowed_methods)]

mod common;

use std::process::Command;

use common::binary::*;
use common::*;
use lambda_sim::{InvokeRequest, LogOutput, Simulator};

fn start(flags: &[&str]) -> Binary {
    let runtime = python_runtime("echo");
    let mut args = flags.to_vec();
    args.push("--");
    args.extend(runtime.iter().map(String::as_str));
    Binary::start(&args, &[])
}

/// Invokes `sim` as `tenant` (no header when `None`).
fn invoke_as(sim: &Binary, tenant: Option<&str>, payload: &str) -> Response {
    let headers: Vec<(&str, &str)> = tenant.map(|t| ("X-Amz-Tenant-Id", t)).into_iter().collect();
    Client::connect(sim.invoke).request("POST", INVOKE, &headers, payload.as_bytes())
}

#[track_caller]
fn assert_refused(answer: &Response) {
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(
        answer.header("X-Amzn-ErrorType"),
        Some("InvalidParameterValueException")
    );
    let body = answer.json();
    assert_eq!(body["Type"], "User");
    assert!(
        body["message"].as_str().unwrap().contains("Tenant ID"),
        "{body}"
    );
}

#[test]
fn each_tenant_gets_environments_of_its_own_and_its_id_everywhere_lambda_puts_it() {
    let sim = start(&[
        "--tenancy",
        "per-tenant",
        "--concurrency",
        "2",
        "--log-format",
        "json",
        "--system-log-level",
        "debug",
    ]);
    assert_refused(&invoke_as(&sim, None, "{}"));

    // Each invocation complete (its report out: the runtime back on /next) before the next,
    // which then finds its tenant's environment free.
    let mut lines = Vec::new();
    let mut pid = |tenant| {
        let answer = invoke_as(&sim, Some(tenant), r#"{"action":"pid"}"#);
        assert_eq!(answer.status, 200, "{}", answer.text());
        let id = answer.header("X-Amzn-RequestId").unwrap().to_string();
        while !lines
            .last()
            .is_some_and(|l: &String| l.contains("platform.report") && l.contains(&id))
        {
            lines.extend(sim.wait_line(&id));
        }
        answer.json()["pid"].as_u64().unwrap()
    };
    let blue = pid("blue");
    let green = pid("green");
    assert_ne!(blue, green, "green may not use blue's idle environment");
    assert_eq!(pid("blue"), blue, "blue's own environment, warm");
    assert_eq!(pid("green"), green);
    // A third tenant, both environments taken: the idle one of a tenant with nothing
    // queued is spun down, and a new runtime starts for red.
    let red = pid("red");
    assert!(red != blue && red != green, "{red} {blue} {green}");

    let headers = invoke_as(&sim, Some("red"), r#"{"action":"headers"}"#);
    assert_eq!(
        headers.json()["lambda-runtime-aws-tenant-id"],
        "red",
        "the Runtime API's header"
    );

    lines.extend(sim.stop_and_read());
    let records: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // Each invocation's tenant, by request id, as its platform.start and its
    // platform.report (which may come after the next invocation's start) have it.
    let tenants_of = |kind: &str| -> Vec<(String, String)> {
        let mut of: Vec<(String, String)> = (records.iter())
            .filter(|r| r["type"] == kind)
            .map(|r| {
                let record = &r["record"];
                let tenant = record["tenantId"].as_str().unwrap_or("-");
                (record["requestId"].to_string(), tenant.to_string())
            })
            .collect();
        of.sort();
        of
    };
    let starts = tenants_of("platform.start");
    assert_eq!(tenants_of("platform.report"), starts, "{lines:#?}");
    let mut tenants: Vec<&str> = starts.iter().map(|(_, t)| t.as_str()).collect();
    tenants.sort_unstable();
    assert_eq!(tenants, ["blue", "blue", "green", "green", "red", "red"]);
    // Three inits in all, each a new environment's (phase init, not a suppressed init).
    let inits: Vec<&serde_json::Value> = (records.iter())
        .filter(|r| r["type"] == "platform.initStart")
        .collect();
    assert_eq!(inits.len(), 3, "{lines:#?}");
    assert!(
        inits.iter().all(|r| r["record"]["phase"] == "init"),
        "{inits:#?}"
    );
}

#[test]
fn without_tenant_isolation_a_tenant_id_is_refused() {
    let sim = start(&[]);
    assert_refused(&invoke_as(&sim, Some("blue"), "{}"));
    assert_eq!(invoke_as(&sim, None, "{}").status, 200);
    sim.stop();
}

#[test]
fn tenancy_refuses_what_lambda_excludes() {
    for flags in [
        &["--tenancy", "per-tenant", "--eager-init"][..],
        &["--tenancy", "per-tenant", "--max-concurrency", "2"],
        &["--tenancy", "shared"],
    ] {
        let out = Command::new(BIN)
            .args(flags)
            .args(["--", "true"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--tenancy") || stderr.contains("tenant isolation"),
            "{stderr}"
        );
    }
    // The embedding API refuses the same at start.
    let refused = Simulator::builder()
        .tenant_isolation(true)
        .eager_init(true)
        .start();
    assert!(refused.is_err());
}

#[test]
fn invoke_and_bench_name_the_tenant() {
    let runtime = python_runtime("echo");
    let out = Command::new(BIN)
        .args(["invoke", "--tenancy", "per-tenant", "--tenant-id", "blue"])
        .args(["--payload", r#"{"action":"headers"}"#, "--"])
        .args(&runtime)
        .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let headers: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(headers["lambda-runtime-aws-tenant-id"], "blue");

    let bench = |tenant: &[&str]| {
        Command::new(BIN)
            .args(["bench", "-n", "5", "--warmup", "0", "--cold-starts", "1"])
            .args(["--tenancy", "per-tenant"])
            .args(tenant)
            .arg("--")
            .args(&runtime)
            .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
            .output()
            .unwrap()
    };
    let out = bench(&["--tenant-id", "blue"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Without a tenant every invocation is refused.
    assert!(!bench(&[]).status.success());
}

#[test]
fn the_embedding_api_routes_by_tenant() {
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .concurrency(2)
        .tenant_isolation(true)
        .log_output(LogOutput::Capture)
        .start()
        .unwrap();
    let environment = |tenant: &str| {
        let ticket = sim
            .submit_reported(InvokeRequest {
                payload: br#"{"action":"pid"}"#.to_vec(),
                tenant_id: Some(tenant.into()),
                ..InvokeRequest::default()
            })
            .unwrap();
        assert_eq!(ticket.wait().unwrap().status, 200);
        ticket.report().unwrap().expect("a report").environment
    };
    let blue = environment("blue");
    let green = environment("green");
    assert_ne!(blue, green);
    assert_eq!(environment("blue"), blue);
    assert_eq!(environment("green"), green);
    let refused = sim.invoke(b"{}".to_vec()).unwrap();
    assert_eq!(refused.status, 400);
    sim.shutdown().unwrap();
}

//! The AWS CLI and boto3 against lambda-sim's invoke endpoint: `aws lambda invoke` and
//! boto3's `invoke`, synchronous with the log tail, a function error, `Event`, `DryRun`, an
//! unknown function. Both are Python packages: without them these tests skip, unless
//! `LAMBDA_SIM_REQUIRE_CLIENTS` is set (`.ci/run` installs them and sets it).
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use lambda_sim::{Handle, LogOutput, Simulator};

fn sim() -> Handle {
    Simulator::builder()
        .command(python_runtime("echo"))
        .log_output(LogOutput::Capture)
        .seed(31)
        .start()
        .unwrap()
}

/// `aws lambda invoke ... OUT` with dummy credentials: its stdout as JSON, and OUT's bytes.
fn aws_invoke(sim: &Handle, args: &[&str]) -> (serde_json::Value, Vec<u8>) {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out =
        std::env::temp_dir().join(format!("lambda-sim-aws-{}-{call}.out", std::process::id()));
    let endpoint = format!("http://{}", sim.invoke_addr());
    // `python3 -m awscli`: the CLI as pip installs it, wherever its script went.
    let run = Command::new("python3")
        .args([
            "-m",
            "awscli",
            "lambda",
            "invoke",
            "--endpoint-url",
            &endpoint,
        ])
        .args(["--function-name", "function"])
        .args(args)
        .arg(&out)
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_PAGER", "")
        .output()
        .expect("the AWS CLI (pip install awscli)");
    assert!(
        run.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let printed = serde_json::from_slice(&run.stdout).expect("the CLI's JSON");
    let written = std::fs::read(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    (printed, written)
}

fn decode_log(value: &serde_json::Value) -> String {
    let encoded = value.as_str().expect("a LogResult");
    let out = Command::new("python3")
        .args([
            "-c",
            "import base64,sys; sys.stdout.write(base64.b64decode(sys.argv[1]).decode())",
        ])
        .arg(encoded)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_aws_cli_invokes_with_every_invocation_type_and_the_log_tail() {
    if !python_has("awscli", "pip install awscli") {
        return;
    }
    let sim = sim();
    let (printed, body) = aws_invoke(
        &sim,
        &["--payload", r#"{"hello":"cli"}"#, "--log-type", "Tail"],
    );
    assert_eq!(printed["StatusCode"], 200, "{printed}");
    assert_eq!(printed["ExecutedVersion"], "$LATEST");
    assert_eq!(body, br#"{"hello":"cli"}"#);
    let log = decode_log(&printed["LogResult"]);
    assert!(log.starts_with("START RequestId: "), "{log}");
    assert!(log.contains("\nREPORT RequestId: "), "{log}");

    let (printed, body) = aws_invoke(&sim, &["--payload", r#"{"action":"error"}"#]);
    assert_eq!(printed["FunctionError"], "Unhandled", "{printed}");
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["errorType"], "Boom");

    let (printed, _) = aws_invoke(
        &sim,
        &["--invocation-type", "Event", "--payload", r#"{"n":2}"#],
    );
    assert_eq!(printed["StatusCode"], 202, "{printed}");
    let (printed, _) = aws_invoke(&sim, &["--invocation-type", "DryRun"]);
    assert_eq!(printed["StatusCode"], 204, "{printed}");
    // The Event invocation ran.
    wait_line(&sim, "Event invocation", Duration::from_secs(10));
}

#[test]
fn boto3_invokes_as_against_lambda() {
    if !python_has("boto3", "pip install boto3") {
        return;
    }
    let sim = sim();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/boto3_invoke.py");
    let run = Command::new("python3")
        .arg(script)
        .arg(format!("http://{}", sim.invoke_addr()))
        .output()
        .expect("python3");
    assert!(
        run.status.success(),
        "boto3 (pip install boto3): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let sync = &out["sync"];
    assert_eq!(sync["status"], 200);
    assert_eq!(sync["payload"], serde_json::json!({"hello": "boto3"}));
    assert_eq!(sync["version"], "$LATEST");
    let id = sync["request_id"].as_str().unwrap();
    let log = sync["log"].as_str().unwrap();
    assert!(log.starts_with(&format!("START RequestId: {id}")), "{log}");
    assert!(log.contains(&format!("\nEND RequestId: {id}\n")), "{log}");

    assert_eq!(out["error"]["status"], 200);
    assert_eq!(out["error"]["function_error"], "Unhandled");
    assert_eq!(out["error"]["payload"]["errorType"], "Boom");

    assert_eq!(out["event"]["status"], 202);
    let event_id = out["event"]["request_id"].as_str().unwrap();
    let outcome = sim
        .event_outcome(event_id, Duration::from_secs(10))
        .unwrap()
        .expect("the Event invocation ran");
    assert_eq!(outcome.body, br#"{"n":1}"#);

    assert_eq!(out["dry_run"]["status"], 204);

    // invoke_with_response_stream: the pieces as PayloadChunk events, then InvokeComplete.
    let stream = &out["stream"];
    assert_eq!(stream["status"], 200);
    assert_eq!(stream["version"], "$LATEST");
    let events = stream["events"].as_array().unwrap();
    let chunks: String = events.iter().filter_map(|e| e["chunk"].as_str()).collect();
    assert_eq!(chunks, "one,two,three");
    assert_eq!(events.last().unwrap()["complete"], serde_json::json!({}));
    let failed = out["stream_error"]["events"].as_array().unwrap();
    assert_eq!(failed[0]["chunk"], "partial");
    let complete = &failed.last().unwrap()["complete"];
    assert_eq!(complete["ErrorCode"], "Runtime.StreamError");
    assert_eq!(
        complete["ErrorDetails"],
        r#"{"errorMessage":"failed mid-stream"}"#
    );
    // A function that does not stream comes as one chunk.
    let buffered = out["stream_buffered"]["events"].as_array().unwrap();
    assert_eq!(buffered[0]["chunk"], r#"{"plain": true}"#);
    assert_eq!(
        out["missing"],
        serde_json::json!({"code": "ResourceNotFoundException", "status": 404})
    );
}

//! AWS's Python runtime interface client (`pip install awslambdaric`) under the lambda-sim CLI,
//! started as a new user would: `lambda-sim -- python3 -m awslambdaric app.handler`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const SIM: &str = env!("CARGO_BIN_EXE_lambda-sim");

struct Sim {
    child: Child,
    invoke: SocketAddr,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(timeout: &str) -> Sim {
    let check = Command::new("python3")
        .args(["-c", "import awslambdaric"])
        .status();
    assert!(
        check.is_ok_and(|s| s.success()),
        "awslambdaric is not installed: pip install awslambdaric (.ci/run does)"
    );
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/python");
    let mut child = Command::new(SIM)
        .current_dir(&dir)
        .args([
            "--invoke-addr",
            "127.0.0.1:0",
            "--runtime-api-addr",
            "127.0.0.1:0",
        ])
        .args([
            "--timeout",
            timeout,
            "--quiet",
            "--",
            "python3",
            "-m",
            "awslambdaric",
            "app.handler",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn lambda-sim");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let invoke = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("invoke="))
        .unwrap_or_else(|| panic!("no ready line: {ready:?}"))
        .parse()
        .unwrap();
    Sim { child, invoke }
}

fn invoke(addr: SocketAddr, body: &str) -> (u16, String, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap(),
    )
}

#[test]
fn awslambdaric_answers_events_errors_and_timeouts() {
    let sim = start("2");
    let (status, head, body) = invoke(sim.invoke, r#"{"a":1}"#);
    assert_eq!(status, 200, "{body}");
    assert!(!head.contains("x-amz-function-error"));
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

    let (status, head, body) = invoke(sim.invoke, r#"{"fail":true}"#);
    assert_eq!(status, 200);
    assert!(head.contains("x-amz-function-error: unhandled"), "{head}");
    assert_eq!(body["errorType"], "ValueError");
    assert_eq!(body["errorMessage"], "asked to fail");

    let (status, head, body) = invoke(sim.invoke, r#"{"sleep":5}"#);
    assert_eq!(status, 200);
    assert!(head.contains("x-amz-function-error: unhandled"));
    assert_eq!(body["errorType"], "Sandbox.Timedout");

    let (status, _, body) = invoke(sim.invoke, r#"{"after":"timeout"}"#);
    assert_eq!(
        (status, &body["event"]["after"]),
        (200, &Value::from("timeout"))
    );
}

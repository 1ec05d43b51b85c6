//! The official `lambda_runtime` crate as the bootstrap under lambda-sim, through the CLI and
//! through the embedding API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const SIM: &str = env!("CARGO_BIN_EXE_lambda-sim");
const FUNCTION: &str = env!("CARGO_BIN_EXE_echo-fn");

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
    let mut child = Command::new(SIM)
        .args([
            "--invoke-addr",
            "127.0.0.1:0",
            "--runtime-api-addr",
            "127.0.0.1:0",
        ])
        .args([
            "--timeout",
            timeout,
            "--function-name",
            "interop",
            "--quiet",
            "--",
            FUNCTION,
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

/// POSTs `body` to the invoke endpoint; returns status, headers and body.
fn invoke(addr: SocketAddr, body: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    (status, headers, raw[split..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn echo_through_the_cli() {
    let sim = start("3");
    let (status, headers, body) = invoke(sim.invoke, r#"{"hello":"interop"}"#);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "x-amz-function-error"), None);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body, serde_json::json!({"hello": "interop"}));
}

#[test]
fn errors_reach_the_invoker_with_type_and_message() {
    let sim = start("3");
    let (status, headers, body) = invoke(sim.invoke, r#"{"action":"error"}"#);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-amz-function-error"), Some("Unhandled"));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errorType"], "InteropError");
    assert_eq!(body["errorMessage"], "the event asked for an error");
    // The runtime carries on.
    let (status, _, body) = invoke(sim.invoke, r#"{"after":"error"}"#);
    assert_eq!(
        (status, body.as_slice()),
        (200, &br#"{"after":"error"}"#[..])
    );
}

#[test]
fn the_deadline_is_the_configured_timeout_away() {
    let sim = start("7");
    let (status, headers, body) = invoke(sim.invoke, r#"{"action":"context"}"#);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let ctx: Value = serde_json::from_slice(&body).unwrap();
    let left = ctx["deadline"].as_u64().unwrap() as i64 - ctx["now_ms"].as_u64().unwrap() as i64;
    assert!(
        (6_500..=7_000).contains(&left),
        "deadline is {left} ms away, not 7 s"
    );
    assert_eq!(
        ctx["request_id"],
        header(&headers, "x-amzn-requestid").unwrap()
    );
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
fn a_timeout_resets_and_the_next_invocation_works() {
    let sim = start("1");
    let (status, headers, body) = invoke(sim.invoke, r#"{"action":"sleep","ms":3000}"#);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-amz-function-error"), Some("Unhandled"));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    let (status, _, body) = invoke(sim.invoke, r#"{"n":2}"#);
    assert_eq!((status, body.as_slice()), (200, &br#"{"n":2}"#[..]));
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

//! What the simulator exposes, and what a request can make it do: its listeners are loopback
//! unless an address says otherwise (and then it warns); subscribers are reached on loopback
//! only; hostile requests start no program, open no file and leave no descriptor behind; and
//! once shut down, neither API answers.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::binary::*;
use common::*;
use lambda_sim::internals::exposure_warning;

#[test]
fn listeners_are_loopback_unless_an_address_says_otherwise_which_is_warned_about() {
    let sim = external(Duration::from_secs(3));
    assert!(sim.invoke_addr().ip().is_loopback());
    assert!(sim.runtime_api_addr().ip().is_loopback());
    for loopback in ["127.0.0.1:8080", "127.0.0.2:1", "[::1]:9001"] {
        assert_eq!(exposure_warning(loopback.parse().unwrap(), "x"), None);
    }
    for wide in ["0.0.0.0:8080", "[::]:8080", "192.168.1.7:9001"] {
        let warning = exposure_warning(wide.parse().unwrap(), "invoke endpoint").unwrap();
        assert!(warning.contains(wide), "{warning}");
    }

    // The binary, told to listen on 0.0.0.0, in a network namespace of its own, where loopback
    // is the only interface and no other host can reach it (the tests bind loopback only).
    let mut child = Command::new("unshare")
        .args(["--map-root-user", "--net", "--", "sh", "-c"])
        .arg(r#"ip link set lo up && exec "$@""#)
        .arg("sh")
        .arg(BIN)
        .args([
            "--invoke-addr",
            "0.0.0.0:0",
            "--runtime-api-addr",
            "127.0.0.1:0",
        ])
        .arg("--external-runtime")
        .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux) and ip (iproute2)");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    assert!(
        ready.starts_with("lambda-sim ready invoke=0.0.0.0:"),
        "{ready}"
    );
    // `exec` all the way: the pid is the simulator's.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("the invoke endpoint listens on 0.0.0.0:")
            && warnings[0].contains("other hosts can reach"),
        "{stderr}"
    );
}

#[test]
fn subscribers_are_reached_on_loopback_only() {
    let sim = external(Duration::from_secs(3));
    let mut ext = Client::connect(sim.runtime_api_addr());
    let r = ext.request(
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", "probe")],
        br#"{"events":[]}"#,
    );
    let id = r.header("Lambda-Extension-Identifier").unwrap().to_string();
    let hostile = [
        "http://10.0.0.1:9/",
        "http://169.254.169.254:80/latest/meta-data/",
        "http://example.com:80/",
        "http://localhost.example.com:80/",
        "http://0.0.0.0:80/",
        "http://[::ffff:10.0.0.1]:80/",
        "http://sandbox.localdomain:80@example.com:80/",
        "https://sandbox.localdomain:443/",
        "file:///etc/passwd",
        "http://sandbox.localdomain:9/a b",
    ];
    for (path, schema, error) in [
        ("/2022-07-01/telemetry", "2022-07-01", "ValidationError"),
        ("/2020-08-15/logs", "2020-08-15", "Logs.ValidationError"),
    ] {
        for uri in hostile {
            let body = serde_json::json!({
                "schemaVersion": schema,
                "types": ["platform"],
                "destination": {"protocol": "HTTP", "URI": uri},
            })
            .to_string();
            let r = ext.request(
                "PUT",
                path,
                &[("Lambda-Extension-Identifier", &id)],
                body.as_bytes(),
            );
            assert_eq!(
                (r.status, r.json()["errorType"].as_str()),
                (400, Some(error)),
                "{path} {uri}: {}",
                r.text()
            );
        }
    }
    // The same request with the sandbox's own name is taken.
    let body = br#"{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:9/"}}"#;
    let r = ext.request(
        "PUT",
        "/2022-07-01/telemetry",
        &[("Lambda-Extension-Identifier", &id)],
        body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Sends `raw` on a connection of its own and reads what comes back until the server closes
/// or goes quiet for a moment.
fn barrage(addr: SocketAddr, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let _ = s.write_all(raw);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn hostile_requests_start_no_program_open_no_file_and_leave_no_descriptor() {
    let sim = Binary::python("echo", &[]);
    let pid = sim.pid();
    // Warm: the runtime is up, every listener and pipe in place.
    let r = Client::connect(sim.invoke).request("POST", INVOKE, &[], b"{}");
    assert_eq!(r.status, 200);
    let kids = sim.children();
    assert_eq!(kids.len(), 1, "the runtime only: {kids:?}");
    let before = sim.settled_fds();

    let marker = std::env::temp_dir().join(format!("lambda-sim-pwned-{pid}"));
    let touch = format!("$(touch {})", marker.display());
    let targets = [
        "/../../../../etc/passwd".to_string(),
        "/2015-03-31/functions/../../../../etc/passwd/invocations".into(),
        "/2015-03-31/functions/%2e%2e%2f%2e%2e%2fetc%2fpasswd/invocations".into(),
        format!(
            "/2018-06-01/runtime/invocation/{}/response",
            touch.replace(' ', "%20")
        ),
        "/2018-06-01/runtime/invocation/..%2f..%2f..%2fetc%2fshadow/error".into(),
        "/2020-01-01/extension/register?file=/etc/passwd".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
        "file:///etc/passwd".into(),
        "/proc/self/environ".into(),
        "*".into(),
    ];
    for addr in [sim.invoke, sim.runtime_api] {
        for target in &targets {
            for method in ["GET", "POST", "PUT", "DELETE", "CONNECT"] {
                let raw = format!(
                    "{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\
                     Lambda-Extension-Name: {touch}\r\nLambda-Runtime-Function-Error-Type: ;{touch}\r\n\
                     X-Amz-Client-Context: {touch}\r\n\r\n{{}}"
                );
                let answer = barrage(addr, raw.as_bytes());
                let status: u16 = answer
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                assert!(
                    (400..500).contains(&status),
                    "{method} {target} on {addr}: {answer}"
                );
            }
        }
    }
    // A file named in a register request's body, and a subscription's destination on disk.
    let mut ext = Client::connect(sim.runtime_api);
    let r = ext.request(
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", "/etc/passwd")],
        br#"{"events":["INVOKE"],"path":"/etc/passwd"}"#,
    );
    // The registration closed with the runtime's first /next.
    assert_eq!(r.status, 403, "{}", r.text());
    drop(ext);

    assert!(!marker.exists(), "a request ran a command");
    assert_eq!(sim.children(), kids, "a request started a program");
    // Every connection above is closed: the descriptors come back to what they were, and none
    // is a file other than /dev/null and the runtime's /proc status (read for its peak RSS).
    sim.fds_back_to(before);
    let fds = sim.fd_targets();
    for fd in &fds {
        let allowed = fd.starts_with("socket:")
            || fd.starts_with("pipe:")
            || fd.starts_with("anon_inode:")
            || fd == "/dev/null"
            || fd.starts_with("/dev/pts/")
            || (fd.starts_with("/proc/") && fd.ends_with("/status"));
        assert!(allowed, "an open file: {fd}");
    }
    // And it still serves.
    let r = Client::connect(sim.invoke).request("POST", INVOKE, &[], br#"{"n":2}"#);
    assert_eq!((r.status, r.text()), (200, r#"{"n":2}"#.to_string()));
}

#[test]
fn once_shut_down_neither_api_answers() {
    let sim = lambda_sim::Simulator::builder()
        .command(python_runtime("echo"))
        .start()
        .unwrap();
    assert_eq!(sim.invoke("{}").unwrap().status, 200);
    let (invoke, runtime_api) = (sim.invoke_addr(), sim.runtime_api_addr());
    sim.shutdown().unwrap();
    for addr in [invoke, runtime_api] {
        let err = TcpStream::connect(addr).expect_err("the listener is closed");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{addr}");
    }
}

#[test]
fn nothing_an_invoker_sends_splits_the_runtimes_next_answer() {
    let sim = Binary::python("echo", &[]);
    // JSON may hold CR LF between its tokens: base64 of `{"a":1,\r\n"X-Evil: 1":2}`.
    let context = "eyJhIjoxLA0KIlgtRXZpbDogMSI6Mn0=";
    let r = Client::connect(sim.invoke).request(
        "POST",
        INVOKE,
        &[("X-Amz-Client-Context", context)],
        br#"{"action":"headers"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // What the runtime's /next answer carried, as its HTTP client parsed it.
    let headers = r.json();
    let headers = headers.as_object().unwrap();
    assert!(!headers.contains_key("x-evil"), "{headers:?}");
    let carried = headers["lambda-runtime-client-context"].as_str().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(carried).unwrap();
    assert_eq!(parsed, serde_json::json!({"a": 1, "X-Evil: 1": 2}));
    sim.stop();
}

/// A shell that opened a descriptor before `cargo test` (`exec 7>file`) gives it to the tests,
/// and through them to lambda-sim: the descriptor check above must count only what lambda-sim
/// opened itself. This runs that test again in a process started that way.
#[test]
fn the_descriptor_check_ignores_what_the_tests_inherited() {
    if std::env::var_os("LAMBDA_SIM_SECURITY_INNER").is_some() {
        return; // already the inner run
    }
    let file = std::env::temp_dir().join(format!("lambda-sim-inherited-{}", std::process::id()));
    let me = std::env::current_exe().unwrap();
    let out = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            "exec 7>\"$1\"; exec \"$0\" --exact hostile_requests_start_no_program_open_no_file_and_leave_no_descriptor",
        ])
        .arg(&me)
        .arg(&file)
        .env("LAMBDA_SIM_SECURITY_INNER", "1")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! The `lambda-sim` binary: its contract with users and scripts (flags, exit codes, the ready
//! line, signals, the demo).
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::process::Command;
use std::thread;
use std::time::Duration;

use common::binary::*;
use common::*;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run lambda-sim")
}

#[test]
fn help_and_version() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("USAGE:") && help.contains("--runtime-interface-emulator-address"));
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("lambda-sim {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_flags_exit_2_with_a_clear_message() {
    let out = run(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown option '--frobnicate'"), "{err}");
    assert!(err.contains("--help"));
    let out = run(&["--timeout", "1000", "./x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("outside Lambda's range")
    );
}

#[test]
fn a_missing_or_unusable_bootstrap_exits_1() {
    let out = run(&["/nonexistent/bootstrap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("does not exist")
    );
    let out = run(&[env!("CARGO_MANIFEST_DIR")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("not an executable file")
    );
    let out = run(&["no-such-command-on-path-xyz"]);
    assert_eq!(out.status.code(), Some(1));
    // So does an extension that cannot run, named in the message.
    let out = run(&["--extension", "logger=/nonexistent/logger", "/bin/true"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("extension logger: /nonexistent/logger does not exist"),
        "{err}"
    );
}

#[test]
fn an_address_in_use_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args([
            "--invoke-addr",
            &addr,
            "--runtime-api-addr",
            "127.0.0.1:0",
            "--external-runtime",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("cannot listen on {addr} for the invoke endpoint")),
        "{err}"
    );
}

#[test]
fn serves_a_real_runtime_and_stops_cleanly_on_sigterm() {
    let mut cmd = vec!["--timeout", "2", "--function-name", "cli-fn", "--"];
    let py = python_runtime("echo");
    cmd.extend(py.iter().map(String::as_str));
    let mut sim = Binary::start(&cmd, &[]);
    let mut c = Client::connect(sim.invoke);
    let r = c.request(
        "POST",
        "/2015-03-31/functions/cli-fn/invocations",
        &[],
        br#"{"action":"pid"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let pid = r.json()["pid"].as_i64().unwrap() as i32;
    let id = r.header("X-Amzn-RequestId").unwrap().to_string();
    let lines = sim.wait_line(&format!("REPORT RequestId: {id}"));
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("START RequestId: {id} Version: $LATEST")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l == &format!("END RequestId: {id}")));
    // The Runtime API answers on its own listener too.
    assert_eq!(
        Client::connect(sim.runtime_api)
            .request("GET", "/ping", &[], b"")
            .text(),
        "pong"
    );
    sim.signal("TERM");
    let status = sim.wait_exit();
    assert!(status.success(), "{status}");
    assert!(!alive(pid), "the runtime outlived the simulator");
}

#[test]
fn extensions_from_flags_and_the_extensions_dir_run_and_get_shutdown_on_sigterm() {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/extension.py")
        .display()
        .to_string();
    let dir = std::env::temp_dir().join(format!("lambda-sim-cli-ext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let in_dir = dir.join("from-dir");
    std::fs::write(
        &in_dir,
        format!("#!/bin/sh\nexec python3 {script} from-dir well-behaved\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&in_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let named = format!("from-flag=python3 {script} from-flag well-behaved");
    let mut cmd = vec!["--extension", named.as_str(), "--"];
    let py = python_runtime("echo");
    cmd.extend(py.iter().map(String::as_str));
    let dir_str = dir.display().to_string();
    let mut sim = Binary::start(&cmd, &[("LAMBDA_EXTENSIONS_DIR", dir_str.as_str())]);
    let r = Client::connect(sim.invoke).request("POST", INVOKE, &[], b"{}");
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.header("X-Amzn-RequestId").unwrap().to_string();
    let lines = sim.wait_line(&format!("REPORT RequestId: {id}"));
    for name in ["from-dir", "from-flag"] {
        let line = format!("EXTENSION\tName: {name}\tState: Ready\tEvents: [INVOKE, SHUTDOWN]");
        assert!(lines.contains(&line), "{name}: {lines:#?}");
    }
    let report = lines.last().unwrap();
    assert!(
        report.contains("Extension Overhead: ")
            && report.contains("from-dir: ")
            && report.contains("from-flag: "),
        "{report}"
    );
    sim.signal("TERM");
    let lines = sim.wait_line("lambda-sim: signal");
    assert!(!lines.is_empty());
    let mut exits = 0;
    while exits < 2 {
        let line = sim.next_line(Duration::from_secs(10)).expect("exits");
        if line.ends_with(": exiting") {
            exits += 1;
        }
    }
    assert!(sim.wait_exit().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_also_shuts_down_and_answers_the_waiting_invoker() {
    let mut sim = Binary::start(&["--external-runtime"], &[]);
    let invoke = sim.invoke;
    let invoker =
        thread::spawn(move || Client::connect(invoke).request("POST", INVOKE, &[], b"{}"));
    // The invocation is in flight once the runtime has it.
    let mut rt = Client::connect(sim.runtime_api);
    next(&mut rt);
    sim.signal("INT");
    let r = invoker.join().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["errorType"], "Sandbox.Shutdown");
    assert!(sim.wait_exit().success());
}

#[test]
fn a_killed_simulator_takes_its_runtime_with_it() {
    let py = python_runtime("echo");
    let args: Vec<&str> = py.iter().map(String::as_str).collect();
    let mut sim = Binary::start(&args, &[]);
    let r = Client::connect(sim.invoke).request("POST", INVOKE, &[], br#"{"action":"pid"}"#);
    let pid = r.json()["pid"].as_i64().unwrap() as i32;
    assert!(alive(pid));
    sim.signal("KILL");
    sim.wait_exit();
    // PR_SET_PDEATHSIG: the kernel kills the direct child when the simulator dies.
    assert!(
        wait_until(Duration::from_secs(5), || !alive(pid)),
        "runtime {pid} survived SIGKILL of the simulator"
    );
}

#[test]
fn rie_environment_variables_configure_the_function() {
    let py = python_runtime("echo");
    let args: Vec<&str> = py.iter().map(String::as_str).collect();
    let sim = Binary::start(
        &args,
        &[
            ("AWS_LAMBDA_FUNCTION_NAME", "from-env"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ],
    );
    let r = Client::connect(sim.invoke).request(
        "POST",
        "/2015-03-31/functions/from-env/invocations",
        &[],
        br#"{"action":"env"}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "1024");
    assert_eq!(r.json()["AWS_LAMBDA_FUNCTION_NAME"], "from-env");
}

#[test]
fn the_demo_runs_and_exits_0() {
    let out = run(&["demo"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("--- invocation ").count(), 5, "{stdout}");
    assert!(stdout.contains("X-Amz-Function-Error: Unhandled"));
    assert!(stdout.contains(r#""errorType":"DemoError""#));
    assert!(stdout.contains(r#""errorType":"Sandbox.Timedout""#));
    assert!(stdout.contains("Task timed out after 1.00 seconds"));
    assert_eq!(stdout.matches("REPORT RequestId: ").count(), 5);
    assert_eq!(
        stdout.matches("Init Duration: ").count(),
        2,
        "cold start and the re-init: {stdout}"
    );
    assert!(stdout.contains("lambda-sim demo: done."));
    // Its extension: on every REPORT but the timeout's, SHUTDOWN after the reset and at the end.
    assert_eq!(
        stdout.matches("Extension Overhead: ").count(),
        4,
        "{stdout}"
    );
    assert!(stdout.contains("demo extension: SHUTDOWN (timeout), exiting"));
    assert!(stdout.contains("demo extension: SHUTDOWN (spindown), exiting"));
    // The runtime's peak memory is read before the timeout kills it.
    assert!(!stdout.contains("Max Memory Used: 0 MB"), "{stdout}");
}

#[test]
fn sigterm_while_frozen_still_delivers_shutdown_and_ends_every_process() {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/extension.py")
        .display()
        .to_string();
    let named = format!("ext=python3 {script} ext well-behaved");
    let mut cmd = vec!["--extension", named.as_str(), "--"];
    let py = python_runtime("echo");
    cmd.extend(py.iter().map(String::as_str));
    let mut sim = Binary::start(&cmd, &[]);
    let r = Client::connect(sim.invoke).request("POST", INVOKE, &[], br#"{"action":"pid"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let runtime = r.json()["pid"].as_u64().unwrap() as u32;
    let id = r.header("X-Amzn-RequestId").unwrap().to_string();
    let lines = sim.wait_line(&format!("REPORT RequestId: {id}"));
    let ext: u32 = lines
        .iter()
        .find_map(|l| l.strip_prefix("ext ext: started pid="))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no extension pid in {lines:#?}"));
    let frozen = wait_until(Duration::from_secs(5), || {
        [runtime, ext]
            .iter()
            .all(|pid| proc_state(*pid) == Some('T'))
    });
    assert!(
        frozen,
        "runtime {:?}, extension {:?}",
        proc_state(runtime),
        proc_state(ext)
    );

    sim.signal("TERM");
    // Thawed first: the extension receives SHUTDOWN and exits as asked.
    let lines = sim.wait_line("ext ext: exiting");
    let shutdown = lines
        .iter()
        .find(|l| l.starts_with("ext ext: event ") && l.contains(r#""eventType": "SHUTDOWN""#))
        .unwrap_or_else(|| panic!("no SHUTDOWN in {lines:#?}"));
    assert!(
        shutdown.contains(r#""shutdownReason": "spindown""#),
        "{shutdown}"
    );
    let status = sim.wait_exit();
    assert!(status.success(), "{status}");
    assert!(!alive(runtime as i32), "the runtime outlived the simulator");
    assert!(!alive(ext as i32), "the extension outlived the simulator");
}

/// `lambda-sim invoke ARGS -- python3 runtime.py echo`: its output and exit code.
fn invoke_once(args: &[&str]) -> std::process::Output {
    let py = python_runtime("echo");
    let mut all: Vec<&str> = vec!["invoke"];
    all.extend(args);
    all.push("--");
    all.extend(py.iter().map(String::as_str));
    Command::new(BIN)
        .args(&all)
        .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
        .output()
        .expect("run lambda-sim invoke")
}

#[test]
fn its_log_may_go_to_dev_null() {
    // epoll refuses /dev/null: the log is then written to it in blocking mode.
    let py = python_runtime("echo");
    let mut args = vec!["invoke", "--payload", r#"{"quiet":1}"#, "--"];
    args.extend(py.iter().map(String::as_str));
    let out = Command::new(BIN)
        .args(&args)
        .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
        .stderr(std::fs::File::create("/dev/null").unwrap())
        .output()
        .expect("run lambda-sim invoke");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"quiet\":1}\n");
}

#[test]
fn invoke_prints_the_answer_and_the_log_and_exits_by_the_outcome() {
    let out = invoke_once(&["--payload", r#"{"hello":"ci"}"#]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"hello\":\"ci\"}\n");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("START RequestId: "), "{log}");
    assert!(log.contains("\nREPORT RequestId: "), "{log}");

    // A function error: 1, the error on stdout.
    let out = invoke_once(&["--payload", r#"{"action":"error"}"#]);
    assert_eq!(out.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["errorType"], "Boom");

    // A platform error (the timeout): 2.
    let out = invoke_once(&[
        "--timeout",
        "1",
        "--payload",
        r#"{"action":"sleep","seconds":5}"#,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["errorType"], "Sandbox.Timedout");

    // --count and --payload-file; --log-tail prints each invocation's tail instead.
    let file = std::env::temp_dir().join(format!("lambda-sim-event-{}.json", std::process::id()));
    std::fs::write(&file, br#"{"from":"file"}"#).unwrap();
    let path = file.display().to_string();
    let out = invoke_once(&["--payload-file", &path, "--count", "3", "--log-tail"]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"from\":\"file\"}\n".repeat(3)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(log.matches("START RequestId: ").count(), 3, "{log}");
    assert_eq!(log.matches("\nREPORT RequestId: ").count(), 3, "{log}");
    assert!(!log.contains("fixture runtime:"), "only the tails: {log}");
}

#[test]
fn invoke_with_an_endpoint_invokes_a_running_simulator() {
    let py = python_runtime("echo");
    let mut cmd = vec!["--"];
    cmd.extend(py.iter().map(String::as_str));
    let mut sim = Binary::start(&cmd, &[]);
    let endpoint = format!("http://{}", sim.invoke);
    let out = Command::new(BIN)
        .args([
            "invoke",
            "--endpoint",
            &endpoint,
            "--payload",
            r#"{"n":1}"#,
            "--log-tail",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"n\":1}\n");
    let tail = String::from_utf8_lossy(&out.stderr);
    assert!(tail.starts_with("START RequestId: "), "{tail}");
    assert!(tail.contains("\nREPORT RequestId: "), "{tail}");
    let out = Command::new(BIN)
        .args([
            "invoke",
            "--endpoint",
            &endpoint,
            "--payload",
            r#"{"action":"error"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Nothing listening: a platform error.
    let out = Command::new(BIN)
        .args(["invoke", "--endpoint", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    sim.signal("TERM");
    assert!(sim.wait_exit().success());
}

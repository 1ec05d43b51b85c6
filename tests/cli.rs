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
fn help_and_version_as_cargo_has_them() {
    let stdout = |args: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let help = stdout(&["--help"]);
    assert!(help.contains("USAGE:") && help.contains("--runtime-interface-emulator-address"));
    // Every default, the exit codes and the environment.
    for needle in [
        "[default: warn]",
        "[default: 3]",
        "[default: 012345678912]",
        "EXIT STATUS",
        "LAMBDA_EXTENSIONS_DIR",
        "RUST_LOG",
        "_HANDLER",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "-q, --quiet",
    ] {
        assert!(help.contains(needle), "{needle} not in --help");
    }
    assert_eq!(stdout(&["help"]), help);
    // Each command's own help: its options, not the global text.
    for (command, own) in [
        ("invoke", "--payload <EVENT>"),
        ("bench", "--baseline"),
        ("demo", "lambda-sim demo [SIMULATOR OPTIONS]"),
    ] {
        let text = stdout(&[command, "--help"]);
        assert!(text.contains(own), "{command}: {text}");
        assert!(
            text.starts_with(&format!("lambda-sim {command}:")),
            "{text}"
        );
        assert!(
            text.contains("EXIT STATUS") && text.contains("EXAMPLE"),
            "{text}"
        );
        assert_eq!(stdout(&["help", command]), text);
    }
    let version = format!("lambda-sim {}\n", env!("CARGO_PKG_VERSION"));
    for flag in ["--version", "-V", "version"] {
        assert_eq!(stdout(&[flag]), version);
    }
}

#[test]
fn bad_flags_exit_2_with_a_clear_message() {
    let out = run(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown option '--frobnicate'"), "{err}");
    assert!(err.contains("--help"));
    for bad in ["0", "1000", "2.5"] {
        let out = run(&["--timeout", bad, "./x"]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("1 to 900"), "{err}");
    }
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
        3,
        "the cold start's REPORT, and the re-init's INIT_REPORT (phase invoke) and REPORT: {stdout}"
    );
    assert_eq!(stdout.matches("\tPhase: invoke\n").count(), 1, "{stdout}");
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
    // As the ready line prints the address, without the scheme.
    let out = Command::new(BIN)
        .args(["invoke", "--endpoint", &sim.invoke.to_string(), "-n", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{}\n{}\n");
    // Options of the simulator it does not start are refused, not ignored.
    let out = Command::new(BIN)
        .args(["invoke", "--endpoint", &endpoint, "--timeout", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--timeout"));
    // Nothing listening: it could not start, exit 3.
    let out = Command::new(BIN)
        .args(["invoke", "--endpoint", "127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    sim.signal("TERM");
    assert!(sim.wait_exit().success());
}

/// Whether a bootstrap sits where RIE looks on this machine (then "no bootstrap" cannot be
/// tested through the binary here).
fn rie_bootstrap_here() -> bool {
    [
        "/var/task/bootstrap",
        "/opt/bootstrap",
        "/var/runtime/bootstrap",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).exists())
}

#[test]
fn with_options_and_no_bootstrap_it_exits_1_rather_than_run_the_demo() {
    if rie_bootstrap_here() {
        eprintln!("skipped: this machine has a bootstrap where RIE looks");
        return;
    }
    let out = run(&["--invoke-addr", "127.0.0.1:0", "--timeout", "5"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    for place in [
        "/var/task/bootstrap",
        "/opt/bootstrap",
        "/var/runtime/bootstrap",
    ] {
        assert!(err.contains(place), "{err}");
    }
    assert!(out.stdout.is_empty(), "nothing started");
}

#[test]
fn invoke_exit_codes_tell_a_broken_set_up_from_the_functions_error() {
    // No bootstrap, or one that cannot run: 3.
    if !rie_bootstrap_here() {
        let out = Command::new(BIN).args(["invoke"]).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{out:?}");
    }
    let out = Command::new(BIN)
        .args(["invoke", "--", "/nonexistent/bootstrap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    // An address in use: 3.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = invoke_once(&["--invoke-addr", &addr]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    // A mistyped payload: a bad flag (2), and nothing started.
    let started = std::time::Instant::now();
    let out = invoke_once(&["--payload", "event.jsn"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("neither JSON nor a file"), "{err}");
    assert!(!err.contains("START"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn invoke_reads_its_payload_from_files_and_standard_input() {
    let file = std::env::temp_dir().join(format!("lambda-sim-event-{}.bin", std::process::id()));
    std::fs::write(&file, br#"{"from":"fileb"}"#).unwrap();
    let fileb = format!("fileb://{}", file.display());
    let out = invoke_once(&["--payload", &fileb]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"from\":\"fileb\"}\n"
    );
    let _ = std::fs::remove_file(&file);
    let py = python_runtime("echo");
    let mut args = vec!["invoke", "--payload", "-", "--"];
    args.extend(py.iter().map(String::as_str));
    let mut child = Command::new(BIN)
        .args(&args)
        .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(br#"{"from":"stdin"}"#).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"from\":\"stdin\"}\n"
    );
}

/// AWS's own end-to-end test starts the emulator as
/// `aws-lambda-rie /lambda-entrypoint.sh main.handler --runtime-interface-emulator-address 0.0.0.0:8081`:
/// its option after the bootstrap and the handler. lambda-sim, started the same way, takes the
/// option and gives the bootstrap the rest.
#[test]
fn it_starts_exactly_as_awss_end_to_end_test_starts_rie() {
    let dir = std::env::temp_dir().join(format!("lambda-sim-entry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let entrypoint = dir.join("lambda-entrypoint.sh");
    let runtime = python_runtime("echo");
    std::fs::write(
        &entrypoint,
        format!(
            "#!/bin/sh\n# The handler is the first argument, as in AWS's images.\necho \"entrypoint args: $*\"\nexec {} {} {}\n",
            runtime[0], runtime[1], runtime[2]
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&entrypoint, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = Command::new(BIN)
        .args([
            entrypoint.to_str().unwrap(),
            "main.handler",
            "--runtime-interface-emulator-address",
            "127.0.0.1:0",
            "--runtime-api-address",
            "127.0.0.1:0",
        ])
        .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let ready = lines.next().unwrap().unwrap();
    let invoke: std::net::SocketAddr = ready
        .split(' ')
        .find_map(|w| w.strip_prefix("invoke="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        invoke.ip().is_loopback() && invoke.port() != 8080,
        "{ready}"
    );
    let r = common::Client::connect(invoke).request(
        "POST",
        common::INVOKE,
        &[],
        br#"{"action":"env"}"#,
    );
    assert_eq!(r.status, 200);
    // _HANDLER is the last argument, as RIE sets it.
    assert_eq!(r.json()["_HANDLER"], "main.handler");
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("entrypoint args:");
        seen.push(line);
        if done {
            break;
        }
    }
    // The bootstrap got the handler, and not the emulator's option.
    assert_eq!(
        seen.last().map(String::as_str),
        Some("entrypoint args: main.handler"),
        "{seen:?}"
    );
    common::binary::signal_pid(child.id(), "TERM");
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_account_id_is_the_one_in_the_arn_and_a_refusal_says_which_was_expected() {
    let sim = Binary::python(
        "echo",
        &["--account-id", "111122223333", "--function-name", "orders"],
    );
    let path = |name: &str| format!("/2015-03-31/functions/{name}/invocations");
    let arn = "arn:aws:lambda:us-east-1:111122223333:function:orders";
    for name in [
        arn,
        "111122223333:function:orders",
        "orders",
        "function",
        "orders:$LATEST",
    ] {
        let name = name.replace('$', "%24");
        let r = common::Client::connect(sim.invoke).request("POST", &path(&name), &[], b"{}");
        assert_eq!(r.status, 200, "{name}: {}", r.text());
    }
    let other = "arn:aws:lambda:us-east-1:012345678912:function:orders";
    let r = common::Client::connect(sim.invoke).request("POST", &path(other), &[], b"{}");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("ResourceNotFoundException")
    );
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with(&format!("Function not found: {other}")),
        "{message}"
    );
    assert!(message.contains("in account 111122223333"), "{message}");
    assert!(message.contains(arn), "{message}");
    sim.stop();
    // Not an account id.
    let out = run(&["--account-id", "42", "./b"]);
    assert_eq!(out.status.code(), Some(2));
}

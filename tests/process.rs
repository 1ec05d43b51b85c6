//! Real child processes: the bootstrap spawned with Lambda's environment, its output captured,
//! its crashes, hangs and init errors answered as Lambda answers them (lambda-runtime-environment.html,
//! configuration-envvars.html, and the core's decisions).
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use common::*;
use lambda_sim::{Handle, LogOutput, Simulator};

fn sim(mode: &str) -> Handle {
    Simulator::builder()
        .command(python_runtime(mode))
        .timeout(Duration::from_secs(2))
        .function_name("fixture")
        .memory_mb(256)
        .log_output(LogOutput::Capture)
        .seed(3)
        .start()
        .expect("start")
}

fn pid_of(sim: &Handle) -> i32 {
    let r = sim.invoke(r#"{"action":"pid"}"#).unwrap();
    serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["pid"]
        .as_i64()
        .unwrap() as i32
}

#[test]
fn echo_through_a_real_runtime_with_start_end_report() {
    let sim = sim("echo");
    let r = sim.invoke(r#"{"hello":"world"}"#).unwrap();
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.body_str(), r#"{"hello":"world"}"#);
    assert!(
        r.timings.init.is_some(),
        "the first invocation waited for the init"
    );
    let lines = wait_line(&sim, "REPORT", Duration::from_secs(10));
    let start = format!("START RequestId: {} Version: $LATEST", r.request_id);
    assert!(lines.iter().any(|l| l == &start), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("fixture runtime: mode=echo")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("END RequestId: {}", r.request_id))
    );
    let report = lines.last().unwrap();
    assert!(
        report.starts_with(&format!("REPORT RequestId: {}\tDuration: ", r.request_id)),
        "{report}"
    );
    assert!(report.contains("\tMemory Size: 256 MB\t"), "{report}");
    assert!(report.contains("\tInit Duration: "), "{report}");
    let used: u64 = report
        .split("Max Memory Used: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(used > 1, "the runtime's peak RSS: {report}");
    // A warm invocation carries no Init Duration.
    let r = sim.invoke("{}").unwrap();
    let lines = wait_report(&sim, &r.request_id);
    assert!(
        !lines.last().unwrap().contains("Init Duration"),
        "{lines:?}"
    );
}

#[test]
fn the_runtime_gets_lambdas_environment() {
    let dir = std::env::temp_dir().join(format!("lambda-sim-root-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = python_runtime("echo");
    cmd.push("app.handler".into());
    let sim = Simulator::builder()
        .command(cmd)
        .function_name("env-check")
        .memory_mb(512)
        .region("eu-west-3")
        .task_root(&dir)
        .env("MY_SETTING", "on")
        .start()
        .unwrap();
    // The host environment passes through underneath (so python3 is found on PATH).
    let r = sim.invoke(r#"{"action":"env"}"#).unwrap();
    let env: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        env["AWS_LAMBDA_RUNTIME_API"],
        sim.runtime_api_addr().to_string()
    );
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "env-check");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "512");
    assert_eq!(env["AWS_REGION"], "eu-west-3");
    assert_eq!(env["AWS_DEFAULT_REGION"], "eu-west-3");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/env-check");
    assert!(
        env["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .unwrap()
            .contains("/[$LATEST]")
    );
    assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
    assert_eq!(env["LAMBDA_TASK_ROOT"], dir.display().to_string());
    assert_eq!(
        env["cwd"],
        dir.canonicalize().unwrap().display().to_string()
    );
    assert_eq!(
        env["_HANDLER"], "app.handler",
        "the last argument, as RIE does"
    );
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(env["MY_SETTING"], "on");
    drop(sim);
    // A published version names its log streams: `2026/12/06/[7]...`.
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .function_version("7")
        .start()
        .unwrap();
    let r = sim.invoke(r#"{"action":"env"}"#).unwrap();
    let env: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "7");
    let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap();
    assert_eq!(&stream[10..14], "/[7]", "{stream}");
    // Inherited from the host (cargo sets it for the test process).
    assert_eq!(env["CARGO_MANIFEST_DIR"], env!("CARGO_MANIFEST_DIR"));
    drop(sim);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_clean_environment_is_lambdas_only() {
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .clean_env(true)
        .env("EXTRA", "1")
        .start()
        .unwrap();
    // python3 is found by the simulator's own PATH when spawning, then runs with Lambda's.
    let r = sim.invoke(r#"{"action":"env"}"#).unwrap();
    assert_eq!(r.status, 200, "{}", r.body_str());
    let env: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(env["PATH"], "/usr/local/bin:/usr/bin/:/bin:/opt/bin");
    assert_eq!(env["LANG"], "en_US.UTF-8");
    assert_eq!(env["EXTRA"], "1");
    assert!(env.get("HOME").is_none(), "nothing inherited: {env}");
    assert!(env.get("CARGO_MANIFEST_DIR").is_none());
}

#[test]
fn output_is_captured_line_by_line() {
    let sim = sim("echo");
    let r = sim
        .invoke(r#"{"action":"print","lines":["one","two","three"]}"#)
        .unwrap();
    let lines = wait_report(&sim, &r.request_id);
    let printed: Vec<&String> = lines
        .iter()
        .filter(|l| ["one", "two", "three", "to stderr"].contains(&l.as_str()))
        .collect();
    assert_eq!(printed.len(), 4, "{lines:?}");
    let pos = |s: &str| lines.iter().position(|l| l == s).unwrap();
    assert!(pos("one") < pos("two") && pos("two") < pos("three"));
    // Lifecycle lines are rendered after the turn's answers, yet keep their place: what the
    // function prints during the invocation falls between its START and its END.
    let start = pos(&format!(
        "START RequestId: {} Version: $LATEST",
        r.request_id
    ));
    let end = pos(&format!("END RequestId: {}", r.request_id));
    assert!(start < pos("one") && pos("three") < end, "{lines:?}");
}

#[test]
fn a_crash_mid_invoke_is_runtime_exit_error_and_the_next_invoke_reinitialises() {
    let sim = sim("echo");
    let first = pid_of(&sim);
    let r = sim.invoke(r#"{"action":"crash","code":3}"#).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.function_error(), Some("Unhandled"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errorType"], "Runtime.ExitError");
    assert_eq!(
        body["errorMessage"],
        format!(
            "RequestId: {} Error: Runtime exited with error: exit status 3",
            r.request_id
        )
    );
    let lines = wait_report(&sim, &r.request_id);
    assert!(
        lines
            .last()
            .unwrap()
            .contains("Status: error\tError Type: Runtime.ExitError"),
        "{lines:?}"
    );
    let second = pid_of(&sim);
    assert_ne!(first, second, "a new runtime process");
    assert!(!alive(first));
}

#[test]
fn a_runtime_killed_by_a_signal() {
    let sim = sim("echo");
    let r = sim.invoke(r#"{"action":"kill"}"#).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body["errorMessage"],
        format!(
            "RequestId: {} Error: Runtime exited with error: signal: killed",
            r.request_id
        )
    );
}

#[test]
fn a_hanging_runtime_times_out_is_killed_and_replaced() {
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .timeout(Duration::from_millis(700))
        .log_output(LogOutput::Capture)
        .start()
        .unwrap();
    let first = pid_of(&sim);
    let r = sim.invoke(r#"{"action":"sleep","seconds":30}"#).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    assert_eq!(
        body["errorMessage"],
        format!(
            "RequestId: {} Error: Task timed out after 0.70 seconds",
            r.request_id
        )
    );
    assert!(r.timings.duration() >= lambda_sim::Micros::from_millis(700));
    assert!(
        wait_until(Duration::from_secs(5), || !alive(first)),
        "the hung runtime was killed"
    );
    let lines = wait_report(&sim, &r.request_id);
    assert!(
        lines
            .last()
            .unwrap()
            .contains("Duration: 700.00 ms\tBilled Duration: 700 ms"),
        "{lines:?}"
    );
    assert!(
        lines.last().unwrap().ends_with("Status: timeout\t"),
        "{lines:?}"
    );
    let next = sim.invoke(r#"{"after":"timeout"}"#).unwrap();
    assert_eq!(next.body_str(), r#"{"after":"timeout"}"#);
    assert!(
        next.timings.init.is_some(),
        "a suppressed init inside this invocation"
    );
}

#[test]
fn a_reset_kills_the_whole_process_group() {
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let r = sim.invoke(r#"{"action":"grandchild"}"#).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let grandchild = v["grandchild"].as_i64().unwrap() as i32;
    assert!(alive(grandchild));
    let r = sim.invoke(r#"{"action":"sleep","seconds":30}"#).unwrap();
    assert_eq!(r.function_error(), Some("Unhandled"));
    assert!(
        wait_until(Duration::from_secs(5), || !alive(grandchild)),
        "grandchild survived the reset"
    );
}

#[test]
fn children_do_not_outlive_the_simulator() {
    let sim = sim("echo");
    let r = sim.invoke(r#"{"action":"grandchild"}"#).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let (pid, grandchild) = (
        v["pid"].as_i64().unwrap() as i32,
        v["grandchild"].as_i64().unwrap() as i32,
    );
    sim.shutdown().unwrap();
    assert!(!alive(pid), "runtime left behind");
    assert!(
        wait_until(Duration::from_secs(5), || !alive(grandchild)),
        "grandchild left behind"
    );
}

#[test]
fn an_exit_during_init_answers_runtime_exit_error() {
    let sim = sim("exit-at-init");
    let r = sim.invoke("{}").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(r.function_error(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Runtime exited with error: exit status 7")
    );
    let lines = wait_line(&sim, "INIT_REPORT", Duration::from_secs(10));
    assert!(
        lines
            .last()
            .unwrap()
            .contains("Phase: init\tStatus: error\tError Type: Runtime.ExitError"),
        "{lines:?}"
    );
    // Each failing init answers one invocation: the next is a suppressed init that fails too.
    let r = sim.invoke("{}").unwrap();
    assert_eq!(r.function_error(), Some("Unhandled"));
    let lines = wait_line(&sim, "INIT_REPORT", Duration::from_secs(10));
    assert!(lines.last().unwrap().contains("Phase: invoke"), "{lines:?}");
}

#[test]
fn a_hang_during_init_hits_the_init_limit() {
    let sim = Simulator::builder()
        .command(python_runtime("hang-at-init"))
        .init_timeout(Duration::from_millis(600))
        .timeout(Duration::from_secs(1))
        .log_output(LogOutput::Capture)
        .start()
        .unwrap();
    // The init limit, then the retry under the function timeout, which it hits too.
    let r = sim.invoke("{}").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Task timed out after 1.00 seconds"),
        "{body}"
    );
    let lines = wait_line(&sim, "INIT_REPORT", Duration::from_secs(10));
    assert!(
        lines
            .last()
            .unwrap()
            .contains("\tPhase: init\tStatus: timeout"),
        "{lines:?}"
    );
    let lines = wait_line(&sim, "INIT_REPORT", Duration::from_secs(10));
    assert!(
        lines
            .last()
            .unwrap()
            .contains("Phase: invoke\tStatus: timeout"),
        "{lines:?}"
    );
}

#[test]
fn an_init_error_answers_the_posted_error_and_kills_the_runtime() {
    let sim = sim("init-error");
    let r = sim.invoke("{}").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.function_error(), Some("Unhandled"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errorMessage"], "cannot start");
    assert_eq!(body["errorType"], "InitFailed");
    let pid = body["pid"].as_i64().unwrap() as i32;
    // Killed at the end of the failed init (decision *init*); its /next, if it got one in, was refused
    // (pinned deterministically in runtime_api.rs).
    assert!(
        wait_until(Duration::from_secs(5), || !alive(pid)),
        "runtime still alive"
    );
    let lines = wait_line(&sim, "INIT_REPORT", Duration::from_secs(10));
    assert!(
        lines
            .last()
            .unwrap()
            .contains("Phase: init\tStatus: error\tError Type: Runtime.InitFailed"),
        "{lines:?}"
    );
    // The next invocation gets a new runtime, whose init fails the same way.
    let again = sim.invoke("{}").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&again.body).unwrap();
    assert_ne!(body["pid"].as_i64().unwrap() as i32, pid);
}

#[test]
fn posting_twice_gets_403_and_a_wrong_id_gets_400() {
    let sim = sim("echo");
    let r = sim.invoke(r#"{"action":"twice"}"#).unwrap();
    assert_eq!(r.body_str(), r#""first""#);
    let lines = wait_line(&sim, "twice:", Duration::from_secs(10));
    let line = lines.last().unwrap();
    assert!(line.starts_with("twice: 202 then 403 "), "{line}");
    assert!(line.contains("InvalidStateTransition"), "{line}");
    let r = sim.invoke(r#"{"action":"wrong-id"}"#).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["wrong_status"], 400);
    assert_eq!(body["wrong_body"]["errorType"], "InvalidRequestID");
}

#[test]
fn a_6mb_plus_response_is_413_for_the_runtime_and_too_large_for_the_invoker() {
    let sim = sim("echo");
    let r = sim.invoke(r#"{"action":"big"}"#).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(r.function_error(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Function.ResponseSizeTooLarge");
    let lines = wait_line(&sim, "big:", Duration::from_secs(10));
    assert!(lines.last().unwrap().starts_with("big: 413 "), "{lines:?}");
    assert!(lines.last().unwrap().contains("RequestEntityTooLarge"));
    // The runtime carries on.
    assert_eq!(sim.invoke(r#"{"ok":1}"#).unwrap().body_str(), r#"{"ok":1}"#);
}

#[test]
fn function_errors_reach_the_invoker() {
    let sim = sim("echo");
    let r = sim
        .invoke(r#"{"action":"error","type":"Function.MyError"}"#)
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.function_error(), Some("Unhandled"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errorType"], "Boom");
    assert_eq!(body["errorMessage"], "it broke");
}

#[test]
fn a_runtime_that_exits_while_idle_is_reinitialised() {
    let sim = sim("echo");
    let first = pid_of(&sim);
    let r = sim.invoke(r#"{"action":"exit-after-response"}"#).unwrap();
    assert_eq!(r.body_str(), r#""bye""#);
    assert!(wait_until(Duration::from_secs(5), || !alive(first)));
    let second = pid_of(&sim);
    assert_ne!(first, second);
}

#[test]
fn provisioned_concurrency_is_not_held_to_the_on_demand_init_limit() {
    // A 200 ms init against a 100 ms on-demand limit: provisioned concurrency has 130 s or the
    // function timeout instead, so it completes.
    let sim = Simulator::builder()
        .command(python_runtime("slow-init"))
        .eager_init(true)
        .init_timeout(Duration::from_millis(100))
        .log_output(LogOutput::Capture)
        .start()
        .unwrap();
    let lines = wait_line(&sim, "INIT_REPORT", Duration::from_secs(10));
    assert!(!lines.last().unwrap().contains("Status:"), "{lines:?}");
    let r = sim.invoke(r#"{"n":1}"#).unwrap();
    assert_eq!(r.body_str(), r#"{"n":1}"#);
    // The same function on demand runs out of that limit (and of its retry's, the 100 ms
    // function timeout).
    let sim = Simulator::builder()
        .command(python_runtime("slow-init"))
        .init_timeout(Duration::from_millis(100))
        .timeout(Duration::from_millis(100))
        .log_output(LogOutput::Capture)
        .start()
        .unwrap();
    let r = sim.invoke(r#"{"n":1}"#).unwrap();
    assert_eq!(r.function_error(), Some("Unhandled"), "{}", r.body_str());
}

#[test]
fn eager_init_starts_the_runtime_before_any_invocation() {
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .eager_init(true)
        .log_output(LogOutput::Capture)
        .start()
        .unwrap();
    wait_line(&sim, "fixture runtime: mode=echo", Duration::from_secs(10));
    let r = sim.invoke(r#"{"action":"env"}"#).unwrap();
    let env: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        env["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "provisioned-concurrency"
    );
    assert!(r.timings.init.is_none(), "the init happened before");
    let lines = wait_report(&sim, &r.request_id);
    assert!(
        !lines.last().unwrap().contains("Init Duration"),
        "{lines:?}"
    );
}

#[test]
fn a_bootstrap_that_vanishes_is_an_invalid_entrypoint() {
    let dir = std::env::temp_dir().join(format!("lambda-sim-vanish-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bootstrap = dir.join("bootstrap");
    std::fs::write(&bootstrap, "#!/bin/sh\nexit 1\n").unwrap();
    // Executable when the simulator starts (it checks), gone by the first invocation.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sim = Simulator::builder()
        .command([bootstrap.display().to_string()])
        .start()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let r = sim.invoke("{}").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errorType"], "Runtime.InvalidEntrypoint");
    assert!(
        body["errorMessage"].as_str().unwrap().contains(&format!(
            "fork/exec {}: no such file or directory",
            bootstrap.display()
        )),
        "{body}"
    );
}

#[test]
fn a_relative_bootstrap_is_found_from_where_the_simulator_runs_not_the_task_root() {
    let dir = std::env::temp_dir().join(format!("lambda-sim-taskroot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // tests/fixtures/runtime.py, relative to the crate directory (cargo's working directory
    // for tests), while the runtime runs in another task root.
    let sim = Simulator::builder()
        .command(["tests/fixtures/runtime.py", "echo"])
        .task_root(&dir)
        .start()
        .unwrap();
    let r = sim.invoke(r#"{"action":"env"}"#).unwrap();
    assert_eq!(r.status, 200, "{}", r.body_str());
    let env: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        env["cwd"],
        dir.canonicalize().unwrap().display().to_string()
    );
    drop(sim);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_pidfds_exits_are_polled_for() {
    // Where pidfd_open is missing (Linux before 5.3, some sandboxes, valgrind) the simulator
    // polls for its children's exits; everything that depends on an exit still happens.
    let sim = Simulator::builder()
        .command(python_runtime("echo"))
        .timeout(Duration::from_secs(2))
        .log_output(LogOutput::Capture)
        .poll_exits(true)
        .start()
        .expect("start");
    let first = pid_of(&sim);
    let r = sim.invoke(r#"{"action":"crash","code":3}"#).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errorType"], "Runtime.ExitError", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("exit status 3"),
        "{body}"
    );
    let second = pid_of(&sim);
    assert_ne!(first, second, "a new runtime process");
    assert!(!alive(first), "the crashed runtime was reaped");
    // Shutdown kills the runtime and finishes once its exit is seen.
    sim.shutdown().unwrap();
    assert!(!alive(second));
}

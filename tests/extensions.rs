//! External extensions as real processes beside a real runtime (runtimes-extensions-api.html): the
//! scripted extension in tests/fixtures/extension.py, well-behaved, slow, crashing, never
//! registering, ignoring SHUTDOWN; and the Extensions API's refusals over real sockets.
// Tests wait on real time; the no-clock rule of clippy.toml binds the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use lambda_sim::{Awaited, Builder, Handle, LogOutput, Simulator};

const EXT: &str = "/2020-01-01/extension";

fn builder() -> Builder {
    Simulator::builder()
        .command(python_runtime("echo"))
        .timeout(Duration::from_secs(3))
        .handler("app.handler")
        .log_output(LogOutput::Capture)
        .seed(5)
}

fn with_extension(name: &str, mode: &[&str]) -> Handle {
    builder()
        .extension(name, python_extension(name, mode))
        .start()
        .expect("start")
}

/// The JSON of the first captured line that starts with `prefix` (the rest of the line).
fn json_after(lines: &[String], prefix: &str) -> serde_json::Value {
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in {lines:#?}"));
    let json = line.rsplit_once(" id=").map_or(line, |(j, _)| j);
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn pid_in(lines: &[String], name: &str) -> i32 {
    let prefix = format!("ext {name}: started pid=");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid for {name} in {lines:#?}"))
}

#[test]
fn a_well_behaved_extension_registers_gets_each_invoke_and_shutdown() {
    let sim = with_extension("logger", &["well-behaved"]);
    let (r, report) = sim
        .invoke_reported(r#"{"action":"headers"}"#)
        .expect("running");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let runtime_headers: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let report = report.expect("a report: the invocation was released");
    assert_eq!(report.request_id, r.request_id);
    assert!(report.overhead("logger").is_some(), "{report:?}");

    let lines = wait_report(&sim, &r.request_id);
    // Registration: 200, the identifier, the function, and the account id it asked for.
    let registered = json_after(&lines, "ext logger: register 200 ");
    assert_eq!(registered["functionName"], "test_function");
    assert_eq!(registered["functionVersion"], "$LATEST");
    assert_eq!(registered["handler"], "app.handler");
    assert_eq!(registered["accountId"], "012345678912");
    // The extension's init is part of the environment's; its line comes before START.
    let ext_line = lines
        .iter()
        .position(|l| l == "EXTENSION\tName: logger\tState: Ready\tEvents: [INVOKE, SHUTDOWN]")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let start = lines.iter().position(|l| l.starts_with("START")).unwrap();
    assert!(ext_line < start);
    // INVOKE: the same request id and deadline as the runtime's, with tracing.
    let invoke = json_after(&lines, "ext logger: event ");
    assert_eq!(invoke["eventType"], "INVOKE");
    assert_eq!(invoke["requestId"], r.request_id);
    assert_eq!(
        invoke["deadlineMs"].to_string(),
        runtime_headers["lambda-runtime-deadline-ms"]
            .as_str()
            .unwrap()
    );
    assert_eq!(
        invoke["invokedFunctionArn"],
        "arn:aws:lambda:us-east-1:012345678912:function:test_function"
    );
    assert_eq!(invoke["tracing"]["type"], "X-Amzn-Trace-Id");
    assert_eq!(
        invoke["tracing"]["value"],
        runtime_headers["lambda-runtime-trace-id"]
    );
    // The REPORT carries the overhead, to the microsecond.
    let report_line = lines.last().unwrap();
    assert!(
        report_line.contains("\tExtension Overhead: ") && report_line.contains("(logger: "),
        "{report_line}"
    );

    // A second invocation: a second INVOKE with its own id.
    let second = sim.invoke("{}").unwrap();
    let lines = wait_report(&sim, &second.request_id);
    let invoke = json_after(&lines, "ext logger: event ");
    assert_eq!(invoke["requestId"], second.request_id);

    // Shutdown: SHUTDOWN with reason spindown, and the extension exits on its own.
    sim.begin_shutdown().unwrap();
    let lines = wait_line(&sim, "ext logger: exiting", Duration::from_secs(10));
    let shutdown = json_after(&lines, "ext logger: event ");
    assert_eq!(shutdown["eventType"], "SHUTDOWN");
    assert_eq!(shutdown["shutdownReason"], "spindown");
    assert!(shutdown["deadlineMs"].as_u64().is_some());
    let done = sim.wait_for(Awaited::ShutDown, Duration::from_secs(10));
    assert!(!matches!(done, Ok(None)), "shutdown did not complete");
}

#[test]
fn a_slow_extension_adds_its_sleep_as_overhead_after_the_response() {
    const SLEEP: Duration = Duration::from_millis(150);
    let sim = with_extension("slow", &["slow", "150"]);
    // Warm up: the init is not what this test measures.
    sim.invoke_reported("{}").unwrap();
    let ticket = sim
        .submit_reported(lambda_sim::InvokeRequest {
            payload: b"{}".to_vec(),
            ..Default::default()
        })
        .unwrap();
    let response = ticket.wait_timeout(Duration::from_secs(10)).unwrap();
    let answered = Instant::now();
    let response = response.expect("the invoker is answered when the runtime responds");
    assert_eq!(response.status, 200);
    let report = ticket.report().unwrap().expect("released");
    let completed = answered.elapsed();
    let overhead = report.overhead("slow").expect("measured").to_duration();
    // Correctness, not speed. The extension sleeps from its INVOKE, which it gets with the
    // runtime's at release; overhead counts from the runtime's response. So the overhead plus
    // the runtime's own time (release to response, same clock) is at least the sleep, and the
    // whole is nowhere near the 3 s timeout.
    let runtime_time = response.timings.duration().to_duration();
    assert!(
        overhead + runtime_time >= SLEEP,
        "{overhead:?} + {runtime_time:?}"
    );
    assert!(overhead < SLEEP + Duration::from_secs(2), "{overhead:?}");
    assert!(report.duration.to_duration() >= overhead);
    // The answer did not wait for the extension.
    assert!(
        completed >= SLEEP - Duration::from_millis(20),
        "the report came {completed:?} after the answer"
    );
    assert_eq!(report.max_overhead(), report.overhead("slow"));
}

#[test]
fn a_crashing_extension_fails_the_invocation_and_the_next_one_reinitialises() {
    let sim = with_extension("crashy", &["crash-on-invoke"]);
    // The runtime takes its time, so the extension's crash comes first.
    let r = sim.invoke(r#"{"action":"sleep","seconds":0.5}"#).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.function_error(), Some("Unhandled"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errorType"], "Extension.Crash", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("extension crashy exited with error: exit status 3"),
        "{body}"
    );
    let lines = wait_report(&sim, &r.request_id);
    assert!(
        lines
            .iter()
            .any(|l| l == "Error: Extension crashy exited with error: exit status 3"),
        "{lines:#?}"
    );
    // Reset: the next invocation starts a new init, runtime and extension, and is answered.
    let again = sim.invoke(r#"{"action":"sleep","seconds":0.5}"#).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&again.body).unwrap();
    assert_eq!(body["errorType"], "Extension.Crash", "{body}");
    let lines = wait_report(&sim, &again.request_id);
    assert!(
        lines.iter().any(|l| l.starts_with("ext crashy: started")),
        "a new extension process: {lines:#?}"
    );
}

#[test]
fn an_extension_that_never_registers_times_the_init_out() {
    let sim = builder()
        .init_timeout(Duration::from_secs(1))
        .extension("mute", python_extension("mute", &["never-register"]))
        .start()
        .unwrap();
    let r = sim.invoke("{}").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(r.function_error(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Sandbox.Timedout", "{body}");
    let lines = wait_line(&sim, "INIT_REPORT", Duration::from_secs(10));
    let report = lines.last().unwrap();
    assert!(report.contains("Phase: init\tStatus: timeout"), "{report}");
    assert!(
        !lines.iter().any(|l| l.starts_with("fixture runtime")),
        "the runtime never started: {lines:#?}"
    );
    let pid = pid_in(&lines, "mute");
    assert!(
        wait_until(Duration::from_secs(5), || !alive(pid)),
        "the extension was not killed"
    );
}

#[test]
fn an_extension_ignoring_shutdown_is_killed_at_the_deadline() {
    let sim = with_extension("stubborn", &["ignore-shutdown"]);
    let r = sim.invoke("{}").unwrap();
    let lines = wait_report(&sim, &r.request_id);
    let pid = pid_in(&lines, "stubborn");
    let begun = Instant::now();
    sim.begin_shutdown().unwrap();
    wait_line(&sim, "\"SHUTDOWN\"", Duration::from_secs(10));
    assert!(alive(pid));
    let done = sim.wait_for(Awaited::ShutDown, Duration::from_secs(10));
    assert!(!matches!(done, Ok(None)), "shutdown did not complete");
    let took = begun.elapsed();
    // Lambda's 2 s budget with an external extension, then SIGKILL.
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(
        wait_until(Duration::from_secs(5), || !alive(pid)),
        "the extension outlived the deadline"
    );
}

#[test]
fn init_error_from_an_extension_reaches_the_invoker() {
    let sim = with_extension("picky", &["init-error"]);
    let r = sim.invoke("{}").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errorType"], "Extension.InitError", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("extension picky posted init/error: Extension.ConfigInvalid"),
        "{body}"
    );
    // The environment stops at once: the extension, its state InitError, is not sent SHUTDOWN
    // but killed, possibly before it can print the 202 it got (the lifecycle tests pin that
    // its later calls are refused).
    let lines = wait_line(&sim, "ext picky: register 200", Duration::from_secs(10));
    let pid = pid_in(&lines, "picky");
    assert!(
        wait_until(Duration::from_secs(5), || !alive(pid)),
        "the failed extension was not stopped"
    );
}

#[test]
fn extensions_get_the_reduced_environment_in_the_task_root() {
    let root = std::env::temp_dir();
    let sim = builder()
        .task_root(&root)
        .extension("nosy", python_extension("nosy", &["env"]))
        .start()
        .unwrap();
    let r = sim.invoke("{}").unwrap();
    let lines = wait_report(&sim, &r.request_id);
    let env: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ext nosy: env "))
        .collect();
    let cwd = format!("ext nosy: cwd {}", root.display());
    assert!(lines.contains(&cwd), "{lines:#?}");
    let has = |key: &str| env.iter().any(|l| l.starts_with(&format!("{key}=")));
    assert!(has("AWS_LAMBDA_RUNTIME_API"), "{env:?}");
    assert!(has("AWS_LAMBDA_FUNCTION_NAME"));
    assert!(has("AWS_LAMBDA_INITIALIZATION_TYPE"));
    for hidden in [
        "_HANDLER",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_XRAY_CONTEXT_MISSING",
    ] {
        assert!(!has(hidden), "{hidden} leaked: {env:?}");
    }
}

#[test]
fn extensions_dir_executables_are_external_extensions() {
    let dir = std::env::temp_dir().join(format!("lambda-sim-ext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/extension.py");
    let wrapper = dir.join("dir-ext");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec python3 {} dir-ext well-behaved\n",
            script.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("not-executable"), "").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sim = builder().extensions_dir(&dir).start().unwrap();
    let (_, report) = sim.invoke_reported("{}").unwrap();
    assert!(report.unwrap().overhead("dir-ext").is_some());
    let extensions = sim.extensions().unwrap();
    assert_eq!(extensions.len(), 1, "{extensions:?}");
    assert!(extensions[0].external);
    assert_eq!(extensions[0].state, "Ready");
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- the wire, with the test as runtime and extension -----

fn register(client: &mut Client, name: &str, body: &str) -> Response {
    let mut headers = vec![("Content-Type", "application/json")];
    if !name.is_empty() {
        headers.push(("Lambda-Extension-Name", name));
    }
    client.request(
        "POST",
        &format!("{EXT}/register"),
        &headers,
        body.as_bytes(),
    )
}

fn error_type(r: &Response) -> String {
    r.json()["errorType"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_extensions_api_refuses_as_rapid_does() {
    // An external runtime: the init is open until the test's runtime calls /next.
    let sim = external(Duration::from_secs(3));
    let addr = sim.runtime_api_addr();
    let mut ext = Client::connect(addr);

    let r = register(&mut ext, "", "{}");
    assert_eq!(
        (r.status, error_type(&r)),
        (403, "Extension.InvalidExtensionName".into())
    );
    let r = register(&mut ext, "x", r#"{"events":["INVOKE","BOGUS"]}"#);
    assert_eq!(
        (r.status, error_type(&r)),
        (403, "Extension.InvalidEventType".into())
    );
    assert_eq!(r.json()["errorMessage"], "BOGUS: ErrorInvalidEventType");
    let r = register(&mut ext, "x", "not json");
    assert_eq!(
        (r.status, error_type(&r)),
        (403, "InvalidRequestFormat".into())
    );
    // Any name not among the simulator's processes is internal: no SHUTDOWN.
    let r = register(&mut ext, "agent", r#"{"events":["SHUTDOWN"]}"#);
    assert_eq!(error_type(&r), "Extension.InvalidEventType");
    assert_eq!(
        r.json()["errorMessage"],
        "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension"
    );

    let r = register(&mut ext, "agent", r#"{"events":["INVOKE"]}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json().get("accountId").is_none(), "not asked for");
    let id = r.header("Lambda-Extension-Identifier").unwrap().to_string();
    let r = register(&mut ext, "agent", r#"{"events":["INVOKE"]}"#);
    assert_eq!(
        (r.status, error_type(&r)),
        (403, "Extension.InvalidExtensionState".into())
    );

    let next = |client: &mut Client, id: Option<&str>| {
        let headers: Vec<(&str, &str)> = id
            .map(|id| vec![("Lambda-Extension-Identifier", id)])
            .unwrap_or_default();
        client.request("GET", &format!("{EXT}/event/next"), &headers, b"")
    };
    let r = next(&mut ext, None);
    assert_eq!(error_type(&r), "Extension.MissingExtensionIdentifier");
    let r = next(&mut ext, Some("nope"));
    assert_eq!(error_type(&r), "Extension.InvalidExtensionIdentifier");
    let r = next(&mut ext, Some("8f5e2d1c-0000-4000-8000-000000000000"));
    assert_eq!(r.status, 403);
    assert_eq!(error_type(&r), "Extension.UnknownExtensionIdentifier");
    let r = ext.request(
        "POST",
        &format!("{EXT}/exit/error"),
        &[("Lambda-Extension-Identifier", &id)],
        b"",
    );
    assert_eq!(error_type(&r), "Extension.MissingHeader");
    // Subscriptions are taken during the init (tests/telemetry.rs delivers), one per
    // extension: the Logs API after the Telemetry API is refused.
    let r = ext.request(
        "PUT",
        "/2022-07-01/telemetry",
        &[("Lambda-Extension-Identifier", &id)],
        br#"{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:9"}}"#,
    );
    assert_eq!((r.status, r.text()), (200, r#""OK""#.to_string()));
    let r = ext.request(
        "PUT",
        "/2020-08-15/logs",
        &[("Lambda-Extension-Identifier", &id)],
        br#"{"types":["platform"],"destination":{"protocol":"TCP","port":9}}"#,
    );
    assert_eq!(
        (r.status, error_type(&r)),
        (400, "Logs.ValidationError".into())
    );

    // The runtime's first /next closes registration; the init waits for the extension.
    let mut runtime = Client::connect(addr);
    runtime.send(&request_bytes("GET", NEXT, &[], b""));
    wait_state(&sim, "registration closed", |s| {
        s.first().runtime_state == "Ready"
    });
    assert!(
        !sim.state().unwrap().first().initialized,
        "the extension is not ready yet"
    );
    let mut late = Client::connect(addr);
    let r = register(&mut late, "late", "{}");
    assert_eq!(
        (r.status, error_type(&r)),
        (403, "Extension.RegistrationClosed".into())
    );

    // The extension's next completes the init; an invocation reaches both, with one deadline.
    ext.send(&request_bytes(
        "GET",
        &format!("{EXT}/event/next"),
        &[("Lambda-Extension-Identifier", &id)],
        b"",
    ));
    let state = sim
        .wait_for(Awaited::Initialized, Duration::from_secs(10))
        .unwrap()
        .expect("initialised");
    assert_eq!(state.first().extensions.len(), 1);
    assert_eq!(state.first().extensions[0].name, "agent");
    assert!(!state.first().extensions[0].external);
    let ticket = sim.submit("{}").unwrap();
    let invoke = runtime.read_response();
    let event = ext.read_response();
    assert_eq!(event.status, 200);
    assert!(event.header("Lambda-Extension-Event-Identifier").is_some());
    let request_id = invoke.header("Lambda-Runtime-Aws-Request-Id").unwrap();
    assert_eq!(event.json()["requestId"], request_id);
    assert_eq!(
        event.json()["deadlineMs"].to_string(),
        invoke.header("Lambda-Runtime-Deadline-Ms").unwrap()
    );
    let r = runtime.request("POST", &response_path(request_id), &[], b"\"ok\"");
    assert_eq!(r.status, 202);
    assert_eq!(ticket.wait().unwrap().body_str(), "\"ok\"");
    // The runtime is back; the invocation is not complete until the extension is too.
    runtime.send(&request_bytes("GET", NEXT, &[], b""));
    wait_state(&sim, "runtime back", |s| s.first().parked == 1);
    assert!(!sim.state().unwrap().first().idle);
    ext.send(&request_bytes(
        "GET",
        &format!("{EXT}/event/next"),
        &[("Lambda-Extension-Identifier", &id)],
        b"",
    ));
    let idle = sim
        .wait_for(Awaited::Idle, Duration::from_secs(10))
        .unwrap();
    assert!(idle.is_some_and(|s| s.first().idle));
}

#[test]
fn max_memory_used_counts_the_extensions_too() {
    let sim = with_extension("hog", &["hog", "96"]);
    let r = sim.invoke("{}").unwrap();
    let lines = wait_report(&sim, &r.request_id);
    let report = lines.last().unwrap();
    let used: u64 = report
        .split("Max Memory Used: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|mb| mb.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    // The runtime alone is a small Python process; the extension holds 96 MB.
    assert!(used > 96, "{report}");
}

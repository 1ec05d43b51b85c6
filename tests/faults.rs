//! The fault matrix, on the real binary with real processes and sockets. Each fault is a test,
//! and each checks the same things:
//! - every invocation that was accepted gets exactly one answer: the invoker's connection is
//!   watched after its answer for a second one (or is cleanly dropped when its invoker left);
//! - the simulator serves the next invocation;
//! - its descriptors come back to their count before the fault;
//! - after SIGTERM it exits 0 and nothing it started is left (after SIGKILL, its children end
//!   through `PR_SET_PDEATHSIG`).
//!
//! | fault                                        | test                                          |
//! |----------------------------------------------|-----------------------------------------------|
//! | runtime crashes at init (retried)            | `runtime_crashes_at_init`                     |
//! | runtime crashes mid-invoke                   | `runtime_crashes_mid_invoke`                  |
//! | runtime exits while idle                     | `runtime_exits_while_idle`                    |
//! | runtime killed while frozen                  | `runtime_killed_while_frozen`                 |
//! | runtime hangs past the timeout               | `runtime_hangs_past_the_timeout`              |
//! | response for a wrong id, twice               | `responses_for_a_wrong_id_and_twice`          |
//! | response after the timeout                   | `a_response_after_the_timeout`                |
//! | runtime floods its output                    | `runtime_floods_its_output`                   |
//! | extension crashes                            | `extension_crashes`                           |
//! | extension hangs at shutdown                  | `extension_hangs_at_shutdown`                 |
//! | extension never takes its SHUTDOWN           | `sigterm_while_an_extension_works_after_the_response` |
//! | extension floods stdout                      | `extension_floods_stdout`                     |
//! | telemetry listener down, slow, 500, closes mid-response | `telemetry_listener_*`             |
//! | invoker leaves while queued, during an init, while running | `invoker_leaves_*`              |
//! | SIGTERM before an init, during one, mid-invoke, after the response, idle, frozen | `sigterm_*` |
//! | SIGKILL to the simulator, frozen and mid-invoke | `sigkill_*`                                |
#![allow(clippy::disallowed_methods)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use common::binary::*;
use common::listener::{Answer, listener};
use common::*;

/// A failed invocation's answer: 200, `X-Amz-Function-Error: Unhandled`, and its error type.
#[track_caller]
fn assert_unhandled(r: &Response, error_type: &str) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(r.json()["errorType"], error_type, "{}", r.text());
}

/// One invocation answered, then the descriptor count once it holds still.
fn warm(sim: &Binary) -> usize {
    let r = sim.invoke_once(r#"{"warm":1}"#);
    assert_eq!((r.status, r.text()), (200, r#"{"warm":1}"#.to_string()));
    sim.settled_fds()
}

/// After the fault: the next invocation is served, and the descriptors are back.
#[track_caller]
fn serves_the_next(sim: &Binary, fds_before: usize) {
    let r = sim.invoke_once(r#"{"next":1}"#);
    assert_eq!((r.status, r.text()), (200, r#"{"next":1}"#.to_string()));
    sim.fds_back_to(fds_before);
}

/// A path no earlier run left behind, for fixtures that act once.
fn marker(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!(
        "lambda-sim-faults-{name}-{}-{nanos}",
        std::process::id()
    ))
}

/// `NAME=python3 extension.py NAME MODE...`, for `--extension`.
fn extension_flag(name: &str, mode: &[&str]) -> String {
    format!("{name}={}", python_extension(name, mode).join(" "))
}

// ----- the runtime -----

#[test]
fn runtime_crashes_at_init() {
    let mark = marker("init");
    let mut runtime = python_runtime("exit-at-first-init");
    runtime.push(mark.display().to_string());
    let mut args = vec!["--"];
    args.extend(runtime.iter().map(String::as_str));
    let sim = Binary::start(&args, &[]);
    // The init is retried inside the invocation, and the retry succeeds: the invoker never
    // sees the first failure, and the log shows both inits.
    let r = sim.invoke_once(r#"{"first":1}"#);
    assert_eq!((r.status, r.text()), (200, r#"{"first":1}"#.to_string()));
    let lines = sim.lines_so_far();
    let reports: Vec<&String> = lines.iter().filter(|l| l.contains("INIT_REPORT")).collect();
    assert_eq!(reports.len(), 2, "{lines:#?}");
    assert!(
        reports[0].contains("Phase: init\tStatus: error\tError Type: Runtime.ExitError"),
        "{lines:#?}"
    );
    assert!(reports[1].ends_with("\tPhase: invoke"), "{lines:#?}");

    let before = warm(&sim);
    serves_the_next(&sim, before);
    sim.stop();
    let _ = std::fs::remove_file(mark);
}

#[test]
fn runtime_crashes_mid_invoke() {
    let sim = Binary::python("echo", &[]);
    let before = warm(&sim);
    let r = sim.invoke_once(r#"{"action":"crash"}"#);
    assert_unhandled(&r, "Runtime.ExitError");
    serves_the_next(&sim, before);
    sim.stop();
}

#[test]
fn runtime_exits_while_idle() {
    let sim = Binary::python("echo", &[]);
    let before = warm(&sim);
    let runtime = sim.wait_children(1)[0];
    // It answers, then exits instead of asking for the next invocation.
    let r = sim.invoke_once(r#"{"action":"exit-after-response"}"#);
    assert_eq!((r.status, r.text()), (200, r#""bye""#.to_string()));
    assert!(wait_until(Duration::from_secs(5), || !sim
        .children()
        .contains(&runtime)));
    serves_the_next(&sim, before);
    assert_ne!(sim.wait_children(1)[0], runtime, "a new runtime");
    sim.stop();
}

#[test]
fn runtime_killed_while_frozen() {
    let sim = Binary::python("echo", &[]);
    let before = warm(&sim);
    let runtime = sim.wait_children(1)[0];
    wait_stopped(runtime);
    // SIGKILL ends even a stopped process.
    signal_pid(runtime, "KILL");
    // Once the simulator has seen it go (and reaped it), the next invocation starts anew. An
    // invocation sent before then reaches the dying runtime and fails, as on Lambda.
    assert!(
        wait_until(Duration::from_secs(5), || !sim
            .children()
            .contains(&runtime)),
        "the dead runtime was never reaped"
    );
    serves_the_next(&sim, before);
    assert_ne!(sim.wait_children(1)[0], runtime, "a new runtime");
    sim.stop();
}

#[test]
fn runtime_hangs_past_the_timeout() {
    let sim = Binary::python("echo", &["--timeout", "1"]);
    let before = warm(&sim);
    let runtime = sim.wait_children(1)[0];
    let r = sim.invoke_once(r#"{"action":"sleep","seconds":30}"#);
    assert_unhandled(&r, "Sandbox.Timedout");
    gone(&[runtime]);
    serves_the_next(&sim, before);
    sim.stop();
}

#[test]
fn responses_for_a_wrong_id_and_twice() {
    let sim = Binary::python("echo", &[]);
    let before = warm(&sim);
    // A response for an id that is not the invocation's is refused; the invocation goes on.
    let r = sim.invoke_once(r#"{"action":"wrong-id"}"#);
    assert_eq!(r.json()["wrong_status"], 400, "{}", r.text());
    assert_eq!(
        r.json()["wrong_body"]["errorType"],
        "InvalidRequestID",
        "{}",
        r.text()
    );
    // The second response for the same id is refused; the invoker has the first, once.
    let r = sim.invoke_once(r#"{"action":"twice"}"#);
    assert_eq!((r.status, r.text()), (200, r#""first""#.to_string()));
    let said = sim.wait_line("twice:");
    let said = said.last().unwrap();
    assert!(said.starts_with("twice: 202 then 403"), "{said}");
    serves_the_next(&sim, before);
    sim.stop();
}

#[test]
fn a_response_after_the_timeout() {
    // The test is the runtime, so that it can still answer after the timeout.
    let sim = Binary::start(&["--quiet", "--timeout", "1", "--external-runtime"], &[]);
    let mut runtime = Client::connect(sim.runtime_api);
    let invoker = sim.invoke_async(r#"{"n":1}"#);
    let (id, _) = next(&mut runtime);
    let r = invoker.join().unwrap();
    assert_unhandled(&r, "Sandbox.Timedout");
    let late = runtime.request("POST", &response_path(&id), &[], b"late");
    assert_eq!(late.status, 400, "{}", late.text());
    assert_eq!(late.json()["errorType"], "InvalidRequestID");
    let before = sim.settled_fds();
    // The runtime's next /next starts a new init and gets new work.
    let invoker = sim.invoke_async(r#"{"n":2}"#);
    let (id2, event) = next(&mut runtime);
    assert_ne!(id2, id);
    assert_eq!(event.body, br#"{"n":2}"#);
    assert_eq!(
        runtime
            .request("POST", &response_path(&id2), &[], b"ok")
            .status,
        202
    );
    assert_eq!(invoker.join().unwrap().text(), "ok");
    sim.fds_back_to(before);
    drop(runtime);
    sim.stop();
}

#[test]
fn runtime_floods_its_output() {
    let sim = Binary::python("echo", &[]);
    let before = warm(&sim);
    // 20 000 lines, about 4 MB, in one invocation.
    let lines: Vec<String> = (0..20_000).map(|i| format!("{i:0>200}")).collect();
    let flood = serde_json::json!({"action": "print", "lines": lines}).to_string();
    let r = sim.invoke_once(&flood);
    assert_eq!((r.status, r.text()), (200, "{}".to_string()));
    serves_the_next(&sim, before);
    // Every line came out; none was kept.
    sim.wait_line(&format!("{:0>200}", 19_999));
    assert!(peak_rss_kib(&sim) < 64 * 1024, "{} KiB", peak_rss_kib(&sim));
    sim.stop();
}

fn peak_rss_kib(sim: &Binary) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", sim.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

// ----- extensions -----

#[test]
fn extension_crashes() {
    let mark = marker("ext");
    let ext = extension_flag("crashy", &["crash-once", &mark.display().to_string()]);
    let sim = Binary::python("echo", &["--extension", &ext]);
    let r = sim.invoke_once(r#"{"action":"sleep","seconds":0.5}"#);
    assert_unhandled(&r, "Extension.Crash");
    // The environment resets: a new runtime and extension, and they serve.
    let before = warm(&sim);
    serves_the_next(&sim, before);
    sim.stop();
    let _ = std::fs::remove_file(mark);
}

#[test]
fn extension_hangs_at_shutdown() {
    let ext = extension_flag("stubborn", &["ignore-shutdown"]);
    let sim = Binary::python("echo", &["--extension", &ext]);
    let before = warm(&sim);
    serves_the_next(&sim, before);
    // It takes its SHUTDOWN and sleeps: killed at Lambda's 2 s deadline, then the simulator
    // exits 0 with no one left.
    let begun = Instant::now();
    sim.stop();
    assert!(begun.elapsed() >= Duration::from_millis(1900));
}

#[test]
fn sigterm_while_an_extension_works_after_the_response() {
    // The extension works 30 s after each invocation, so it never calls for its SHUTDOWN.
    let ext = extension_flag("busy", &["slow", "30000"]);
    let sim = Binary::python("echo", &["--extension", &ext]);
    let r = sim.invoke_once(r#"{"n":1}"#);
    assert_eq!((r.status, r.text()), (200, r#"{"n":1}"#.to_string()));
    // The runtime has answered; the extension is still at work.
    thread::sleep(Duration::from_millis(200));
    let queued = sim.invoke_async(r#"{"n":2}"#);
    thread::sleep(Duration::from_millis(200));
    sim.stop();
    let r = queued.join().unwrap();
    assert_unhandled(&r, "Sandbox.Shutdown");
}

#[test]
fn extension_floods_stdout() {
    let ext = extension_flag("chatty", &["flood", "20000"]);
    let sim = Binary::python("echo", &["--extension", &ext]);
    let before = warm(&sim);
    // Each invocation now brings 20 000 lines (4 MB) from the extension after the response.
    for n in 0..3 {
        let payload = format!(r#"{{"n":{n}}}"#);
        let r = sim.invoke_once(&payload);
        assert_eq!((r.status, r.text()), (200, payload));
    }
    serves_the_next(&sim, before);
    assert!(peak_rss_kib(&sim) < 64 * 1024, "{} KiB", peak_rss_kib(&sim));
    sim.stop();
}

// ----- the telemetry listener -----

/// A simulator whose extension subscribes to the Telemetry API at `port`, warmed.
fn with_subscriber(port: u16) -> (Binary, usize) {
    let ext = extension_flag("tel", &["telemetry", &port.to_string()]);
    let sim = Binary::python("echo", &["--extension", &ext]);
    let before = warm(&sim);
    (sim, before)
}

#[test]
fn telemetry_listener_down() {
    let port = {
        let gone = TcpListener::bind("127.0.0.1:0").unwrap();
        gone.local_addr().unwrap().port()
    };
    let (sim, before) = with_subscriber(port);
    for n in 0..5 {
        let payload = format!(r#"{{"n":{n}}}"#);
        assert_eq!(sim.invoke_once(&payload).text(), payload);
    }
    serves_the_next(&sim, before);
    sim.stop();
}

#[test]
fn telemetry_listener_slow() {
    let tel = listener(vec![Answer::Hold, Answer::Ok]);
    let (sim, _) = with_subscriber(tel.port);
    // Its first batch is held unanswered; invocations go on meanwhile.
    let first = tel.batches.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(!first.is_empty());
    for n in 0..5 {
        let payload = format!(r#"{{"n":{n}}}"#);
        assert_eq!(sim.invoke_once(&payload).text(), payload);
    }
    tel.release.send(()).unwrap();
    // What waited is delivered once the listener answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut reports = 0;
    while reports < 5 {
        let batch = tel
            .batches
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the reports of the five invocations");
        reports += batch
            .iter()
            .filter(|e| e["type"] == "platform.report")
            .count();
    }
    let before = sim.settled_fds();
    serves_the_next(&sim, before);
    sim.stop();
}

#[test]
fn telemetry_listener_answers_500() {
    telemetry_batch_is_sent_again(Answer::Status500);
}

#[test]
fn telemetry_listener_closes_mid_response() {
    telemetry_batch_is_sent_again(Answer::HalfHead);
}

/// The listener fails its first four batches. A failed batch comes again: while the
/// environment is frozen, at the next invocation's thaw. The function notices nothing.
fn telemetry_batch_is_sent_again(failure: Answer) {
    let tel = listener(vec![failure, failure, failure, failure, Answer::Ok]);
    let (sim, _) = with_subscriber(tel.port);
    let mut seen: Vec<Vec<serde_json::Value>> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    // Until some invocation's report has arrived twice: failed, then sent again.
    while !a_report_came_twice(&seen) {
        assert!(Instant::now() < deadline, "batches: {seen:#?}");
        match tel.batches.recv_timeout(Duration::from_millis(300)) {
            Ok(batch) => seen.push(batch),
            Err(_) => {
                n += 1;
                let payload = format!(r#"{{"n":{n}}}"#);
                assert_eq!(sim.invoke_once(&payload).text(), payload);
            }
        }
    }
    let before = sim.settled_fds();
    serves_the_next(&sim, before);
    sim.stop();
}

fn a_report_came_twice(batches: &[Vec<serde_json::Value>]) -> bool {
    let mut reports: Vec<String> = batches
        .iter()
        .flatten()
        .filter(|e| e["type"] == "platform.report")
        .map(|e| e["record"]["requestId"].to_string())
        .collect();
    let all = reports.len();
    reports.sort();
    reports.dedup();
    reports.len() < all
}

// ----- invokers that leave -----

#[test]
fn invoker_leaves_while_queued() {
    let sim = Binary::python("echo", &[]);
    let before = warm(&sim);
    let running = sim.invoke_async(r#"{"action":"sleep","seconds":0.5}"#);
    thread::sleep(Duration::from_millis(150));
    let mut leaver = Client::connect(sim.invoke);
    leaver.send(&request_bytes(
        "POST",
        INVOKE,
        &[],
        br#"{"action":"print","lines":["the queued one ran"]}"#,
    ));
    thread::sleep(Duration::from_millis(100));
    // It leaves by a reset: an EOF alone may be a half-close, which still gets its answer
    // (tests/bounds.rs).
    reset(leaver.stream());
    drop(leaver);
    assert_eq!(running.join().unwrap().status, 200);
    serves_the_next(&sim, before);
    // Its invocation was dropped from the queue: the runtime never saw it.
    thread::sleep(Duration::from_millis(100));
    let lines = sim.lines_so_far();
    assert!(
        !lines.iter().any(|l| l.contains("the queued one ran")),
        "{lines:?}"
    );
    sim.stop();
}

#[test]
fn invoker_leaves_during_an_init() {
    let sim = Binary::python("slow-init", &[]);
    let mut leaver = Client::connect(sim.invoke);
    leaver.send(&request_bytes("POST", INVOKE, &[], b"{}"));
    thread::sleep(Duration::from_millis(50));
    drop(leaver);
    // The init completes; the environment serves.
    let before = warm(&sim);
    serves_the_next(&sim, before);
    sim.stop();
}

#[test]
fn invoker_leaves_while_running() {
    // Not quiet: the invocation's REPORT shows that it ran to its end.
    let runtime = python_runtime("echo");
    let mut args = vec!["--"];
    args.extend(runtime.iter().map(String::as_str));
    let sim = Binary::start(&args, &[]);
    let before = warm(&sim);
    let mut leaver = Client::connect(sim.invoke);
    leaver.send(&request_bytes(
        "POST",
        INVOKE,
        &[],
        br#"{"action":"sleep","seconds":0.3}"#,
    ));
    sim.wait_line("START RequestId:");
    drop(leaver);
    let lines = sim.wait_line("REPORT RequestId:");
    let report = lines.last().unwrap();
    assert!(!report.contains("Status:"), "it ran to its end: {report}");
    serves_the_next(&sim, before);
    sim.stop();
}

// ----- the simulator signalled -----

#[test]
fn sigterm_before_any_init() {
    let sim = Binary::python("echo", &[]);
    assert!(sim.children().is_empty(), "on-demand: nothing started yet");
    sim.stop();
}

#[test]
fn sigterm_during_an_init() {
    let sim = Binary::python("hang-at-init", &[]);
    let invoker = sim.invoke_async("{}");
    // The init is under way: the runtime exists and has not called /next.
    sim.wait_children(1);
    thread::sleep(Duration::from_millis(200));
    sim.stop();
    let r = invoker.join().unwrap();
    assert_unhandled(&r, "Sandbox.Shutdown");
}

#[test]
fn sigterm_mid_invoke_answers_the_invoker_and_the_queue() {
    let sim = Binary::python("echo", &[]);
    warm(&sim);
    let running = sim.invoke_async(r#"{"action":"sleep","seconds":30}"#);
    // Wait until it runs, then queue two more behind it.
    thread::sleep(Duration::from_millis(300));
    let queued: Vec<_> = (0..2)
        .map(|i| sim.invoke_async(&format!(r#"{{"n":{i}}}"#)))
        .collect();
    thread::sleep(Duration::from_millis(300));
    sim.stop();
    for invoker in std::iter::once(running).chain(queued) {
        let r = invoker.join().unwrap();
        assert_unhandled(&r, "Sandbox.Shutdown");
    }
}

#[test]
fn sigterm_while_idle() {
    let sim = Binary::python("echo", &["--no-freeze"]);
    warm(&sim);
    let runtime = sim.wait_children(1)[0];
    assert_ne!(proc_state(runtime), Some('T'));
    sim.stop();
}

#[test]
fn sigterm_while_frozen() {
    let ext = extension_flag("calm", &["well-behaved"]);
    let sim = Binary::python("echo", &["--extension", &ext]);
    warm(&sim);
    for pid in sim.wait_children(2) {
        wait_stopped(pid);
    }
    // Thawed for the SHUTDOWN, which the extension takes and exits on.
    sim.stop();
}

#[test]
fn sigkill_while_frozen() {
    let ext = extension_flag("calm", &["well-behaved"]);
    let mut sim = Binary::python("echo", &["--extension", &ext]);
    warm(&sim);
    let children = sim.wait_children(2);
    for &pid in &children {
        wait_stopped(pid);
    }
    sim.signal("KILL");
    sim.wait_exit();
    // PR_SET_PDEATHSIG's SIGKILL ends even stopped processes.
    gone(&children);
}

#[test]
fn sigkill_mid_invoke() {
    let ext = extension_flag("calm", &["well-behaved"]);
    let mut sim = Binary::python("echo", &["--extension", &ext]);
    warm(&sim);
    let children = sim.wait_children(2);
    let mut invoker = Client::connect(sim.invoke);
    invoker.send(&request_bytes(
        "POST",
        INVOKE,
        &[],
        br#"{"action":"sleep","seconds":30}"#,
    ));
    thread::sleep(Duration::from_millis(300));
    sim.signal("KILL");
    sim.wait_exit();
    gone(&children);
    // The invoker is not left hanging: its connection ends with no answer.
    assert!(invoker.try_read_response().is_none());
}

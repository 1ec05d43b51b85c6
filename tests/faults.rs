//! Faults, on the real binary: for each, every accepted invocation gets exactly one answer,
//! the simulator serves the next one, its descriptors come back to their count before the
//! fault, and after SIGTERM it exits 0 with no child left behind. (Other faults are in
//! process.rs, extensions.rs, telemetry.rs, invoke.rs, freeze.rs and cli.rs.)
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_lambda-sim");

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

impl Sim {
    fn start(args: &[&str], runtime_mode: &str) -> Sim {
        let mut child = Command::new(BIN)
            .args([
                "--invoke-addr",
                "127.0.0.1:0",
                "--runtime-api-addr",
                "127.0.0.1:0",
            ])
            .args(["--quiet", "--timeout", "2"])
            .args(args)
            .arg("--")
            .args(python_runtime(runtime_mode))
            .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = lines.next().unwrap().unwrap();
        let invoke = ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix("invoke="))
            .unwrap()
            .parse()
            .unwrap();
        // The function's lines, drained so that they never block it.
        thread::spawn(move || for _ in lines {});
        Sim { child, invoke }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// Every process below the simulator.
    fn descendants(&self) -> Vec<u32> {
        let mut all = Vec::new();
        let mut next = vec![self.pid()];
        while let Some(pid) = next.pop() {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            for task in tasks.flatten() {
                let text =
                    std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
                for child in text.split_whitespace().filter_map(|c| c.parse().ok()) {
                    all.push(child);
                    next.push(child);
                }
            }
        }
        all
    }

    fn invoke(&self, payload: &str) -> Response {
        Client::connect(self.invoke).request("POST", INVOKE, &[], payload.as_bytes())
    }

    fn invoke_async(&self, payload: &str) -> thread::JoinHandle<Response> {
        let (addr, payload) = (self.invoke, payload.to_string());
        thread::spawn(move || {
            Client::connect(addr).request("POST", INVOKE, &[], payload.as_bytes())
        })
    }

    /// The descriptor count once it holds still: the connections of finished requests close
    /// when the simulator reads their EOF, a moment after the client's.
    fn settled_fds(&self) -> usize {
        let mut last = self.fds();
        loop {
            thread::sleep(Duration::from_millis(100));
            let now = self.fds();
            if now == last {
                return now;
            }
            last = now;
        }
    }

    /// Waits until the descriptors are back to `count` (connections close asynchronously).
    fn fds_back_to(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.fds() != count {
            assert!(
                Instant::now() < deadline,
                "{} descriptors, {count} before",
                self.fds()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM: exits 0, and nothing it started is left.
    fn stop(mut self) {
        let family = self.descendants();
        let pid = self.pid().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
        let deadline = Instant::now() + Duration::from_secs(5);
        for pid in family {
            while alive(pid as i32) {
                assert!(
                    Instant::now() < deadline,
                    "pid {pid} outlived the simulator"
                );
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A process's state letter (`T` for stopped), from `/proc/PID/stat`.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

fn error_type(r: &Response) -> String {
    r.json()["errorType"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_runtime_killed_while_frozen_is_replaced_at_the_next_invocation() {
    let sim = Sim::start(&[], "echo");
    assert_eq!(sim.invoke(r#"{"n":1}"#).text(), r#"{"n":1}"#);
    let before = sim.settled_fds();
    let runtime = sim.descendants()[0];
    // Frozen between invocations; SIGKILL ends even a stopped process.
    let deadline = Instant::now() + Duration::from_secs(5);
    while proc_state(runtime) != Some('T') {
        assert!(Instant::now() < deadline, "never frozen");
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        Command::new("kill")
            .args(["-KILL", &runtime.to_string()])
            .status()
            .unwrap()
            .success()
    );
    // Once the simulator has seen it go (and reaped it), the next invocation starts anew.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.descendants().contains(&runtime) {
        assert!(
            Instant::now() < deadline,
            "the dead runtime was never reaped"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let r = sim.invoke(r#"{"n":2}"#);
    assert_eq!((r.status, r.text()), (200, r#"{"n":2}"#.to_string()));
    assert_ne!(sim.descendants()[0], runtime, "a new runtime");
    sim.fds_back_to(before);
    sim.stop();
}

#[test]
fn a_flood_of_output_is_captured_without_losing_an_invocation() {
    let sim = Sim::start(&[], "echo");
    assert_eq!(sim.invoke("{}").status, 200);
    let before = sim.settled_fds();
    // 20 000 lines, about 4 MB, in one invocation.
    let lines: Vec<String> = (0..20_000).map(|i| format!("{i:0>200}")).collect();
    let flood = serde_json::json!({"action": "print", "lines": lines}).to_string();
    let r = sim.invoke(&flood);
    assert_eq!((r.status, r.text()), (200, "{}".to_string()));
    assert_eq!(sim.invoke(r#"{"after":1}"#).text(), r#"{"after":1}"#);
    sim.fds_back_to(before);
    // Its memory stayed bounded: the lines went out, they were not kept.
    let status = std::fs::read_to_string(format!("/proc/{}/status", sim.pid())).unwrap();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(rss_kib < 64 * 1024, "peak RSS {rss_kib} KiB");
    sim.stop();
}

#[test]
fn sigterm_during_an_init_answers_the_waiting_invoker_once() {
    let sim = Sim::start(&[], "hang-at-init");
    let invoker = sim.invoke_async("{}");
    // The init is under way: the runtime exists and has not called /next.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.descendants().is_empty() {
        assert!(Instant::now() < deadline, "no runtime spawned");
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(200));
    sim.stop();
    let r = invoker.join().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(error_type(&r), "Sandbox.Shutdown", "{}", r.text());
}

#[test]
fn sigterm_mid_invocation_answers_the_invoker_and_the_queue_once() {
    let sim = Sim::start(&[], "echo");
    assert_eq!(sim.invoke("{}").status, 200);
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
        assert_eq!(r.status, 200);
        assert_eq!(error_type(&r), "Sandbox.Shutdown", "{}", r.text());
    }
}

#[test]
fn a_timeout_then_a_crash_then_a_wrong_id_each_answer_once_and_the_next_invocation_runs() {
    let sim = Sim::start(&[], "echo");
    assert_eq!(sim.invoke("{}").status, 200);
    let before = sim.settled_fds();
    let r = sim.invoke(r#"{"action":"sleep","seconds":30}"#);
    assert_eq!(error_type(&r), "Sandbox.Timedout", "{}", r.text());
    let r = sim.invoke(r#"{"action":"crash"}"#);
    assert_eq!(error_type(&r), "Runtime.ExitError", "{}", r.text());
    // A response for an id that is not the invocation's is refused; the invocation goes on.
    let r = sim.invoke(r#"{"action":"wrong-id"}"#);
    assert_eq!(r.json()["wrong_status"], 400, "{}", r.text());
    let r = sim.invoke(r#"{"n":3}"#);
    assert_eq!((r.status, r.text()), (200, r#"{"n":3}"#.to_string()));
    sim.fds_back_to(before);
    sim.stop();
}

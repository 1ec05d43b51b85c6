//! Soak: many invocations through the real binary and a real, frozen-and-thawed runtime
//! process, with the simulator's RSS and descriptor count read at a tenth of the run and at its
//! end: both must hold flat (RSS within 1 MiB, descriptors equal). Each invocation is answered
//! exactly once, with its own payload or its own error.
//!
//! The invocations vary: every seventh is a function error, every thirteenth prints a log line,
//! every tenth comes on a new connection, and payloads run from 10 bytes to 4 KB.
//!
//! `cargo test --test soak` runs 20 000 (CI); the million is
//! `cargo test --release --test soak -- --ignored --nocapture`. `LAMBDA_SIM_SOAK_N` sets the
//! count of the short one.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::binary::*;
use common::*;

/// Set in the soak's simulator, whose runtime inherits it.
const ROLE: &str = "LAMBDA_SIM_SOAK_RUNTIME";

/// When lambda-sim runs this test binary as the function's bootstrap, this test is the
/// runtime: it echoes each event, or posts an error, or prints a line, as the event asks.
/// Run any other way, it does nothing.
#[test]
fn runtime_role() {
    if std::env::var_os(ROLE).is_none() {
        return;
    }
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let mut client = Client::connect(api.parse().expect("AWS_LAMBDA_RUNTIME_API is an address"));
    // Frozen between invocations: no read timeout may run out while stopped.
    client.stream().set_read_timeout(None).unwrap();
    loop {
        let (id, event) = next(&mut client);
        let asked: serde_json::Value = serde_json::from_slice(&event.body).unwrap_or_default();
        if asked["log"] == true {
            println!("invocation {} says hello", asked["i"]);
        }
        let r = if asked["error"] == true {
            client.request(
                "POST",
                &error_path(&id),
                &[("Lambda-Runtime-Function-Error-Type", "Soak.Error")],
                br#"{"errorType":"Soak.Error","errorMessage":"as asked"}"#,
            )
        } else {
            client.request("POST", &response_path(&id), &[], &event.body)
        };
        assert_eq!(r.status, 202);
    }
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn soak(total: usize) {
    let me = std::env::current_exe().unwrap();
    let me = me.to_str().unwrap();
    let sim = Binary::start(
        &[
            "--quiet",
            "--",
            me,
            "runtime_role",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ],
        &[(ROLE, "1")],
    );
    let mark = (total / 10).max(1);
    let padding = "x".repeat(4000);
    let mut client = Client::connect(sim.invoke);
    let mut at_mark = None;
    let begun = Instant::now();
    for i in 0..total {
        if i % 10 == 0 {
            client = Client::connect(sim.invoke);
        }
        let (error, log) = (i % 7 == 3, i % 13 == 5);
        let pad = &padding[..(i * 37) % padding.len()];
        let payload = format!(r#"{{"i":{i},"error":{error},"log":{log},"pad":"{pad}"}}"#);
        let r = client.request("POST", INVOKE, &[], payload.as_bytes());
        assert_eq!(r.status, 200, "invocation {i}: {}", r.text());
        if error {
            assert_eq!(r.header("X-Amz-Function-Error"), Some("Unhandled"), "{i}");
            assert_eq!(r.json()["errorType"], "Soak.Error", "{i}");
        } else {
            assert_eq!(r.body, payload.as_bytes(), "invocation {i}");
        }
        if i + 1 == mark {
            // The kept-alive connection stays open, so that the counts compare like for like.
            at_mark = Some((vm_rss_kib(sim.pid()), sim.settled_fds()));
        }
    }
    let (rss_then, fds_then) = at_mark.unwrap();
    let (rss_now, fds_now) = (vm_rss_kib(sim.pid()), sim.settled_fds());
    eprintln!(
        "soak: {total} invocations in {:.1} s; RSS {rss_then} KiB after {mark}, {rss_now} KiB \
         after {total}; descriptors {fds_then} then {fds_now}",
        begun.elapsed().as_secs_f64()
    );
    assert!(
        rss_now <= rss_then + 1024,
        "RSS grew from {rss_then} KiB to {rss_now} KiB"
    );
    assert_eq!(fds_now, fds_then, "descriptors");
    // Nothing was answered twice: the connection holds nothing more.
    client.expect_nothing_more(Duration::from_millis(100));
    drop(client);
    sim.stop();
}

#[test]
fn soak_short() {
    let total = std::env::var("LAMBDA_SIM_SOAK_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    soak(total);
}

#[test]
#[ignore = "a million invocations: minutes; run with --release --ignored"]
fn soak_a_million() {
    soak(1_000_000);
}

//! Load, in short versions that run in CI: many invokers queueing at once over HTTP, each
//! answered exactly once in arrival order; and 10 000 connections held open by another
//! process, with the simulator still serving and every descriptor given back when they close.
//! (1 million invocations with flat RSS: `cargo bench --bench memory`.)
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::binary::*;
use common::*;

#[test]
fn a_hundred_invokers_queued_at_once_are_answered_once_each_in_arrival_order() {
    let sim = external(Duration::from_secs(30));
    // Each invoker arrives after the last is queued: the arrival order is this loop's.
    let mut invokers = Vec::new();
    for i in 0..100 {
        let mut c = Client::connect(sim.invoke_addr());
        let body = format!(r#"{{"n":{i}}}"#);
        c.send(&request_bytes("POST", INVOKE, &[], body.as_bytes()));
        wait_state(&sim, "queued", |s| s.queued == i + 1);
        invokers.push(c);
    }
    // The test plays the runtime: each event comes in the order its invoker arrived.
    let mut runtime = Client::connect(sim.runtime_api_addr());
    for i in 0..100 {
        let (id, event) = next(&mut runtime);
        assert_eq!(event.json()["n"], i, "FIFO");
        let r = runtime.request("POST", &response_path(&id), &[], &event.body);
        assert_eq!(r.status, 202);
    }
    for (i, mut invoker) in invokers.into_iter().enumerate() {
        let r = invoker.read_response();
        assert_eq!((r.status, r.json()["n"].as_u64()), (200, Some(i as u64)));
        // Exactly once: nothing more comes on the connection.
        invoker
            .stream()
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        assert!(
            invoker.try_read_response().is_none(),
            "invoker {i} answered twice"
        );
    }
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Holds N connections to PORT open until its stdin says to close them.
const HOLDER: &str = r#"
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, n = int(sys.argv[1]), int(sys.argv[2])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
print("held", len(held), flush=True)
sys.stdin.readline()
for s in held:
    s.close()
print("closed", flush=True)
"#;

#[test]
fn ten_thousand_connections_from_another_process_cost_no_service_and_leak_nothing() {
    const N: usize = 10_000;
    let sim = Binary::python("echo", &[]);
    let invoke = sim.invoke;
    // Warm: the runtime is up. The connection stays open to the end, so that the count below
    // does not move when the simulator sees it close.
    let mut warm = Client::connect(invoke);
    assert_eq!(warm.request("POST", INVOKE, &[], b"{}").status, 200);
    let before = sim.fds();

    let mut holder = Command::new("python3")
        .args(["-c", HOLDER, &invoke.port().to_string(), &N.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = BufReader::new(holder.stdout.take().unwrap()).lines();
    assert_eq!(said.next().unwrap().unwrap(), format!("held {N}"));
    wait_for("every connection accepted", Duration::from_secs(30), || {
        sim.fds() >= before + N
    });
    // Still serving, beside them.
    let r = Client::connect(invoke).request("POST", INVOKE, &[], br#"{"n":1}"#);
    assert_eq!((r.status, r.text()), (200, r#"{"n":1}"#.to_string()));

    holder
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"close\n")
        .unwrap();
    assert_eq!(said.next().unwrap().unwrap(), "closed");
    holder.wait().unwrap();
    wait_for(
        "every descriptor given back",
        Duration::from_secs(30),
        || sim.fds() <= before,
    );
    assert_eq!(sim.fds(), before);
    assert_eq!(warm.request("POST", INVOKE, &[], b"{}").status, 200);
    sim.stop();
}

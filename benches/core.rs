//! The lifecycle core alone, no sockets: invocations per second through `invoke` →
//! `handle_runtime_next` → `handle_runtime_result` → the reply, with a virtual clock, without
//! and with one INVOKE-subscribed extension. Then heap allocations per invocation, counted by a
//! counting global allocator: in the core alone, and through the whole reactor (HTTP decoding
//! and rendering included) with an HTTP invoker thread and a runtime process, each without and
//! with an extension.
//!
//! `cargo bench --bench core`; `LAMBDA_SIM_BENCH_SCALE=0.01` for a quick run.
#![allow(clippy::disallowed_methods)]

mod support;

use std::alloc::System;
use std::hint::black_box;
use std::io;
use std::time::Instant;

use lambda_sim::Micros;
use lambda_sim::internals::id::Uuid;
use lambda_sim::lifecycle::{
    Action, Config, EnvId, Events, InitMode, InvokeRequest, Lifecycle, PlatformEvent, RuntimeMode,
    RuntimeResult, WaiterId,
};
use lambda_sim::{LogOutput, Simulator};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use support::{Invoker, PAYLOAD, Samples};

/// Counts the allocations of every thread (the `stats_alloc` crate wraps the system allocator).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations so far, reallocations included (a reallocation may move).
fn allocations() -> u64 {
    let stats = GLOBAL.stats();
    (stats.allocations + stats.reallocations) as u64
}

/// Allocations per call of `f` over `n` calls, after 1 000 calls of warm-up (buffers reach
/// their size, the runtime its steady state): the lower of two runs of `n` calls in a row.
/// A buffer that grows to a new high-water mark (a burst of pipelined bytes on a machine
/// under load, say) allocates once, in one run; an allocation made per invocation shows in
/// both, so it still counts.
fn allocations_per_call(n: usize, mut f: impl FnMut() -> io::Result<()>) -> io::Result<f64> {
    for _ in 0..1_000 {
        f()?;
    }
    let mut least = f64::INFINITY;
    for _ in 0..2 {
        let before = allocations();
        for _ in 0..n {
            f()?;
        }
        least = least.min((allocations() - before) as f64 / n as f64);
    }
    Ok(least)
}

/// The request's payload and the runtime's response: the only allocations an invocation needs.
const PAYLOAD_ALLOCATIONS: f64 = 2.0;

/// The one environment.
const E0: EnvId = EnvId(0);
const RUNTIME: WaiterId = WaiterId(1);
const INVOKER: WaiterId = WaiterId(2);
const EXTENSION: WaiterId = WaiterId(3);

/// A core whose init is done, with one INVOKE-subscribed extension parked on `event/next`.
fn ready_core_with_extension() -> (Lifecycle, Micros, Uuid) {
    let config = Config {
        runtime: RuntimeMode::External,
        init: InitMode::Eager,
        seed: 7,
        ..Config::default()
    };
    let mut now = Micros::ZERO;
    let mut core = Lifecycle::new(config, now);
    let events = Events {
        invoke: true,
        shutdown: false,
    };
    let id = core
        .handle_extension_register(now, E0, "bench-ext", events)
        .expect("registration is open during the init");
    now = now + Micros(10);
    core.handle_runtime_next(now, E0, RUNTIME)
        .expect("the runtime may ask for its first event");
    core.handle_extension_next(now, E0, EXTENSION, id)
        .expect("the extension may ask for its first event");
    while core.poll_action().is_some() {}
    (core, now, id)
}

/// One invocation with the extension: the runtime responds and is back on `/next`, then the
/// extension is back on `event/next` 3 µs after the response. Returns the reported overhead.
fn one_invocation_with_extension(
    core: &mut Lifecycle,
    now: &mut Micros,
    ext: Uuid,
    payload: Vec<u8>,
    response: Vec<u8>,
) -> u64 {
    *now = *now + Micros(1);
    let id = core
        .invoke(
            *now,
            INVOKER,
            InvokeRequest {
                payload,
                ..InvokeRequest::default()
            },
        )
        .expect("the queue is empty");
    let mut released = 0;
    while let Some(action) = core.poll_action() {
        released += usize::from(matches!(
            action,
            Action::Release { .. } | Action::ReleaseExtension { .. }
        ));
    }
    assert_eq!(
        released, 2,
        "the runtime and the extension get the invocation"
    );
    *now = *now + Micros(5);
    let result = RuntimeResult::Response {
        body: response,
        content_type: None,
    };
    core.handle_runtime_result(*now, E0, id, result)
        .expect("the runtime answers its invocation");
    core.handle_runtime_next(*now, E0, RUNTIME)
        .expect("and asks for the next");
    *now = *now + Micros(3);
    core.handle_extension_next(*now, E0, EXTENSION, ext)
        .expect("the extension is done");
    let mut overhead = None;
    while let Some(action) = core.poll_action() {
        if let Action::Event(_, PlatformEvent::Report { extensions, .. }) = &action {
            overhead = extensions.max();
        }
    }
    let overhead = overhead.expect("the invocation completes with a report");
    assert_eq!(overhead, Micros(3), "measured from the runtime's response");
    black_box(overhead.as_micros())
}

/// A core with an external runtime that has finished its init (parked on `/next`).
fn ready_core() -> (Lifecycle, Micros) {
    let config = Config {
        runtime: RuntimeMode::External,
        init: InitMode::Eager,
        seed: 7,
        ..Config::default()
    };
    let mut now = Micros::ZERO;
    let mut core = Lifecycle::new(config, now);
    while core.poll_action().is_some() {}
    now = now + Micros(10);
    core.handle_runtime_next(now, E0, RUNTIME)
        .expect("the runtime may ask for its first event");
    while core.poll_action().is_some() {}
    (core, now)
}

/// One invocation through the core; the runtime answers with `response` and parks again.
/// Returns the reply's body length, so nothing is optimised away.
fn one_invocation(
    core: &mut Lifecycle,
    now: &mut Micros,
    payload: Vec<u8>,
    response: Vec<u8>,
) -> usize {
    *now = *now + Micros(1);
    let id = core
        .invoke(
            *now,
            INVOKER,
            InvokeRequest {
                payload,
                ..InvokeRequest::default()
            },
        )
        .expect("the queue is empty");
    let mut released = false;
    while let Some(action) = core.poll_action() {
        released |= matches!(action, Action::Release { .. });
    }
    assert!(released, "the parked runtime gets the invocation");
    *now = *now + Micros(5);
    let result = RuntimeResult::Response {
        body: response,
        content_type: None,
    };
    core.handle_runtime_result(*now, E0, id, result)
        .expect("the runtime answers its invocation");
    core.handle_runtime_next(*now, E0, RUNTIME)
        .expect("and asks for the next");
    let mut replied = 0;
    while let Some(action) = core.poll_action() {
        if let Action::Reply { reply, .. } = action {
            replied = black_box(&reply).request_id.as_str().len();
        }
    }
    assert!(replied > 0, "the invoker is answered");
    replied
}

/// Counts allocations per invocation over HTTP through `sim`, all threads included, and fails if
/// an invocation allocates beyond its two payloads.
fn check_reactor_allocations(sim: &lambda_sim::Handle, n: usize, what: &str) -> io::Result<()> {
    let mut invoker = Invoker::connect(sim.invoke_addr())?;
    let count = allocations_per_call(n, || {
        if invoker.invoke(PAYLOAD)? != PAYLOAD {
            return Err(io::Error::other("the echo came back different"));
        }
        Ok(())
    })?;
    println!(
        "allocations per invocation, reactor + core + HTTP ({what}): {count:.2} (2 of them are the request and response bodies)"
    );
    if count > PAYLOAD_ALLOCATIONS {
        return Err(io::Error::other(format!(
            "the reactor allocates beyond the payloads ({what}): {count:.2} per invocation"
        )));
    }
    Ok(())
}

fn main() -> io::Result<()> {
    support::play_role();
    support::print_command("core");

    // ----- throughput -----
    let n = support::scaled(2_000_000);
    let (mut core, mut now) = ready_core();
    let mut samples = Samples::with_capacity(0);
    let start = Instant::now();
    for _ in 0..n {
        one_invocation(&mut core, &mut now, PAYLOAD.to_vec(), PAYLOAD.to_vec());
    }
    samples.add_busy(start.elapsed());
    let per_sec = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "lifecycle core alone: {n} invocations in {:.3} s: {:.2} million invocations/s, {:.0} ns each",
        start.elapsed().as_secs_f64(),
        per_sec / 1e6,
        1e9 / per_sec
    );

    let n = support::scaled(2_000_000);
    let (mut core, mut now, ext) = ready_core_with_extension();
    let start = Instant::now();
    for _ in 0..n {
        one_invocation_with_extension(&mut core, &mut now, ext, PAYLOAD.to_vec(), PAYLOAD.to_vec());
    }
    let per_sec = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "lifecycle core alone, one INVOKE-subscribed extension: {n} invocations in {:.3} s: {:.2} million invocations/s, {:.0} ns each",
        start.elapsed().as_secs_f64(),
        per_sec / 1e6,
        1e9 / per_sec
    );

    // ----- allocations in the core -----
    let n = support::scaled(100_000);
    let (mut core, mut now) = ready_core();
    let core_allocs = allocations_per_call(n, || {
        one_invocation(&mut core, &mut now, PAYLOAD.to_vec(), PAYLOAD.to_vec());
        Ok(())
    })?;
    println!(
        "allocations per invocation, core alone: {core_allocs:.2} (2 of them are the request and response payloads the bench hands in)"
    );
    let (mut core, mut now, ext) = ready_core_with_extension();
    let ext_allocs = allocations_per_call(n, || {
        one_invocation_with_extension(&mut core, &mut now, ext, PAYLOAD.to_vec(), PAYLOAD.to_vec());
        Ok(())
    })?;
    println!("allocations per invocation, core alone, one extension: {ext_allocs:.2}");
    // Counts are deterministic, unlike times: a regression here fails the bench (and CI).
    for (what, count) in [("", core_allocs), (" with an extension", ext_allocs)] {
        if count > PAYLOAD_ALLOCATIONS {
            return Err(io::Error::other(format!(
                "the core{what} allocates beyond the payloads: {count:.2} per invocation"
            )));
        }
    }

    // ----- allocations through the reactor, HTTP included -----
    let exe = std::env::current_exe()?.to_string_lossy().into_owned();
    // At least 2 000 in each run, even scaled down: time enough (0.1 s and more) for any
    // periodic work of the reactor (a freeze's walk of `/proc` every 50 ms) to show in both.
    let n = support::scaled(20_000).max(2_000);
    let runtime = Simulator::builder()
        .command([exe.clone()])
        .env(support::ROLE, "runtime")
        .log_output(LogOutput::Discard);
    let sim = runtime.clone().start()?;
    check_reactor_allocations(
        &sim,
        n,
        "invoke over HTTP, runtime in another process, lines discarded",
    )?;
    // The embedding API's path, for information: its answers are owned values (headers and
    // body), so it allocates per invocation by design.
    let embed_allocs = allocations_per_call(n, || {
        sim.invoke(PAYLOAD).map_err(io::Error::other)?;
        Ok(())
    })?;
    println!(
        "allocations per invocation through Handle::invoke (not bound by the target): {embed_allocs:.2}"
    );
    sim.shutdown()?;

    let extension = [exe, format!("{}extension", support::ROLE_ARG)];
    let sim = runtime
        .extension(support::EXTENSION_NAME, extension)
        .start()?;
    check_reactor_allocations(&sim, n, "the same with one extension process")?;
    sim.shutdown()?;
    Ok(())
}

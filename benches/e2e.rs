//! End to end over HTTP, closed loop, one invoker and one runtime client, each in its own process:
//! invoker (this process) → lambda-sim (the release binary) → runtime (this binary, re-executed
//! as a std-only runtime client) → lambda-sim → invoker.
//!
//! Beside it, in the same run and alternating with it, two floors with no HTTP and no lifecycle
//! logic: a raw mio relay doing the same four socket hops with an echo peer; and the same relay
//! also exchanging the Runtime API's two other messages per invocation (the 202 after the
//! response and the runtime's next `/next`), which any conforming runtime client waits for.
//!
//! A second simulator runs with one external extension (this binary as an extension that is back
//! on `event/next` at once), beside a third floor: the protocol relay with an extension peer
//! that gets one byte per invocation and answers one byte, the next invocation waiting for both.
//!
//! `cargo bench --bench e2e`; `LAMBDA_SIM_BENCH_SCALE=0.01` for a quick run.
#![allow(clippy::disallowed_methods)]

mod support;

use std::io;

use support::{FourHopFloor, Invoker, PAYLOAD, Samples, SimProcess};

const ROUNDS: usize = 200;
const WARMUP: usize = 2_000;

fn main() -> io::Result<()> {
    support::play_role();
    let per_round = support::scaled(500);
    let exe = std::env::current_exe()?;
    let exe = exe.to_str().ok_or(io::ErrorKind::InvalidInput)?;

    let extension = support::extension_flag(exe);
    let mut configs = vec![
        ("lambda-sim (lifecycle lines on)", vec![]),
        ("lambda-sim --no-freeze", vec!["--no-freeze"]),
        (
            "lambda-sim + 1 extension",
            vec!["--extension", extension.as_str()],
        ),
    ];
    if std::env::var_os("LAMBDA_SIM_BENCH_QUIET").is_some() {
        configs.push(("lambda-sim --quiet", vec!["--quiet"]));
    }

    support::print_command("e2e");
    println!(
        "invoke round trip over HTTP, closed loop, {} bytes of payload, {ROUNDS} alternating rounds of {per_round}",
        PAYLOAD.len()
    );
    let mut floor = FourHopFloor::start(false)?;
    let mut floor6 = FourHopFloor::start(true)?;
    let mut floor_ext = FourHopFloor::with_extension()?;
    let mut sims = Vec::new();
    for (name, args) in &configs {
        let mut args = args.clone();
        args.extend(["--", exe]);
        let sim = SimProcess::start(&args, &[(support::ROLE, "runtime")])?;
        let invoker = Invoker::connect(sim.invoke)?;
        sims.push((
            *name,
            sim,
            invoker,
            Samples::with_capacity(ROUNDS * per_round),
        ));
    }

    // Warm up: the cold start, caches, the CPU governor.
    for _ in 0..WARMUP {
        floor.round_trip(PAYLOAD)?;
        floor6.round_trip(PAYLOAD)?;
        floor_ext.round_trip(PAYLOAD)?;
    }
    for (_, _, invoker, _) in &mut sims {
        for _ in 0..WARMUP {
            invoker.invoke(PAYLOAD)?;
        }
    }

    let cpu_before: Vec<u64> = [floor.relay_pid(), floor6.relay_pid(), floor_ext.relay_pid()]
        .into_iter()
        .chain(sims.iter().map(|(_, sim, _, _)| sim.child.id()))
        .map(support::cpu_ns)
        .collect();
    let mut floor_samples = Samples::with_capacity(ROUNDS * per_round);
    let mut floor6_samples = Samples::with_capacity(ROUNDS * per_round);
    let mut floor_ext_samples = Samples::with_capacity(ROUNDS * per_round);
    for _ in 0..ROUNDS {
        floor_samples.measure(per_round, || floor.round_trip(PAYLOAD))?;
        floor6_samples.measure(per_round, || floor6.round_trip(PAYLOAD))?;
        floor_ext_samples.measure(per_round, || floor_ext.round_trip(PAYLOAD))?;
        for (_, _, invoker, samples) in &mut sims {
            samples.measure(per_round, || {
                if invoker.invoke(PAYLOAD)? != PAYLOAD {
                    return Err(io::Error::other("the echo came back different"));
                }
                Ok(())
            })?;
        }
    }

    let cpu_after: Vec<u64> = [floor.relay_pid(), floor6.relay_pid(), floor_ext.relay_pid()]
        .into_iter()
        .chain(sims.iter().map(|(_, sim, _, _)| sim.child.id()))
        .map(support::cpu_ns)
        .collect();
    let per_invocation = |i: usize| {
        (cpu_after[i].saturating_sub(cpu_before[i])) as f64 / 1000.0 / (ROUNDS * per_round) as f64
    };
    let floor = floor_samples.summary();
    let floor6 = floor6_samples.summary();
    let floor_ext = floor_ext_samples.summary();
    support::header();
    support::row("floor: raw relay, 4 hops", &floor);
    support::row("protocol floor: + 202, /next", &floor6);
    support::row("protocol floor + extension peer", &floor_ext);
    println!(
        "  server CPU per invocation (user + kernel, /proc/<pid>/schedstat): relay {:.1} µs, protocol relay {:.1} µs, with the extension peer {:.1} µs",
        per_invocation(0),
        per_invocation(1),
        per_invocation(2)
    );
    for (i, (name, sim, _, samples)) in sims.iter().enumerate() {
        let ours = samples.summary();
        support::row(name, &ours);
        support::ratios(&ours, &floor);
        print!("  against the protocol floor:");
        support::ratios(&ours, &floor6);
        if name.contains("extension") {
            print!("  against the protocol floor with an extension peer:");
            support::ratios(&ours, &floor_ext);
        }
        println!(
            "  lambda-sim CPU per invocation: {:.1} µs; RSS after the run: {} KiB",
            per_invocation(3 + i),
            sim.rss_kib()
        );
    }
    Ok(())
}

//! Parallel load over HTTP, closed loop: K invokers (threads of this process, each on its own
//! keep-alive connection, each sending its next invocation when its last is answered) against
//! - lambda-sim with `--concurrency 4`: four environments, each with its own runtime process
//!   (this binary as the std-only runtime client of the e2e bench), four invokers;
//! - lambda-sim with `--max-concurrency 8` (Managed Instances): one environment whose runtime
//!   runs eight such loops on threads, eight invokers;
//!
//! each beside two floors carrying as many flows the same way, in the same run, rounds
//! alternating: one mio relay process and an echo process per flow, invoker → relay → echo →
//! relay → invoker (the e2e bench's four-hop floor, K times side by side); and the same with
//! the Runtime API's two other messages of each invocation, the 202 after the response and the
//! runtime's next `/next` (the e2e bench's protocol floor). No HTTP, no lifecycle.
//!
//! `cargo bench --bench concurrency`; `LAMBDA_SIM_BENCH_SCALE=0.01` for a quick run.
#![allow(clippy::disallowed_methods)]

mod support;

use std::io;

use support::{FlowsFloor, Invoker, PAYLOAD, Samples, SimProcess};

const ROUNDS: usize = 40;
const WARMUP: usize = 1_000;

fn main() -> io::Result<()> {
    support::play_role();
    let per_round = support::scaled(250).max(5);
    let exe = std::env::current_exe()?;
    let exe = exe.to_str().ok_or(io::ErrorKind::InvalidInput)?;

    support::print_command("concurrency");
    println!(
        "invoke round trips over HTTP, {} bytes of payload, K closed-loop invokers at once, {ROUNDS} alternating rounds of {per_round} per invoker",
        PAYLOAD.len()
    );
    let extra: Vec<String> = std::env::var("LAMBDA_SIM_BENCH_ARGS")
        .map(|a| a.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    for (name, flag, k) in [
        ("lambda-sim --concurrency 4", "--concurrency=4", 4),
        ("lambda-sim --max-concurrency 8", "--max-concurrency=8", 8),
    ] {
        let mut args = vec!["--quiet", flag];
        args.extend(extra.iter().map(String::as_str));
        args.extend(["--", exe]);
        compare(name, &args, k, per_round)?;
    }
    Ok(())
}

/// lambda-sim with `args` and `k` invokers, beside the floors with `k` flows.
fn compare(name: &str, args: &[&str], k: usize, per_round: usize) -> io::Result<()> {
    let mut floor = FlowsFloor::start(k, false)?;
    let mut protocol = FlowsFloor::start(k, true)?;
    let sim = SimProcess::start(args, &[(support::ROLE, "runtime")])?;
    let mut invokers = (0..k)
        .map(|_| Invoker::connect(sim.invoke))
        .collect::<io::Result<Vec<_>>>()?;

    // Warm up: every environment's cold start, caches, the CPU governor.
    Samples::default().measure_flows(WARMUP / k, &mut floor.flows(PAYLOAD))?;
    Samples::default().measure_flows(WARMUP / k, &mut protocol.flows(PAYLOAD))?;
    Samples::default().measure_flows(WARMUP / k, &mut sim_flows(&mut invokers))?;

    let pids = [floor.relay_pid(), protocol.relay_pid(), sim.child.id()];
    let cpu_before = pids.map(support::cpu_ns);
    let n = ROUNDS * per_round * k;
    let mut samples = [(); 3].map(|_| Samples::with_capacity(n));
    for round in 0..ROUNDS {
        // Each goes first, second and last in turn.
        for i in 0..3 {
            match (round + i) % 3 {
                0 => samples[0].measure_flows(per_round, &mut floor.flows(PAYLOAD))?,
                1 => samples[1].measure_flows(per_round, &mut protocol.flows(PAYLOAD))?,
                _ => samples[2].measure_flows(per_round, &mut sim_flows(&mut invokers))?,
            }
        }
    }
    let cpu_after = pids.map(support::cpu_ns);
    let per_invocation = |i: usize| (cpu_after[i] - cpu_before[i]) as f64 / 1000.0 / n as f64;

    println!("\n{name}, {k} invokers:");
    support::header();
    let [floor, protocol, ours] = samples.map(|s| s.summary());
    support::row(&format!("floor: raw relay, {k} flows"), &floor);
    support::row("protocol floor: + 202, /next", &protocol);
    support::row(name, &ours);
    support::ratios(&ours, &floor);
    print!("  against the protocol floor:");
    support::ratios(&ours, &protocol);
    println!(
        "  server CPU per invocation (user + kernel, /proc/<pid>/schedstat): relay {:.1} µs, protocol relay {:.1} µs, lambda-sim {:.1} µs; lambda-sim RSS after the run: {} KiB",
        per_invocation(0),
        per_invocation(1),
        per_invocation(2),
        sim.rss_kib()
    );
    Ok(())
}

/// An invocation on each invoker, to be driven from a thread of its own; the echo checked.
fn sim_flows(invokers: &mut [Invoker]) -> Vec<Box<dyn FnMut() -> io::Result<()> + Send + '_>> {
    invokers
        .iter_mut()
        .map(|invoker| {
            Box::new(move || {
                if invoker.invoke(PAYLOAD)? != PAYLOAD {
                    return Err(io::Error::other("the echo came back different"));
                }
                Ok(())
            }) as Box<dyn FnMut() -> io::Result<()> + Send>
        })
        .collect()
}

//! Through the embedding API: `Handle::invoke` in this process → the reactor thread → the runtime
//! (this binary, re-executed as a std-only runtime client) → the reactor → back. No HTTP on the
//! invoke side; two socket hops.
//!
//! Beside it, alternating in the same run, two floors: the two-hop relay (the caller hands the
//! payload to a relay thread over a channel and a `mio::Waker`, as `Handle` does; the relay
//! sends it to an echo peer over loopback and hands the echo back), and the bare two hops (this
//! thread writes to the echo peer and reads back), which shows what the thread hand-offs cost.
//!
//! `cargo bench --bench embed`; `LAMBDA_SIM_BENCH_SCALE=0.01` for a quick run.
#![allow(clippy::disallowed_methods)]

mod support;

use std::io;
use std::time::Duration;

use lambda_sim::Simulator;
use support::{PAYLOAD, RelayedTwoHopFloor, Samples, TwoHopFloor};

const ROUNDS: usize = 50;
const WARMUP: usize = 2_000;

fn main() -> io::Result<()> {
    support::play_role();
    let per_round = support::scaled(2_000);
    let exe = std::env::current_exe()?;
    support::print_command("embed");
    println!(
        "Handle::invoke round trip, closed loop, {} bytes of payload, {ROUNDS} alternating rounds of {per_round}",
        PAYLOAD.len()
    );

    let start = |spin: Duration| {
        Simulator::builder()
            .command([exe.to_string_lossy().into_owned()])
            .env(support::ROLE, "runtime")
            .spin_wait(spin)
            .start()
    };
    let sim = start(lambda_sim::DEFAULT_SPIN)?;
    let sleeper = start(Duration::ZERO)?;
    let mut floor = RelayedTwoHopFloor::start(false)?;
    let mut protocol = RelayedTwoHopFloor::start(true)?;
    let mut bare = TwoHopFloor::start()?;
    let invoke = |sim: &lambda_sim::Handle| -> io::Result<()> {
        let response = sim.invoke(PAYLOAD).map_err(io::Error::other)?;
        if response.status != 200 || response.body != PAYLOAD {
            return Err(io::Error::other(format!(
                "unexpected answer {}: {}",
                response.status,
                response.body_str()
            )));
        }
        Ok(())
    };
    for _ in 0..WARMUP {
        floor.round_trip(PAYLOAD)?;
        protocol.round_trip(PAYLOAD)?;
        bare.round_trip(PAYLOAD)?;
        invoke(&sim)?;
        invoke(&sleeper)?;
    }

    let mut floor_samples = Samples::with_capacity(ROUNDS * per_round);
    let mut bare_samples = Samples::with_capacity(ROUNDS * per_round);
    let mut protocol_samples = Samples::with_capacity(ROUNDS * per_round);
    let mut ours = Samples::with_capacity(ROUNDS * per_round);
    let mut sleeping = Samples::with_capacity(ROUNDS * per_round);
    for _ in 0..ROUNDS {
        floor_samples.measure(per_round, || floor.round_trip(PAYLOAD))?;
        bare_samples.measure(per_round, || bare.round_trip(PAYLOAD))?;
        protocol_samples.measure(per_round, || protocol.round_trip(PAYLOAD))?;
        ours.measure(per_round, || invoke(&sim))?;
        sleeping.measure(per_round, || invoke(&sleeper))?;
    }
    let floor = floor_samples.summary();
    let ours = ours.summary();
    support::header();
    support::row("bare 2 hops, no thread hand-off", &bare_samples.summary());
    support::row("floor: 2-hop relay thread", &floor);
    support::row("lambda-sim Handle::invoke", &ours);
    support::row("  the same, spin_wait(0)", &sleeping.summary());
    support::row("protocol floor: + 202, /next", &protocol_samples.summary());
    support::ratios(&ours, &floor);
    print!("  against the protocol floor:");
    support::ratios(&ours, &protocol_samples.summary());
    sim.shutdown()?;
    sleeper.shutdown()?;
    Ok(())
}

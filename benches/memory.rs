//! Memory of the release binary, read from `/proc/<pid>/status` (VmRSS):
//! - idle, with an external runtime and with a spawned runtime after one invocation;
//! - parked long polls: 1 000 and 10 000 runtime `/next` connections held open by another
//!   process (lambda-sim raises its own open-file limit), the cost of each;
//! - over 1 million invocations over HTTP: RSS at 10k, 100k and 1M, which must stay flat.
//!
//! `cargo bench --bench memory`; `LAMBDA_SIM_BENCH_SCALE=0.01` for a quick run.
#![allow(clippy::disallowed_methods)]

mod support;

use std::io::{self, BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Invoker, PAYLOAD, SimProcess};

fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn parked(n: usize) -> io::Result<()> {
    let sim = SimProcess::start(&["--external-runtime"], &[])?;
    settle();
    let before = sim.rss_kib();
    let fds_before = open_fds(sim.child.id());
    let mut park = Command::new(std::env::current_exe()?)
        .env(support::ROLE, "park")
        .env(support::PEER, sim.runtime_api.to_string())
        .env("LAMBDA_SIM_BENCH_CONNS", n.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(park.stdout.take().ok_or(io::ErrorKind::BrokenPipe)?).read_line(&mut line)?;
    if line.trim() != "parked" {
        return Err(io::Error::other("the park helper failed"));
    }
    // Wait until the simulator has accepted every connection.
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_fds(sim.child.id()) < fds_before + n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    settle();
    let accepted = open_fds(sim.child.id()) - fds_before;
    let after = sim.rss_kib();
    println!(
        "  {n:>6} parked /next connections ({accepted} open in lambda-sim): RSS {before} KiB -> {after} KiB, {:.0} bytes each",
        (after.saturating_sub(before) * 1024) as f64 / n as f64
    );
    if let Some(mut stdin) = park.stdin.take() {
        let _ = stdin.write_all(b"done\n");
    }
    let _ = park.wait();
    Ok(())
}

fn main() -> io::Result<()> {
    support::play_role();
    support::print_command("memory");
    let exe = std::env::current_exe()?;
    let exe = exe.to_str().ok_or(io::ErrorKind::InvalidInput)?;

    // ----- idle -----
    let sim = SimProcess::start(&["--external-runtime"], &[])?;
    settle();
    println!("idle, external runtime: RSS {} KiB", sim.rss_kib());
    drop(sim);
    let sim = SimProcess::start(&["--", exe], &[(support::ROLE, "runtime")])?;
    Invoker::connect(sim.invoke)?.invoke(PAYLOAD)?;
    settle();
    println!(
        "idle, after one invocation of a spawned runtime: RSS {} KiB (lambda-sim alone)",
        sim.rss_kib()
    );
    drop(sim);

    // ----- parked long polls -----
    for n in [1_000, 10_000] {
        parked(support::scaled(n))?;
    }

    // ----- RSS over a million invocations -----
    let total = support::scaled(1_000_000);
    let sim = SimProcess::start(&["--", exe], &[(support::ROLE, "runtime")])?;
    let mut invoker = Invoker::connect(sim.invoke)?;
    let marks = [total / 100, total / 10, total];
    let mut done = 0;
    let start = Instant::now();
    let mut first = None;
    for mark in marks {
        while done < mark {
            invoker.invoke(PAYLOAD)?;
            done += 1;
        }
        let rss = sim.rss_kib();
        first.get_or_insert(rss);
        println!(
            "  after {done:>8} invocations ({:.0} s): RSS {rss} KiB",
            start.elapsed().as_secs_f64()
        );
    }
    if let Some(first) = first {
        println!(
            "RSS growth from {} to {total} invocations: {} KiB",
            marks[0],
            sim.rss_kib() as i64 - first as i64
        );
    }
    Ok(())
}

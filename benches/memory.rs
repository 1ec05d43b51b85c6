//! Memory of the release binary, read from `/proc/<pid>/status` (VmRSS):
//! - idle, with an external runtime and with a spawned runtime after one invocation;
//! - parked long polls: 1 000 and 10 000 runtime `/next` connections held open by another
//!   process (lambda-sim raises its own open-file limit), the cost of each;
//! - 64 execution environments (`--concurrency 64`), each cold-started by one of 64
//!   invocations sent at once: what each environment costs beyond the idle simulator, every
//!   invocation answered once, every environment its own, and all shut down by SIGTERM;
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

/// `n` environments, each started by one of `n` invocations sent at once; `idle` is the RSS
/// of one idle environment after one invocation.
fn environments(n: usize, idle: u64, exe: &str) -> io::Result<()> {
    let lines = std::env::temp_dir().join(format!("lambda-sim-memory-{}.out", std::process::id()));
    let path = lines.to_str().ok_or(io::ErrorKind::InvalidInput)?;
    let concurrency = format!("--concurrency={n}");
    let mut sim = SimProcess::start(
        &[concurrency.as_str(), "--", exe],
        &[(support::ROLE, "runtime"), (support::STDOUT_FILE, path)],
    )?;
    let answers = std::thread::scope(|scope| {
        let invokers: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| -> io::Result<bool> {
                    Ok(Invoker::connect(sim.invoke)?.invoke(PAYLOAD)? == PAYLOAD)
                })
            })
            .collect();
        invokers
            .into_iter()
            .map(|i| {
                i.join()
                    .unwrap_or_else(|_| Err(io::Error::other("an invoker panicked")))
            })
            .collect::<io::Result<Vec<bool>>>()
    })?;
    settle();
    let rss = sim.rss_kib();
    // Every environment's START line, by its tag: each must have served exactly one.
    let text = std::fs::read_to_string(&lines)?;
    let mut served: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("] START RequestId:"))
        .filter_map(|l| l.split(']').next())
        .collect();
    served.sort_unstable();
    served.dedup();
    let reports = text
        .lines()
        .filter(|l| l.contains("] REPORT RequestId:"))
        .count();
    // SIGTERM: every environment's shutdown, then lambda-sim exits, its children gone.
    let children: Vec<String> =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", sim.child.id()))?
            .split_whitespace()
            .map(str::to_string)
            .collect();
    let start = Instant::now();
    Command::new("kill")
        .args(["-TERM", &sim.child.id().to_string()])
        .status()?;
    let deadline = start + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = sim.child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = std::fs::remove_file(&lines);
    // A child that lambda-sim did not reap is a zombie of ours now, or still running.
    let alive = children
        .iter()
        .filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
        .count();
    println!(
        "{n} environments, one invocation each, sent at once: {} of {n} answered with the echo, {} environments served one each ({reports} REPORT lines); RSS {rss} KiB, {:.1} KiB per environment beyond the idle {idle} KiB",
        answers.iter().filter(|ok| **ok).count(),
        served.len(),
        rss.saturating_sub(idle) as f64 / n as f64,
    );
    println!(
        "  SIGTERM: {} after {} ms; {alive} of its {} runtime processes left",
        status.map_or("still running".to_string(), |s| s.to_string()),
        start.elapsed().as_millis(),
        children.len()
    );
    if answers.iter().any(|ok| !ok) || served.len() != n || reports != n {
        return Err(io::Error::other(
            "an environment did not serve its one invocation",
        ));
    }
    if !status.is_some_and(|s| s.success()) || alive > 0 || children.len() != n {
        return Err(io::Error::other("lambda-sim did not shut down cleanly"));
    }
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
    let idle = sim.rss_kib();
    drop(sim);

    // ----- 64 environments -----
    environments(64, idle, exe)?;

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

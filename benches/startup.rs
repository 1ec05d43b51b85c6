//! Start-up of the release binary: from spawning `lambda-sim` to its ready line (both listeners
//! bound, the reactor running), and from spawning it to the first invocation's answer with a
//! std-only runtime (a cold start: spawn, init, `/next`, invoke, response).
//!
//! `cargo bench --bench startup`; `LAMBDA_SIM_BENCH_SCALE=0.1` for a quick run.
#![allow(clippy::disallowed_methods)]

mod support;

use std::io::{self, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use support::{Invoker, PAYLOAD, Samples};

fn main() -> io::Result<()> {
    support::play_role();
    support::print_command("startup");
    let exe = std::env::current_exe()?;
    let exe = exe.to_str().ok_or(io::ErrorKind::InvalidInput)?;
    let runs = support::scaled(200);
    let mut ready = Samples::with_capacity(runs);
    let mut first = Samples::with_capacity(runs);
    for _ in 0..runs {
        for cold in [false, true] {
            let t = Instant::now();
            let mut cmd = Command::new(support::binary());
            cmd.args([
                "--invoke-addr",
                "127.0.0.1:0",
                "--runtime-api-addr",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stdin(Stdio::null());
            if cold {
                cmd.args(["--", exe]).env(support::ROLE, "runtime");
            } else {
                cmd.arg("--external-runtime");
            }
            let mut child = cmd.spawn()?;
            let mut out = BufReader::new(child.stdout.take().ok_or(io::ErrorKind::BrokenPipe)?);
            let (invoke, _) = support::read_ready(&mut out)?;
            if cold {
                Invoker::connect(invoke)?.invoke(PAYLOAD)?;
                first.push(t.elapsed());
            } else {
                ready.push(t.elapsed());
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    support::header();
    support::row("spawn to ready line", &ready.summary());
    support::row("spawn to first response (cold)", &first.summary());
    Ok(())
}

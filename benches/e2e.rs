//! End to end over HTTP, closed loop, one invoker and one runtime client, each in its own process:
//! invoker (this process) → lambda-sim (the release binary) → runtime (this binary, re-executed
//! as a std-only runtime client) → lambda-sim → invoker.
//!
//! Beside it, in the same run and alternating with it, two floors with no HTTP and no lifecycle
//! logic: a raw mio relay doing the same four socket hops with an echo peer; and the same relay
//! also exchanging the Runtime API's two other messages per invocation (the 202 after the
//! response and the runtime's next `/next`), which any conforming runtime client waits for.
//!
//! Two more simulators run with one and with four external extensions (this binary as an
//! extension that is back on `event/next` at once), beside the protocol relay with one and with
//! four extension peers: each gets one byte per invocation and answers one byte, the next
//! invocation waiting for all of them.
//!
//! And three HTTP floors, with no extension, one and four: the very clients lambda-sim's rows
//! have (this process's invoker, the `runtime` and `extension` helpers), served by a relay that
//! parses each request's head with httparse and answers with fixed responses of lambda-sim's
//! shape (`support::HttpFloor`). Against the protocol floors, a row also pays for its clients
//! speaking HTTP; against these, only for what lambda-sim does.
//!
//! Then a second harness: each floor and simulator again, invoked by a process of its own that
//! does nothing else (blocking in `read(2)`, as most users' invokers do) for one long stretch,
//! rather than by this process in short rounds alternating with the others. On a machine whose
//! idle processors sleep deeply (a virtual machine), every hop's wake-up costs more there; the
//! two harnesses bracket what a user sees (`benches/README.md`).
//!
//! `cargo bench --bench e2e`; `LAMBDA_SIM_BENCH_SCALE=0.01` for a quick run.
#![allow(clippy::disallowed_methods)]

mod support;

use std::io;

use support::{Floor, FourHopFloor, HttpFloor, Invoker, PAYLOAD, Samples, SimProcess, Summary};

const ROUNDS: usize = 200;
const WARMUP: usize = 2_000;

/// A simulator configuration: its row's name, its flags, its extensions, and the binary if not
/// this build's.
struct Config {
    name: &'static str,
    args: Vec<String>,
    extensions: usize,
    binary: Option<String>,
}

fn main() -> io::Result<()> {
    support::play_role();
    let per_round = support::scaled(500);
    let exe = std::env::current_exe()?;
    let exe = exe.to_str().ok_or(io::ErrorKind::InvalidInput)?;

    let with_extensions = |n: usize| -> Vec<String> {
        support::extension_flags(exe, n)
            .into_iter()
            .flat_map(|flag| ["--extension".to_string(), flag])
            .collect()
    };
    let config = |name, args: Vec<&str>| Config {
        name,
        args: args.into_iter().map(str::to_string).collect(),
        extensions: 0,
        binary: None,
    };
    let mut configs = vec![
        config("lambda-sim (lifecycle lines on)", vec![]),
        config("lambda-sim --no-freeze", vec!["--no-freeze"]),
        Config {
            name: "lambda-sim + 1 extension",
            args: with_extensions(1),
            extensions: 1,
            binary: None,
        },
        Config {
            name: "lambda-sim + 4 extensions",
            args: with_extensions(4),
            extensions: 4,
            binary: None,
        },
    ];
    // Another build beside this one, to compare two commits in the same run.
    if let Ok(baseline) = std::env::var("LAMBDA_SIM_BENCH_BASELINE") {
        for (name, extensions) in [
            ("baseline (lifecycle lines on)", 0),
            ("baseline + 1 extension", 1),
            ("baseline + 4 extensions", 4),
        ] {
            configs.push(Config {
                name,
                args: with_extensions(extensions),
                extensions,
                binary: Some(baseline.clone()),
            });
        }
    }
    if std::env::var_os("LAMBDA_SIM_BENCH_QUIET").is_some() {
        configs.push(config("lambda-sim --quiet", vec!["--quiet"]));
        for (name, extensions) in [
            ("lambda-sim + 1 extension --no-freeze", 1),
            ("lambda-sim + 4 extensions --no-freeze", 4),
        ] {
            let mut args = with_extensions(extensions);
            args.push("--no-freeze".to_string());
            configs.push(Config {
                name,
                args,
                extensions,
                binary: None,
            });
        }
    }

    support::print_command("e2e");
    println!(
        "invoke round trip over HTTP, closed loop, {} bytes of payload, {ROUNDS} alternating rounds of {per_round}",
        PAYLOAD.len()
    );
    // The raw relay, the protocol relay with 0, 1 and 4 extension peers, and the HTTP relay
    // with 0, 1 and 4 extensions.
    let mut floors: Vec<Box<dyn Floor>> = vec![
        Box::new(FourHopFloor::start(false)?),
        Box::new(FourHopFloor::start(true)?),
        Box::new(FourHopFloor::with_extensions(1)?),
        Box::new(FourHopFloor::with_extensions(4)?),
        Box::new(HttpFloor::start(0)?),
        Box::new(HttpFloor::start(1)?),
        Box::new(HttpFloor::start(4)?),
    ];
    let floor_names = [
        "floor: raw relay, 4 hops",
        "protocol floor: + 202, /next",
        "protocol floor + extension peer",
        "protocol floor + 4 extension peers",
        "HTTP floor: same clients",
        "HTTP floor + 1 extension",
        "HTTP floor + 4 extensions",
    ];
    // The protocol floor a configuration is held to, and the HTTP floor.
    let floor_of = |extensions: usize| match extensions {
        0 => 1,
        1 => 2,
        _ => 3,
    };
    let http_floor_of = |extensions: usize| floor_of(extensions) + 3;
    let mut sims = Vec::new();
    for c in &configs {
        let mut args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        args.extend(["--", exe]);
        let mut envs = vec![(support::ROLE, "runtime")];
        if let Some(binary) = &c.binary {
            envs.push((support::BINARY, binary.as_str()));
        }
        let sim = SimProcess::start(&args, &envs)?;
        let invoker = Invoker::connect(sim.invoke)?;
        sims.push((c, sim, invoker, Samples::with_capacity(ROUNDS * per_round)));
    }

    // Warm up: the cold start, caches, the CPU governor.
    for _ in 0..WARMUP {
        for floor in &mut floors {
            floor.round_trip(PAYLOAD)?;
        }
    }
    for (_, _, invoker, _) in &mut sims {
        for _ in 0..WARMUP {
            invoker.invoke(PAYLOAD)?;
        }
    }

    let pids: Vec<u32> = floors
        .iter()
        .map(|floor| floor.relay_pid())
        .chain(sims.iter().map(|(_, sim, _, _)| sim.child.id()))
        .collect();
    let cpu_before: Vec<u64> = pids.iter().map(|&pid| support::cpu_ns(pid)).collect();
    let mut floor_samples: Vec<Samples> = floors
        .iter()
        .map(|_| Samples::with_capacity(ROUNDS * per_round))
        .collect();
    // Each round starts one further along the list of floors and simulators: on two cores
    // the one that runs after another measures differently (the processes left where the
    // previous ones ran), so no row keeps one place.
    let rows = floors.len() + sims.len();
    for round in 0..ROUNDS {
        for at in (0..rows).map(|k| (k + round) % rows) {
            if at < floors.len() {
                let floor = &mut floors[at];
                floor_samples[at].measure(per_round, || floor.round_trip(PAYLOAD))?;
                continue;
            }
            let (_, _, invoker, samples) = &mut sims[at - floors.len()];
            samples.measure(per_round, || {
                if invoker.invoke(PAYLOAD)? != PAYLOAD {
                    return Err(io::Error::other("the echo came back different"));
                }
                Ok(())
            })?;
        }
    }
    let cpu_after: Vec<u64> = pids.iter().map(|&pid| support::cpu_ns(pid)).collect();
    let per_invocation = |i: usize| {
        (cpu_after[i].saturating_sub(cpu_before[i])) as f64 / 1000.0 / (ROUNDS * per_round) as f64
    };

    let floor_summaries: Vec<_> = floor_samples.iter().map(Samples::summary).collect();
    support::header();
    for (name, summary) in floor_names.iter().zip(&floor_summaries) {
        support::row(name, summary);
    }
    println!(
        "  server CPU per invocation (user + kernel, /proc/<pid>/schedstat): relay {:.1} µs, protocol relay {:.1} µs, with 1 extension peer {:.1} µs, with 4 {:.1} µs; HTTP relay {:.1} µs, with 1 extension {:.1} µs, with 4 {:.1} µs",
        per_invocation(0),
        per_invocation(1),
        per_invocation(2),
        per_invocation(3),
        per_invocation(4),
        per_invocation(5),
        per_invocation(6),
    );
    for (i, (c, sim, _, samples)) in sims.iter().enumerate() {
        let ours = samples.summary();
        support::row(c.name, &ours);
        support::ratios(&ours, &floor_summaries[0]);
        let at = floor_of(c.extensions);
        print!(
            "  against the {}:",
            floor_names[at].trim_start_matches("floor: ")
        );
        support::ratios(&ours, &floor_summaries[at]);
        let http = http_floor_of(c.extensions);
        print!("  against the {}:", floor_names[http]);
        support::ratios(&ours, &floor_summaries[http]);
        println!(
            "  lambda-sim CPU per invocation: {:.1} µs (its floors' {:.1} and {:.1} µs); RSS after the run: {} KiB",
            per_invocation(floors.len() + i),
            per_invocation(at),
            per_invocation(http),
            sim.rss_kib()
        );
    }
    drop(floors);

    // The second harness: each one alone, invoked from a process of its own.
    let count = support::scaled(20_000);
    let warmup = support::scaled(2_000);
    println!(
        "\nsecond harness: the invoker a process of its own, blocking in read(2); {warmup} invocations of warm-up, then {count} timed, one at a time"
    );
    support::header();
    // The warm-up's CPU is in every count: per invocation over all of them.
    let per = |ns: u64| ns as f64 / 1000.0 / (warmup + count) as f64;
    // A floor invoked apart, its row printed: its summary and its relay's CPU.
    let apart = |name: &str, addr, raw, pid| -> io::Result<(Summary, u64)> {
        let mut samples = Samples::with_capacity(count);
        let before = support::cpu_ns(pid);
        support::invoke_apart(addr, raw, warmup, count, &mut samples)?;
        let cpu = support::cpu_ns(pid).saturating_sub(before);
        let summary = samples.summary();
        support::row(name, &summary);
        Ok((summary, cpu))
    };
    for extensions in [0, 1, 4] {
        let floor = FourHopFloor::unlinked(extensions)?;
        let name = floor_names[floor_of(extensions)];
        let (floor_summary, floor_cpu) = apart(name, floor.addr(), true, floor.relay_pid())?;
        drop(floor);
        let http = HttpFloor::unlinked(extensions)?;
        let name = floor_names[http_floor_of(extensions)];
        let (http_summary, http_cpu) = apart(name, http.addr(), false, http.relay_pid())?;
        drop(http);
        let matching = sims.iter().filter(|(c, ..)| {
            c.extensions == extensions && !c.args.iter().any(|a| a == "--no-freeze")
        });
        for (c, sim, _, _) in matching {
            let mut samples = Samples::with_capacity(count);
            let before = support::cpu_ns(sim.child.id());
            support::invoke_apart(sim.invoke, false, warmup, count, &mut samples)?;
            let cpu = support::cpu_ns(sim.child.id()).saturating_sub(before);
            let ours = samples.summary();
            support::row(c.name, &ours);
            support::ratios(&ours, &floor_summary);
            print!("  against the {}:", floor_names[http_floor_of(extensions)]);
            support::ratios(&ours, &http_summary);
            println!(
                "  lambda-sim CPU per invocation: {:.1} µs (the floors' {:.1} and {:.1} µs)",
                per(cpu),
                per(floor_cpu),
                per(http_cpu)
            );
        }
    }
    Ok(())
}

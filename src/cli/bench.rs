//! `lambda-sim bench`: what a function's extensions cost, measured on real processes.
//!
//! It starts the environment, measures the cold start, warms up, then invokes `-n` times one
//! after the other through the embedding API, each time waiting until the invocation is complete
//! (runtime and extensions back on next) before the next. From each invocation it keeps the
//! round trip (measured here, from submit to answer), the runtime's duration and each
//! extension's overhead (measured by the simulator's lifecycle core), and from fresh
//! environments the init durations. With `--baseline` or `--compare` a second environment
//! without the extensions runs beside the first, invocations alternating between the two, and
//! the report adds each phase's difference with a 95 % confidence interval.
//!
//! Under parallel load (`--concurrency C`, `--max-concurrency M` or `--parallel P`), P invokers
//! (default C × M) run closed loops side by side, each submitting its next invocation as soon as
//! its last is complete. The first P invocations go at once (the cold starts of the
//! environments they start), then the warm-up, then the measured invocations, in blocks that
//! alternate between the arms (A B B A ...) when there is a baseline. Throughput is the measured
//! invocations over the time the blocks took, lambda-sim's CPU time is per invocation on
//! average, and the report adds a row per environment: its cold starts, its invocations and
//! its extensions' overhead.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::config::{Bootstrap, Config};
use crate::{Builder, Handle, InvokeRequest, InvokeResponse, LogOutput};

use super::invoke::Payload;

pub(crate) mod stats;
pub(crate) mod svg;

use stats::{Buckets, Counts, Interval, Summary, mean_difference, median_difference};

/// `lambda-sim bench`'s own options, beside the simulator's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BenchOptions {
    /// `-n`: measured invocations (per environment).
    pub invocations: u32,
    /// `--warmup`: invocations run and discarded after the cold start.
    pub warmup: u32,
    /// `--cold-starts`: fresh environments whose init is measured (the main run's is the
    /// first).
    pub cold_starts: u32,
    /// The event.
    pub payload: Payload,
    /// `--json FILE`: every sample and the summary.
    pub json: Option<PathBuf>,
    /// `--svg FILE`: histograms and a per-invocation timeline.
    pub svg: Option<PathBuf>,
    /// `--baseline` or `--compare`: what to compare with.
    pub baseline: Option<Baseline>,
    /// `--histograms`: a text histogram of each phase, after the summary.
    pub histograms: bool,
    /// `--parallel P`: invokers at once; 0 for one per invocation the environments can hold
    /// (concurrency × max-concurrency).
    pub parallel: u32,
    /// `--tenant-id ID`: the tenant every invocation names (tenant isolation).
    pub tenant_id: Option<String>,
}

impl BenchOptions {
    /// How many invokers run at once against `config`.
    pub(crate) fn invokers(&self, config: &Config) -> u32 {
        match self.parallel {
            0 => {
                let slots =
                    config.concurrency as u64 * u64::from(config.max_concurrency.unwrap_or(1));
                u32::try_from(slots).unwrap_or(u32::MAX).max(1)
            }
            p => p,
        }
    }
}

impl Default for BenchOptions {
    fn default() -> BenchOptions {
        BenchOptions {
            invocations: 1000,
            warmup: 20,
            cold_starts: 5,
            payload: Payload::Empty,
            json: None,
            svg: None,
            baseline: None,
            histograms: false,
            parallel: 0,
            tenant_id: None,
        }
    }
}

/// The environment the extensions are compared against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Baseline {
    /// `--baseline`: the same function, without extensions.
    WithoutExtensions,
    /// `--compare COMMAND`: another function, without extensions.
    Command(Bootstrap),
}

/// One measured invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Its request id.
    pub request_id: String,
    /// From submit to answer, measured by the invoker, µs.
    pub round_trip: u64,
    /// From submit to complete (runtime and extensions back on next), measured by the
    /// invoker, µs: what one invocation occupies the environment for.
    pub cycle: u64,
    /// When the simulator received it, µs on the simulator's clock.
    pub received: u64,
    /// From release to the runtime until its response, µs (`None`: never released).
    pub runtime: Option<u64>,
    /// From release until complete, the REPORT's Duration, µs.
    pub duration: Option<u64>,
    /// Each INVOKE-subscribed extension's overhead, µs, in registration order.
    pub overheads: Vec<(String, u64)>,
    /// The CPU time lambda-sim's thread used from this invocation's submit to the next's, µs:
    /// its own work for this invocation, to the freeze after it.
    pub cpu: Option<u64>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    /// The execution environment it ran in, by index (`None`: no report).
    pub environment: Option<usize>,
}

impl Sample {
    /// The round trip less the runtime's duration, µs: lambda-sim's work, the socket hops
    /// between it and the runtime, and the invoker's wake-up.
    pub(crate) fn outside(&self) -> Option<u64> {
        Some(self.round_trip.saturating_sub(self.runtime?))
    }

    /// How long the invocation waited for its slowest extension after the runtime responded.
    #[inline(never)]
    pub(crate) fn overhead(&self) -> u64 {
        self.overheads.iter().map(|(_, us)| *us).max().unwrap_or(0)
    }
}

/// One environment's measurements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Arm {
    /// What it is ("with extensions", "baseline", or the function for a single run).
    pub label: String,
    /// The runtime's command line.
    pub command: Vec<String>,
    /// Its external extensions' names.
    pub extensions: Vec<String>,
    /// Init durations of fresh environments, µs.
    pub inits: Vec<u64>,
    /// Under parallel load, the environment of each of `inits`, by index.
    pub init_environments: Vec<usize>,
    /// Invokers at once.
    pub invokers: u32,
    /// Under parallel load (several invokers, environments, or Managed Instances): measured in
    /// blocks rather than one invocation at a time.
    pub parallel: bool,
    /// Under parallel load, the measured blocks' time, µs (throughput's denominator).
    pub wall: u64,
    /// Under parallel load, lambda-sim's CPU time over the measured blocks, µs.
    pub cpu: Option<u64>,
    /// The measured invocations.
    pub samples: Vec<Sample>,
    /// Failures outside the measured invocations (cold starts, warm-up).
    pub failures: Vec<String>,
}

/// A phase's samples, named, ready to summarise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Phase {
    /// Its stable identifier, `--json`'s key (`round_trip`, `overhead.NAME`, ...).
    pub key: String,
    /// The name printed.
    pub name: String,
    /// The successful invocations' values (the cold starts' for init), sorted, µs.
    pub sorted: Vec<u64>,
}

impl Arm {
    /// The phases reported, in order: init, round trip, runtime, REPORT duration, each
    /// extension's overhead and the total, lambda-sim's share. Failed invocations are left out
    /// (and listed apart).
    pub(crate) fn phases(&self) -> Vec<Phase> {
        let ok: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.failure.is_none())
            .collect();
        let known = |id: PhaseId, values| phase(id.key, id.label, values);
        let mut phases = vec![
            known(PHASE_INIT, self.inits.clone()),
            known(PHASE_ROUND_TRIP, ok.iter().map(|s| s.round_trip).collect()),
            known(PHASE_RUNTIME, ok.iter().filter_map(|s| s.runtime).collect()),
            known(
                PHASE_DURATION,
                ok.iter().filter_map(|s| s.duration).collect(),
            ),
        ];
        let mut names: Vec<&str> = Vec::new();
        for s in &ok {
            for (name, _) in &s.overheads {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        for name in &names {
            let values = ok.iter().filter_map(|s| {
                s.overheads
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, us)| *us)
            });
            let (key, label) = (format!("overhead.{name}"), format!("overhead: {name}"));
            phases.push(phase(&key, &label, values.collect()));
        }
        // The largest of several; with one extension it would repeat that one's row.
        if names.len() >= 2 {
            let total = ok.iter().map(|s| s.overhead()).collect();
            phases.push(known(PHASE_OVERHEAD, total));
        }
        let outside = ok.iter().filter_map(|s| s.outside()).collect();
        phases.push(known(PHASE_OUTSIDE, outside));
        phases.push(known(PHASE_CPU, ok.iter().filter_map(|s| s.cpu).collect()));
        phases
    }

    /// Every failure, cold starts and warm-up included.
    pub(crate) fn all_failures(&self) -> Vec<String> {
        let measured = self.samples.iter().enumerate().filter_map(|(i, s)| {
            let f = s.failure.as_ref()?;
            Some(format!("invocation {} ({}): {f}", i + 1, s.request_id))
        });
        self.failures.iter().cloned().chain(measured).collect()
    }

    /// Invocations per second: under parallel load, all of them over the time they took;
    /// otherwise one after the other, each waited for until complete.
    pub(crate) fn throughput(&self) -> f64 {
        let busy: u64 = match self.parallel {
            true => self.wall,
            false => self.samples.iter().map(|s| s.cycle).sum(),
        };
        if busy == 0 {
            return 0.0;
        }
        self.samples.len() as f64 * 1e6 / busy as f64
    }
}

/// A phase of `values`, sorted. Out of line: it is built in eight places.
#[inline(never)]
fn phase(key: &str, name: &str, mut sorted: Vec<u64>) -> Phase {
    stats::sort(&mut sorted);
    Phase {
        key: key.to_string(),
        name: name.to_string(),
        sorted,
    }
}

/// A phase's stable identifier (the key in `--json`) and its label (in the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PhaseId {
    /// The identifier.
    pub key: &'static str,
    /// The label.
    pub label: &'static str,
}

/// The init of a cold start.
pub(crate) const PHASE_INIT: PhaseId = PhaseId {
    key: "init",
    label: "init (cold start)",
};
/// The invoker's round trip.
pub(crate) const PHASE_ROUND_TRIP: PhaseId = PhaseId {
    key: "round_trip",
    label: "invoke round trip",
};
/// The runtime's duration.
pub(crate) const PHASE_RUNTIME: PhaseId = PhaseId {
    key: "runtime",
    label: "runtime duration",
};
/// The REPORT's duration.
pub(crate) const PHASE_DURATION: PhaseId = PhaseId {
    key: "duration",
    label: "duration (REPORT)",
};
/// The largest overhead of several extensions (CloudWatch's `PostRuntimeExtensionsDuration`);
/// each extension's own is `overhead.NAME`.
pub(crate) const PHASE_OVERHEAD: PhaseId = PhaseId {
    key: "overhead.all",
    label: "overhead: all extensions",
};
/// The round trip less the runtime's duration.
pub(crate) const PHASE_OUTSIDE: PhaseId = PhaseId {
    key: "outside_runtime",
    label: "outside the runtime",
};
/// lambda-sim's own CPU time.
pub(crate) const PHASE_CPU: PhaseId = PhaseId {
    key: "lambda_sim_cpu",
    label: "lambda-sim CPU",
};

/// The version of `--json`'s layout: raised when a key changes meaning or goes.
pub(crate) const JSON_SCHEMA: u32 = 1;

/// The phases compared between the arms: those every environment has.
const COMPARED: [PhaseId; 6] = [
    PHASE_INIT,
    PHASE_ROUND_TRIP,
    PHASE_RUNTIME,
    PHASE_DURATION,
    PHASE_OUTSIDE,
    PHASE_CPU,
];

/// The seed of the bootstrap's resampling: the same samples give the same interval.
const BOOTSTRAP_SEED: u64 = 0x6c61_6d62_6461;

/// A phase's difference between the arms, `with − without`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Difference {
    /// The phase.
    pub phase: PhaseId,
    /// Of the medians, with a bootstrap interval.
    pub median: Interval,
    /// Of the means, with Welch's interval (`None` under two samples a side).
    pub mean: Option<Interval>,
}

/// Each compared phase's difference between `a` and `b`.
pub(crate) fn compare(a: &Arm, b: &Arm) -> Vec<Difference> {
    let (pa, pb) = (a.phases(), b.phases());
    let find = |phases: &[Phase], name: &str| {
        phases
            .iter()
            .find(|p| p.key == name)
            .map(|p| p.sorted.clone())
    };
    COMPARED
        .iter()
        .filter_map(|&phase| {
            let (x, y) = (find(&pa, phase.key)?, find(&pb, phase.key)?);
            Some(Difference {
                phase,
                median: median_difference(&x, &y, stats::RESAMPLES, BOOTSTRAP_SEED)?,
                mean: mean_difference(&x, &y),
            })
        })
        .collect()
}

/// Runs `lambda-sim bench`.
pub(super) fn run(config: Config, options: BenchOptions) -> ExitCode {
    let event = match options.payload.read() {
        Ok(payload) => InvokeRequest {
            payload,
            tenant_id: options.tenant_id.clone(),
            ..InvokeRequest::default()
        },
        Err(e) => {
            eprintln!("lambda-sim bench: {e}");
            return ExitCode::from(2);
        }
    };
    let mut configs = vec![config.clone()];
    if let Some(baseline) = &options.baseline {
        let mut plain = config;
        plain.extensions.clear();
        plain.extensions_dir = None;
        if let Baseline::Command(bootstrap) = baseline {
            plain.bootstrap = Some(bootstrap.clone());
        }
        configs.push(plain);
    }
    let labels: &[&str] = match configs.len() {
        1 => &["function"],
        _ => &["with extensions", "baseline"],
    };
    let mut arms: Vec<Arm> = configs
        .iter_mut()
        .zip(labels)
        .map(|(config, label)| arm(config, label, &options))
        .collect();
    let _ = writeln!(std::io::stderr(), "{}", headline(&arms, &options));
    // The invoker's clock: the embedding side may read it, only the core may not.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    if let Err(e) = measure(&mut arms, &configs, &options, &event) {
        eprintln!("lambda-sim bench: {e}");
        return ExitCode::from(2);
    }
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(report(&arms, &options).as_bytes());
    let _ = stdout.flush();
    let mut code = 0;
    if let Some(path) = &options.json {
        let json = to_json(&arms, &options, started.elapsed());
        if let Err(e) = std::fs::write(path, json) {
            eprintln!("lambda-sim bench: {}: {e}", path.display());
            code = 2;
        }
    }
    if let Some(path) = &options.svg {
        if let Err(e) = std::fs::write(path, svg::render(&arms, &options)) {
            eprintln!("lambda-sim bench: {}: {e}", path.display());
            code = 2;
        }
    }
    if code == 0 && arms.iter().any(|a| !a.all_failures().is_empty()) {
        code = 1;
    }
    ExitCode::from(code)
}

/// An arm to measure; its configuration made quiet.
fn arm(config: &mut Config, label: &str, options: &BenchOptions) -> Arm {
    // Quiet and discarded: what the function prints is not what is measured.
    config.log_output = LogOutput::Discard;
    config.quiet = true;
    let command = config
        .bootstrap
        .iter()
        .flat_map(|b| std::iter::once(b.program.display().to_string()).chain(b.args.clone()))
        .collect();
    // A bad extension list is refused when the environment starts, with the reason.
    let extensions = config
        .all_extensions()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.name)
        .collect();
    let invokers = options.invokers(config);
    Arm {
        label: label.to_string(),
        command,
        extensions,
        invokers,
        parallel: invokers > 1 || config.concurrency > 1 || config.max_concurrency.is_some(),
        ..Arm::default()
    }
}

/// The first line: what is measured, how often.
pub(crate) fn headline(arms: &[Arm], options: &BenchOptions) -> String {
    let Some(first) = arms.first() else {
        return String::new();
    };
    let extensions = match first.extensions.len() {
        0 => "no extensions".to_string(),
        _ => format!("extensions: {}", first.extensions.join(", ")),
    };
    let mut line = format!(
        "lambda-sim bench: {} ({extensions}); {} invocations after {} warm-up, {} cold starts",
        first.command.join(" "),
        options.invocations,
        options.warmup,
        options.cold_starts.max(1),
    );
    if first.parallel {
        let _ = write!(line, "; {} invokers at once", first.invokers);
    }
    if let Some(baseline) = arms.get(1) {
        let _ = write!(
            line,
            "; against {} without extensions, alternating",
            baseline.command.join(" ")
        );
    }
    line
}

/// Runs every arm: the main environments side by side (cold starts, warm-up, then the measured
/// invocations in blocks alternating between arms, A B then B A, so that neither always follows
/// the other), then the remaining cold starts, alternating too. One after the other, a block is
/// one invocation; under parallel load, enough that the invokers' start and finish are a small
/// part of it.
fn measure(
    arms: &mut [Arm],
    configs: &[Config],
    options: &BenchOptions,
    event: &InvokeRequest,
) -> std::io::Result<()> {
    let (invokers, parallel) = arms
        .first()
        .map_or((1, false), |a| (a.invokers, a.parallel));
    let mut progress = Progress::new(
        u64::from(options.invocations),
        u64::from(options.cold_starts.max(1)),
        arms.len() as u64,
    );
    let mut handles = Vec::with_capacity(arms.len());
    for (arm, config) in arms.iter_mut().zip(configs) {
        let handle = start(config)?;
        cold_starts(&handle, arm, event)?;
        let warmup = closed_loops(&handle, event, invokers, options.warmup)?;
        for (i, (sample, _)) in warmup.into_iter().enumerate() {
            if let Some(f) = sample.failure {
                arm.failures
                    .push(format!("warm-up {} ({}): {f}", i + 1, sample.request_id));
            }
        }
        handles.push(handle);
    }
    let n = options.invocations;
    let blocks = match parallel {
        true => (n / (50 * invokers).max(1)).clamp(1, 10),
        false => n,
    };
    // Each arm's CPU reading at its last block's start.
    let mut readings = vec![None; arms.len()];
    for b in 0..blocks {
        let size = n / blocks + u32::from(b < n % blocks);
        for k in 0..handles.len() {
            let k = if b % 2 == 0 { k } else { handles.len() - 1 - k };
            let arm = &mut arms[k];
            let cpu = cpu_micros(&handles[k]);
            charge_cpu(arm, parallel, readings[k], cpu);
            readings[k] = cpu;
            // The invoker's clock: the embedding side may read it, only the core may not.
            #[allow(clippy::disallowed_methods)]
            let start = Instant::now();
            let samples = closed_loops(&handles[k], event, invokers, size)?;
            if parallel {
                arm.wall += micros(start.elapsed());
            }
            for (sample, _) in samples {
                arm.samples.push(sample);
                progress.invoked();
            }
        }
    }
    for ((arm, handle), then) in arms.iter_mut().zip(handles).zip(readings) {
        charge_cpu(arm, parallel, then, cpu_micros(&handle));
        handle.shutdown()?;
    }
    for _ in 1..options.cold_starts.max(1) {
        for (arm, config) in arms.iter_mut().zip(configs) {
            let handle = start(config)?;
            cold_starts(&handle, arm, event)?;
            handle.shutdown()?;
            progress.cold_started();
        }
    }
    progress.finish();
    Ok(())
}

/// Starts an environment. The invoker blocks for each answer rather than polling for it: on two
/// cores, a polling invoker takes one from the runtime and the simulator, and `lambda-sim bench`
/// measured the demo's round trip at 229 µs (p50) with the default 100 µs of polling against
/// 146 µs without.
fn start(config: &Config) -> std::io::Result<Handle> {
    Builder::config(config.clone())
        .spin_wait(Duration::ZERO)
        .start()
}

fn cpu_micros(handle: &Handle) -> Option<u64> {
    handle.cpu_time().map(micros)
}

/// Charges the CPU time lambda-sim used since the reading `then`, at the start of the arm's
/// last block, to that block: everything the simulator did for it, including the freeze that
/// followed. One after the other, to the block's one sample; under parallel load, to the arm.
fn charge_cpu(arm: &mut Arm, parallel: bool, then: Option<u64>, now: Option<u64>) {
    let Some(then) = then else {
        return;
    };
    let used = now.map(|now| now.saturating_sub(then));
    if parallel {
        arm.cpu = used.map(|used| arm.cpu.unwrap_or(0) + used);
    } else if let Some(last) = arm.samples.last_mut() {
        last.cpu = used;
    }
}

/// The first invocations of a fresh environment, one per invoker, at once: each that started an
/// execution environment gives that one's init duration.
fn cold_starts(handle: &Handle, arm: &mut Arm, event: &InvokeRequest) -> std::io::Result<()> {
    for (sample, init) in closed_loops(handle, event, arm.invokers, arm.invokers)? {
        let n = arm.inits.len() + arm.failures.len() + 1;
        match (sample.failure, init) {
            (None, Some(init)) => {
                arm.inits.push(init);
                arm.init_environments.extend(sample.environment);
            }
            (Some(f), _) => arm
                .failures
                .push(format!("cold start {n} ({}): {f}", sample.request_id)),
            // Under parallel load, some wait for an environment another started; a Managed
            // Instances environment initialises at start-up, before any invocation.
            (None, None) if arm.parallel => {}
            (None, None) => arm.failures.push(format!(
                "cold start {n} ({}): no init duration",
                sample.request_id
            )),
        }
    }
    Ok(())
}

/// `count` invocations by `invokers` closed loops side by side, each submitting its next as
/// soon as its last is complete (one loop runs on this thread); the samples, with the init
/// each waited for, in the order they completed.
fn closed_loops(
    handle: &Handle,
    event: &InvokeRequest,
    invokers: u32,
    count: u32,
) -> std::io::Result<Vec<(Sample, Option<u64>)>> {
    let next = std::sync::atomic::AtomicU32::new(0);
    let done = std::sync::Mutex::new(Vec::with_capacity(count as usize));
    let invoker = || {
        while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
            let sample = invoke(handle, event)?;
            done.lock()
                .map_err(|_| std::io::Error::other("an invoker panicked"))?
                .push(sample);
        }
        Ok::<_, std::io::Error>(())
    };
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..invokers.min(count))
            .map(|_| scope.spawn(invoker))
            .collect();
        invoker()?;
        others.into_iter().try_for_each(|other| {
            other
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("an invoker panicked")))
        })
    })?;
    done.into_inner()
        .map_err(|_| std::io::Error::other("an invoker panicked"))
}

/// One invocation, waited for until complete; with the init duration it waited for, if any.
fn invoke(handle: &Handle, event: &InvokeRequest) -> std::io::Result<(Sample, Option<u64>)> {
    // The payload and the tenant: a template's whole clone would cost the binary more.
    let request = InvokeRequest {
        payload: event.payload.clone(),
        tenant_id: event.tenant_id.clone(),
        ..InvokeRequest::default()
    };
    // The invoker's clock: the embedding side may read it, only the core may not.
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    let ticket = handle
        .submit_reported(request)
        .map_err(std::io::Error::other)?;
    let response = ticket.wait().map_err(std::io::Error::other)?;
    let round_trip = start.elapsed();
    let report = ticket.report().map_err(std::io::Error::other)?;
    let cycle = start.elapsed();
    let timings = response.timings;
    let init = report
        .as_ref()
        .and_then(|r| r.init_duration)
        .map(|us| us.as_micros());
    let environment = report.as_ref().map(|r| r.environment);
    let sample = Sample {
        request_id: response.request_id.clone(),
        round_trip: micros(round_trip),
        cycle: micros(cycle),
        cpu: None,
        received: timings.received.as_micros(),
        runtime: timings.released.map(|_| timings.duration().as_micros()),
        duration: report.as_ref().map(|r| r.duration.as_micros()),
        overheads: report
            .map(|r| {
                r.extensions
                    .into_iter()
                    .map(|(name, us)| (name, us.as_micros()))
                    .collect()
            })
            .unwrap_or_default(),
        failure: failure(&response),
        environment,
    };
    Ok((sample, init))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Why an answer is a failure: the error type of a function or platform error, or the status
/// of a refused invocation.
fn failure(response: &InvokeResponse) -> Option<String> {
    if response.status != 200 {
        let body = String::from_utf8_lossy(&response.body);
        return Some(format!("HTTP {}: {}", response.status, body.trim()));
    }
    response.function_error()?;
    let error_type = serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| v.get("errorType")?.as_str().map(str::to_string));
    Some(error_type.unwrap_or_else(|| "function error".into()))
}

/// Progress on stderr: a bar redrawn in place on a terminal, a line every tenth otherwise.
struct Progress {
    invocations: u64,
    cold_starts: u64,
    arms: u64,
    done: u64,
    shown: u64,
    terminal: bool,
}

impl Progress {
    /// Progress through `invocations` measured invocations and `cold_starts` cold starts (the
    /// first among them), each run in every one of `arms` environments.
    fn new(invocations: u64, cold_starts: u64, arms: u64) -> Progress {
        Progress {
            invocations,
            cold_starts,
            arms: arms.max(1),
            done: 0,
            shown: 0,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn invoked(&mut self) {
        self.done += 1;
        self.show();
    }

    fn cold_started(&mut self) {
        self.done += 1;
        self.show();
    }

    /// Counted as the command line counts them: `-n 200` shows `/200`, whatever the number of
    /// environments; `--cold-starts 5` shows `/5`, the first already done.
    fn show(&mut self) {
        let steps = self.arms * (self.invocations + self.cold_starts - 1);
        let total = steps.max(1);
        let step = if self.terminal {
            total.div_ceil(200)
        } else {
            total.div_ceil(10)
        };
        let invoked = self.arms * self.invocations;
        let milestone = self.done == total || self.done == invoked;
        if self.done < self.shown + step && !milestone {
            return;
        }
        self.shown = self.done;
        let what = if self.done <= invoked {
            format!("invocations {}/{}", self.done / self.arms, self.invocations)
        } else {
            format!(
                "cold starts {}/{}",
                1 + (self.done - invoked) / self.arms,
                self.cold_starts
            )
        };
        let mut err = std::io::stderr().lock();
        if self.terminal {
            const WIDTH: u64 = 30;
            let filled = usize::try_from(self.done * WIDTH / total).unwrap_or(0);
            let bar = "#".repeat(filled) + &".".repeat(WIDTH as usize - filled.min(30));
            let _ = write!(err, "\r\x1b[2K[{bar}] {what}");
        } else {
            let _ = writeln!(err, "lambda-sim bench: {what}");
        }
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.terminal {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

/// Microseconds, in the unit that reads best: `212 µs`, `1.25 ms`, `31.2 ms`, `2.50 s`. Written
/// with integers only: formatting floats would cost the binary more than this whole function.
pub(crate) fn fmt_us(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let a = us.unsigned_abs();
    // Rounded to the digits shown, then split into whole and fraction.
    let (unit, scale, digits) = match a {
        0..1_000 => return format!("{sign}{a} µs"),
        1_000..9_995 => ("ms", 10, 2),
        9_995..99_950 => ("ms", 100, 1),
        99_950..999_500 => ("ms", 1_000, 0),
        _ => ("s", 10_000, 2),
    };
    let n = (a + scale / 2) / scale;
    match digits {
        0 => format!("{sign}{n} {unit}"),
        1 => format!("{sign}{}.{} {unit}", n / 10, n % 10),
        _ => format!("{sign}{}.{:02} {unit}", n / 100, n % 100),
    }
}

/// [`fmt_us`] of a float, rounded to the microsecond.
fn fmt_f(us: f64) -> String {
    fmt_us(us.round() as i64)
}

/// [`fmt_f`] with a sign: `+12 µs`, `-3 µs`.
fn fmt_signed(us: f64) -> String {
    let s = fmt_f(us);
    if s.starts_with('-') {
        s
    } else {
        format!("+{s}")
    }
}

/// Buckets in a text histogram.
const TEXT_BUCKETS: usize = 10;
/// The widest bar.
const BAR_WIDTH: u64 = 40;

/// The report on stdout: a table per arm, the differences, a histogram per phase if asked for
/// (`--histograms`), the failures.
pub(crate) fn report(arms: &[Arm], options: &BenchOptions) -> String {
    let mut out = headline(arms, options) + "\n\n";
    for arm in arms {
        let plural = if arm.extensions.len() == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "{}: {} ({} extension{plural})",
            arm.label,
            arm.command.join(" "),
            arm.extensions.len(),
        );
        row(
            &mut out,
            "phase",
            ["n", "p50", "p90", "p99", "max", "mean"].map(String::from),
        );
        for phase in &arm.phases() {
            if let Some(s) = Summary::of(&phase.sorted) {
                let us = |v: u64| fmt_us(v as i64);
                let cells = [
                    s.n.to_string(),
                    us(s.p50),
                    us(s.p90),
                    us(s.p99),
                    us(s.max),
                    fmt_f(s.mean),
                ];
                row(&mut out, &phase.name, cells);
            }
        }
        if !arm.parallel {
            let _ = writeln!(
                out,
                "  throughput: {} invocations/s (one at a time, each until complete)\n",
                arm.throughput().round() as u64
            );
            continue;
        }
        let _ = writeln!(
            out,
            "  throughput: {} invocations/s ({} invokers at once, each until complete)",
            arm.throughput().round() as u64,
            arm.invokers
        );
        if let (Some(cpu), n @ 1..) = (arm.cpu, arm.samples.len() as u64) {
            let _ = writeln!(
                out,
                "  lambda-sim CPU: {} per invocation",
                fmt_us((cpu / n) as i64)
            );
        }
        environments(&mut out, arm);
        out.push('\n');
    }
    if let [a, b] = arms {
        let _ = writeln!(
            out,
            "difference, {} - {} (95% confidence intervals: medians by bootstrap, means by Welch's t)",
            a.label, b.label
        );
        for d in compare(a, b) {
            pad(&mut out, &format!("  {}", d.phase.label), 26, false);
            out.push_str("median ");
            pad(&mut out, &fmt_signed(d.median.estimate), 9, true);
            out.push_str(&interval(&d.median));
            if let Some(m) = &d.mean {
                out.push_str("   mean ");
                pad(&mut out, &fmt_signed(m.estimate), 9, true);
                out.push_str(&interval(m));
            }
            out.push_str(match d.median.excludes_zero() {
                true => "   a real difference\n",
                false => "   within the noise\n",
            });
        }
        out.push('\n');
    }
    for arm in arms.iter().filter(|_| options.histograms) {
        for phase in arm.phases() {
            let Some(buckets) = Buckets::spanning(&[&phase.sorted], TEXT_BUCKETS) else {
                continue;
            };
            let _ = writeln!(
                out,
                "{} ({}), n={}",
                phase.name,
                arm.label,
                phase.sorted.len()
            );
            histogram(&mut out, &buckets, &buckets.count(&phase.sorted));
            out.push('\n');
        }
    }
    let failures: Vec<String> = arms
        .iter()
        .flat_map(|arm| arm.all_failures().into_iter().map(move |f| (arm, f)))
        .map(|(arm, f)| format!("  {}: {f}", arm.label))
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "FAILED: {} invocations", failures.len());
        for f in failures {
            out.push_str(&f);
            out.push('\n');
        }
    }
    out
}

/// Under parallel load, a row per environment: its successful invocations, the median of its
/// cold starts, its round trips' p50 and p99, and its extensions' overhead (the largest of
/// them, per invocation; `--json` has each one's).
fn environments(out: &mut String, arm: &Arm) {
    let cells = ["n", "init p50", "p50", "p99", "ext p50", "ext p99"];
    row(out, "per environment", cells.map(String::from));
    let last = arm.samples.iter().filter_map(|s| s.environment);
    let count = last.chain(arm.init_environments.iter().copied()).max();
    for env in 0..count.map_or(0, |e| e + 1) {
        let inits = arm.init_environments.iter().zip(&arm.inits);
        let mut inits: Vec<u64> = inits
            .filter(|(e, _)| **e == env)
            .map(|(_, us)| *us)
            .collect();
        let (mut round_trips, mut overheads) = (Vec::new(), Vec::new());
        for s in &arm.samples {
            if s.failure.is_none() && s.environment == Some(env) {
                round_trips.push(s.round_trip);
                overheads.push(s.overhead());
            }
        }
        let n = round_trips.len().to_string();
        let [init, round_trip, overhead] =
            [&mut inits, &mut round_trips, &mut overheads].map(|v| {
                stats::sort(v);
                Summary::of(v)
            });
        let us = |s: &Option<Summary>, p99: bool| {
            s.as_ref().map_or_else(String::new, |s| {
                fmt_us(if p99 { s.p99 } else { s.p50 } as i64)
            })
        };
        let cells = [
            n,
            us(&init, false),
            us(&round_trip, false),
            us(&round_trip, true),
            us(&overhead, false),
            us(&overhead, true),
        ];
        row(out, &format!("env {}", env + 1), cells);
    }
}

/// A table row: the name left-aligned, six cells right-aligned.
fn row(out: &mut String, name: &str, cells: [String; 6]) {
    out.push_str("  ");
    pad(out, name, 28, false);
    for (i, cell) in cells.iter().enumerate() {
        pad(out, cell, if i == 0 { 6 } else { 11 }, true);
    }
    out.push('\n');
}

/// `s` padded with spaces to `width` characters, on the left if `right`-aligned.
fn pad(out: &mut String, s: &str, width: usize, right: bool) {
    let fill = " ".repeat(width.saturating_sub(s.chars().count()));
    if right {
        out.push_str(&fill);
    }
    out.push_str(s);
    if !right {
        out.push_str(&fill);
    }
}

/// ` [lo, hi]`.
fn interval(i: &Interval) -> String {
    format!(" [{}, {}]", fmt_signed(i.lo), fmt_signed(i.hi))
}

/// A text histogram: one line per bucket, bars scaled to the fullest, then one for the samples
/// above the range.
pub(crate) fn histogram(out: &mut String, buckets: &Buckets, counts: &Counts) {
    let fullest = counts
        .counts
        .iter()
        .copied()
        .chain([counts.above])
        .max()
        .unwrap_or(0)
        .max(1);
    let lines = counts.counts.iter().enumerate().map(|(i, &count)| {
        let (from, to) = buckets.bounds(i);
        (fmt_us(from as i64), fmt_us(to as i64), count)
    });
    let above =
        (counts.above > 0).then(|| (fmt_us(buckets.end() as i64), String::new(), counts.above));
    for (from, to, count) in lines.chain(above) {
        out.push_str("  ");
        pad(out, &from, 9, true);
        if to.is_empty() {
            pad(out, " and up", 13, false);
        } else {
            out.push_str(" .. ");
            pad(out, &to, 9, true);
        }
        out.push_str(" |");
        // A bucket that holds anything shows at least a sliver.
        let width = usize::try_from(count * BAR_WIDTH / fullest).unwrap_or(0);
        let width = if count > 0 { width.max(1) } else { 0 };
        pad(out, &"█".repeat(width), BAR_WIDTH as usize, false);
        let _ = writeln!(out, " {count}");
    }
}

/// `--json`: the options, every sample, each phase's summary and, with a baseline, the
/// differences. Times are whole microseconds; written by hand, with no floats (see [`fmt_us`]).
pub(crate) fn to_json(arms: &[Arm], options: &BenchOptions, elapsed: Duration) -> String {
    let mut j =
        String::with_capacity(256 + arms.iter().map(|a| a.samples.len()).sum::<usize>() * 256);
    let _ = write!(
        j,
        "{{\n\"schema\":{JSON_SCHEMA},\"lambda_sim\":\"{}\",\"invocations\":{},\"warmup\":{},\"cold_starts\":{},\"elapsed_ms\":{},\n\"arms\":[",
        env!("CARGO_PKG_VERSION"),
        options.invocations,
        options.warmup,
        options.cold_starts,
        elapsed.as_millis()
    );
    for (i, arm) in arms.iter().enumerate() {
        j.push_str(if i == 0 { "\n{" } else { ",\n{" });
        j.push_str("\"label\":");
        json_str(&mut j, &arm.label);
        j.push_str(",\"command\":");
        json_strs(&mut j, &arm.command);
        j.push_str(",\"extensions\":");
        json_strs(&mut j, &arm.extensions);
        let inits: Vec<String> = arm.inits.iter().map(u64::to_string).collect();
        let environments: Vec<String> =
            arm.init_environments.iter().map(usize::to_string).collect();
        let _ = write!(
            j,
            ",\"init_us\":[{}],\"init_environments\":[{}],\"invokers\":{},\"wall_us\":{},\"cpu_us\":{},\"throughput_per_s\":{},\"failures\":",
            inits.join(","),
            environments.join(","),
            arm.invokers,
            arm.wall,
            json_opt(arm.cpu),
            arm.throughput().round() as u64
        );
        json_strs(&mut j, &arm.all_failures());
        j.push_str(",\n\"summary_us\":{");
        let mut first = true;
        for phase in arm.phases() {
            let Some(s) = Summary::of(&phase.sorted) else {
                continue;
            };
            j.push_str(if first { "\n" } else { ",\n" });
            first = false;
            json_str(&mut j, &phase.key);
            j.push_str(":{\"label\":");
            json_str(&mut j, &phase.name);
            let _ = write!(
                j,
                ",\"n\":{},\"min\":{},\"p50\":{},\"p90\":{},\"p99\":{},\"max\":{},\"mean\":{}}}",
                s.n,
                s.min,
                s.p50,
                s.p90,
                s.p99,
                s.max,
                s.mean.round() as u64
            );
        }
        j.push_str("},\n\"samples\":[");
        for (k, s) in arm.samples.iter().enumerate() {
            j.push_str(if k == 0 { "\n{" } else { ",\n{" });
            j.push_str("\"request_id\":");
            json_str(&mut j, &s.request_id);
            let _ = write!(
                j,
                ",\"received_us\":{},\"round_trip_us\":{},\"cycle_us\":{},\"runtime_us\":{},\"duration_us\":{},\"outside_us\":{},\"cpu_us\":{},\"environment\":{},\"overhead_us\":{{",
                s.received,
                s.round_trip,
                s.cycle,
                json_opt(s.runtime),
                json_opt(s.duration),
                json_opt(s.outside()),
                json_opt(s.cpu),
                json_opt(s.environment.map(|e| e as u64)),
            );
            for (e, (name, us)) in s.overheads.iter().enumerate() {
                if e > 0 {
                    j.push(',');
                }
                json_str(&mut j, name);
                let _ = write!(j, ":{us}");
            }
            j.push_str("},\"failure\":");
            match &s.failure {
                Some(f) => json_str(&mut j, f),
                None => j.push_str("null"),
            }
            j.push('}');
        }
        j.push_str("]}");
    }
    j.push_str("],\n\"differences\":[");
    if let [a, b] = arms {
        for (i, d) in compare(a, b).iter().enumerate() {
            j.push_str(if i == 0 { "\n{" } else { ",\n{" });
            let _ = write!(
                j,
                "\"phase\":\"{}\",\"label\":\"{}\",\"median_us\":{},\"mean_us\":{},\"significant\":{}}}",
                d.phase.key,
                d.phase.label,
                json_interval(Some(&d.median)),
                json_interval(d.mean.as_ref()),
                d.median.excludes_zero()
            );
        }
    }
    j.push_str("]\n}\n");
    j
}

fn json_str(out: &mut String, s: &str) {
    let mut bytes = Vec::with_capacity(s.len() + 2);
    // A str always serialises, and writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut bytes, s);
    out.push_str(&String::from_utf8_lossy(&bytes));
}

fn json_strs(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, item);
    }
    out.push(']');
}

fn json_opt(v: Option<u64>) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

fn json_interval(i: Option<&Interval>) -> String {
    match i {
        Some(i) => format!(
            "{{\"estimate\":{},\"lo\":{},\"hi\":{}}}",
            i.estimate.round() as i64,
            i.lo.round() as i64,
            i.hi.round() as i64
        ),
        None => "null".into(),
    }
}

#[cfg(test)]
mod tests;

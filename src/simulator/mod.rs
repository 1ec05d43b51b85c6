//! The embedding API: a simulator on its own thread, driven from Rust tests.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::LogOutput;
use crate::config::{Bootstrap, Config, ExtensionCommand};
use crate::lifecycle::InvokeRequest;
use crate::mailbox as mpsc;
use crate::reactor::Reactor;

pub(crate) mod control;
pub(crate) mod results;

use control::{Command, Control, EventTest, Reply};
pub use results::{Awaited, EnvState, InvocationReport, InvokeResponse, State, TelemetryCapture};

/// Entry point of the embedding API.
///
/// ```no_run
/// use lambda_sim::Simulator;
/// use std::time::Duration;
///
/// let sim = Simulator::builder()
///     .command(["./target/debug/my-bootstrap"])
///     .timeout(Duration::from_secs(3))
///     .start()?;
/// let response = sim.invoke(r#"{"hello":"world"}"#)?;
/// assert_eq!(response.status, 200);
/// println!("{} took {} µs", response.request_id, response.timings.duration().as_micros());
/// sim.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// A builder with Lambda's defaults, listening on free loopback ports, and no bootstrap
    /// (an external runtime connects to [`Handle::runtime_api_addr`]) until one is set.
    pub fn builder() -> Builder {
        Builder {
            config: Config::default(),
            spin: DEFAULT_SPIN,
        }
    }
}

/// How long [`Ticket::wait`] polls for the answer before it sleeps, by default.
///
/// A thread that sleeps must be woken, and waking it costs 10 to 40 µs on a virtual machine
/// (measured with `cargo bench --bench embed`); a warm invocation is often over sooner. Polling
/// for that long costs at most this much CPU time per invocation, and is skipped on a machine
/// with a single CPU, where it would only delay the threads that produce the answer.
pub const DEFAULT_SPIN: Duration = Duration::from_micros(100);

/// Configures a simulator; every CLI option has a method here.
#[derive(Clone, Debug)]
#[must_use]
pub struct Builder {
    config: Config,
    spin: Duration,
}

impl Builder {
    /// Starts from a whole configuration.
    pub fn config(config: Config) -> Builder {
        Builder {
            config,
            spin: DEFAULT_SPIN,
        }
    }

    /// How long a waiting [`Handle::invoke`] polls for its answer before sleeping (default
    /// [`DEFAULT_SPIN`]; zero always sleeps at once).
    pub fn spin_wait(mut self, spin: Duration) -> Builder {
        self.spin = spin;
        self
    }

    /// The runtime to spawn: a program and its arguments.
    pub fn command<I, S>(mut self, command: I) -> Builder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut words = command.into_iter().map(Into::into);
        self.config.bootstrap = words.next().map(|program| Bootstrap {
            program: PathBuf::from(program),
            args: words.collect(),
        });
        self
    }

    /// Adds an external extension: a process started at each init, before the runtime, that
    /// must register as `name`. `command` is the program and its arguments.
    pub fn extension<I, S>(mut self, name: &str, command: I) -> Builder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut words = command.into_iter().map(Into::into);
        if let Some(program) = words.next() {
            self.config.extensions.push(ExtensionCommand {
                name: name.to_string(),
                program: PathBuf::from(program),
                args: words.collect(),
            });
        }
        self
    }

    /// Adds an external extension by its executable, named after its file name (as Lambda
    /// names the files in `/opt/extensions`).
    pub fn extension_path(mut self, path: impl Into<PathBuf>) -> Builder {
        self.config
            .extensions
            .extend(ExtensionCommand::from_path(path));
        self
    }

    /// Every executable in `dir` is an external extension, as `/opt/extensions` on Lambda
    /// (none is read unless this is set).
    pub fn extensions_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.config.extensions_dir = Some(dir.into());
        self
    }

    /// No process: a runtime of your own connects to [`Handle::runtime_api_addr`]
    /// (see *external runtime* in the lifecycle core's decisions). This is the default.
    pub fn external_runtime(mut self) -> Builder {
        self.config.bootstrap = None;
        self
    }

    /// The function timeout (default 3 s).
    pub fn timeout(mut self, timeout: Duration) -> Builder {
        self.config.timeout = timeout;
        self
    }

    /// The limit on an on-demand first init (default 10 s, Lambda's). Provisioned
    /// concurrency ([`eager_init`](Builder::eager_init)) has 130 s or the function timeout,
    /// whichever is longer, as on Lambda.
    pub fn init_timeout(mut self, timeout: Duration) -> Builder {
        self.config.init_timeout = timeout;
        self
    }

    /// Memory size in MB (default 128).
    pub fn memory_mb(mut self, mb: u32) -> Builder {
        self.config.memory_mb = mb;
        self
    }

    /// The function's name (default `test_function`).
    pub fn function_name(mut self, name: &str) -> Builder {
        self.config.function_name = name.to_string();
        self
    }

    /// The version invocations run (default `$LATEST`).
    pub fn function_version(mut self, version: &str) -> Builder {
        self.config.function_version = version.to_string();
        self
    }

    /// `_HANDLER`.
    pub fn handler(mut self, handler: &str) -> Builder {
        self.config.handler = Some(handler.to_string());
        self
    }

    /// The region (default `us-east-1`).
    pub fn region(mut self, region: &str) -> Builder {
        self.config.region = region.to_string();
        self
    }

    /// The account id in ARNs.
    pub fn account_id(mut self, account: &str) -> Builder {
        self.config.account_id = account.to_string();
        self
    }

    /// Adds a variable to the runtime's environment.
    pub fn env(mut self, key: &str, value: &str) -> Builder {
        self.config.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Gives the runtime Lambda's environment only, not this process's.
    pub fn clean_env(mut self, clean: bool) -> Builder {
        self.config.clean_env = clean;
        self
    }

    /// Seeds request ids, for reproducible runs.
    pub fn seed(mut self, seed: u64) -> Builder {
        self.config.seed = Some(seed);
        self
    }

    /// How many invocations may wait beyond the one in flight (default 1000).
    pub fn max_queue(mut self, max: usize) -> Builder {
        self.config.max_queue = max;
        self
    }

    /// How many bytes of invocations may wait beyond the one in flight (default 64 MiB); past
    /// it, as past `max_queue`, 429.
    pub fn max_queue_bytes(mut self, max: usize) -> Builder {
        self.config.max_queue_bytes = max;
        self
    }

    /// How many `Event` invocations may be accepted and not yet ended (default 1000).
    pub fn max_event_queue(mut self, max: usize) -> Builder {
        self.config.max_event_queue = max;
        self
    }

    /// How many times a failed `Event` invocation is retried, 0 to 2 (Lambda's
    /// `MaximumRetryAttempts`, default 2).
    pub fn maximum_retry_attempts(mut self, attempts: u8) -> Builder {
        self.config.max_retry_attempts = attempts.min(2);
        self
    }

    /// The oldest an `Event` invocation may be for a retry to start (Lambda's
    /// `MaximumEventAgeInSeconds`, default 6 h).
    pub fn maximum_event_age(mut self, age: Duration) -> Builder {
        self.config.max_event_age = age;
        self
    }

    /// The wait before a failed `Event` invocation's first retry; the second waits twice as
    /// long. Lambda's is 60 s; shorten it for tests.
    pub fn retry_delay(mut self, delay: Duration) -> Builder {
        self.config.retry_delay = delay;
        self
    }

    /// Initialise at start-up rather than on the first invocation.
    pub fn eager_init(mut self, eager: bool) -> Builder {
        self.config.eager_init = eager;
        self
    }

    /// Up to `n` execution environments at once (Lambda's concurrency for the function;
    /// default 1): an invocation goes to an idle environment, the first in order, else starts
    /// a new one while fewer than `n` exist, else waits. Each has its own runtime, extensions,
    /// Runtime API, log stream, init, freeze and reset. With [`Builder::eager_init`], all `n`
    /// initialise at start-up.
    pub fn concurrency(mut self, n: usize) -> Builder {
        self.config.concurrency = n.max(1);
        self
    }

    /// Lambda Managed Instances: the environment runs up to `max` invocations at once, over
    /// the same Runtime API (its runtime gets `AWS_LAMBDA_MAX_CONCURRENCY`); it initialises at
    /// start-up, is never frozen, and its extensions may subscribe to SHUTDOWN only. See the
    /// lifecycle's decision *Managed Instances*.
    pub fn max_concurrency(mut self, max: u32) -> Builder {
        self.config.max_concurrency = Some(max.max(1));
        self
    }

    /// Tenant isolation (Lambda's `PER_TENANT` mode): every invocation must name a tenant
    /// ([`InvokeRequest::tenant_id`](crate::lifecycle::InvokeRequest::tenant_id)), and an
    /// environment serves only the tenant it initialised for; without it, an invocation may
    /// not name one. Starting refuses it with [`Builder::eager_init`] or
    /// [`Builder::max_concurrency`]; with an external runtime, only the rule on tenant ids
    /// applies.
    pub fn tenant_isolation(mut self, on: bool) -> Builder {
        self.config.tenant_isolation = on;
        self
    }

    /// SnapStart: the first environment initialises at start-up and is frozen as the snapshot;
    /// each environment an invocation needs is restored from it, the runtime's
    /// `/restore/next` answered and its after-restore hooks timed (`Restore Duration`). See
    /// the lifecycle's decision *SnapStart*. Starting refuses it with
    /// [`Builder::eager_init`], [`Builder::max_concurrency`], [`Builder::tenant_isolation`]
    /// or an external runtime.
    pub fn snap_start(mut self, on: bool) -> Builder {
        self.config.snap_start = on;
        self
    }

    /// Whether to freeze the runtime and extensions with SIGSTOP between invocations, and
    /// thaw them with SIGCONT for the next one or for shutdown, as Lambda does (default on;
    /// always off without a bootstrap). [`Handle::wait_for`]`(`[`Awaited::Frozen`]`, ..)`
    /// waits for a freeze.
    pub fn freeze(mut self, freeze: bool) -> Builder {
        self.config.freeze = freeze;
        self
    }

    /// When connections that wait on their peer are closed (default: a request must arrive
    /// within 30 s of its first byte, a keep-alive connection may idle for 5 minutes; parked
    /// long polls are never timed out).
    pub fn connection_timeouts(mut self, timeouts: crate::config::ConnectionTimeouts) -> Builder {
        self.config.timeouts = timeouts;
        self
    }

    /// The limit of a streamed response and its shaping past the burst (default: 200 MiB, a
    /// 6 MiB burst, then 2 MiB/s).
    pub fn stream_limits(mut self, limits: crate::config::StreamLimits) -> Builder {
        self.config.streaming = limits;
        self
    }

    /// `LAMBDA_TASK_ROOT` and the runtime's working directory.
    pub fn task_root(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.config.task_root = Some(dir.into());
        self
    }

    /// Keeps the last `max` Telemetry API events of every type in memory, as a subscriber to
    /// all types would receive them: read them with [`Handle::telemetry`], wait for one with
    /// [`Handle::wait_for_event`]. Off by default (rendering every event has a cost).
    pub fn capture_telemetry(mut self, max: usize) -> Builder {
        self.config.capture_telemetry = Some(max);
        self
    }

    /// Leave out the lifecycle lines.
    pub fn quiet(mut self, quiet: bool) -> Builder {
        self.config.quiet = quiet;
        self
    }

    /// Watch the runtime's exit by polling, as the simulator does where pidfds are missing
    /// (for tests of that path).
    #[doc(hidden)]
    pub fn poll_exits(mut self, on: bool) -> Builder {
        self.config.poll_exits = on;
        self
    }

    /// Where log lines go (default: discarded; [`LogOutput::Capture`] keeps them for
    /// [`Handle::lines`]).
    pub fn log_output(mut self, output: LogOutput) -> Builder {
        self.config.log_output = output;
        self
    }

    /// The invoke endpoint's address (default `127.0.0.1:0`).
    pub fn invoke_addr(mut self, addr: SocketAddr) -> Builder {
        self.config.invoke_addr = addr;
        self
    }

    /// The Runtime API's address (default `127.0.0.1:0`).
    pub fn runtime_api_addr(mut self, addr: SocketAddr) -> Builder {
        self.config.runtime_api_addr = addr;
        self
    }

    /// The configuration so far.
    pub fn as_config(&self) -> &Config {
        &self.config
    }

    /// Binds the listeners here (so errors come back now) and runs the simulator on its own
    /// thread.
    pub fn start(self) -> io::Result<Handle> {
        let (mut reactor, control, lines) = Reactor::bind(&self.config)?;
        let invoke_addr = reactor.invoke_addr();
        let runtime_api_addr = reactor.runtime_api_addr();
        let thread = std::thread::Builder::new()
            .name("lambda-sim".into())
            .spawn(move || reactor.run())?;
        let several_cpus = crate::sys::usable_cpus() > 1;
        Ok(Handle {
            control,
            invoke_addr,
            runtime_api_addr,
            thread: Some(thread),
            lines: lines.map(Mutex::new),
            spin: if several_cpus {
                self.spin
            } else {
                Duration::ZERO
            },
        })
    }
}

/// A running simulator: `Send` and `Sync`, so several threads may invoke through one handle.
/// Dropping it shuts the simulator down and waits for it.
#[derive(Debug)]
pub struct Handle {
    control: Control,
    invoke_addr: SocketAddr,
    runtime_api_addr: SocketAddr,
    thread: Option<JoinHandle<io::Result<()>>>,
    lines: Option<Mutex<mpsc::Receiver<String>>>,
    spin: Duration,
}

/// The simulator is no longer running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the simulator is not running")
    }
}

impl std::error::Error for Stopped {}

impl Handle {
    /// Invokes the function with `payload` and waits for its answer.
    pub fn invoke(&self, payload: impl Into<Vec<u8>>) -> Result<InvokeResponse, Stopped> {
        self.submit(payload)?.wait()
    }

    /// Invokes with every detail of the request (client context, trace id, tenant, ...).
    pub fn invoke_with(&self, request: InvokeRequest) -> Result<InvokeResponse, Stopped> {
        self.submit_with(request)?.wait()
    }

    /// Invokes the function with `payload` and waits until the invocation is complete: the
    /// runtime and every INVOKE-subscribed extension back on next. Returns the answer and the
    /// report, with each extension's overhead to the microsecond. The report is `None` for an
    /// invocation that never reached the runtime (its init failed, or it was refused).
    pub fn invoke_reported(
        &self,
        payload: impl Into<Vec<u8>>,
    ) -> Result<(InvokeResponse, Option<InvocationReport>), Stopped> {
        let ticket = self.submit_reported(InvokeRequest {
            payload: payload.into(),
            ..InvokeRequest::default()
        })?;
        let report = ticket.report()?;
        Ok((ticket.wait()?, report))
    }

    /// Queues an invocation whose ticket also delivers its report ([`Ticket::report`]).
    pub fn submit_reported(&self, request: InvokeRequest) -> Result<Ticket, Stopped> {
        self.send_invoke(request, true)
    }

    /// Queues an invocation; the ticket delivers its answer.
    pub fn submit(&self, payload: impl Into<Vec<u8>>) -> Result<Ticket, Stopped> {
        self.submit_with(InvokeRequest {
            payload: payload.into(),
            ..InvokeRequest::default()
        })
    }

    /// Queues an invocation with every detail of the request.
    pub fn submit_with(&self, request: InvokeRequest) -> Result<Ticket, Stopped> {
        self.send_invoke(request, false)
    }

    /// Invokes and returns the response as it streams: an iterator over the pieces of a
    /// streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`) as the runtime
    /// sends them, then [`Streamed::finish`] for the end (status, error, the bytes not yet
    /// given out). A buffered response comes whole at the finish.
    pub fn invoke_streaming(&self, request: InvokeRequest) -> Result<Streamed, Stopped> {
        let (reply, rx) = mpsc::channel();
        let command = Command::Invoke {
            request,
            reply,
            report: None,
            stream: true,
        };
        if self.control.send(command) {
            Ok(Streamed { rx, end: None })
        } else {
            Err(Stopped)
        }
    }

    fn send_invoke(&self, request: InvokeRequest, reported: bool) -> Result<Ticket, Stopped> {
        let (reply, rx) = mpsc::channel();
        let (report, report_rx) = match reported {
            true => {
                let (tx, rx) = mpsc::channel();
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        let command = Command::Invoke {
            request,
            reply,
            report,
            stream: false,
        };
        if self.control.send(command) {
            Ok(Ticket {
                rx,
                report: report_rx,
                spin: self.spin,
            })
        } else {
            Err(Stopped)
        }
    }

    /// Invokes asynchronously, as `X-Amz-Invocation-Type: Event` does: the answer comes at once,
    /// status 202 with the request id (or the refusal, 429 past `max_queue`); the invocation is
    /// queued and runs, and its outcome is kept ([`Handle::event_outcome`]).
    pub fn invoke_event(&self, request: InvokeRequest) -> Result<InvokeResponse, Stopped> {
        let (reply, rx) = mpsc::channel();
        if !self.control.send(Command::InvokeEvent { request, reply }) {
            return Err(Stopped);
        }
        match rx.recv() {
            Ok(Reply::Response(response)) => Ok(response),
            _ => Err(Stopped),
        }
    }

    /// Waits, at most `timeout`, for the outcome of `Event` invocation `request_id` (from
    /// [`Handle::invoke_event`] or the invoke endpoint): the answer a synchronous invoker would
    /// have had, from its last attempt once no retry is due (a failed attempt is retried, see
    /// [`Builder::maximum_retry_attempts`]). Race-free: an outcome that came before the call is
    /// found too (the last 1000 are kept).
    pub fn event_outcome(
        &self,
        request_id: &str,
        timeout: Duration,
    ) -> Result<Option<InvokeResponse>, Stopped> {
        let (reply, rx) = mpsc::channel();
        if !self
            .control
            .send(Command::EventOutcome(request_id.to_string(), reply))
        {
            return Err(Stopped);
        }
        match rx.recv_timeout(timeout) {
            Ok(Reply::Response(response)) => Ok(Some(response)),
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => Err(Stopped),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
        }
    }

    /// The outcomes of the last 1000 attempts of `Event` invocations, oldest first: a retried
    /// invocation has one for each attempt, with the same request id.
    pub fn event_outcomes(&self) -> Result<Vec<InvokeResponse>, Stopped> {
        let (reply, rx) = mpsc::channel();
        if !self.control.send(Command::EventOutcomes(reply)) {
            return Err(Stopped);
        }
        match rx.recv() {
            Ok(Reply::Outcomes(outcomes)) => Ok(outcomes),
            _ => Err(Stopped),
        }
    }

    /// A snapshot of the simulator: queued invocations, and each environment's runtime state,
    /// invocations in flight, parked `/next` calls, extensions. Handy to wait for a runtime to
    /// be ready before measuring.
    pub fn state(&self) -> Result<State, Stopped> {
        let (reply, rx) = mpsc::channel();
        if !self.control.send(Command::State(reply)) {
            return Err(Stopped);
        }
        rx.recv().map_err(|_| Stopped).and_then(Reply::into_state)
    }

    /// Waits, at most `timeout`, until the environments reach `state` (each that has started,
    /// and at least one), and returns the snapshot taken at that moment; `Ok(None)` if they
    /// did not in time. Race-free: the simulator checks after every step, so a state that
    /// lasts only between two inputs is still seen.
    pub fn wait_for(&self, state: Awaited, timeout: Duration) -> Result<Option<State>, Stopped> {
        let (reply, rx) = mpsc::channel();
        if !self.control.send(Command::WaitFor(state, reply)) {
            return Err(Stopped);
        }
        match rx.recv_timeout(timeout) {
            Ok(reply) => reply.into_state().map(Some),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Stopped),
        }
    }

    /// The Telemetry API events captured so far (with [`Builder::capture_telemetry`]; empty
    /// without), oldest first, and how many older ones were let go.
    pub fn telemetry(&self) -> Result<TelemetryCapture, Stopped> {
        let (reply, rx) = mpsc::channel();
        if !self.control.send(Command::Telemetry(reply)) {
            return Err(Stopped);
        }
        match rx.recv() {
            Ok(Reply::Telemetry(capture)) => Ok(capture),
            _ => Err(Stopped),
        }
    }

    /// Waits, at most `timeout`, for a captured Telemetry API event that passes `test` (with
    /// [`Builder::capture_telemetry`]), and returns it; `Ok(None)` if none came in time.
    /// Race-free: events captured before the call count too, so one emitted just before is not
    /// missed.
    ///
    /// ```no_run
    /// # let sim = lambda_sim::Simulator::builder().capture_telemetry(1000).start()?;
    /// # let id = String::new();
    /// use std::time::Duration;
    /// let report = sim.wait_for_event(
    ///     move |e| e["type"] == "platform.report" && e["record"]["requestId"] == id.as_str(),
    ///     Duration::from_secs(5),
    /// )?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for_event(
        &self,
        test: impl FnMut(&serde_json::Value) -> bool + Send + 'static,
        timeout: Duration,
    ) -> Result<Option<serde_json::Value>, Stopped> {
        let (reply, rx) = mpsc::channel();
        if !self
            .control
            .send(Command::WaitEvent(EventTest(Box::new(test)), reply))
        {
            return Err(Stopped);
        }
        match rx.recv_timeout(timeout) {
            Ok(Reply::Event(event)) => Ok(Some(event)),
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => Err(Stopped),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
        }
    }

    /// The extensions registered in the first environment, in registration order.
    pub fn extensions(&self) -> Result<Vec<crate::lifecycle::ExtensionInfo>, Stopped> {
        Ok(self.state()?.first().extensions.clone())
    }

    /// Where the Runtime API listens (`AWS_LAMBDA_RUNTIME_API`).
    pub fn runtime_api_addr(&self) -> SocketAddr {
        self.runtime_api_addr
    }

    /// Where the invoke endpoint listens.
    pub fn invoke_addr(&self) -> SocketAddr {
        self.invoke_addr
    }

    /// Log lines captured since the last call (with [`LogOutput::Capture`]).
    pub fn lines(&self) -> Vec<String> {
        match self.lines.as_ref().map(Mutex::lock) {
            Some(Ok(rx)) => rx.try_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The next captured line, waiting at most `timeout` for it (with [`LogOutput::Capture`]).
    pub fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.as_ref()?.lock().ok()?.recv_timeout(timeout).ok()
    }

    /// The CPU time the simulator's thread has used so far, user and system, to the
    /// nanosecond: all of lambda-sim's own work, as the reactor is its only thread. `None` once
    /// the thread has ended.
    pub fn cpu_time(&self) -> Option<Duration> {
        use std::os::unix::thread::JoinHandleExt;
        let thread = self.thread.as_ref().filter(|t| !t.is_finished())?;
        crate::sys::thread_cpu_time(thread.as_pthread_t()).ok()
    }

    /// Shuts down as Lambda does (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>, "Shutdown phase"): queued and unanswered invocations get
    /// `Sandbox.Shutdown`; without extensions the runtime is killed; with extensions it gets
    /// SIGTERM, then the extensions get SHUTDOWN and up to 2 s to exit. Returns once the
    /// simulator's thread has ended.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop()
    }

    /// Begins the shutdown of [`Handle::shutdown`] without waiting for it: the handle stays
    /// usable to read lines and state, and [`Handle::wait_for`] with [`Awaited::ShutDown`]
    /// says when it is over.
    pub fn begin_shutdown(&self) -> Result<(), Stopped> {
        if self.control.send(Command::Shutdown) {
            Ok(())
        } else {
            Err(Stopped)
        }
    }

    fn stop(&mut self) -> io::Result<()> {
        let _ = self.control.send(Command::Shutdown);
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the simulator's thread panicked")),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A streamed invocation ([`Handle::invoke_streaming`]): iterate for the pieces as they come,
/// then [`Streamed::finish`].
#[derive(Debug)]
pub struct Streamed {
    rx: mpsc::Receiver<Reply>,
    end: Option<Result<InvokeResponse, Stopped>>,
}

impl Iterator for Streamed {
    type Item = Vec<u8>;

    /// The next piece, waiting for it; `None` once the response is complete.
    fn next(&mut self) -> Option<Vec<u8>> {
        if self.end.is_some() {
            return None;
        }
        match self.rx.recv() {
            Ok(Reply::Chunk(piece)) => Some(piece),
            Ok(other) => {
                self.end = Some(other.into_response());
                None
            }
            Err(_) => {
                self.end = Some(Err(Stopped));
                None
            }
        }
    }
}

impl Streamed {
    /// The end of the response, after the pieces (any not taken are skipped): its status and
    /// headers, and as body what was not given out as a piece (all of a buffered response; for
    /// a stream that failed mid-way, the error).
    pub fn finish(mut self) -> Result<InvokeResponse, Stopped> {
        while self.next().is_some() {}
        self.end.take().unwrap_or(Err(Stopped))
    }
}

/// An invocation's answer, to come.
#[derive(Debug)]
pub struct Ticket {
    rx: mpsc::Receiver<Reply>,
    report: Option<mpsc::Receiver<Reply>>,
    spin: Duration,
}

impl Reply {
    // Each channel carries one kind of reply; another kind would be the reactor's bug, and is
    // reported as the reactor being unusable.
    fn into_response(self) -> Result<InvokeResponse, Stopped> {
        match self {
            Reply::Response(r) => Ok(r),
            _ => Err(Stopped),
        }
    }

    fn into_state(self) -> Result<State, Stopped> {
        match self {
            Reply::State(s) => Ok(s),
            _ => Err(Stopped),
        }
    }

    fn into_report(self) -> Result<Option<InvocationReport>, Stopped> {
        match self {
            Reply::Report(r) => Ok(r),
            _ => Err(Stopped),
        }
    }
}

impl Ticket {
    /// Waits for the answer: polls for it for a moment (see [`DEFAULT_SPIN`]), then sleeps.
    /// The answer comes once: a second call returns `Err(Stopped)`. The ticket stays for
    /// [`Ticket::report`].
    pub fn wait(&self) -> Result<InvokeResponse, Stopped> {
        if !self.spin.is_zero() {
            // The embedding side may read the clock: only the core may not.
            #[allow(clippy::disallowed_methods)]
            let start = Instant::now();
            loop {
                match self.rx.try_recv() {
                    Ok(r) => return r.into_response(),
                    Err(mpsc::TryRecvError::Disconnected) => return Err(Stopped),
                    Err(mpsc::TryRecvError::Empty) => {}
                }
                if start.elapsed() >= self.spin {
                    break;
                }
                std::hint::spin_loop();
            }
        }
        self.rx.recv().map_err(|_| Stopped)?.into_response()
    }

    /// Waits until the invocation is complete (runtime and extensions back on next) and returns
    /// its report; `Ok(None)` if it never reached the runtime. Only for tickets from
    /// [`Handle::submit_reported`]; others get `Err(Stopped)`.
    #[inline(never)]
    pub fn report(&self) -> Result<Option<InvocationReport>, Stopped> {
        let rx = self.report.as_ref().ok_or(Stopped)?;
        rx.recv().map_err(|_| Stopped)?.into_report()
    }

    /// Waits at most `timeout`; `Ok(None)` if the answer has not come yet.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<InvokeResponse>, Stopped> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => r.into_response().map(Some),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Stopped),
        }
    }

    /// The answer if it has come.
    pub fn try_result(&self) -> Result<Option<InvokeResponse>, Stopped> {
        match self.rx.try_recv() {
            Ok(r) => r.into_response().map(Some),
            Err(mpsc::TryRecvError::Empty) => Ok(None),
            Err(mpsc::TryRecvError::Disconnected) => Err(Stopped),
        }
    }
}

/// A simulator bound on the current thread, for the CLI: it runs where it is called and stops
/// on the signals read from a signalfd.
#[derive(Debug)]
pub(crate) struct Server {
    reactor: Reactor,
    _control: Control,
}

impl Server {
    /// Binds the listeners.
    pub(crate) fn bind(config: &Config) -> io::Result<Server> {
        let (reactor, control, _) = Reactor::bind(config)?;
        Ok(Server {
            reactor,
            _control: control,
        })
    }

    /// The invoke endpoint's address.
    pub(crate) fn invoke_addr(&self) -> SocketAddr {
        self.reactor.invoke_addr()
    }

    /// The Runtime API's address.
    pub(crate) fn runtime_api_addr(&self) -> SocketAddr {
        self.reactor.runtime_api_addr()
    }

    /// Runs until a signal arrives on `signals` (see [`crate::sys::signalfd`]) and
    /// shutdown completes.
    pub(crate) fn run(mut self, signals: OwnedFd) -> io::Result<()> {
        self.reactor.watch_signals(signals)?;
        self.reactor.run()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::Handle>();
    }
}

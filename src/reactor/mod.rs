//! The only place that does IO: one `mio::Poll`, the listeners, the connections (parked long
//! polls are connections in a waiting state), the children's pipes and pidfds, the embedding
//! handle's channel and the log sink. It turns readiness into core events and core actions into
//! IO; it decides no Lambda semantics.
//!
//! Each turn: poll, read the clock once, handle each event (mutate the core, then drain its
//! actions), fire the core's timers, then the work that can wait: lifecycle lines are rendered
//! and stdout written in batches (every 10 ms), after the answers. Every deadline arms one
//! timerfd, so `epoll_wait` itself never carries a timeout.

mod conn;
mod outbound;
mod sink;
mod slab;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::api::exchange::{Answer, Begin, Cut, Exchange, Invoked, Outcome, Piece, Wait, Waiter};
use crate::api::{self, Listener};
use crate::config::Config;
use crate::config::ExtensionCommand;
use crate::http::{CONTINUE, Event, Framing, ParseError};
use crate::lifecycle::{
    self, Action, ChildId, ExtensionEvent, InitType, InvokeReply, Lifecycle, PlatformEvent, Role,
    RuntimeMode, WaiterId,
};
use crate::mailbox as mpsc;
use crate::process::{self, FunctionEnv, Launch};
use crate::simulator::control::{Command, Control, EventTest, Reply};
use crate::simulator::results::{
    Awaited, EnvState, InvocationReport, InvokeResponse, TelemetryCapture,
};
use crate::time::Micros;
use conn::{Conn, Exposed, State};
use outbound::{Outbound, Step};
pub(crate) use sink::Sink;
use slab::{Key, Slab};

/// A request's view of the simulator ([`Exchange`]), borrowed field by field so that a
/// connection can stay borrowed beside it.
macro_rules! exchange {
    ($reactor:ident, $now:expr) => {
        Exchange {
            now: $now,
            core: &mut $reactor.core,
            hub: &mut $reactor.hub,
            ctx: &$reactor.ctx,
            events: &mut $reactor.events_invoked,
        }
    };
}

const INVOKE_LISTENER: Token = Token(0);
const RUNTIME_LISTENER: Token = Token(1);
const WAKER: Token = Token(2);
const STOP: Token = Token(3);
const SINK: Token = Token(4);
const TIMER: Token = Token(5);
/// Slab entries use tokens from here on: `Token(FIRST_SOURCE + index)`.
const FIRST_SOURCE: usize = 16;

/// How many `Event` outcomes are kept for the embedding API.
const MAX_OUTCOMES: usize = 1000;
/// The most of an invocation's log that `X-Amz-Log-Result` carries (the Invoke API's 4 KB).
const LOG_TAIL_BYTES: usize = 4096;

/// How long a closing connection waits for the peer's EOF after our last response.
const LINGER: Micros = Micros::from_secs(2);

/// How long, after shutdown finished, pending responses may take to flush.
const FINAL_FLUSH: Micros = Micros::from_secs(1);

/// The longest line of function output kept whole; longer lines are split.
const MAX_LINE_BYTES: usize = 256 * 1024;

/// How many dead children are remembered (for their peak memory in a late REPORT).
const DEAD_CHILDREN_KEPT: usize = 4;

/// Lifecycle events kept room for between batches: a batch of 10 ms at ten thousand
/// invocations per second holds about 300.
const KEEP_EVENTS_CAPACITY: usize = 1024;

/// How often children without a pidfd are checked for an exit.
const EXIT_POLL: Micros = Micros(10_000);

/// The reactor's read buffer.
const READ_CHUNK: usize = 64 * 1024;

/// Everything polled besides the listeners.
// Connections are nearly every entry (thousands of parked long polls); boxing them to match
// the two or three pipe entries would add an allocation per connection and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Source {
    Conn(Conn),
    /// A child's stdout or stderr, and the part of a line read so far.
    Output {
        child: ChildId,
        file: File,
        partial: Vec<u8>,
    },
    /// A child's pidfd: readable when it exits.
    Exit {
        child: ChildId,
        pidfd: OwnedFd,
    },
    /// A connection to a telemetry subscriber's listener.
    Telemetry(Outbound),
}

#[derive(Debug)]
struct ChildProc {
    id: ChildId,
    /// An extension (its lines are `extension` records), not the runtime.
    extension: bool,
    /// `the runtime` or `extension NAME`, for messages.
    what: String,
    pid: i32,
    alive: bool,
    /// No pidfd: its exit is found by polling (`poll_child_exits`).
    polled: bool,
    /// Its status file, kept open to read its peak RSS for each REPORT.
    rss: Option<process::PeakRss>,
    max_rss_kib: u64,
}

/// How to start the children.
#[derive(Clone, Debug)]
struct Launches {
    /// The bootstrap, unless the runtime is external.
    runtime: Option<(std::path::PathBuf, Vec<String>)>,
    /// The external extensions, by the index [`Role::Extension`] carries.
    extensions: Vec<ExtensionCommand>,
    cwd: std::path::PathBuf,
    env: FunctionEnv,
}

/// Where an embedded caller's answer goes.
#[derive(Debug)]
struct TicketTx {
    tx: mpsc::Sender<Reply>,
    /// The caller takes a streamed response's chunks as they come ([`Reply::Chunk`]).
    stream: bool,
}

/// Events found while carrying out actions, fed to the core once the drain is done.
#[derive(Debug)]
enum Deferred {
    SpawnFailed(ChildId, String),
}

/// The simulator's event loop. Build with `Reactor::bind`, run with `Reactor::run`.
#[derive(Debug)]
pub(crate) struct Reactor {
    poll: Poll,
    start: Instant,
    core: Lifecycle,
    ctx: api::Context,
    invoke_listener: TcpListener,
    runtime_listener: TcpListener,
    invoke_addr: SocketAddr,
    runtime_addr: SocketAddr,
    sources: Slab<Source>,
    tickets: Slab<TicketTx>,
    commands: mpsc::Receiver<Command>,
    children: Vec<ChildProc>,
    launch: Launches,
    /// Telemetry subscribers' buffers, and the replay of the init in progress.
    hub: crate::telemetry::Hub,
    /// Each subscriber's connection, if one is open (by subscriber id).
    subscriber_conns: Vec<Option<Key>>,
    /// Embedded callers waiting for a lifecycle state.
    state_waiters: Vec<(Awaited, mpsc::Sender<Reply>)>,
    /// Embedded callers waiting for a captured event, and the sequence number each has
    /// checked up to.
    event_waiters: Vec<(EventTest, mpsc::Sender<Reply>, u64)>,
    /// Embedded callers waiting for an invocation's report.
    report_waiters: Vec<(crate::id::RequestId, mpsc::Sender<Reply>)>,
    /// Streamed responses: limit and shaping.
    stream_limits: crate::config::StreamLimits,
    /// How long a request may take to arrive, and a connection may idle.
    timeouts: crate::config::ConnectionTimeouts,
    /// When the connections are next checked against their timeouts.
    sweep_at: Option<Micros>,
    /// Runtime connections whose stream is paused by the shaping, and until when.
    throttled: Vec<(Micros, Key)>,
    /// The log of the running invocation, if its invoker asked for the tail
    /// (`X-Amz-Log-Type: Tail`): START, the lines, END, REPORT.
    tail: Option<(crate::id::RequestId, Vec<u8>)>,
    /// `Event` invocations handed out, for their invokers' ids.
    events_invoked: u64,
    /// The last outcomes of `Event` invocations, oldest first.
    outcomes: VecDeque<InvokeResponse>,
    /// Embedded callers waiting for an `Event` invocation's outcome, by request id.
    outcome_waiters: Vec<(String, mpsc::Sender<Reply>)>,
    sink: Sink,
    quiet: bool,
    poll_exits: bool,
    /// When children without a pidfd are next checked for an exit.
    exit_poll_at: Option<Micros>,
    stop: Option<OwnedFd>,
    /// A timerfd for every deadline, so that `epoll_wait` waits without a timeout of its own.
    timer: OwnedFd,
    /// When the timerfd fires, if armed; never later than the earliest deadline.
    armed: Option<Micros>,
    signals: u32,
    read_buf: Vec<u8>,
    lines: String,
    /// Lifecycle events waiting to be rendered as log lines, in batches (`log_events_due`).
    events: Vec<(Micros, PlatformEvent)>,
    /// When the waiting events are rendered.
    events_due: Option<Micros>,
    deferred: VecDeque<Deferred>,
    /// Connections that were left with part of an invocation's reply to write (the invoker's
    /// answer, the runtime's 202): no freeze until they are written (`offer_freeze`).
    unwritten: Vec<Key>,
    /// The core has thawed the environment; SIGCONT goes once the actions that came with the
    /// thaw are carried out (`drain`'s end), so that the bytes they write wait in the stopped
    /// processes' sockets. A runtime woken by SIGCONT before its `/next` answer would sleep
    /// again, then wake for the answer: two wake-ups instead of one.
    thaw_due: bool,
    to_process: Vec<Key>,
    lingering: Vec<(Micros, Key)>,
    finished_at: Option<Micros>,
}

impl Reactor {
    /// Binds both listeners and prepares the core. Nothing runs until [`Reactor::run`].
    pub(crate) fn bind(
        config: &Config,
    ) -> io::Result<(Reactor, Control, Option<mpsc::Receiver<String>>)> {
        // The one place the simulator captures both clocks: the monotonic start and the
        // wall-clock epoch it corresponds to (DESIGN.md: one clock, no drift between them).
        #[allow(clippy::disallowed_methods)]
        let (start, epoch) = (Instant::now(), std::time::SystemTime::now());
        let epoch_us = epoch
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(0));

        let bind = |addr: SocketAddr, what: &str| {
            std::net::TcpListener::bind(addr)
                .and_then(|l| {
                    l.set_nonblocking(true)?;
                    Ok(l)
                })
                .map(TcpListener::from_std)
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot listen on {addr} for the {what}: {e}"),
                    )
                })
        };
        let mut invoke_listener = bind(config.invoke_addr, "invoke endpoint")?;
        let mut runtime_listener = bind(config.runtime_api_addr, "Runtime API")?;
        let invoke_addr = invoke_listener.local_addr()?;
        let runtime_addr = runtime_listener.local_addr()?;
        for (addr, what) in [
            (invoke_addr, "invoke endpoint"),
            (runtime_addr, "Runtime API"),
        ] {
            if let Some(warning) = exposure_warning(addr, what) {
                log::warn!("{warning}");
            }
        }

        let poll = Poll::new()?;
        let registry = poll.registry();
        registry.register(&mut invoke_listener, INVOKE_LISTENER, Interest::READABLE)?;
        registry.register(&mut runtime_listener, RUNTIME_LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(registry, WAKER)?);
        let (tx, rx) = mpsc::channel();

        let timer = crate::sys::timerfd()?;
        registry.register(&mut SourceFd(&timer.as_raw_fd()), TIMER, Interest::READABLE)?;

        let (mut sink, lines_rx) = Sink::new(config.log_output);
        if let Some(fd) = sink.nonblocking_fd() {
            let watched =
                registry.register(&mut SourceFd(&fd.as_raw_fd()), SINK, Interest::WRITABLE);
            if watched.is_err() {
                sink.unwatchable();
            }
        }

        let seed = config.seed.unwrap_or_else(crate::sys::os_random_u64);
        let extensions = config.all_extensions()?;
        let core = Lifecycle::new(
            lifecycle::Config {
                timeout: Micros::from_duration(config.timeout),
                init_timeout: Micros::from_duration(config.init_timeout),
                max_queue: config.max_queue,
                runtime: if config.bootstrap.is_some() {
                    RuntimeMode::Process
                } else {
                    RuntimeMode::External
                },
                init: if config.eager_init {
                    lifecycle::InitMode::Eager
                } else {
                    lifecycle::InitMode::OnDemand
                },
                extensions: extensions.iter().map(|e| e.name.clone()).collect(),
                freeze: config.freeze,
                seed,
                epoch_us,
            },
            Micros::ZERO,
        );
        let mut ctx = api::Context::new(
            &config.function_name,
            &config.function_version,
            &config.region,
            &config.account_id,
            config.memory_mb,
            epoch_us,
        );
        ctx.handler = config.effective_handler().unwrap_or_default();
        ctx.max_stream_bytes = config.streaming.max_bytes;
        ctx.json_logs = config
            .env
            .iter()
            .any(|(k, v)| k == "AWS_LAMBDA_LOG_FORMAT" && v.eq_ignore_ascii_case("JSON"));
        let task_root = config.effective_task_root();
        let launch = Launches {
            runtime: config
                .bootstrap
                .as_ref()
                .map(|b| (absolute_program(&b.program), b.args.clone())),
            extensions: extensions
                .into_iter()
                .map(|e| ExtensionCommand {
                    program: absolute_program(&e.program),
                    ..e
                })
                .collect(),
            cwd: task_root.clone(),
            env: FunctionEnv {
                runtime_api: children_address(runtime_addr).to_string(),
                function_name: config.function_name.clone(),
                version: config.function_version.clone(),
                memory_mb: config.memory_mb,
                region: config.region.clone(),
                log_stream: log_stream_name(epoch_us, seed),
                task_root: task_root.display().to_string(),
                handler: config.effective_handler(),
                extra: config.env.clone(),
                clean: config.clean_env,
            },
        };
        let reactor = Reactor {
            poll,
            start,
            core,
            ctx,
            invoke_listener,
            runtime_listener,
            invoke_addr,
            runtime_addr,
            sources: Slab::default(),
            tickets: Slab::default(),
            commands: rx,
            children: Vec::new(),
            launch,
            hub: {
                let mut hub = crate::telemetry::Hub::new();
                if let Some(max) = config.capture_telemetry {
                    hub.capture(max);
                }
                hub
            },
            event_waiters: Vec::new(),
            subscriber_conns: Vec::new(),
            state_waiters: Vec::new(),
            report_waiters: Vec::new(),
            sink,
            quiet: config.quiet,
            poll_exits: config.poll_exits,
            exit_poll_at: None,
            stop: None,
            timer,
            armed: None,
            signals: 0,
            read_buf: vec![0; READ_CHUNK],
            lines: String::new(),
            events: Vec::new(),
            events_due: None,
            deferred: VecDeque::new(),
            unwritten: Vec::new(),
            thaw_due: false,
            stream_limits: config.streaming,
            timeouts: config.timeouts,
            sweep_at: None,
            throttled: Vec::new(),
            tail: None,
            events_invoked: 0,
            outcomes: VecDeque::new(),
            outcome_waiters: Vec::new(),
            to_process: Vec::new(),
            lingering: Vec::new(),
            finished_at: None,
        };
        Ok((
            reactor,
            Control {
                commands: tx,
                waker,
            },
            lines_rx,
        ))
    }

    /// The invoke endpoint's bound address.
    pub(crate) fn invoke_addr(&self) -> SocketAddr {
        self.invoke_addr
    }

    /// The Runtime API's bound address.
    pub(crate) fn runtime_api_addr(&self) -> SocketAddr {
        self.runtime_addr
    }

    /// Watches `fd` (a signalfd, for the CLI): each signal read from it begins shutdown, and a
    /// second one ends the simulator at once.
    pub(crate) fn watch_signals(&mut self, fd: OwnedFd) -> io::Result<()> {
        self.poll
            .registry()
            .register(&mut SourceFd(&fd.as_raw_fd()), STOP, Interest::READABLE)?;
        self.stop = Some(fd);
        Ok(())
    }

    /// Runs until shutdown has finished (after a `Command::Shutdown`, a signal, or the handle
    /// going away) and the last responses are out.
    pub(crate) fn run(&mut self) -> io::Result<()> {
        let mut now = self.now();
        self.drain(now);
        let mut events = Events::with_capacity(1024);
        loop {
            if let Some(finished) = self.finished_at {
                // Telemetry keeps flowing to the end: the last batches go out too.
                self.hub.flush();
                let flushed = self.hub.is_drained()
                    && self.sources.iter().all(|(_, s)| match s {
                        Source::Conn(c) => !c.has_output(),
                        _ => true,
                    });
                if flushed || now >= finished + FINAL_FLUSH || self.signals > 1 {
                    break;
                }
            }
            let timeout = match self.next_deadline() {
                Some(at) if at <= now => Some(std::time::Duration::ZERO),
                Some(at) => self.arm(now, at),
                None => None,
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            now = self.now();
            for event in events.iter() {
                self.on_event(now, event);
                self.drain(now);
            }
            if self.core.poll_timeout().is_some_and(|at| at <= now) {
                self.core.handle_timeout(now);
                self.drain(now);
            }
            if self.exit_poll_at.is_some_and(|at| at <= now) {
                self.poll_child_exits(now);
                self.drain(now);
            }
            self.expire_lingering(now);
            if self.sweep_at.is_some_and(|at| at <= now) {
                self.sweep(now);
            }
            self.release_throttled(now);
            self.pump_telemetry(now);
            if self.core.may_freeze() {
                self.offer_freeze(now);
            }
            self.answer_state_waiters();
            self.answer_event_waiters();
            if self.log_events_due(now) {
                // These lines have waited already.
                self.sink.flush();
            } else {
                self.sink.flush_due(now);
            }
        }
        self.answer_state_waiters();
        self.answer_event_waiters();
        self.log_events();
        self.sink.finish();
        Ok(())
    }

    /// Makes sure the timerfd fires by `at`: it is re-armed only for a deadline earlier than
    /// the one it is armed for (a later deadline finds it firing early, and re-arms then), so a
    /// closed loop of invocations arms it about once per function timeout. Returns the poll
    /// timeout to use instead if the timerfd cannot be armed.
    fn arm(&mut self, now: Micros, at: Micros) -> Option<std::time::Duration> {
        if self.armed.is_some_and(|armed| armed <= at) {
            return None;
        }
        let after = at.since(now).to_duration();
        match crate::sys::arm_timerfd(&self.timer, after) {
            Ok(()) => {
                self.armed = Some(at);
                None
            }
            Err(e) => {
                log::warn!("cannot arm the reactor's timer: {e}");
                Some(after)
            }
        }
    }

    fn now(&self) -> Micros {
        Micros::from_duration(self.start.elapsed())
    }

    fn next_deadline(&self) -> Option<Micros> {
        let linger = self
            .lingering
            .iter()
            .chain(&self.throttled)
            .map(|(at, _)| *at)
            .min();
        let flush = self.finished_at.map(|at| at + FINAL_FLUSH);
        [
            self.core.poll_timeout(),
            linger,
            flush,
            self.sink.deadline(),
            self.events_due,
            self.exit_poll_at,
            self.hub.poll_timeout(),
            self.sweep_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- events -----

    fn on_event(&mut self, now: Micros, event: &mio::event::Event) {
        match event.token() {
            INVOKE_LISTENER => self.accept(now, Listener::Invoke),
            RUNTIME_LISTENER => self.accept(now, Listener::Runtime),
            WAKER => self.on_commands(now),
            STOP => self.on_signal(now),
            SINK => {
                self.sink.flush();
            }
            TIMER => {
                crate::sys::clear_timerfd(&self.timer);
                self.armed = None;
            }
            Token(t) => {
                let Some(index) = t.checked_sub(FIRST_SOURCE) else {
                    return;
                };
                // Readiness names a slot; a slot reused since is harmless (readiness is a hint).
                let Some(key) = self.sources.key_at(index as u32) else {
                    return;
                };
                match self.sources.get(key) {
                    Some(Source::Conn(_)) => {
                        if event.is_writable() {
                            self.conn_writable(now, key);
                        }
                        let closed = event.is_read_closed() || event.is_error();
                        if event.is_readable() || closed {
                            self.conn_readable(now, key, closed);
                        }
                    }
                    Some(Source::Output { .. }) => self.child_output(now, key),
                    Some(Source::Exit { .. }) => self.child_exit(now, key),
                    Some(Source::Telemetry(_)) => {
                        let closed = event.is_read_closed() || event.is_error();
                        self.subscriber_ready(now, key, event.is_writable(), closed);
                    }
                    None => {}
                }
            }
        }
    }

    fn accept(&mut self, now: Micros, listener: Listener) {
        loop {
            let accepted = match listener {
                Listener::Invoke => self.invoke_listener.accept(),
                Listener::Runtime => self.runtime_listener.accept(),
            };
            match accepted {
                Ok((stream, peer)) => {
                    log::debug!("{listener:?}: connection from {peer}");
                    if let Some(key) = self.add_conn(stream, listener) {
                        self.sweep_at.get_or_insert(now + self.sweep_period());
                        // Bytes may already be waiting; readiness for them was reported before
                        // we registered.
                        self.conn_readable(now, key, true);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and friends: the connection stays in the backlog until a later
                    // accept succeeds.
                    log::warn!("accept failed on the {listener:?} listener: {e}");
                    return;
                }
            }
        }
    }

    fn add_conn(&mut self, stream: TcpStream, listener: Listener) -> Option<Key> {
        // Small request/response exchanges: Nagle's algorithm would add up to 40 ms of delay.
        let _ = stream.set_nodelay(true);
        let key = self
            .sources
            .insert(Source::Conn(Conn::new(stream, listener)));
        let token = Token(FIRST_SOURCE + key.index as usize);
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return None;
        };
        // Edge-triggered, both directions, once: no re-registration as the state changes.
        if let Err(e) = self.poll.registry().register(
            &mut conn.stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("cannot register a connection: {e}");
            self.sources.remove(key);
            return None;
        }
        Some(key)
    }

    /// Reads and handles what the connection has sent. `to_the_end` reads until the socket
    /// would block; otherwise a short read ends it (see `Conn::read_some`).
    fn conn_readable(&mut self, now: Micros, key: Key, to_the_end: bool) {
        loop {
            let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
                return;
            };
            let more = conn.read_some(&mut self.read_buf, to_the_end);
            // Decode after every read so that buffering stays bounded by one read.
            self.process_conn(now, key);
            if !more {
                break;
            }
        }
    }

    fn conn_writable(&mut self, now: Micros, key: Key) {
        if let Some(Source::Conn(conn)) = self.sources.get_mut(key) {
            conn.flush();
        }
        self.settle_conn(now, key);
    }

    fn on_commands(&mut self, now: Micros) {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Invoke {
                    request,
                    reply,
                    report,
                    stream,
                }) => {
                    let key = self.tickets.insert(TicketTx { tx: reply, stream });
                    let invoker = Waiter::Ticket(key.to_u64());
                    match exchange!(self, now).invoke(invoker, request) {
                        Invoked::Queued(id) => {
                            if let Some(report) = report {
                                self.report_waiters.push((id, report));
                            }
                        }
                        Invoked::Answered(_, answer) => {
                            if let Some(report) = report {
                                let _ = report.send(Reply::Report(None));
                            }
                            if let Some(TicketTx { tx: reply, .. }) = self.tickets.remove(key) {
                                let response = self.answered_at_once(now, None, &answer);
                                let _ = reply.send(Reply::Response(response));
                            }
                        }
                    }
                    self.drain(now);
                }
                Ok(Command::InvokeEvent { request, reply }) => {
                    let response = match exchange!(self, now).invoke_event(request) {
                        Invoked::Answered(id, answer) => self.answered_at_once(now, id, &answer),
                        // Never: nobody waits for an `Event` invocation.
                        Invoked::Queued(id) => {
                            let accepted = Answer::Accepted(id);
                            self.answered_at_once(now, Some(id), &accepted)
                        }
                    };
                    let _ = reply.send(Reply::Response(response));
                    self.drain(now);
                }
                Ok(Command::EventOutcome(id, reply)) => {
                    match self.outcomes.iter().find(|o| o.request_id == id) {
                        Some(outcome) => {
                            let _ = reply.send(Reply::Response(outcome.clone()));
                        }
                        None => self.outcome_waiters.push((id, reply)),
                    }
                }
                Ok(Command::EventOutcomes(reply)) => {
                    let _ = reply.send(Reply::Outcomes(self.outcomes.iter().cloned().collect()));
                }
                Ok(Command::State(reply)) => {
                    let _ = reply.send(Reply::State(self.env_state()));
                }
                Ok(Command::WaitFor(awaited, reply)) => {
                    self.state_waiters.push((awaited, reply));
                    self.answer_state_waiters();
                }
                Ok(Command::Telemetry(reply)) => {
                    let capture = match self.hub.captured() {
                        Some(c) => TelemetryCapture {
                            events: c
                                .events()
                                .filter_map(|(_, e)| serde_json::from_slice(e).ok())
                                .collect(),
                            dropped: c.dropped,
                        },
                        None => TelemetryCapture::default(),
                    };
                    let _ = reply.send(Reply::Telemetry(capture));
                }
                Ok(Command::WaitEvent(test, reply)) => {
                    self.event_waiters.push((test, reply, 0));
                    self.answer_event_waiters();
                }
                // Later commands still count: a caller may wait for the shutdown's end.
                Ok(Command::Shutdown) => self.begin_shutdown(now),
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.begin_shutdown(now);
                    return;
                }
                Err(mpsc::TryRecvError::Empty) => return,
            }
        }
    }

    /// An embedded caller's answer to an invocation answered at once (refused, or an `Event`
    /// queued as `request_id`).
    fn answered_at_once(
        &self,
        now: Micros,
        request_id: Option<crate::id::RequestId>,
        answer: &Answer,
    ) -> InvokeResponse {
        let timings = lifecycle::Timings {
            received: now,
            responded: now,
            ..Default::default()
        };
        let id = request_id.map(|id| id.to_string()).unwrap_or_default();
        InvokeResponse::from_rendered(&answer.render(&self.ctx), id, timings)
    }

    fn on_signal(&mut self, now: Micros) {
        loop {
            let Some(fd) = &self.stop else { return };
            let Ok(Some(signal)) = crate::sys::read_signal(fd) else {
                return;
            };
            self.signals += 1;
            if self.signals == 1 {
                self.log_events();
                self.sink.line(&format!(
                    "lambda-sim: signal {signal} received, shutting down"
                ));
                self.begin_shutdown(now);
            } else {
                // A second signal: stop waiting for anything.
                self.kill_children();
                self.finished_at.get_or_insert(now);
            }
        }
    }

    fn env_state(&self) -> EnvState {
        EnvState {
            runtime_state: self.core.runtime_state(),
            queued: self.core.queued(),
            parked: self.core.parked(),
            current: self.core.current_request().map(|id| id.to_string()),
            extensions: self.core.extensions(),
            initialized: self.core.is_initialized(),
            idle: self.core.is_idle(),
            frozen: self.core.is_frozen(),
            shut_down: self.core.is_finished(),
        }
    }

    /// Answers the embedded callers whose awaited state has been reached. Called after every
    /// drain, so a state that holds only between two inputs is seen.
    fn answer_state_waiters(&mut self) {
        if self.state_waiters.is_empty() {
            return;
        }
        let state = self.env_state();
        self.state_waiters.retain(|(awaited, reply)| {
            if awaited.reached(&state) {
                let _ = reply.send(Reply::State(state.clone()));
                false
            } else {
                true
            }
        });
    }

    /// Answers the embedded callers whose event has been captured: each looks at every event
    /// it has not seen, past ones included, so none is missed.
    fn answer_event_waiters(&mut self) {
        if self.event_waiters.is_empty() {
            return;
        }
        let Some(capture) = self.hub.captured() else {
            return;
        };
        self.event_waiters.retain_mut(|(test, reply, checked)| {
            for (seq, event) in capture.events() {
                if seq < *checked {
                    continue;
                }
                *checked = seq + 1;
                let Ok(value) = serde_json::from_slice::<serde_json::Value>(event) else {
                    continue;
                };
                if (test.0)(&value) {
                    let _ = reply.send(Reply::Event(value));
                    return false;
                }
            }
            true
        });
    }

    fn begin_shutdown(&mut self, now: Micros) {
        self.core.shutdown(now);
        self.drain(now);
    }

    // ----- requests -----

    /// Decodes and handles every complete request the connection has buffered, one at a time.
    fn process_conn(&mut self, now: Micros, key: Key) {
        loop {
            let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
                return;
            };
            if conn.state != State::Reading {
                break;
            }
            match conn.decoder.next_event() {
                Ok(None) => {
                    if conn.streaming.is_some() && conn.decoder.is_reading_body() {
                        self.forward_stream(now, key);
                    }
                    break;
                }
                Ok(Some(Event::Head)) => self.on_head(now, key),
                Ok(Some(Event::Complete)) => {
                    if conn.streaming.is_some() {
                        // A stream that came whole in one read: its payload goes out as any
                        // stream's does, ahead of its end (it was lost before an error end).
                        self.forward_stream(now, key);
                    }
                    self.on_complete(now, key)
                }
                Err(e) => self.on_parse_error(now, key, e),
            }
        }
        self.settle_conn(now, key);
    }

    /// Routes a request from its head and decides what to do with its body.
    fn on_head(&mut self, now: Micros, key: Key) {
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        let head = conn.decoder.head();
        let has_body = head.framing() != Framing::None;
        let expect_continue = head.expect_continue();
        let small_body = match head.framing() {
            Framing::None | Framing::Chunked => true,
            Framing::Length(n) => n <= conn::MAX_DISCARD_BYTES,
        };
        let begin = exchange!(self, now).begin(conn.listener, &head);
        match begin {
            Begin::Refused(answer) => {
                if has_body && small_body && !expect_continue {
                    // Read and drop the body, then answer: the connection stays usable.
                    if conn.decoder.discard_body(conn::MAX_DISCARD_BYTES).is_ok() {
                        conn.early = Some(Box::new(answer));
                        return;
                    }
                }
                // The body is not read: the connection cannot be reused after it.
                conn.close_after |= has_body;
                conn.answer(|out, close| answer.write(out, close));
            }
            Begin::Read {
                route,
                limit,
                stream,
            } => match conn.decoder.read_body(limit) {
                Ok(()) => {
                    if expect_continue {
                        conn.send_raw(CONTINUE);
                    }
                    conn.route = Some(route);
                    conn.streaming = stream;
                }
                Err(e) => {
                    // A declared length over the limit: refused before any byte of the body.
                    exchange!(self, now).cut_short(Some(route), stream, Cut::TooLarge { limit });
                    let listener = conn.listener;
                    conn.close_after = true;
                    conn.answer(|out, close| api::parse_error(listener, e).write(out, close));
                }
            },
        }
    }

    /// Handles a complete request: the exchange decides, this carries it out.
    fn on_complete(&mut self, now: Micros, key: Key) {
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        if let Some(answer) = conn.early.take() {
            conn.answer(|out, close| answer.write(out, close));
            return;
        }
        conn.requests = conn.requests.wrapping_add(1);
        let Some(route) = conn.route.take() else {
            let answer = api::runtime_error(
                500,
                "InternalServerError",
                "request completed without a route",
            );
            conn.answer(|out, close| answer.write(out, close));
            return;
        };
        let stream = conn.streaming.take();
        let waiter = Waiter::Conn(key.to_u64());
        let outcome =
            exchange!(self, now).complete(conn.listener, waiter, route, stream, &mut conn.decoder);
        let ctx = &self.ctx;
        match outcome {
            Outcome::Answer(answer) => {
                conn.answer(|out, close| answer.render(ctx).write(out, close));
            }
            Outcome::Park(wait) => {
                conn.state = State::Waiting(wait);
                // A long poll may wait for minutes: it keeps no buffer it does not need.
                if matches!(wait, Wait::Next | Wait::Event) {
                    conn.decoder.shrink();
                }
            }
            Outcome::AnswerAfterActions { answer, piece } => {
                if let Some(piece) = piece {
                    self.send_chunk(piece);
                }
                self.drain(now);
                let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
                    return;
                };
                let ctx = &self.ctx;
                conn.answer(|out, close| answer.render(ctx).write(out, close));
                if conn.has_output() {
                    self.unwritten.push(key);
                }
            }
        }
    }

    fn on_parse_error(&mut self, now: Micros, key: Key, error: ParseError) {
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        log::debug!("{:?} request refused: {error}", conn.listener);
        let route = conn.route.take();
        // A runtime's chunked response that outgrew the limit still ends its invocation.
        if let ParseError::BodyTooLarge { limit } = error {
            let stream = conn.streaming.take();
            exchange!(self, now).cut_short(route, stream, Cut::TooLarge { limit });
        }
        let listener = conn.listener;
        conn.close_after = true;
        // A refused request whose discarded body was bad: the refusal still answers it.
        let answer = match conn.early.take() {
            Some(early) => *early,
            None => api::parse_error(listener, error),
        };
        conn.answer(|out, close| answer.write(out, close));
    }

    /// After IO on a connection: closes it, lingers, or tells the core its waiter left, as its
    /// state requires.
    fn settle_conn(&mut self, now: Micros, key: Key) {
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        if conn.peer_closed {
            match conn.state {
                State::Waiting(_) => {
                    // A parked /next or a waiting invoker went away.
                    let waiter = Waiter::Conn(key.to_u64()).id();
                    self.core.handle_waiter_closed(now, waiter);
                }
                State::Reading if conn.decoder.is_reading_body() => {
                    let (route, stream) = (conn.route.take(), conn.streaming.take());
                    exchange!(self, now).cut_short(route, stream, Cut::Truncated);
                }
                State::Reading | State::Closing => {}
            }
            self.close_conn(key);
            return;
        }
        if conn.state == State::Closing && !conn.has_output() {
            if !conn.lingering {
                conn.start_lingering();
                self.lingering.push((now + LINGER, key));
            }
            // Drain whatever the peer still sends, to see its EOF.
            while conn.read_some(&mut self.read_buf, true) {}
            if conn.peer_closed {
                self.close_conn(key);
            }
        }
    }

    fn close_conn(&mut self, key: Key) {
        self.remove_source(key);
        self.lingering.retain(|(_, k)| *k != key);
        self.throttled.retain(|(_, k)| *k != key);
    }

    /// Takes a source out of the slab and out of the poll; dropping it closes its descriptor.
    fn remove_source(&mut self, key: Key) -> Option<Source> {
        let mut source = self.sources.remove(key)?;
        let registry = self.poll.registry();
        let _ = match &mut source {
            Source::Conn(conn) => registry.deregister(&mut conn.stream),
            Source::Output { file, .. } => registry.deregister(&mut SourceFd(&file.as_raw_fd())),
            Source::Exit { pidfd, .. } => registry.deregister(&mut SourceFd(&pidfd.as_raw_fd())),
            Source::Telemetry(out) => registry.deregister(&mut out.stream),
        };
        Some(source)
    }

    /// How often connections are checked against their timeouts: a quarter of the shorter,
    /// between 5 ms and a second. A connection is closed within two periods of its deadline.
    fn sweep_period(&self) -> Micros {
        let shorter = self.timeouts.request.min(self.timeouts.idle);
        let shorter = Micros::from_duration(shorter).as_micros();
        Micros((shorter / 4).clamp(5_000, 1_000_000))
    }

    /// Closes the connections that have waited on their peer too long: a request begun and not
    /// finished in time gets 408 first; an idle keep-alive connection is just closed. Nothing
    /// is timed out that waits on the function (see [`Conn::exposed`]). A connection's clock
    /// starts when a sweep first sees it waiting, so it runs late by one period at most; it
    /// restarts whenever what it waits for changes or a request completes.
    fn sweep(&mut self, now: Micros) {
        let request_limit = Micros::from_duration(self.timeouts.request);
        let idle_limit = Micros::from_duration(self.timeouts.idle);
        let mut expired = Vec::new();
        for (key, source) in self.sources.iter_mut() {
            let Source::Conn(conn) = source else {
                continue;
            };
            let Some(exposed) = conn.exposed() else {
                conn.watched = None;
                continue;
            };
            let limit = match exposed {
                Exposed::Request => request_limit,
                Exposed::Idle => idle_limit,
            };
            match conn.watched {
                Some((seen, requests, since)) if seen == exposed && requests == conn.requests => {
                    if now.since(since) >= limit {
                        expired.push((key, exposed));
                    }
                }
                _ => conn.watched = Some((exposed, conn.requests, now)),
            }
        }
        for (key, exposed) in expired {
            self.time_out(now, key, exposed);
        }
        let any = self
            .sources
            .iter()
            .any(|(_, s)| matches!(s, Source::Conn(_)));
        self.sweep_at = any.then(|| now + self.sweep_period());
    }

    fn time_out(&mut self, now: Micros, key: Key, exposed: Exposed) {
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        log::debug!(
            "{:?} connection timed out waiting for {exposed:?}",
            conn.listener
        );
        match exposed {
            Exposed::Idle => self.close_conn(key),
            Exposed::Request => {
                // A runtime's response cut short by its own slowness ends its invocation.
                let (route, stream) = (conn.route.take(), conn.streaming.take());
                exchange!(self, now).cut_short(route, stream, Cut::Truncated);
                let answer = api::request_timeout(conn.listener, self.timeouts.request);
                conn.close_after = true;
                conn.answer(|out, close| answer.write(out, close));
                self.settle_conn(now, key);
                self.drain(now);
            }
        }
    }

    fn expire_lingering(&mut self, now: Micros) {
        let expired: Vec<Key> = self
            .lingering
            .iter()
            .filter(|(at, _)| *at <= now)
            .map(|(_, key)| *key)
            .collect();
        for key in expired {
            self.close_conn(key);
        }
    }

    // ----- actions -----

    /// Carries out the core's actions in order, then what they caused: spawn failures fed back
    /// to the core, and connections with pipelined requests to decode. Every mutation of the
    /// core is followed by a full drain before the next.
    fn drain(&mut self, now: Micros) {
        loop {
            while let Some(action) = self.core.poll_action() {
                self.execute(now, action);
            }
            if let Some(deferred) = self.deferred.pop_front() {
                match deferred {
                    Deferred::SpawnFailed(child, message) => {
                        self.core.handle_spawn_failed(now, child, message);
                    }
                }
                continue;
            }
            if let Some(key) = self.to_process.pop() {
                self.resume_conn(now, key);
                continue;
            }
            break;
        }
        self.thaw_now();
    }

    /// Sends the SIGCONT of a thaw, if one is due.
    fn thaw_now(&mut self) {
        if std::mem::take(&mut self.thaw_due) {
            self.signal_frozen(false);
        }
    }

    /// SIGSTOP or SIGCONT to every live child's process group.
    fn signal_frozen(&self, freeze: bool) {
        for proc in self.children.iter().filter(|c| c.alive) {
            if let Err(e) = process::freeze_group(proc.pid, freeze) {
                log::warn!(
                    "cannot freeze or thaw {} (pid {}): {e}",
                    proc.what,
                    proc.pid
                );
            }
        }
    }

    fn execute(&mut self, now: Micros, action: Action) {
        match action {
            Action::Release {
                waiter,
                request_id,
                deadline,
            } => {
                let ctx = &self.ctx;
                let Some(invocation) = self.core.invocation(request_id) else {
                    // Ended before its release was carried out: the runtime is still asking
                    // for work, so it asks again.
                    if let Err(r) = self.core.handle_runtime_next(now, waiter) {
                        if let Some((_, conn)) = parked(&mut self.sources, waiter, Wait::Next) {
                            let answer = api::rejection(Listener::Runtime, r);
                            conn.answer(|out, close| answer.write(out, close));
                        }
                    }
                    return;
                };
                let Some((key, conn)) = parked(&mut self.sources, waiter, Wait::Next) else {
                    // The runtime's connection closed in this very turn; it will time out or
                    // ask again (a /next while Running renders the invocation again).
                    log::debug!("invocation {request_id} released to a connection that is gone");
                    return;
                };
                conn.answer(|out, close| {
                    api::runtime::write_next(out, ctx, invocation, deadline, close)
                });
                self.to_process.push(key);
            }
            Action::ReleaseExtension { waiter, event } => self.release_extension(waiter, event),
            Action::Reply { invoker, reply } => self.reply(invoker, reply),
            Action::Close(waiter) => {
                if let Waiter::Conn(key) = Waiter::of(waiter) {
                    self.close_conn(Key::from_u64(key));
                }
            }
            Action::Spawn {
                child,
                role,
                init_type,
            } => {
                if let Err(message) = self.spawn_child(now, child, role, init_type) {
                    self.deferred
                        .push_back(Deferred::SpawnFailed(child, message));
                }
            }
            Action::Signal { child, signal } => {
                if let Some(proc) = self.children.iter_mut().find(|c| c.id == child && c.alive) {
                    // Its peak memory, while it can still be read: the REPORT of the invocation
                    // that ends with this signal is rendered after it has died.
                    if let Some(kib) = proc.rss.as_ref().and_then(process::PeakRss::read) {
                        proc.max_rss_kib = proc.max_rss_kib.max(kib);
                    }
                    if let Err(e) = process::signal_group(proc.pid, signal) {
                        log::warn!("cannot signal {} (pid {}): {e}", proc.what, proc.pid);
                    }
                }
            }
            // Rendered in batches, off the invocations' path (`log_events_due`).
            Action::Event(event) => {
                if !self.report_waiters.is_empty() {
                    self.send_report(&event);
                }
                if let PlatformEvent::Start { request_id, .. } = &event {
                    let tail = self
                        .core
                        .invocation(*request_id)
                        .is_some_and(|i| i.request.log_tail);
                    self.tail = tail.then(|| (*request_id, Vec::new()));
                }
                if self.tail.is_some() {
                    self.tail_event(now, &event);
                }
                if self.hub.wants(&event) {
                    let memory = match &event {
                        PlatformEvent::Report { runtime, .. } => {
                            self.max_memory_mb(*runtime).unwrap_or(0)
                        }
                        _ => 0,
                    };
                    self.hub.record_event(&self.ctx, now, &event, memory);
                }
                if !self.quiet && self.sink.is_shown() {
                    self.events.push((now, event));
                }
            }
            Action::Freeze => {
                self.thaw_now();
                self.signal_frozen(true);
                self.hub.set_frozen(true);
                log::debug!("environment frozen");
            }
            Action::Thaw => {
                self.thaw_due = true;
                self.hub.set_frozen(false);
                log::debug!("environment thawed");
            }
            Action::Finished => {
                self.finished_at.get_or_insert(now);
            }
        }
    }

    /// The environment may freeze: tells the core what is still on the wire.
    fn offer_freeze(&mut self, now: Micros) {
        let sources = &self.sources;
        self.unwritten
            .retain(|key| matches!(sources.get(*key), Some(Source::Conn(c)) if c.has_output()));
        let wire = lifecycle::Wire {
            unwritten_replies: self.unwritten.len(),
            batches_in_flight: self.hub.in_flight(),
        };
        self.core.handle_wire(now, wire);
        self.drain(now);
    }

    /// Answers an extension's parked `event/next` with its event.
    fn release_extension(&mut self, waiter: WaiterId, event: ExtensionEvent) {
        let Some((key, conn)) = parked(&mut self.sources, waiter, Wait::Event) else {
            log::debug!("an extension event went to a connection that is gone");
            return;
        };
        let ctx = &self.ctx;
        match event {
            ExtensionEvent::Invoke {
                event_id,
                request_id,
                deadline,
            } => {
                let Some(invocation) = self.core.invocation(request_id) else {
                    // Cannot happen within one drain; if it did, the extension asks again.
                    log::warn!("INVOKE for {request_id}, which has ended: closing the connection");
                    self.close_conn(key);
                    return;
                };
                conn.answer(|out, close| {
                    api::extensions::write_invoke_event(
                        out,
                        ctx,
                        &event_id,
                        &request_id,
                        invocation.request.invoked_arn.as_deref(),
                        &invocation.trace_id,
                        deadline,
                        close,
                    );
                });
            }
            ExtensionEvent::Shutdown { reason, deadline } => {
                let answer = api::extensions::shutdown_event(ctx, reason, deadline);
                conn.answer(|out, close| answer.write(out, close));
            }
        }
        self.to_process.push(key);
    }

    fn send_report(&mut self, event: &PlatformEvent) {
        let PlatformEvent::Report { request_id, .. } = event else {
            return;
        };
        if let Some(i) = self
            .report_waiters
            .iter()
            .position(|(id, _)| id == request_id)
        {
            let (_, tx) = self.report_waiters.swap_remove(i);
            let _ = tx.send(Reply::Report(InvocationReport::from_event(event)));
        }
    }

    fn reply(&mut self, invoker: WaiterId, reply: InvokeReply) {
        let log_result = match self.tail.take() {
            Some((id, log)) if id == reply.request_id => Some(crate::base64::encode(
                &log[log.len().saturating_sub(LOG_TAIL_BYTES)..],
            )),
            other => {
                self.tail = other;
                None
            }
        };
        if reply.timings.released.is_none() && !self.report_waiters.is_empty() {
            // Never released to the runtime: there will be no report.
            let id = reply.request_id;
            if let Some(i) = self.report_waiters.iter().position(|(r, _)| *r == id) {
                let (_, tx) = self.report_waiters.swap_remove(i);
                let _ = tx.send(Reply::Report(None));
            }
        }
        let key = match Waiter::of(invoker) {
            Waiter::Event(_) => return self.event_outcome(reply),
            Waiter::Ticket(key) => {
                if let Some(TicketTx { tx, .. }) = self.tickets.remove(Key::from_u64(key)) {
                    let mut response = InvokeResponse::from_reply(&self.ctx, reply);
                    if let Some(log) = log_result {
                        response.headers.push(("X-Amz-Log-Result", log));
                    }
                    let _ = tx.send(Reply::Response(response));
                }
                return;
            }
            Waiter::Conn(key) => Key::from_u64(key),
        };
        let ctx = &self.ctx;
        // An invoker that left finds nothing here; Lambda finishes the invocation anyway.
        if let Some((_, conn)) = parked(&mut self.sources, invoker, Wait::InvokeStream) {
            let started = std::mem::take(&mut conn.stream_started);
            conn.answer(|out, _| {
                api::invoke::write_stream_answer(out, ctx, &reply, started, log_result.as_deref());
            });
        } else if let Some((_, conn)) = parked(&mut self.sources, invoker, Wait::Invoke) {
            conn.answer(|out, close| {
                let rendered = api::invoke::render(ctx, &reply);
                match &log_result {
                    Some(log) => rendered.header("X-Amz-Log-Result", log.as_bytes()),
                    None => rendered,
                }
                .write(out, close)
            });
        } else {
            return;
        }
        if matches!(self.sources.get(key), Some(Source::Conn(c)) if c.has_output()) {
            self.unwritten.push(key);
        }
        self.to_process.push(key);
    }

    /// A runtime's streamed response decoded further: its new bytes go to the invoker now, if
    /// it streams; for a buffered one they stay, up to the buffered limit.
    fn forward_stream(&mut self, now: Micros, key: Key) {
        let unresolved = match self.sources.get(key) {
            Some(Source::Conn(conn)) => match &conn.streaming {
                Some(stream) if !stream.is_resolved() => Some(stream.request_id),
                Some(_) => None,
                None => return,
            },
            _ => return,
        };
        if let Some(request_id) = unresolved {
            let to = self
                .core
                .invoker(request_id)
                .filter(|w| self.takes_chunks(*w));
            log::debug!("invocation {request_id} streams to {to:?}");
            if let Some(Source::Conn(conn)) = self.sources.get_mut(key) {
                if let Some(stream) = conn.streaming.as_mut() {
                    stream.resolve(to);
                }
            }
        }
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        let Some(stream) = conn.streaming.as_mut() else {
            return;
        };
        let Some(to) = stream.to() else {
            if let Some(limit) = stream.over_limit(conn.decoder.body_len()) {
                self.on_parse_error(now, key, ParseError::BodyTooLarge { limit });
            }
            return;
        };
        let bytes = stream.forward(conn.decoder.take_body());
        log::trace!("streamed piece of {} bytes", bytes.len());
        if bytes.is_empty() {
            return;
        }
        let started = *stream.started.get_or_insert(now);
        // Past the burst, the runtime's stream is read no faster than the rate allows: TCP
        // holds the rest back in the runtime, as Lambda's shaping does.
        if let Some(until) = self.stream_limits.paused_until(started, stream.forwarded) {
            if until > now {
                stream.throttled = true;
                self.throttled.push((until, key));
            }
        }
        let piece = Piece {
            to,
            request_id: stream.request_id,
            content_type: stream.content_type.clone(),
            bytes,
        };
        self.send_chunk(piece);
    }

    /// Whether `invoker` takes a streamed response's bytes as they come.
    fn takes_chunks(&self, invoker: WaiterId) -> bool {
        match Waiter::of(invoker) {
            Waiter::Event(_) => false,
            Waiter::Ticket(key) => self
                .tickets
                .get(Key::from_u64(key))
                .is_some_and(|t| t.stream),
            Waiter::Conn(key) => matches!(
                self.sources.get(Key::from_u64(key)),
                Some(Source::Conn(c)) if c.state == State::Waiting(Wait::InvokeStream)
            ),
        }
    }

    /// Streams whose pause is over read again, what arrived meanwhile first.
    fn release_throttled(&mut self, now: Micros) {
        if self.throttled.iter().all(|(at, _)| *at > now) {
            return;
        }
        let due: Vec<Key> = self
            .throttled
            .iter()
            .filter(|(at, _)| *at <= now)
            .map(|(_, key)| *key)
            .collect();
        self.throttled.retain(|(at, _)| *at > now);
        for key in due {
            if let Some(Source::Conn(conn)) = self.sources.get_mut(key) {
                if let Some(stream) = conn.streaming.as_mut() {
                    stream.throttled = false;
                }
                // No new readiness comes for bytes already waiting: read until it would block.
                self.conn_readable(now, key, true);
            }
        }
    }

    /// One piece of a streamed response to its invoker: a `PayloadChunk` event on the wire, or
    /// a chunk to an embedded caller.
    fn send_chunk(&mut self, piece: Piece) {
        if let Waiter::Ticket(key) = Waiter::of(piece.to) {
            if let Some(ticket) = self.tickets.get(Key::from_u64(key)) {
                let _ = ticket.tx.send(Reply::Chunk(piece.bytes));
            }
            return;
        }
        let ctx = &self.ctx;
        // The invoker left; the invocation goes on.
        let Some((_, conn)) = parked(&mut self.sources, piece.to, Wait::InvokeStream) else {
            return;
        };
        let mut out = Vec::with_capacity(piece.bytes.len() + 256);
        if !conn.stream_started {
            conn.stream_started = true;
            let id = piece.request_id.to_string();
            let content_type = piece.content_type.as_deref();
            api::invoke::write_stream_head(&mut out, ctx, &id, content_type, false);
        }
        api::invoke::write_stream_chunk(&mut out, &piece.bytes);
        conn.send_raw(&out);
    }

    /// Appends `event`'s log lines to the tail of the invocation that asked for it.
    #[inline(never)]
    fn tail_event(&mut self, now: Micros, event: &PlatformEvent) {
        let memory = match event {
            PlatformEvent::Report { runtime, .. } => self.max_memory_mb(*runtime),
            _ => None,
        };
        self.lines.clear();
        api::logs::write_event(&mut self.lines, &self.ctx, event, now, memory);
        if let Some((_, log)) = &mut self.tail {
            push_tail(log, self.lines.as_bytes());
        }
    }

    /// An `Event` invocation ended: its outcome is logged and kept for the embedding API.
    #[inline(never)]
    fn event_outcome(&mut self, reply: InvokeReply) {
        let response = InvokeResponse::from_reply(&self.ctx, reply);
        if !self.quiet {
            self.lines.clear();
            let _ = write!(
                self.lines,
                "lambda-sim: Event invocation {} ended: {}",
                response.request_id,
                response
                    .function_error()
                    .map_or("success", |_| "function error")
            );
            if let Some(kind) = response
                .function_error()
                .and_then(|_| serde_json::from_slice::<serde_json::Value>(&response.body).ok())
                .and_then(|v| {
                    v.get("errorType")
                        .and_then(|t| t.as_str())
                        .map(str::to_string)
                })
            {
                let _ = write!(self.lines, " ({kind})");
            }
            self.sink.line(&self.lines);
        }
        let id = response.request_id.clone();
        self.outcome_waiters.retain(|(waited, tx)| {
            if *waited == id {
                let _ = tx.send(Reply::Response(response.clone()));
                false
            } else {
                true
            }
        });
        if self.outcomes.len() == MAX_OUTCOMES {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back(response);
    }

    /// A connection whose wait ended: answer written, so decode what it pipelined meanwhile.
    fn resume_conn(&mut self, now: Micros, key: Key) {
        let paused = match self.sources.get(key) {
            Some(Source::Conn(conn)) => conn.read_paused,
            _ => return,
        };
        if paused {
            // No new readiness comes for bytes already waiting: read until it would block.
            self.conn_readable(now, key, true);
        } else {
            self.process_conn(now, key);
        }
    }

    /// At the end of a turn: renders the waiting lifecycle events if they are due, or sets when
    /// they will be. Returns whether it rendered.
    ///
    /// Events wait up to [`sink::FLUSH_DELAY`] so that formatting and the peak-RSS read for
    /// REPORT happen once per batch, off the invocations' latency path. Each line keeps the time
    /// of its event; Max Memory Used is read when the batch is rendered (the peak only grows,
    /// so it may include growth in those last milliseconds).
    fn log_events_due(&mut self, now: Micros) -> bool {
        if self.events.is_empty() {
            self.events_due = None;
            return false;
        }
        match self.events_due {
            Some(at) if at <= now => {
                self.log_events();
                true
            }
            Some(_) => false,
            None => {
                self.events_due = Some(now + sink::FLUSH_DELAY);
                false
            }
        }
    }

    /// Renders every waiting lifecycle event as log lines now.
    fn log_events(&mut self) {
        self.events_due = None;
        let mut events = std::mem::take(&mut self.events);
        // One read of the runtime's peak RSS serves the whole batch.
        let mut memory_of: Option<(Option<ChildId>, Option<u64>)> = None;
        for (at, event) in events.drain(..) {
            let memory = match &event {
                PlatformEvent::Report { runtime, .. } => match memory_of {
                    Some((child, mb)) if child == *runtime => mb,
                    _ => {
                        let mb = self.max_memory_mb(*runtime);
                        memory_of = Some((*runtime, mb));
                        mb
                    }
                },
                _ => None,
            };
            self.lines.clear();
            api::logs::write_event(&mut self.lines, &self.ctx, &event, at, memory);
            self.sink.lines(&self.lines);
        }
        // A batch that grew unusually large (the reactor was held up) gives its memory back.
        if events.capacity() > KEEP_EVENTS_CAPACITY {
            events = Vec::new();
        }
        self.events = events;
    }

    /// The environment's peak memory for a report: the runtime `child`'s, plus each live
    /// extension's, as Lambda counts the whole sandbox (a sum of peaks: an upper bound).
    fn max_memory_mb(&self, child: Option<ChildId>) -> Option<u64> {
        let peak = |proc: &ChildProc| {
            let live = proc
                .rss
                .as_ref()
                .filter(|_| proc.alive)
                .and_then(|r| r.read());
            live.unwrap_or(proc.max_rss_kib)
        };
        let runtime = self.children.iter().find(|c| Some(c.id) == child)?;
        let extensions: u64 = self
            .children
            .iter()
            .filter(|c| c.extension && c.alive)
            .map(peak)
            .sum();
        Some((peak(runtime) + extensions).div_ceil(1024))
    }

    // ----- telemetry delivery -----

    /// Sends every batch that is due, opening connections as needed. One batch is in flight
    /// per subscriber; a subscriber that is down or slow holds back nobody else.
    fn pump_telemetry(&mut self, now: Micros) {
        if self.hub.is_empty() {
            return;
        }
        for id in self.hub.handle_timeout(now) {
            // Unanswered for too long: the batch failed; a new connection carries the retry.
            if let Some(key) = self.subscriber_conns.get_mut(id.0).and_then(Option::take) {
                self.remove_source(key);
            }
        }
        while let Some((id, batch)) = self.hub.poll_batch(&self.ctx, now) {
            let Some(destination) = self.hub.destination(id).cloned() else {
                break;
            };
            let (addr, request) = match &destination {
                api::telemetry::Destination::Http { addr, path, host } => {
                    let mut request = Vec::with_capacity(batch.body.len() + 128);
                    crate::http::client::write_post(
                        &mut request,
                        host,
                        path,
                        api::JSON,
                        batch.body.len(),
                    );
                    request.extend_from_slice(&batch.body);
                    (*addr, request)
                }
                api::telemetry::Destination::Tcp { addr } => (*addr, batch.body),
            };
            let http = matches!(destination, api::telemetry::Destination::Http { .. });
            let key = match self.subscriber_conns.get(id.0).copied().flatten() {
                Some(key) => key,
                None => match self.connect_subscriber(id, addr, http) {
                    Some(key) => key,
                    None => {
                        self.hub.handle_sent(now, id, false);
                        continue;
                    }
                },
            };
            let step = match self.sources.get_mut(key) {
                Some(Source::Telemetry(out)) => out.send(request),
                _ => Step::Failed,
            };
            self.subscriber_step(now, key, step);
        }
    }

    // Cold, and called from two places: one copy in the binary (which stays under 1 MB).
    #[inline(never)]
    fn connect_subscriber(
        &mut self,
        id: crate::telemetry::SubscriberId,
        addr: SocketAddr,
        http: bool,
    ) -> Option<Key> {
        let stream = match TcpStream::connect(addr) {
            Ok(stream) => stream,
            Err(e) => {
                log::debug!("telemetry subscriber {id:?} at {addr}: {e}");
                return None;
            }
        };
        let _ = stream.set_nodelay(true);
        let key = self
            .sources
            .insert(Source::Telemetry(Outbound::new(id, stream, http)));
        let token = Token(FIRST_SOURCE + key.index as usize);
        let Some(Source::Telemetry(out)) = self.sources.get_mut(key) else {
            return None;
        };
        if let Err(e) = self.poll.registry().register(
            &mut out.stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("cannot watch a telemetry connection: {e}");
            self.sources.remove(key);
            return None;
        }
        if self.subscriber_conns.len() <= id.0 {
            self.subscriber_conns.resize(id.0 + 1, None);
        }
        self.subscriber_conns[id.0] = Some(key);
        Some(key)
    }

    /// Readiness on a subscriber's connection.
    fn subscriber_ready(&mut self, now: Micros, key: Key, writable: bool, closed: bool) {
        let step = match self.sources.get_mut(key) {
            Some(Source::Telemetry(out)) => {
                let wrote = if writable { out.flush() } else { Step::Pending };
                match wrote {
                    Step::Pending => out.read(&mut self.read_buf, closed),
                    done => done,
                }
            }
            _ => return,
        };
        self.subscriber_step(now, key, step);
        self.pump_telemetry(now);
    }

    /// What a step on subscriber connection `key` means for its batch.
    #[inline(never)]
    fn subscriber_step(&mut self, now: Micros, key: Key, step: Step) {
        let Some(Source::Telemetry(out)) = self.sources.get(key) else {
            return;
        };
        let id = out.subscriber;
        match step {
            Step::Pending => {}
            Step::Written => self.hub.handle_sent(now, id, true),
            Step::Answered(answer) => {
                if !answer.accepted() {
                    log::debug!("telemetry subscriber {id:?} answered {}", answer.status);
                }
                self.hub.handle_sent(now, id, answer.accepted());
                if !answer.keep_alive {
                    self.close_subscriber(key);
                }
            }
            Step::Failed => {
                self.hub.handle_sent(now, id, false);
                self.close_subscriber(key);
            }
        }
    }

    fn close_subscriber(&mut self, key: Key) {
        if let Some(Source::Telemetry(out)) = self.remove_source(key) {
            if let Some(slot) = self.subscriber_conns.get_mut(out.subscriber.0) {
                if *slot == Some(key) {
                    *slot = None;
                }
            }
        }
    }

    // ----- children -----

    fn spawn_child(
        &mut self,
        now: Micros,
        child: ChildId,
        role: Role,
        init_type: InitType,
    ) -> Result<(), String> {
        let launch = &self.launch;
        let (what, spec) = match role {
            Role::Runtime => {
                let Some((program, args)) = &launch.runtime else {
                    return Err("no bootstrap configured".into());
                };
                let spec = Launch {
                    program: program.clone(),
                    args: args.clone(),
                    cwd: launch.cwd.clone(),
                    env: launch.env.runtime_vars(init_type),
                    remove: Vec::new(),
                    clean_env: launch.env.clean,
                    poll_exit: self.poll_exits,
                };
                ("the runtime".to_string(), spec)
            }
            Role::Extension(i) => {
                let Some(ext) = launch.extensions.get(i) else {
                    return Err(format!("no extension number {i}"));
                };
                let spec = Launch {
                    program: ext.program.clone(),
                    args: ext.args.clone(),
                    cwd: launch.cwd.clone(),
                    env: launch.env.extension_vars(init_type),
                    remove: process::EXTENSIONS_DO_NOT_GET.to_vec(),
                    clean_env: launch.env.clean,
                    poll_exit: self.poll_exits,
                };
                (format!("extension {}", ext.name), spec)
            }
        };
        let spawned = process::spawn(&spec).map_err(|e| {
            // Lambda words it as Go's os/exec does.
            let reason = e.to_string();
            let reason = reason
                .split(" (os error")
                .next()
                .unwrap_or(&reason)
                .to_lowercase();
            format!("fork/exec {}: {reason}", spec.program.display())
        })?;
        log::debug!("{what} started: pid {}", spawned.pid);
        let registry = self.poll.registry();
        let mut register = |source: Source, fd: i32| {
            let key = self.sources.insert(source);
            let token = Token(FIRST_SOURCE + key.index as usize);
            if let Err(e) = registry.register(&mut SourceFd(&fd), token, Interest::READABLE) {
                log::warn!("cannot watch a child's output or exit: {e}");
            }
        };
        let (out_fd, err_fd) = (spawned.stdout.as_raw_fd(), spawned.stderr.as_raw_fd());
        register(
            Source::Output {
                child,
                file: spawned.stdout,
                partial: Vec::new(),
            },
            out_fd,
        );
        register(
            Source::Output {
                child,
                file: spawned.stderr,
                partial: Vec::new(),
            },
            err_fd,
        );
        let polled = spawned.pidfd.is_none();
        if let Some(pidfd) = spawned.pidfd {
            let exit_fd = pidfd.as_raw_fd();
            register(Source::Exit { child, pidfd }, exit_fd);
        } else {
            self.exit_poll_at.get_or_insert(now + EXIT_POLL);
        }
        self.children.push(ChildProc {
            id: child,
            extension: matches!(role, Role::Extension(_)),
            what,
            pid: spawned.pid,
            alive: true,
            polled,
            rss: process::PeakRss::open(spawned.pid).ok(),
            max_rss_kib: 0,
        });
        // Forget the oldest dead children.
        while self.children.iter().filter(|c| !c.alive).count() > DEAD_CHILDREN_KEPT {
            if let Some(i) = self.children.iter().position(|c| !c.alive) {
                self.children.remove(i);
            }
        }
        Ok(())
    }

    /// Reads a child's output and logs it line by line; telemetry subscribers get each line.
    fn child_output(&mut self, now: Micros, key: Key) {
        let extension = match self.sources.get(key) {
            Some(Source::Output { child, .. }) => {
                self.children.iter().any(|c| c.id == *child && c.extension)
            }
            _ => return,
        };
        // Lifecycle lines already due come first, as they happened first.
        self.log_events();
        let to_hub = self.hub.wants_lines();
        loop {
            let Some(Source::Output { file, partial, .. }) = self.sources.get_mut(key) else {
                return;
            };
            let mut lines = LineOut {
                sink: &mut self.sink,
                tail: self.tail.as_mut().map(|(_, log)| log),
                hub: to_hub.then_some((&mut self.hub, &self.ctx)),
                now,
                extension,
            };
            match file.read(&mut self.read_buf) {
                Ok(0) => {
                    if !partial.is_empty() {
                        lines.emit(partial);
                    }
                    self.remove_source(key);
                    return;
                }
                Ok(n) => {
                    let mut rest = &self.read_buf[..n];
                    while let Some(at) = rest.iter().position(|b| *b == b'\n') {
                        partial.extend_from_slice(&rest[..at]);
                        rest = &rest[at + 1..];
                        lines.emit(partial);
                    }
                    partial.extend_from_slice(rest);
                    if partial.len() > MAX_LINE_BYTES {
                        lines.emit(partial);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.remove_source(key);
                    return;
                }
            }
        }
    }

    /// A child's pidfd became readable.
    fn child_exit(&mut self, now: Micros, key: Key) {
        let Some(Source::Exit { child, .. }) = self.sources.get(key) else {
            return;
        };
        let child = *child;
        let Some(proc) = self.children.iter().find(|c| c.id == child) else {
            self.remove_source(key);
            return;
        };
        let Some(exit) = try_reap(proc.pid) else {
            return; // not yet: readiness is a hint
        };
        self.remove_source(key);
        self.child_exited(now, child, exit);
    }

    /// Checks the children that have no pidfd for an exit, and when to check again.
    fn poll_child_exits(&mut self, now: Micros) {
        self.exit_poll_at = None;
        let polled: Vec<(ChildId, i32)> = self
            .children
            .iter()
            .filter(|c| c.alive && c.polled)
            .map(|c| (c.id, c.pid))
            .collect();
        for (child, pid) in polled {
            match try_reap(pid) {
                Some(exit) => self.child_exited(now, child, exit),
                None => {
                    self.exit_poll_at.get_or_insert(now + EXIT_POLL);
                }
            }
        }
    }

    /// A child was reaped: its last output is read, then the core hears of its exit.
    fn child_exited(&mut self, now: Micros, child: ChildId, exit: process::Exit) {
        let Some(proc) = self.children.iter_mut().find(|c| c.id == child) else {
            return;
        };
        proc.alive = false;
        proc.rss = None;
        proc.max_rss_kib = proc.max_rss_kib.max(exit.max_rss_kib);
        log::debug!("{} (pid {}) exited: {}", proc.what, proc.pid, exit.status);
        // Its last words come before the news of its death.
        let outputs: Vec<Key> = self
            .sources
            .iter()
            .filter(|(_, s)| matches!(s, Source::Output { child: c, .. } if *c == child))
            .map(|(k, _)| k)
            .collect();
        for output in outputs {
            self.child_output(now, output);
        }
        // A stream closed: what its subscribers have buffered goes now (AWS-TEL).
        self.hub.flush();
        self.core.handle_child_exit(now, child, exit.status);
    }

    fn kill_children(&mut self) {
        for proc in self.children.iter().filter(|c| c.alive) {
            let _ = process::kill_group(proc.pid);
        }
    }
}

impl Drop for Reactor {
    /// Children never outlive the simulator: on every way out (a finished run, an error, a
    /// panic unwinding through `run`), the process groups still alive are killed and reaped.
    fn drop(&mut self) {
        self.kill_children();
        for proc in self.children.iter().filter(|c| c.alive) {
            let pidfd = self.sources.iter().find_map(|(_, s)| match s {
                Source::Exit { child, pidfd } if *child == proc.id => Some(pidfd),
                _ => None,
            });
            // SIGKILL was sent; wait for the exit, but not forever on a process stuck in the kernel.
            match pidfd {
                Some(pidfd) => {
                    let _ = crate::sys::wait_readable(pidfd, 1_000);
                    let _ = process::reap(proc.pid);
                }
                None => {
                    for _ in 0..100 {
                        if !matches!(process::reap(proc.pid), Ok(None)) {
                            break;
                        }
                        // No pidfd to wait on: a short sleep between checks, at exit only.
                        #[allow(clippy::disallowed_methods)]
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                }
            }
        }
    }
}

/// The connection `waiter` stands for, if it is one parked waiting for `wait`.
fn parked(sources: &mut Slab<Source>, waiter: WaiterId, wait: Wait) -> Option<(Key, &mut Conn)> {
    let Waiter::Conn(key) = Waiter::of(waiter) else {
        return None;
    };
    let key = Key::from_u64(key);
    match sources.get_mut(key) {
        Some(Source::Conn(conn)) if conn.state == State::Waiting(wait) => Some((key, conn)),
        _ => None,
    }
}

/// Reaps `pid` if it has exited; a failure to reap counts as an exit with code -1.
fn try_reap(pid: i32) -> Option<process::Exit> {
    match process::reap(pid) {
        Ok(exit) => exit,
        Err(e) => {
            log::warn!("cannot reap the runtime (pid {pid}): {e}");
            Some(process::Exit {
                status: lifecycle::ExitStatus::Code(-1),
                max_rss_kib: 0,
            })
        }
    }
}

/// Where a child's lines go: the log sink, and telemetry subscribers when there are any.
struct LineOut<'a> {
    sink: &'a mut Sink,
    /// The running invocation's log, when its invoker asked for the tail.
    tail: Option<&'a mut Vec<u8>>,
    hub: Option<(&'a mut crate::telemetry::Hub, &'a api::Context)>,
    now: Micros,
    /// The child is an extension: its lines are `extension` records, not `function`.
    extension: bool,
}

impl LineOut<'_> {
    /// Logs one line (lossy UTF-8, without a trailing CR) and empties `line`.
    fn emit(&mut self, line: &mut Vec<u8>) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        self.sink.line(text);
        if let Some(log) = &mut self.tail {
            push_tail(log, text.as_bytes());
            push_tail(log, b"\n");
        }
        if let Some((hub, ctx)) = &mut self.hub {
            let record = if self.extension {
                crate::telemetry::Record::Extension(text.to_string())
            } else {
                crate::telemetry::Record::Function(text.to_string())
            };
            hub.record(ctx, self.now, record, 0);
        }
        line.clear();
    }
}

/// Appends `bytes` to an invocation's log, keeping no more than twice what the tail shows.
fn push_tail(log: &mut Vec<u8>, bytes: &[u8]) {
    log.extend_from_slice(bytes);
    if log.len() > 2 * LOG_TAIL_BYTES {
        log.drain(..log.len() - LOG_TAIL_BYTES);
    }
}

/// A relative path to the bootstrap (`./bootstrap`) names a file relative to where the
/// simulator was started; exec would resolve it relative to the child's working directory (the
/// task root) instead. Bare names (`python3`) are left for exec to find on `PATH`.
fn absolute_program(program: &std::path::Path) -> std::path::PathBuf {
    let has_dir = program.components().count() > 1;
    match std::env::current_dir() {
        Ok(cwd) if has_dir && program.is_relative() => cwd.join(program),
        _ => program.to_path_buf(),
    }
}

/// The address children connect to: an unspecified bind address (`0.0.0.0`, `::`) is reached
/// through loopback.
fn children_address(bound: SocketAddr) -> SocketAddr {
    let mut addr = bound;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// `2026/11/26/[$LATEST]<32 hex>`, as Lambda names log streams.
fn log_stream_name(epoch_us: u64, seed: u64) -> String {
    let day = crate::time::Civil::from_epoch_micros(epoch_us);
    let mut name = format!("{:04}/{:02}/{:02}/[$LATEST]", day.year, day.month, day.day);
    let mut hex = [0u8; 32];
    crate::id::Rng::from_seed(seed ^ 0x6c6f_6773_7472_6561).hex_into(&mut hex);
    name.extend(hex.iter().map(|b| char::from(*b)));
    name
}

/// The warning for a listener bound where other hosts can reach it: the defaults are loopback,
/// and an address such as `0.0.0.0` (inside a container, as RIE is run) is only ever bound
/// because it was given explicitly. Neither API authenticates anyone.
pub fn exposure_warning(addr: SocketAddr, what: &str) -> Option<String> {
    if addr.ip().is_loopback() {
        return None;
    }
    Some(format!(
        "the {what} listens on {addr}, which other hosts can reach: anyone who can connect \
         can invoke the function or act as its runtime. Bind 127.0.0.1 unless you mean it."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_reach_an_unspecified_address_through_loopback() {
        assert_eq!(
            children_address("0.0.0.0:9001".parse().unwrap()),
            "127.0.0.1:9001".parse().unwrap()
        );
        assert_eq!(
            children_address("[::]:9".parse().unwrap()),
            "[::1]:9".parse().unwrap()
        );
        assert_eq!(
            children_address("127.0.0.1:5".parse().unwrap()),
            "127.0.0.1:5".parse().unwrap()
        );
    }

    #[test]
    fn dropping_the_reactor_kills_its_children() {
        // The path a panic unwinding through `run` takes: Drop alone must end the runtime.
        let config = Config {
            bootstrap: Some(crate::config::Bootstrap {
                program: "/bin/sh".into(),
                args: vec!["-c".into(), "sleep 300".into()],
            }),
            eager_init: true,
            ..Config::default()
        };
        let (mut reactor, _control, _) = Reactor::bind(&config).unwrap();
        reactor.drain(Micros::ZERO);
        let pid = reactor.children.first().map(|c| c.pid).expect("spawned");
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        drop(reactor);
        // Killed and reaped: the pid is gone, not even a zombie.
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::Handle>();
    }

    #[test]
    fn relative_bootstraps_are_resolved_where_the_simulator_runs() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            absolute_program("./bootstrap".as_ref()),
            cwd.join("./bootstrap")
        );
        assert_eq!(absolute_program("bin/run".as_ref()), cwd.join("bin/run"));
        assert_eq!(
            absolute_program("python3".as_ref()),
            std::path::PathBuf::from("python3")
        );
        assert_eq!(
            absolute_program("/opt/bootstrap".as_ref()),
            std::path::PathBuf::from("/opt/bootstrap")
        );
    }

    #[test]
    fn a_tail_keeps_at_least_the_last_4_kb() {
        let mut log = Vec::new();
        for i in 0..1000u32 {
            push_tail(&mut log, format!("{i:05}\n").as_bytes());
            assert!(log.len() <= 2 * LOG_TAIL_BYTES);
        }
        assert!(log.len() >= LOG_TAIL_BYTES);
        assert!(log.ends_with(b"00999\n"));
    }

    #[test]
    fn log_stream_names_look_like_lambdas() {
        let name = log_stream_name(1_764_177_000_000_000, 1);
        assert!(name.starts_with("2025/11/26/[$LATEST]"), "{name}");
        assert_eq!(name.len(), "2025/11/26/[$LATEST]".len() + 32);
    }
}

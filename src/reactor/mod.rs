//! The only place that does IO: one `mio::Poll` on one thread, holding the listeners, the
//! connections (a parked long poll is a connection in a waiting state), the children's pipes and
//! pidfds, the embedding handle's channel, the telemetry subscribers' connections and the log
//! sink. It turns readiness into calls on the lifecycle core (through `api::exchange` for
//! requests) and the core's actions into IO. What a request means, and every Lambda rule, is
//! decided elsewhere; the reactor decides only IO: when to read, write, close and wait.
//!
//! Each turn: poll, read the clock once, handle each event (mutate the core, then drain its
//! actions), fire the core's timers, then the work that can wait: lifecycle lines are rendered
//! and stdout written in batches (every 10 ms), after the answers. Every deadline arms one
//! timerfd, so `epoll_wait` itself never carries a timeout.
//!
//! An environment that has gone idle (its runtime and extensions all back on `next`) is frozen
//! at the end of the next turn, whose poll does not wait, if that turn brought it nothing: an
//! invocation already on the wire when the last `next` came is taken rather than frozen for and
//! thawed at once. With four extensions a freeze and its thaw are ten signals, each waking a
//! process (`benches/README.md` measures it).
//!
//! One `impl Reactor` per job, each in its own file:
//! - this file: the struct, binding, the loop, readiness dispatch, signals;
//! - `requests`: connections and their requests, handed to `api::exchange`; timeouts;
//! - `actions`: the core's actions carried out, and streamed responses forwarded;
//! - `embed`: the embedding API's commands, and its callers waiting for states and events;
//! - `subscribers`: delivering telemetry batches to Telemetry and Logs API subscribers;
//! - `children`: spawning the function's processes, their output and their exits;
//! - `environments`: each execution environment's Runtime API listener, variables and freeze;
//! - `logs`: lifecycle lines, the function's output lines, and the invoker's log tail;
//! - `conn`, `outbound`, `sink`, `slab`: a connection, a subscriber's connection, the log sink,
//!   and the slab of sources, each with no knowledge of the reactor.

/// A request's view of the simulator ([`crate::api::exchange::Exchange`]), borrowed field by field so that a
/// connection can stay borrowed beside it.
macro_rules! exchange {
    ($reactor:ident, $now:expr, $env:expr) => {
        crate::api::exchange::Exchange {
            now: $now,
            env: $env,
            core: &mut $reactor.core,
            hub: &mut $reactor.hub,
            ctx: &$reactor.ctx,
            events: &mut $reactor.events_invoked,
        }
    };
}

mod actions;
mod children;
mod conn;
mod embed;
mod environments;
mod logs;
mod outbound;
mod requests;
mod sink;
mod slab;
mod subscribers;

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::api::{self, Listener};
use crate::config::Config;
use crate::lifecycle::{ChildId, EnvId, Lifecycle, PlatformEvent};
use crate::mailbox as mpsc;
use crate::simulator::control::{Command, Control, EventTest, Reply};
use crate::simulator::results::{Awaited, InvokeResponse};
use crate::time::Micros;
use conn::Conn;
use outbound::Outbound;
pub(crate) use sink::Sink;
use slab::{Key, Slab};

use actions::Deferred;
use children::{ChildProc, Launches, children_address, log_stream_name};
use embed::TicketTx;
use environments::{EnvIo, env_ids};

const INVOKE_LISTENER: Token = Token(0);
const WAKER: Token = Token(2);
const STOP: Token = Token(3);
const SINK: Token = Token(4);
const TIMER: Token = Token(5);
/// Slab entries use tokens from here on: `Token(FIRST_SOURCE + index)`.
const FIRST_SOURCE: usize = 16;
/// Environment `i`'s Runtime API listener is `Token(RUNTIME_LISTENERS + i)`, above any slab
/// entry's.
const RUNTIME_LISTENERS: usize = usize::MAX / 2;

/// How long, after shutdown finished, pending responses may take to flush.
const FINAL_FLUSH: Micros = Micros::from_secs(1);

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

/// The simulator's event loop. Build with `Reactor::bind`, run with `Reactor::run`.
#[derive(Debug)]
pub(crate) struct Reactor {
    poll: Poll,
    start: Instant,
    core: Lifecycle,
    ctx: api::Context,
    /// The INVOKE event's body of the latest release, for each of its extensions.
    invoke_body: api::extensions::InvokeBody,
    invoke_listener: TcpListener,
    invoke_addr: SocketAddr,
    /// Each execution environment's listener, variables and freeze, by [`EnvId`].
    envs: Vec<EnvIo>,
    /// Some environment's `thaw_due` is set (`thaw_now` has SIGCONTs to send).
    thaws_due: bool,
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
    /// The log of each running invocation whose invoker asked for the tail
    /// (`X-Amz-Log-Type: Tail`): START, its environment's lines, END, REPORT.
    tails: Vec<(crate::id::RequestId, EnvId, Vec<u8>)>,
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
    events: Vec<(Micros, EnvId, PlatformEvent)>,
    /// When the waiting events are rendered.
    events_due: Option<Micros>,
    deferred: VecDeque<Deferred>,
    /// Connections that were left with part of an invocation's reply to write (the invoker's
    /// answer, the runtime's 202): no freeze until they are written (`offer_freeze`).
    unwritten: Vec<Key>,
    to_process: Vec<Key>,
    lingering: Vec<(Micros, Key)>,
    finished_at: Option<Micros>,
    /// An environment may freeze: the next turn polls without waiting, and freezes it only if
    /// nothing came (an invocation already on the wire is taken first).
    look_before_freeze: bool,
    /// How many sources (connections, pipes, pidfds) may be open before a new connection
    /// closes an idle one: the open-file limit, less what was open at start, less
    /// `FD_RESERVE` for the function.
    fd_budget: usize,
    /// Connections wait in the backlog for a free descriptor.
    accept_blocked: bool,
    /// The open-file limit was reached once, and said so.
    fd_warned: bool,
    /// lambda-sim is a child subreaper (the CLI makes it one): its own children that it did not
    /// spawn are orphans of the function's processes.
    subreaper: bool,
    /// The buffers of every walk of `/proc`.
    walk: crate::process::ProcWalk,
}

impl Reactor {
    /// Binds both listeners and prepares the core. Nothing runs until [`Reactor::run`].
    pub(crate) fn bind(
        config: &Config,
    ) -> io::Result<(Reactor, Control, Option<mpsc::Receiver<String>>)> {
        // The one place the simulator captures both clocks: the monotonic start and the
        // wall-clock epoch it corresponds to: one clock, so wall-clock times never drift from
        // durations.
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
        let invoke_addr = invoke_listener.local_addr()?;
        // The first environment's Runtime API where asked; the others' on free ports of the
        // same address.
        let mut runtime_listeners = Vec::with_capacity(config.concurrency.max(1));
        for i in 0..config.concurrency.max(1) {
            let mut addr = config.runtime_api_addr;
            if i > 0 {
                addr.set_port(0);
            }
            runtime_listeners.push(bind(addr, "Runtime API")?);
        }
        let runtime_addr = runtime_listeners[0].local_addr()?;
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
        for (i, listener) in runtime_listeners.iter_mut().enumerate() {
            registry.register(listener, Token(RUNTIME_LISTENERS + i), Interest::READABLE)?;
        }
        let waker = Arc::new(Waker::new(registry, WAKER)?);
        let (tx, rx) = mpsc::channel();

        let timer = crate::sys::timerfd()?;
        registry.register(&mut SourceFd(&timer.as_raw_fd()), TIMER, Interest::READABLE)?;

        let (mut sink, lines_rx) = Sink::new(config.log_output);
        if log::max_level() >= log::LevelFilter::Info {
            sink.write_at_once();
        }
        if config.concurrency > 1 {
            sink.tag_environments();
        }
        if let Some(fd) = sink.nonblocking_fd() {
            let watched =
                registry.register(&mut SourceFd(&fd.as_raw_fd()), SINK, Interest::WRITABLE);
            if watched.is_err() {
                sink.unwatchable();
            }
        }

        if let Some(conflict) = config.conflict() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, conflict));
        }
        let seed = config.seed.unwrap_or_else(crate::sys::os_random_u64);
        let extensions = config.all_extensions()?;
        let core = Lifecycle::new(config.lifecycle(&extensions, seed, epoch_us), Micros::ZERO);
        let mut ctx = api::Context::of(config, epoch_us);
        ctx.listeners = vec![invoke_addr];
        let mut envs = Vec::with_capacity(runtime_listeners.len());
        for (i, listener) in runtime_listeners.into_iter().enumerate() {
            let addr = listener.local_addr()?;
            ctx.listeners.push(addr);
            // Each environment's stream has a name of its own, as on Lambda.
            let log_stream = log_stream_name(
                epoch_us,
                seed.wrapping_add(i as u64),
                &config.function_version,
            );
            envs.push(EnvIo::new(
                listener,
                addr,
                children_address(addr).to_string(),
                log_stream,
            ));
        }
        let launch = Launches::new(config, extensions)?;
        let reactor = Reactor {
            poll,
            start,
            core,
            ctx,
            invoke_listener,
            invoke_addr,
            envs,
            thaws_due: false,
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
            invoke_body: Default::default(),
            lines: String::new(),
            events: Vec::new(),
            events_due: None,
            deferred: VecDeque::new(),
            unwritten: Vec::new(),
            stream_limits: config.streaming,
            timeouts: config.timeouts,
            sweep_at: None,
            throttled: Vec::new(),
            tails: Vec::new(),
            events_invoked: 0,
            outcomes: VecDeque::new(),
            outcome_waiters: Vec::new(),
            to_process: Vec::new(),
            lingering: Vec::new(),
            finished_at: None,
            look_before_freeze: false,
            fd_budget: descriptor_budget(),
            accept_blocked: false,
            fd_warned: false,
            subreaper: crate::sys::is_child_subreaper(),
            walk: crate::process::ProcWalk::default(),
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

    /// The first environment's Runtime API's bound address.
    pub(crate) fn runtime_api_addr(&self) -> SocketAddr {
        self.envs[0].addr
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
            let looked = std::mem::take(&mut self.look_before_freeze);
            let timeout = match self.next_deadline() {
                _ if looked => Some(std::time::Duration::ZERO),
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
            self.accept_waiting(now);
            self.walk_strays_due(now);
            if self.sweep_at.is_some_and(|at| at <= now) {
                self.sweep(now);
            }
            self.release_throttled(now);
            self.pump_telemetry(now);
            for env in env_ids(self.envs.len()) {
                if self.core.may_freeze(env) {
                    match looked {
                        true => self.offer_freeze(now, env),
                        false => self.look_before_freeze = true,
                    }
                }
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
        let clean = self.reap_the_rest();
        self.sink.finish();
        clean
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
            self.stray_walk_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn on_event(&mut self, now: Micros, event: &mio::event::Event) {
        match event.token() {
            INVOKE_LISTENER => self.accept(now, Listener::Invoke, EnvId(0)),
            Token(t) if t >= RUNTIME_LISTENERS => {
                let env = t - RUNTIME_LISTENERS;
                if env < self.envs.len() {
                    self.accept(now, Listener::Runtime, EnvId(env as u16));
                }
            }
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

    fn begin_shutdown(&mut self, now: Micros) {
        self.core.shutdown(now);
        self.drain(now);
    }
}

/// How many sources the reactor may hold before it frees descriptors: the open-file limit,
/// less the descriptors open now (the host's, the listeners, the poll's), less
/// [`requests::FD_RESERVE`].
fn descriptor_budget() -> usize {
    let limit =
        crate::sys::open_file_limit().map_or(1024, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let open = std::fs::read_dir("/proc/self/fd").map_or(32, |d| d.count());
    let room = limit.saturating_sub(open);
    // Under a very low limit, half of what is left still serves.
    room.saturating_sub(requests::FD_RESERVE).max(room / 2)
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

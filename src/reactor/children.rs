//! The function's processes: spawning the runtime and external extensions with Lambda's
//! environment, reading their output, learning of their exits (pidfd, or polling), and killing
//! what is left when the reactor goes.

use std::ffi::OsString;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use mio::unix::SourceFd;
use mio::{Interest, Token};

use crate::config::{Config, ExtensionCommand};
use crate::lifecycle::{ChildId, EnvId, InitType, Role};
use crate::process::{FunctionEnv, Launch};
use crate::time::Micros;
use crate::{lifecycle, process};

use super::logs::LineOut;
use super::slab::Key;
use super::{FIRST_SOURCE, Reactor, Source};

/// The longest line of function output kept whole: 256 KiB, CloudWatch Logs' limit on a log
/// event when Lambda's log pipeline was built on it
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html>).
/// A longer line becomes several, each of at most this many bytes, cut where a UTF-8
/// character begins.
pub(super) const MAX_LINE_BYTES: usize = 256 * 1024;

/// How many dead children are remembered (for their peak memory in a late REPORT).
const DEAD_CHILDREN_KEPT: usize = 4;

/// How often children without a pidfd are checked for an exit.
const EXIT_POLL: Micros = Micros(10_000);

#[derive(Debug)]
pub(super) struct ChildProc {
    pub(super) id: ChildId,
    /// The environment it belongs to.
    pub(super) env: EnvId,
    /// An extension (its lines are `extension` records), not the runtime.
    pub(super) extension: bool,
    /// `the runtime` or `extension NAME`, for messages.
    pub(super) what: String,
    pub(super) pid: i32,
    pub(super) alive: bool,
    /// No pidfd: its exit is found by polling (`poll_child_exits`).
    pub(super) polled: bool,
    /// Its status file, kept open to read its peak RSS for each REPORT.
    pub(super) rss: Option<process::PeakRss>,
    pub(super) max_rss_kib: u64,
}

/// How to start the children.
#[derive(Clone, Debug)]
pub(super) struct Launches {
    /// The bootstrap, unless the runtime is external.
    pub(super) runtime: Option<(std::path::PathBuf, Vec<String>)>,
    /// The external extensions, by the index [`Role::Extension`] carries.
    pub(super) extensions: Vec<ExtensionCommand>,
    pub(super) cwd: std::path::PathBuf,
    /// The variables every environment's processes get; each environment sets its own Runtime
    /// API and log stream in them.
    pub(super) env: FunctionEnv,
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

/// Reaps `pid` if it has exited; a failure to reap counts as an exit with code -1.
pub(super) fn try_reap(pid: i32) -> Option<process::Exit> {
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

/// A relative path to the bootstrap (`./bootstrap`) names a file relative to where the
/// simulator was started; exec would resolve it relative to the child's working directory (the
/// task root) instead. Bare names (`python3`) are left for exec to find on `PATH`.
pub(super) fn absolute_program(program: &std::path::Path) -> std::path::PathBuf {
    let has_dir = program.components().count() > 1;
    match std::env::current_dir() {
        Ok(cwd) if has_dir && program.is_relative() => cwd.join(program),
        _ => program.to_path_buf(),
    }
}

/// The address children connect to: an unspecified bind address (`0.0.0.0`, `::`) is reached
/// through loopback.
pub(super) fn children_address(bound: SocketAddr) -> SocketAddr {
    let mut addr = bound;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// `2026/11/26/[$LATEST]<32 hex>`, as Lambda names log streams: the date, the function
/// version in brackets (`[7]` for version 7), and a random id
/// (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html>).
pub(super) fn log_stream_name(epoch_us: u64, seed: u64, version: &str) -> String {
    let day = crate::time::Civil::from_epoch_micros(epoch_us);
    let mut name = format!(
        "{:04}/{:02}/{:02}/[{version}]",
        day.year, day.month, day.day
    );
    let mut hex = [0u8; 32];
    crate::id::Rng::from_seed(seed ^ 0x6c6f_6773_7472_6561).hex_into(&mut hex);
    name.extend(hex.iter().map(|b| char::from(*b)));
    name
}

impl Launches {
    /// How to start `config`'s runtime and `extensions` (every external one, from the command
    /// line and the extensions directory).
    pub(super) fn new(config: &Config, extensions: Vec<ExtensionCommand>) -> io::Result<Launches> {
        // The PATH the children will search, as `process::spawn` takes it.
        let path = config
            .env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| OsString::from(v))
            .or_else(|| {
                config
                    .clean_env
                    .then(|| OsString::from(process::LAMBDA_PATH))
            })
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        let check = |what: &str, program: &std::path::Path| {
            process::resolve_executable(what, program, &path)
                .map(|_| absolute_program(program))
                .map_err(|message| io::Error::new(io::ErrorKind::NotFound, message))
        };
        let runtime = match &config.bootstrap {
            Some(b) => Some((check("bootstrap", &b.program)?, b.args.clone())),
            None => None,
        };
        let extensions = extensions
            .into_iter()
            .map(|e| {
                let program = check(&format!("extension {}:", e.name), &e.program)?;
                Ok(ExtensionCommand { program, ..e })
            })
            .collect::<io::Result<_>>()?;
        let task_root = config.effective_task_root();
        Ok(Launches {
            runtime,
            extensions,
            cwd: task_root.clone(),
            env: FunctionEnv {
                runtime_api: String::new(),
                function_name: config.function_name.clone(),
                version: config.function_version.clone(),
                memory_mb: config.memory_mb,
                region: config.region.clone(),
                log_stream: String::new(),
                task_root: task_root.display().to_string(),
                handler: config.effective_handler(),
                max_concurrency: config.max_concurrency,
                extra: config.env.clone(),
                clean: config.clean_env,
            },
        })
    }
}

impl Reactor {
    /// Starts child `child` of `env` (the core's [`lifecycle::Action::Spawn`]).
    #[inline(never)]
    pub(super) fn spawn(
        &mut self,
        now: Micros,
        env: EnvId,
        child: ChildId,
        role: Role,
        init_type: InitType,
    ) -> Result<(), String> {
        if role == Role::Runtime && self.subreaper && self.alone(env) {
            // A new environment starts with nothing left of the last one: the orphans its
            // processes left (a runtime that exited, say) die now, as Lambda destroys a sandbox
            // whole. (Orphans cannot be told apart by environment: with another environment
            // running, they are left to the shutdown.)
            let orphans = self.adopted_tree();
            process::signal_each(&orphans, libc::SIGKILL);
        }
        self.spawn_child(now, env, child, role, init_type)
    }

    /// Signals child `child`'s process group (the core's [`lifecycle::Action::Signal`]).
    #[inline(never)]
    pub(super) fn signal_child(&mut self, child: ChildId, signal: lifecycle::Signal) {
        let Some(proc) = self.children.iter_mut().find(|c| c.id == child && c.alive) else {
            return;
        };
        // Its peak memory, while it can still be read: the REPORT of the invocation that ends
        // with this signal is rendered after it has died.
        if let Some(kib) = proc.rss.as_ref().and_then(process::PeakRss::read) {
            proc.max_rss_kib = proc.max_rss_kib.max(kib);
        }
        let pid = proc.pid;
        if let Err(e) = process::signal_group(pid, signal) {
            log::warn!("cannot signal {} (pid {pid}): {e}", proc.what);
        }
        if signal == lifecycle::Signal::Kill {
            // Whatever left the group dies with it, the child itself included.
            let tree = self.tree_of(pid);
            process::signal_each(&tree, libc::SIGKILL);
        }
    }

    fn spawn_child(
        &mut self,
        now: Micros,
        env: EnvId,
        child: ChildId,
        role: Role,
        init_type: InitType,
    ) -> Result<(), String> {
        let launch = &self.launch;
        let io = &self.envs[env.index()];
        let vars = FunctionEnv {
            runtime_api: io.runtime_api.clone(),
            log_stream: io.log_stream.clone(),
            ..launch.env.clone()
        };
        let (what, spec) = match role {
            Role::Runtime => {
                let Some((program, args)) = &launch.runtime else {
                    return Err("no bootstrap configured".into());
                };
                let spec = Launch {
                    program: program.clone(),
                    args: args.clone(),
                    cwd: launch.cwd.clone(),
                    env: vars.runtime_vars(init_type),
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
                    env: vars.extension_vars(init_type),
                    remove: process::EXTENSIONS_DO_NOT_GET.to_vec(),
                    clean_env: launch.env.clean,
                    poll_exit: self.poll_exits,
                };
                (format!("extension {}", ext.name), spec)
            }
        };
        let spawned = process::spawn(&spec).map_err(|e| {
            // Lambda words it as Go's os/exec does. (ASCII lowercasing: the OS's messages are
            // ASCII, and Unicode's case tables would cost the binary 16 KB.)
            let reason = e.to_string();
            let reason = reason
                .split(" (os error")
                .next()
                .unwrap_or(&reason)
                .to_ascii_lowercase();
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
            env,
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
    pub(super) fn child_output(&mut self, now: Micros, key: Key) {
        let (extension, env) = match self.sources.get(key) {
            Some(Source::Output { child, .. }) => {
                match self.children.iter().find(|c| c.id == *child) {
                    Some(c) => (c.extension, c.env),
                    None => (false, EnvId(0)),
                }
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
                tails: &mut self.tails,
                env,
                hub: to_hub.then_some((&mut self.hub, &self.ctx)),
                now,
                extension,
                json: self.ctx.json_logs.then_some(&self.ctx),
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
                        lines.emit_long(partial);
                        lines.emit(partial);
                    }
                    partial.extend_from_slice(rest);
                    lines.emit_long(partial);
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
    pub(super) fn child_exit(&mut self, now: Micros, key: Key) {
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
    pub(super) fn poll_child_exits(&mut self, now: Micros) {
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
        let (extension, env) = (proc.extension, proc.env);
        if !extension && self.subreaper && self.alone(env) {
            // The runtime's exit ends its environment (as on Lambda, whatever the phase): the
            // orphans its processes left die with it. (They cannot be told apart by
            // environment: with another environment running, they are left to the shutdown.)
            let orphans = self.adopted_tree();
            process::signal_each(&orphans, libc::SIGKILL);
        }
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
        // A stream closed: what its subscribers have buffered goes now (<https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html>).
        self.hub.flush();
        self.core.handle_child_exit(now, child, exit.status);
    }

    pub(super) fn kill_children(&mut self) {
        let strays = self.function_tree();
        for proc in self.children.iter().filter(|c| c.alive) {
            let _ = process::kill_group(proc.pid);
        }
        process::signal_each(&strays, libc::SIGKILL);
    }

    /// Every process of the function lambda-sim can see: the live children (one may have
    /// moved to another group), their descendants whatever their group or session, and, as a
    /// child subreaper, the orphans it adopted and theirs. (Without the subreaper, as when
    /// embedded, an orphan is init's.)
    pub(super) fn function_tree(&mut self) -> Vec<i32> {
        let mut tree = Vec::new();
        self.function_tree_into(&mut tree);
        tree
    }

    /// [`Self::function_tree`], appended to `out`.
    pub(super) fn function_tree_into(&mut self, out: &mut Vec<i32>) {
        let live = self.children.iter().filter(|c| c.alive).map(|c| c.pid);
        self.walk.tree(live, out);
        self.adopted_into(out);
    }

    /// `root`, its descendants, and (as a child subreaper) the adopted orphans and theirs.
    pub(super) fn tree_of(&mut self, root: i32) -> Vec<i32> {
        let mut tree = Vec::new();
        self.walk.tree([root], &mut tree);
        self.adopted_into(&mut tree);
        tree
    }

    /// The orphans lambda-sim adopted as a child subreaper, and their descendants.
    pub(super) fn adopted_tree(&mut self) -> Vec<i32> {
        let mut tree = Vec::new();
        self.adopted_into(&mut tree);
        tree
    }

    /// [`Self::adopted_tree`], appended to `out`; nothing when not a child subreaper.
    pub(super) fn adopted_into(&mut self, out: &mut Vec<i32>) {
        if self.subreaper {
            let children = &self.children;
            self.walk
                .adopted(|pid| children.iter().any(|c| c.pid == pid), out);
        }
    }

    /// At the end of a run: kills what is left of the function (processes that left their
    /// group, orphans adopted) and waits up to a second for it to be gone. An error if anything
    /// lives on: the shutdown was not clean.
    pub(super) fn reap_the_rest(&mut self) -> io::Result<()> {
        let mut left = self.function_tree();
        left.retain(|pid| self.walk.is_running(*pid));
        if left.is_empty() {
            return Ok(());
        }
        // Its own children were killed at the shutdown's deadline and may be dying still;
        // anything else was left behind.
        let strays: Vec<i32> = left
            .iter()
            .copied()
            .filter(|pid| !self.children.iter().any(|c| c.pid == *pid))
            .collect();
        if !strays.is_empty() {
            log::warn!(
                "the function left {} process(es) running after its shutdown (pids {strays:?}): killing them",
                strays.len()
            );
        }
        for _ in 0..100 {
            process::signal_each(&left, libc::SIGKILL);
            // Adopted ones are reaped as they are listed; others are gone once dead.
            // A zombie is dead (the children are reaped on the way out, in `drop`).
            left = self.function_tree();
            left.retain(|pid| self.walk.is_running(*pid));
            if left.is_empty() {
                return Ok(());
            }
            // At exit only, and only when something was left behind.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Err(io::Error::other(format!(
            "processes of the function outlived the shutdown: pids {left:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::time::Micros;

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
    fn log_stream_names_look_like_lambdas() {
        let name = log_stream_name(1_764_177_000_000_000, 1, "$LATEST");
        assert!(name.starts_with("2025/11/26/[$LATEST]"), "{name}");
        assert_eq!(name.len(), "2025/11/26/[$LATEST]".len() + 32);
        let name = log_stream_name(1_764_177_000_000_000, 1, "7");
        assert!(name.starts_with("2025/11/26/[7]"), "{name}");
    }
}

//! Each execution environment's IO: its own Runtime API listener, the variables its processes
//! start with (its `AWS_LAMBDA_RUNTIME_API`, its log stream), and its freeze: SIGSTOP and
//! SIGCONT to its processes, and the walks of `/proc` that find those a group signal misses.
//! The lifecycle core decides when an environment freezes; this carries it out.

use std::net::SocketAddr;

use mio::net::TcpListener;

use crate::lifecycle::EnvId;
use crate::process;
use crate::time::Micros;

use super::Reactor;

/// How often a freeze may walk `/proc` for the function's processes outside its children's
/// groups (`Reactor::signal_frozen`).
pub(super) const STRAY_WALK_PERIOD: Micros = Micros(50_000);

/// What the reactor keeps for one execution environment.
#[derive(Debug)]
pub(super) struct EnvIo {
    /// Its Runtime API and Extensions API.
    pub(super) listener: TcpListener,
    pub(super) addr: SocketAddr,
    /// `AWS_LAMBDA_RUNTIME_API` for its processes: `addr`, reachable (see `children_address`).
    pub(super) runtime_api: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`: Lambda names each environment's stream.
    pub(super) log_stream: String,
    /// The core has thawed it; SIGCONT goes once the actions that came with the thaw are
    /// carried out (`drain`'s end), so that the bytes they write wait in the stopped
    /// processes' sockets. A runtime woken by SIGCONT before its `/next` answer would sleep
    /// again, then wake for the answer: two wake-ups instead of one.
    pub(super) thaw_due: bool,
    /// The processes stopped one by one at its last freeze (`signal_frozen`).
    pub(super) frozen_strays: Vec<i32>,
    /// When `/proc` was last walked for them...
    pub(super) strays_walked: Option<Micros>,
    /// ...and when the walk a freeze skipped is due, if the environment is still frozen then.
    pub(super) stray_walk_due: Option<Micros>,
}

impl EnvIo {
    pub(super) fn new(
        listener: TcpListener,
        addr: SocketAddr,
        runtime_api: String,
        log_stream: String,
    ) -> EnvIo {
        EnvIo {
            listener,
            addr,
            runtime_api,
            log_stream,
            thaw_due: false,
            frozen_strays: Vec::new(),
            strays_walked: None,
            stray_walk_due: None,
        }
    }
}

/// The environments' ids, in order (there are at most 1000: `--concurrency`'s bound).
pub(super) fn env_ids(count: usize) -> impl Iterator<Item = EnvId> {
    (0..count).map(|i| EnvId(i as u16))
}

impl Reactor {
    /// Freezes `env` (the core's [`Action::Freeze`](crate::lifecycle::Action::Freeze)).
    #[inline(never)]
    pub(super) fn freeze(&mut self, now: Micros, env: EnvId) {
        self.thaw_now();
        self.signal_frozen(env, Some(now));
        self.hub.set_frozen(env, true);
        log::debug!("environment {} frozen", env.index() + 1);
    }

    /// Thaws `env`: its telemetry flows again now, its SIGCONT goes at the drain's end
    /// (`thaw_due`).
    #[inline(never)]
    pub(super) fn thaw(&mut self, env: EnvId) {
        self.envs[env.index()].thaw_due = true;
        self.thaws_due = true;
        self.hub.set_frozen(env, false);
        log::debug!("environment {} thawed", env.index() + 1);
    }

    /// Sends the SIGCONT of every thaw that is due.
    pub(super) fn thaw_now(&mut self) {
        if !std::mem::take(&mut self.thaws_due) {
            return;
        }
        for env in env_ids(self.envs.len()) {
            if std::mem::take(&mut self.envs[env.index()].thaw_due) {
                self.signal_frozen(env, None);
            }
        }
    }

    /// SIGSTOP (`Some(now)`) or SIGCONT (`None`) to the process group of every live child of
    /// `env`, then to every other process of it: one that left its group (`setsid()`), or,
    /// with lambda-sim a child subreaper, an orphan it adopted. The ones stopped are the ones
    /// continued.
    ///
    /// Finding those takes a walk of `/proc` (a few microseconds a process), so a freeze walks
    /// at most every [`STRAY_WALK_PERIOD`]: in between, it stops the processes the last walk
    /// found, and the walk it skipped runs at the period's end if the environment is still
    /// frozen (`walk_strays_due`). A process that leaves its group is stopped within that
    /// period of a freeze.
    pub(super) fn signal_frozen(&mut self, env: EnvId, freeze: Option<Micros>) {
        for proc in self.children.iter().filter(|c| c.alive && c.env == env) {
            if let Err(e) = process::freeze_group(proc.pid, freeze.is_some()) {
                log::warn!(
                    "cannot freeze or thaw {} (pid {}): {e}",
                    proc.what,
                    proc.pid
                );
            }
        }
        let io = &mut self.envs[env.index()];
        let Some(now) = freeze else {
            io.stray_walk_due = None;
            process::signal_each(&io.frozen_strays, libc::SIGCONT);
            return;
        };
        match io.strays_walked {
            Some(at) if now.since(at) < STRAY_WALK_PERIOD => {
                io.stray_walk_due = Some(at + STRAY_WALK_PERIOD);
            }
            _ => {
                io.strays_walked = Some(now);
                self.walk_strays(env);
            }
        }
        process::signal_each(&self.envs[env.index()].frozen_strays, libc::SIGSTOP);
    }

    /// Finds `env`'s processes that a signal to its children's groups misses (usually none:
    /// then a freeze costs no more than the group signals), into its `frozen_strays`. Its
    /// vector and the walk's buffers are reused: a walk allocates nothing.
    fn walk_strays(&mut self, env: EnvId) {
        let mut tree = std::mem::take(&mut self.envs[env.index()].frozen_strays);
        tree.clear();
        let live = self
            .children
            .iter()
            .filter(|c| c.alive && c.env == env)
            .map(|c| c.pid);
        self.walk.tree(live, &mut tree);
        // Orphans cannot be told apart by environment: they are stopped only when no other
        // environment has a process running.
        if self.alone(env) {
            self.adopted_into(&mut tree);
        }
        let children = &self.children;
        let walk = &mut self.walk;
        // A live child leads its own group (it was spawned so), and one whose group is none
        // of theirs is missed by the group signals.
        tree.retain(|&pid| {
            walk.group_of(pid)
                .is_some_and(|group| !children.iter().any(|c| c.alive && c.pid == group))
        });
        self.envs[env.index()].frozen_strays = tree;
    }

    /// Whether no environment but `env` has a live process that is not frozen.
    #[inline(never)]
    pub(super) fn alone(&self, env: EnvId) -> bool {
        self.children
            .iter()
            .filter(|c| c.alive && c.env != env)
            .all(|c| self.core.is_frozen(c.env))
    }

    /// The walks a freeze skipped, for each environment still frozen: what they find is
    /// stopped now, and continued at the thaw.
    pub(super) fn walk_strays_due(&mut self, now: Micros) {
        for env in env_ids(self.envs.len()) {
            let io = &mut self.envs[env.index()];
            if io.stray_walk_due.is_some_and(|at| at <= now) {
                io.stray_walk_due = None;
                io.strays_walked = Some(now);
                self.walk_strays(env);
                process::signal_each(&self.envs[env.index()].frozen_strays, libc::SIGSTOP);
            }
        }
    }

    /// The earliest walk a freeze skipped.
    pub(super) fn stray_walk_due(&self) -> Option<Micros> {
        self.envs.iter().filter_map(|e| e.stray_walk_due).min()
    }
}

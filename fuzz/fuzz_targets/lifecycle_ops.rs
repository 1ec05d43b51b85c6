//! The lifecycle core under arbitrary sequences of events, with a fake clock: it never panics
//! and keeps its promises after every step (quinn-proto's `streams` target is the model).
#![no_main]

use std::collections::{HashMap, HashSet};

use arbitrary::Arbitrary;
use lambda_sim::Micros;
use lambda_sim::internals::id::{RequestId, Uuid};
use lambda_sim::lifecycle::{
    Action, ChildId, Config, EnvId, Events, ExitStatus, ExtensionErrorKind, FunctionError,
    InitMode, InvokeRequest, Lifecycle, PlatformEvent, RuntimeMode, RuntimeResult, WaiterId, Wire,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Advance(u16),
    Invoke(u8),
    /// An `Event` invocation from invoker `n`: one reply per attempt, retries 20 ms apart.
    Event(u8),
    Next(u8),
    Respond {
        current: bool,
        error: bool,
        /// Which of the invocations in flight, with Managed Instances.
        which: u8,
    },
    TooLarge,
    Truncated,
    /// `/init/error` from environment `n % envs`.
    InitError(u8),
    /// SnapStart: `/restore/next` from waiter `n % 16`, as `Next`.
    RestoreNext(u8),
    /// SnapStart: `/restore/error` from environment `n % envs`.
    RestoreError(u8),
    Closed(u8),
    ChildExit {
        current: bool,
        signal: bool,
    },
    SpawnFailed,
    Shutdown,
    /// An extension registers as name `name % 6`: names 0-2 are the external ones when the
    /// setup has them.
    Register {
        env: u8,
        name: u8,
        invoke: bool,
        shutdown: bool,
    },
    ExtNext {
        which: u8,
        waiter: u8,
    },
    ExtError {
        which: u8,
        exit: bool,
    },
    /// One of the live children (runtime or extension) exits.
    AnyChildExit(u8),
    /// The reactor reports what it has on the wire (it does so while `may_freeze` holds; the
    /// fuzzer does so at any time).
    Wire {
        env: u8,
        replies: bool,
        batches: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Setup {
    external: bool,
    eager: bool,
    max_queue: u8,
    max_queue_bytes: u8,
    timeout_ms: u16,
    externals: u8,
    freeze: bool,
    /// 0: one invocation at a time; else Managed Instances with `1 + n % 4` at once.
    managed: u8,
    /// `1 + n % 3` environments.
    envs: u8,
    /// Tenant isolation: invoker `n` is tenant `n % 3`.
    tenants: bool,
    /// SnapStart.
    snap: bool,
    ops: Vec<Op>,
}

fuzz_target!(|setup: Setup| {
    let mut now = Micros::ZERO;
    let mut lc = Lifecycle::new(
        Config {
            timeout: Micros::from_millis(u64::from(setup.timeout_ms) + 1),
            init_timeout: Micros::from_millis(500),
            max_queue: usize::from(setup.max_queue % 8),
            // Payloads are a byte each: a small bound is reached as often as the count's.
            max_queue_bytes: usize::from(setup.max_queue_bytes % 8),
            max_event_queue: usize::from(setup.max_queue % 4),
            max_retry_attempts: setup.max_queue_bytes % 3,
            max_event_age: Micros::from_millis(100),
            retry_delay: Micros::from_millis(20),
            runtime: if setup.external {
                RuntimeMode::External
            } else {
                RuntimeMode::Process
            },
            init: if setup.eager {
                InitMode::Eager
            } else {
                InitMode::OnDemand
            },
            extensions: (0..setup.externals % 4).map(name).collect(),
            freeze: setup.freeze,
            concurrency: 1 + usize::from(setup.envs % 3),
            max_concurrency: (setup.managed > 0).then(|| 1 + u32::from(setup.managed % 4)),
            per_tenant: setup.tenants,
            snap_start: setup.snap,
            seed: 1,
            epoch_us: 0,
        },
        now,
    );
    let mut state = Invariants {
        slots: if setup.managed > 0 {
            1 + usize::from(setup.managed % 4)
        } else {
            1
        },
        envs: 1 + usize::from(setup.envs % 3),
        per_tenant: setup.tenants && !setup.external,
        ..Invariants::default()
    };
    state.drain(&mut lc);
    for op in setup.ops {
        match op {
            Op::Advance(ms) => {
                now = now + Micros::from_millis(u64::from(ms));
                if lc.poll_timeout().is_some_and(|at| at <= now) {
                    lc.handle_timeout(now);
                }
            }
            Op::Invoke(n) => {
                let invoker = WaiterId(1000 + u64::from(n));
                if state.pending_invokers.contains(&invoker) {
                    continue; // one request per connection at a time
                }
                let request = InvokeRequest {
                    payload: vec![n],
                    // Odd invokers ask for the log tail: answered after the report.
                    log_tail: n % 2 == 1,
                    tenant_id: setup.tenants.then(|| format!("t{}", n % 3)),
                    ..InvokeRequest::default()
                };
                if lc.invoke(now, invoker, request).is_ok() {
                    state.pending_invokers.insert(invoker);
                }
            }
            Op::Event(n) => {
                let invoker = WaiterId(5000 + u64::from(n));
                if state.pending_invokers.contains(&invoker) {
                    continue;
                }
                let request = InvokeRequest {
                    payload: vec![n],
                    tenant_id: setup.tenants.then(|| format!("t{}", n % 3)),
                    ..InvokeRequest::default()
                };
                if lc.invoke_event(now, invoker, request).is_ok() {
                    state.pending_invokers.insert(invoker);
                }
            }
            Op::Next(n) => {
                let waiter = WaiterId(u64::from(n % 16));
                if state.parked.contains(&waiter) {
                    continue;
                }
                if lc
                    .handle_runtime_next(now, state.env_of(waiter), waiter)
                    .is_ok()
                {
                    state.parked.insert(waiter);
                }
            }
            Op::Respond {
                current,
                error,
                which,
            } => {
                let (env, id) = state.in_flight(&lc, current, which);
                let result = if error {
                    RuntimeResult::Error(FunctionError {
                        error_type: "Runtime.X".into(),
                        body: b"{}".to_vec(),
                        content_type: None,
                    })
                } else {
                    RuntimeResult::Response {
                        body: b"ok".to_vec(),
                        content_type: None,
                    }
                };
                let _ = lc.handle_runtime_result(now, env, id, result);
            }
            Op::TooLarge => {
                let (env, id) = state.in_flight(&lc, true, 0);
                let _ = lc.handle_runtime_result(now, env, id, RuntimeResult::TooLarge);
            }
            Op::Truncated => {
                let (env, id) = state.in_flight(&lc, true, 0);
                let _ = lc.handle_runtime_result(now, env, id, RuntimeResult::Truncated);
            }
            Op::RestoreNext(n) => {
                let waiter = WaiterId(u64::from(n % 16));
                if state.parked.contains(&waiter) {
                    continue;
                }
                if lc
                    .handle_restore_next(now, state.env_of(waiter), waiter)
                    .is_ok()
                {
                    state.parked.insert(waiter);
                }
            }
            Op::RestoreError(n) => {
                let _ = lc.handle_restore_error(
                    now,
                    state.env(n),
                    FunctionError {
                        error_type: "Runtime.Z".into(),
                        body: Vec::new(),
                        content_type: None,
                    },
                );
            }
            Op::InitError(n) => {
                let _ = lc.handle_init_error(
                    now,
                    state.env(n),
                    FunctionError {
                        error_type: "Runtime.Y".into(),
                        body: Vec::new(),
                        content_type: None,
                    },
                );
            }
            Op::Closed(n) => {
                let waiter = if n % 2 == 0 {
                    WaiterId(u64::from(n % 16))
                } else {
                    WaiterId(1000 + u64::from(n))
                };
                lc.handle_waiter_closed(now, waiter);
                state.parked.remove(&waiter);
                state.pending_invokers.remove(&waiter);
            }
            Op::ChildExit { current, signal } => {
                let child = if current {
                    state.last_child
                } else {
                    ChildId(u64::MAX)
                };
                let status = if signal {
                    ExitStatus::Signal(9)
                } else {
                    ExitStatus::Code(1)
                };
                lc.handle_child_exit(now, child, status);
            }
            Op::SpawnFailed => lc.handle_spawn_failed(now, state.last_child, "gone".into()),
            Op::Shutdown => lc.shutdown(now),
            Op::Register {
                env,
                name: n,
                invoke,
                shutdown,
            } => {
                let events = Events { invoke, shutdown };
                let env = state.env(env);
                if let Ok(id) = lc.handle_extension_register(now, env, &name(n % 6), events) {
                    assert!(
                        !state.extensions.iter().any(|(e, _)| *e == id),
                        "an identifier given twice"
                    );
                    state.extensions.push((id, env));
                }
            }
            Op::ExtNext { which, waiter } => {
                let waiter = WaiterId(100 + u64::from(waiter % 16));
                if state.parked.contains(&waiter) {
                    continue;
                }
                let (id, env) = state.extension(which);
                if lc.handle_extension_next(now, env, waiter, id).is_ok() {
                    state.parked.insert(waiter);
                    state.waiter_env.insert(waiter, env);
                }
            }
            Op::ExtError { which, exit } => {
                let kind = if exit {
                    ExtensionErrorKind::Exit
                } else {
                    ExtensionErrorKind::Init
                };
                let (id, env) = state.extension(which);
                let _ = lc.handle_extension_error(now, env, id, kind, "E".into());
            }
            Op::Wire {
                env,
                replies,
                batches,
            } => {
                let env = state.env(env);
                let may = lc.may_freeze(env);
                let wire = Wire {
                    unwritten_replies: usize::from(replies),
                    batches_in_flight: usize::from(batches),
                };
                lc.handle_wire(now, env, wire);
                let froze = lc.poll_action();
                match &froze {
                    Some(Action::Freeze(e)) => {
                        assert_eq!(*e, env, "another environment froze");
                        assert!(may && wire.is_quiet(), "a freeze it should not have made");
                        assert!(lc.is_idle(env), "frozen while not idle");
                        state.frozen.insert(env);
                    }
                    None => assert!(!(may && wire.is_quiet()), "no freeze on a quiet wire"),
                    Some(other) => panic!("{other:?} in answer to the wire"),
                }
            }
            Op::AnyChildExit(n) => {
                if !state.alive.is_empty() {
                    let child = state.alive.remove(usize::from(n) % state.alive.len());
                    lc.handle_child_exit(now, child, ExitStatus::Code(0));
                }
            }
        }
        state.drain(&mut lc);
    }
    // Shutting down answers everyone still waiting.
    lc.shutdown(now);
    state.drain(&mut lc);
    for child in std::mem::take(&mut state.alive) {
        lc.handle_child_exit(now, child, ExitStatus::Signal(9));
        state.drain(&mut lc);
    }
    now = now + Micros::from_secs(10);
    lc.handle_timeout(now);
    state.drain(&mut lc);
    assert!(lc.is_finished(), "shutdown never finished");
    // A shutdown drops the retries still waiting: their invokers had their last reply.
    let retried: HashSet<WaiterId> = state.event_invokers.keys().copied().collect();
    state.pending_invokers.retain(|w| !retried.contains(w));
    assert!(state.frozen.is_empty(), "finished frozen");
    assert!(
        state.pending_invokers.is_empty(),
        "unanswered after shutdown: {:?}",
        state.pending_invokers
    );
});

#[derive(Default)]
struct Invariants {
    pending_invokers: HashSet<WaiterId>,
    parked: HashSet<WaiterId>,
    answered: HashMap<WaiterId, RequestId>,
    last_child: ChildId,
    /// Children spawned and not yet reported as exited.
    alive: Vec<ChildId>,
    /// Identifiers handed out at registration, and their environments.
    extensions: Vec<(Uuid, EnvId)>,
    finished: bool,
    /// The environments between a Freeze and a Thaw.
    frozen: HashSet<EnvId>,
    /// The invocations released and not yet reported, in release order, and where: at most
    /// `slots` in each environment.
    open: Vec<(RequestId, EnvId)>,
    /// How many invocations may be in flight at once in each environment.
    slots: usize,
    /// How many environments there are.
    envs: usize,
    /// The environment of each extension's `event/next` waiter.
    waiter_env: HashMap<WaiterId, EnvId>,
    /// The environment of each child.
    child_env: HashMap<ChildId, EnvId>,
    /// Those that timed out, whose late result must be refused.
    timed_out: HashSet<RequestId>,
    /// The attempts of each `Event` invocation so far.
    attempts: HashMap<RequestId, u32>,
    /// The `Event` invokers answered at least once, and their request ids.
    event_invokers: HashMap<WaiterId, RequestId>,
    /// Tenant isolation with environments of its own (not an external runtime's).
    per_tenant: bool,
    /// The tenant each environment has served since its last init.
    tenant_of: HashMap<EnvId, Option<String>>,
}

fn name(n: u8) -> String {
    format!("ext{n}")
}

impl Invariants {
    /// Environment `n % envs`.
    fn env(&self, n: u8) -> EnvId {
        EnvId((usize::from(n) % self.envs) as u16)
    }

    /// The environment a runtime's `/next` connection belongs to.
    fn env_of(&self, waiter: WaiterId) -> EnvId {
        EnvId((waiter.0 as usize % self.envs) as u16)
    }

    /// One of the invocations in flight (the `which`th) and its environment, or an id never
    /// handed out (to the first environment).
    fn in_flight(&self, lc: &Lifecycle, current: bool, which: u8) -> (EnvId, RequestId) {
        if current && !self.open.is_empty() {
            let (id, env) = self.open[usize::from(which) % self.open.len()];
            assert!(
                lc.invocation(id).is_some(),
                "{id} open but unknown to the core"
            );
            return (env, id);
        }
        let unknown = Uuid::parse("00000000-0000-4000-8000-000000000000").expect("a valid UUID");
        (EnvId(0), unknown)
    }

    /// A registered extension's identifier and environment, or one never handed out.
    fn extension(&self, which: u8) -> (Uuid, EnvId) {
        match self.extensions.len() {
            0 => (
                Uuid::parse("00000000-0000-4000-8000-000000000001").expect("a valid UUID"),
                EnvId(0),
            ),
            n => self.extensions[usize::from(which) % n],
        }
    }

    /// Whether `action` would reach a process of a frozen environment.
    fn reaches_frozen(&self, action: &Action) -> bool {
        let frozen = |env: Option<&EnvId>| env.is_some_and(|e| self.frozen.contains(e));
        match action {
            Action::Release { waiter, .. } | Action::Restored(waiter) => {
                frozen(Some(&self.env_of(*waiter)))
            }
            Action::ReleaseExtension { waiter, .. } => frozen(self.waiter_env.get(waiter)),
            Action::Signal { child, .. } => frozen(self.child_env.get(child)),
            Action::Spawn { env, .. } | Action::Freeze(env) => frozen(Some(env)),
            Action::Finished => !self.frozen.is_empty(),
            _ => false,
        }
    }

    fn drain(&mut self, lc: &mut Lifecycle) {
        while let Some(action) = lc.poll_action() {
            // After Finished, only late invokers are still answered (with Sandbox.Shutdown).
            assert!(
                !self.finished || matches!(action, Action::Reply { .. }),
                "an action after Finished: {action:?}"
            );
            // A stopped process can be released to, signalled or spawned beside, in no way.
            assert!(!self.reaches_frozen(&action), "{action:?} while frozen");
            match action {
                Action::Freeze(_) => panic!("a freeze not asked for by the wire"),
                Action::Thaw(env) => {
                    assert!(self.frozen.remove(&env), "a thaw while not frozen");
                }
                Action::Reply { invoker, reply } => {
                    // An `Event` invoker is answered once per attempt, at most three, with
                    // one request id; it waits on while a retry is due.
                    if invoker.0 >= 5000 {
                        assert!(self.pending_invokers.contains(&invoker), "{invoker:?}");
                        self.event_invokers.insert(invoker, reply.request_id);
                        let attempts = self.attempts.entry(reply.request_id).or_insert(0);
                        *attempts += 1;
                        assert!(*attempts <= 3, "a fourth attempt");
                        if lc.event_retry(reply.request_id).is_none() {
                            self.pending_invokers.remove(&invoker);
                        }
                        continue;
                    }
                    assert!(
                        self.pending_invokers.remove(&invoker),
                        "answered twice or never asked: {invoker:?}"
                    );
                    self.answered.insert(invoker, reply.request_id);
                }
                Action::Release {
                    waiter, request_id, ..
                } => {
                    // Parked waiters are answered once; a Running re-render answers a fresh /next.
                    self.parked.remove(&waiter);
                    let env = self.env_of(waiter);
                    // A release is an open one again (a re-render, one at a time only, in its
                    // own environment), or a new one while fewer than `slots` are open there.
                    match self.open.iter().find(|(id, _)| *id == request_id) {
                        Some((_, was)) => {
                            assert_eq!(*was, env, "released again in another environment");
                            assert_eq!(self.slots, 1, "released twice with Managed Instances");
                        }
                        None => {
                            // An `Event` invocation's retry runs again under its request id.
                            self.timed_out.remove(&request_id);
                            let there = self.open.iter().filter(|(_, e)| *e == env).count();
                            assert!(there < self.slots, "more than {} in flight", self.slots);
                            self.open.push((request_id, env));
                        }
                    }
                }
                Action::Event(_, PlatformEvent::TimedOut { request_id, .. }) => {
                    self.timed_out.insert(request_id);
                }
                // Tenant isolation: between two inits, an environment serves one tenant.
                Action::Event(env, PlatformEvent::InitStart { .. }) => {
                    self.tenant_of.remove(&env);
                }
                Action::Event(env, PlatformEvent::Start { tenant_id, .. }) => {
                    let owner = self
                        .tenant_of
                        .entry(env)
                        .or_insert_with(|| tenant_id.clone());
                    assert!(
                        *owner == tenant_id || !self.per_tenant,
                        "{env:?} serves {tenant_id:?} after {owner:?}"
                    );
                }
                Action::Event(env, PlatformEvent::Report { request_id, .. }) => {
                    let at = self.open.iter().position(|(id, _)| *id == request_id);
                    let at = at.expect("a report for no open invocation");
                    assert_eq!(self.open[at].1, env, "reported by another environment");
                    self.open.remove(at);
                }
                Action::Close(waiter) => {
                    self.parked.remove(&waiter);
                }
                // A restore answers a parked `/restore/next` once.
                Action::Restored(waiter) => {
                    assert!(
                        self.parked.remove(&waiter),
                        "{waiter:?} restored, not parked"
                    );
                }
                Action::ReleaseExtension { waiter, .. } => {
                    // An event answers a parked event/next, or the call that asks for it.
                    self.parked.remove(&waiter);
                }
                Action::Spawn { env, child, .. } => {
                    assert!(
                        env.index() < self.envs,
                        "an environment beyond the concurrency"
                    );
                    self.last_child = child;
                    self.alive.push(child);
                    self.child_env.insert(child, env);
                }
                Action::Finished => self.finished = true,
                Action::Signal { .. } | Action::Event(..) => {}
            }
        }
        assert_eq!(lc.env_count(), self.envs);
        for i in 0..self.envs {
            let env = EnvId(i as u16);
            assert_eq!(lc.is_frozen(env), self.frozen.contains(&env));
            let open = self.open.iter().filter(|(_, e)| *e == env).count();
            assert_eq!(lc.in_flight(env), open, "the core counts what it released");
        }
        for id in &self.timed_out {
            assert!(
                lc.invocation(*id).is_none(),
                "{id} timed out but still in flight"
            );
        }
        let parked: usize = (0..self.envs).map(|i| lc.parked(EnvId(i as u16))).sum();
        assert!(parked <= 16);
        if let Some(at) = lc.poll_timeout() {
            assert!(at < Micros::MAX);
        }
    }
}

//! Tenant isolation (`Config::per_tenant`) on the virtual clock: which invocations may name a
//! tenant, and environments that serve only the tenant they initialised for.

use super::*;

const E1: EnvId = EnvId(1);

fn tenants(concurrency: usize) -> Harness {
    Harness::new(Config {
        concurrency,
        per_tenant: true,
        ..config(RuntimeMode::Process, InitMode::OnDemand)
    })
}

impl Harness {
    fn invoke_as(&mut self, invoker: u64, tenant: Option<&str>) -> Result<RequestId, Rejection> {
        let r = self.lc.invoke(
            self.now,
            WaiterId(invoker),
            InvokeRequest {
                payload: b"{}".to_vec(),
                tenant_id: tenant.map(str::to_string),
                ..InvokeRequest::default()
            },
        );
        self.drain();
        r
    }

    /// The runtimes spawned by the last step: their environment and child id.
    fn runtimes_spawned(&self) -> Vec<(EnvId, ChildId)> {
        (self.out.iter())
            .filter_map(|a| match a {
                Action::Spawn {
                    env,
                    child,
                    role: Role::Runtime,
                    ..
                } => Some((*env, *child)),
                _ => None,
            })
            .collect()
    }

    /// Serves invocation `id` in `env` to its end: the runtime's response, then its `/next`.
    fn serve(&mut self, env: EnvId, id: RequestId, waiter: u64) {
        let result = RuntimeResult::Response {
            body: b"ok".to_vec(),
            content_type: None,
        };
        self.lc
            .handle_runtime_result(self.now, env, id, result)
            .unwrap();
        self.lc
            .handle_runtime_next(self.now, env, WaiterId(waiter))
            .unwrap();
        self.drain();
    }

    /// The invocation `env`'s runtime took with `/next` as `waiter`.
    #[track_caller]
    fn takes(&mut self, env: EnvId, waiter: u64) -> RequestId {
        self.lc
            .handle_runtime_next(self.now, env, WaiterId(waiter))
            .unwrap();
        self.drain();
        self.one_release(waiter).0
    }
}

#[test]
fn only_a_tenant_isolated_function_takes_tenant_ids_and_it_requires_them() {
    let mut h = Harness::new(config(RuntimeMode::Process, InitMode::OnDemand));
    assert_eq!(
        h.invoke_as(INVOKER, Some("blue")),
        Err(Rejection::Tenancy { required: false })
    );
    assert!(h.invoke_as(INVOKER, None).is_ok());

    let mut h = tenants(1);
    assert_eq!(
        h.invoke_as(INVOKER, None),
        Err(Rejection::Tenancy { required: true })
    );
    let event = h.lc.invoke_event(
        h.now,
        WaiterId(INVOKER),
        InvokeRequest {
            payload: b"{}".to_vec(),
            ..InvokeRequest::default()
        },
    );
    assert_eq!(event, Err(Rejection::Tenancy { required: true }));
    assert!(h.invoke_as(INVOKER, Some("blue")).is_ok());
}

#[test]
fn an_environment_serves_only_the_tenant_it_initialised_for() {
    let mut h = tenants(2);
    let blue = h.invoke_as(INVOKER, Some("blue")).unwrap();
    let spawned = h.runtimes_spawned();
    assert_eq!(spawned.len(), 1);
    assert_eq!(spawned[0].0, E0);
    assert_eq!(h.takes(E0, 200), blue);
    h.serve(E0, blue, 200);
    let Some(PlatformEvent::Report { tenant_id, .. }) = h.report() else {
        panic!("no report: {:#?}", h.out);
    };
    assert_eq!(
        tenant_id.as_deref(),
        Some("blue"),
        "platform.report's tenantId"
    );

    // Environment 1 is idle and free, but blue's: green gets a cold start of its own.
    let green = h.invoke_as(INVOKER + 1, Some("green")).unwrap();
    assert!(h.releases().is_empty(), "{:#?}", h.out);
    assert_eq!(h.runtimes_spawned()[0].0, E1);
    assert!(h.out.iter().any(|a| matches!(
        a,
        Action::Event(
            E1,
            PlatformEvent::InitStart {
                phase: InitPhase::Init,
                ..
            }
        )
    )));
    assert_eq!(h.takes(E1, 201), green);
    let start = h.out.iter().find_map(|a| match a {
        Action::Event(_, PlatformEvent::Start { tenant_id, .. }) => Some(tenant_id.clone()),
        _ => None,
    });
    assert_eq!(
        start,
        Some(Some("green".to_string())),
        "platform.start's tenantId"
    );

    // Blue again: its own warm environment, at once, while green's is busy.
    let again = h.invoke_as(INVOKER + 2, Some("blue")).unwrap();
    assert_eq!(h.one_release(200).0, again);
    assert!(h.runtimes_spawned().is_empty());
}

#[test]
fn a_tenants_second_invocation_waits_for_its_own_environment_not_anothers() {
    let mut h = tenants(2);
    let blue = h.invoke_as(INVOKER, Some("blue")).unwrap();
    assert_eq!(h.takes(E0, 200), blue);
    let green = h.invoke_as(INVOKER + 1, Some("green")).unwrap();
    assert_eq!(h.takes(E1, 201), green);
    h.serve(E1, green, 201);
    // Blue's environment is busy, green's idle with nothing of green's queued: blue's second
    // invocation does not go there. Green's environment is spun down for it.
    let second = h.invoke_as(INVOKER + 2, Some("blue")).unwrap();
    assert!(h.releases().is_empty(), "{:#?}", h.out);
    assert!(
        h.out.iter().any(|a| matches!(
            a,
            Action::Signal {
                signal: Signal::Kill,
                ..
            }
        )),
        "green's runtime is stopped: {:#?}",
        h.out
    );
    let spawned = h.runtimes_spawned();
    assert_eq!(spawned.len(), 1, "{:#?}", h.out);
    assert_eq!(spawned[0].0, E1, "a new environment for blue");
    assert!(h.out.iter().any(|a| matches!(
        a,
        Action::Event(
            E1,
            PlatformEvent::InitStart {
                phase: InitPhase::Init,
                ..
            }
        )
    )));
    // Blue's first environment frees up meanwhile: the second invocation still waits for
    // the cold start it claimed, as an invocation that found no free environment does.
    h.serve(E0, blue, 200);
    assert!(h.releases().is_empty(), "{:#?}", h.out);
    assert_eq!(h.takes(E1, 202), second);
}

#[test]
fn a_new_tenant_with_every_environment_busy_waits_then_takes_the_first_to_go_idle() {
    let mut h = tenants(1);
    let blue = h.invoke_as(INVOKER, Some("blue")).unwrap();
    assert_eq!(h.takes(E0, 200), blue);
    let green = h.invoke_as(INVOKER + 1, Some("green")).unwrap();
    assert!(h.runtimes_spawned().is_empty(), "nothing is free: it waits");
    let blue_again = h.invoke_as(INVOKER + 2, Some("blue")).unwrap();
    // Blue's invocation ends: the environment takes blue's queued one (its own tenant's),
    // although green's came first.
    h.serve(E0, blue, 200);
    assert_eq!(h.one_release(200).0, blue_again);
    // Then nothing of blue's waits: the environment is spun down and starts over for green.
    h.serve(E0, blue_again, 200);
    let spawned = h.runtimes_spawned();
    assert_eq!(spawned.len(), 1, "{:#?}", h.out);
    assert_eq!(h.takes(E0, 202), green);
    h.serve(E0, green, 202);
    let Some(PlatformEvent::Report {
        tenant_id,
        init_duration,
        ..
    }) = h.report()
    else {
        panic!("no report: {:#?}", h.out);
    };
    assert_eq!(tenant_id.as_deref(), Some("green"));
    assert!(
        init_duration.is_some(),
        "green's cold start is on its report"
    );
}

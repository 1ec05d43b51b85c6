//! lambda-sim's Telemetry API events, as rendered for subscribers, parsed by the official
//! `lambda-extension` crate's types: a strict consumer that rejects a whole batch over one field
//! of the wrong name or type.

use lambda_extension::{LambdaTelemetry, LambdaTelemetryRecord};
use lambda_sim::Micros;
use lambda_sim::internals::api::Context;
use lambda_sim::internals::api::telemetry::{
    Api, Types, write_event, write_line, write_logs_dropped, write_subscription,
};
use lambda_sim::internals::id::{Rng, TraceId};
use lambda_sim::lifecycle::{
    Events, InitPhase, InitType, Overheads, PlatformEvent, ResponseTimes, Status,
};

#[test]
fn every_event_a_cold_start_emits_parses_as_the_crate_expects() {
    let ctx = Context::new(
        "interop",
        "$LATEST",
        "us-east-1",
        "012345678912",
        128,
        1_764_000_000_000_000,
    );
    let id = Rng::from_seed(9).uuid_v4();
    let events = [
        PlatformEvent::InitStart {
            phase: InitPhase::Init,
            kind: InitType::OnDemand,
        },
        PlatformEvent::InitRuntimeDone {
            phase: InitPhase::Init,
            kind: InitType::OnDemand,
            status: Status::Success,
            error_type: None,
        },
        PlatformEvent::Extension {
            name: "logger".into(),
            state: "Ready",
            events: Events {
                invoke: true,
                shutdown: true,
            },
        },
        PlatformEvent::InitDone {
            phase: InitPhase::Init,
            kind: InitType::OnDemand,
            status: Status::Success,
            error_type: None,
            duration: Micros(12_345),
        },
        PlatformEvent::Start {
            request_id: id,
            trace_id: TraceId::given(
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
            ),
            // A tenant-isolated function's records carry `tenantId`: the crate still reads them.
            tenant_id: Some("blue".into()),
        },
        PlatformEvent::RuntimeDone {
            request_id: id,
            status: Status::Success,
            error_type: None,
            duration: Micros(2_000),
            produced_bytes: 17,
            response: Some(ResponseTimes {
                released: Micros(20_000),
                started: Micros(21_000),
                completed: Micros(21_500),
            }),
        },
        PlatformEvent::Report {
            request_id: id,
            status: Status::Error,
            error_type: Some("Function.Unhandled".into()),
            duration: Micros(2_500),
            init_duration: Some(Micros(12_345)),
            runtime: None,
            extensions: Overheads::default(),
            responded: Some(Micros(21_500)),
            tenant_id: Some("blue".into()),
            restore_duration: Some(Micros(1_500)),
        },
    ];
    let mut batch = b"[".to_vec();
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            batch.push(b',');
        }
        assert!(write_event(
            &mut batch,
            &ctx,
            event,
            Micros(30_000 + i as u64),
            42
        ));
    }
    // The records that are not lifecycle events: output lines, a subscription, drops.
    batch.push(b',');
    write_line(
        &mut batch,
        &ctx,
        Micros(40_000),
        false,
        "a \"quoted\" line\tfrom the runtime",
    );
    batch.push(b',');
    write_line(&mut batch, &ctx, Micros(40_001), true, "from an extension");
    batch.push(b',');
    let types = Types {
        platform: true,
        function: true,
        extension: false,
    };
    write_subscription(
        &mut batch,
        &ctx,
        Micros(40_002),
        Api::Telemetry,
        "logger",
        types,
    );
    batch.push(b',');
    write_logs_dropped(&mut batch, &ctx, Micros(40_003), 12, 3_456);
    batch.push(b']');
    let parsed: Vec<LambdaTelemetry> = serde_json::from_slice(&batch)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&batch)));
    assert_eq!(parsed.len(), events.len() + 4);
    assert_eq!(
        parsed[7].record,
        LambdaTelemetryRecord::Function("a \"quoted\" line\tfrom the runtime".to_string())
    );
    assert!(matches!(
        parsed[8].record,
        LambdaTelemetryRecord::Extension(_)
    ));
    assert!(matches!(
        parsed[9].record,
        LambdaTelemetryRecord::PlatformTelemetrySubscription { .. }
    ));
    assert!(matches!(
        parsed[10].record,
        LambdaTelemetryRecord::PlatformLogsDropped { .. }
    ));
    assert!(matches!(
        parsed[0].record,
        LambdaTelemetryRecord::PlatformInitStart { .. }
    ));
    assert!(matches!(
        parsed[5].record,
        LambdaTelemetryRecord::PlatformRuntimeDone { .. }
    ));
    let LambdaTelemetryRecord::PlatformReport { metrics, .. } = &parsed[6].record else {
        panic!("{:?}", parsed[6]);
    };
    // 2.5 ms and the 12.345 ms init it followed, billed together.
    assert_eq!(metrics.billed_duration_ms, 15);
    assert_eq!(metrics.max_memory_used_mb, 42);
    assert_eq!(metrics.init_duration_ms, Some(12.345));
    // SnapStart's `restoreDurationMs`, as the crate reads it.
    assert_eq!(metrics.restore_duration_ms, Some(1.5));
}

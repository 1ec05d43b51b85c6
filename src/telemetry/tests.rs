//! The fan-out on a virtual clock: replay during an init, the order a subscriber sees, types,
//! independent subscribers, drops.

use super::*;
use crate::api::telemetry::{Api, Schema};
use crate::id::{Rng, TraceId};
use crate::lifecycle::{InitPhase, InitType, Status};
use crate::telemetry::batch::Buffering;

/// The one environment of these tests.
const E0: EnvId = EnvId(0);

const MS: u64 = 1_000;

fn ctx() -> Context {
    Context::new("fn", "$LATEST", "us-east-1", "012345678912", 128, 0)
}

fn subscription(types: Types, port: u16) -> Subscription {
    Subscription {
        api: Api::Telemetry,
        schema: Schema::Telemetry2022_12_13,
        types,
        buffering: Buffering {
            max_items: 1_000,
            max_bytes: 262_144,
            timeout_ms: 25,
        },
        destination: Destination::Http {
            addr: ([127, 0, 0, 1], port).into(),
            path: "/".into(),
            host: format!("sandbox.localdomain:{port}"),
        },
    }
}

const ALL: Types = Types {
    platform: true,
    function: true,
    extension: true,
};

fn init_start() -> Record {
    Record::Platform(PlatformEvent::InitStart {
        phase: InitPhase::Init,
        kind: InitType::OnDemand,
    })
}

fn init_done() -> Record {
    Record::Platform(PlatformEvent::InitDone {
        phase: InitPhase::Init,
        kind: InitType::OnDemand,
        status: Status::Success,
        error_type: None,
        duration: Micros(5 * MS),
    })
}

/// The `type` of each event in a JSON-array batch.
fn types_in(batch: &Batch) -> Vec<String> {
    let events: Vec<serde_json::Value> = serde_json::from_slice(&batch.body).unwrap();
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_subscriber_during_init_sees_it_from_the_start() {
    let ctx = ctx();
    let mut hub = Hub::new();
    hub.record(E0, &ctx, Micros(0), init_start(), 0);
    hub.record(
        E0,
        &ctx,
        Micros(MS),
        Record::Extension("ext: starting".into()),
        0,
    );
    hub.record(
        E0,
        &ctx,
        Micros(2 * MS),
        Record::Function("runtime: hello".into()),
        0,
    );
    assert_eq!(hub.replayable(E0), 3);
    let id = hub.subscribe(E0, &ctx, Micros(3 * MS), "logger", subscription(ALL, 9));
    hub.record(E0, &ctx, Micros(4 * MS), init_done(), 0);
    assert_eq!(hub.replayable(E0), 0, "the replay ends with the init");
    // 25 ms after the first record it received (replayed records keep their own time).
    assert_eq!(hub.poll_timeout(), Some(Micros(25 * MS)));
    let (who, batch) = hub.poll_batch(&ctx, Micros(25 * MS)).unwrap();
    assert_eq!(who, id);
    assert_eq!(
        types_in(&batch),
        [
            "platform.initStart",
            "extension",
            "function",
            "platform.telemetrySubscription",
            "platform.initReport"
        ]
    );
    let events: Vec<serde_json::Value> = serde_json::from_slice(&batch.body).unwrap();
    assert_eq!(events[1]["record"], "ext: starting");
    assert_eq!(events[1]["time"], "1970-01-01T00:00:00.001Z");
    assert_eq!(
        events[3]["record"],
        serde_json::json!({"name": "logger", "state": "Subscribed", "types": ["platform", "function", "extension"]})
    );
}

#[test]
fn a_second_subscriber_sees_the_first_ones_subscription_and_only_its_types() {
    let ctx = ctx();
    let mut hub = Hub::new();
    hub.record(E0, &ctx, Micros(0), init_start(), 0);
    hub.subscribe(E0, &ctx, Micros(MS), "first", subscription(ALL, 9));
    let platform_only = Types {
        platform: true,
        ..Types::default()
    };
    let second = hub.subscribe(
        E0,
        &ctx,
        Micros(2 * MS),
        "second",
        subscription(platform_only, 10),
    );
    hub.record(
        E0,
        &ctx,
        Micros(3 * MS),
        Record::Function("a line".into()),
        0,
    );
    hub.record(E0, &ctx, Micros(4 * MS), init_done(), 0);
    let mut batches = Vec::new();
    while let Some(b) = hub.poll_batch(&ctx, Micros(100 * MS)) {
        hub.handle_sent(Micros(100 * MS), b.0, true);
        batches.push(b);
    }
    assert_eq!(batches.len(), 2);
    let (_, for_second) = batches.iter().find(|(id, _)| *id == second).unwrap();
    assert_eq!(
        types_in(for_second),
        [
            "platform.initStart",
            "platform.telemetrySubscription",
            "platform.telemetrySubscription",
            "platform.initReport"
        ],
        "no function line for a platform-only subscriber"
    );
    assert_eq!(
        hub.destination(second),
        Some(&subscription(platform_only, 10).destination)
    );
}

#[test]
fn no_replay_outside_an_init_and_undocumented_events_are_never_sent() {
    let ctx = ctx();
    let mut hub = Hub::new();
    let id = Rng::from_seed(1).uuid_v4();
    hub.subscribe(E0, &ctx, Micros(0), "late", subscription(ALL, 9));
    hub.record(
        E0,
        &ctx,
        Micros(MS),
        Record::Platform(PlatformEvent::TimedOut {
            request_id: id,
            after: Micros::from_secs(3),
        }),
        0,
    );
    hub.record(
        E0,
        &ctx,
        Micros(2 * MS),
        Record::Platform(PlatformEvent::Start {
            request_id: id,
            trace_id: TraceId::given("Root=1-2-3"),
            tenant_id: None,
        }),
        0,
    );
    assert_eq!(hub.replayable(E0), 0);
    let (_, batch) = hub.poll_batch(&ctx, Micros(25 * MS)).unwrap();
    assert_eq!(
        types_in(&batch),
        ["platform.telemetrySubscription", "platform.start"]
    );
}

#[test]
fn a_slow_subscriber_holds_back_nobody_else_and_learns_what_it_lost() {
    let ctx = ctx();
    let mut hub = Hub::new();
    let slow = hub.subscribe(E0, &ctx, Micros(0), "slow", subscription(ALL, 9));
    let fast = hub.subscribe(E0, &ctx, Micros(0), "fast", subscription(ALL, 10));
    // Both have a batch in flight; only the fast one is answered.
    for n in 0..10 {
        hub.record(
            E0,
            &ctx,
            Micros(MS),
            Record::Function(format!("line {n}")),
            0,
        );
    }
    let mut in_flight = Vec::new();
    while let Some((id, _)) = hub.poll_batch(&ctx, Micros(30 * MS)) {
        in_flight.push(id);
    }
    assert_eq!(in_flight.len(), 2);
    hub.handle_sent(Micros(31 * MS), fast, true);
    // The slow one stays silent: 2 000 more lines overflow its two-batch buffer.
    for n in 0..2_000 {
        hub.record(
            E0,
            &ctx,
            Micros(40 * MS),
            Record::Function(format!("more {n}")),
            0,
        );
    }
    // The fast one goes on.
    let (id, batch) = hub.poll_batch(&ctx, Micros(40 * MS)).unwrap();
    assert_eq!((id, batch.records), (fast, 1_000));
    // The slow one's batch times out; its retry tells it what was dropped.
    assert!(hub.handle_timeout(Micros(40 * MS)).is_empty());
    let stalled = hub.handle_timeout(Micros(5_030 * MS));
    assert_eq!(stalled, [slow]);
    let mut dropped = None;
    let mut now = Micros(5_030 * MS);
    for _ in 0..20 {
        let Some(next) = hub.poll_timeout() else {
            break;
        };
        now = next.max(now);
        hub.handle_timeout(now);
        while let Some((id, batch)) = hub.poll_batch(&ctx, now) {
            let events: Vec<serde_json::Value> = serde_json::from_slice(&batch.body).unwrap();
            if id == slow && dropped.is_none() {
                // The notice opens the slow subscriber's next batch.
                assert_eq!(events[0]["type"], "platform.logsDropped", "{:?}", events[0]);
                dropped = Some(events[0].clone());
            }
            hub.handle_sent(now, id, true);
        }
    }
    let dropped = dropped.expect("a platform.logsDropped for the slow subscriber");
    assert!(dropped["record"]["droppedRecords"].as_u64().unwrap() > 0);
    assert!(dropped["record"]["droppedBytes"].as_u64().unwrap() > 0);
}

#[test]
fn a_flush_sends_at_once() {
    let ctx = ctx();
    let mut hub = Hub::new();
    hub.subscribe(E0, &ctx, Micros(0), "x", subscription(ALL, 9));
    hub.record(E0, &ctx, Micros(0), Record::Function("bye".into()), 0);
    assert_eq!(hub.poll_batch(&ctx, Micros(MS)), None);
    hub.flush();
    assert!(hub.poll_batch(&ctx, Micros(MS)).is_some());
}

#[test]
fn a_frozen_environment_holds_every_batch_and_lets_them_go_at_the_thaw() {
    let ctx = ctx();
    let mut hub = Hub::new();
    let id = hub.subscribe(E0, &ctx, Micros(0), "ext", subscription(ALL, 4243));
    // The subscription record went; it fails, and a retry is due 50 ms later.
    let (_, first) = hub.poll_batch(&ctx, Micros(25 * MS)).unwrap();
    assert_eq!(types_in(&first), ["platform.telemetrySubscription"]);
    hub.handle_sent(Micros(26 * MS), id, false);
    hub.record(
        E0,
        &ctx,
        Micros(27 * MS),
        Record::Function("last line".into()),
        0,
    );
    assert_eq!(hub.in_flight(E0), 0);
    hub.set_frozen(E0, true);
    // Long past the retry and the batching timeout: nothing goes, no timer runs.
    assert_eq!(hub.poll_timeout(), None);
    assert!(hub.poll_batch(&ctx, Micros(10_000 * MS)).is_none());
    assert!(hub.handle_timeout(Micros(10_000 * MS)).is_empty());
    hub.set_frozen(E0, false);
    // At the thaw, the held batch goes at once, whole, with no drop reported.
    assert_eq!(hub.poll_timeout(), Some(Micros(76 * MS)));
    let (_, held) = hub.poll_batch(&ctx, Micros(10_001 * MS)).unwrap();
    assert_eq!(
        types_in(&held),
        ["platform.telemetrySubscription", "function"]
    );
    assert_eq!(hub.in_flight(E0), 1);
    hub.handle_sent(Micros(10_002 * MS), id, true);
    assert!(hub.is_drained());
}

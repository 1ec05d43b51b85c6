//! The Telemetry and Logs APIs' wire: subscriptions checked against AWS's limits, records
//! rendered with the documented fields.

use super::*;
use crate::api::test_support::ctx;
use crate::api::{Listener, rejection};
use crate::id::{Rng, TraceId};
use crate::lifecycle::{
    Events, InitPhase, InitType, Overheads, PlatformEvent, Rejection, ResponseTimes,
};
use serde_json::json;

fn error_of(r: &Rendered<'_>) -> (u16, String, String) {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    (
        r.status,
        v["errorType"].as_str().unwrap().to_string(),
        v["errorMessage"].as_str().unwrap().to_string(),
    )
}

fn refused(api: Api, body: &str) -> (u16, String, String) {
    error_of(&subscription(api, body.as_bytes()).unwrap_err())
}

#[test]
fn the_rust_crates_subscription_is_taken_with_defaults() {
    // What `lambda-extension` sends (requests.rs), buffering omitted.
    let s = subscription(
        Api::Telemetry,
        br#"{"schemaVersion":"2022-07-01","types":["platform","function"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080/telemetry"}}"#,
    )
    .unwrap();
    assert_eq!(s.schema, Schema::Telemetry2022_07_01);
    assert_eq!(
        s.types,
        Types {
            platform: true,
            function: true,
            extension: false
        }
    );
    assert_eq!(s.buffering, Buffering::default());
    assert_eq!(
        (
            s.buffering.max_items,
            s.buffering.max_bytes,
            s.buffering.timeout_ms
        ),
        (10_000, 262_144, 1_000)
    );
    assert_eq!(
        s.destination,
        Destination::Http {
            addr: "127.0.0.1:8080".parse().unwrap(),
            path: "/telemetry".into(),
            host: "sandbox.localdomain:8080".into(),
        }
    );
}

#[test]
fn every_schema_version_aws_accepts_and_only_on_its_api() {
    for (api, version, schema) in [
        (Api::Telemetry, "2022-07-01", Schema::Telemetry2022_07_01),
        (Api::Telemetry, "2022-12-13", Schema::Telemetry2022_12_13),
        (Api::Telemetry, "2025-01-29", Schema::Telemetry2025_01_29),
        (Api::Logs, "2020-08-15", Schema::Logs2020_08_15),
        (Api::Logs, "2021-03-18", Schema::Logs2021_03_18),
    ] {
        let body = format!(
            r#"{{"schemaVersion":"{version}","types":["platform"],"destination":{{"protocol":"TCP","port":9}}}}"#
        );
        let s = subscription(api, body.as_bytes()).unwrap();
        assert_eq!(s.schema, schema);
        assert_eq!(s.schema.as_str(), version);
    }
    // The Logs API's version is optional; the Telemetry API's is not.
    let body = r#"{"types":["function"],"destination":{"protocol":"TCP","port":9}}"#;
    assert_eq!(
        subscription(Api::Logs, body.as_bytes()).unwrap().schema,
        Schema::Logs2020_08_15
    );
    assert_eq!(
        refused(Api::Telemetry, body),
        (
            400,
            "ValidationError".into(),
            "schemaVersion is required".into()
        )
    );
    let (_, t, m) = refused(
        Api::Logs,
        r#"{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"TCP","port":9}}"#,
    );
    assert_eq!(t, "Logs.ValidationError");
    assert!(
        m.starts_with("schemaVersion \"2022-07-01\" is not supported"),
        "{m}"
    );
}

#[test]
fn refusals_name_the_field() {
    let with = |types: &str, buffering: &str, destination: &str| {
        format!(
            r#"{{"schemaVersion":"2022-12-13","types":{types},"buffering":{buffering},"destination":{destination}}}"#
        )
    };
    let ok_dest = r#"{"protocol":"HTTP","URI":"http://sandbox:9000"}"#;
    let cases: &[(String, &str)] = &[
        (with("[]", "{}", ok_dest), "types should not be empty"),
        (
            with(r#"["platform","bogus"]"#, "{}", ok_dest),
            "types: \"bogus\"",
        ),
        (
            with(r#""platform""#, "{}", ok_dest),
            "types must be an array",
        ),
        (
            with(r#"["platform"]"#, r#"{"maxItems":999}"#, ok_dest),
            "buffering.maxItems must be an integer from 1000 to 10000, not 999",
        ),
        (
            with(r#"["platform"]"#, r#"{"maxBytes":2000000}"#, ok_dest),
            "buffering.maxBytes must be an integer from 262144 to 1048576",
        ),
        (
            with(r#"["platform"]"#, r#"{"timeoutMs":24}"#, ok_dest),
            "buffering.timeoutMs must be an integer from 25 to 30000",
        ),
        (
            with(r#"["platform"]"#, r#"{"timeoutMs":"100"}"#, ok_dest),
            "buffering.timeoutMs",
        ),
        (
            with(
                r#"["platform"]"#,
                "{}",
                r#"{"protocol":"HTTP","URI":"http://sandbox.localdomain/x"}"#,
            ),
            "URI port is not provided",
        ),
        (
            with(
                r#"["platform"]"#,
                "{}",
                r#"{"protocol":"HTTP","URI":"https://sandbox.localdomain:1"}"#,
            ),
            "only http:// is supported",
        ),
        (
            with(
                r#"["platform"]"#,
                "{}",
                r#"{"protocol":"HTTP","URI":"http://example.com:80/"}"#,
            ),
            "the host must be sandbox.localdomain",
        ),
        (
            with(r#"["platform"]"#, "{}", r#"{"protocol":"HTTP"}"#),
            "destination.URI is required",
        ),
        (
            with(
                r#"["platform"]"#,
                "{}",
                r#"{"protocol":"TCP","port":70000}"#,
            ),
            "destination.port must be a port number",
        ),
        (
            with(r#"["platform"]"#, "{}", r#"{"protocol":"UDP","port":1}"#),
            "destination.protocol must be HTTP or TCP",
        ),
    ];
    for (body, expected) in cases {
        let (status, error_type, message) = refused(Api::Telemetry, body);
        assert_eq!(
            (status, error_type.as_str()),
            (400, "ValidationError"),
            "{body}"
        );
        assert!(message.contains(expected), "{body}: {message}");
    }
    assert!(refused(Api::Telemetry, "not json").2.contains("not JSON"));
    assert!(refused(Api::Telemetry, "[]").2.contains("JSON object"));
    assert!(
        refused(
            Api::Telemetry,
            r#"{"schemaVersion":"2022-07-01","types":["platform"]}"#
        )
        .2
        .contains("destination is required")
    );
}

#[test]
fn destinations_keep_their_path_and_resolve_to_loopback() {
    let dest = |uri: &str| {
        let body = format!(
            r#"{{"schemaVersion":"2025-01-29","types":["extension"],"destination":{{"protocol":"HTTP","URI":"{uri}"}}}}"#
        );
        subscription(Api::Telemetry, body.as_bytes())
            .unwrap()
            .destination
    };
    assert_eq!(
        dest("http://sandbox:4243"),
        Destination::Http {
            addr: "127.0.0.1:4243".parse().unwrap(),
            path: "/".into(),
            host: "sandbox:4243".into(),
        }
    );
    let Destination::Http { path, .. } = dest("http://LOCALHOST:1/a/b?c=d") else {
        panic!("HTTP");
    };
    assert_eq!(path, "/a/b?c=d");
    let tcp = subscription(
        Api::Logs,
        br#"{"types":["platform"],"buffering":{"maxItems":1000,"maxBytes":1048576,"timeoutMs":25},"destination":{"protocol":"TCP","port":5000}}"#,
    )
    .unwrap();
    assert_eq!(
        tcp.destination,
        Destination::Tcp {
            addr: "127.0.0.1:5000".parse().unwrap()
        }
    );
    assert_eq!(
        tcp.buffering,
        Buffering {
            max_items: 1_000,
            max_bytes: 1_048_576,
            timeout_ms: 25
        }
    );
}

#[test]
fn answers() {
    let ok = subscribed();
    assert_eq!((ok.status, &ok.body[..]), (200, &b"\"OK\""[..]));
    assert_eq!(
        error_of(&subscription_closed(Api::Telemetry)),
        (
            403,
            "Telemetry.SubscriptionClosed".into(),
            "Telemetry API subscription is closed".into()
        )
    );
    assert_eq!(error_of(&subscription_closed(Api::Logs)).0, 403);
}

// ----- events -----

/// Renders `event` at 1.5 s past the context's epoch (2023-11-14T22:13:20Z) and parses it back.
fn rendered(event: &PlatformEvent) -> Option<serde_json::Value> {
    let mut out = Vec::new();
    if !write_event(&mut out, &ctx(), event, Micros(1_500_000), 94) {
        assert!(out.is_empty());
        return None;
    }
    Some(
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out))),
    )
}

#[test]
fn init_events_have_lambdas_fields() {
    let start = rendered(&PlatformEvent::InitStart {
        phase: InitPhase::Init,
        kind: InitType::OnDemand,
    });
    assert_eq!(
        start,
        Some(json!({
            "time": "2023-11-14T22:13:21.500Z",
            "type": "platform.initStart",
            "record": {
                "initializationType": "on-demand",
                "phase": "init",
                "functionName": "my-fn",
                "functionVersion": "$LATEST"
            }
        }))
    );
    let done = rendered(&PlatformEvent::InitRuntimeDone {
        phase: InitPhase::Invoke,
        kind: InitType::OnDemand,
        status: Status::Failure,
        error_type: Some("Runtime.ExitError".into()),
    })
    .unwrap();
    assert_eq!(done["type"], "platform.initRuntimeDone");
    assert_eq!(
        done["record"],
        json!({"initializationType": "on-demand", "phase": "invoke", "status": "failure", "errorType": "Runtime.ExitError"})
    );
    let report = rendered(&PlatformEvent::InitDone {
        phase: InitPhase::Init,
        kind: InitType::ProvisionedConcurrency,
        status: Status::Success,
        error_type: None,
        duration: Micros(549_040),
    })
    .unwrap();
    assert_eq!(report["type"], "platform.initReport");
    assert_eq!(
        report["record"],
        json!({"initializationType": "provisioned-concurrency", "phase": "init", "status": "success", "metrics": {"durationMs": 549.04}})
    );
}

#[test]
fn invoke_events_have_lambdas_fields_spans_and_units() {
    let id = Rng::from_seed(1).uuid_v4();
    let trace = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";
    let start = rendered(&PlatformEvent::Start {
        request_id: id,
        trace_id: TraceId::given(trace),
        tenant_id: None,
    })
    .unwrap();
    assert_eq!(
        start["record"],
        json!({"requestId": id.as_str(), "version": "$LATEST", "tracing": {"type": "X-Amzn-Trace-Id", "value": trace}})
    );
    let done = rendered(&PlatformEvent::RuntimeDone {
        request_id: id,
        status: Status::Success,
        error_type: None,
        duration: Micros(2_599_000),
        produced_bytes: 8,
        response: Some(ResponseTimes {
            released: Micros(1_000_000),
            started: Micros(3_598_000),
            completed: Micros(3_598_000),
        }),
    })
    .unwrap();
    // The shape of the sample AWS's Rust extension crate tests against (aws-lambda-rust-runtime,
    // `lambda-extension/src/telemetry.rs`).
    assert_eq!(
        done["record"],
        json!({
            "requestId": id.as_str(),
            "status": "success",
            "metrics": {"durationMs": 2599.0, "producedBytes": 8},
            "spans": [
                {"name": "responseLatency", "start": "2023-11-14T22:13:21.000Z", "durationMs": 2598.0},
                {"name": "responseDuration", "start": "2023-11-14T22:13:23.598Z", "durationMs": 0.0}
            ]
        })
    );
    let mut extensions = Overheads::for_extensions(vec!["logger".into()].into());
    extensions.set(0, Micros(1_234));
    let report = rendered(&PlatformEvent::Report {
        request_id: id,
        status: Status::Timeout,
        error_type: Some("Sandbox.Timedout".into()),
        duration: Micros(2_599_400),
        init_duration: Some(Micros(549_040)),
        runtime: None,
        extensions,
        responded: Some(Micros(3_598_000)),
        tenant_id: None,
        restore_duration: None,
    })
    .unwrap();
    assert_eq!(
        report["record"],
        json!({
            "requestId": id.as_str(),
            "status": "timeout",
            "errorType": "Sandbox.Timedout",
            "metrics": {"durationMs": 2599.4, "billedDurationMs": 3149, "memorySizeMB": 256, "maxMemoryUsedMB": 94, "initDurationMs": 549.04},
            "spans": [{"name": "extensionOverhead", "start": "2023-11-14T22:13:23.598Z", "durationMs": 1.234}]
        })
    );
}

#[test]
fn extension_events_and_undocumented_ones() {
    let ext = rendered(&PlatformEvent::Extension {
        name: "logger".into(),
        state: "Ready",
        events: Events {
            invoke: true,
            shutdown: true,
        },
    })
    .unwrap();
    assert_eq!(
        ext["record"],
        json!({"name": "logger", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]})
    );
    // No Telemetry API type: nothing is written (strict consumers reject unknown types).
    let id = Rng::from_seed(2).uuid_v4();
    for event in [
        PlatformEvent::TimedOut {
            request_id: id,
            after: Micros::from_secs(3),
        },
        PlatformEvent::ExtensionExited {
            name: "x".into(),
            status: crate::lifecycle::ExitStatus::Code(1),
        },
    ] {
        assert_eq!(rendered(&event), None);
    }
}

#[test]
fn lifecycle_refusals_of_subscriptions() {
    assert_eq!(
        error_of(&rejection(
            Listener::Runtime,
            Rejection::SubscriptionClosed(Api::Logs)
        )),
        (
            403,
            "Logs.SubscriptionClosed".into(),
            "Logs API subscription is closed".into()
        )
    );
    assert_eq!(
        error_of(&rejection(
            Listener::Runtime,
            Rejection::SubscribedElsewhere(Api::Logs)
        )),
        (
            400,
            "ValidationError".into(),
            "The extension is subscribed through the Logs API already".into()
        )
    );
    let id = Rng::from_seed(3).uuid_v4();
    assert_eq!(
        error_of(&rejection(
            Listener::Runtime,
            Rejection::UnknownExtension(id)
        ))
        .1,
        "Extension.UnknownExtensionIdentifier"
    );
}

#[test]
fn logs_api_records_are_the_older_schema() {
    let id = Rng::from_seed(4).uuid_v4();
    let render = |schema: Schema, event: &PlatformEvent| {
        let mut records = Vec::new();
        write_logs_event(&mut records, &ctx(), schema, event, Micros(1_500_000), 33);
        records
            .iter()
            .map(|r| serde_json::from_slice::<serde_json::Value>(r).unwrap())
            .collect::<Vec<_>>()
    };
    let start = render(
        Schema::Logs2020_08_15,
        &PlatformEvent::Start {
            request_id: id,
            trace_id: TraceId::given("Root=1-2-3"),
            tenant_id: None,
        },
    );
    assert_eq!(
        start,
        [
            json!({"time": "2023-11-14T22:13:21.500Z", "type": "platform.start", "record": {"requestId": id.as_str(), "version": "$LATEST"}})
        ]
    );
    // A report is two records: platform.end, then platform.report.
    let report = render(
        Schema::Logs2020_08_15,
        &PlatformEvent::Report {
            request_id: id,
            status: Status::Success,
            error_type: None,
            duration: Micros(12_340),
            init_duration: None,
            runtime: None,
            extensions: Overheads::default(),
            responded: None,
            tenant_id: None,
            restore_duration: None,
        },
    );
    assert_eq!(report.len(), 2);
    assert_eq!(report[0]["type"], "platform.end");
    assert_eq!(report[0]["record"], json!({"requestId": id.as_str()}));
    assert_eq!(
        report[1]["record"],
        json!({"requestId": id.as_str(), "metrics": {"durationMs": 12.34, "billedDurationMs": 13, "memorySizeMB": 256, "maxMemoryUsedMB": 33}})
    );
    // runtimeDone only on 2021-03-18; a runtime that died mid-invoke is a string fault.
    let done = PlatformEvent::RuntimeDone {
        request_id: id,
        status: Status::Failure,
        error_type: Some("Runtime.ExitError".into()),
        duration: Micros(1),
        produced_bytes: 0,
        response: None,
    };
    assert_eq!(
        render(Schema::Logs2020_08_15, &done),
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(
        render(Schema::Logs2021_03_18, &done)[0]["record"],
        json!({"requestId": id.as_str(), "status": "failure"})
    );
    let fault = render(
        Schema::Logs2020_08_15,
        &PlatformEvent::RuntimeExited {
            request_id: Some(id),
            status: crate::lifecycle::ExitStatus::Code(1),
        },
    );
    assert_eq!(fault[0]["type"], "platform.fault");
    assert_eq!(
        fault[0]["record"],
        format!("RequestId: {id} Process exited before completing request")
    );
    // The Telemetry API's init events have no Logs API type.
    assert_eq!(
        render(
            Schema::Logs2021_03_18,
            &PlatformEvent::InitStart {
                phase: InitPhase::Init,
                kind: InitType::OnDemand
            }
        ),
        Vec::<serde_json::Value>::new()
    );
}

#[test]
fn with_the_json_log_format_json_lines_are_objects() {
    let line = |json_logs: bool, text: &str| {
        let mut ctx = ctx();
        ctx.json_logs = json_logs;
        let mut out = Vec::new();
        write_line(&mut out, &ctx, Micros(0), false, text);
        serde_json::from_slice::<serde_json::Value>(&out).unwrap()["record"].clone()
    };
    let json = r#"{"level":"INFO","message":"hi"}"#;
    assert_eq!(line(true, json), json!({"level": "INFO", "message": "hi"}));
    assert_eq!(line(false, json), json!(json), "text format: a string");
    assert_eq!(line(true, "plain text"), json!("plain text"));
    assert_eq!(line(true, "{not json"), json!("{not json"));
    assert_eq!(line(true, "[1,2]"), json!("[1,2]"), "only objects");
}

#[test]
fn a_destination_on_one_of_the_simulators_listeners_is_refused() {
    let sub = |uri: &str| {
        let body = format!(
            r#"{{"schemaVersion":"2022-12-13","types":["platform"],"destination":{{"protocol":"HTTP","URI":"{uri}"}}}}"#
        );
        subscription(Api::Telemetry, body.as_bytes()).unwrap()
    };
    let at = |s: &str| -> std::net::SocketAddr { s.parse().unwrap() };
    let refused = |uri: &str, listeners: &[std::net::SocketAddr]| {
        refuse_own_listener(Api::Telemetry, &sub(uri), listeners).map(|r| r.status)
    };
    let loopback = [at("127.0.0.1:9001"), at("127.0.0.1:8080")];
    assert_eq!(
        refused("http://sandbox.localdomain:9001/", &loopback),
        Some(400)
    );
    assert_eq!(refused("http://localhost:8080/x", &loopback), Some(400));
    assert_eq!(refused("http://sandbox.localdomain:9002/", &loopback), None);
    // 0.0.0.0 and :: take loopback's connections too; ::1 and other addresses do not.
    assert_eq!(
        refused("http://sandbox:8080/", &[at("0.0.0.0:8080")]),
        Some(400)
    );
    assert_eq!(
        refused("http://sandbox:8080/", &[at("[::]:8080")]),
        Some(400)
    );
    assert_eq!(refused("http://sandbox:8080/", &[at("[::1]:8080")]), None);
    assert_eq!(
        refused("http://sandbox:8080/", &[at("127.0.0.2:8080")]),
        None
    );
}

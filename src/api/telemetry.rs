//! The Telemetry API (2022-07-01) and the Logs API (2020-08-15) on the wire (<https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html>,
//! <https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api-reference.html>, <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-logs-api.html>): reading a subscription, checking every field against AWS's limits, and
//! the answers.
//!
//! Both APIs are served: `crate::telemetry` fans records out, the reactor delivers them. The
//! Telemetry API's events and the Logs API's records are rendered here, by hand, and only the
//! documented types are ever written.

use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddr};

use super::{Context, JSON, Rendered, runtime_error};
use crate::lifecycle::{PlatformEvent, Status};
use crate::time::{Civil, Micros, Ms2};

pub(crate) use crate::telemetry::batch::{Buffering, MAX_BYTES, MAX_ITEMS, TIMEOUT_MS};

/// The Telemetry API's path.
pub(crate) const TELEMETRY_PATH: &str = "/2022-07-01/telemetry";
/// The Logs API's path.
pub(crate) const LOGS_PATH: &str = "/2020-08-15/logs";

/// Which of the two subscription APIs.
pub use crate::lifecycle::TelemetryApi as Api;

impl Api {
    /// The other of the two.
    pub(crate) fn other(self) -> Api {
        match self {
            Api::Telemetry => Api::Logs,
            Api::Logs => Api::Telemetry,
        }
    }

    /// The `errorType` of a refused subscription body.
    pub(crate) fn validation_error(self) -> &'static str {
        match self {
            Api::Telemetry => "ValidationError",
            Api::Logs => "Logs.ValidationError",
        }
    }
}

/// The schema a subscriber asked for: it decides the record types and fields it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Schema {
    /// Logs API, the default.
    Logs2020_08_15,
    /// Logs API with `platform.runtimeDone`.
    Logs2021_03_18,
    /// Telemetry API, first version.
    Telemetry2022_07_01,
    /// Telemetry API with `spans` on init events.
    Telemetry2022_12_13,
    /// Telemetry API, current (adds the restore events, unused here).
    Telemetry2025_01_29,
}

impl Schema {
    /// The wire form.
    #[cfg(test)]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Schema::Logs2020_08_15 => "2020-08-15",
            Schema::Logs2021_03_18 => "2021-03-18",
            Schema::Telemetry2022_07_01 => "2022-07-01",
            Schema::Telemetry2022_12_13 => "2022-12-13",
            Schema::Telemetry2025_01_29 => "2025-01-29",
        }
    }

    fn parse(api: Api, raw: &str) -> Option<Schema> {
        let schema = match raw {
            "2020-08-15" => Schema::Logs2020_08_15,
            "2021-03-18" => Schema::Logs2021_03_18,
            "2022-07-01" => Schema::Telemetry2022_07_01,
            "2022-12-13" => Schema::Telemetry2022_12_13,
            "2025-01-29" => Schema::Telemetry2025_01_29,
            _ => return None,
        };
        let logs = matches!(schema, Schema::Logs2020_08_15 | Schema::Logs2021_03_18);
        (logs == (api == Api::Logs)).then_some(schema)
    }
}

/// The streams a subscriber receives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Types {
    /// `platform`: the platform's events.
    pub platform: bool,
    /// `function`: the runtime's output, a line per event.
    pub function: bool,
    /// `extension`: the extensions' output, a line per event.
    pub extension: bool,
}

/// Where a subscriber's batches go. Always loopback: `sandbox.localdomain`, the only host
/// Lambda allows, does not resolve off Lambda, so the simulator resolves it (and its aliases)
/// itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Destination {
    /// `POST` a JSON array of events to `addr` at `path` (kept, as Lambda keeps it).
    Http {
        /// The listener.
        addr: SocketAddr,
        /// The request target, `/` when the URI has none.
        path: String,
        /// The `Host` header: the URI's authority.
        host: String,
    },
    /// Newline-delimited JSON, one event per line, over a TCP connection to `addr`.
    Tcp {
        /// The listener.
        addr: SocketAddr,
    },
}

/// A subscription request, read and checked as far as the wire allows; the lifecycle decides
/// the rest (subscription closed after init, an extension on both APIs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Subscription {
    /// Which API it came in on.
    pub api: Api,
    /// `schemaVersion`.
    pub schema: Schema,
    /// `types`.
    pub types: Types,
    /// `buffering`, defaults filled in.
    pub buffering: Buffering,
    /// `destination`.
    pub destination: Destination,
}

/// Host names a destination may use: Lambda's, and loopback's own.
const LOOPBACK_HOSTS: &[&str] = &["sandbox.localdomain", "sandbox", "localhost", "127.0.0.1"];

/// Reads the body of `PUT /2022-07-01/telemetry` or `PUT /2020-08-15/logs`. A refusal is a 400
/// whose message names the field.
pub(crate) fn subscription(api: Api, body: &[u8]) -> Result<Subscription, Box<Rendered<'static>>> {
    let invalid = |message: String| Box::new(runtime_error(400, api.validation_error(), &message));
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("the request body is not JSON: {e}")))?;
    let Some(fields) = value.as_object() else {
        return Err(invalid("the request body must be a JSON object".into()));
    };

    let schema = match (fields.get("schemaVersion"), api) {
        (None | Some(serde_json::Value::Null), Api::Logs) => Schema::Logs2020_08_15,
        (None | Some(serde_json::Value::Null), Api::Telemetry) => {
            return Err(invalid("schemaVersion is required".into()));
        }
        (Some(v), _) => v
            .as_str()
            .and_then(|raw| Schema::parse(api, raw))
            .ok_or_else(|| {
                let accepted = match api {
                    Api::Telemetry => "2022-07-01, 2022-12-13 or 2025-01-29",
                    Api::Logs => "2020-08-15 or 2021-03-18",
                };
                invalid(format!(
                    "schemaVersion {v} is not supported: use {accepted}"
                ))
            })?,
    };

    let mut types = Types::default();
    let listed = fields
        .get("types")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| invalid("types must be an array of platform, function, extension".into()))?;
    if listed.is_empty() {
        return Err(invalid("types should not be empty".into()));
    }
    for t in listed {
        match t.as_str() {
            Some("platform") => types.platform = true,
            Some("function") => types.function = true,
            Some("extension") => types.extension = true,
            _ => {
                return Err(invalid(format!(
                    "types: {t} is not one of platform, function, extension"
                )));
            }
        }
    }

    let mut buffering = Buffering::default();
    match fields.get("buffering") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(b)) => {
            let limits = [
                ("maxItems", MAX_ITEMS, &mut buffering.max_items),
                ("maxBytes", MAX_BYTES, &mut buffering.max_bytes),
                ("timeoutMs", TIMEOUT_MS, &mut buffering.timeout_ms),
            ];
            for (name, (_, least, most), slot) in limits {
                let Some(v) = b.get(name).filter(|v| !v.is_null()) else {
                    continue;
                };
                let n = v
                    .as_u64()
                    .filter(|n| (u64::from(least)..=u64::from(most)).contains(n));
                match n {
                    Some(n) => *slot = n as u32,
                    None => {
                        return Err(invalid(format!(
                            "buffering.{name} must be an integer from {least} to {most}, not {v}"
                        )));
                    }
                }
            }
        }
        Some(_) => return Err(invalid("buffering must be an object".into())),
    }

    let destination = match fields.get("destination") {
        Some(serde_json::Value::Object(d)) => destination(d).map_err(invalid)?,
        _ => return Err(invalid("destination is required".into())),
    };
    Ok(Subscription {
        api,
        schema,
        types,
        buffering,
        destination,
    })
}

/// `destination`: `{"protocol":"HTTP","URI":"http://sandbox.localdomain:PORT/PATH"}` or
/// `{"protocol":"TCP","port":PORT}`.
fn destination(d: &serde_json::Map<String, serde_json::Value>) -> Result<Destination, String> {
    match d.get("protocol").and_then(serde_json::Value::as_str) {
        Some("HTTP") => {
            let uri = d
                .get("URI")
                .and_then(serde_json::Value::as_str)
                .ok_or("destination.URI is required for protocol HTTP")?;
            http_destination(uri)
        }
        Some("TCP") => {
            let port = d
                .get("port")
                .and_then(serde_json::Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p != 0)
                .ok_or("destination.port must be a port number from 1 to 65535")?;
            Ok(Destination::Tcp {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            })
        }
        _ => Err("destination.protocol must be HTTP or TCP".into()),
    }
}

/// `http://HOST:PORT[/PATH]` with a loopback host.
fn http_destination(uri: &str) -> Result<Destination, String> {
    let bad = |why: &str| format!("destination.URI {uri:?}: {why}");
    let Some(rest) = uri.strip_prefix("http://") else {
        return Err(bad("only http:// is supported"));
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let Some((host, port)) = authority.rsplit_once(':') else {
        return Err(bad("URI port is not provided"));
    };
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?;
    if !LOOPBACK_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Err(bad(
            "the host must be sandbox.localdomain (or another name for this sandbox: sandbox, localhost, 127.0.0.1)",
        ));
    }
    if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(bad("the path may not contain spaces or control characters"));
    }
    Ok(Destination::Http {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        path: path.to_string(),
        host: authority.to_string(),
    })
}

impl Destination {
    /// The listener it connects to.
    pub(crate) fn addr(&self) -> SocketAddr {
        match self {
            Destination::Http { addr, .. } | Destination::Tcp { addr } => *addr,
        }
    }
}

/// The 400 for a destination that is one of the simulator's own `listeners`: batches posted to
/// the invoke endpoint would each be an invocation, whose telemetry is another batch, without
/// end. A listener on `0.0.0.0` or `::` (dual-stack) takes loopback's connections too.
pub(crate) fn refuse_own_listener(
    api: Api,
    subscription: &Subscription,
    listeners: &[SocketAddr],
) -> Option<Box<Rendered<'static>>> {
    let to = subscription.destination.addr();
    let own = listeners
        .iter()
        .any(|l| l.port() == to.port() && (l.ip().is_unspecified() || l.ip() == to.ip()));
    own.then(|| {
        Box::new(runtime_error(
            400,
            api.validation_error(),
            &format!(
                "destination port {} is one of the simulator's own listeners (the invoke \
                 endpoint or the Runtime API); subscribe with your extension's own listener",
                to.port()
            ),
        ))
    })
}

/// 200 `"OK"`: a JSON string, quotes included (<https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html>).
pub(crate) fn subscribed() -> Rendered<'static> {
    Rendered::new(200, Cow::Borrowed(b"\"OK\"")).header("Content-Type", JSON)
}

/// 403 after the init: subscriptions are taken only while the environment initialises.
pub(crate) fn subscription_closed(api: Api) -> Rendered<'static> {
    match api {
        Api::Telemetry => runtime_error(
            403,
            "Telemetry.SubscriptionClosed",
            "Telemetry API subscription is closed",
        ),
        Api::Logs => runtime_error(
            403,
            "Logs.SubscriptionClosed",
            "Logs API subscription is closed",
        ),
    }
}

// ----- events -----

/// Appends `event` as a Telemetry API event (`{"time":…,"type":…,"record":…}`,
/// <https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html>) generated at `at`; `max_memory_mb` is the peak memory a report carries. Returns
/// `false`, writing nothing, for an event the Telemetry API has no type for: strict consumers
/// reject a whole batch over one unknown type, so only documented types are written.
// One copy in the binary, not one per caller.
#[inline(never)]
pub fn write_event(
    out: &mut Vec<u8>,
    ctx: &Context,
    event: &PlatformEvent,
    at: Micros,
    max_memory_mb: u64,
) -> bool {
    let kind = match event {
        PlatformEvent::InitStart { .. } => "platform.initStart",
        PlatformEvent::InitRuntimeDone { .. } => "platform.initRuntimeDone",
        PlatformEvent::InitDone { .. } => "platform.initReport",
        PlatformEvent::Start { .. } => "platform.start",
        PlatformEvent::RuntimeDone { .. } => "platform.runtimeDone",
        PlatformEvent::Report { .. } => "platform.report",
        PlatformEvent::Extension { .. } => "platform.extension",
        PlatformEvent::RestoreStart => "platform.restoreStart",
        PlatformEvent::RestoreRuntimeDone { .. } => "platform.restoreRuntimeDone",
        PlatformEvent::RestoreReport { .. } => "platform.restoreReport",
        PlatformEvent::TimedOut { .. }
        | PlatformEvent::RuntimeExited { .. }
        | PlatformEvent::ExtensionExited { .. } => return false,
    };
    envelope(out, ctx, at, kind);
    out.push(b'{');
    let mut r = Fields { out, first: true };
    match event {
        PlatformEvent::InitStart { phase, kind } => {
            r.str("initializationType", kind.as_str());
            r.str("phase", phase.as_str());
            r.str("functionName", &ctx.function_name);
            r.str("functionVersion", &ctx.version);
        }
        PlatformEvent::InitRuntimeDone {
            phase,
            kind,
            status,
            error_type,
        } => {
            r.str("initializationType", kind.as_str());
            r.str("phase", phase.as_str());
            r.status(*status, error_type.as_deref());
        }
        PlatformEvent::InitDone {
            phase,
            kind,
            status,
            error_type,
            duration,
        } => {
            r.str("initializationType", kind.as_str());
            r.str("phase", phase.as_str());
            r.status(*status, error_type.as_deref());
            r.open("metrics");
            r.ms("durationMs", *duration);
            r.close();
        }
        PlatformEvent::Start {
            request_id,
            trace_id,
            tenant_id,
        } => {
            r.str("requestId", request_id.as_str());
            r.str("version", &ctx.version);
            if let Some(tenant) = tenant_id {
                r.str("tenantId", tenant);
            }
            r.open("tracing");
            r.str("type", "X-Amzn-Trace-Id");
            r.str("value", trace_id.as_str());
            r.close();
        }
        PlatformEvent::RuntimeDone {
            request_id,
            status,
            error_type,
            duration,
            produced_bytes,
            response,
        } => {
            r.str("requestId", request_id.as_str());
            r.status(*status, error_type.as_deref());
            r.open("metrics");
            r.ms("durationMs", *duration);
            r.num("producedBytes", *produced_bytes);
            r.close();
            if let Some(t) = response {
                r.key("spans");
                r.out.push(b'[');
                span(
                    r.out,
                    ctx,
                    "responseLatency",
                    t.released,
                    t.started.since(t.released),
                );
                r.out.push(b',');
                span(
                    r.out,
                    ctx,
                    "responseDuration",
                    t.started,
                    t.completed.since(t.started),
                );
                r.out.push(b']');
            }
        }
        PlatformEvent::Report {
            request_id,
            status,
            error_type,
            duration,
            init_duration,
            extensions,
            responded,
            tenant_id,
            restore_duration,
            ..
        } => {
            r.str("requestId", request_id.as_str());
            r.status(*status, error_type.as_deref());
            // Under tenant isolation (<https://docs.aws.amazon.com/lambda/latest/dg/tenant-isolation-monitor.html>).
            if let Some(tenant) = tenant_id {
                r.str("tenantId", tenant);
            }
            r.open("metrics");
            r.ms("durationMs", *duration);
            r.num(
                "billedDurationMs",
                Ms2::billed_with_init(*duration, *init_duration),
            );
            r.num("memorySizeMB", u64::from(ctx.memory_mb));
            r.num("maxMemoryUsedMB", max_memory_mb);
            if let Some(init) = init_duration {
                r.ms("initDurationMs", *init);
            }
            if let Some(restore) = restore_duration {
                r.ms("restoreDurationMs", *restore);
            }
            r.close();
            if let (Some(overhead), Some(start)) = (extensions.max(), responded) {
                r.key("spans");
                r.out.push(b'[');
                span(r.out, ctx, "extensionOverhead", *start, overhead);
                r.out.push(b']');
            }
        }
        PlatformEvent::Extension {
            name,
            state,
            events,
        } => r.extension(name, state, *events),
        PlatformEvent::RestoreStart => {
            r.str("functionName", &ctx.function_name);
            r.str("functionVersion", &ctx.version);
        }
        PlatformEvent::RestoreRuntimeDone { status, error_type } => {
            r.status(*status, error_type.as_deref());
        }
        PlatformEvent::RestoreReport {
            status,
            error_type,
            duration,
        } => {
            r.status(*status, error_type.as_deref());
            r.open("metrics");
            r.ms("durationMs", *duration);
            r.close();
        }
        PlatformEvent::TimedOut { .. }
        | PlatformEvent::RuntimeExited { .. }
        | PlatformEvent::ExtensionExited { .. } => {}
    }
    out.extend_from_slice(b"}}");
    true
}

/// Appends a `function` or `extension` event: one line of output, as a JSON string
/// (`extension == false` for the runtime's).
pub fn write_line(out: &mut Vec<u8>, ctx: &Context, at: Micros, extension: bool, line: &str) {
    envelope(
        out,
        ctx,
        at,
        if extension { "extension" } else { "function" },
    );
    // With the JSON log format, a line that is a JSON object is the record itself.
    let object = ctx.json_logs
        && line.trim_start().starts_with('{')
        && crate::json::validate(line.as_bytes()).is_ok();
    if object {
        out.extend_from_slice(line.trim().as_bytes());
    } else {
        // Writing to a Vec cannot fail, and a str always serialises.
        let _ = serde_json::to_writer(&mut *out, line);
    }
    out.push(b'}');
}

/// Appends `platform.telemetrySubscription` (`platform.logsSubscription` for the Logs API):
/// extension `name` subscribed to `types`.
pub fn write_subscription(
    out: &mut Vec<u8>,
    ctx: &Context,
    at: Micros,
    api: Api,
    name: &str,
    types: Types,
) {
    let kind = match api {
        Api::Telemetry => "platform.telemetrySubscription",
        Api::Logs => "platform.logsSubscription",
    };
    envelope(out, ctx, at, kind);
    out.push(b'{');
    let mut r = Fields { out, first: true };
    r.str("name", name);
    r.str("state", "Subscribed");
    r.key("types");
    let mut listed = Vec::with_capacity(3);
    for (on, t) in [
        (types.platform, "platform"),
        (types.function, "function"),
        (types.extension, "extension"),
    ] {
        if on {
            listed.push(t);
        }
    }
    let _ = serde_json::to_writer(&mut *r.out, &listed);
    out.extend_from_slice(b"}}");
}

/// Appends `platform.logsDropped`: a subscriber fell behind and lost records.
pub fn write_logs_dropped(out: &mut Vec<u8>, ctx: &Context, at: Micros, records: u64, bytes: u64) {
    envelope(out, ctx, at, "platform.logsDropped");
    out.push(b'{');
    let mut r = Fields { out, first: true };
    r.str(
        "reason",
        "Some logs were dropped because the downstream consumer is slower than the logs production rate",
    );
    r.num("droppedRecords", records);
    r.num("droppedBytes", bytes);
    out.extend_from_slice(b"}}");
}

/// Appends `event` as the Logs API's records (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-logs-api.html>) for a subscriber on `schema`,
/// each followed by nothing (the caller frames them); returns how many it wrote into
/// `records`. A report is two records (`platform.end`, then `platform.report`); an event the
/// Logs API has no type for is none.
pub(crate) fn write_logs_event(
    records: &mut Vec<Vec<u8>>,
    ctx: &Context,
    schema: Schema,
    event: &PlatformEvent,
    at: Micros,
    max_memory_mb: u64,
) -> usize {
    let before = records.len();
    let mut record = |kind: &str, body: &mut dyn FnMut(&mut Fields<'_>)| {
        let mut out = Vec::with_capacity(160);
        envelope(&mut out, ctx, at, kind);
        out.push(b'{');
        body(&mut Fields {
            out: &mut out,
            first: true,
        });
        out.extend_from_slice(b"}}");
        records.push(out);
    };
    match event {
        PlatformEvent::Start { request_id, .. } => record("platform.start", &mut |r| {
            r.str("requestId", request_id.as_str());
            r.str("version", &ctx.version);
        }),
        PlatformEvent::RuntimeDone {
            request_id, status, ..
        } if schema == Schema::Logs2021_03_18 => record("platform.runtimeDone", &mut |r| {
            r.str("requestId", request_id.as_str());
            r.str("status", status.as_str());
        }),
        PlatformEvent::Report {
            request_id,
            duration,
            init_duration,
            ..
        } => {
            record("platform.end", &mut |r| {
                r.str("requestId", request_id.as_str())
            });
            record("platform.report", &mut |r| {
                r.str("requestId", request_id.as_str());
                r.open("metrics");
                r.ms("durationMs", *duration);
                r.num(
                    "billedDurationMs",
                    Ms2::billed_with_init(*duration, *init_duration),
                );
                r.num("memorySizeMB", u64::from(ctx.memory_mb));
                r.num("maxMemoryUsedMB", max_memory_mb);
                if let Some(init) = init_duration {
                    r.ms("initDurationMs", *init);
                }
                r.close();
            });
        }
        PlatformEvent::Extension {
            name,
            state,
            events,
        } => record("platform.extension", &mut |r| {
            r.extension(name, state, *events)
        }),
        PlatformEvent::RuntimeExited {
            request_id: Some(id),
            ..
        } => {
            // A string record (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-logs-api.html>).
            let mut out = Vec::with_capacity(160);
            envelope(&mut out, ctx, at, "platform.fault");
            let text = format!("RequestId: {id} Process exited before completing request");
            let _ = serde_json::to_writer(&mut out, &text);
            out.push(b'}');
            records.push(out);
        }
        _ => {}
    }
    records.len() - before
}

/// `{"name":…,"start":…,"durationMs":…}`.
fn span(out: &mut Vec<u8>, ctx: &Context, name: &str, start: Micros, duration: Micros) {
    let mut s = Fields { out, first: true };
    s.out.push(b'{');
    s.str("name", name);
    s.str("start", &time(ctx, start));
    s.ms("durationMs", duration);
    s.out.push(b'}');
}

/// ISO-8601 UTC with milliseconds, as Lambda stamps events.
fn time(ctx: &Context, at: Micros) -> String {
    Civil::from_epoch_micros(ctx.epoch_us + at.as_micros()).rfc3339_millis()
}

/// Opens an event: `{"time":…,"type":"<kind>","record":` (the caller writes the record and the
/// closing brace).
fn envelope(out: &mut Vec<u8>, ctx: &Context, at: Micros, kind: &str) {
    out.extend_from_slice(b"{\"time\":\"");
    out.extend_from_slice(time(ctx, at).as_bytes());
    out.extend_from_slice(b"\",\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"record\":");
}

/// The fields of a JSON object being written.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Fields<'_> {
    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    #[inline(never)]
    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        // Writing to a Vec cannot fail, and a str always serialises.
        let _ = serde_json::to_writer(&mut *self.out, value);
    }

    #[inline(never)]
    fn num(&mut self, key: &str, value: u64) {
        self.key(key);
        let mut digits = [0; 20];
        self.out
            .extend_from_slice(crate::http::decimal(&mut digits, value));
    }

    /// Milliseconds with microsecond precision, as a JSON number: `2599.0`, `549.04`.
    fn ms(&mut self, key: &str, value: Micros) {
        self.key(key);
        let us = value.as_micros();
        let mut digits = [0; 20];
        self.out
            .extend_from_slice(crate::http::decimal(&mut digits, us / 1_000));
        let frac = us % 1_000;
        let text = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let keep = text.iter().rposition(|d| *d != b'0').map_or(1, |i| i + 1);
        self.out.push(b'.');
        self.out.extend_from_slice(&text[..keep]);
    }

    /// `name`, `state`, `events` of `platform.extension`.
    fn extension(&mut self, name: &str, state: &str, events: crate::lifecycle::Events) {
        self.str("name", name);
        self.str("state", state);
        self.key("events");
        let listed: &[u8] = match (events.invoke, events.shutdown) {
            (true, true) => br#"["INVOKE","SHUTDOWN"]"#,
            (true, false) => br#"["INVOKE"]"#,
            (false, true) => br#"["SHUTDOWN"]"#,
            (false, false) => b"[]",
        };
        self.out.extend_from_slice(listed);
    }

    fn status(&mut self, status: Status, error_type: Option<&str>) {
        self.str("status", status.as_str());
        if let Some(t) = error_type.filter(|_| status != Status::Success) {
            self.str("errorType", t);
        }
    }

    /// Opens a nested object under `key`; [`Fields::close`] ends it.
    fn open(&mut self, key: &str) {
        self.key(key);
        self.out.push(b'{');
        self.first = true;
    }

    fn close(&mut self) {
        self.out.push(b'}');
        self.first = false;
    }
}

#[cfg(test)]
mod tests;

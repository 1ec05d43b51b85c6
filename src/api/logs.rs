//! Lifecycle events as CloudWatch-style log lines: `START`, `END`, `REPORT`, `INIT_REPORT`, and
//! the platform's lines for timeouts and runtime exits (RIE `internal/lambda/rie/handlers.go`;
//! <https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html>); with the JSON
//! log format, the records Lambda writes instead, filtered by the system log level.

use std::fmt::Write as _;

use super::{Context, LogLevel};
use crate::lifecycle::{InitType, PlatformEvent, Status};
use crate::time::{Civil, Micros, Ms2};

/// Appends the lines for `event` (each ending in `\n`) to `out`. `now` stamps the lines that
/// carry a time; `max_memory_mb` is the runtime's peak RSS for a report.
pub(crate) fn write_event(
    out: &mut String,
    ctx: &Context,
    event: &PlatformEvent,
    now: Micros,
    max_memory_mb: Option<u64>,
) {
    // Writes to a String cannot fail.
    let _ = match event {
        PlatformEvent::Start { request_id, .. } => {
            writeln!(
                out,
                "START RequestId: {request_id} Version: {}",
                ctx.version
            )
        }
        PlatformEvent::Report {
            request_id,
            status,
            error_type,
            duration,
            init_duration,
            extensions,
            restore_duration,
            ..
        } => {
            let shown = duration.display_ms2();
            let _ = writeln!(out, "END RequestId: {request_id}");
            let _ = write!(
                out,
                "REPORT RequestId: {request_id}\tDuration: {shown} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
                Ms2::billed_with_init(*duration, *init_duration),
                ctx.memory_mb,
                max_memory_mb.unwrap_or(0),
            );
            if let Some(init) = init_duration {
                let _ = write!(out, "Init Duration: {} ms\t", init.display_ms2());
            }
            // SnapStart (<https://docs.aws.amazon.com/lambda/latest/dg/snapstart-monitoring.html>):
            // the restore, and what is billed of it (here the whole of it, in milliseconds up).
            if let Some(restore) = restore_duration {
                let _ = write!(
                    out,
                    "Restore Duration: {} ms\tBilled Restore Duration: {} ms\t",
                    restore.display_ms2(),
                    Ms2::billed_with_init(*restore, None)
                );
            }
            // Not on Lambda's line: what each extension added after the runtime's response,
            // to the microsecond (the largest is CloudWatch's PostRuntimeExtensionsDuration).
            if let Some(max) = extensions.max() {
                let _ = write!(out, "Extension Overhead: {} ms (", Ms3(max));
                for (i, (name, overhead)) in extensions.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    let _ = write!(out, "{sep}{name}: {} ms", Ms3(overhead));
                }
                let _ = write!(out, ")\t");
            }
            // Lambda marks reports of invocations that did not end normally.
            match (status, error_type) {
                (Status::Timeout, _) => {
                    let _ = write!(out, "Status: timeout\t");
                }
                (Status::Failure, Some(t)) => {
                    let _ = write!(out, "Status: error\tError Type: {t}\t");
                }
                _ => {}
            }
            writeln!(out)
        }
        PlatformEvent::TimedOut { request_id, after } => {
            let ms = after.as_millis();
            writeln!(
                out,
                "{} {request_id} Task timed out after {}.{:02} seconds",
                stamp(ctx, now),
                ms / 1000,
                (ms % 1000) / 10
            )
        }
        PlatformEvent::RuntimeExited { request_id, status } => {
            if let Some(id) = request_id {
                let _ = write!(out, "RequestId: {id} ");
            }
            writeln!(
                out,
                "Error: Runtime exited with error: {status}\nRuntime.ExitError"
            )
        }
        PlatformEvent::InitDone {
            phase,
            kind,
            status,
            error_type,
            duration,
        } => {
            let failed = *status != Status::Success;
            let suppressed = *phase == crate::lifecycle::InitPhase::Invoke;
            // A successful on-demand init shows on the next REPORT instead, unless it was a
            // suppressed one, inside an invocation: that has its own line, with its phase.
            if !failed && !suppressed && *kind == crate::lifecycle::InitType::OnDemand {
                return;
            }
            let _ = write!(
                out,
                "INIT_REPORT Init Duration: {} ms",
                duration.display_ms2()
            );
            if suppressed && !failed {
                let _ = write!(out, "\tPhase: invoke");
            }
            if failed {
                let phase = phase.as_str();
                let status = if *status == Status::Timeout {
                    "timeout"
                } else {
                    "error"
                };
                let _ = write!(out, "\tPhase: {phase}\tStatus: {status}");
                if let Some(t) = error_type {
                    let _ = write!(out, "\tError Type: {t}");
                }
            }
            writeln!(out)
        }
        PlatformEvent::Extension {
            name,
            state,
            events,
        } => {
            let listed = match (events.invoke, events.shutdown) {
                (true, true) => "INVOKE, SHUTDOWN",
                (true, false) => "INVOKE",
                (false, true) => "SHUTDOWN",
                (false, false) => "",
            };
            writeln!(
                out,
                "EXTENSION\tName: {name}\tState: {state}\tEvents: [{listed}]"
            )
        }
        PlatformEvent::ExtensionExited { name, status } => writeln!(
            out,
            "Error: Extension {name} exited with error: {status}\nExtension.Crash"
        ),
        // A restore shows on the next REPORT; one that failed has its own line.
        PlatformEvent::RestoreReport {
            status,
            error_type,
            duration,
        } if *status != Status::Success => {
            let _ = write!(
                out,
                "RESTORE_REPORT Restore Duration: {} ms\tStatus: {}",
                duration.display_ms2(),
                status.as_str()
            );
            if let Some(t) = error_type {
                let _ = write!(out, "\tError Type: {t}");
            }
            writeln!(out)
        }
        PlatformEvent::InitStart { .. }
        | PlatformEvent::InitRuntimeDone { .. }
        | PlatformEvent::RuntimeDone { .. }
        | PlatformEvent::RestoreStart
        | PlatformEvent::RestoreRuntimeDone { .. }
        | PlatformEvent::RestoreReport { .. } => Ok(()),
    };
}

/// Milliseconds with three decimals: microsecond precision.
struct Ms3(Micros);

impl std::fmt::Display for Ms3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = self.0.as_micros();
        write!(f, "{}.{:03}", us / 1_000, us % 1_000)
    }
}

fn stamp(ctx: &Context, now: Micros) -> String {
    Civil::from_epoch_micros(ctx.epoch_us + now.as_micros()).rfc3339_millis()
}

/// The system log level of `event`'s record, for Lambda's log-level filtering
/// (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html>,
/// "System log level event mapping"): what reports an invocation's or an init's normal course is
/// INFO (`platform.start`, `platform.report`, a provisioned init's `platform.initReport`, an
/// extension's registration), the steps inside it DEBUG (`platform.initStart`,
/// `platform.initRuntimeDone`, `platform.runtimeDone`, an on-demand `platform.initReport`),
/// and any of them that did not succeed WARN.
pub(crate) fn system_level(event: &PlatformEvent) -> LogLevel {
    let (status, normal) = match event {
        PlatformEvent::InitStart { .. } | PlatformEvent::RestoreStart => {
            (Status::Success, LogLevel::Debug)
        }
        PlatformEvent::RestoreRuntimeDone { status, .. } => (*status, LogLevel::Debug),
        PlatformEvent::RestoreReport { status, .. } => (*status, LogLevel::Info),
        PlatformEvent::InitRuntimeDone { status, .. }
        | PlatformEvent::RuntimeDone { status, .. } => (*status, LogLevel::Debug),
        PlatformEvent::InitDone { status, kind, .. } => {
            let normal = match kind {
                InitType::OnDemand => LogLevel::Debug,
                _ => LogLevel::Info,
            };
            (*status, normal)
        }
        PlatformEvent::Report { status, .. } => (*status, LogLevel::Info),
        PlatformEvent::Start { .. } | PlatformEvent::Extension { .. } => {
            (Status::Success, LogLevel::Info)
        }
        PlatformEvent::TimedOut { .. }
        | PlatformEvent::RuntimeExited { .. }
        | PlatformEvent::ExtensionExited { .. } => (Status::Failure, LogLevel::Warn),
    };
    match status {
        Status::Success => normal,
        _ => LogLevel::Warn,
    }
}

/// With the JSON log format: `event` as the JSON record Lambda writes for it (the Telemetry
/// API's shape, <https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html>),
/// one line, when its system log level is shown; nothing otherwise, nor for an event that has
/// no record (a timeout or an exit is the `runtimeDone` and `report` that follow).
#[inline(never)]
pub(crate) fn write_json(
    out: &mut Vec<u8>,
    ctx: &Context,
    event: &PlatformEvent,
    at: Micros,
    max_memory_mb: Option<u64>,
) {
    if system_level(event) >= ctx.system_level
        && super::telemetry::write_event(out, ctx, event, at, max_memory_mb.unwrap_or(0))
    {
        out.push(b'\n');
    }
}

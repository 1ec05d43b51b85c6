//! The Extensions API (2020-01-01) on the wire (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>; RIE
//! `internal/lambda/rapi/handler/agent*.go`): reading `register`,
//! the identifier and error-type headers, and rendering registrations, events and refusals as
//! rapid does. The lifecycle decides everything else.

use std::borrow::Cow;
use std::io::Write as _;

use super::{Context, JSON, Rendered, runtime_error};
use crate::http::{Head, decimal, write_head};
use crate::id::{RequestId, TraceId, Uuid};
use crate::time::Micros;

pub(crate) use crate::lifecycle::{Events, ShutdownReason};

/// The Extensions API's path prefix.
pub(crate) const EXTENSION_PREFIX: &str = "/2020-01-01/extension";

/// The header that names an extension at registration.
pub(crate) const NAME_HEADER: &str = "Lambda-Extension-Name";
/// The header that carries an extension's identifier, given at registration.
pub(crate) const IDENTIFIER_HEADER: &str = "Lambda-Extension-Identifier";
/// The header of `init/error` and `exit/error` that carries the error type.
pub(crate) const ERROR_TYPE_HEADER: &str = "Lambda-Extension-Function-Error-Type";
/// The registration header that asks for optional response fields.
pub(crate) const ACCEPT_FEATURE_HEADER: &str = "Lambda-Extension-Accept-Feature";

/// A `register` request, read and checked as far as the wire allows; the lifecycle decides
/// the rest (registration closed, duplicate names, the limit of 10, SHUTDOWN for internal
/// extensions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Registration {
    /// `Lambda-Extension-Name`: the executable's file name for an external extension.
    pub name: String,
    /// The events it subscribes to.
    pub events: Events,
    /// Whether it asked for `accountId` in the response (`Lambda-Extension-Accept-Feature`).
    pub account_id: bool,
}

/// A 403 in the Runtime API's error form: every Extensions API refusal has this status.
pub(crate) fn refused(error_type: &str, message: &str) -> Box<Rendered<'static>> {
    Box::new(runtime_error(403, error_type, message))
}

/// Reads `POST /2020-01-01/extension/register` (rapid `agentregister.go`).
pub(crate) fn register(
    head: &Head<'_>,
    body: &[u8],
) -> Result<Registration, Box<Rendered<'static>>> {
    let name = head.header_str(NAME_HEADER).unwrap_or("");
    if name.is_empty() {
        return Err(refused(
            "Extension.InvalidExtensionName",
            "Empty extension name",
        ));
    }
    let account_id = head.header(ACCEPT_FEATURE_HEADER).is_some_and(|value| {
        value
            .split(|b| *b == b',')
            .any(|feature| feature.trim_ascii() == b"accountId")
    });
    let events = events(body)?;
    Ok(Registration {
        name: name.to_string(),
        events,
        account_id,
    })
}

/// The `events` of a registration body; an empty body subscribes to nothing.
fn events(body: &[u8]) -> Result<Events, Box<Rendered<'static>>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Events::default());
    }
    let invalid = |message: &str| refused("InvalidRequestFormat", message);
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(&e.to_string()))?;
    let Some(fields) = value.as_object() else {
        return Err(invalid("The request body must be a JSON object"));
    };
    if fields.contains_key("configurationKeys") {
        return Err(invalid(
            "configurationKeys are deprecated; use environment variables instead",
        ));
    }
    let mut events = Events::default();
    let listed = match fields.get("events") {
        None | Some(serde_json::Value::Null) => return Ok(events),
        Some(serde_json::Value::Array(listed)) => listed,
        Some(_) => return Err(invalid("events must be an array of event types")),
    };
    for event in listed {
        match event.as_str() {
            Some("INVOKE") => events.invoke = true,
            Some("SHUTDOWN") => events.shutdown = true,
            Some(other) => {
                return Err(refused(
                    "Extension.InvalidEventType",
                    &format!("{other}: ErrorInvalidEventType"),
                ));
            }
            None => return Err(invalid("events must be an array of event types")),
        }
    }
    Ok(events)
}

/// The `Lambda-Extension-Identifier` of a request after registration (rapid `middleware.go`).
pub(crate) fn identifier(head: &Head<'_>) -> Result<Uuid, Box<Rendered<'static>>> {
    // As bytes: an identifier is ASCII or invalid, with no UTF-8 check first.
    let raw = head.header(IDENTIFIER_HEADER).map(<[u8]>::trim_ascii);
    let Some(raw) = raw.filter(|v| !v.is_empty()) else {
        return Err(refused(
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header",
        ));
    };
    Uuid::parse_bytes(raw).ok_or_else(|| {
        refused(
            "Extension.InvalidExtensionIdentifier",
            "Invalid Lambda-Extension-Identifier",
        )
    })
}

/// The `Lambda-Extension-Function-Error-Type` of `init/error` and `exit/error`
/// (rapid `agentiniterror.go`, `agentexiterror.go`).
pub(crate) fn error_type(head: &Head<'_>) -> Result<String, Box<Rendered<'static>>> {
    match head.header_str(ERROR_TYPE_HEADER).filter(|v| !v.is_empty()) {
        Some(t) => Ok(t.to_string()),
        None => Err(refused(
            "Extension.MissingHeader",
            "Lambda-Extension-Function-Error-Type not found",
        )),
    }
}

/// The answer to a registration: 200, the identifier, and the function's name, version and
/// handler, with `accountId` only when it was asked for (rapid `agentregisterresponse.go`).
pub(crate) fn registered<'a>(
    ctx: &Context,
    id: &'a Uuid,
    handler: &str,
    account_id: bool,
) -> Rendered<'a> {
    let mut body = Vec::with_capacity(128);
    body.extend_from_slice(b"{\"functionName\":");
    json_string(&mut body, &ctx.function_name);
    body.extend_from_slice(b",\"functionVersion\":");
    json_string(&mut body, &ctx.version);
    body.extend_from_slice(b",\"handler\":");
    json_string(&mut body, handler);
    if account_id {
        body.extend_from_slice(b",\"accountId\":");
        json_string(&mut body, &ctx.account_id);
    }
    body.push(b'}');
    Rendered::new(200, Cow::Owned(body))
        .header("Content-Type", JSON)
        .header(IDENTIFIER_HEADER, id.as_bytes())
}

/// The body of an invocation's INVOKE event: the same for every extension (only the event id
/// in the head differs), so rendered once per invocation and kept for the next extension.
#[derive(Debug, Default)]
pub(crate) struct InvokeBody {
    /// The release it was rendered for: an `Event` invocation's retry keeps its request id
    /// and has a new deadline.
    rendered_for: Option<(RequestId, Micros)>,
    bytes: Vec<u8>,
}

impl InvokeBody {
    /// The INVOKE event's body for the invocation released with `deadline`: the same deadline
    /// as the runtime's, and `tracing` always present (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>; RIE `rapi/model/agentevent.go`).
    /// Rendered without allocating once the buffer has grown.
    pub(crate) fn of(
        &mut self,
        ctx: &Context,
        request_id: &RequestId,
        invoked_arn: Option<&str>,
        trace_id: &TraceId,
        deadline: Micros,
    ) -> &[u8] {
        if self.rendered_for != Some((*request_id, deadline)) {
            self.rendered_for = Some((*request_id, deadline));
            self.bytes.clear();
            render_invoke_body(
                &mut self.bytes,
                ctx,
                request_id,
                invoked_arn,
                trace_id,
                deadline,
            );
        }
        &self.bytes
    }
}

/// Appends the answer to an extension's `event/next` for an invocation: its INVOKE event,
/// `body` from [`InvokeBody::of`], under this extension's own event id.
pub(crate) fn write_invoke_event(out: &mut Vec<u8>, event_id: &Uuid, body: &[u8], close: bool) {
    write_head(
        out,
        200,
        &[
            ("Content-Type", JSON),
            ("Lambda-Extension-Event-Identifier", event_id.as_bytes()),
        ],
        body.len(),
        close,
    );
    out.extend_from_slice(body);
}

fn render_invoke_body(
    out: &mut Vec<u8>,
    ctx: &Context,
    request_id: &RequestId,
    invoked_arn: Option<&str>,
    trace_id: &TraceId,
    deadline: Micros,
) {
    out.extend_from_slice(br#"{"eventType":"INVOKE","deadlineMs":"#);
    let mut digits = [0; 20];
    out.extend_from_slice(decimal(
        &mut digits,
        (ctx.epoch_us + deadline.as_micros()) / 1_000,
    ));
    out.extend_from_slice(br#","requestId":""#);
    out.extend_from_slice(request_id.as_bytes());
    out.extend_from_slice(br#"","invokedFunctionArn":"#);
    match invoked_arn {
        Some(arn) => json_string(out, arn),
        None => out.extend_from_slice(ctx.arn_json()),
    }
    out.extend_from_slice(br#","tracing":{"type":"X-Amzn-Trace-Id","value":"#);
    json_string(out, trace_id.as_str());
    out.extend_from_slice(b"}}");
}

/// The answer to an extension's `event/next` at shutdown: the SHUTDOWN event.
pub(crate) fn shutdown_event(
    ctx: &Context,
    reason: ShutdownReason,
    deadline: Micros,
) -> Rendered<'static> {
    let mut body = Vec::with_capacity(96);
    let _ = write!(
        body,
        r#"{{"eventType":"SHUTDOWN","deadlineMs":{},"shutdownReason":"{}"}}"#,
        (ctx.epoch_us + deadline.as_micros()) / 1_000,
        reason.as_str()
    );
    Rendered::new(200, Cow::Owned(body)).header("Content-Type", JSON)
}

/// Appends `s` as a JSON string, quoted and escaped.
#[inline(never)]
fn json_string(out: &mut Vec<u8>, s: &str) {
    // What JSON escapes: control characters, '"' and '\\' (RFC 8259, section 7). A trace id
    // or an ARN seldom has one, and is then copied as it is. Checked without an early exit,
    // so that the check runs many bytes at a time.
    let plain = s.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    });
    if plain {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing to a Vec cannot fail, and a str always serialises.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[cfg(test)]
mod tests;

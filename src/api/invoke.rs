//! The RIE-compatible invoke endpoint: `POST /2015-03-31/functions/{name}/invocations`, read
//! and answered as the Lambda Invoke API does (<https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>, RIE
//! `internal/lambda/rie/handlers.go`).
//!
//! What the invoker receives (lambda-sim's rule where AWS's emulator differs: RIE answers a
//! timeout or a crash with plain text or 502; Lambda, as below):
//!
//! | outcome | status | body |
//! |---|---|---|
//! | success | 200, the runtime's `Content-Type` | the runtime's bytes, unchanged |
//! | the runtime posted `/error` | 200, `X-Amz-Function-Error: Unhandled` | the error body as posted |
//! | timeout | 200, `X-Amz-Function-Error: Unhandled` | `Sandbox.Timedout`: `RequestId: <id> Error: Task timed out after <T>.00 seconds` |
//! | the runtime exited | 200, `X-Amz-Function-Error: Unhandled` | `Runtime.ExitError`: `RequestId: <id> Error: Runtime exited with error: exit status <n>` (or `signal: <name>`) |
//! | the init failed | 200, `X-Amz-Function-Error: Unhandled` | the runtime's init error if it posted one, else as above |
//! | response over 6 291 556 bytes | 200, `X-Amz-Function-Error: Unhandled` | `Function.ResponseSizeTooLarge` |
//! | an extension crashed or reported an error | 200, `X-Amz-Function-Error: Unhandled` | `Extension.Crash`, `Extension.InitError`, `Extension.ExitError` |
//!
//! Every answer carries `X-Amzn-RequestId` and `X-Amz-Executed-Version`. A refused request gets
//! the Invoke API's REST-JSON error: its status, `x-amzn-ErrorType: <Code>`, and
//! `{"Type":"User","message":…}`: 404 `ResourceNotFoundException` for another function or
//! qualifier, 413 `RequestEntityTooLargeException` past 6 MB (1 MB for `Event`), 429
//! `TooManyRequestsException` when the queue is full, 400 `InvalidRequestContentException` for a
//! malformed request, 400 `InvalidParameterValueException` for an invocation type, log type,
//! tenant id (`TenantId`: 1 to 256 of `[a-zA-Z0-9._:/=+\-@ ]`) or trace header (an X-Ray
//! tracing header of at most 8192 characters) out of its definition: what reaches the runtime
//! is never forwarded unchecked. Sources: the Invoke API reference above, and the function
//! error shape in <https://docs.aws.amazon.com/lambda/latest/dg/invocation-sync.html>.

use std::borrow::Cow;

use super::{Context, JSON, Refusal, Rendered, invoke_error};
use crate::http::Head;
use crate::id::RequestId;
use crate::lifecycle::{Failure, InvokeReply, InvokeRequest, Outcome};

/// The Invoke API path prefix.
pub(crate) const PREFIX: &str = "/2015-03-31/functions/";

/// The `InvokeWithResponseStream` path prefix; its paths end in
/// `/response-streaming-invocations`.
pub(crate) const STREAM_PREFIX: &str = "/2021-11-15/functions/";

/// The longest `X-Amz-Client-Context`, in base64 characters (the Invoke API's limit, mirrored
/// by cargo-lambda's `functions_router.rs`).
pub(crate) const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;

/// The longest `X-Amz-Tenant-Id` (the Invoke API's `TenantId`: 1 to 256 characters of
/// `[a-zA-Z0-9._:/=+\-@ ]`).
pub(crate) const MAX_TENANT_ID_BYTES: usize = 256;

/// The longest `X-Amzn-Trace-Id` (the Lambda API's `TraceHeader.XAmznTraceId`, at most 8192
/// characters: <https://docs.aws.amazon.com/lambda/latest/api/API_TraceHeader.html>).
pub(crate) const MAX_TRACE_HEADER_BYTES: usize = 8192;

/// Whether `id` is a `TenantId` as the Invoke API's reference defines it.
pub(crate) fn valid_tenant_id(id: &[u8]) -> bool {
    (1..=MAX_TENANT_ID_BYTES).contains(&id.len())
        && id.iter().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'.' | b'_' | b':' | b'/' | b'=' | b'+' | b'-' | b'@' | b' '
                )
        })
}

/// Whether `header` is an X-Ray tracing header
/// (<https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader>):
/// `key=value` fields separated by `;`, a `Root=1-<8 hex>-<24 hex>` among them, `Parent` 16 hex
/// digits, `Sampled` one of `0`, `1`, `?`; other fields (`Lineage`, ...) of token characters;
/// at most [`MAX_TRACE_HEADER_BYTES`].
pub(crate) fn valid_trace_header(header: &[u8]) -> bool {
    let hex = |s: &[u8], n: usize| s.len() == n && s.iter().all(u8::is_ascii_hexdigit);
    let token = |s: &[u8]| {
        !s.is_empty()
            && s.iter().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'-' | b'_' | b'.' | b':' | b'/' | b'=' | b'+' | b'@' | b'|' | b','
                    )
            })
    };
    if header.len() > MAX_TRACE_HEADER_BYTES {
        return false;
    }
    let mut root = false;
    for field in header.split(|b| *b == b';').map(trim) {
        if field.is_empty() {
            continue;
        }
        let Some(eq) = field.iter().position(|b| *b == b'=') else {
            return false;
        };
        let (key, value) = (&field[..eq], &field[eq + 1..]);
        let ok = match key {
            b"Root" => {
                root = true;
                value.len() == 35
                    && value.starts_with(b"1-")
                    && value[10] == b'-'
                    && hex(&value[2..10], 8)
                    && hex(&value[11..], 24)
            }
            b"Parent" => hex(value, 16),
            b"Sampled" => matches!(value, b"0" | b"1" | b"?"),
            _ => token(key) && token(value),
        };
        if !ok {
            return false;
        }
    }
    root
}

/// Resolves the function name in the path (a name, `name:qualifier`, a partial ARN or a full
/// ARN; `function` as RIE accepts it) and the `Qualifier` query parameter. `Ok(Some(arn))` for
/// a qualified invocation, `Ok(None)` for the unqualified function.
pub(crate) fn route(
    path: &str,
    query: Option<&str>,
    ctx: &Context,
) -> Result<Option<String>, Refusal> {
    let name = path
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .or_else(|| {
            path.strip_prefix(STREAM_PREFIX)
                .and_then(|rest| rest.strip_suffix("/response-streaming-invocations"))
        })
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .ok_or(Refusal::NotFound)?;
    let name = percent_decode(name).ok_or(Refusal::NotFound)?;
    let query_qualifier = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("Qualifier="))
        .and_then(percent_decode);

    // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>], or its tail
    // <account>:function:<name>[:<qualifier>], or <name>[:<qualifier>].
    // At most eight parts fit any accepted form; a ninth refuses the name.
    let mut parts = [""; 9];
    let mut count = 0;
    for part in name.split(':') {
        if count == parts.len() {
            return Err(Refusal::FunctionNotFound(name.to_string()));
        }
        parts[count] = part;
        count += 1;
    }
    let (region, account, function, qualifier) = match &parts[..count] {
        [
            "arn",
            "aws",
            "lambda",
            region,
            account,
            "function",
            function,
            rest @ ..,
        ] if rest.len() <= 1 => (
            Some(*region),
            Some(*account),
            *function,
            rest.first().copied(),
        ),
        [account, "function", function, rest @ ..] if rest.len() <= 1 => {
            (None, Some(*account), *function, rest.first().copied())
        }
        [function, rest @ ..] if rest.len() <= 1 => (None, None, *function, rest.first().copied()),
        _ => return Err(Refusal::FunctionNotFound(name.to_string())),
    };
    let qualifier = match (qualifier, query_qualifier.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return Err(Refusal::FunctionNotFound(format!("{name}:{b}")));
        }
        (Some(q), _) | (None, Some(q)) => Some(q),
        (None, None) => None,
    };
    let asked = |f: &str| {
        let mut arn = format!(
            "arn:aws:lambda:{}:{}:function:{f}",
            region.unwrap_or(&ctx.region),
            account.unwrap_or(&ctx.account_id)
        );
        if let Some(q) = qualifier {
            arn.push(':');
            arn.push_str(q);
        }
        arn
    };
    let ours = (function == "function" || function == ctx.function_name)
        && region.is_none_or(|r| r == ctx.region)
        && account.is_none_or(|a| a == ctx.account_id)
        && qualifier.is_none_or(|q| q == "$LATEST" || q == ctx.version);
    if !ours {
        return Err(Refusal::FunctionNotFound(asked(function)));
    }
    Ok(qualifier.map(|_| asked(&ctx.function_name)))
}

/// `X-Amz-Invocation-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InvocationType {
    /// Synchronous: the answer is the function's (the default).
    RequestResponse,
    /// Asynchronous: 202 at once; the invocation is queued and runs.
    Event,
    /// Validation only: 204, nothing runs.
    DryRun,
}

/// Whether a path is `InvokeWithResponseStream`'s.
pub(crate) fn is_stream_path(path: &str) -> bool {
    path.starts_with(STREAM_PREFIX)
}

/// The invocation type a head asks for, or the Invoke API's 400 for an unknown one.
/// `InvokeWithResponseStream` knows no `Event`.
pub(crate) fn invocation_type(head: &Head<'_>) -> Result<InvocationType, Box<Rendered<'static>>> {
    let stream = is_stream_path(head.path());
    match head.header_str("X-Amz-Invocation-Type") {
        None | Some("RequestResponse") => Ok(InvocationType::RequestResponse),
        Some("Event") if stream => Err(Box::new(invalid_value(
            "Event",
            "invocationType",
            "[RequestResponse, DryRun]",
        ))),
        Some("Event") => Ok(InvocationType::Event),
        Some("DryRun") => Ok(InvocationType::DryRun),
        Some(other) => Err(Box::new(invalid_value(
            other,
            "invocationType",
            "[Event, RequestResponse, DryRun]",
        ))),
    }
}

/// The Invoke API's 400 for a header whose value is not one of its enum's.
fn invalid_value(value: &str, field: &str, set: &str) -> Rendered<'static> {
    invoke_error(
        400,
        "InvalidParameterValueException",
        &format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: {set}"
        ),
    )
}

/// The Invoke API's 400 for an invocation whose tenant id or trace header is not what AWS
/// defines: both reach the runtime as headers and environment variables (and its extensions
/// in their events), so neither is forwarded as it came. Invocations over HTTP and embedded
/// ones are checked alike.
pub(crate) fn refused_forwarding(request: &InvokeRequest) -> Option<Box<Rendered<'static>>> {
    if let Some(id) = &request.tenant_id {
        if !valid_tenant_id(id.as_bytes()) {
            return Some(Box::new(invalid_tenant_id(id.as_bytes())));
        }
    }
    if let Some(trace) = &request.trace_id {
        if !valid_trace_header(trace.as_bytes()) {
            return Some(Box::new(invoke_error(
                400,
                "InvalidParameterValueException",
                &format!(
                    "X-Amzn-Trace-Id must be an X-Ray tracing header of at most \
                     {MAX_TRACE_HEADER_BYTES} characters: Root=1-<8 hex digits>-<24 hex digits>, \
                     then optionally Parent=<16 hex digits>, Sampled=0|1|? and other key=value \
                     fields, separated by ';'"
                ),
            )));
        }
    }
    None
}

/// The Invoke API's 400 for a `TenantId` out of its constraints. The value is quoted only
/// when it is short and printable: it is the invoker's, and may be neither.
fn invalid_tenant_id(id: &[u8]) -> Rendered<'static> {
    let constraint = if id.len() > MAX_TENANT_ID_BYTES {
        format!("Member must have length less than or equal to {MAX_TENANT_ID_BYTES}")
    } else {
        "Member must satisfy regular expression pattern: [a-zA-Z0-9\\._:\\/=+\\-@ ]+".to_string()
    };
    let shown = match std::str::from_utf8(id) {
        Ok(text) if id.len() <= MAX_TENANT_ID_BYTES && !text.chars().any(char::is_control) => {
            format!("Value '{text}'")
        }
        _ => format!("A value of {} bytes", id.len()),
    };
    invoke_error(
        400,
        "InvalidParameterValueException",
        &format!(
            "1 validation error detected: {shown} at 'tenantId' failed to satisfy constraint: {constraint}"
        ),
    )
}

/// Reads an invoke request's headers and body into what the core takes, and its invocation
/// type, or the Invoke API's refusal.
pub(crate) fn request(
    head: &Head<'_>,
    payload: Vec<u8>,
    invoked_arn: Option<String>,
) -> Result<(InvokeRequest, InvocationType), Box<Rendered<'static>>> {
    let bad =
        |message: &str| Box::new(invoke_error(400, "InvalidRequestContentException", message));
    let kind = invocation_type(head)?;
    let log_tail = match head.header_str("X-Amz-Log-Type") {
        None | Some("None") => false,
        // Only a synchronous invocation returns a log (Invoke API, `LogType`).
        Some("Tail") => kind == InvocationType::RequestResponse,
        Some(other) => return Err(Box::new(invalid_value(other, "logType", "[None, Tail]"))),
    };
    let client_context = match head.header("X-Amz-Client-Context").map(trim) {
        None | Some(b"") => None,
        Some(encoded) if encoded.len() > MAX_CLIENT_CONTEXT_BYTES => {
            return Err(bad(&format!(
                "Client context must be smaller than {MAX_CLIENT_CONTEXT_BYTES} bytes"
            )));
        }
        Some(encoded) => {
            let decoded = crate::base64::decode(encoded)
                .filter(|json| crate::json::validate(json).is_ok())
                .and_then(|json| String::from_utf8(json).ok())
                .ok_or_else(|| bad("Client context must be a valid Base64-encoded JSON object."))?;
            Some(decoded)
        }
    };
    // RIE's header for the identity a mobile SDK would send.
    let cognito_identity = match head.header("X-Amz-Cognito-Identity") {
        None => None,
        Some(raw) => Some(cognito(raw).ok_or_else(|| {
            bad("X-Amz-Cognito-Identity must be a JSON object with cognitoIdentityId and cognitoIdentityPoolId")
        })?),
    };
    if !payload.is_empty() {
        if let Err(e) = crate::json::validate(&payload) {
            return Err(bad(&format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            )));
        }
    }
    // Checked, with the embedding's invocations, by `refused_forwarding`.
    let header = |name| {
        head.header(name)
            .map(trim)
            .filter(|v| !v.is_empty())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let request = InvokeRequest {
        payload,
        content_type: None,
        client_context,
        cognito_identity,
        trace_id: header("X-Amzn-Trace-Id"),
        tenant_id: header("X-Amz-Tenant-Id"),
        invoked_arn,
        log_tail,
    };
    Ok((request, kind))
}

fn cognito(raw: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(raw).ok()?;
    let field = |name| {
        value
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let (id, pool) = (field("cognitoIdentityId"), field("cognitoIdentityPoolId"));
    if !value.is_object() || (id.is_empty() && pool.is_empty()) {
        return None;
    }
    Some(serde_json::json!({ "cognitoIdentityId": id, "cognitoIdentityPoolId": pool }).to_string())
}

/// The invoker's answer (the table in the module docs): 200 with the runtime's bytes, or 200 with
/// `X-Amz-Function-Error: Unhandled` and the error JSON.
pub(crate) fn render<'a>(ctx: &'a Context, reply: &'a InvokeReply) -> Rendered<'a> {
    let with_ids = |rendered: Rendered<'a>| {
        rendered
            .header("X-Amzn-RequestId", reply.request_id.as_bytes())
            .header("X-Amz-Executed-Version", ctx.version.as_bytes())
    };
    let content_type = |ct: &'a Option<String>| ct.as_deref().map_or(JSON, str::as_bytes);
    match &reply.outcome {
        Outcome::Response {
            body,
            content_type: ct,
        } => with_ids(Rendered::new(200, Cow::Borrowed(body)))
            .header("Content-Type", content_type(ct)),
        Outcome::FunctionError(e) => with_ids(Rendered::new(200, Cow::Borrowed(&e.body)))
            .header("Content-Type", content_type(&e.content_type))
            .header("X-Amz-Function-Error", b"Unhandled"),
        // SnapStart: the Invoke API's errors, not a function error (API_Invoke: 400
        // `SnapStartException`, 408 `SnapStartTimeoutException`).
        Outcome::Failure(f @ Failure::Restore { timeout }) => with_ids(invoke_error(
            if *timeout { 408 } else { 400 },
            f.error_type(),
            &f.message(reply.request_id),
        )),
        Outcome::Failure(f) => {
            let body = serde_json::json!({
                "errorType": f.error_type(),
                "errorMessage": f.message(reply.request_id),
            });
            with_ids(Rendered::new(
                200,
                Cow::Owned(body.to_string().into_bytes()),
            ))
            .header("Content-Type", JSON)
            .header("X-Amz-Function-Error", b"Unhandled")
        }
    }
}

/// 429 `TooManyRequestsException`: the Invoke API's answer for a function at its reserved
/// concurrency, reason `ReservedFunctionConcurrentInvocationLimitExceeded`.
pub(crate) fn throttled(message: &str) -> Rendered<'static> {
    let body = serde_json::json!({
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        "Type": "User",
        "message": message,
    });
    Rendered::new(429, Cow::Owned(body.to_string().into_bytes()))
        .header("Content-Type", JSON)
        .header("x-amzn-ErrorType", b"TooManyRequestsException")
}

/// The largest asynchronous (`Event`) invoke payload: 1 MB (the Invoke API's current limit;
/// it was 256 KB until 2025).
pub(crate) const MAX_EVENT_BYTES: u64 = 1024 * 1024;

/// 413 for a payload over the limit of its invocation type.
pub(crate) fn too_large(limit: u64) -> Rendered<'static> {
    invoke_error(
        413,
        "RequestEntityTooLargeException",
        &format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
    )
}

/// 202 for an `Event` invocation, queued as `request_id`.
pub(crate) fn accepted(request_id: &RequestId) -> Rendered<'_> {
    Rendered::new(202, Cow::Borrowed(b"")).header("X-Amzn-RequestId", request_id.as_bytes())
}

/// The head of an `InvokeWithResponseStream` answer, sent before the first event: the events
/// (`application/vnd.amazon.eventstream`) follow in HTTP chunks. As in the Invoke API's model,
/// `Content-Type` is `ResponseStreamContentType`, the type of the function's own stream.
pub(crate) fn write_stream_head(
    out: &mut Vec<u8>,
    ctx: &Context,
    request_id: &str,
    content_type: Option<&str>,
    error: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: ");
    let content_type = content_type.filter(|t| !t.bytes().any(|b| b.is_ascii_control()));
    out.extend_from_slice(
        content_type
            .unwrap_or("application/octet-stream")
            .as_bytes(),
    );
    out.extend_from_slice(b"\r\nTransfer-Encoding: chunked\r\nX-Amzn-RequestId: ");
    out.extend_from_slice(request_id.as_bytes());
    out.extend_from_slice(b"\r\nX-Amz-Executed-Version: ");
    out.extend_from_slice(ctx.version.as_bytes());
    if error {
        out.extend_from_slice(b"\r\nX-Amz-Function-Error: Unhandled");
    }
    out.extend_from_slice(b"\r\n\r\n");
}

/// The invoker's answer as the end of an `InvokeWithResponseStream` event stream; its head too,
/// unless the stream has `started`. A stream that had not started before a failure says so in
/// its head (`X-Amz-Function-Error`); a successful one carries the function's content type
/// (`application/json` by default).
pub(crate) fn write_stream_answer(
    out: &mut Vec<u8>,
    ctx: &Context,
    reply: &InvokeReply,
    started: bool,
    log_result: Option<&str>,
) {
    if !started {
        let (content_type, error) = match &reply.outcome {
            Outcome::Response { content_type, .. } => (
                Some(content_type.as_deref().unwrap_or("application/json")),
                false,
            ),
            _ => (None, true),
        };
        let id = reply.request_id.to_string();
        write_stream_head(out, ctx, &id, content_type, error);
    }
    write_stream_end(out, reply, log_result);
}

/// One `PayloadChunk` event in one HTTP chunk.
pub(crate) fn write_stream_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut frame = Vec::with_capacity(bytes.len() + 96);
    super::eventstream::payload_chunk(&mut frame, bytes);
    http_chunk(out, &frame);
}

/// The end of an `InvokeWithResponseStream` answer: the rest of the payload, if any, then
/// `InvokeComplete` (with the error, if the invocation failed, and the log tail if asked for),
/// then the last HTTP chunk.
pub(crate) fn write_stream_end(out: &mut Vec<u8>, reply: &InvokeReply, log_result: Option<&str>) {
    let mut frames = Vec::new();
    let (code, details) = match &reply.outcome {
        Outcome::Response { body, .. } => {
            if !body.is_empty() {
                super::eventstream::payload_chunk(&mut frames, body);
            }
            (None, None)
        }
        Outcome::FunctionError(e) => (
            Some(e.error_type.clone()),
            Some(String::from_utf8_lossy(&e.body).into_owned()),
        ),
        Outcome::Failure(f) => (
            Some(f.error_type().to_string()),
            Some(f.message(reply.request_id)),
        ),
    };
    super::eventstream::invoke_complete(
        &mut frames,
        code.as_deref(),
        details.as_deref(),
        log_result,
    );
    http_chunk(out, &frames);
    out.extend_from_slice(b"0\r\n\r\n");
}

fn http_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    use std::io::Write as _;
    let _ = write!(out, "{:x}\r\n", bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// 204 for a `DryRun`: the request is valid, nothing runs.
pub(crate) fn dry_run() -> Rendered<'static> {
    Rendered::new(204, Cow::Borrowed(b""))
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is not UTF-8. Text
/// without escapes is borrowed, not copied.
pub(crate) fn percent_decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('%') {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

//! The Runtime API (2018-06-01): rendering `/next`, reading `/error` and `/init/error`, and
//! rapid's status codes and error bodies (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>; RIE
//! `internal/lambda/rapi/handler`, `internal/lambda/rapi/rendering`).

use std::borrow::Cow;

use super::{Context, JSON, Rendered, runtime_error};
use crate::http::{Head, decimal, write_head};
use crate::lifecycle::{FunctionError, Invocation, MAX_RESPONSE_BYTES};
use crate::time::Micros;

/// The request header naming a runtime error's type.
pub(crate) const ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";

/// The content type of an error body that carries an X-Ray `errorCause`, which is stripped
/// before the error is forwarded (RIE `invocationerror.go`).
pub(crate) const ERROR_CAUSE_CONTENT_TYPE: &str = "application/vnd.aws.lambda.error.cause+json";

/// Appends the answer to `GET /next` for `invocation` to `out`: the headers of
/// <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html> (RIE `rapi/rendering/rendering.go` `renderInvokeHeaders`)
/// (each only when non-empty) and the payload, unchanged.
pub(crate) fn write_next(
    out: &mut Vec<u8>,
    ctx: &Context,
    invocation: &Invocation,
    deadline: Micros,
    close: bool,
) {
    let request = &invocation.request;
    let mut deadline_ms = [0; 20];
    let deadline_ms = decimal(
        &mut deadline_ms,
        (ctx.epoch_us + deadline.as_micros()) / 1_000,
    );
    let arn = request.invoked_arn.as_deref().unwrap_or(ctx.arn());
    let content_type = request
        .content_type
        .as_deref()
        .unwrap_or("application/json");
    let candidates: [(&str, &[u8]); 8] = [
        (
            "Lambda-Runtime-Aws-Request-Id",
            invocation.request_id.as_bytes(),
        ),
        ("Lambda-Runtime-Deadline-Ms", deadline_ms),
        ("Lambda-Runtime-Invoked-Function-Arn", arn.as_bytes()),
        ("Lambda-Runtime-Trace-Id", invocation.trace_id.as_bytes()),
        (
            "Lambda-Runtime-Client-Context",
            optional(&request.client_context),
        ),
        (
            "Lambda-Runtime-Cognito-Identity",
            optional(&request.cognito_identity),
        ),
        ("Lambda-Runtime-Aws-Tenant-Id", optional(&request.tenant_id)),
        ("Content-Type", content_type.as_bytes()),
    ];
    let mut headers: [(&str, &[u8]); 8] = [("", b""); 8];
    let mut n = 0;
    for (name, value) in candidates {
        if !value.is_empty() {
            headers[n] = (name, value);
            n += 1;
        }
    }
    write_head(out, 200, &headers[..n], request.payload.len(), close);
    out.extend_from_slice(&request.payload);
}

/// 202 `{"status":"OK"}` (rapid `RenderAccepted`).
pub(crate) fn accepted() -> Rendered<'static> {
    Rendered::new(202, Cow::Borrowed(br#"{"status":"OK"}"#)).header("Content-Type", JSON)
}

/// SnapStart: the answer to `/restore/next` once the environment is restored, 200 with no
/// body (RIE `internal/lambda/rapi/rendering/rendering.go`, `RestoreRenderer`).
pub(crate) fn restored() -> Rendered<'static> {
    Rendered::new(200, Cow::Borrowed(&[]))
}

/// 400 `InvalidRequestID` (rapid `RenderInvalidRequestID`).
pub(crate) fn invalid_request_id() -> Rendered<'static> {
    runtime_error(400, "InvalidRequestID", "Invalid request ID")
}

/// 413 `RequestEntityTooLarge` (rapid `RenderRequestEntityTooLarge`).
pub(crate) fn too_large() -> Rendered<'static> {
    runtime_error(
        413,
        "RequestEntityTooLarge",
        &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
    )
}

/// Rapid's normalisation of `Lambda-Runtime-Function-Error-Type` (RIE `fatalerror.go`): a value
/// containing `(Runtime|Function)\.[A-Z][a-zA-Z]+` is kept as sent; anything else becomes
/// `Function.Unknown` if it starts with `Function.`, else `Runtime.Unknown`.
pub(crate) fn normalize_error_type(raw: &str) -> String {
    // The Go regexp is unanchored: any occurrence counts.
    let matches = raw
        .match_indices("Runtime.")
        .chain(raw.match_indices("Function."));
    for (at, prefix) in matches {
        let rest = &raw.as_bytes()[at + prefix.len()..];
        if rest.len() >= 2 && rest[0].is_ascii_uppercase() && rest[1].is_ascii_alphabetic() {
            return raw.to_string();
        }
    }
    if raw.starts_with("Function.") {
        "Function.Unknown".to_string()
    } else {
        "Runtime.Unknown".to_string()
    }
}

/// Reads a posted `/error`: the normalised error type, and the body to forward. With the
/// error-cause content type the body is re-rendered without `errorCause`, and becomes
/// `"Invalid error body"` if it does not parse (rapid `invocationerror.go`).
pub(crate) fn invocation_error(head: &Head<'_>, body: Vec<u8>) -> FunctionError {
    let error_type = normalize_error_type(head.header_str(ERROR_TYPE_HEADER).unwrap_or(""));
    let content_type = head.header_str("Content-Type");
    if content_type == Some(ERROR_CAUSE_CONTENT_TYPE) {
        let (body, content_type) = strip_error_cause(&body);
        return FunctionError {
            error_type,
            body,
            content_type: Some(content_type.to_string()),
        };
    }
    FunctionError {
        error_type,
        body,
        content_type: content_type.map(str::to_string),
    }
}

/// Reads a posted `/init/error`; its content type is `application/json` when the body is JSON
/// and `application/octet-stream` otherwise (rapid `determineJSONContentType`).
pub(crate) fn init_error(head: &Head<'_>, body: Vec<u8>) -> FunctionError {
    let error_type = normalize_error_type(head.header_str(ERROR_TYPE_HEADER).unwrap_or(""));
    let json = crate::json::validate(&body).is_ok();
    FunctionError {
        error_type,
        body,
        content_type: Some(
            if json {
                "application/json"
            } else {
                "application/octet-stream"
            }
            .into(),
        ),
    }
}

fn strip_error_cause(body: &[u8]) -> (Vec<u8>, &'static str) {
    let parsed = serde_json::from_slice::<serde_json::Value>(body);
    let Ok(serde_json::Value::Object(mut error)) = parsed else {
        return (
            br#""Invalid error body""#.to_vec(),
            "application/octet-stream",
        );
    };
    let text = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s,
        _ => String::new(),
    };
    let mut out = serde_json::Map::new();
    out.insert(
        "errorMessage".into(),
        text(error.remove("errorMessage")).into(),
    );
    out.insert("errorType".into(), text(error.remove("errorType")).into());
    if let Some(serde_json::Value::Array(trace)) = error.remove("stackTrace") {
        if !trace.is_empty() {
            out.insert("stackTrace".into(), trace.into());
        }
    }
    (
        serde_json::Value::Object(out).to_string().into_bytes(),
        "application/json",
    )
}

fn optional(v: &Option<String>) -> &[u8] {
    v.as_deref().map_or(b"", str::as_bytes)
}

/// The header that asks for a streamed response (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming>).
pub(crate) const RESPONSE_MODE_HEADER: &str = "Lambda-Runtime-Function-Response-Mode";
/// The trailer (or, from some runtimes, the line at the end of the body) naming a mid-stream
/// error's type.
pub(crate) const STREAM_ERROR_TYPE: &str = "Lambda-Runtime-Function-Error-Type";
/// Its companion: the error's body, in base64.
pub(crate) const STREAM_ERROR_BODY: &str = "Lambda-Runtime-Function-Error-Body";

/// The most a streamed response may carry: 200 MiB (<https://docs.aws.amazon.com/lambda/latest/dg/config-rs-invoke-furls.html>; it was 20 MB).
pub(crate) const MAX_STREAM_BYTES: u64 = 200 * 1024 * 1024;

/// How much of `piece`, the next bytes of a streamed body, can be forwarded now: all of it,
/// but for where the error lines some runtimes append to the body start, or could start (a
/// prefix of them at its very end, completed by the next piece). Matched as the Rust runtime
/// writes them, case and all, so that only a piece ending in `L`, `La`, ... waits for the next.
pub(crate) fn forwardable(piece: &[u8]) -> usize {
    let marker = STREAM_ERROR_TYPE.as_bytes();
    if let Some(at) = piece.windows(marker.len()).position(|w| w == marker) {
        return at;
    }
    let longest = (1..marker.len().min(piece.len() + 1))
        .rev()
        .find(|&k| piece[piece.len() - k..] == marker[..k]);
    piece.len() - longest.unwrap_or(0)
}

/// How a `/response` is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    /// One body, forwarded when complete.
    Buffered,
    /// `streaming`: chunks forwarded as they come, errors in trailers.
    Streaming,
}

/// The response mode a `/response` head asks for; `None` for a value Lambda does not know.
pub(crate) fn response_mode(head: &Head<'_>) -> Option<ResponseMode> {
    match head.header_str(RESPONSE_MODE_HEADER).map(str::trim) {
        None => Some(ResponseMode::Buffered),
        Some(mode) if mode.eq_ignore_ascii_case("streaming") => Some(ResponseMode::Streaming),
        Some(_) => None,
    }
}

/// 400 `InvalidFunctionResponseMode` (rapid `invocationresponse.go`).
pub(crate) fn invalid_response_mode() -> Rendered<'static> {
    runtime_error(
        400,
        "InvalidFunctionResponseMode",
        "Invalid function response mode",
    )
}

/// A streamed response's mid-stream error, if it reported one: from the trailers (`trailer`
/// looks one up), else from the two lines some runtimes append to the body instead (the Rust
/// runtime does), which are then cut off `body`. The error body is base64; it is decoded, and
/// kept as sent if it does not decode.
pub(crate) fn stream_error(
    trailer: &dyn Fn(&str) -> Option<Vec<u8>>,
    body: &mut Vec<u8>,
) -> Option<FunctionError> {
    if let Some(error) = trailer_error(trailer) {
        return Some(error);
    }
    let (at, error_type, encoded) = in_body_error(body)?;
    body.truncate(at);
    Some(decoded_error(&error_type, encoded))
}

/// The error a response's trailers report, streamed or buffered, if they do. A runtime may
/// send any `/response` chunked and report a failure that came after its first bytes in
/// these trailers: `aws-lambda-go` does when a handler's reader fails part-way. The
/// invocation is then a function error, as in RIE's Managed Instances code
/// (`internal/lambda-managed-instances/invoke/running_invoke.go`, `TrailerError`), not the
/// partial body.
pub(crate) fn trailer_error(trailer: &dyn Fn(&str) -> Option<Vec<u8>>) -> Option<FunctionError> {
    let error_type = trailer(STREAM_ERROR_TYPE)?;
    let encoded = trailer(STREAM_ERROR_BODY).unwrap_or_default();
    Some(decoded_error(&error_type, encoded))
}

fn decoded_error(error_type: &[u8], encoded: Vec<u8>) -> FunctionError {
    let error_type = normalize_error_type(String::from_utf8_lossy(error_type).trim());
    let body = crate::base64::decode(trim_ascii(&encoded)).unwrap_or(encoded);
    FunctionError {
        error_type,
        body,
        content_type: None,
    }
}

/// Finds `Lambda-Runtime-Function-Error-Type: T\r\nLambda-Runtime-Function-Error-Body: B\r\n`
/// at the end of `body`: where it starts, T and B.
fn in_body_error(body: &[u8]) -> Option<(usize, Vec<u8>, Vec<u8>)> {
    let marker = format!("{STREAM_ERROR_TYPE}:");
    let at = body
        .windows(marker.len())
        .rposition(|w| w == marker.as_bytes())?;
    let text = std::str::from_utf8(&body[at..]).ok()?;
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let error_type = lines.next()?.split_once(':')?.1.trim();
    let (name, encoded) = lines.next()?.split_once(':')?;
    if !name.trim().eq_ignore_ascii_case(STREAM_ERROR_BODY) || lines.next().is_some() {
        return None;
    }
    Some((
        at,
        error_type.as_bytes().to_vec(),
        encoded.trim().as_bytes().to_vec(),
    ))
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

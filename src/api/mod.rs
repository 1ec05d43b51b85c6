//! The wire: routing a request head to what it means, and rendering the core's answers as
//! AWS renders them. The only place that knows status codes, header names and error bodies.
//!
//! Two listeners, two error dialects:
//! - the Runtime API answers errors as rapid does: `{"errorMessage":…,"errorType":…}`;
//! - the invoke endpoint answers refused requests in the Lambda Invoke API's REST-JSON form:
//!   header `x-amzn-ErrorType: <Code>` and body `{"Type":"User","message":…}` (<https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>, "Errors").

pub(crate) mod eventstream;
pub(crate) mod exchange;
pub(crate) mod extensions;
pub(crate) mod invoke;
pub(crate) mod logs;
pub(crate) mod runtime;
pub(crate) mod telemetry;

use std::borrow::Cow;

use crate::http::{Head, Method, ParseError};
use crate::id::{RequestId, Uuid};
use crate::lifecycle::{ExtensionErrorKind, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, Rejection};
use telemetry::Api;

/// The Runtime API version prefix.
pub(crate) const RUNTIME_PREFIX: &str = "/2018-06-01";

/// The body limit for routes that take no body (a `GET` with one is tolerated up to this).
pub(crate) const SMALL_BODY_BYTES: u64 = 64 * 1024;

/// Which listener a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The Runtime API (`AWS_LAMBDA_RUNTIME_API`).
    Runtime,
    /// The RIE-compatible invoke endpoint.
    Invoke,
}

/// What the API needs to know about the function to render the wire.
#[derive(Clone, Debug)]
pub struct Context {
    /// The function's name.
    pub function_name: String,
    /// The version invocations run (`$LATEST`).
    pub version: String,
    /// The region in ARNs and the environment.
    pub region: String,
    /// The account id in ARNs.
    pub account_id: String,
    /// The configured memory, in MB.
    pub memory_mb: u32,
    /// Unix time in microseconds at the simulator's `Micros::ZERO`.
    pub epoch_us: u64,
    /// `AWS_LAMBDA_LOG_FORMAT=JSON`: lines that are JSON objects are telemetry records as
    /// objects, not strings, and lambda-sim's own lines are JSON records too.
    pub json_logs: bool,
    /// With JSON logs, the least severe level of the function's lines that are shown
    /// (`AWS_LAMBDA_LOG_LEVEL`, the application log level; default INFO).
    pub application_level: LogLevel,
    /// With JSON logs, the least severe level of lambda-sim's own records that are shown (the
    /// system log level; default INFO).
    pub system_level: LogLevel,
    /// `_HANDLER`, in the answer to an extension's registration (empty if unset).
    pub handler: String,
    /// The most a streamed response may carry ([`crate::StreamLimits::max_bytes`]).
    pub max_stream_bytes: u64,
    /// The simulator's own listeners, once bound: no telemetry destination may be one of them.
    pub listeners: Vec<std::net::SocketAddr>,
    /// SnapStart: the Runtime API has `/runtime/restore/next` and `/runtime/restore/error`
    /// (RIE `internal/lambda/rapi/router.go`: only with init caching).
    pub snap_start: bool,
    arn: String,
    /// The ARN as a JSON string, escaped once: every INVOKE event carries it.
    arn_json: String,
}

impl Context {
    /// A context for the function; computes its ARN once.
    pub fn new(
        function_name: &str,
        version: &str,
        region: &str,
        account_id: &str,
        memory_mb: u32,
        epoch_us: u64,
    ) -> Context {
        let arn = format!("arn:aws:lambda:{region}:{account_id}:function:{function_name}");
        Context {
            arn_json: serde_json::to_string(&arn).unwrap_or_default(),
            arn,
            function_name: function_name.to_string(),
            version: version.to_string(),
            region: region.to_string(),
            account_id: account_id.to_string(),
            memory_mb,
            epoch_us,
            json_logs: false,
            application_level: LogLevel::Info,
            system_level: LogLevel::Info,
            handler: String::new(),
            max_stream_bytes: runtime::MAX_STREAM_BYTES,
            listeners: Vec::new(),
            snap_start: false,
        }
    }

    /// The context of the function `config` describes, at `epoch_us`.
    pub(crate) fn of(config: &crate::Config, epoch_us: u64) -> Context {
        let mut ctx = Context::new(
            &config.function_name,
            &config.function_version,
            &config.region,
            &config.account_id,
            config.memory_mb,
            epoch_us,
        );
        ctx.handler = config.effective_handler().unwrap_or_default();
        ctx.max_stream_bytes = config.streaming.max_bytes;
        let var = |key| config.env.iter().rfind(|(k, _)| k == key).map(|(_, v)| v);
        ctx.json_logs =
            var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|v| v.eq_ignore_ascii_case("JSON"));
        if let Some(level) = var("AWS_LAMBDA_LOG_LEVEL").and_then(|v| LogLevel::parse(v)) {
            ctx.application_level = level;
        }
        ctx.system_level = config.system_log_level;
        ctx.snap_start = config.snap_start;
        ctx
    }

    /// The function's unqualified ARN.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// [`Context::arn`] as a JSON string, quoted and escaped.
    pub(crate) fn arn_json(&self) -> &[u8] {
        self.arn_json.as_bytes()
    }
}

/// What a request is, decided from its head alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /ping` (both listeners) and `GET /2018-06-01/ping`.
    Ping,
    /// `GET /2018-06-01/runtime/invocation/next`.
    Next,
    /// `POST /2018-06-01/runtime/invocation/{id}/response`.
    Response(RequestId),
    /// `POST /2018-06-01/runtime/invocation/{id}/error`.
    Error(RequestId),
    /// `POST /2018-06-01/runtime/init/error`.
    InitError,
    /// SnapStart: `GET /2018-06-01/runtime/restore/next`.
    RestoreNext,
    /// SnapStart: `POST /2018-06-01/runtime/restore/error`.
    RestoreError,
    /// `POST /2020-01-01/extension/register`.
    ExtensionRegister,
    /// `GET /2020-01-01/extension/event/next`.
    ExtensionNext,
    /// `POST /2020-01-01/extension/init/error` and `.../exit/error`.
    ExtensionError(ExtensionErrorKind),
    /// `PUT /2022-07-01/telemetry` or `PUT /2020-08-15/logs`.
    Subscribe(Api),
    /// `POST /2015-03-31/functions/{name}/invocations`, with the ARN as invoked when it carried
    /// a qualifier.
    Invoke {
        /// `Some` for a qualified invocation.
        invoked_arn: Option<String>,
        /// `X-Amz-Invocation-Type: Event`, whose payload limit is lower.
        event: bool,
        /// `InvokeWithResponseStream`: the answer is an event stream.
        stream: bool,
    },
    /// Refused from the head.
    Refuse(Refusal),
}

impl Route {
    /// A runtime's post of its result or its init error, whose body the invocation's deadline
    /// bounds.
    pub fn is_runtime_post(&self) -> bool {
        matches!(
            self,
            Route::Response(_) | Route::Error(_) | Route::InitError
        )
    }

    /// The most body bytes this route reads; past it, 413.
    pub fn body_limit(&self) -> u64 {
        match self {
            Route::Response(_)
            | Route::Error(_)
            | Route::InitError
            | Route::RestoreError
            | Route::ExtensionError(_) => MAX_RESPONSE_BYTES,
            Route::Invoke { event: false, .. } => MAX_REQUEST_BYTES,
            Route::Invoke { event: true, .. } => invoke::MAX_EVENT_BYTES,
            Route::Ping
            | Route::Next
            | Route::RestoreNext
            | Route::ExtensionRegister
            | Route::ExtensionNext
            | Route::Subscribe(_) => SMALL_BODY_BYTES,
            Route::Refuse(_) => SMALL_BODY_BYTES,
        }
    }
}

/// A request refused on its head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such path.
    NotFound,
    /// The path exists with another method.
    MethodNotAllowed(&'static str),
    /// `{id}` in the path cannot be an invocation's request id (400 `InvalidRequestID`).
    InvalidRequestId,
    /// The function name or qualifier does not match this function (404
    /// `ResourceNotFoundException`); carries the ARN that was asked for.
    FunctionNotFound(String),
}

/// Routes a request head. Pure: the core is consulted later, by the caller. The Runtime API's
/// paths are compared as bytes: a path that is not UTF-8 matches none of them anyway.
pub fn route(listener: Listener, head: &Head<'_>, ctx: &Context) -> Route {
    let path = head.path_bytes();
    let method = head.method();
    let get_only = |route: Route| match method {
        Method::Get => route,
        _ => Route::Refuse(Refusal::MethodNotAllowed("GET")),
    };
    let post_only = |route: Route| match method {
        Method::Post => route,
        _ => Route::Refuse(Refusal::MethodNotAllowed("POST")),
    };
    let put_only = |route: Route| match method {
        Method::Put => route,
        _ => Route::Refuse(Refusal::MethodNotAllowed("PUT")),
    };
    if path == b"/ping" {
        return get_only(Route::Ping);
    }
    match listener {
        Listener::Runtime => {
            if path == telemetry::TELEMETRY_PATH.as_bytes() {
                return put_only(Route::Subscribe(Api::Telemetry));
            }
            if path == telemetry::LOGS_PATH.as_bytes() {
                return put_only(Route::Subscribe(Api::Logs));
            }
            if let Some(rest) = path.strip_prefix(extensions::EXTENSION_PREFIX.as_bytes()) {
                return match rest {
                    b"/register" => post_only(Route::ExtensionRegister),
                    b"/event/next" => get_only(Route::ExtensionNext),
                    b"/init/error" => post_only(Route::ExtensionError(ExtensionErrorKind::Init)),
                    b"/exit/error" => post_only(Route::ExtensionError(ExtensionErrorKind::Exit)),
                    _ => Route::Refuse(Refusal::NotFound),
                };
            }
            let Some(rest) = path.strip_prefix(RUNTIME_PREFIX.as_bytes()) else {
                return Route::Refuse(Refusal::NotFound);
            };
            match rest {
                b"/ping" => get_only(Route::Ping),
                b"/runtime/invocation/next" => get_only(Route::Next),
                b"/runtime/init/error" => post_only(Route::InitError),
                b"/runtime/restore/next" if ctx.snap_start => get_only(Route::RestoreNext),
                b"/runtime/restore/error" if ctx.snap_start => post_only(Route::RestoreError),
                _ => {
                    let Some(rest) = rest.strip_prefix(b"/runtime/invocation/") else {
                        return Route::Refuse(Refusal::NotFound);
                    };
                    let split = rest.iter().rposition(|b| *b == b'/');
                    let (id, kind) = match split.map(|at| (&rest[..at], &rest[at + 1..])) {
                        Some((id, b"response")) => (id, false),
                        Some((id, b"error")) => (id, true),
                        _ => return Route::Refuse(Refusal::NotFound),
                    };
                    if id.contains(&b'/') {
                        return Route::Refuse(Refusal::NotFound);
                    }
                    if method != Method::Post {
                        return Route::Refuse(Refusal::MethodNotAllowed("POST"));
                    }
                    // Every id we hand out is a UUID; anything else is not the current one.
                    match Uuid::parse_bytes(id) {
                        Some(id) if kind => Route::Error(id),
                        Some(id) => Route::Response(id),
                        None => Route::Refuse(Refusal::InvalidRequestId),
                    }
                }
            }
        }
        Listener::Invoke => {
            let path = head.path();
            match invoke::route(path, head.query(), ctx) {
                Ok(invoked_arn) => {
                    let event = head.header_str("X-Amz-Invocation-Type") == Some("Event");
                    let stream = invoke::is_stream_path(path);
                    post_only(Route::Invoke {
                        invoked_arn,
                        event,
                        stream,
                    })
                }
                Err(refusal) => Route::Refuse(refusal),
            }
        }
    }
}

/// A response in parts: status, a few borrowed headers, and a body. One rendering serves the
/// HTTP writer and the embedding API.
#[derive(Clone, Debug)]
pub struct Rendered<'a> {
    /// The status code.
    pub status: u16,
    headers: [(&'static str, &'a [u8]); MAX_RENDERED_HEADERS],
    len: usize,
    /// The body.
    pub body: Cow<'a, [u8]>,
}

const MAX_RENDERED_HEADERS: usize = 6;

impl<'a> Rendered<'a> {
    /// A response with no headers yet.
    pub fn new(status: u16, body: Cow<'a, [u8]>) -> Rendered<'a> {
        Rendered {
            status,
            headers: [("", &[]); MAX_RENDERED_HEADERS],
            len: 0,
            body,
        }
    }

    /// Adds a header. More than the few any response here needs is a bug, not input: ignored.
    pub fn header(mut self, name: &'static str, value: &'a [u8]) -> Rendered<'a> {
        debug_assert!(
            self.len < MAX_RENDERED_HEADERS,
            "too many headers for {name}"
        );
        if self.len < MAX_RENDERED_HEADERS {
            self.headers[self.len] = (name, value);
            self.len += 1;
        }
        self
    }

    /// The same response, borrowing its body instead of owning it: a copy that costs no
    /// allocation.
    pub fn borrowed(&self) -> Rendered<'_> {
        Rendered {
            status: self.status,
            headers: self.headers,
            len: self.len,
            body: Cow::Borrowed(&self.body),
        }
    }

    /// The headers, in order.
    pub fn headers(&self) -> &[(&'static str, &'a [u8])] {
        &self.headers[..self.len]
    }

    /// The value of header `name`, if set.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.headers()
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// Appends the whole response to `out`.
    #[inline(never)]
    pub fn write(&self, out: &mut Vec<u8>, close: bool) {
        crate::http::write_response(out, self.status, self.headers(), &self.body, close);
    }
}

pub(crate) use crate::config::LogLevel;

/// `application/json`.
pub(crate) const JSON: &[u8] = b"application/json";

/// The Runtime API's error form: `{"errorMessage":…,"errorType":…}` (rapid `ErrorResponse`).
pub(crate) fn runtime_error(status: u16, error_type: &str, message: &str) -> Rendered<'static> {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    Rendered::new(status, Cow::Owned(body.to_string().into_bytes())).header("Content-Type", JSON)
}

/// The Invoke API's REST-JSON error form: `x-amzn-ErrorType: <code>` and
/// `{"Type":"User","message":…}` (<https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>, "Errors").
pub(crate) fn invoke_error(status: u16, code: &'static str, message: &str) -> Rendered<'static> {
    let body = serde_json::json!({ "Type": "User", "message": message });
    Rendered::new(status, Cow::Owned(body.to_string().into_bytes()))
        .header("Content-Type", JSON)
        .header("x-amzn-ErrorType", code.as_bytes())
}

/// The answer to a request the core refused, in the dialect of the listener it came in on: the
/// one place where each [`Rejection`] gets its status and error type.
pub(crate) fn rejection(listener: Listener, rejection: Rejection) -> Rendered<'static> {
    let (status, error_type) = match rejection {
        // rapid `AwsRequestIDValidator` (RIE `internal/lambda/rapi/middleware/middleware.go`).
        Rejection::InvalidRequestId => return runtime::invalid_request_id(),
        // Managed Instances: a result too late for its timed-out invocation (RIE
        // `internal/lambda-managed-instances/rapi/rendering/render_error.go`, `RenderInvokeTimeout`).
        Rejection::InvokeTimeout => (410, "InvokeTimeout"),
        // rapid `RenderInvalidStateTransition` (RIE `internal/lambda/rapi/rendering`).
        Rejection::InvalidStateTransition { .. } => (403, "InvalidStateTransition"),
        // The Invoke API's throttling answer for a function at its reserved concurrency
        // (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html, `TooManyRequestsException`).
        Rejection::TooManyRequests => match listener {
            Listener::Invoke => return invoke::throttled(&rejection.to_string()),
            Listener::Runtime => (429, "TooManyRequests"),
        },
        // lambda-sim's bound on asynchronous invocations: the Invoke API's throttling error,
        // with its own message.
        Rejection::EventQueueFull => {
            let message = rejection.to_string();
            return invoke_error(429, "TooManyRequestsException", &message);
        }
        // https://docs.aws.amazon.com/lambda/latest/dg/tenant-isolation-troubleshooting.html
        Rejection::Tenancy { .. } => {
            let message = rejection.to_string();
            return invoke_error(400, "InvalidParameterValueException", &message);
        }
        // The Extensions API refuses with 403 and rapid's error types (RIE
        // `internal/lambda/rapi/handler/agentregister.go`, `core/registrations.go`).
        Rejection::RegistrationClosed => (403, "Extension.RegistrationClosed"),
        Rejection::ExtensionNameTaken | Rejection::ExtensionState { .. } => {
            (403, "Extension.InvalidExtensionState")
        }
        Rejection::TooManyExtensions => (403, "Extension.TooManyExtensions"),
        // Managed Instances: SHUTDOWN only, and nothing for internal extensions (RIE
        // `internal/lambda-managed-instances/core/externalagent.go`, `ValidateExternalAgentEvent`).
        Rejection::ShutdownForInternal | Rejection::EventNotAllowed { .. } => {
            (403, "Extension.InvalidEventType")
        }
        Rejection::UnknownExtension(_) => (403, "Extension.UnknownExtensionIdentifier"),
        Rejection::SubscriptionClosed(api) => return telemetry::subscription_closed(api),
        // The error of the API that was asked, not of the one already held.
        Rejection::SubscribedElsewhere(held) => (400, held.other().validation_error()),
    };
    match listener {
        Listener::Runtime => runtime_error(status, error_type, &rejection.to_string()),
        // No other refusal of the core reaches an invoker; should one, it is the service's
        // fault, not the caller's.
        Listener::Invoke => invoke_error(500, "ServiceException", &rejection.to_string()),
    }
}

/// The answer to a request the HTTP decoder refused, in the listener's dialect.
pub(crate) fn parse_error(listener: Listener, error: ParseError) -> Rendered<'static> {
    let status = error.status();
    let message = error.to_string();
    match listener {
        Listener::Runtime => {
            let error_type = match error {
                // rapid's answer to an oversized runtime post.
                ParseError::BodyTooLarge { .. } => return runtime::too_large(),
                ParseError::HeadTooLarge | ParseError::TooManyHeaders => {
                    "RequestHeaderFieldsTooLarge"
                }
                ParseError::UnsupportedTransferEncoding => "NotImplemented",
                ParseError::ExpectationFailed => "ExpectationFailed",
                ParseError::VersionNotSupported => "HTTPVersionNotSupported",
                ParseError::Malformed(_) => "InvalidRequestFormat",
            };
            runtime_error(status, error_type, &message)
        }
        Listener::Invoke => match error {
            ParseError::BodyTooLarge { limit } => invoke::too_large(limit),
            _ => invoke_error(status, "InvalidRequestContentException", &message),
        },
    }
}

/// The answer to a request that did not arrive whole within `limit` of its first byte (a slow
/// head, a stalled body): 408, in the listener's dialect, before the connection closes.
pub(crate) fn request_timeout(listener: Listener, limit: std::time::Duration) -> Rendered<'static> {
    let message = format!(
        "the request did not arrive whole within {} ms of its first byte",
        limit.as_millis()
    );
    match listener {
        Listener::Runtime => runtime_error(408, "RequestTimeout", &message),
        Listener::Invoke => invoke_error(408, "RequestTimeoutException", &message),
    }
}

/// The answer to a request refused on its head. A function that is not this one is Lambda's 404,
/// its message as Lambda words it, then which function this simulator serves.
pub fn refusal(
    listener: Listener,
    refusal: &Refusal,
    head: &Head<'_>,
    ctx: &Context,
) -> Rendered<'static> {
    match (listener, refusal) {
        (_, Refusal::InvalidRequestId) => runtime::invalid_request_id(),
        (_, Refusal::FunctionNotFound(arn)) => invoke_error(
            404,
            "ResourceNotFoundException",
            &format!(
                "Function not found: {arn}. This simulator serves {} (also named 'function'), \
                 version $LATEST or {}, in account {} and region {}",
                ctx.arn(),
                ctx.version,
                ctx.account_id,
                ctx.region
            ),
        ),
        (Listener::Runtime, Refusal::NotFound) => runtime_error(
            404,
            "NotFound",
            &format!("No Runtime API route for {}", head.path()),
        ),
        (Listener::Invoke, Refusal::NotFound) => invoke_error(
            404,
            "UnknownOperationException",
            &format!("No Lambda operation at {}", head.path()),
        ),
        (Listener::Runtime, Refusal::MethodNotAllowed(allow)) => runtime_error(
            405,
            "MethodNotAllowed",
            &format!("{} takes {allow}", head.path()),
        )
        .header("Allow", allow.as_bytes()),
        (Listener::Invoke, Refusal::MethodNotAllowed(allow)) => invoke_error(
            405,
            "MethodNotAllowedException",
            &format!("{} takes {allow}", head.path()),
        )
        .header("Allow", allow.as_bytes()),
    }
}

/// `GET /ping`: 200 `pong`, as rapid answers it.
pub(crate) fn pong() -> Rendered<'static> {
    Rendered::new(200, Cow::Borrowed(b"pong")).header("Content-Type", b"text/plain; charset=utf-8")
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

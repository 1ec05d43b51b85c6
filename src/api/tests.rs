//! The API's routing and rendering: routes by listener and method, each refusal in its
//! listener's dialect, the Runtime API's headers, the Invoke API's requests and answers, the log
//! lines.

use super::*;
use crate::id::{Rng, TraceId};
use crate::lifecycle::{
    Events, ExitStatus, Failure, FunctionError, InitPhase, InitType, Invocation, InvokeReply,
    InvokeRequest, Outcome, Overheads, PlatformEvent, Rejection, Status, Timings,
};
use crate::time::Micros;

use super::invoke::InvocationType;
use super::test_support::{ctx, with_request};

fn route_of(listener: Listener, method: &str, target: &str) -> Route {
    with_request(&format!("{method} {target} HTTP/1.1\r\n\r\n"), |h, _| {
        route(listener, h, &ctx())
    })
}

fn text(r: &Rendered<'_>) -> String {
    String::from_utf8(r.body.to_vec()).unwrap()
}

fn json(r: &Rendered<'_>) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn runtime_routes() {
    let id = Rng::from_seed(1).uuid_v4();
    let rt = Listener::Runtime;
    assert_eq!(
        route_of(rt, "GET", "/2018-06-01/runtime/invocation/next"),
        Route::Next
    );
    assert_eq!(
        route_of(
            rt,
            "POST",
            &format!("/2018-06-01/runtime/invocation/{id}/response")
        ),
        Route::Response(id)
    );
    assert_eq!(
        route_of(
            rt,
            "POST",
            &format!("/2018-06-01/runtime/invocation/{id}/error")
        ),
        Route::Error(id)
    );
    assert_eq!(
        route_of(rt, "POST", "/2018-06-01/runtime/init/error"),
        Route::InitError
    );
    assert_eq!(route_of(rt, "GET", "/ping"), Route::Ping);
    assert_eq!(route_of(rt, "GET", "/2018-06-01/ping"), Route::Ping);
    assert_eq!(
        route_of(
            rt,
            "POST",
            "/2018-06-01/runtime/invocation/not-a-uuid/response"
        ),
        Route::Refuse(Refusal::InvalidRequestId)
    );
    assert_eq!(
        route_of(rt, "POST", "/2018-06-01/runtime/invocation/next"),
        Route::Refuse(Refusal::MethodNotAllowed("GET"))
    );
    assert_eq!(
        route_of(
            rt,
            "GET",
            &format!("/2018-06-01/runtime/invocation/{id}/response")
        ),
        Route::Refuse(Refusal::MethodNotAllowed("POST"))
    );
    for missing in [
        "/",
        "/2018-06-01/runtime",
        "/2018-06-01/runtime/invocation/a/b/response",
        "/2020-01-01/extension",
        "/2020-01-01/extension/event",
        "/2015-03-31/functions/function/invocations",
    ] {
        assert_eq!(
            route_of(rt, "GET", missing),
            Route::Refuse(Refusal::NotFound),
            "{missing}"
        );
    }
    assert_eq!(Route::Response(id).body_limit(), 6_291_556);
    assert_eq!(Route::Next.body_limit(), SMALL_BODY_BYTES);
}

#[test]
fn extension_routes_take_their_methods() {
    let rt = Listener::Runtime;
    let ext = |rest: &str| format!("/2020-01-01/extension{rest}");
    assert_eq!(
        route_of(rt, "POST", &ext("/register")),
        Route::ExtensionRegister
    );
    assert_eq!(
        route_of(rt, "GET", &ext("/event/next")),
        Route::ExtensionNext
    );
    assert_eq!(
        route_of(rt, "POST", &ext("/init/error")),
        Route::ExtensionError(ExtensionErrorKind::Init)
    );
    assert_eq!(
        route_of(rt, "POST", &ext("/exit/error")),
        Route::ExtensionError(ExtensionErrorKind::Exit)
    );
    assert_eq!(
        route_of(rt, "GET", &ext("/register")),
        Route::Refuse(Refusal::MethodNotAllowed("POST"))
    );
    assert_eq!(
        route_of(rt, "POST", &ext("/event/next")),
        Route::Refuse(Refusal::MethodNotAllowed("GET"))
    );
    // Only on the Runtime API's listener.
    assert_eq!(
        route_of(Listener::Invoke, "POST", &ext("/register")),
        Route::Refuse(Refusal::NotFound)
    );
}

#[test]
fn subscription_routes_take_put() {
    let rt = Listener::Runtime;
    assert_eq!(
        route_of(rt, "PUT", "/2022-07-01/telemetry"),
        Route::Subscribe(telemetry::Api::Telemetry)
    );
    assert_eq!(
        route_of(rt, "PUT", "/2020-08-15/logs"),
        Route::Subscribe(telemetry::Api::Logs)
    );
    assert_eq!(
        route_of(rt, "POST", "/2022-07-01/telemetry"),
        Route::Refuse(Refusal::MethodNotAllowed("PUT"))
    );
    assert_eq!(
        route_of(Listener::Invoke, "PUT", "/2022-07-01/telemetry"),
        Route::Refuse(Refusal::NotFound)
    );
}

#[test]
fn invoke_routes_resolve_names_arns_and_qualifiers() {
    let inv = Listener::Invoke;
    let unqualified = Route::Invoke {
        invoked_arn: None,
        event: false,
        stream: false,
    };
    let latest = Route::Invoke {
        invoked_arn: Some("arn:aws:lambda:eu-west-1:123456789012:function:my-fn:$LATEST".into()),
        event: false,
        stream: false,
    };
    for path in [
        "/2015-03-31/functions/function/invocations",
        "/2015-03-31/functions/my-fn/invocations",
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Amy-fn/invocations",
        "/2015-03-31/functions/123456789012:function:my-fn/invocations",
    ] {
        assert_eq!(route_of(inv, "POST", path), unqualified, "{path}");
    }
    for path in [
        "/2015-03-31/functions/my-fn/invocations?Qualifier=%24LATEST",
        "/2015-03-31/functions/my-fn:$LATEST/invocations",
        "/2015-03-31/functions/function/invocations?Qualifier=$LATEST",
    ] {
        assert_eq!(route_of(inv, "POST", path), latest, "{path}");
    }
    assert_eq!(
        route_of(inv, "POST", "/2015-03-31/functions/other/invocations"),
        Route::Refuse(Refusal::FunctionNotFound(
            "arn:aws:lambda:eu-west-1:123456789012:function:other".into()
        ))
    );
    assert_eq!(
        route_of(
            inv,
            "POST",
            "/2015-03-31/functions/my-fn/invocations?Qualifier=prod"
        ),
        Route::Refuse(Refusal::FunctionNotFound(
            "arn:aws:lambda:eu-west-1:123456789012:function:my-fn:prod".into()
        ))
    );
    assert!(matches!(
        route_of(inv, "POST", "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:my-fn/invocations"),
        Route::Refuse(Refusal::FunctionNotFound(arn)) if arn.contains("us-east-1")
    ));
    assert_eq!(
        route_of(inv, "GET", "/2015-03-31/functions/function/invocations"),
        Route::Refuse(Refusal::MethodNotAllowed("POST"))
    );
    assert_eq!(route_of(inv, "GET", "/ping"), Route::Ping);
    assert_eq!(
        route_of(inv, "GET", "/2018-06-01/runtime/invocation/next"),
        Route::Refuse(Refusal::NotFound)
    );
    assert_eq!(
        route_of(inv, "POST", "/2015-03-31/functions/%zz/invocations"),
        Route::Refuse(Refusal::NotFound)
    );
}

#[test]
fn refusals_render_in_each_listeners_dialect() {
    let ctx = ctx();
    with_request("GET /nope HTTP/1.1\r\n\r\n", |h, _| {
        let r = refusal(Listener::Runtime, &Refusal::NotFound, h, &ctx);
        assert_eq!(r.status, 404);
        assert_eq!(json(&r)["errorType"], "NotFound");
        let r = refusal(Listener::Invoke, &Refusal::NotFound, h, &ctx);
        assert_eq!(r.status, 404);
        assert_eq!(
            r.get("x-amzn-ErrorType"),
            Some(&b"UnknownOperationException"[..])
        );
        assert_eq!(json(&r)["Type"], "User");
        let r = refusal(
            Listener::Invoke,
            &Refusal::FunctionNotFound("arn:x".into()),
            h,
            &ctx,
        );
        assert_eq!(
            r.get("x-amzn-ErrorType"),
            Some(&b"ResourceNotFoundException"[..])
        );
        // Lambda's words first, then which function this is.
        let message = json(&r)["message"].as_str().unwrap().to_string();
        assert!(
            message.starts_with("Function not found: arn:x. "),
            "{message}"
        );
        assert!(
            message.contains("arn:aws:lambda:eu-west-1:123456789012:function:my-fn")
                && message.contains("account 123456789012")
                && message.contains("region eu-west-1"),
            "{message}"
        );
        let r = refusal(
            Listener::Runtime,
            &Refusal::MethodNotAllowed("GET"),
            h,
            &ctx,
        );
        assert_eq!((r.status, r.get("Allow")), (405, Some(&b"GET"[..])));
        let r = refusal(Listener::Runtime, &Refusal::InvalidRequestId, h, &ctx);
        assert_eq!(
            text(&r),
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#
        );
        assert_eq!(r.status, 400);
    });
}

#[test]
fn parse_errors_render_with_status_and_json() {
    let r = parse_error(
        Listener::Runtime,
        ParseError::BodyTooLarge { limit: 6_291_556 },
    );
    assert_eq!(r.status, 413);
    assert_eq!(
        text(&r),
        r#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#
    );
    let r = parse_error(Listener::Runtime, ParseError::HeadTooLarge);
    assert_eq!(r.status, 431);
    assert_eq!(json(&r)["errorType"], "RequestHeaderFieldsTooLarge");
    let r = parse_error(Listener::Runtime, ParseError::Malformed("x"));
    assert_eq!((r.status, r.get("Content-Type")), (400, Some(JSON)));
    let r = parse_error(
        Listener::Invoke,
        ParseError::BodyTooLarge { limit: 6_291_456 },
    );
    assert_eq!(r.status, 413);
    assert_eq!(
        r.get("x-amzn-ErrorType"),
        Some(&b"RequestEntityTooLargeException"[..])
    );
    assert_eq!(
        json(&r)["message"],
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    );
    let r = parse_error(Listener::Invoke, ParseError::Malformed("x"));
    assert_eq!(
        r.get("x-amzn-ErrorType"),
        Some(&b"InvalidRequestContentException"[..])
    );
}

#[test]
fn next_carries_every_header_of_the_invocation() {
    let id = Rng::from_seed(3).uuid_v4();
    let invocation = Invocation {
        request_id: id,
        trace_id: TraceId::given(
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
        ),
        request: InvokeRequest {
            payload: br#"{"k":"v"}"#.to_vec(),
            content_type: None,
            client_context: Some(r#"{"custom":{"a":"b"}}"#.into()),
            cognito_identity: Some(
                r#"{"cognitoIdentityId":"i","cognitoIdentityPoolId":"p"}"#.into(),
            ),
            trace_id: None,
            tenant_id: Some("tenant-7".into()),
            invoked_arn: None,
            log_tail: false,
        },
    };
    let mut out = Vec::new();
    runtime::write_next(&mut out, &ctx(), &invocation, Micros::from_secs(3), false);
    let text = String::from_utf8(out).unwrap();
    let expected = format!(
        "HTTP/1.1 200 OK\r\n\
         Lambda-Runtime-Aws-Request-Id: {id}\r\n\
         Lambda-Runtime-Deadline-Ms: 1700000003000\r\n\
         Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:my-fn\r\n\
         Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\
         Lambda-Runtime-Client-Context: {{\"custom\":{{\"a\":\"b\"}}}}\r\n\
         Lambda-Runtime-Cognito-Identity: {{\"cognitoIdentityId\":\"i\",\"cognitoIdentityPoolId\":\"p\"}}\r\n\
         Lambda-Runtime-Aws-Tenant-Id: tenant-7\r\n\
         Content-Type: application/json\r\n\
         Content-Length: 9\r\n\r\n{{\"k\":\"v\"}}"
    );
    assert_eq!(text, expected);

    // Optional headers are left out when empty; the invoked ARN is the qualified one if given.
    let bare = Invocation {
        request_id: id,
        trace_id: TraceId::given("t"),
        request: InvokeRequest {
            invoked_arn: Some("arn:q".into()),
            content_type: Some("text/plain".into()),
            ..InvokeRequest::default()
        },
    };
    let mut out = Vec::new();
    runtime::write_next(&mut out, &ctx(), &bare, Micros(1_999), true);
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains("Client-Context") && !text.contains("Cognito") && !text.contains("Tenant")
    );
    assert!(text.contains("Lambda-Runtime-Deadline-Ms: 1700000000001\r\n"));
    assert!(text.contains("Lambda-Runtime-Invoked-Function-Arn: arn:q\r\n"));
    assert!(text.contains("Content-Type: text/plain\r\n"));
    assert!(text.ends_with("Content-Length: 0\r\nConnection: close\r\n\r\n"));
}

#[test]
fn runtime_rejections_are_rapids() {
    let r = rejection(
        Listener::Runtime,
        Rejection::InvalidStateTransition {
            from: "RuntimeResponseSentState",
            to: "InvocationResponse",
        },
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        text(&r),
        r#"{"errorMessage":"State transition from RuntimeResponseSentState to InvocationResponse failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}"#
    );
    assert_eq!(
        rejection(Listener::Runtime, Rejection::InvalidRequestId).status,
        400
    );
    let ok = runtime::accepted();
    assert_eq!(
        (ok.status, text(&ok)),
        (202, r#"{"status":"OK"}"#.to_string())
    );
}

#[test]
fn posted_errors_are_normalised_and_stripped_of_their_cause() {
    let e = with_request(
        "POST /e HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: Unhandled\r\nContent-Length: 2\r\n\r\n{}",
        runtime::invocation_error,
    );
    assert_eq!(e.error_type, "Runtime.Unknown");
    assert_eq!((e.body.as_slice(), e.content_type), (&b"{}"[..], None));

    let body = r#"{"errorMessage":"m","errorType":"T","stackTrace":["a"],"errorCause":{"paths":[],"x":1}}"#;
    let e = with_request(
        &format!(
            "POST /e HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: Function.MyErr\r\n\
             Content-Type: application/vnd.aws.lambda.error.cause+json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
        runtime::invocation_error,
    );
    assert_eq!(e.error_type, "Function.MyErr");
    assert_eq!(
        String::from_utf8(e.body).unwrap(),
        r#"{"errorMessage":"m","errorType":"T","stackTrace":["a"]}"#
    );
    assert_eq!(e.content_type.as_deref(), Some("application/json"));

    let e = with_request(
        "POST /e HTTP/1.1\r\nContent-Type: application/vnd.aws.lambda.error.cause+json\r\nContent-Length: 3\r\n\r\nnot",
        runtime::invocation_error,
    );
    assert_eq!(e.body, br#""Invalid error body""#);
    assert_eq!(e.content_type.as_deref(), Some("application/octet-stream"));

    let e = with_request(
        "POST /i HTTP/1.1\r\nContent-Length: 4\r\n\r\nboom",
        runtime::init_error,
    );
    assert_eq!(e.content_type.as_deref(), Some("application/octet-stream"));
    let e = with_request(
        "POST /i HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        runtime::init_error,
    );
    assert_eq!(e.content_type.as_deref(), Some("application/json"));
}

fn invoke_req_typed(
    headers: &str,
    body: &str,
) -> Result<(InvokeRequest, InvocationType), Box<Rendered<'static>>> {
    let raw = format!(
        "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    with_request(&raw, |h, b| invoke::request(h, b, None))
}

fn invoke_req(headers: &str, body: &str) -> Result<InvokeRequest, Box<Rendered<'static>>> {
    invoke_req_typed(headers, body).map(|(r, _)| r)
}

#[test]
fn invoke_requests_carry_the_invokers_headers() {
    let r = invoke_req(
        "X-Amz-Client-Context: eyJjdXN0b20iOnsiYSI6ImIifX0=\r\n\
         X-Amzn-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\
         X-Amz-Tenant-Id: t1\r\n\
         X-Amz-Cognito-Identity: {\"cognitoIdentityId\":\"id\",\"cognitoIdentityPoolId\":\"pool\"}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n",
        r#"{"a":1}"#,
    )
    .unwrap();
    assert_eq!(r.payload, br#"{"a":1}"#);
    assert_eq!(r.client_context.as_deref(), Some(r#"{"custom":{"a":"b"}}"#));
    assert_eq!(
        r.trace_id.as_deref(),
        Some("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
    );
    assert_eq!(r.tenant_id.as_deref(), Some("t1"));
    assert_eq!(
        r.cognito_identity.as_deref(),
        Some(r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#)
    );
    // The runtime always sees application/json, as from RIE, whatever curl -d sent.
    assert_eq!(r.content_type, None);
    // An empty payload passes through, as with RIE.
    assert_eq!(invoke_req("", "").unwrap().payload, b"");
}

#[test]
fn invoke_requests_are_validated_as_the_invoke_api_does() {
    let refused = |headers: &str, body: &str| {
        let r = invoke_req(headers, body).unwrap_err();
        assert_eq!(r.status, 400, "{}", text(&r));
        (
            String::from_utf8(r.get("x-amzn-ErrorType").unwrap().to_vec()).unwrap(),
            json(&r)["message"].as_str().unwrap().to_string(),
        )
    };
    let (code, msg) = refused("", "not json");
    assert_eq!(code, "InvalidRequestContentException");
    assert!(
        msg.starts_with(
            "Could not parse request body into json: Could not parse payload into json:"
        ),
        "{msg}"
    );
    let (code, msg) = refused("X-Amz-Client-Context: !!!\r\n", "{}");
    assert_eq!(code, "InvalidRequestContentException");
    assert_eq!(
        msg,
        "Client context must be a valid Base64-encoded JSON object."
    );
    // base64 of "nope": not JSON.
    let (_, msg) = refused("X-Amz-Client-Context: bm9wZQ==\r\n", "{}");
    assert_eq!(
        msg,
        "Client context must be a valid Base64-encoded JSON object."
    );
    let (_, msg) = refused(
        &format!("X-Amz-Client-Context: {}\r\n", "e".repeat(3584)),
        "{}",
    );
    assert_eq!(msg, "Client context must be smaller than 3583 bytes");
    let (code, _) = refused("X-Amz-Invocation-Type: Sometimes\r\n", "{}");
    assert_eq!(code, "InvalidParameterValueException");
    let (code, msg) = refused("X-Amz-Log-Type: All\r\n", "{}");
    assert_eq!(code, "InvalidParameterValueException");
    assert!(
        msg.contains("'logType'") && msg.contains("[None, Tail]"),
        "{msg}"
    );
    let (_, _) = refused("X-Amz-Cognito-Identity: [1]\r\n", "{}");
    assert!(invoke_req("X-Amz-Invocation-Type: RequestResponse\r\n", "{}").is_ok());
}

#[test]
fn invocation_types_and_the_log_tail_are_read_from_the_headers() {
    let typed = |headers: &str| {
        let (request, kind) = invoke_req_typed(headers, "{}").unwrap();
        (kind, request.log_tail)
    };
    assert_eq!(typed(""), (InvocationType::RequestResponse, false));
    assert_eq!(
        typed("X-Amz-Invocation-Type: RequestResponse\r\nX-Amz-Log-Type: Tail\r\n"),
        (InvocationType::RequestResponse, true)
    );
    assert_eq!(
        typed("X-Amz-Log-Type: None\r\n"),
        (InvocationType::RequestResponse, false)
    );
    // Only a synchronous invocation returns a log.
    assert_eq!(
        typed("X-Amz-Invocation-Type: Event\r\nX-Amz-Log-Type: Tail\r\n"),
        (InvocationType::Event, false)
    );
    assert_eq!(
        typed("X-Amz-Invocation-Type: DryRun\r\n"),
        (InvocationType::DryRun, false)
    );
    // A DryRun is validated like any invocation.
    assert_eq!(
        invoke_req_typed("X-Amz-Invocation-Type: DryRun\r\n", "not json")
            .unwrap_err()
            .status,
        400
    );
    // Event payloads have their own, lower limit.
    let head = |kind: &str| {
        format!(
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nX-Amz-Invocation-Type: {kind}\r\n\r\n"
        )
    };
    let limit =
        |raw: String| with_request(&raw, |h, _| route(Listener::Invoke, h, &ctx()).body_limit());
    assert_eq!(limit(head("Event")), invoke::MAX_EVENT_BYTES);
    assert_eq!(limit(head("RequestResponse")), MAX_REQUEST_BYTES);
    assert_eq!(invoke::MAX_EVENT_BYTES, 1_048_576);
}

fn reply(outcome: Outcome) -> InvokeReply {
    InvokeReply {
        request_id: Rng::from_seed(4).uuid_v4(),
        outcome,
        timings: Timings::default(),
    }
}

#[test]
fn invoke_replies_follow_decision_11_1() {
    let ctx = ctx();
    let ok = reply(Outcome::Response {
        body: b"SUCCESS".to_vec(),
        content_type: Some("text/plain".into()),
    });
    let r = invoke::render(&ctx, &ok);
    assert_eq!((r.status, &*r.body), (200, &b"SUCCESS"[..]));
    assert_eq!(r.get("Content-Type"), Some(&b"text/plain"[..]));
    assert_eq!(
        r.get("X-Amzn-RequestId"),
        Some(ok.request_id.as_str().as_bytes())
    );
    assert_eq!(r.get("X-Amz-Executed-Version"), Some(&b"$LATEST"[..]));
    assert_eq!(r.get("X-Amz-Function-Error"), None);

    let err = reply(Outcome::FunctionError(FunctionError {
        error_type: "Runtime.Unknown".into(),
        body: br#"{"errorMessage":"m","errorType":"E"}"#.to_vec(),
        content_type: None,
    }));
    let r = invoke::render(&ctx, &err);
    assert_eq!(r.status, 200);
    assert_eq!(r.get("X-Amz-Function-Error"), Some(&b"Unhandled"[..]));
    assert_eq!(&*r.body, br#"{"errorMessage":"m","errorType":"E"}"#);

    let timeout = reply(Outcome::Failure(Failure::Timeout {
        after: Micros::from_secs(3),
    }));
    let r = invoke::render(&ctx, &timeout);
    assert_eq!(r.status, 200);
    assert_eq!(r.get("X-Amz-Function-Error"), Some(&b"Unhandled"[..]));
    let body = json(&r);
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    assert_eq!(
        body["errorMessage"],
        format!(
            "RequestId: {} Error: Task timed out after 3.00 seconds",
            timeout.request_id
        )
    );

    let r = rejection(Listener::Invoke, Rejection::TooManyRequests);
    assert_eq!(r.status, 429);
    assert_eq!(
        r.get("x-amzn-ErrorType"),
        Some(&b"TooManyRequestsException"[..])
    );
    assert_eq!(
        json(&r)["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
}

#[test]
fn log_lines_are_cloudwatchs() {
    let ctx = ctx();
    let id = Rng::from_seed(5).uuid_v4();
    let mut out = String::new();
    logs::write_event(
        &mut out,
        &ctx,
        &PlatformEvent::Start {
            request_id: id,
            trace_id: TraceId::given(""),
            tenant_id: None,
        },
        Micros::ZERO,
        None,
    );
    assert_eq!(out, format!("START RequestId: {id} Version: $LATEST\n"));
    out.clear();
    logs::write_event(
        &mut out,
        &ctx,
        &PlatformEvent::Report {
            request_id: id,
            status: Status::Success,
            error_type: None,
            duration: Micros(12_345),
            init_duration: Some(Micros(1_234_567)),
            runtime: None,
            extensions: Overheads::default(),
            responded: None,
            tenant_id: None,
            restore_duration: None,
        },
        Micros::ZERO,
        Some(42),
    );
    // The init is billed with the invocation: 12.35 + 1234.57 ms, rounded up.
    assert_eq!(
        out,
        format!(
            "END RequestId: {id}\nREPORT RequestId: {id}\tDuration: 12.35 ms\tBilled Duration: 1247 ms\tMemory Size: 256 MB\tMax Memory Used: 42 MB\tInit Duration: 1234.57 ms\t\n"
        )
    );
    out.clear();
    logs::write_event(
        &mut out,
        &ctx,
        &PlatformEvent::Report {
            request_id: id,
            status: Status::Timeout,
            error_type: Some("Sandbox.Timedout".into()),
            duration: Micros::from_secs(3),
            init_duration: None,
            runtime: None,
            extensions: Overheads::default(),
            responded: None,
            tenant_id: None,
            restore_duration: None,
        },
        Micros::ZERO,
        Some(7),
    );
    assert!(out.ends_with("Duration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 256 MB\tMax Memory Used: 7 MB\tStatus: timeout\t\n"), "{out}");
    out.clear();
    // Each extension's overhead, to the microsecond, the largest first.
    let names: Vec<std::sync::Arc<str>> = vec!["logger".into(), "idle".into(), "tracer".into()];
    let mut extensions = Overheads::for_extensions(names.into());
    extensions.set(0, Micros(1_234));
    extensions.set(2, Micros(10));
    logs::write_event(
        &mut out,
        &ctx,
        &PlatformEvent::Report {
            request_id: id,
            status: Status::Success,
            error_type: None,
            duration: Micros(5_000),
            init_duration: None,
            runtime: None,
            extensions,
            responded: Some(Micros(1_000)),
            tenant_id: None,
            restore_duration: None,
        },
        Micros::ZERO,
        Some(7),
    );
    assert!(
        out.ends_with("Max Memory Used: 7 MB\tExtension Overhead: 1.234 ms (logger: 1.234 ms, tracer: 0.010 ms)\t\n"),
        "{out}"
    );
    out.clear();
    logs::write_event(
        &mut out,
        &ctx,
        &PlatformEvent::Extension {
            name: "logger".into(),
            state: "Ready",
            events: Events {
                invoke: true,
                shutdown: true,
            },
        },
        Micros::ZERO,
        None,
    );
    assert_eq!(
        out,
        "EXTENSION\tName: logger\tState: Ready\tEvents: [INVOKE, SHUTDOWN]\n"
    );
    out.clear();
    logs::write_event(
        &mut out,
        &ctx,
        &PlatformEvent::ExtensionExited {
            name: "logger".into(),
            status: ExitStatus::Code(2),
        },
        Micros::ZERO,
        None,
    );
    assert_eq!(
        out,
        "Error: Extension logger exited with error: exit status 2\nExtension.Crash\n"
    );
    out.clear();
    logs::write_event(
        &mut out,
        &ctx,
        &PlatformEvent::TimedOut {
            request_id: id,
            after: Micros::from_secs(3),
        },
        Micros::from_secs(1),
        None,
    );
    assert_eq!(
        out,
        format!("2023-11-14T22:13:21.000Z {id} Task timed out after 3.00 seconds\n")
    );
    out.clear();
    logs::write_event(
        &mut out,
        &ctx,
        &PlatformEvent::InitDone {
            phase: InitPhase::Invoke,
            kind: InitType::OnDemand,
            status: Status::Timeout,
            error_type: Some("Sandbox.Timedout".into()),
            duration: Micros::from_secs(3),
        },
        Micros::ZERO,
        None,
    );
    assert_eq!(
        out,
        "INIT_REPORT Init Duration: 3000.00 ms\tPhase: invoke\tStatus: timeout\tError Type: Sandbox.Timedout\n"
    );
    out.clear();
    // A successful on-demand init is reported on the next REPORT, not here.
    logs::write_event(
        &mut out,
        &ctx,
        &PlatformEvent::InitDone {
            phase: InitPhase::Init,
            kind: InitType::OnDemand,
            status: Status::Success,
            error_type: None,
            duration: Micros(5),
        },
        Micros::ZERO,
        None,
    );
    assert_eq!(out, "");
}

#[test]
fn percent_decoding() {
    assert_eq!(invoke::percent_decode("a%3Ab%24").as_deref(), Some("a:b$"));
    assert!(invoke::percent_decode("%4").is_none());
    assert!(invoke::percent_decode("%ff").is_none());
}

#[test]
fn streamed_responses_report_errors_in_trailers_or_in_the_body() {
    use runtime::{forwardable, stream_error};
    let none = |_: &str| None;
    // No error: the body is untouched.
    let mut body = b"hello".to_vec();
    assert_eq!(stream_error(&none, &mut body), None);
    assert_eq!(body, b"hello");
    // In real trailers, base64 body decoded.
    let trailers = |name: &str| match name {
        "Lambda-Runtime-Function-Error-Type" => Some(b"Runtime.StreamError".to_vec()),
        "Lambda-Runtime-Function-Error-Body" => Some(b"eyJlIjoxfQ==".to_vec()),
        _ => None,
    };
    let mut body = b"partial".to_vec();
    let e = stream_error(&trailers, &mut body).unwrap();
    assert_eq!(e.error_type, "Runtime.StreamError");
    assert_eq!(e.body, br#"{"e":1}"#);
    assert_eq!(body, b"partial");
    // As the Rust runtime writes them: lines at the end of the body, cut off it.
    let mut body = b"partial\
        Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\n\
        Lambda-Runtime-Function-Error-Body: Ym9vbQ==\r\n"
        .to_vec();
    let e = stream_error(&none, &mut body).unwrap();
    assert_eq!(
        (e.error_type.as_str(), e.body.as_slice()),
        ("Runtime.StreamError", &b"boom"[..])
    );
    assert_eq!(body, b"partial");
    // An error body that is not base64 is kept as sent; an odd type is normalised as rapid does.
    let odd = |name: &str| match name {
        "Lambda-Runtime-Function-Error-Type" => Some(b"Oops".to_vec()),
        "Lambda-Runtime-Function-Error-Body" => Some(b"not base64!".to_vec()),
        _ => None,
    };
    let e = stream_error(&odd, &mut Vec::new()).unwrap();
    assert_eq!(
        (e.error_type.as_str(), e.body.as_slice()),
        ("Runtime.Unknown", &b"not base64!"[..])
    );

    // What may be forwarded at once: not the error lines, nor what could begin them.
    assert_eq!(forwardable(b"hello"), 5);
    assert_eq!(
        forwardable(b"helloLambda-Runtime-Function-Error-Type: x"),
        5
    );
    assert_eq!(forwardable(b"helloLambda-Run"), 5);
    assert_eq!(forwardable(b"hello L"), 6);
    assert_eq!(
        forwardable(b"hello l"),
        7,
        "case counts: lowercase goes at once"
    );
    assert_eq!(forwardable(b""), 0);
}

#[test]
fn the_response_mode_header_is_read_as_rapid_does() {
    let mode = |header: &str| {
        let raw = format!("POST /x HTTP/1.1\r\n{header}\r\n");
        with_request(&raw, |h, _| runtime::response_mode(h))
    };
    assert_eq!(mode(""), Some(runtime::ResponseMode::Buffered));
    assert_eq!(
        mode("Lambda-Runtime-Function-Response-Mode: streaming\r\n"),
        Some(runtime::ResponseMode::Streaming)
    );
    assert_eq!(
        mode("Lambda-Runtime-Function-Response-Mode: buffered\r\n"),
        None
    );
    let r = runtime::invalid_response_mode();
    assert_eq!(r.status, 400);
    assert_eq!(json(&r)["errorType"], "InvalidFunctionResponseMode");
    assert_eq!(json(&r)["errorMessage"], "Invalid function response mode");
}

#[test]
fn error_types_are_normalised_as_rapid_does() {
    for (raw, want) in [
        ("Runtime.ExitError", "Runtime.ExitError"),
        ("Function.MyError", "Function.MyError"),
        ("Runtime.UserCodeSyntaxError", "Runtime.UserCodeSyntaxError"),
        ("Unhandled", "Runtime.Unknown"),
        ("unhandled", "Runtime.Unknown"),
        ("", "Runtime.Unknown"),
        ("Function.", "Function.Unknown"),
        ("Function.x", "Function.Unknown"),
        ("Function.A", "Function.Unknown"),
        ("Runtime.lower", "Runtime.Unknown"),
        ("Handled.Runtime.Ok", "Handled.Runtime.Ok"), // the Go regexp is unanchored
        ("Runtime.A1", "Runtime.Unknown"),
    ] {
        assert_eq!(runtime::normalize_error_type(raw), want, "{raw:?}");
    }
}

#[test]
fn every_rejection_renders_in_its_listeners_dialect() {
    use crate::lifecycle::TelemetryApi;
    let id = Rng::from_seed(1).uuid_v4();
    let all = [
        Rejection::InvalidRequestId,
        Rejection::InvalidStateTransition {
            from: "Ready",
            to: "InitError",
        },
        Rejection::TooManyRequests,
        Rejection::RegistrationClosed,
        Rejection::ExtensionNameTaken,
        Rejection::TooManyExtensions,
        Rejection::ShutdownForInternal,
        Rejection::UnknownExtension(id),
        Rejection::ExtensionState {
            from: "Ready",
            to: "Ready",
        },
        Rejection::SubscriptionClosed(TelemetryApi::Telemetry),
        Rejection::SubscribedElsewhere(TelemetryApi::Logs),
    ];
    for r in all {
        let answer = rejection(Listener::Runtime, r);
        assert!((400..500).contains(&answer.status), "{r:?}");
        let body = json(&answer);
        assert!(body["errorType"].is_string() && body["errorMessage"].is_string());
    }
    // An invoker is refused only for throttling; anything else would be the service's fault.
    let throttled = rejection(Listener::Invoke, Rejection::TooManyRequests);
    assert_eq!(throttled.status, 429);
    assert_eq!(
        throttled.get("x-amzn-ErrorType"),
        Some(&b"TooManyRequestsException"[..])
    );
    let other = rejection(Listener::Invoke, Rejection::RegistrationClosed);
    assert_eq!(other.status, 500);
    assert_eq!(
        other.get("x-amzn-ErrorType"),
        Some(&b"ServiceException"[..])
    );
}

#[test]
fn tenant_ids_and_trace_headers_are_checked_before_they_reach_the_runtime() {
    let refused = |headers: &str| {
        let request = invoke_req(headers, "{}").expect("read");
        invoke::refused_forwarding(&request).map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            (
                r.status,
                body["Type"].clone(),
                body["message"].as_str().unwrap().to_string(),
            )
        })
    };
    let trace = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700";
    for ok in [
        "X-Amz-Tenant-Id: blue\r\n".to_string(),
        "X-Amz-Tenant-Id: a.b_c:d/e=f+g-h@i j\r\n".into(),
        format!("X-Amz-Tenant-Id: {}\r\n", "t".repeat(256)),
        format!("X-Amzn-Trace-Id: {trace}\r\n"),
        format!("X-Amzn-Trace-Id: {trace};Parent=9a9197af755a6419;Sampled=1\r\n"),
        format!("X-Amzn-Trace-Id: Sampled=?;{trace};Lineage=a87bd80c:1|68fd508a:5\r\n"),
        format!("X-Amzn-Trace-Id: {trace}; Parent=9a9197af755a6419 ;\r\n"),
    ] {
        assert_eq!(refused(&ok), None, "{ok}");
    }
    for bad in [
        format!("X-Amz-Tenant-Id: {}\r\n", "t".repeat(257)),
        format!("X-Amz-Tenant-Id: {}\r\n", "t".repeat(70_000)),
        "X-Amz-Tenant-Id: a;b\r\n".into(),
        "X-Amz-Tenant-Id: a\"<b\r\n".into(),
        "X-Amz-Tenant-Id: caf\u{e9}\r\n".into(),
        "X-Amzn-Trace-Id: Parent=9a9197af755a6419\r\n".into(),
        "X-Amzn-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e70\r\n".into(),
        "X-Amzn-Trace-Id: Root=2-5bef4de7-ad49b0e87f6ef6c87fc2e700\r\n".into(),
        "X-Amzn-Trace-Id: Root=1-5bef4de7xad49b0e87f6ef6c87fc2e700\r\n".into(),
        format!("X-Amzn-Trace-Id: {trace};Parent=9a9197af755a641\r\n"),
        format!("X-Amzn-Trace-Id: {trace};Sampled=yes\r\n"),
        format!("X-Amzn-Trace-Id: {trace};x=\";\"<\r\n"),
        format!("X-Amzn-Trace-Id: {trace};novalue\r\n"),
        format!("X-Amzn-Trace-Id: {trace};Lineage={}\r\n", "a".repeat(8192)),
    ] {
        let (status, kind, message) = refused(&bad).unwrap_or_else(|| panic!("{bad} passed"));
        assert_eq!((status, kind.as_str()), (400, Some("User")), "{bad}");
        assert!(
            message.len() < 400,
            "the message does not echo a long value: {message}"
        );
    }
    let (_, _, message) = refused("X-Amz-Tenant-Id: a;b\r\n").unwrap();
    assert_eq!(
        message,
        "1 validation error detected: Value 'a;b' at 'tenantId' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9\\._:\\/=+\\-@ ]+"
    );
}

#[test]
fn log_levels_are_read_as_lambda_reads_them() {
    // monitoring-cloudwatchlogs-log-level.html: a JSON line's "level", in any case; invalid or
    // missing is INFO.
    use super::LogLevel;
    assert_eq!(LogLevel::parse("warn"), Some(LogLevel::Warn));
    assert_eq!(LogLevel::parse(" FATAL "), Some(LogLevel::Fatal));
    assert_eq!(LogLevel::parse("NOTICE"), None);
    assert_eq!(
        LogLevel::of_line(r#"{"level":"debug","msg":"x"}"#),
        LogLevel::Debug
    );
    assert_eq!(LogLevel::of_line(r#"{"level":"NOTICE"}"#), LogLevel::Info);
    assert_eq!(LogLevel::of_line(r#"{"level":3}"#), LogLevel::Info);
    assert_eq!(LogLevel::of_line(r#"{"level":"ERROR""#), LogLevel::Info);
    assert_eq!(LogLevel::of_line("plain text"), LogLevel::Info);
    assert!(LogLevel::Trace < LogLevel::Debug && LogLevel::Error < LogLevel::Fatal);
    assert_eq!(LogLevel::Warn.name(), "WARN");
}

#[test]
fn system_records_have_lambdas_levels() {
    use super::LogLevel;
    use crate::lifecycle::{InitPhase, InitType};
    let level = |e: &PlatformEvent| logs::system_level(e);
    let init_done = |kind, status| PlatformEvent::InitDone {
        phase: InitPhase::Init,
        kind,
        status,
        error_type: None,
        duration: Micros(1),
    };
    assert_eq!(
        level(&PlatformEvent::InitStart {
            phase: InitPhase::Init,
            kind: InitType::OnDemand
        }),
        LogLevel::Debug
    );
    assert_eq!(
        level(&init_done(InitType::OnDemand, Status::Success)),
        LogLevel::Debug
    );
    assert_eq!(
        level(&init_done(
            InitType::ProvisionedConcurrency,
            Status::Success
        )),
        LogLevel::Info
    );
    assert_eq!(
        level(&init_done(InitType::OnDemand, Status::Timeout)),
        LogLevel::Warn
    );
}

#[test]
fn the_restore_routes_exist_only_under_snap_start() {
    let route_in = |ctx: &Context, method: &str, target: &str| {
        with_request(&format!("{method} {target} HTTP/1.1\r\n\r\n"), |h, _| {
            route(Listener::Runtime, h, ctx)
        })
    };
    let mut snap = ctx();
    for (ctx, next, error) in [
        (
            ctx(),
            Route::Refuse(Refusal::NotFound),
            Route::Refuse(Refusal::NotFound),
        ),
        (
            {
                snap.snap_start = true;
                snap
            },
            Route::RestoreNext,
            Route::RestoreError,
        ),
    ] {
        assert_eq!(
            route_in(&ctx, "GET", "/2018-06-01/runtime/restore/next"),
            next
        );
        assert_eq!(
            route_in(&ctx, "POST", "/2018-06-01/runtime/restore/error"),
            error
        );
    }
}

#[test]
fn a_failed_restore_is_the_invoke_apis_snap_start_error() {
    let ctx = ctx();
    for (timeout, status, code) in [
        (false, 400, "SnapStartException"),
        (true, 408, "SnapStartTimeoutException"),
    ] {
        let reply = InvokeReply {
            request_id: Rng::from_seed(1).uuid_v4(),
            outcome: Outcome::Failure(Failure::Restore { timeout }),
            timings: Timings::default(),
        };
        let r = invoke::render(&ctx, &reply);
        assert_eq!(r.status, status);
        assert_eq!(r.get("x-amzn-ErrorType"), Some(code.as_bytes()));
        assert_eq!(json(&r)["Type"], "User");
    }
}

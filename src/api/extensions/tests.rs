//! The Extensions API's wire: registrations read and refused as rapid does, events rendered.

use super::*;
use crate::api::test_support::{ctx, with_request};
use crate::api::{Listener, rejection};
use crate::id::Rng;
use crate::lifecycle::Rejection;

fn post(headers: &str, body: &str) -> String {
    format!(
        "POST /2020-01-01/extension/register HTTP/1.1\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn error_of(r: &Rendered<'_>) -> (u16, String, String) {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    (
        r.status,
        v["errorType"].as_str().unwrap().to_string(),
        v["errorMessage"].as_str().unwrap().to_string(),
    )
}

#[test]
fn registrations_are_read_with_their_events_and_features() {
    let cases: &[(&str, &str, Events, bool)] = &[
        (
            "Lambda-Extension-Name: ext\r\n",
            "",
            Events::default(),
            false,
        ),
        (
            "Lambda-Extension-Name: ext\r\n",
            r#"{"events":["INVOKE","SHUTDOWN"]}"#,
            Events {
                invoke: true,
                shutdown: true,
            },
            false,
        ),
        (
            "Lambda-Extension-Name: ext\r\nLambda-Extension-Accept-Feature: accountId\r\n",
            r#"{"events":["SHUTDOWN"]}"#,
            Events {
                invoke: false,
                shutdown: true,
            },
            true,
        ),
        (
            "Lambda-Extension-Name: ext\r\nLambda-Extension-Accept-Feature: other, accountId\r\n",
            r#"{"events":[]}"#,
            Events::default(),
            true,
        ),
        (
            "Lambda-Extension-Name: ext\r\nLambda-Extension-Accept-Feature: accountIdentity\r\n",
            r#"{}"#,
            Events::default(),
            false,
        ),
    ];
    for (headers, body, events, account_id) in cases {
        let r = with_request(&post(headers, body), |h, b| register(h, &b)).unwrap();
        assert_eq!(r.name, "ext");
        assert_eq!(r.events, *events, "{headers} {body}");
        assert_eq!(r.account_id, *account_id, "{headers}");
    }
}

#[test]
fn bad_registrations_get_rapids_403s() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "",
            "",
            "Extension.InvalidExtensionName",
            "Empty extension name",
        ),
        (
            "Lambda-Extension-Name: \r\n",
            "",
            "Extension.InvalidExtensionName",
            "Empty extension name",
        ),
        (
            "Lambda-Extension-Name: ext\r\n",
            r#"{"events":["INVOKE","FREEZE"]}"#,
            "Extension.InvalidEventType",
            "FREEZE: ErrorInvalidEventType",
        ),
        (
            "Lambda-Extension-Name: ext\r\n",
            r#"{"events":["INVOKE"],"configurationKeys":["a"]}"#,
            "InvalidRequestFormat",
            "configurationKeys are deprecated; use environment variables instead",
        ),
    ];
    for (headers, body, error_type, message) in cases {
        let e = with_request(&post(headers, body), |h, b| register(h, &b)).unwrap_err();
        assert_eq!(
            error_of(&e),
            (403, error_type.to_string(), message.to_string()),
            "{headers} {body}"
        );
    }
    for body in ["{", "[1]", r#"{"events":"INVOKE"}"#, r#"{"events":[1]}"#] {
        let e = with_request(&post("Lambda-Extension-Name: ext\r\n", body), |h, b| {
            register(h, &b)
        })
        .unwrap_err();
        let (status, error_type, _) = error_of(&e);
        assert_eq!(
            (status, error_type.as_str()),
            (403, "InvalidRequestFormat"),
            "{body}"
        );
    }
}

#[test]
fn identifiers_and_error_types_are_required() {
    let id = Rng::from_seed(1).uuid_v4();
    let get =
        |headers: &str| format!("GET /2020-01-01/extension/event/next HTTP/1.1\r\n{headers}\r\n");
    let ok = with_request(
        &get(&format!("Lambda-Extension-Identifier: {id}\r\n")),
        |h, _| identifier(h),
    );
    assert_eq!(ok.unwrap(), id);
    let missing = with_request(&get(""), |h, _| identifier(h)).unwrap_err();
    assert_eq!(
        error_of(&missing),
        (
            403,
            "Extension.MissingExtensionIdentifier".into(),
            "Missing Lambda-Extension-Identifier header".into()
        )
    );
    let invalid = with_request(&get("Lambda-Extension-Identifier: 42\r\n"), |h, _| {
        identifier(h)
    })
    .unwrap_err();
    assert_eq!(error_of(&invalid).1, "Extension.InvalidExtensionIdentifier");
    assert_eq!(
        error_of(&rejection(
            Listener::Runtime,
            Rejection::UnknownExtension(id)
        )),
        (
            403,
            "Extension.UnknownExtensionIdentifier".into(),
            format!("Unknown extension {id}")
        )
    );

    let post = |headers: &str| {
        format!(
            "POST /2020-01-01/extension/init/error HTTP/1.1\r\n{headers}Content-Length: 0\r\n\r\n"
        )
    };
    let t = with_request(
        &post("Lambda-Extension-Function-Error-Type: Extension.ConfigInvalid\r\n"),
        |h, _| error_type(h),
    );
    assert_eq!(t.unwrap(), "Extension.ConfigInvalid");
    let missing = with_request(&post(""), |h, _| error_type(h)).unwrap_err();
    assert_eq!(
        error_of(&missing),
        (
            403,
            "Extension.MissingHeader".into(),
            "Lambda-Extension-Function-Error-Type not found".into()
        )
    );
}

#[test]
fn a_registration_answers_with_the_function_and_the_identifier() {
    let id = Rng::from_seed(2).uuid_v4();
    let r = registered(&ctx(), &id, "index.handler", false);
    assert_eq!(r.status, 200);
    assert_eq!(r.get("Lambda-Extension-Identifier"), Some(id.as_bytes()));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"functionName":"my-fn","functionVersion":"$LATEST","handler":"index.handler"})
    );
    let r = registered(&ctx(), &id, "", true);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["accountId"], "123456789012");
}

/// Splits a rendered response into its head and its body, checking Content-Length.
fn split(raw: &[u8]) -> (String, serde_json::Value) {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..at].to_vec()).unwrap();
    let body = &raw[at + 4..];
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(length, body.len());
    (head, serde_json::from_slice(body).unwrap())
}

#[test]
fn invoke_events_carry_the_runtimes_deadline_and_always_tracing() {
    let mut rng = Rng::from_seed(3);
    let (event_id, request_id) = (rng.uuid_v4(), rng.uuid_v4());
    let trace = TraceId::given(r#"Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent="q";Sampled=1"#);
    let mut out = b"earlier bytes".to_vec();
    let mut body = InvokeBody::default();
    let ctx = ctx();
    let rendered = body.of(&ctx, &request_id, None, &trace, Micros(2_500_000));
    write_invoke_event(&mut out, &event_id, rendered, false);
    assert!(out.starts_with(b"earlier bytesHTTP/1.1 200 OK\r\n"));
    let (head, body) = split(&out[b"earlier bytes".len()..]);
    assert!(head.contains(&format!("Lambda-Extension-Event-Identifier: {event_id}")));
    assert!(head.contains("Content-Type: application/json"));
    assert_eq!(
        body,
        serde_json::json!({
            "eventType": "INVOKE",
            "deadlineMs": 1_700_000_002_500u64,
            "requestId": request_id.as_str(),
            "invokedFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:my-fn",
            "tracing": {"type": "X-Amzn-Trace-Id", "value": trace.as_str()},
        })
    );
}

#[test]
fn shutdown_events_name_their_reason_in_lower_case() {
    for (reason, text) in [
        (ShutdownReason::Spindown, "spindown"),
        (ShutdownReason::Timeout, "timeout"),
        (ShutdownReason::Failure, "failure"),
    ] {
        let r = shutdown_event(&ctx(), reason, Micros(2_000_000));
        assert_eq!(r.status, 200);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"eventType":"SHUTDOWN","deadlineMs":1_700_000_002_000u64,"shutdownReason":text})
        );
    }
}

#[test]
fn lifecycle_refusals_are_403s_with_rapids_types() {
    let id = Rng::from_seed(3).uuid_v4();
    let cases = [
        (
            Rejection::RegistrationClosed,
            "Extension.RegistrationClosed",
            "Extension registration closed already".to_string(),
        ),
        (
            Rejection::ExtensionNameTaken,
            "Extension.InvalidExtensionState",
            "Extension with this name already registered".to_string(),
        ),
        (
            Rejection::TooManyExtensions,
            "Extension.TooManyExtensions",
            "Extension limit (10) reached".to_string(),
        ),
        (
            Rejection::ShutdownForInternal,
            "Extension.InvalidEventType",
            "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension".to_string(),
        ),
        (
            Rejection::UnknownExtension(id),
            "Extension.UnknownExtensionIdentifier",
            format!("Unknown extension {id}"),
        ),
    ];
    for (refused, error_type, message) in cases {
        assert_eq!(
            error_of(&rejection(Listener::Runtime, refused)),
            (403, error_type.to_string(), message)
        );
    }
    let state = error_of(&rejection(
        Listener::Runtime,
        Rejection::ExtensionState {
            from: "InitError",
            to: "Ready",
        },
    ));
    assert_eq!(state.0, 403);
    assert_eq!(state.1, "Extension.InvalidExtensionState");
}

#[test]
fn the_arn_escaped_once_is_still_json_and_a_qualified_one_is_escaped_as_it_comes() {
    let ctx = Context::new(
        "we\"ird\\name",
        "$LATEST",
        "eu-west-1",
        "123456789012",
        128,
        0,
    );
    let mut rng = Rng::from_seed(4);
    let (event_id, request_id) = (rng.uuid_v4(), rng.uuid_v4());
    let trace = TraceId::given("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700");
    for (invoked, expected) in [
        (None, ctx.arn().to_string()),
        (Some("arn:x:\"q\""), "arn:x:\"q\"".to_string()),
    ] {
        let mut out = Vec::new();
        let mut body = InvokeBody::default();
        let rendered = body.of(&ctx, &request_id, invoked, &trace, Micros(0));
        write_invoke_event(&mut out, &event_id, rendered, false);
        let (_, body) = split(&out);
        assert_eq!(body["invokedFunctionArn"], expected.as_str());
    }
}

#[test]
fn an_invoke_body_is_rendered_again_for_another_release() {
    let ctx = ctx();
    let mut rng = Rng::from_seed(5);
    let (first, second) = (rng.uuid_v4(), rng.uuid_v4());
    let trace = TraceId::given("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700");
    let mut body = InvokeBody::default();
    let json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).unwrap();
    let a = json(body.of(&ctx, &first, None, &trace, Micros(1_000_000)));
    // The next extension of the same release gets the same body.
    assert_eq!(
        json(body.of(&ctx, &first, None, &trace, Micros(1_000_000))),
        a
    );
    // An `Event` retry: the same request id, a later deadline.
    let retry = json(body.of(&ctx, &first, None, &trace, Micros(9_000_000)));
    assert_eq!(retry["requestId"], first.as_str());
    assert_eq!(retry["deadlineMs"], 1_700_000_009_000u64);
    let other = json(body.of(&ctx, &second, None, &trace, Micros(9_000_000)));
    assert_eq!(other["requestId"], second.as_str());
    assert_eq!(a["deadlineMs"], 1_700_000_001_000u64);
}

#[test]
fn json_strings_are_escaped_as_serde_json_escapes_them() {
    for s in [
        "",
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=53995c3f42cd8ad8;Sampled=1",
        "quote \" inside",
        "back\\slash",
        "tab\tnewline\ncarriage\rnul\0unit\u{1f}",
        "del \u{7f} and é and 😀",
        "arn:aws:lambda:eu-west-1:123456789012:function:my-fn:$LATEST",
    ] {
        let mut out = b"x".to_vec();
        json_string(&mut out, s);
        assert_eq!(
            out[1..],
            *serde_json::to_string(s).unwrap().as_bytes(),
            "{s:?}"
        );
    }
}

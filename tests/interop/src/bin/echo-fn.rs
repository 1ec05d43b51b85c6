//! A function written with the official `lambda_runtime` crate, run as the bootstrap under
//! lambda-sim. What it does depends on the event's "action".

use std::time::{SystemTime, UNIX_EPOCH};

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let (payload, ctx) = event.into_parts();
    match payload.get("action").and_then(Value::as_str) {
        Some("error") => Err(Diagnostic {
            error_type: "InteropError".into(),
            error_message: "the event asked for an error".into(),
        }),
        // The function compares its deadline with the wall clock: that is what the test checks.
        #[allow(clippy::disallowed_methods)]
        Some("context") => {
            // Held a while first, if asked: invocations at once then need environments apart.
            let ms = payload.get("ms").and_then(Value::as_u64).unwrap_or(0);
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            Ok(json!({
                "request_id": ctx.request_id,
                "deadline": ctx.deadline,
                "now_ms": now_ms,
                "invoked_function_arn": ctx.invoked_function_arn,
                "xray_trace_id": ctx.xray_trace_id,
                "function_name": ctx.env_config.function_name,
                "memory": ctx.env_config.memory,
                "version": ctx.env_config.version,
                "log_stream": ctx.env_config.log_stream,
                "log_group": ctx.env_config.log_group,
                "pid": std::process::id(),
                "tenant_id": ctx.tenant_id,
            }))
        }
        // One line on stdout: a `function` record for telemetry subscribers.
        Some("log") => {
            let line = payload.get("line").and_then(Value::as_str).unwrap_or("");
            println!("{line}");
            Ok(payload)
        }
        Some("sleep") => {
            let ms = payload.get("ms").and_then(Value::as_u64).unwrap_or(0);
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            Ok(payload)
        }
        _ => Ok(payload),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}

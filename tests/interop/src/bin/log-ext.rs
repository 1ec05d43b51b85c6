//! An external extension written with the official `lambda-extension` crate, run under
//! lambda-sim beside the `lambda_runtime` function. It appends one JSON line per event to the
//! file named by `EXT_LOG` (a function variable: extensions get those too), and exits on
//! SHUTDOWN as an extension must.

use std::io::Write as _;

use lambda_extension::{Error, LambdaEvent, NextEvent, service_fn};
use serde_json::json;

fn record(line: serde_json::Value) -> Result<(), Error> {
    let path = std::env::var("EXT_LOG")?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write of the whole line: extensions of several environments append to one file.
    file.write_all(format!("{line}\n").as_bytes())?;
    Ok(())
}

async fn on_event(event: LambdaEvent) -> Result<(), Error> {
    match event.next {
        NextEvent::Invoke(e) => record(json!({
            "event": "INVOKE",
            "request_id": e.request_id,
            "deadline_ms": e.deadline_ms,
            "arn": e.invoked_function_arn,
            "trace": e.tracing.value,
            "pid": std::process::id(),
        })),
        NextEvent::Shutdown(e) => {
            record(json!({
                "event": "SHUTDOWN",
                "reason": e.shutdown_reason,
                "deadline_ms": e.deadline_ms,
                "pid": std::process::id(),
            }))?;
            std::process::exit(0);
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_extension::run(service_fn(on_event)).await
}

//! A function written with the official `lambda_runtime` crate in its concurrent mode
//! (`run_concurrent`, feature `concurrency-tokio`): with `AWS_LAMBDA_MAX_CONCURRENCY` above 1,
//! that many `/next` loops at once. Each invocation sleeps the event's "ms" and answers with
//! its process, its log stream and how many invocations the process held at once at most.

use std::sync::atomic::{AtomicU64, Ordering};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

static ACTIVE: AtomicU64 = AtomicU64::new(0);
static MOST: AtomicU64 = AtomicU64::new(0);

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, ctx) = event.into_parts();
    let now = ACTIVE.fetch_add(1, Ordering::SeqCst) + 1;
    MOST.fetch_max(now, Ordering::SeqCst);
    let ms = payload.get("ms").and_then(Value::as_u64).unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
    Ok(json!({
        "request_id": ctx.request_id,
        "pid": std::process::id(),
        "log_stream": ctx.env_config.log_stream,
        "most_at_once": MOST.load(Ordering::SeqCst),
        "event": payload,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run_concurrent(service_fn(handler)).await
}

//! An external extension built on the official `lambda-extension` crate's telemetry processor:
//! it subscribes to the Telemetry API for platform, function and extension records, lets the
//! crate's own listener parse every batch (a batch it cannot parse is answered 400 and never
//! reaches this code), and appends each parsed record, as the crate re-serialises it, to the
//! file named by `EXT_LOG`.
//!
//! The crate's listener binds 0.0.0.0 on `TELEMETRY_PORT`; the test runs it in a network
//! namespace of its own whose only interface is loopback.

use std::io::Write as _;

use lambda_extension::{
    Error, Extension, LambdaEvent, LambdaTelemetry, LogBuffering, NextEvent, SharedService,
    service_fn,
};

fn append(line: &str) -> Result<(), Error> {
    let path = std::env::var("EXT_LOG")?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(file, "{line}")?;
    Ok(())
}

async fn on_batch(batch: Vec<LambdaTelemetry>) -> Result<(), Error> {
    for record in batch {
        append(&serde_json::to_string(&record)?)?;
    }
    Ok(())
}

async fn on_event(event: LambdaEvent) -> Result<(), Error> {
    match event.next {
        NextEvent::Invoke(_) => Ok(()),
        NextEvent::Shutdown(_) => std::process::exit(0),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let port: u16 = std::env::var("TELEMETRY_PORT")?.parse()?;
    Extension::new()
        .with_events_processor(service_fn(on_event))
        .with_telemetry_types(&["platform", "function", "extension"])
        // The shortest batching AWS allows, so that each invocation's records arrive promptly.
        .with_telemetry_buffering(LogBuffering {
            timeout_ms: 25,
            max_bytes: 262_144,
            max_items: 1_000,
        })
        .with_telemetry_port_number(port)
        .with_telemetry_processor(SharedService::new(service_fn(on_batch)))
        .run()
        .await
}

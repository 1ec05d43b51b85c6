//! A function written with the official `lambda_runtime` crate and a SnapStart resource, run as
//! the bootstrap under `lambda-sim --snap-start`: its answer lists the hooks that ran.

use std::sync::{Arc, Mutex};

use lambda_runtime::{BoxFuture, Error, LambdaEvent, Runtime, SnapStartResource, service_fn};
use serde_json::{Value, json};

/// The hooks that ran, in order.
static HOOKS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn ran(hook: &'static str) {
    if let Ok(mut hooks) = HOOKS.lock() {
        hooks.push(hook);
    }
}

struct Resource;

impl SnapStartResource for Resource {
    fn before_snapshot(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async {
            ran("before_snapshot");
            Ok(())
        })
    }

    fn after_restore(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async {
            ran("after_restore");
            // Asked to fail: the crate reports it with /restore/error.
            match std::env::var("SNAP_FN_FAIL_RESTORE") {
                Ok(_) => Err("the after-restore hook failed".into()),
                Err(_) => Ok(()),
            }
        })
    }
}

async fn handler(_: LambdaEvent<Value>) -> Result<Value, Error> {
    let hooks = HOOKS.lock().map(|h| h.clone()).unwrap_or_default();
    Ok(json!({
        "hooks": hooks,
        "init_type": std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").ok(),
        "pid": std::process::id(),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    Runtime::new(service_fn(handler))
        .register_snapstart_resource(Arc::new(Resource))
        .run()
        .await
}

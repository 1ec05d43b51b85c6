//! The official `lambda-extension` crate as an external extension under lambda-sim, beside a
//! function written with the official `lambda_runtime` crate.

mod common;

use common::invoke;

const FUNCTION: &str = env!("CARGO_BIN_EXE_echo-fn");
const EXTENSION: &str = env!("CARGO_BIN_EXE_log-ext");

#[test]
fn registers_gets_one_invoke_per_invocation_and_shutdown_on_sigterm() {
    let dir = std::env::temp_dir();
    let log = dir.join(format!(
        "lambda-sim-interop-ext-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&log);
    let env = format!("EXT_LOG={}", log.display());
    let mut sim = common::start(
        &dir,
        &[
            "--extension",
            EXTENSION,
            "--env",
            &env,
            "--function-name",
            "interop",
            "--",
            FUNCTION,
        ],
    );
    let mut invocations = Vec::new();
    for _ in 0..3 {
        let r = invoke(sim.invoke, r#"{"action":"context"}"#);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        invocations.push(r.json());
    }
    let status = sim.terminate();
    assert!(status.success(), "{status}");

    let text = std::fs::read_to_string(&log).expect("the extension wrote its log");
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(events.len(), 4, "three INVOKE and one SHUTDOWN: {text}");
    for (event, ctx) in events.iter().zip(&invocations) {
        assert_eq!(event["event"], "INVOKE");
        // The same invocation and the same deadline as the runtime's.
        assert_eq!(event["request_id"], ctx["request_id"]);
        assert_eq!(event["deadline_ms"], ctx["deadline"]);
        assert_eq!(event["arn"], ctx["invoked_function_arn"]);
        assert_eq!(event["trace"], ctx["xray_trace_id"]);
    }
    assert_eq!(events[3]["event"], "SHUTDOWN");
    assert_eq!(events[3]["reason"], "spindown");
    let _ = std::fs::remove_file(&log);
}

//! SnapStart's hooks in the official runtime clients under `lambda-sim --snap-start`: the
//! `lambda_runtime` crate's `SnapStartResource` and awslambdaric's `snapshot_restore_py`
//! decorators, each calling `/restore/next` and, when an after-restore hook fails,
//! `/restore/error` (<https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-custom.html>).

mod common;

use std::path::PathBuf;

use common::invoke;

const FUNCTION: &str = env!("CARGO_BIN_EXE_snap-fn");

#[test]
fn lambda_runtime_runs_its_hooks_around_the_snapshot() {
    let sim = common::start(&std::env::temp_dir(), &["--snap-start", "--", FUNCTION]);
    let r = invoke(sim.invoke, "{}");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(
        body["hooks"],
        serde_json::json!(["before_snapshot", "after_restore"])
    );
    assert_eq!(body["init_type"], "snap-start");
    // Restored once: the next invocation runs no hook.
    let again = invoke(sim.invoke, "{}").json();
    assert_eq!(again["hooks"], body["hooks"]);
    assert_eq!(again["pid"], body["pid"]);
}

#[test]
fn a_failed_after_restore_hook_in_lambda_runtime_is_snap_start_exception() {
    let sim = common::start(
        &std::env::temp_dir(),
        &[
            "--snap-start",
            "--env",
            "SNAP_FN_FAIL_RESTORE=1",
            "--",
            FUNCTION,
        ],
    );
    let r = invoke(sim.invoke, "{}");
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-amzn-errortype"), Some("SnapStartException"));
}

#[test]
fn awslambdaric_runs_its_hooks_and_reports_a_failed_one() {
    if !common::have_python("awslambdaric, snapshot_restore_py") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/python");
    let args = ["python3", "-m", "awslambdaric", "snap.handler"];
    let sim = common::start(&dir, &[&["--snap-start", "--"][..], &args].concat());
    let r = invoke(sim.invoke, "{}");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.json()["hooks"],
        serde_json::json!(["before_snapshot", "after_restore"])
    );
    drop(sim);

    let failing = [&["--snap-start", "--env", "SNAP_FAIL=1", "--"][..], &args].concat();
    let sim = common::start(&dir, &failing);
    let r = invoke(sim.invoke, "{}");
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-amzn-errortype"), Some("SnapStartException"));
}

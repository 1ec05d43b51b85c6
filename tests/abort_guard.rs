//! The release CLI aborts on panic, so no `Drop` kills the children: its panic hook calls
//! `abort_guard::kill_on_abort`, which must reach every child's process group, grandchildren
//! included. Its own test binary: the guard is process-wide.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use common::{alive, wait_until};
use lambda_sim::internals::process::{self, Launch, abort_guard};

#[test]
fn kill_on_abort_reaches_every_live_childs_group() {
    abort_guard::guard_on_abort();
    let launch = Launch {
        program: "/bin/sh".into(),
        // A grandchild in the child's group, and the child waiting for it.
        args: vec!["-c".into(), "sleep 300 & echo $!; wait".into()],
        cwd: std::env::temp_dir(),
        env: Vec::new(),
        remove: Vec::new(),
        clean_env: false,
        poll_exit: true,
    };
    let child = process::spawn(&launch).unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(&child.stdout);
    assert!(wait_until(Duration::from_secs(5), || {
        std::io::BufRead::read_line(&mut out, &mut line).is_ok() && line.ends_with('\n')
    }));
    let grandchild: i32 = line.trim().parse().unwrap();
    assert!(alive(child.pid) && alive(grandchild));
    abort_guard::kill_on_abort();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let _ = process::reap(child.pid);
            !alive(child.pid) && !alive(grandchild)
        }),
        "the group outlived the abort"
    );
}

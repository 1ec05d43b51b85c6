//! Starting the lambda-sim binary and invoking it, for the interop tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const SIM: &str = env!("CARGO_BIN_EXE_lambda-sim");

/// A running `lambda-sim`, killed when dropped.
pub struct Sim {
    child: Child,
    pub invoke: SocketAddr,
}

impl Sim {
    /// SIGTERM, as a user's Ctrl-C or a container stop, then waits for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        self.child.wait().expect("lambda-sim exits")
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `lambda-sim --quiet <args>` on free ports in `dir` and waits for its ready line.
pub fn start(dir: &Path, args: &[&str]) -> Sim {
    let mut child = Command::new(SIM)
        .current_dir(dir)
        .args(["--invoke-addr", "127.0.0.1:0"])
        .args(["--runtime-api-addr", "127.0.0.1:0", "--quiet"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn lambda-sim");
    let mut ready = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut ready)
        .expect("a line");
    let invoke = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("invoke="))
        .unwrap_or_else(|| panic!("no ready line: {ready:?}"))
        .parse()
        .expect("an address");
    Sim { child, invoke }
}

/// An invoke endpoint's answer.
pub struct Reply {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// POSTs `body` to the invoke endpoint on a fresh connection.
pub fn invoke(addr: SocketAddr, body: &str) -> Reply {
    invoke_as(addr, None, body)
}

/// [`invoke`] naming `tenant` (`X-Amz-Tenant-Id`), if any.
pub fn invoke_as(addr: SocketAddr, tenant: Option<&str>, body: &str) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let tenant = tenant.map_or(String::new(), |t| format!("X-Amz-Tenant-Id: {t}\r\n"));
    write!(
        s,
        "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\n{tenant}\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split..].to_vec(),
    }
}

/// Runs the calling test again inside a network namespace of its own, with only a loopback
/// interface, for a peer that binds 0.0.0.0 (which the project's tests may not do on the host).
/// Returns true in the namespace, where the test goes on; false in the caller once the copy
/// inside has passed (it panics if that copy failed or no namespace could be made).
pub fn in_private_network(test: &str) -> bool {
    const INSIDE: &str = "LAMBDA_SIM_INTEROP_NETNS";
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    // `unshare -rn`: a user namespace that maps us to root, so that no privilege is needed, and a
    // network namespace in it; `ip link set lo up`: its loopback, which starts down.
    let run = Command::new("unshare")
        .args(["--map-root-user", "--net", "--", "sh", "-c"])
        .arg(r#"ip link set lo up && exec "$@""#)
        .arg("sh")
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .stderr(Stdio::inherit())
        .output()
        .expect("run unshare (util-linux) and ip (iproute2)");
    let out = String::from_utf8_lossy(&run.stdout);
    print!("{out}");
    assert!(
        run.status.success(),
        "{test} in its own network namespace: {}",
        run.status
    );
    // A name that matched no test would pass too: make sure this one ran.
    assert!(
        out.contains("1 passed"),
        "{test} did not run in the namespace"
    );
    false
}

/// Whether python3 can import `modules` (awslambdaric, its SnapStart hooks); if not, the test
/// is skipped, saying why, unless clients are required (as .ci/run requires them).
pub fn have_python(modules: &str) -> bool {
    let check = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .status();
    if check.is_ok_and(|s| s.success()) {
        return true;
    }
    assert!(
        std::env::var_os("LAMBDA_SIM_REQUIRE_CLIENTS").is_none(),
        "python3 cannot import {modules}: pip install awslambdaric (.ci/run does)"
    );
    eprintln!("skipped: python3 cannot import {modules} (pip install awslambdaric)");
    false
}

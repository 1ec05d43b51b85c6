//! The real `lambda-sim` binary, started as a user starts it, and what the tests can see of it
//! from outside: its stdout line by line, its descriptors and its descendants in `/proc`, its
//! exit status.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::{Client, INVOKE, Response, python_runtime};

pub const BIN: &str = env!("CARGO_BIN_EXE_lambda-sim");

/// A running simulator. Dropping it kills it (the tests' own failures must not leak it).
pub struct Binary {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Descriptors it inherited from the test process (a shell's `exec 7>file` before `cargo
    /// test`), by number and target: not lambda-sim's own.
    inherited: Vec<(u32, String)>,
    pub invoke: SocketAddr,
    pub runtime_api: SocketAddr,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Binary {
    /// `lambda-sim` on two loopback ports of its choosing, then `args`, with no extensions
    /// from this machine's `/opt/extensions`. Returns once the ready line is out.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Binary {
        Binary::launch(Command::new(BIN), args, envs)
    }

    /// `start`, with stderr sent to the same pipe as stdout, as a terminal shows both: the
    /// lines come in the order the simulator wrote them.
    pub fn start_merged(args: &[&str], envs: &[(&str, &str)]) -> Binary {
        let mut sh = Command::new("/bin/sh");
        sh.args(["-c", "exec \"$0\" \"$@\" 2>&1", BIN]);
        Binary::launch(sh, args, envs)
    }

    /// `start_merged`, after the shell runs `setup` (a `ulimit`, say) in the process that then
    /// becomes lambda-sim.
    pub fn start_after(setup: &str, args: &[&str], envs: &[(&str, &str)]) -> Binary {
        let mut sh = Command::new("/bin/sh");
        sh.args(["-c", &format!("{setup}; exec \"$0\" \"$@\" 2>&1"), BIN]);
        Binary::launch(sh, args, envs)
    }

    fn launch(mut command: Command, args: &[&str], envs: &[(&str, &str)]) -> Binary {
        let inherited = inheritable_fds();
        let mut child = command
            .args([
                "--invoke-addr",
                "127.0.0.1:0",
                "--runtime-api-addr",
                "127.0.0.1:0",
            ])
            .args(args)
            .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn lambda-sim");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        // Drained to the end, so that the function's output never blocks it.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = match lines.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(e) => panic!("no ready line ({e}); exit: {:?}", child.try_wait()),
        };
        // lambda-sim ready invoke=ADDR runtime-api=ADDR
        let words: Vec<&str> = ready.split(' ').collect();
        assert_eq!(&words[..2], ["lambda-sim", "ready"], "{ready}");
        let addr = |key: &str| -> SocketAddr {
            words
                .iter()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {ready:?}"))
        };
        Binary {
            invoke: addr("invoke="),
            runtime_api: addr("runtime-api="),
            child,
            lines,
            inherited,
        }
    }

    /// The scripted Python runtime in `mode`, after the simulator's `flags`; `--quiet` keeps
    /// the simulator's own lines out of the test's output, the function's still come.
    pub fn python(mode: &str, flags: &[&str]) -> Binary {
        let runtime = python_runtime(mode);
        let mut args = vec!["--quiet"];
        args.extend_from_slice(flags);
        args.push("--");
        args.extend(runtime.iter().map(String::as_str));
        Binary::start(&args, &[])
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lines of stdout until one contains `needle`, that one last (panics after 10 s).
    #[track_caller]
    pub fn wait_line(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            let done = line.contains(needle);
            seen.push(line);
            if done {
                return seen;
            }
        }
        panic!("no line containing {needle:?}; saw:\n{}", seen.join("\n"));
    }

    /// The next line of stdout, if one comes within `timeout`.
    pub fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// The lines of stdout so far, without waiting.
    pub fn lines_so_far(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// Its resident memory, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the simulator's /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// What each descriptor lambda-sim opened itself is (`socket:[..]`, `pipe:[..]`, a path):
    /// not stdin, stdout and stderr, which the test gave it, nor what it inherited.
    pub fn fd_targets(&self) -> Vec<String> {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("the simulator's /proc/PID/fd")
            .filter_map(|e| {
                let e = e.ok()?;
                let fd: u32 = e.file_name().to_str()?.parse().ok()?;
                let target = std::fs::read_link(e.path()).ok()?.display().to_string();
                let inherited = self.inherited.iter().any(|(n, t)| *n == fd && *t == target);
                (fd > 2 && !inherited).then_some(target)
            })
            .collect()
    }

    /// The descriptor count once it holds still for 100 ms: the connections of finished
    /// requests close when the simulator reads their EOF, a moment after the client's.
    pub fn settled_fds(&self) -> usize {
        let mut last = self.fds();
        loop {
            thread::sleep(Duration::from_millis(100));
            let now = self.fds();
            if now == last {
                return now;
            }
            last = now;
        }
    }

    /// Waits until the descriptors are back to `count` (panics after 10 s).
    #[track_caller]
    pub fn fds_back_to(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.fds() != count {
            assert!(
                Instant::now() < deadline,
                "{} descriptors, {count} before: {:?}",
                self.fds(),
                self.fd_targets()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The simulator's children.
    pub fn children(&self) -> Vec<u32> {
        children_of(self.pid())
    }

    /// Every process below the simulator.
    pub fn descendants(&self) -> Vec<u32> {
        let mut all = Vec::new();
        let mut next = vec![self.pid()];
        while let Some(pid) = next.pop() {
            for child in children_of(pid) {
                all.push(child);
                next.push(child);
            }
        }
        all
    }

    /// Waits until the simulator has `n` children, and returns them (panics after 10 s).
    #[track_caller]
    pub fn wait_children(&self, n: usize) -> Vec<u32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let children = self.children();
            if children.len() == n {
                return children;
            }
            assert!(
                Instant::now() < deadline,
                "{} children, not {n}",
                children.len()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// One invocation on a connection of its own, its answer read.
    pub fn invoke(&self, payload: &str) -> Response {
        Client::connect(self.invoke).request("POST", INVOKE, &[], payload.as_bytes())
    }

    /// One invocation whose connection is then watched for 100 ms: a second answer, or any
    /// byte after the first, fails the test.
    #[track_caller]
    pub fn invoke_once(&self, payload: &str) -> Response {
        let mut client = Client::connect(self.invoke);
        let r = client.request("POST", INVOKE, &[], payload.as_bytes());
        client.expect_nothing_more(Duration::from_millis(100));
        r
    }

    /// `invoke_once` on a thread of its own.
    pub fn invoke_async(&self, payload: &str) -> thread::JoinHandle<Response> {
        let (addr, payload) = (self.invoke, payload.to_string());
        thread::spawn(move || {
            let mut client = Client::connect(addr);
            let r = client.request("POST", INVOKE, &[], payload.as_bytes());
            client.expect_nothing_more(Duration::from_millis(100));
            r
        })
    }

    /// Sends `signal` (a name such as `TERM`) to the simulator.
    pub fn signal(&self, signal: &str) {
        signal_pid(self.pid(), signal);
    }

    /// Waits for the simulator to exit (panics after 10 s).
    #[track_caller]
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "lambda-sim did not exit");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every line it wrote that the test has not read, to the end of its output (once it has
    /// exited).
    pub fn read_to_end(&self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            rest.push(line);
        }
        rest
    }

    /// `stop`, then every line it wrote that the test has not read, to its end.
    #[track_caller]
    pub fn stop_and_read(mut self) -> Vec<String> {
        let family = self.descendants();
        self.signal("TERM");
        let status = self.wait_exit();
        assert!(status.success(), "{status}");
        gone(&family);
        // The reading thread ends at the pipe's end, and the channel with it.
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            rest.push(line);
        }
        rest
    }

    /// SIGTERM: the simulator exits 0, and nothing it started outlives it.
    #[track_caller]
    pub fn stop(mut self) {
        let family = self.descendants();
        self.signal("TERM");
        let status = self.wait_exit();
        assert!(status.success(), "{status}");
        gone(&family);
    }
}

/// This process's descriptors above stderr that a child inherits (no `FD_CLOEXEC`), by
/// number and target. Rust opens every descriptor close-on-exec, so these came from whoever
/// started the tests.
pub fn inheritable_fds() -> Vec<(u32, String)> {
    const O_CLOEXEC: u32 = 0o2000000;
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let fd: u32 = e.file_name().to_str()?.parse().ok()?;
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())?;
        let target = std::fs::read_link(e.path()).ok()?.display().to_string();
        (fd > 2 && flags & O_CLOEXEC == 0).then_some((fd, target))
    })
    .collect()
}

/// The children of `pid`, from every one of its threads.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut all = Vec::new();
    for task in tasks.flatten() {
        let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        all.extend(
            text.split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    all
}

/// Waits until every one of `pids` has ended (panics after 5 s).
#[track_caller]
pub fn gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    for &pid in pids {
        while super::alive(pid as i32) {
            assert!(
                Instant::now() < deadline,
                "pid {pid} outlived the simulator"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `kill -SIGNAL PID`.
#[track_caller]
pub fn signal_pid(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

/// A process's state letter (`T` for stopped), from `/proc/PID/stat`.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Waits until process `pid` is stopped by a signal (frozen; panics after 5 s).
#[track_caller]
pub fn wait_stopped(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while proc_state(pid) != Some('T') {
        assert!(Instant::now() < deadline, "pid {pid} never stopped");
        thread::sleep(Duration::from_millis(10));
    }
}

//! Helpers for integration tests: a blocking HTTP client over std sockets, a std-only runtime
//! client, and the scripted Python runtime in tests/fixtures.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)]

pub mod binary;
pub mod listener;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lambda_sim::{Handle, LogOutput, Simulator};

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A blocking client over one connection, speaking just enough HTTP/1.1 to check the server.
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream().write_all(bytes).expect("write");
    }

    /// Sends a request with a Content-Length body and reads the response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.send(&request_bytes(method, path, headers, body));
        self.read_response()
    }

    /// Reads one response (Content-Length or no body).
    pub fn read_response(&mut self) -> Response {
        self.try_read_response().expect("a response")
    }

    /// Reads one response, or `None` if the connection closed first.
    pub fn try_read_response(&mut self) -> Option<Response> {
        let mut head = Vec::new();
        loop {
            let n = self.reader.read_until(b'\n', &mut head).ok()?;
            if n == 0 {
                return None;
            }
            if head.ends_with(b"\r\n\r\n") {
                break;
            }
        }
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut fields);
        parsed.parse(&head).expect("a valid response head");
        let status = parsed.code.unwrap();
        let headers: Vec<(String, String)> = parsed
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).ok()?;
        Some(Response {
            status,
            headers,
            body,
        })
    }

    /// Fails if anything arrives within `wait`, other than the server closing the connection:
    /// what was answered is answered once.
    #[track_caller]
    pub fn expect_nothing_more(&mut self, wait: Duration) {
        self.stream().set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 256];
        match self.reader.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!(
                "more after the answer: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::ConnectionReset
                ),
                "{e}"
            ),
        }
        self.stream()
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
    }

    /// True if the server closed the connection (EOF, with nothing else sent).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0) | Err(_))
    }
}

pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

pub const NEXT: &str = "/2018-06-01/runtime/invocation/next";
pub const INVOKE: &str = "/2015-03-31/functions/function/invocations";

pub fn response_path(id: &str) -> String {
    format!("/2018-06-01/runtime/invocation/{id}/response")
}

pub fn error_path(id: &str) -> String {
    format!("/2018-06-01/runtime/invocation/{id}/error")
}

/// A simulator waiting for an external runtime (the test plays the runtime).
pub fn external(timeout: Duration) -> Handle {
    Simulator::builder()
        .timeout(timeout)
        .seed(1)
        .log_output(LogOutput::Capture)
        .start()
        .expect("start")
}

/// `GET /next` on `client`; returns the request id and the response.
pub fn next(client: &mut Client) -> (String, Response) {
    let r = client.request("GET", NEXT, &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r
        .header("Lambda-Runtime-Aws-Request-Id")
        .expect("request id")
        .to_string();
    (id, r)
}

/// The scripted Python runtime, run as `python3 runtime.py <mode>`.
pub fn python_runtime(mode: &str) -> Vec<String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runtime.py");
    vec!["python3".into(), script.display().to_string(), mode.into()]
}

/// The Managed Instances fixture runtime: `AWS_LAMBDA_MAX_CONCURRENCY` worker threads.
pub fn workers_runtime() -> Vec<String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workers.py");
    vec!["python3".into(), script.display().to_string()]
}

/// The scripted Python extension, run as `python3 extension.py <name> <mode...>`.
pub fn python_extension(name: &str, mode: &[&str]) -> Vec<String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/extension.py");
    let mut command = vec!["python3".into(), script.display().to_string(), name.into()];
    command.extend(mode.iter().map(|m| m.to_string()));
    command
}

/// Polls `f` until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

/// Collects captured lines until one contains `needle` (or panics after `timeout`).
pub fn wait_line(sim: &Handle, needle: &str, timeout: Duration) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(line) = sim.next_line(Duration::from_millis(50)) {
            let done = line.contains(needle);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }
    panic!(
        "no line containing {needle:?} within {timeout:?}; saw:\n{}",
        seen.join("\n")
    );
}

/// Whether a process with this pid is alive (not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits until the simulator's state satisfies `pred` (panics after 10 s, showing the state).
#[track_caller]
pub fn wait_state(sim: &Handle, what: &str, pred: impl Fn(&lambda_sim::State) -> bool) {
    let ok = wait_until(Duration::from_secs(10), || {
        pred(&sim.state().expect("running"))
    });
    assert!(ok, "timed out waiting for {what}: {:?}", sim.state());
}

/// Collects captured lines up to the REPORT of invocation `request_id`; the last is the REPORT.
pub fn wait_report(sim: &Handle, request_id: &str) -> Vec<String> {
    wait_line(
        sim,
        &format!("REPORT RequestId: {request_id}"),
        Duration::from_secs(10),
    )
}

/// Whether the Python package `module` can be imported. When it cannot, a test that needs it
/// skips, saying why, unless `LAMBDA_SIM_REQUIRE_CLIENTS` is set (as `.ci/run` sets it after
/// installing them): then it fails.
pub fn python_has(module: &str, install: &str) -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        assert!(
            std::env::var_os("LAMBDA_SIM_REQUIRE_CLIENTS").is_none(),
            "LAMBDA_SIM_REQUIRE_CLIENTS is set and python3 cannot import {module} ({install})"
        );
        eprintln!("skipped: python3 cannot import {module}; {install} to run this test");
    }
    found
}

/// Makes closing `stream` send a reset instead of an EOF (`SO_LINGER` with a zero timeout), as a
/// client killed mid-request or a load balancer giving up does. (The tests' one libc call: std
/// has no stable way to set `SO_LINGER`.)
#[allow(unsafe_code)]
pub fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is the stream's own, open for the call; the option value is a
    // valid `linger` whose size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::addr_of!(linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

//! The built-in demo: the simulator with a small echo runtime of our own (this binary, run as
//! `lambda-sim __demo-runtime`) and a small external extension (`lambda-sim __demo-extension`),
//! invoked a few times, including a function error and a timeout, then shut down.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::config::LogOutput;
use crate::config::{Bootstrap, Config, ExtensionCommand};
use crate::simulator::Awaited;
use crate::simulator::Builder;

/// The demo's function timeout (shorter than Lambda's default so the timeout step is quick).
pub(crate) const DEMO_TIMEOUT: Duration = Duration::from_secs(1);

/// The demo extension's name, and the work it does after each INVOKE (as an extension that
/// flushes telemetry would).
pub(crate) const DEMO_EXTENSION: &str = "demo-extension";
/// How long the demo extension works after each invocation.
pub(crate) const DEMO_EXTENSION_WORK: Duration = Duration::from_millis(3);

/// Makes `config` run the demo's runtime and extension: this executable, run as
/// `__demo-runtime` and `__demo-extension`.
pub(crate) fn install(config: &mut Config) -> io::Result<()> {
    let this = std::env::current_exe()?;
    config.bootstrap = Some(Bootstrap {
        program: this.clone(),
        args: vec!["__demo-runtime".into()],
    });
    config.extensions.push(ExtensionCommand {
        name: DEMO_EXTENSION.into(),
        program: this,
        args: vec!["__demo-extension".into()],
    });
    Ok(())
}

/// Runs the demo; prints its lifecycle lines and each invocation's answer. `notice` explains why
/// the demo runs when nobody asked for it by name.
pub(crate) fn run(config: Config, notice: Option<&str>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if let Some(notice) = notice {
        writeln!(out, "{notice}")?;
    }
    let mut config = config;
    install(&mut config)?;
    config.timeout = config.timeout.min(DEMO_TIMEOUT);
    // Self-contained: free ports, so it runs even where 8080 is taken.
    config.invoke_addr.set_port(0);
    config.runtime_api_addr.set_port(0);
    config.log_output = LogOutput::Capture;
    let timeout = config.timeout;
    let sim = Builder::config(config).start()?;
    writeln!(
        out,
        "lambda-sim demo: an echo runtime and an extension that works {} ms after each invocation, under the simulator (invoke endpoint {}, Runtime API {}, timeout {} ms)\n",
        DEMO_EXTENSION_WORK.as_millis(),
        sim.invoke_addr(),
        sim.runtime_api_addr(),
        timeout.as_millis()
    )?;
    let sleep_ms = timeout.as_millis() + 500;
    let steps: [(&str, String); 5] = [
        (
            "a cold start: the runtime is spawned and initialised",
            r#"{"message":"hello"}"#.into(),
        ),
        ("a warm invocation", r#"{"message":"warm"}"#.into()),
        (
            "a function error (the runtime posts /error)",
            r#"{"demo":"error"}"#.into(),
        ),
        (
            "a timeout: the runtime sleeps past the function timeout",
            format!(r#"{{"demo":"sleep","ms":{sleep_ms}}}"#),
        ),
        (
            "after the reset, a new init inside the invocation",
            r#"{"message":"again"}"#.into(),
        ),
    ];
    for (n, (what, payload)) in steps.iter().enumerate() {
        writeln!(out, "--- invocation {}: {what}", n + 1)?;
        writeln!(out, "> {payload}")?;
        let (response, completed) = sim
            .invoke_reported(payload.as_bytes().to_vec())
            .map_err(|e| io::Error::other(e.to_string()))?;
        // Show the simulator's lines up to this invocation's REPORT, in order.
        let report = format!("REPORT RequestId: {}", response.request_id);
        while let Some(line) = sim.next_line(Duration::from_secs(5)) {
            writeln!(out, "  {line}")?;
            if line.starts_with(&report) {
                break;
            }
        }
        let error = response
            .function_error()
            .map(|e| format!(" X-Amz-Function-Error: {e}"))
            .unwrap_or_default();
        let overhead = completed
            .and_then(|r| r.overhead(DEMO_EXTENSION))
            .map(|us| format!(", then the extension took {} µs more", us.as_micros()))
            .unwrap_or_default();
        writeln!(
            out,
            "< {}{error} {} (released to the runtime after {} µs, answered {} µs later{overhead})\n",
            response.status,
            response.body_str(),
            response.timings.queued().as_micros(),
            response.timings.duration().as_micros(),
        )?;
    }
    writeln!(
        out,
        "--- shutdown: SIGTERM to the runtime, SHUTDOWN to the extension"
    )?;
    sim.begin_shutdown()
        .map_err(|e| io::Error::other(e.to_string()))?;
    let _ = sim.wait_for(Awaited::ShutDown, Duration::from_secs(5));
    for line in sim.lines() {
        writeln!(out, "  {line}")?;
    }
    writeln!(out)?;
    sim.shutdown()?;
    writeln!(
        out,
        "lambda-sim demo: done. Run your own runtime with: lambda-sim -- ./bootstrap"
    )?;
    Ok(())
}

/// The demo's runtime: a Runtime API client with nothing but std. It echoes each event, except
/// `{"demo":"error"}` (posts an error) and `{"demo":"sleep","ms":N}` (sleeps, then echoes).
pub(crate) fn runtime_main() -> io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .map_err(|_| io::Error::other("AWS_LAMBDA_RUNTIME_API is not set"))?;
    println!("demo runtime: started, pid {}", std::process::id());
    let mut client = MiniClient::connect(&api)?;
    loop {
        let next = client.request("GET", "/2018-06-01/runtime/invocation/next", &[], b"")?;
        let id = next
            .header("lambda-runtime-aws-request-id")
            .unwrap_or_default()
            .to_string();
        let event: serde_json::Value = serde_json::from_slice(&next.body).unwrap_or_default();
        println!("demo runtime: got {} ({} bytes)", id, next.body.len());
        let path = |what: &str| format!("/2018-06-01/runtime/invocation/{id}/{what}");
        match event.get("demo").and_then(|d| d.as_str()) {
            Some("error") => {
                let body = br#"{"errorMessage":"the demo asked for an error","errorType":"DemoError","stackTrace":[]}"#;
                client.request(
                    "POST",
                    &path("error"),
                    &[("Lambda-Runtime-Function-Error-Type", "Function.DemoError")],
                    body,
                )?;
            }
            Some("sleep") => {
                let ms = event.get("ms").and_then(|v| v.as_u64()).unwrap_or(0);
                // The function sleeping is the point of this step; the simulator never does.
                #[allow(clippy::disallowed_methods)]
                std::thread::sleep(Duration::from_millis(ms));
                client.request("POST", &path("response"), &[], &next.body)?;
            }
            _ => {
                client.request("POST", &path("response"), &[], &next.body)?;
            }
        }
    }
}

/// The demo's extension: registers for INVOKE and SHUTDOWN, works a few milliseconds after each
/// INVOKE before asking for the next event (the overhead the REPORT shows), and exits on
/// SHUTDOWN.
pub(crate) fn extension_main() -> io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .map_err(|_| io::Error::other("AWS_LAMBDA_RUNTIME_API is not set"))?;
    let mut client = MiniClient::connect(&api)?;
    let registered = client.request(
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", DEMO_EXTENSION)],
        br#"{"events":["INVOKE","SHUTDOWN"]}"#,
    )?;
    let Some(id) = registered.header("lambda-extension-identifier") else {
        return Err(io::Error::other(format!(
            "registration refused: {} {}",
            registered.status,
            String::from_utf8_lossy(&registered.body)
        )));
    };
    let id = id.to_string();
    println!("demo extension: registered as {id}");
    loop {
        let next = client.request(
            "GET",
            "/2020-01-01/extension/event/next",
            &[("Lambda-Extension-Identifier", &id)],
            b"",
        )?;
        let event: serde_json::Value = serde_json::from_slice(&next.body).unwrap_or_default();
        match event.get("eventType").and_then(|t| t.as_str()) {
            Some("INVOKE") => {
                // The extension's own work after the invocation; the simulator never sleeps.
                #[allow(clippy::disallowed_methods)]
                std::thread::sleep(DEMO_EXTENSION_WORK);
            }
            Some("SHUTDOWN") => {
                println!(
                    "demo extension: SHUTDOWN ({}), exiting",
                    event["shutdownReason"].as_str().unwrap_or("?")
                );
                return Ok(());
            }
            _ => {
                return Err(io::Error::other(format!(
                    "unexpected answer: {} {}",
                    next.status,
                    String::from_utf8_lossy(&next.body)
                )));
            }
        }
    }
}

/// A response read by [`MiniClient`].
#[derive(Debug)]
pub(crate) struct MiniResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl MiniResponse {
    /// The value of header `name` (give it in lowercase).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A blocking HTTP/1.1 client over one keep-alive connection: enough for a runtime, and for
/// `lambda-sim invoke --endpoint`.
#[derive(Debug)]
pub(crate) struct MiniClient {
    stream: TcpStream,
    addr: String,
    /// Bytes read and not yet taken: the rest of a response, or the start of the next.
    buf: Vec<u8>,
}

impl MiniClient {
    /// Connects to `addr` (`host:port`).
    pub(crate) fn connect(addr: &str) -> io::Result<MiniClient> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(MiniClient {
            stream,
            addr: addr.to_string(),
            buf: Vec::new(),
        })
    }

    /// Sends a request and reads its response (Content-Length bodies, or to the close).
    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<MiniResponse> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes())?;
        self.stream.write_all(body)?;
        let (at, status, headers, length) = loop {
            let mut fields = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut fields);
            let parsed = response
                .parse(&self.buf)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if let httparse::Status::Complete(at) = parsed {
                let headers: Vec<(String, String)> = (response.headers.iter())
                    .map(|h| {
                        let value = String::from_utf8_lossy(h.value).into_owned();
                        (h.name.to_ascii_lowercase(), value)
                    })
                    .collect();
                let length = (headers.iter())
                    .find(|(n, _)| n == "content-length")
                    .and_then(|(_, v)| v.parse::<usize>().ok());
                break (at, response.code.unwrap_or(0), headers, length);
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        };
        // Without a length, the body runs to the close (RFC 9112 §6.3).
        while length.is_none_or(|length| self.buf.len() - at < length) {
            if self.fill()? == 0 {
                if length.is_some() {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                break;
            }
        }
        let end = length.map_or(self.buf.len(), |length| at + length);
        let body = self.buf[at..end].to_vec();
        self.buf.drain(..end);
        Ok(MiniResponse {
            status,
            headers,
            body,
        })
    }

    /// Reads what the peer has sent into `buf`; 0 at its end.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }
}

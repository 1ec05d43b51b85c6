//! `lambda-sim invoke`: one-shot invocations for scripts and CI. It starts the environment (or
//! talks to a running `lambda-sim` with `--endpoint`), invokes, prints each answer on stdout and
//! the log on stderr, shuts down, and exits 0 (success), 1 (a function error), 2 (a platform
//! error or a refused invocation) or 3 (it could not start: a script can tell its function's
//! failure from a broken set-up).

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;
use crate::{Builder, InvokeRequest, LogOutput};

/// What `lambda-sim invoke` was asked to do, beyond the simulator's own options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InvokeOptions {
    /// `--payload JSON`, or `--payload-file F` (read when the command runs).
    pub payload: Payload,
    /// `--count N`: how many invocations.
    pub count: u32,
    /// `--parallel P`: how many of them may be in flight at once (the local simulator only).
    pub parallel: u32,
    /// `--log-tail`: ask for each invocation's log tail and print it to stderr.
    pub log_tail: bool,
    /// `--endpoint URL`: invoke a running `lambda-sim` (or any Invoke API) instead.
    pub endpoint: Option<String>,
    /// `--tenant-id ID`: the tenant each invocation names (tenant isolation).
    pub tenant_id: Option<String>,
}

impl Default for InvokeOptions {
    fn default() -> InvokeOptions {
        InvokeOptions {
            payload: Payload::Empty,
            count: 1,
            parallel: 1,
            log_tail: false,
            endpoint: None,
            tenant_id: None,
        }
    }
}

/// Where the event comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Payload {
    /// `{}`.
    #[default]
    Empty,
    /// `--payload`.
    Inline(String),
    /// A file: `--payload-file`, `file://`, `fileb://`, or a path.
    File(PathBuf),
    /// `-`: standard input, read to its end.
    Stdin,
}

impl Payload {
    /// The event's bytes.
    pub(crate) fn read(&self) -> std::io::Result<Vec<u8>> {
        match self {
            Payload::Empty => Ok(b"{}".to_vec()),
            Payload::Inline(text) => Ok(text.clone().into_bytes()),
            Payload::File(path) => std::fs::read(path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
            // Read as a file through a copy of its descriptor (a pipe, a file, a socket, a
            // terminal): std's buffered standard input would cost the binary 2 KB more.
            Payload::Stdin => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .as_fd()
                    .try_clone_to_owned()
                    .map(std::fs::File::from)
                    .and_then(|mut stdin| stdin.read_to_end(&mut bytes))
                    .map_err(|e| std::io::Error::new(e.kind(), format!("standard input: {e}")))?;
                Ok(bytes)
            }
        }
    }
}

/// The exit code for "could not start": the simulator, or the endpoint, is not there to invoke.
const CANNOT_START: u8 = 3;

/// How an invocation ended, as the exit code reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verdict {
    /// Exit 0.
    Success,
    /// Exit 1: the function returned an error.
    FunctionError,
    /// Exit 2: the platform failed the invocation (timeout, crash, init failure of the
    /// platform's kind, ...) or refused it.
    PlatformError,
}

/// Classifies an answer from its status, `X-Amz-Function-Error` and body.
pub(crate) fn verdict(status: u16, function_error: bool, body: &[u8]) -> Verdict {
    if status != 200 {
        return Verdict::PlatformError;
    }
    if !function_error {
        return Verdict::Success;
    }
    let error_type = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errorType")?.as_str().map(str::to_string))
        .unwrap_or_default();
    if crate::lifecycle::Failure::is_platform_error_type(&error_type) {
        Verdict::PlatformError
    } else {
        Verdict::FunctionError
    }
}

/// An answer, from either path.
struct Answer {
    status: u16,
    function_error: bool,
    log_result: Option<String>,
    body: Vec<u8>,
}

/// Runs `lambda-sim invoke`.
pub(super) fn run(mut config: Config, options: InvokeOptions) -> ExitCode {
    let payload = match options.payload.read() {
        Ok(payload) => payload,
        Err(e) => {
            eprintln!("lambda-sim invoke: {e}");
            return ExitCode::from(2);
        }
    };
    let local = match &options.endpoint {
        Some(_) => None,
        None => {
            // The whole log goes to stderr as it happens, unless only the tails are wanted.
            config.log_output = if options.log_tail {
                LogOutput::Discard
            } else {
                LogOutput::Stderr
            };
            match Builder::config(config).start() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    eprintln!("lambda-sim invoke: {e}");
                    return ExitCode::from(CANNOT_START);
                }
            }
        }
    };
    let mut worst = Verdict::Success;
    let mut stdout = std::io::stdout();
    let count = options.count.max(1);
    // Up to `parallel` invocations sent at once, a batch at a time; answers are printed in the
    // order they were sent.
    let mut batch = Vec::new();
    let mut sent = 0;
    for _ in 0..count {
        let answer = match (&local, &options.endpoint) {
            (Some(handle), _) => {
                if batch.is_empty() {
                    while sent < count && batch.len() < options.parallel.max(1) as usize {
                        let request = InvokeRequest {
                            payload: payload.clone(),
                            log_tail: options.log_tail,
                            tenant_id: options.tenant_id.clone(),
                            ..InvokeRequest::default()
                        };
                        match handle.submit_reported(request) {
                            Ok(ticket) => batch.push(ticket),
                            Err(e) => {
                                eprintln!("lambda-sim invoke: {e}");
                                return ExitCode::from(2);
                            }
                        }
                        sent += 1;
                    }
                    batch.reverse();
                }
                let Some(ticket) = batch.pop() else {
                    return ExitCode::from(2);
                };
                // Waits for the report too, so that the log holds END and REPORT before the
                // next invocation or the shutdown.
                let answered = ticket.report().and_then(|_| ticket.wait());
                match answered {
                    Ok(r) => Answer {
                        status: r.status,
                        function_error: r.function_error().is_some(),
                        log_result: r.header("X-Amz-Log-Result").map(str::to_string),
                        body: r.body,
                    },
                    Err(e) => {
                        eprintln!("lambda-sim invoke: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            (None, Some(endpoint)) => match http_invoke(endpoint, &payload, &options) {
                Ok(answer) => answer,
                Err(e) => {
                    eprintln!("lambda-sim invoke: {endpoint}: {e}");
                    return ExitCode::from(CANNOT_START);
                }
            },
            (None, None) => return ExitCode::from(2),
        };
        if let Some(log) = answer
            .log_result
            .as_deref()
            .and_then(|l| crate::base64::decode(l.as_bytes()))
        {
            let _ = std::io::stderr().write_all(&log);
        }
        let _ = stdout.write_all(&answer.body);
        let _ = stdout.write_all(b"\n");
        let _ = stdout.flush();
        worst = worst.max(verdict(answer.status, answer.function_error, &answer.body));
    }
    if let Some(handle) = local {
        if let Err(e) = handle.shutdown() {
            eprintln!("lambda-sim invoke: {e}");
        }
    }
    ExitCode::from(match worst {
        Verdict::Success => 0,
        Verdict::FunctionError => 1,
        Verdict::PlatformError => 2,
    })
}

/// `POST` to the Invoke API at `endpoint` (`http://HOST:PORT`), on the demo's client.
fn http_invoke(endpoint: &str, payload: &[u8], options: &InvokeOptions) -> std::io::Result<Answer> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, m.to_string());
    let rest = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// endpoints are supported"))?;
    let (authority, prefix) = match rest.find('/') {
        Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let mut headers = vec![("Content-Type", "application/json")];
    if options.log_tail {
        headers.push(("X-Amz-Log-Type", "Tail"));
    }
    if let Some(tenant) = &options.tenant_id {
        headers.push(("X-Amz-Tenant-Id", tenant));
    }
    let path = format!("{prefix}/2015-03-31/functions/function/invocations");
    let r =
        crate::demo::MiniClient::connect(authority)?.request("POST", &path, &headers, payload)?;
    Ok(Answer {
        status: r.status,
        function_error: r.header("x-amz-function-error").is_some(),
        log_result: r.header("x-amz-log-result").map(str::to_string),
        body: r.body,
    })
}

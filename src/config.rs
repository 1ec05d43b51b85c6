//! Every option of a simulator, with Lambda's defaults. The CLI fills it from flags and RIE's
//! environment variables (`cli`); the embedding API from `Simulator::builder()`.
//!
//! Running on a host rather than in Lambda's sandbox (lambda-sim's rules, where AWS has none):
//! - `LAMBDA_TASK_ROOT` and the children's working directory are `/var/task` when it exists,
//!   else the directory the simulator started in; `--task-root` overrides both.
//! - `_HANDLER` is `--handler`, else, as RIE does, the last argument of a bootstrap command that
//!   has several (RIE `cmd/aws-lambda-rie/main.go` `getBootstrap`).
//! - External extensions are every executable in `$LAMBDA_EXTENSIONS_DIR` (default
//!   `/opt/extensions`, as on Lambda), and each `--extension`.
//! - The defaults are Lambda's: a 3 s timeout, 128 MB, region `us-east-1`
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>); both listeners
//!   bind loopback unless given another address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::time::Micros;

/// Where the simulator's log lines (lifecycle lines and the function's output) go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogOutput {
    /// Our stdout, written without ever blocking the reactor (the CLI's choice).
    Stdout,
    /// Our stderr, likewise (`lambda-sim invoke`, whose stdout is the function's answer).
    Stderr,
    /// A bounded buffer read with `Handle::lines` (the embedding API's choice for tests).
    Capture,
    /// Nowhere.
    #[default]
    Discard,
}

/// How many lines `LogOutput::Capture` keeps unread before it drops new ones.
pub(crate) const CAPTURE_LINES: usize = 100_000;

/// The command that starts the function's runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bootstrap {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

/// An external extension: a process the simulator starts at each init, before the runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionCommand {
    /// The name it must register with: the executable's file name, or the name given in
    /// `--extension NAME=COMMAND`.
    pub name: String,
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

impl ExtensionCommand {
    /// An executable, named after its file name (as Lambda names the files in
    /// `/opt/extensions`).
    pub fn from_path(path: impl Into<PathBuf>) -> Option<ExtensionCommand> {
        let program = path.into();
        let name = program.file_name()?.to_str()?.to_string();
        Some(ExtensionCommand {
            name,
            program,
            args: Vec::new(),
        })
    }
}

/// A simulator's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where the invoke endpoint listens (port 0: any free port).
    pub invoke_addr: SocketAddr,
    /// Where the Runtime API listens; children get it as `AWS_LAMBDA_RUNTIME_API`.
    pub runtime_api_addr: SocketAddr,
    /// The runtime to spawn; `None` waits for an external runtime (the lifecycle core's decision *external runtime*).
    pub bootstrap: Option<Bootstrap>,
    /// The function timeout (Lambda's default: 3 s; 1 s to 900 s on Lambda).
    pub timeout: Duration,
    /// External extensions, started in this order at each init. Those in `extensions_dir` come
    /// first.
    pub extensions: Vec<ExtensionCommand>,
    /// A directory whose executables are external extensions, as `/opt/extensions` on Lambda
    /// (the CLI reads `$LAMBDA_EXTENSIONS_DIR`, default `/opt/extensions`; the embedding API
    /// reads none unless told). A directory that does not exist holds none.
    pub extensions_dir: Option<PathBuf>,
    /// The limit on an on-demand first init (Lambda: 10 s; provisioned concurrency has 130 s
    /// or the function timeout, whichever is longer).
    pub init_timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` and the REPORT's Memory Size.
    pub memory_mb: u32,
    /// The function's name.
    pub function_name: String,
    /// The version invocations run.
    pub function_version: String,
    /// `_HANDLER`; when `None`, the last argument of a bootstrap command that has several.
    pub handler: Option<String>,
    /// The region in ARNs and `AWS_REGION`.
    pub region: String,
    /// The account id in ARNs.
    pub account_id: String,
    /// Extra variables for the runtime, applied last.
    pub env: Vec<(String, String)>,
    /// Give the runtime Lambda's environment only, not the simulator's.
    pub clean_env: bool,
    /// Seeds request ids; from the OS when `None`.
    pub seed: Option<u64>,
    /// How many invocations may wait beyond the one in flight (the lifecycle core's decision *the queue*).
    pub max_queue: usize,
    /// How many bytes of invocations (payload and details) may wait beyond the one in flight
    /// (default 64 MiB).
    pub max_queue_bytes: usize,
    /// How many `Event` invocations may be accepted and not yet ended: queued, running or
    /// waiting for a retry (default 1000).
    pub max_event_queue: usize,
    /// How many times a failed `Event` invocation is retried, 0 to 2 (Lambda's
    /// `MaximumRetryAttempts`, default 2).
    pub max_retry_attempts: u8,
    /// The oldest an `Event` invocation may be for a retry to start (Lambda's
    /// `MaximumEventAgeInSeconds`, 60 s to 6 h, default 6 h).
    pub max_event_age: Duration,
    /// The wait before an `Event` invocation's first retry; the second waits twice as long
    /// (Lambda's: 60 s; shorten it for tests).
    pub retry_delay: Duration,
    /// With `AWS_LAMBDA_LOG_FORMAT=JSON`: the least severe of lambda-sim's own records shown,
    /// DEBUG, INFO or WARN (Lambda's system log level, default INFO).
    pub system_log_level: LogLevel,
    /// Initialise at start-up (`provisioned-concurrency`) instead of on the first invocation.
    pub eager_init: bool,
    /// How many execution environments may run at once, each with its own runtime, extensions,
    /// Runtime API and log stream: Lambda's concurrency for the function (default 1). The
    /// first environment's Runtime API is at `runtime_api_addr`, the others' on free ports of
    /// the same address. See the lifecycle core's decision *several environments*.
    pub concurrency: usize,
    /// Lambda Managed Instances: the environment takes up to this many invocations at once,
    /// initialises at start-up, and is never frozen (the lifecycle core's decision *Managed
    /// Instances*); the runtime gets it as `AWS_LAMBDA_MAX_CONCURRENCY`. `None`: one
    /// invocation at a time, as Lambda's default model.
    pub max_concurrency: Option<u32>,
    /// Tenant isolation (Lambda's `TenantIsolationMode: PER_TENANT`): every invocation names a
    /// tenant (`X-Amz-Tenant-Id`), and an environment serves only the tenant it initialised
    /// for (the lifecycle core's decision *tenant isolation*). Without it, an invocation may
    /// not name one. Not with `eager_init` or `max_concurrency`, which Lambda's tenant
    /// isolation excludes. With an external runtime (one process for every tenant) only the
    /// rule on tenant ids applies.
    pub tenant_isolation: bool,
    /// SnapStart (RIE's `--enable-init-caching`): the first environment initialises at
    /// start-up as the snapshot (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`), and each
    /// environment an invocation needs is restored from it (the lifecycle core's decision
    /// *SnapStart*). Not with `eager_init`, `max_concurrency`, `tenant_isolation` or an
    /// external runtime.
    pub snap_start: bool,
    /// Freeze the runtime and extensions (SIGSTOP) between invocations, as Lambda does
    /// (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>). Never with an external runtime.
    pub freeze: bool,
    /// Streamed responses: their limit, and the shaping after the burst (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming>).
    pub streaming: StreamLimits,
    /// How long a request may take to arrive, and a connection may sit idle between requests.
    pub timeouts: ConnectionTimeouts,
    /// `LAMBDA_TASK_ROOT` and the runtime's working directory: `/var/task` if it exists, else
    /// the current directory, when `None`.
    pub task_root: Option<PathBuf>,
    /// Leave out the lifecycle lines (START, END, REPORT, ...); the function's output stays.
    pub quiet: bool,
    /// Keep the last this many Telemetry API events of every type for the embedding API
    /// (`Handle::telemetry`, `Handle::wait_for_event`); `None` keeps none.
    pub capture_telemetry: Option<usize>,
    /// Where log lines go.
    pub log_output: LogOutput,
    /// Watch children's exits by polling, as where pidfds are missing (for tests).
    #[doc(hidden)]
    pub poll_exits: bool,
}

/// The function name when none is configured (RIE's default).
pub(crate) const DEFAULT_FUNCTION_NAME: &str = "test_function";
/// The account id in ARNs (RIE's).
pub(crate) const DEFAULT_ACCOUNT_ID: &str = "012345678912";
/// The region when none is configured.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";
/// Lambda's default memory size.
pub(crate) const DEFAULT_MEMORY_MB: u32 = 128;

impl Default for Config {
    /// Lambda's defaults, listening on free loopback ports (what tests want).
    fn default() -> Config {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        Config {
            invoke_addr: any_port,
            runtime_api_addr: any_port,
            bootstrap: None,
            extensions: Vec::new(),
            extensions_dir: None,
            timeout: crate::lifecycle::DEFAULT_TIMEOUT.to_duration(),
            init_timeout: crate::lifecycle::INIT_TIMEOUT.to_duration(),
            memory_mb: DEFAULT_MEMORY_MB,
            function_name: DEFAULT_FUNCTION_NAME.to_string(),
            function_version: "$LATEST".to_string(),
            handler: None,
            region: DEFAULT_REGION.to_string(),
            account_id: DEFAULT_ACCOUNT_ID.to_string(),
            env: Vec::new(),
            clean_env: false,
            seed: None,
            max_queue: crate::lifecycle::DEFAULT_MAX_QUEUE,
            max_queue_bytes: crate::lifecycle::DEFAULT_MAX_QUEUE_BYTES,
            max_event_queue: crate::lifecycle::DEFAULT_MAX_QUEUE,
            max_retry_attempts: 2,
            max_event_age: Duration::from_secs(6 * 3600),
            retry_delay: Duration::from_secs(60),
            system_log_level: LogLevel::Info,
            eager_init: false,
            concurrency: 1,
            max_concurrency: None,
            tenant_isolation: false,
            snap_start: false,
            freeze: true,
            streaming: StreamLimits::default(),
            timeouts: ConnectionTimeouts::default(),
            task_root: None,
            quiet: false,
            capture_telemetry: None,
            poll_exits: false,
            log_output: LogOutput::Discard,
        }
    }
}

impl Config {
    /// What the lifecycle core needs of this configuration: its limits and modes, the names of
    /// the external `extensions`, and the `seed` and `epoch_us` of its ids.
    pub(crate) fn lifecycle(
        &self,
        extensions: &[ExtensionCommand],
        seed: u64,
        epoch_us: u64,
    ) -> crate::lifecycle::Config {
        use crate::lifecycle::{InitMode, RuntimeMode};
        crate::lifecycle::Config {
            timeout: Micros::from_duration(self.timeout),
            init_timeout: Micros::from_duration(self.init_timeout),
            max_queue: self.max_queue,
            max_queue_bytes: self.max_queue_bytes,
            max_event_queue: self.max_event_queue,
            max_retry_attempts: self.max_retry_attempts,
            max_event_age: Micros::from_duration(self.max_event_age),
            retry_delay: Micros::from_duration(self.retry_delay),
            runtime: if self.bootstrap.is_some() {
                RuntimeMode::Process
            } else {
                RuntimeMode::External
            },
            init: if self.eager_init {
                InitMode::Eager
            } else {
                InitMode::OnDemand
            },
            extensions: extensions.iter().map(|e| e.name.clone()).collect(),
            freeze: self.freeze && self.max_concurrency.is_none(),
            concurrency: self.concurrency.max(1),
            max_concurrency: self.max_concurrency,
            per_tenant: self.tenant_isolation,
            snap_start: self.snap_start,
            seed,
            epoch_us,
        }
    }

    /// Why these options cannot go together, if they cannot.
    pub(crate) fn conflict(&self) -> Option<&'static str> {
        // Tenant isolation "is incompatible with SnapStart, Provisioned Concurrency" (the
        // CDK's `TenancyConfig`); Managed Instances environments serve many tenants' at once.
        let eager = self.eager_init || self.max_concurrency.is_some();
        if self.tenant_isolation && (eager || self.snap_start) {
            return Some(
                "tenant isolation excludes provisioned concurrency (--eager-init), Managed Instances (--max-concurrency) and SnapStart",
            );
        }
        // SnapStart functions are on-demand functions restored from their snapshot: Lambda
        // has no SnapStart with provisioned concurrency or on Managed Instances.
        (self.snap_start && (eager || self.bootstrap.is_none())).then_some(
            "SnapStart takes a bootstrap, and excludes --eager-init and --max-concurrency",
        )
    }

    /// Every external extension: the executables in `extensions_dir` in name order, then
    /// `extensions`. Refused: two with one name, or more than Lambda's ten.
    pub fn all_extensions(&self) -> std::io::Result<Vec<ExtensionCommand>> {
        let mut all = match &self.extensions_dir {
            Some(dir) => executables_in(dir)?,
            None => Vec::new(),
        };
        all.extend(self.extensions.iter().cloned());
        for (i, ext) in all.iter().enumerate() {
            if all[..i].iter().any(|e| e.name == ext.name) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("two extensions are named {:?}", ext.name),
                ));
            }
        }
        let max = crate::lifecycle::MAX_EXTENSIONS;
        if all.len() > max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} external extensions; Lambda runs at most {max}",
                    all.len()
                ),
            ));
        }
        Ok(all)
    }

    /// `_HANDLER` as RIE derives it: the configured handler, else the last argument of a
    /// bootstrap command with arguments (see the module docs).
    pub fn effective_handler(&self) -> Option<String> {
        self.handler
            .clone()
            .or_else(|| self.bootstrap.as_ref().and_then(|b| b.args.last().cloned()))
    }

    /// `LAMBDA_TASK_ROOT`: `--task-root`, else `/var/task` when it exists, else the current
    /// directory (see the module docs).
    pub fn effective_task_root(&self) -> PathBuf {
        if let Some(root) = &self.task_root {
            return root.clone();
        }
        let var_task = PathBuf::from("/var/task");
        if var_task.is_dir() {
            return var_task;
        }
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
    }
}

/// The executable files in `dir`, by name; none if it does not exist.
fn executables_in(dir: &std::path::Path) -> std::io::Result<Vec<ExtensionCommand>> {
    use std::os::unix::fs::PermissionsExt;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(std::io::Error::new(
                e.kind(),
                format!(
                    "cannot read the extensions directory {}: {e}",
                    dir.display()
                ),
            ));
        }
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        // Follows symbolic links, as exec would.
        let executable = std::fs::metadata(&path)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if let Some(ext) = ExtensionCommand::from_path(path).filter(|_| executable) {
            // Kept in name order as they come (a handful): no sort routine in the binary.
            let at = found.partition_point(|e: &ExtensionCommand| e.name < ext.name);
            found.insert(at, ext);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_shaped_only_past_the_burst() {
        let limits = StreamLimits {
            max_bytes: 1 << 30,
            burst_bytes: 1000,
            rate: 500,
        };
        let start = Micros::from_secs(10);
        assert_eq!(limits.paused_until(start, 0), None);
        assert_eq!(limits.paused_until(start, 1000), None);
        // 500 bytes past the burst at 500 B/s: a second after the start.
        assert_eq!(
            limits.paused_until(start, 1500),
            Some(Micros::from_secs(11))
        );
        assert_eq!(
            limits.paused_until(start, 1250),
            Some(Micros::from_millis(10_500))
        );
        let unshaped = StreamLimits { rate: 0, ..limits };
        assert_eq!(unshaped.paused_until(start, u64::MAX), None);
        // No overflow at the extremes.
        let slow = StreamLimits { rate: 1, ..limits };
        assert!(slow.paused_until(start, u64::MAX).is_some());
    }

    fn named(name: &str) -> ExtensionCommand {
        ExtensionCommand {
            name: name.into(),
            program: "/bin/true".into(),
            args: Vec::new(),
        }
    }

    #[test]
    fn extensions_come_from_the_directory_then_the_list_and_are_checked() {
        let dir = std::env::temp_dir().join(format!("lambda-sim-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (file, mode) in [("b-ext", 0o755), ("a-ext", 0o700), ("data", 0o644)] {
            let path = dir.join(file);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let mut config = Config {
            extensions_dir: Some(dir.clone()),
            extensions: vec![named("listed")],
            ..Config::default()
        };
        let names: Vec<String> = config
            .all_extensions()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["a-ext", "b-ext", "listed"]);

        config.extensions.push(named("a-ext"));
        let e = config.all_extensions().unwrap_err();
        assert!(
            e.to_string().contains("two extensions are named \"a-ext\""),
            "{e}"
        );

        config.extensions = (0..9).map(|i| named(&format!("e{i}"))).collect();
        let e = config.all_extensions().unwrap_err();
        assert!(e.to_string().contains("11 external extensions"), "{e}");

        config.extensions_dir = Some(dir.join("missing"));
        assert_eq!(config.all_extensions().unwrap().len(), 9);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// When a connection that waits on its peer is closed. Nothing that waits on the function is
/// timed out: a parked long poll (`/next`, `event/next`), an invoker waiting for its answer, a
/// runtime's connection while its function works, the body of a runtime's response (the
/// invocation's deadline bounds it), a reader still taking an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// A request must arrive whole within this time of its first byte (a slow head, a stalled
    /// body); past it, 408 and the connection closes.
    pub request: Duration,
    /// A keep-alive connection to the invoke endpoint with no request in it is closed after
    /// this long.
    pub idle: Duration,
}

impl Default for ConnectionTimeouts {
    fn default() -> ConnectionTimeouts {
        ConnectionTimeouts {
            request: Duration::from_secs(30),
            idle: Duration::from_secs(300),
        }
    }
}

/// How much a streamed response may carry, and how fast past its burst (<https://docs.aws.amazon.com/lambda/latest/dg/config-rs-invoke-furls.html>; RIE's
/// defaults: a 6 MiB burst, then 2 MiB/s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamLimits {
    /// The most a stream may carry; past it, `Function.ResponseSizeTooLarge`.
    pub max_bytes: u64,
    /// Sent as fast as the invoker takes it.
    pub burst_bytes: u64,
    /// Then at most this many bytes a second; 0 for no shaping.
    pub rate: u64,
}

impl Default for StreamLimits {
    fn default() -> StreamLimits {
        StreamLimits {
            max_bytes: crate::api::runtime::MAX_STREAM_BYTES,
            burst_bytes: 6 * 1024 * 1024,
            rate: 2 * 1024 * 1024,
        }
    }
}

impl StreamLimits {
    /// When a stream that began at `start` and has sent `sent` bytes may send more, if not at
    /// once: after the burst, `rate` bytes a second on average since the start.
    pub fn paused_until(&self, start: Micros, sent: u64) -> Option<Micros> {
        if self.rate == 0 || sent <= self.burst_bytes {
            return None;
        }
        let over = u128::from(sent - self.burst_bytes);
        let after = over * 1_000_000 / u128::from(self.rate);
        let after = u64::try_from(after).unwrap_or(u64::MAX);
        Some(Micros(start.as_micros().saturating_add(after)))
    }
}

/// A log level of Lambda's log-level filtering, least severe first
/// (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html>):
/// the application log levels are all six, the system log levels DEBUG, INFO and WARN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `TRACE`.
    Trace,
    /// `DEBUG`.
    Debug,
    /// `INFO`, the default of both.
    Info,
    /// `WARN`.
    Warn,
    /// `ERROR`.
    Error,
    /// `FATAL`.
    Fatal,
}

impl LogLevel {
    const ALL: [LogLevel; 6] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
        LogLevel::Fatal,
    ];

    /// Its name, as Lambda spells it.
    pub fn name(self) -> &'static str {
        ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"][self as usize]
    }

    /// A level's name, in any case.
    pub fn parse(name: &str) -> Option<LogLevel> {
        LogLevel::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The level of a line of the function's: its `"level"` when it is a JSON object that has a
    /// valid one, else INFO ("If the "level" value field is invalid or missing, Lambda will
    /// assign the log output the level INFO").
    #[inline(never)]
    pub fn of_line(line: &str) -> LogLevel {
        let level = line
            .trim_start()
            .starts_with('{')
            .then(|| serde_json::from_slice::<serde_json::Value>(line.as_bytes()).ok())
            .flatten()
            .and_then(|v| v.get("level")?.as_str().and_then(LogLevel::parse));
        level.unwrap_or(LogLevel::Info)
    }
}

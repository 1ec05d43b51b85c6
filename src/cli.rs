//! The command line, a drop-in for `aws-lambda-rie`: parsed by hand (no clap), with RIE's long
//! option names and environment variables as aliases.

use std::fmt;
use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::process::ExitCode;

use crate::config::LogOutput;
use crate::config::{Bootstrap, Config, ExtensionCommand, LogLevel};
use crate::simulator::Server;
use crate::{demo, process};
use bench::{Baseline, BenchOptions};

mod help;

/// Where RIE looks for a bootstrap when none is given, in its order.
pub(crate) const RIE_BOOTSTRAPS: [&str; 3] = [
    "/var/task/bootstrap",
    "/opt/bootstrap",
    "/var/runtime/bootstrap",
];

/// Where Lambda's external extensions live, unless `LAMBDA_EXTENSIONS_DIR` says otherwise.
pub(crate) const DEFAULT_EXTENSIONS_DIR: &str = "/opt/extensions";

/// The longest function timeout Lambda allows.
pub(crate) const MAX_TIMEOUT_SECS: u64 = 900;

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Mode {
    /// Run the simulator.
    Run(Box<Config>),
    /// Run the built-in demo; `notice` says why when it was not asked for by name.
    Demo {
        /// The simulator's options.
        config: Box<Config>,
        /// Why the demo runs instead of a bootstrap.
        notice: Option<String>,
    },
    /// `lambda-sim invoke`: invoke once (or `--count` times) and exit.
    Invoke {
        /// The simulator's options (unused with `--endpoint`).
        config: Box<Config>,
        /// What to invoke with, and where.
        options: InvokeOptions,
    },
    /// `lambda-sim bench`: measure the function and its extensions.
    Bench {
        /// The simulator's options.
        config: Box<Config>,
        /// What to measure, and where the results go.
        options: BenchOptions,
        /// Set when the built-in demo is measured: why.
        notice: Option<String>,
    },
    /// Be the demo's echo runtime (started by the demo itself).
    DemoRuntime,
    /// Be the demo's extension (started by the demo itself).
    DemoExtension,
    /// Print a command's help.
    Help(Command),
    /// Print the version.
    Version,
}

/// The commands: the first argument names one, else it is `Serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// `lambda-sim [OPTIONS] <bootstrap>`: serve a function.
    Serve,
    /// `lambda-sim demo`.
    Demo,
    /// `lambda-sim invoke`.
    Invoke,
    /// `lambda-sim bench`.
    Bench,
}

impl Command {
    /// Its help text.
    pub(crate) fn help(self) -> String {
        match self {
            Command::Serve => help::main(),
            Command::Demo => help::demo(),
            Command::Invoke => help::invoke(),
            Command::Bench => help::bench(),
        }
    }

    /// The exit code that says it could not start.
    pub(crate) fn cannot_start_code(self) -> u8 {
        match self {
            Command::Serve | Command::Demo => 1,
            Command::Invoke => 3,
            Command::Bench => 2,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Command::Serve => "lambda-sim",
            Command::Demo => "lambda-sim demo",
            Command::Invoke => "lambda-sim invoke",
            Command::Bench => "lambda-sim bench",
        }
    }
}

/// The parsed command line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Parsed {
    /// What to do.
    pub mode: Mode,
    /// `--log-level` or `LOG_LEVEL`: lambda-sim's own modules' level (`RUST_LOG` goes over it).
    pub log_level: Option<log::LevelFilter>,
}

/// Why the command line was refused, and the exit code that says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CliError {
    /// A bad flag or value: exit 2.
    Usage(String),
    /// What the command line names cannot start (no bootstrap, one that is not executable):
    /// the command's own exit code for that ([`Command::cannot_start_code`]).
    CannotStart(String, Command),
}

impl CliError {
    /// The process exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::CannotStart(_, command) => command.cannot_start_code(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::CannotStart(m, _) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

fn usage(message: String) -> CliError {
    CliError::Usage(message)
}

/// What the options said, beyond the simulator's configuration.
#[derive(Debug)]
struct Given {
    command: Command,
    config: Config,
    log_level: Option<log::LevelFilter>,
    external: bool,
    addr_given: bool,
    /// `bench --demo`.
    demo: bool,
    invoke: InvokeOptions,
    bench: BenchOptions,
    /// The simulator's options given, by name: none applies with `--endpoint`.
    simulator_flags: Vec<String>,
}

/// Parses `args` (without the program name), reading RIE's variables through `env` and
/// checking files with `is_file` (tests pass fakes).
///
/// Options may come anywhere, as RIE takes them: a word that is not one of the command's options
/// is the bootstrap's, and an unknown option is the bootstrap's once the bootstrap has begun
/// (before it, an error). After `--`, everything is the bootstrap's.
pub(crate) fn parse(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    is_file: &dyn Fn(&Path) -> bool,
) -> Result<Parsed, CliError> {
    let early = |mode: Mode| {
        Ok(Parsed {
            mode,
            log_level: None,
        })
    };
    let (command, rest) = match args.first().map(String::as_str) {
        Some("demo") => (Command::Demo, &args[1..]),
        Some("invoke") => (Command::Invoke, &args[1..]),
        Some("bench") => (Command::Bench, &args[1..]),
        Some("help") => {
            return early(Mode::Help(match args.get(1).map(String::as_str) {
                None => Command::Serve,
                Some("demo") => Command::Demo,
                Some("invoke") => Command::Invoke,
                Some("bench") => Command::Bench,
                Some(other) => {
                    return Err(usage(format!(
                        "no command '{other}': the commands are invoke, bench and demo"
                    )));
                }
            }));
        }
        Some("version") if args.len() == 1 => return early(Mode::Version),
        Some("__demo-runtime") => return early(Mode::DemoRuntime),
        Some("__demo-extension") => return early(Mode::DemoExtension),
        _ => (Command::Serve, args),
    };
    let log_level = match env("LOG_LEVEL").filter(|v| !v.is_empty()) {
        Some(v) => Some(logger::parse_level(&v).map_err(|e| usage(format!("LOG_LEVEL: {e}")))?),
        None => None,
    };
    let mut given = Given {
        command,
        config: from_env(env)?,
        log_level,
        external: false,
        addr_given: false,
        demo: false,
        invoke: InvokeOptions::default(),
        bench: BenchOptions::default(),
        simulator_flags: Vec::new(),
    };
    let mut words: Vec<String> = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let arg = &rest[i];
        i += 1;
        if arg == "--" {
            words.extend(rest[i..].iter().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            words.push(arg.clone());
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        if words.is_empty() {
            let mode = match flag {
                "-h" | "--help" => Some(Mode::Help(command)),
                "-V" | "--version" => Some(Mode::Version),
                _ => None,
            };
            if let Some(mode) = mode {
                return Ok(Parsed {
                    mode,
                    log_level: given.log_level,
                });
            }
        }
        let mut value = || -> Result<String, CliError> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            let v = rest
                .get(i)
                .cloned()
                .ok_or_else(|| usage(format!("{flag} needs a value")))?;
            i += 1;
            Ok(v)
        };
        if given.option(flag, &mut value, is_file)? {
            continue;
        }
        if !words.is_empty() {
            // Not ours, and the bootstrap has begun: one of its arguments, as RIE leaves it.
            words.push(arg.clone());
            continue;
        }
        return Err(usage(match command {
            Command::Serve => format!("unknown option '{flag}'"),
            _ => format!("unknown option '{flag}' for '{}'", command.name()),
        }));
    }
    given.finish(words, rest.is_empty(), is_file)
}

/// The configuration RIE's environment variables give; flags override it.
fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, CliError> {
    let mut config = Config {
        invoke_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        runtime_api_addr: SocketAddr::from(([127, 0, 0, 1], 9001)),
        log_output: LogOutput::Stdout,
        ..Config::default()
    };
    if let Some(v) = env("AWS_LAMBDA_FUNCTION_TIMEOUT") {
        config.timeout =
            timeout(&v).map_err(|e| usage(format!("AWS_LAMBDA_FUNCTION_TIMEOUT: {e}")))?;
    }
    if let Some(v) = env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
        config.memory_mb =
            memory(&v).map_err(|e| usage(format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE: {e}")))?;
    }
    if let Some(v) = env("AWS_LAMBDA_FUNCTION_NAME").filter(|v| !v.is_empty()) {
        config.function_name = v;
    }
    if let Some(v) = env("AWS_LAMBDA_FUNCTION_VERSION").filter(|v| !v.is_empty()) {
        config.function_version = v;
    }
    config.handler = env("AWS_LAMBDA_FUNCTION_HANDLER")
        .or_else(|| env("_HANDLER"))
        .filter(|v| !v.is_empty());
    if let Some(v) = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .filter(|v| !v.is_empty())
    {
        config.region = v;
    }
    config.extensions_dir = Some(PathBuf::from(
        env("LAMBDA_EXTENSIONS_DIR")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_EXTENSIONS_DIR.to_string()),
    ));
    Ok(config)
}

impl Given {
    /// Takes `flag` if it is one of the command's options; `value` reads its value.
    fn option(
        &mut self,
        flag: &str,
        value: &mut dyn FnMut() -> Result<String, CliError>,
        is_file: &dyn Fn(&Path) -> bool,
    ) -> Result<bool, CliError> {
        let command = self.command;
        if command == Command::Invoke && self.invoke_option(flag, value, is_file)? {
            return Ok(true);
        }
        if command == Command::Bench && self.bench_option(flag, value, is_file)? {
            return Ok(true);
        }
        if flag == "--log-level" {
            let v = value()?;
            self.log_level =
                Some(logger::parse_level(&v).map_err(|e| usage(format!("{flag}: {e}")))?);
            return Ok(true);
        }
        let config = &mut self.config;
        match flag {
            "--invoke-addr" | "--runtime-interface-emulator-address" => {
                config.invoke_addr =
                    address(&value()?).map_err(|e| usage(format!("{flag}: {e}")))?;
                self.addr_given = true;
            }
            "--runtime-api-addr" | "--runtime-api-address" => {
                config.runtime_api_addr =
                    address(&value()?).map_err(|e| usage(format!("{flag}: {e}")))?;
                self.addr_given = true;
            }
            "--timeout" => {
                config.timeout = timeout(&value()?).map_err(|e| usage(format!("{flag}: {e}")))?
            }
            "--memory" => {
                config.memory_mb = memory(&value()?).map_err(|e| usage(format!("{flag}: {e}")))?
            }
            "--function-name" => config.function_name = non_empty(flag, value()?)?,
            "--function-version" => config.function_version = non_empty(flag, value()?)?,
            "--handler" => config.handler = Some(value()?),
            "--region" => config.region = non_empty(flag, value()?)?,
            "--account-id" => config.account_id = account_id(&value()?)?,
            "--env" => config.env.push(env_pair(&value()?)?),
            "--clean-env" => config.clean_env = true,
            "--task-root" => config.task_root = Some(PathBuf::from(value()?)),
            "--max-queue" => config.max_queue = whole(flag, &value()?)?,
            "--max-queue-bytes" => config.max_queue_bytes = whole(flag, &value()?)?,
            "--max-event-queue" => {
                config.max_event_queue = ranged(flag, &value()?, 0, 1 << 20)? as usize
            }
            // Lambda's asynchronous configuration (API_PutFunctionEventInvokeConfig).
            "--maximum-retry-attempts" => {
                config.max_retry_attempts = ranged(flag, &value()?, 0, 2)? as u8
            }
            "--maximum-event-age" => {
                config.max_event_age = Duration::from_secs(ranged(flag, &value()?, 60, 21_600)?)
            }
            // Lambda's LoggingConfig: the runtime gets the format and the application level.
            "--log-format" => {
                let v = value()?;
                let format = match v {
                    _ if v.eq_ignore_ascii_case("json") => "JSON",
                    _ if v.eq_ignore_ascii_case("text") => "Text",
                    _ => return Err(usage(format!("{flag}: '{v}': json or text"))),
                };
                config
                    .env
                    .push(("AWS_LAMBDA_LOG_FORMAT".into(), format.into()));
            }
            "--application-log-level" | "--system-log-level" => {
                let v = value()?;
                let level = LogLevel::parse(&v)
                    .filter(|l| {
                        flag.starts_with("--a") || (*l >= LogLevel::Debug && *l <= LogLevel::Warn)
                    })
                    .ok_or_else(|| usage(format!("{flag}: '{v}' is not one of its levels")))?;
                match flag {
                    "--system-log-level" => config.system_log_level = level,
                    _ => config
                        .env
                        .push(("AWS_LAMBDA_LOG_LEVEL".into(), level.name().into())),
                }
            }
            "--retry-delay-ms" => {
                config.retry_delay = Duration::from_millis(ranged(flag, &value()?, 0, 3_600_000)?)
            }
            "--extension" => config.extensions.push(extension(&value()?)?),
            "--eager-init" => config.eager_init = true,
            // Lambda's TenancyConfig (API_TenancyConfig): PER_TENANT is its one mode.
            "--tenancy" => {
                let v = value()?;
                if v != "per-tenant" {
                    return Err(usage(format!("{flag}: '{v}': per-tenant is its one mode")));
                }
                config.tenant_isolation = true;
            }
            "--concurrency" => {
                config.concurrency =
                    concurrency(&value()?).map_err(|e| usage(format!("{flag}: {e}")))?
            }
            "--max-concurrency" => {
                config.max_concurrency =
                    Some(max_concurrency(&value()?).map_err(|e| usage(format!("{flag}: {e}")))?)
            }
            "--external-runtime" => self.external = true,
            "--no-freeze" => config.freeze = false,
            "--stream-max-bytes" => config.streaming.max_bytes = whole(flag, &value()?)?,
            "--stream-burst-bytes" => config.streaming.burst_bytes = whole(flag, &value()?)?,
            "--stream-rate" => config.streaming.rate = whole(flag, &value()?)?,
            "--seed" => config.seed = Some(whole(flag, &value()?)?),
            "-q" | "--quiet" => config.quiet = true,
            // RIE's name for the same mode (`internal/lambda/rie/run.go`).
            "--snap-start" | "--enable-init-caching" => config.snap_start = true,
            _ => return Ok(false),
        }
        self.simulator_flags.push(flag.to_string());
        Ok(true)
    }

    /// `lambda-sim invoke`'s own options.
    fn invoke_option(
        &mut self,
        flag: &str,
        value: &mut dyn FnMut() -> Result<String, CliError>,
        is_file: &dyn Fn(&Path) -> bool,
    ) -> Result<bool, CliError> {
        let options = &mut self.invoke;
        let (payload, parallel, tenant) = (
            &mut options.payload,
            &mut options.parallel,
            &mut options.tenant_id,
        );
        if load_option(flag, value, is_file, payload, parallel, tenant)? {
            return Ok(true);
        }
        match flag {
            "-n" | "--count" => options.count = count(flag, &value()?)?,
            "--log-tail" => options.log_tail = true,
            "--endpoint" => options.endpoint = Some(endpoint(&value()?)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `lambda-sim bench`'s own options.
    fn bench_option(
        &mut self,
        flag: &str,
        value: &mut dyn FnMut() -> Result<String, CliError>,
        is_file: &dyn Fn(&Path) -> bool,
    ) -> Result<bool, CliError> {
        let options = &mut self.bench;
        let (payload, parallel, tenant) = (
            &mut options.payload,
            &mut options.parallel,
            &mut options.tenant_id,
        );
        if load_option(flag, value, is_file, payload, parallel, tenant)? {
            return Ok(true);
        }
        match flag {
            "-n" | "--count" => options.invocations = count(flag, &value()?)?,
            "--warmup" => options.warmup = whole(flag, &value()?)?,
            "--cold-starts" => options.cold_starts = count(flag, &value()?)?,
            "--json" => options.json = Some(value()?.into()),
            "--svg" => options.svg = Some(value()?.into()),
            "--histograms" => options.histograms = true,
            "--demo" => self.demo = true,
            "--baseline" | "--compare" if options.baseline.is_some() => {
                return Err(usage(
                    "--baseline and --compare: give one of them, once".into(),
                ));
            }
            "--baseline" => options.baseline = Some(Baseline::WithoutExtensions),
            "--compare" => {
                let v = value()?;
                let words = v.split_ascii_whitespace().map(str::to_string).collect();
                let command =
                    bootstrap(words).ok_or_else(|| usage(format!("{flag}: no command")))?;
                options.baseline = Some(Baseline::Command(command));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// What the command line comes to, once every option is read; `words` is the bootstrap's
    /// command line, `bare` whether the command had no arguments at all.
    fn finish(
        mut self,
        mut words: Vec<String>,
        bare: bool,
        is_file: &dyn Fn(&Path) -> bool,
    ) -> Result<Parsed, CliError> {
        let command = self.command;
        let log_level = self.log_level;
        if self.external && command != Command::Serve {
            return Err(usage(format!(
                "'{}' runs its own runtime; drop --external-runtime",
                command.name()
            )));
        }
        let found = RIE_BOOTSTRAPS
            .iter()
            .find(|p| is_file(Path::new(p)))
            .map(|p| p.to_string());
        let none_found = |advice: &str| {
            CliError::CannotStart(
                format!(
                    "no bootstrap given, and none at {}. {advice}",
                    RIE_BOOTSTRAPS.join(", ")
                ),
                command,
            )
        };
        let mode = match command {
            Command::Demo => {
                if let Some(word) = words.first() {
                    return Err(usage(format!("unexpected argument '{word}' after 'demo'")));
                }
                Mode::Demo {
                    config: Box::new(self.config),
                    notice: None,
                }
            }
            Command::Serve if self.external => {
                if !words.is_empty() {
                    return Err(usage(format!(
                        "--external-runtime spawns no runtime, but a bootstrap was given: {}",
                        words.join(" ")
                    )));
                }
                Mode::Run(Box::new(self.config))
            }
            Command::Serve => {
                if words.is_empty() {
                    match found {
                        Some(found) => words.push(found),
                        None if bare => {
                            let notice = format!(
                                "lambda-sim: no bootstrap given, and none at {}: running the \
                                 built-in demo (lambda-sim demo). Run 'lambda-sim --help' to \
                                 simulate your own function.",
                                RIE_BOOTSTRAPS.join(", ")
                            );
                            return Ok(Parsed {
                                mode: Mode::Demo {
                                    config: Box::new(self.config),
                                    notice: Some(notice),
                                },
                                log_level,
                            });
                        }
                        None => {
                            return Err(none_found(
                                "Give one (lambda-sim [OPTIONS] -- ./bootstrap), or run \
                                 'lambda-sim demo'.",
                            ));
                        }
                    }
                }
                self.config.bootstrap = bootstrap(words);
                Mode::Run(Box::new(self.config))
            }
            Command::Invoke => {
                if let Some(endpoint) = &self.invoke.endpoint {
                    if !words.is_empty() {
                        return Err(usage(format!(
                            "--endpoint invokes the lambda-sim at {endpoint}, but a bootstrap was \
                             given: {}",
                            words.join(" ")
                        )));
                    }
                    if !self.simulator_flags.is_empty() {
                        return Err(usage(format!(
                            "{} configure the simulator that 'invoke' starts, and with \
                             --endpoint it starts none",
                            self.simulator_flags.join(", ")
                        )));
                    }
                    if self.invoke.parallel > 1 {
                        return Err(usage("--parallel: not with --endpoint".into()));
                    }
                } else if words.is_empty() {
                    match found {
                        Some(found) => words.push(found),
                        None => {
                            return Err(none_found(
                                "Give one (lambda-sim invoke -- ./bootstrap), or --endpoint \
                                 HOST:PORT of a running lambda-sim.",
                            ));
                        }
                    }
                }
                if !self.addr_given {
                    free_ports(&mut self.config);
                }
                self.config.bootstrap = bootstrap(words);
                Mode::Invoke {
                    config: Box::new(self.config),
                    options: self.invoke,
                }
            }
            Command::Bench => {
                if self.config.eager_init {
                    return Err(usage(
                        "'bench' measures the init of each cold start itself; drop --eager-init"
                            .into(),
                    ));
                }
                if !self.addr_given {
                    free_ports(&mut self.config);
                }
                let demo = self.demo || (bare && found.is_none());
                if demo && !words.is_empty() {
                    return Err(usage(format!(
                        "--demo measures the built-in demo, but a bootstrap was given: {}",
                        words.join(" ")
                    )));
                }
                if !demo && words.is_empty() {
                    match found {
                        Some(found) => words.push(found),
                        None => {
                            return Err(none_found(
                                "Give one (lambda-sim bench -- ./bootstrap), or measure the \
                                 built-in demo with --demo.",
                            ));
                        }
                    }
                }
                let notice = demo.then(|| {
                    format!(
                        "lambda-sim bench: measuring the built-in demo (an echo runtime, and an \
                         extension that works {} ms after each invocation)",
                        demo::DEMO_EXTENSION_WORK.as_millis()
                    )
                });
                self.config.bootstrap = bootstrap(words);
                Mode::Bench {
                    config: Box::new(self.config),
                    options: self.bench,
                    notice,
                }
            }
        };
        // The one-shot commands meet the same refusal when they start the simulator.
        if let Some(conflict) = match &mode {
            Mode::Run(config) => config.conflict(),
            _ => None,
        } {
            return Err(usage(conflict.into()));
        }
        Ok(Parsed { mode, log_level })
    }
}

/// A command line as a bootstrap: its first word the program, the rest its arguments.
fn bootstrap(command: Vec<String>) -> Option<Bootstrap> {
    let mut words = command.into_iter();
    let program = PathBuf::from(words.next()?);
    Some(Bootstrap {
        program,
        args: words.collect(),
    })
}

/// One-shot modes (`invoke`, `bench`) listen on any free ports: they never clash with a
/// simulator already running.
fn free_ports(config: &mut Config) {
    config.invoke_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.runtime_api_addr = SocketAddr::from(([127, 0, 0, 1], 0));
}

/// `--payload`'s value: JSON text is the event; `file://PATH` and `fileb://PATH` (as the AWS
/// CLI writes them) and the path of an existing file name a file; `-` is standard input.
/// Anything else is refused before anything starts: a mistyped file name must not become the
/// event.
fn payload(flag: &str, v: String, is_file: &dyn Fn(&Path) -> bool) -> Result<Payload, CliError> {
    if v == "-" {
        return Ok(Payload::Stdin);
    }
    if let Some(path) = v
        .strip_prefix("file://")
        .or_else(|| v.strip_prefix("fileb://"))
    {
        return payload_file(flag, path.to_string(), is_file);
    }
    if crate::json::validate(v.as_bytes()).is_ok() {
        return Ok(Payload::Inline(v));
    }
    if is_file(Path::new(&v)) {
        return Ok(Payload::File(v.into()));
    }
    Err(usage(format!(
        "{flag} '{v}': neither JSON nor a file (a file is file://PATH, fileb://PATH or its path; \
         standard input is -)"
    )))
}

/// The options `invoke` and `bench` share: the event, how many invocations at once, and the
/// tenant they name. Whether `flag` was one of them.
#[inline(never)]
fn load_option(
    flag: &str,
    value: &mut dyn FnMut() -> Result<String, CliError>,
    is_file: &dyn Fn(&Path) -> bool,
    event: &mut Payload,
    parallel: &mut u32,
    tenant: &mut Option<String>,
) -> Result<bool, CliError> {
    match flag {
        "--payload" => *event = payload(flag, value()?, is_file)?,
        "--payload-file" => *event = payload_file(flag, value()?, is_file)?,
        "--parallel" => *parallel = count(flag, &value()?)?,
        "--tenant-id" => *tenant = Some(value()?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// `--payload-file`'s value: a file that exists, or `-` for standard input.
fn payload_file(
    flag: &str,
    v: String,
    is_file: &dyn Fn(&Path) -> bool,
) -> Result<Payload, CliError> {
    match v.as_str() {
        "-" => Ok(Payload::Stdin),
        path if is_file(Path::new(path)) => Ok(Payload::File(v.into())),
        _ => Err(usage(format!("{flag} '{v}': no such file"))),
    }
}

/// A whole number.
fn whole<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, CliError> {
    v.trim()
        .parse()
        .map_err(|_| usage(format!("{flag}: '{v}' is not a whole number")))
}

/// A count: a whole number, at least 1.
fn count(flag: &str, v: &str) -> Result<u32, CliError> {
    match whole::<u32>(flag, v)? {
        0 => Err(usage(format!("{flag}: must be at least 1"))),
        n => Ok(n),
    }
}

/// `--endpoint`: `HOST:PORT`, as the ready line prints it, or `http://HOST:PORT[/PREFIX]`.
fn endpoint(v: &str) -> Result<String, CliError> {
    let rest = v.strip_prefix("http://").unwrap_or(v);
    if v.contains("://") && !v.starts_with("http://") {
        return Err(usage(format!(
            "--endpoint '{v}': only http:// is spoken (lambda-sim has no TLS)"
        )));
    }
    let authority = rest.split('/').next().unwrap_or("");
    let port = authority.rsplit_once(':').map(|(_, port)| port);
    if authority.is_empty() || port.is_none_or(|p| p.parse::<u16>().is_err()) {
        return Err(usage(format!(
            "--endpoint '{v}': expected HOST:PORT (127.0.0.1:8080), as the ready line prints it"
        )));
    }
    Ok(format!("http://{}", rest.trim_end_matches('/')))
}

/// `--account-id`: twelve digits, as AWS account ids are.
fn account_id(v: &str) -> Result<String, CliError> {
    if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err(usage(format!(
            "--account-id '{v}': an AWS account id is 12 digits"
        )))
    }
}

fn non_empty(flag: &str, v: String) -> Result<String, CliError> {
    if v.is_empty() {
        Err(CliError::Usage(format!("{flag} may not be empty")))
    } else {
        Ok(v)
    }
}

fn env_pair(pair: &str) -> Result<(String, String), CliError> {
    let Some((k, v)) = pair.split_once('=') else {
        return Err(CliError::Usage(format!(
            "--env '{pair}': expected KEY=VALUE"
        )));
    };
    if k.is_empty() || k.contains('\0') || v.contains('\0') {
        return Err(CliError::Usage(format!(
            "--env '{pair}': invalid variable name"
        )));
    }
    if let Some((_, flag)) = crate::process::RESERVED.iter().find(|(r, _)| *r == k) {
        return Err(CliError::Usage(format!(
            "--env {k}: Lambda reserves this variable; set it with {flag}"
        )));
    }
    Ok((k.to_string(), v.to_string()))
}

/// `--extension PATH` (named after the file) or `--extension NAME=COMMAND ARGS...`.
fn extension(v: &str) -> Result<ExtensionCommand, CliError> {
    let bad = |why: &str| CliError::Usage(format!("--extension '{v}': {why}"));
    let named = v
        .split_once('=')
        .filter(|(name, _)| !name.is_empty() && !name.contains('/'));
    match named {
        Some((name, command)) => {
            let mut words = command.split_ascii_whitespace().map(str::to_string);
            let program = words.next().ok_or_else(|| bad("no command after NAME="))?;
            Ok(ExtensionCommand {
                name: name.to_string(),
                program: PathBuf::from(program),
                args: words.collect(),
            })
        }
        None => {
            ExtensionCommand::from_path(v).ok_or_else(|| bad("expected a file or NAME=COMMAND"))
        }
    }
}

fn address(v: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = v.parse() {
        return Ok(addr);
    }
    // "localhost:8080" and other names that resolve locally.
    match v.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("'{v}' resolves to no address")),
        Err(_) => Err(format!("'{v}' is not an address like 127.0.0.1:8080")),
    }
}

/// A whole number from `lo` to `hi`.
fn ranged(flag: &str, v: &str, lo: u64, hi: u64) -> Result<u64, CliError> {
    match v.trim().parse::<u64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(usage(format!(
            "{flag}: '{v}': a whole number from {lo} to {hi}"
        ))),
    }
}

fn timeout(v: &str) -> Result<Duration, String> {
    match v.trim().parse::<u64>() {
        Ok(secs) if (1..=MAX_TIMEOUT_SECS).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(format!(
            "'{v}': Lambda's timeout is a whole number of seconds, 1 to 900"
        )),
    }
}

/// How many environments: 1 to 1000, Lambda's default concurrency for an account
/// (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>).
fn concurrency(v: &str) -> Result<usize, String> {
    match v.trim().parse::<usize>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{v}': 1 to 1000 execution environments (Lambda's default concurrency)"
        )),
    }
}

/// Managed Instances' invocations per environment: 1 to 1600, the range of
/// `PerExecutionEnvironmentMaxConcurrency` (<https://docs.aws.amazon.com/lambda/latest/api/API_LambdaManagedInstancesCapacityProviderConfig.html>).
fn max_concurrency(v: &str) -> Result<u32, String> {
    match v.trim().parse::<u32>() {
        Ok(m) if (1..=1600).contains(&m) => Ok(m),
        _ => Err(format!(
            "'{v}': Managed Instances take 1 to 1600 invocations per environment"
        )),
    }
}

fn memory(v: &str) -> Result<u32, String> {
    let mb: u32 = v
        .trim()
        .parse()
        .map_err(|_| format!("'{v}' is not a whole number of MB"))?;
    if !(128..=10_240).contains(&mb) {
        return Err(format!(
            "{mb} MB is outside Lambda's range (128 to 10240 MB)"
        ));
    }
    Ok(mb)
}

/// The `lambda-sim` command: parses `std::env::args`, then runs the simulator on this thread,
/// a one-shot command, the built-in demo, or the demo's runtime.
pub fn main() -> ExitCode {
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect::<Result<_, _>>()
    {
        Ok(args) => args,
        Err(bad) => {
            eprintln!("lambda-sim: argument {bad:?} is not valid UTF-8");
            return ExitCode::from(2);
        }
    };
    let parsed = match parse(&args, &|k| std::env::var(k).ok(), &|p| p.is_file()) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("lambda-sim: {e}");
            if e.exit_code() == 2 {
                eprintln!("Try 'lambda-sim --help'.");
            }
            return ExitCode::from(e.exit_code());
        }
    };
    logger::init(parsed.log_level);
    // The release build aborts on panic, so no `Drop` kills the children then: the hook does.
    process::abort_guard::guard_on_abort();
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        process::abort_guard::kill_on_abort();
        report(info);
    }));
    match parsed.mode {
        Mode::Help(command) => {
            let _ = write!(std::io::stdout(), "{}", command.help());
            ExitCode::SUCCESS
        }
        Mode::Version => {
            let _ = writeln!(
                std::io::stdout(),
                "lambda-sim {}",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        Mode::DemoRuntime => match demo::runtime_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo runtime: {e}");
                ExitCode::FAILURE
            }
        },
        Mode::DemoExtension => match demo::extension_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo extension: {e}");
                ExitCode::FAILURE
            }
        },
        Mode::Demo { config, notice } => match demo::run(*config, notice.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            // Whoever read our output has stopped (`| head`): nothing more to say.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lambda-sim demo: {e}");
                ExitCode::FAILURE
            }
        },
        Mode::Run(config) => run(*config),
        Mode::Invoke { config, options } => invoke::run(*config, options),
        Mode::Bench {
            mut config,
            mut options,
            notice,
        } => {
            if let Some(notice) = notice {
                eprintln!("{notice}");
                if let Err(e) = demo::install(&mut config) {
                    eprintln!("lambda-sim bench: {e}");
                    return ExitCode::from(2);
                }
            }
            if let Some(Baseline::Command(bootstrap)) = &mut options.baseline {
                let path = std::env::var_os("PATH").unwrap_or_default();
                if let Err(e) = process::resolve_executable("bootstrap", &bootstrap.program, &path)
                {
                    eprintln!("lambda-sim bench: --compare: {e}");
                    return ExitCode::from(Command::Bench.cannot_start_code());
                }
            }
            bench::run(*config, options)
        }
    }
}

fn run(config: Config) -> ExitCode {
    let cannot_start = ExitCode::from(Command::Serve.cannot_start_code());
    // Block the signals that end a server before anything else starts, and read them from a
    // signalfd in the reactor: only the CLI does this, never the library. SIGHUP (a terminal
    // closing) and SIGQUIT end it as SIGTERM does, with SHUTDOWN to the extensions: by their
    // default action lambda-sim would die at once, and the function's grandchildren outlive it.
    let signals =
        match crate::sys::signalfd(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT]) {
            Ok(fd) => fd,
            Err(e) => {
                eprintln!("lambda-sim: cannot watch for signals: {e}");
                return cannot_start;
            }
        };
    if let Err(e) = crate::sys::raise_fd_limit() {
        log::warn!("cannot raise the open-file limit: {e}");
    }
    // Orphans of the function's processes come back to lambda-sim rather than to init, so that
    // it can freeze and kill them with the rest. Only the CLI: an embedding host's children
    // are its own business.
    if let Err(e) = crate::sys::set_child_subreaper() {
        log::warn!("cannot become a child subreaper, orphans of the function may escape: {e}");
    }
    let server = match Server::bind(&config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("lambda-sim: {e}");
            return cannot_start;
        }
    };
    // A closed stdout must not stop the simulator: the ready line is a courtesy to scripts.
    let _ = writeln!(
        std::io::stdout(),
        "lambda-sim ready invoke={} runtime-api={}",
        server.invoke_addr(),
        server.runtime_api_addr()
    );
    match server.run(signals) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lambda-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) mod bench;
mod invoke;
pub(crate) mod logger;

pub(crate) use invoke::{InvokeOptions, Payload};

#[cfg(test)]
mod tests;

//! The command line, a drop-in for `aws-lambda-rie`: parsed by hand (no clap), with RIE's long
//! option names and environment variables as aliases.

use std::fmt;
use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::process::ExitCode;

use crate::config::LogOutput;
use crate::config::{Bootstrap, Config, ExtensionCommand};
use crate::simulator::Server;
use crate::{demo, process};
use bench::{Baseline, BenchOptions};

/// Where RIE looks for a bootstrap when none is given, in its order.
pub(crate) const RIE_BOOTSTRAPS: [&str; 3] = [
    "/var/task/bootstrap",
    "/opt/bootstrap",
    "/var/runtime/bootstrap",
];

/// Where Lambda's external extensions live, unless `LAMBDA_EXTENSIONS_DIR` says otherwise.
pub(crate) const DEFAULT_EXTENSIONS_DIR: &str = "/opt/extensions";

/// The longest function timeout Lambda allows.
pub(crate) const MAX_TIMEOUT_SECS: f64 = 900.0;

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
        /// Set when the built-in demo is measured because no bootstrap was given: why.
        notice: Option<String>,
    },
    /// Be the demo's echo runtime (started by the demo itself).
    DemoRuntime,
    /// Be the demo's extension (started by the demo itself).
    DemoExtension,
    /// Print help.
    Help,
    /// Print the version.
    Version,
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
    /// The bootstrap cannot run: exit 1.
    Bootstrap(String),
}

impl CliError {
    /// The process exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Bootstrap(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Bootstrap(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

/// The `--help` text.
pub(crate) const HELP: &str = "\
lambda-sim: a local simulator of the AWS Lambda execution environment

USAGE:
    lambda-sim [OPTIONS] [--] <bootstrap> [args...]
    lambda-sim demo [OPTIONS]
    lambda-sim invoke [INVOKE OPTIONS] [OPTIONS] [--] <bootstrap> [args...]
    lambda-sim invoke --endpoint <URL> [INVOKE OPTIONS]
    lambda-sim bench [BENCH OPTIONS] [OPTIONS] [--] <bootstrap> [args...]

With no bootstrap, lambda-sim looks where RIE looks (/var/task/bootstrap, /opt/bootstrap,
/var/runtime/bootstrap); if there is none there either, it runs its built-in demo.

Invoke the function with
    curl -d '{}' http://127.0.0.1:8080/2015-03-31/functions/function/invocations

OPTIONS:
    --invoke-addr <ADDR>         Invoke endpoint [default: 127.0.0.1:8080]
                                 (alias: --runtime-interface-emulator-address)
    --runtime-api-addr <ADDR>    Runtime API, AWS_LAMBDA_RUNTIME_API [default: 127.0.0.1:9001]
                                 (alias: --runtime-api-address); port 0 picks a free port
    --timeout <SECONDS>          Function timeout, up to 900 [default: 3]
                                 (env: AWS_LAMBDA_FUNCTION_TIMEOUT)
    --memory <MB>                Memory size, 128 to 10240 [default: 128]
                                 (env: AWS_LAMBDA_FUNCTION_MEMORY_SIZE)
    --function-name <NAME>       [default: test_function] (env: AWS_LAMBDA_FUNCTION_NAME)
    --function-version <V>       [default: $LATEST] (env: AWS_LAMBDA_FUNCTION_VERSION)
    --handler <HANDLER>          _HANDLER [default: the bootstrap's last argument, if it has any]
                                 (env: AWS_LAMBDA_FUNCTION_HANDLER)
    --region <REGION>            [default: us-east-1] (env: AWS_REGION, AWS_DEFAULT_REGION)
    --env <KEY=VALUE>            Add a variable to the function's environment: the runtime's
                                 and the extensions' (repeatable)
    --clean-env                  Give the runtime Lambda's environment only, not this shell's
    --task-root <DIR>            LAMBDA_TASK_ROOT and working directory
                                 [default: /var/task if it exists, else the current directory]
    --max-queue <N>              Invocations that may wait while one runs; past it, 429
                                 [default: 1000]
    --extension <PATH>           Run an external extension, named after its file name
    --extension <NAME=COMMAND>   ... or a command (split on spaces) that registers as NAME
                                 (repeatable; after the executables in $LAMBDA_EXTENSIONS_DIR,
                                 default /opt/extensions)
    --eager-init                 Initialise at start-up (provisioned-concurrency)
    --external-runtime           Spawn no runtime: wait for one you start yourself
                                 (extensions still start; nothing is frozen)
    --no-freeze                  Do not freeze (SIGSTOP) the runtime and extensions between
                                 invocations
    --stream-max-bytes <N>       The most a streamed response may carry [default: 209715200]
    --stream-burst-bytes <N>     Streamed as fast as the invoker reads [default: 6291456]
    --stream-rate <N>            Then at most N bytes a second; 0: no shaping [default: 2097152]
    --seed <N>                   Seed request ids, for reproducible runs
    --quiet                      No lifecycle lines (START, END, REPORT, ...)
    --log-level <LEVEL>          lambda-sim's own logs: error, warn, info, debug, trace
                                 (env: LOG_LEVEL; RUST_LOG takes precedence)
    -h, --help                   Print this help
    -V, --version                Print the version

INVOKE OPTIONS (lambda-sim invoke):
    --payload <JSON|FILE>        The event, or a file that holds it [default: {}]
    --payload-file <FILE>        The event, from a file
    --count <N>                  Invoke N times, one after the other [default: 1]
    --log-tail                   Print each invocation's log tail (X-Amz-Log-Result) to stderr
                                 instead of the whole log
    --endpoint <URL>             Invoke a running lambda-sim at URL (http://127.0.0.1:8080)
    Each answer is printed to stdout, on its own line. Exit status: 0 success, 1 a function
    error, 2 a platform error (timeout, crash, ...) or a refused invocation.

BENCH OPTIONS (lambda-sim bench; with no bootstrap, the built-in demo is measured):
    -n <N>                       Measured invocations, one after the other [default: 1000]
    --warmup <N>                 Invocations run and left out first [default: 20]
    --cold-starts <K>            Fresh environments whose init is measured [default: 5]
    --payload <JSON|FILE>, --payload-file <FILE>   The event [default: {}]
    --baseline                   Also run the function without its extensions, alternating,
                                 and report each phase's difference with a 95% confidence
                                 interval
    --compare <COMMAND>          ... or another bootstrap (split on spaces), without extensions
    --json <FILE>                Write every sample and the summary as JSON
    --svg <FILE>                 Draw the histograms and a per-invocation timeline
    Percentiles and histograms go to stdout, progress to stderr. Exit status: 0, 1 if any
    invocation failed (each is listed), 2 if the bench could not run.
";

/// Parses `args` (without the program name), reading RIE's variables through `env` and
/// checking the bootstrap with `is_file` (tests pass fakes).
pub(crate) fn parse(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    is_file: &dyn Fn(&Path) -> bool,
) -> Result<Parsed, CliError> {
    let usage = |m: String| CliError::Usage(m);
    let mut config = Config {
        invoke_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        runtime_api_addr: SocketAddr::from(([127, 0, 0, 1], 9001)),
        log_output: LogOutput::Stdout,
        ..Config::default()
    };

    // RIE's environment variables first; flags override them.
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
    let mut log_level = match env("LOG_LEVEL").filter(|v| !v.is_empty()) {
        Some(v) => Some(logger::parse_level(&v).map_err(|e| usage(format!("LOG_LEVEL: {e}")))?),
        None => None,
    };
    config.extensions_dir = Some(PathBuf::from(
        env("LAMBDA_EXTENSIONS_DIR")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_EXTENSIONS_DIR.to_string()),
    ));

    let mut external = false;
    let mut demo = false;
    let mut invoke: Option<InvokeOptions> = None;
    let mut bench: Option<BenchOptions> = None;
    let mut addr_given = false;
    let mut command: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            command.extend(args[i..].iter().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            let first = command.is_empty() && !demo && invoke.is_none() && bench.is_none();
            if first && arg == "demo" {
                demo = true;
                continue;
            }
            if first && arg == "invoke" {
                invoke = Some(InvokeOptions {
                    count: 1,
                    ..InvokeOptions::default()
                });
                continue;
            }
            if first && arg == "bench" {
                bench = Some(BenchOptions::default());
                continue;
            }
            if command.is_empty() && !demo && arg == "__demo-runtime" {
                return Ok(Parsed {
                    mode: Mode::DemoRuntime,
                    log_level,
                });
            }
            if command.is_empty() && !demo && arg == "__demo-extension" {
                return Ok(Parsed {
                    mode: Mode::DemoExtension,
                    log_level,
                });
            }
            if demo {
                return Err(usage(format!("unexpected argument '{arg}' after 'demo'")));
            }
            // The bootstrap: everything from here on is its command line.
            command.extend(args[i - 1..].iter().cloned());
            break;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, CliError> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            let v = args
                .get(i)
                .cloned()
                .ok_or_else(|| usage(format!("{name} needs a value")))?;
            i += 1;
            Ok(v)
        };
        match flag {
            "-h" | "--help" => {
                return Ok(Parsed {
                    mode: Mode::Help,
                    log_level,
                });
            }
            "-V" | "--version" => {
                return Ok(Parsed {
                    mode: Mode::Version,
                    log_level,
                });
            }
            "--invoke-addr" | "--runtime-interface-emulator-address" => {
                config.invoke_addr =
                    address(&value(flag)?).map_err(|e| usage(format!("{flag}: {e}")))?;
                addr_given = true;
            }
            "--runtime-api-addr" | "--runtime-api-address" => {
                config.runtime_api_addr =
                    address(&value(flag)?).map_err(|e| usage(format!("{flag}: {e}")))?;
                addr_given = true;
            }
            "--payload" | "--payload-file" | "--count" | "--log-tail" | "--endpoint"
                if invoke.is_some() =>
            {
                let options = invoke.as_mut().ok_or_else(|| usage(flag.to_string()))?;
                match flag {
                    "--payload" => options.payload = payload(value(flag)?, is_file),
                    "--payload-file" => options.payload = Payload::File(value(flag)?.into()),
                    "--count" => {
                        let v = value(flag)?;
                        options.count = v
                            .parse()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| usage(format!("{flag}: '{v}' is not a count")))?;
                    }
                    "--log-tail" => options.log_tail = true,
                    _ => options.endpoint = Some(value(flag)?),
                }
            }
            "-n" | "--warmup" | "--cold-starts" | "--payload" | "--payload-file" | "--json"
            | "--svg" | "--baseline" | "--compare"
                if bench.is_some() =>
            {
                let options = bench.as_mut().ok_or_else(|| usage(flag.to_string()))?;
                match flag {
                    "-n" | "--warmup" | "--cold-starts" => {
                        let v = value(flag)?;
                        let n: u32 = v
                            .parse()
                            .map_err(|_| usage(format!("{flag}: '{v}' is not a count")))?;
                        match flag {
                            "-n" if n > 0 => options.invocations = n,
                            "--warmup" => options.warmup = n,
                            "--cold-starts" if n > 0 => options.cold_starts = n,
                            _ => return Err(usage(format!("{flag}: must be at least 1"))),
                        }
                    }
                    "--payload" => options.payload = payload(value(flag)?, is_file),
                    "--payload-file" => options.payload = Payload::File(value(flag)?.into()),
                    "--json" => options.json = Some(value(flag)?.into()),
                    "--svg" => options.svg = Some(value(flag)?.into()),
                    "--baseline" | "--compare" if options.baseline.is_some() => {
                        return Err(usage(
                            "--baseline and --compare: give one of them, once".into(),
                        ));
                    }
                    "--baseline" => options.baseline = Some(Baseline::WithoutExtensions),
                    _ => {
                        let v = value(flag)?;
                        let words = v.split_ascii_whitespace().map(str::to_string).collect();
                        let command =
                            bootstrap(words).ok_or_else(|| usage(format!("{flag}: no command")))?;
                        options.baseline = Some(Baseline::Command(command));
                    }
                }
            }
            "--timeout" => {
                config.timeout =
                    timeout(&value(flag)?).map_err(|e| usage(format!("{flag}: {e}")))?
            }
            "--memory" => {
                config.memory_mb =
                    memory(&value(flag)?).map_err(|e| usage(format!("{flag}: {e}")))?
            }
            "--function-name" => config.function_name = non_empty(flag, value(flag)?)?,
            "--function-version" => config.function_version = non_empty(flag, value(flag)?)?,
            "--handler" => config.handler = Some(value(flag)?),
            "--region" => config.region = non_empty(flag, value(flag)?)?,
            "--env" => {
                let pair = value(flag)?;
                config.env.push(env_pair(&pair)?);
            }
            "--clean-env" => config.clean_env = true,
            "--task-root" => config.task_root = Some(PathBuf::from(value(flag)?)),
            "--max-queue" => {
                let v = value(flag)?;
                config.max_queue = v
                    .parse()
                    .map_err(|_| usage(format!("{flag}: '{v}' is not a whole number")))?;
            }
            "--extension" => config.extensions.push(extension(&value(flag)?)?),
            "--eager-init" => config.eager_init = true,
            "--external-runtime" => external = true,
            "--no-freeze" => config.freeze = false,
            "--stream-max-bytes" | "--stream-burst-bytes" | "--stream-rate" => {
                let v = value(flag)?;
                let n: u64 = v
                    .parse()
                    .map_err(|_| usage(format!("{flag}: '{v}' is not a whole number")))?;
                match flag {
                    "--stream-max-bytes" => config.streaming.max_bytes = n,
                    "--stream-burst-bytes" => config.streaming.burst_bytes = n,
                    _ => config.streaming.rate = n,
                }
            }
            "--seed" => {
                let v = value(flag)?;
                config.seed = Some(
                    v.parse()
                        .map_err(|_| usage(format!("{flag}: '{v}' is not a whole number")))?,
                );
            }
            "--quiet" => config.quiet = true,
            "--log-level" => {
                let v = value(flag)?;
                log_level =
                    Some(logger::parse_level(&v).map_err(|e| usage(format!("{flag}: {e}")))?);
            }
            "--enable-init-caching" => {
                return Err(usage(
                    "--enable-init-caching: SnapStart's restore phase is not simulated yet".into(),
                ));
            }
            other => return Err(usage(format!("unknown option '{other}'"))),
        }
    }

    if let Some(options) = bench {
        if external {
            return Err(usage(
                "'bench' runs its own runtime; drop --external-runtime".into(),
            ));
        }
        if config.eager_init {
            return Err(usage(
                "'bench' measures the init of each cold start itself; drop --eager-init".into(),
            ));
        }
        if !addr_given {
            free_ports(&mut config);
        }
        if command.is_empty() {
            if let Some(found) = RIE_BOOTSTRAPS.iter().find(|p| is_file(Path::new(p))) {
                command.push(found.to_string());
            }
        }
        let notice = match command.is_empty() {
            true => Some(format!(
                "lambda-sim bench: no bootstrap given and none at {}: measuring the built-in demo \
                 (an echo runtime, and an extension that works {} ms after each invocation)",
                RIE_BOOTSTRAPS.join(", "),
                demo::DEMO_EXTENSION_WORK.as_millis()
            )),
            false => None,
        };
        config.bootstrap = bootstrap(command);
        return Ok(Parsed {
            mode: Mode::Bench {
                config: Box::new(config),
                options,
                notice,
            },
            log_level,
        });
    }
    if let Some(options) = invoke {
        if options.endpoint.is_some() {
            if !command.is_empty() {
                return Err(usage(format!(
                    "--endpoint invokes a running simulator, but a bootstrap was given: {}",
                    command.join(" ")
                )));
            }
        } else if command.is_empty() && !external {
            match RIE_BOOTSTRAPS.iter().find(|p| is_file(Path::new(p))) {
                Some(found) => command.push(found.to_string()),
                None => {
                    return Err(usage(
                        "invoke needs a bootstrap (or --endpoint URL of a running lambda-sim)"
                            .into(),
                    ));
                }
            }
        }
        if external {
            return Err(usage(
                "'invoke' runs its own runtime; drop --external-runtime".into(),
            ));
        }
        if !addr_given {
            free_ports(&mut config);
        }
        config.bootstrap = bootstrap(command);
        return Ok(Parsed {
            mode: Mode::Invoke {
                config: Box::new(config),
                options,
            },
            log_level,
        });
    }
    if demo {
        if external {
            return Err(usage(
                "'demo' runs its own runtime; drop --external-runtime".into(),
            ));
        }
        return Ok(Parsed {
            mode: Mode::Demo {
                config: Box::new(config),
                notice: None,
            },
            log_level,
        });
    }
    if external {
        if !command.is_empty() {
            return Err(usage(format!(
                "--external-runtime spawns no runtime, but a bootstrap was given: {}",
                command.join(" ")
            )));
        }
        return Ok(Parsed {
            mode: Mode::Run(Box::new(config)),
            log_level,
        });
    }
    if command.is_empty() {
        match RIE_BOOTSTRAPS.iter().find(|p| is_file(Path::new(p))) {
            Some(found) => command.push(found.to_string()),
            None => {
                let notice = format!(
                    "lambda-sim: no bootstrap given and none at {}: running the built-in demo (lambda-sim demo). \
                     Run 'lambda-sim --help' to simulate your own function.",
                    RIE_BOOTSTRAPS.join(", ")
                );
                return Ok(Parsed {
                    mode: Mode::Demo {
                        config: Box::new(config),
                        notice: Some(notice),
                    },
                    log_level,
                });
            }
        }
    }
    let mut words = command.into_iter();
    let program = words.next().unwrap_or_default();
    config.bootstrap = Some(Bootstrap {
        program: PathBuf::from(program),
        args: words.collect(),
    });
    Ok(Parsed {
        mode: Mode::Run(Box::new(config)),
        log_level,
    })
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

/// Checks that the bootstrap can be executed: a path must be an executable file; a bare name
/// must be one on `PATH`. Returns the path to run.
pub(crate) fn check_bootstrap(program: &Path, path_var: Option<&str>) -> Result<PathBuf, CliError> {
    check_executable("bootstrap", program, path_var)
}

/// [`check_bootstrap`] for any program; `what` names it in the error.
pub(crate) fn check_executable(
    what: &str,
    program: &Path,
    path_var: Option<&str>,
) -> Result<PathBuf, CliError> {
    if program.components().count() > 1 || program.is_absolute() {
        if !program.exists() {
            return Err(CliError::Bootstrap(format!(
                "{what} {} does not exist",
                program.display()
            )));
        }
        if !process::is_executable(program) {
            return Err(CliError::Bootstrap(format!(
                "{what} {} is not an executable file (chmod +x?)",
                program.display()
            )));
        }
        return Ok(program.to_path_buf());
    }
    let found = process::find_on_path(program, std::ffi::OsStr::new(path_var.unwrap_or("")));
    found.ok_or_else(|| {
        CliError::Bootstrap(format!(
            "{what} '{}' is not an executable on PATH",
            program.display()
        ))
    })
}

/// `--payload`'s value: the event itself when it is JSON; else a file's path (`file://PATH`, as
/// the AWS CLI takes it, or an existing file); else the text as it is, for the Invoke API to
/// refuse as it would.
fn payload(v: String, is_file: &dyn Fn(&Path) -> bool) -> Payload {
    if let Some(path) = v.strip_prefix("file://") {
        return Payload::File(path.into());
    }
    if crate::json::validate(v.as_bytes()).is_err() && is_file(Path::new(&v)) {
        return Payload::File(v.into());
    }
    Payload::Inline(v)
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

fn timeout(v: &str) -> Result<Duration, String> {
    let secs: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("'{v}' is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= MAX_TIMEOUT_SECS) {
        return Err(format!(
            "{v} s is outside Lambda's range (0 to 900 seconds)"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
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
/// the built-in demo, or the demo's runtime.
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
        Mode::Help => {
            let _ = write!(std::io::stdout(), "{HELP}");
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
        Mode::Invoke {
            mut config,
            options,
        } => {
            if let Err(code) = check_programs(&mut config) {
                return code;
            }
            invoke::run(*config, options)
        }
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
            if let Err(code) = check_programs(&mut config) {
                return code;
            }
            if let Some(Baseline::Command(bootstrap)) = &mut options.baseline {
                let path = std::env::var("PATH").ok();
                match check_bootstrap(&bootstrap.program, path.as_deref()) {
                    Ok(program) => bootstrap.program = program,
                    Err(e) => {
                        eprintln!("lambda-sim: --compare: {e}");
                        return ExitCode::from(e.exit_code());
                    }
                }
            }
            bench::run(*config, options)
        }
    }
}

/// Resolves the bootstrap and the extensions' programs, or the exit code that says why not.
fn check_programs(config: &mut Config) -> Result<(), ExitCode> {
    let path = std::env::var("PATH").ok();
    if let Some(bootstrap) = &mut config.bootstrap {
        match check_bootstrap(&bootstrap.program, path.as_deref()) {
            Ok(program) => bootstrap.program = program,
            Err(e) => {
                eprintln!("lambda-sim: {e}");
                return Err(ExitCode::from(e.exit_code()));
            }
        }
    }
    for ext in &mut config.extensions {
        let what = format!("extension {}:", ext.name);
        match check_executable(&what, &ext.program, path.as_deref()) {
            Ok(program) => ext.program = program,
            Err(e) => {
                eprintln!("lambda-sim: {e}");
                return Err(ExitCode::from(e.exit_code()));
            }
        }
    }
    Ok(())
}

fn run(mut config: Config) -> ExitCode {
    if let Err(code) = check_programs(&mut config) {
        return code;
    }
    // Block SIGTERM and SIGINT before anything else starts, and read them from a signalfd in
    // the reactor: only the CLI does this, never the library.
    let signals = match crate::sys::signalfd(&[libc::SIGTERM, libc::SIGINT]) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("lambda-sim: cannot watch for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = crate::sys::raise_fd_limit() {
        log::warn!("cannot raise the open-file limit: {e}");
    }
    let server = match Server::bind(&config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("lambda-sim: {e}");
            return ExitCode::FAILURE;
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

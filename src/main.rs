//! The `lambda-sim` command: parses the command line, then runs the simulator on this thread,
//! the built-in demo, or the demo's runtime.

use std::process::ExitCode;

use lambda_sim::cli::{self, Mode};
use lambda_sim::{Server, demo, process};

fn main() -> ExitCode {
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
    let parsed = match cli::parse(&args, &|k| std::env::var(k).ok(), &|p| p.is_file()) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("lambda-sim: {e}");
            if e.exit_code() == 2 {
                eprintln!("Try 'lambda-sim --help'.");
            }
            return ExitCode::from(e.exit_code());
        }
    };
    init_logging(parsed.log_level.as_deref());
    match parsed.mode {
        Mode::Help => {
            print!("{}", cli::HELP);
            ExitCode::SUCCESS
        }
        Mode::Version => {
            println!("lambda-sim {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Mode::DemoRuntime => match demo::runtime_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo runtime: {e}");
                ExitCode::FAILURE
            }
        },
        Mode::Demo { config, notice } => match demo::run(*config, notice.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lambda-sim demo: {e}");
                ExitCode::FAILURE
            }
        },
        Mode::Run(config) => run(*config),
    }
}

fn run(mut config: lambda_sim::Config) -> ExitCode {
    if let Some(bootstrap) = &mut config.bootstrap {
        let path = std::env::var("PATH").ok();
        match cli::check_bootstrap(&bootstrap.program, path.as_deref()) {
            Ok(program) => bootstrap.program = program,
            Err(e) => {
                eprintln!("lambda-sim: {e}");
                return ExitCode::from(e.exit_code());
            }
        }
    }
    // Block SIGTERM and SIGINT before anything else starts, and read them from a signalfd in
    // the reactor: only the CLI does this, never the library.
    let signals = match process::sys::signalfd(&[libc::SIGTERM, libc::SIGINT]) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("lambda-sim: cannot watch for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = process::sys::raise_fd_limit() {
        log::warn!("cannot raise the open-file limit: {e}");
    }
    let server = match Server::bind(&config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("lambda-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
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

/// `RUST_LOG` if set, else `--log-level`/`LOG_LEVEL` for lambda-sim's own modules, else warnings.
fn init_logging(level: Option<&str>) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(log::LevelFilter::Warn);
    if let Some(level) = level {
        builder.parse_filters(&format!("lambda_sim={level}"));
    }
    if let Ok(filters) = std::env::var("RUST_LOG") {
        builder.parse_filters(&filters);
    }
    builder.target(env_logger::Target::Stderr);
    let _ = builder.try_init();
}

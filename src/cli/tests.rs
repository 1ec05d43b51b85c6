//! The command line's parsing: flags, RIE's environment variables, and their errors.

use super::invoke::{Verdict, verdict};
use super::*;

fn args(s: &[&str]) -> Vec<String> {
    s.iter().map(|a| a.to_string()).collect()
}

fn parse_with(a: &[&str], env: &[(&str, &str)], files: &[&str]) -> Result<Parsed, CliError> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
    parse(
        &args(a),
        &|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
        &|p| files.iter().any(|f| f == p),
    )
}

fn config(p: Parsed) -> Config {
    match p.mode {
        Mode::Run(c) => *c,
        other => panic!("expected Run, got {other:?}"),
    }
}

#[test]
fn defaults_match_rie_addresses_and_lambdas_limits() {
    let c = config(parse_with(&["./bootstrap"], &[], &[]).unwrap());
    assert_eq!(c.invoke_addr, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(c.runtime_api_addr, "127.0.0.1:9001".parse().unwrap());
    assert_eq!(c.timeout, Duration::from_secs(3));
    assert_eq!(c.memory_mb, 128);
    assert_eq!(c.function_name, "test_function");
    assert_eq!(c.log_output, LogOutput::Stdout);
    assert_eq!(
        c.bootstrap,
        Some(Bootstrap {
            program: "./bootstrap".into(),
            args: vec![]
        })
    );
}

#[test]
fn flags_and_their_rie_aliases() {
    let c = config(
        parse_with(
            &[
                "--runtime-interface-emulator-address",
                "0.0.0.0:9000",
                "--runtime-api-address=127.0.0.1:0",
                "--timeout",
                "1",
                "--account-id",
                "123456789012",
                "--memory=512",
                "--function-name",
                "f",
                "--handler",
                "h.x",
                "--region",
                "eu-west-1",
                "--env",
                "A=1",
                "--env=B=x=y",
                "--clean-env",
                "--seed",
                "7",
                "--max-queue",
                "0",
                "--eager-init",
                "--task-root",
                "/tmp",
                "-q",
                "--",
                "python3",
                "-m",
                "awslambdaric",
                "app.handler",
            ],
            &[],
            &[],
        )
        .unwrap(),
    );
    assert_eq!(c.invoke_addr, "0.0.0.0:9000".parse().unwrap());
    assert_eq!(c.runtime_api_addr, "127.0.0.1:0".parse().unwrap());
    assert_eq!(c.timeout, Duration::from_secs(1));
    assert_eq!(c.account_id, "123456789012");
    assert_eq!(c.memory_mb, 512);
    assert_eq!(c.function_name, "f");
    assert_eq!(c.handler.as_deref(), Some("h.x"));
    assert_eq!(c.region, "eu-west-1");
    assert_eq!(
        c.env,
        vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
    );
    assert!(c.clean_env && c.eager_init && c.quiet);
    assert_eq!((c.seed, c.max_queue), (Some(7), 0));
    assert_eq!(c.task_root, Some(PathBuf::from("/tmp")));
    let b = c.bootstrap.unwrap();
    assert_eq!(b.program, PathBuf::from("python3"));
    assert_eq!(b.args, ["-m", "awslambdaric", "app.handler"]);
}

#[test]
fn options_are_taken_anywhere_as_rie_takes_them_and_the_rest_is_the_bootstraps() {
    let c = config(
        parse_with(
            &["--quiet", "./run", "--timeout", "9", "--other", "x", "-v"],
            &[],
            &[],
        )
        .unwrap(),
    );
    assert!(c.quiet);
    assert_eq!(c.timeout, Duration::from_secs(9));
    assert_eq!(c.bootstrap.unwrap().args, ["--other", "x", "-v"]);
    // As AWS's own end-to-end test starts RIE.
    let c = config(
        parse_with(
            &[
                "/lambda-entrypoint.sh",
                "main.handler",
                "--runtime-interface-emulator-address",
                "0.0.0.0:8081",
            ],
            &[],
            &[],
        )
        .unwrap(),
    );
    assert_eq!(c.invoke_addr, "0.0.0.0:8081".parse().unwrap());
    let b = c.bootstrap.unwrap();
    assert_eq!(b.program, PathBuf::from("/lambda-entrypoint.sh"));
    assert_eq!(b.args, ["main.handler"]);
    // After `--`, everything is the bootstrap's, ours included.
    let c = config(parse_with(&["--", "./run", "--timeout", "9"], &[], &[]).unwrap());
    assert_eq!(c.timeout, Duration::from_secs(3));
    assert_eq!(c.bootstrap.unwrap().args, ["--timeout", "9"]);
    let c = config(parse_with(&["./run", "--", "--quiet"], &[], &[]).unwrap());
    assert!(!c.quiet);
    assert_eq!(c.bootstrap.unwrap().args, ["--quiet"]);
    // A help flag after the bootstrap is the bootstrap's.
    let c = config(parse_with(&["./run", "--help"], &[], &[]).unwrap());
    assert_eq!(c.bootstrap.unwrap().args, ["--help"]);
}

#[test]
fn handler_defaults_to_the_last_argument_as_in_rie() {
    let c =
        config(parse_with(&["python3", "-m", "awslambdaric", "app.handler"], &[], &[]).unwrap());
    assert_eq!(c.effective_handler().as_deref(), Some("app.handler"));
    let c = config(parse_with(&["./bootstrap"], &[], &[]).unwrap());
    assert_eq!(c.effective_handler(), None);
    let c = config(parse_with(&["--handler", "x", "a", "b"], &[], &[]).unwrap());
    assert_eq!(c.effective_handler().as_deref(), Some("x"));
}

#[test]
fn rie_environment_variables_are_read_and_flags_win() {
    let env = [
        ("AWS_LAMBDA_FUNCTION_TIMEOUT", "30"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ("AWS_LAMBDA_FUNCTION_NAME", "from-env"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
        ("AWS_LAMBDA_FUNCTION_HANDLER", "env.handler"),
        ("AWS_DEFAULT_REGION", "ap-south-1"),
        ("LOG_LEVEL", "debug"),
    ];
    let p = parse_with(&["./b"], &env, &[]).unwrap();
    assert_eq!(p.log_level, Some(log::LevelFilter::Debug));
    let c = config(p);
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert_eq!(c.memory_mb, 1024);
    assert_eq!(c.function_name, "from-env");
    assert_eq!(c.function_version, "7");
    assert_eq!(c.handler.as_deref(), Some("env.handler"));
    assert_eq!(c.region, "ap-south-1");
    let c = config(
        parse_with(
            &["--timeout", "5", "--function-name", "flag", "./b"],
            &env,
            &[],
        )
        .unwrap(),
    );
    assert_eq!(
        (c.timeout, c.function_name.as_str()),
        (Duration::from_secs(5), "flag")
    );
    let e = parse_with(&["./b"], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "soon")], &[]).unwrap_err();
    assert!(e.to_string().contains("AWS_LAMBDA_FUNCTION_TIMEOUT"), "{e}");
}

#[test]
fn bad_flags_are_usage_errors() {
    for (a, needle) in [
        (&["--nope"][..], "unknown option '--nope'"),
        (&["--timeout"], "--timeout needs a value"),
        (&["--timeout", "0"], "1 to 900"),
        (&["--timeout", "901"], "1 to 900"),
        (&["--timeout", "x"], "1 to 900"),
        (&["--timeout", "1.5"], "whole number of seconds"),
        (&["--log-level", "verbose"], "unknown log level 'verbose'"),
        (&["--account-id", "12"], "12 digits"),
        (&["--memory", "64"], "outside Lambda's range"),
        (&["--invoke-addr", "nowhere"], "not an address"),
        (&["--max-queue", "x"], "not a whole number"),
        (&["--env", "NOVALUE"], "expected KEY=VALUE"),
        (&["--env", "=1"], "invalid variable name"),
        (
            &["--env", "AWS_LAMBDA_RUNTIME_API=x"],
            "set it with --runtime-api-addr",
        ),
        (&["--function-name="], "may not be empty"),
        (&["--external-runtime", "./b"], "spawns no runtime"),
        (&["demo", "extra"], "unexpected argument"),
        (
            &["--enable-init-caching", "--eager-init", "--", "./b"],
            "SnapStart",
        ),
    ] {
        let e = parse_with(a, &[], &[]).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{a:?}");
        assert!(e.to_string().contains(needle), "{a:?}: {e}");
    }
}

#[test]
fn no_bootstrap_looks_where_rie_looks_and_runs_the_demo_only_when_bare() {
    let c = config(parse_with(&[], &[], &["/opt/bootstrap", "/var/runtime/bootstrap"]).unwrap());
    assert_eq!(
        c.bootstrap.unwrap().program,
        PathBuf::from("/opt/bootstrap")
    );
    let c = config(parse_with(&["--quiet"], &[], &["/var/task/bootstrap"]).unwrap());
    assert_eq!(
        c.bootstrap.unwrap().program,
        PathBuf::from("/var/task/bootstrap")
    );
    // No arguments at all: the demo, saying why.
    let Mode::Demo { notice, .. } = parse_with(&[], &[], &[]).unwrap().mode else {
        panic!()
    };
    assert!(notice.unwrap().contains("running the built-in demo"));
    // Any option and no bootstrap: exit 1, naming where it looked.
    let e = parse_with(&["--timeout", "2"], &[], &[]).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    for place in RIE_BOOTSTRAPS {
        assert!(e.to_string().contains(place), "{e}");
    }
    assert!(matches!(
        parse_with(&["demo", "--timeout", "2"], &[], &[])
            .unwrap()
            .mode,
        Mode::Demo { notice: None, .. }
    ));
    assert_eq!(
        parse_with(&["__demo-runtime"], &[], &[]).unwrap().mode,
        Mode::DemoRuntime
    );
    let c = config(parse_with(&["--external-runtime"], &[], &[]).unwrap());
    assert_eq!(c.bootstrap, None);
}

#[test]
fn help_and_version_per_command_as_cargo_does() {
    let mode = |a: &[&str]| parse_with(a, &[], &[]).unwrap().mode;
    assert_eq!(mode(&["--help"]), Mode::Help(Command::Serve));
    assert_eq!(mode(&["-h"]), Mode::Help(Command::Serve));
    assert_eq!(mode(&["help"]), Mode::Help(Command::Serve));
    assert_eq!(mode(&["invoke", "--help"]), Mode::Help(Command::Invoke));
    assert_eq!(
        mode(&["bench", "-n", "5", "--help"]),
        Mode::Help(Command::Bench)
    );
    assert_eq!(mode(&["demo", "--help"]), Mode::Help(Command::Demo));
    assert_eq!(mode(&["help", "invoke"]), Mode::Help(Command::Invoke));
    assert_eq!(mode(&["help", "bench"]), Mode::Help(Command::Bench));
    assert_eq!(mode(&["-V"]), Mode::Version);
    assert_eq!(mode(&["--version"]), Mode::Version);
    assert_eq!(mode(&["version"]), Mode::Version);
    assert!(parse_with(&["help", "nope"], &[], &[]).is_err());
    // Each help names its options with their defaults, its exit codes and an example.
    for command in [
        Command::Serve,
        Command::Invoke,
        Command::Bench,
        Command::Demo,
    ] {
        let text = command.help();
        assert!(text.contains("EXIT STATUS"), "{command:?}");
        assert!(text.contains("EXAMPLE"), "{command:?}");
        assert!(text.contains("--log-level"), "{command:?}");
        assert!(text.contains("[default: warn]"), "{command:?}");
    }
    assert!(Command::Serve.help().contains("LAMBDA_EXTENSIONS_DIR"));
    assert!(Command::Serve.help().contains("RUST_LOG"));
    assert!(Command::Invoke.help().contains("fileb://"));
    assert!(Command::Invoke.help().contains("    3 "));
    assert!(Command::Bench.help().contains("--histograms"));
}

#[test]
fn extensions_by_path_by_name_and_from_the_extensions_dir() {
    let c = config(
        parse_with(
            &[
                "--extension",
                "/opt/ext/logger",
                "--extension=tracer=python3 tracer.py --verbose",
                "./bootstrap",
            ],
            &[],
            &[],
        )
        .unwrap(),
    );
    assert_eq!(
        c.extensions,
        [
            ExtensionCommand {
                name: "logger".into(),
                program: "/opt/ext/logger".into(),
                args: vec![],
            },
            ExtensionCommand {
                name: "tracer".into(),
                program: "python3".into(),
                args: vec!["tracer.py".into(), "--verbose".into()],
            },
        ]
    );
    assert_eq!(c.extensions_dir, Some(PathBuf::from("/opt/extensions")));
    let c = config(
        parse_with(
            &["./bootstrap"],
            &[("LAMBDA_EXTENSIONS_DIR", "/x/ext")],
            &[],
        )
        .unwrap(),
    );
    assert_eq!(c.extensions_dir, Some(PathBuf::from("/x/ext")));
    // A path with '=' in a directory name is still a path.
    let c = config(parse_with(&["--extension", "./a=b/ext", "./bootstrap"], &[], &[]).unwrap());
    assert_eq!(c.extensions[0].name, "ext");
    for bad in ["tracer=", "tracer=   ", "/"] {
        let e = parse_with(&["--extension", bad, "./bootstrap"], &[], &[]).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{bad}: {e}");
    }
}

fn invoke_mode(p: Parsed) -> (Config, InvokeOptions) {
    match p.mode {
        Mode::Invoke { config, options } => (*config, options),
        other => panic!("expected Invoke, got {other:?}"),
    }
}

#[test]
fn invoke_takes_its_own_options_and_any_free_ports() {
    let (c, o) = invoke_mode(
        parse_with(
            &[
                "invoke",
                "--payload",
                r#"{"a":1}"#,
                "--count=3",
                "--log-tail",
                "--timeout",
                "2",
                "--",
                "./bootstrap",
                "--x",
            ],
            &[],
            &[],
        )
        .unwrap(),
    );
    assert_eq!(o.payload, Payload::Inline(r#"{"a":1}"#.into()));
    assert_eq!((o.count, o.log_tail, o.endpoint), (3, true, None));
    assert_eq!(c.timeout, Duration::from_secs(2));
    assert_eq!(
        c.invoke_addr.port(),
        0,
        "never a clash with a running simulator"
    );
    assert_eq!(c.runtime_api_addr.port(), 0);
    assert_eq!(c.bootstrap.unwrap().args, ["--x"]);

    let (c, o) = invoke_mode(
        parse_with(
            &[
                "invoke",
                "--payload-file",
                "event.json",
                "--runtime-api-addr",
                "127.0.0.1:9009",
                "./b",
            ],
            &[],
            &["event.json"],
        )
        .unwrap(),
    );
    assert_eq!(o.payload, Payload::File("event.json".into()));
    assert_eq!(o.count, 1);
    assert_eq!(c.runtime_api_addr.port(), 9009, "given addresses are kept");

    let (c, o) = invoke_mode(
        parse_with(&["invoke", "--endpoint", "http://127.0.0.1:8080"], &[], &[]).unwrap(),
    );
    assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:8080"));
    assert_eq!(c.bootstrap, None);
    // As the ready line prints it.
    let (_, o) = invoke_mode(
        parse_with(
            &["invoke", "--endpoint", "127.0.0.1:8080", "--count", "2"],
            &[],
            &[],
        )
        .unwrap(),
    );
    assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:8080"));
    assert_eq!(o.count, 2);
    // With no bootstrap given, RIE's paths are looked at as for a run.
    let (c, _) = invoke_mode(parse_with(&["invoke"], &[], &["/opt/bootstrap"]).unwrap());
    assert_eq!(
        c.bootstrap.unwrap().program,
        PathBuf::from("/opt/bootstrap")
    );
}

#[test]
fn invoke_refuses_what_makes_no_sense() {
    let usage = |a: &[&str]| match parse_with(a, &[], &[]) {
        Err(CliError::Usage(m)) => m,
        other => panic!("{a:?}: {other:?}"),
    };
    assert!(usage(&["invoke", "--endpoint", "x:1", "./b"]).contains("bootstrap was given"));
    assert!(usage(&["invoke", "--endpoint", "x:1", "--timeout", "5"]).contains("--timeout"));
    assert!(usage(&["invoke", "--endpoint", "x:1", "-q"]).contains("starts none"));
    assert!(usage(&["invoke", "--endpoint", "https://x:1"]).contains("http://"));
    assert!(usage(&["invoke", "--endpoint", "nowhere"]).contains("HOST:PORT"));
    assert!(usage(&["invoke", "--external-runtime", "./b"]).contains("--external-runtime"));
    assert!(usage(&["invoke", "--count", "0", "./b"]).contains("at least 1"));
    // Invoke's options mean nothing to a plain run.
    assert!(usage(&["--payload", "{}", "./b"]).contains("unknown option '--payload'"));
    // No bootstrap is "could not start": exit 3, not a usage error.
    let e = parse_with(&["invoke"], &[], &[]).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("--endpoint"), "{e}");
    // The log level is lambda-sim's own: it applies with --endpoint too.
    assert!(
        parse_with(
            &["invoke", "--endpoint", "x:1", "--log-level", "debug"],
            &[],
            &[]
        )
        .is_ok()
    );
}

#[test]
fn exit_codes_tell_function_errors_from_platform_errors() {
    assert_eq!(verdict(200, false, b"{}"), Verdict::Success);
    assert_eq!(
        verdict(200, true, br#"{"errorType":"Boom","errorMessage":"x"}"#),
        Verdict::FunctionError
    );
    for platform in [
        "Sandbox.Timedout",
        "Runtime.ExitError",
        "Extension.Crash",
        "Function.ResponseSizeTooLarge",
        "Runtime.TruncatedResponse",
        "Runtime.InvalidResponseModeHeader",
    ] {
        let body = format!(r#"{{"errorType":"{platform}","errorMessage":"x"}}"#);
        assert_eq!(
            verdict(200, true, body.as_bytes()),
            Verdict::PlatformError,
            "{platform}"
        );
    }
    // A refused invocation (413, 429, 404) is the platform's answer too.
    assert_eq!(verdict(429, false, b"{}"), Verdict::PlatformError);
    // The worst of several decides.
    assert!(Verdict::PlatformError > Verdict::FunctionError);
    assert!(Verdict::FunctionError > Verdict::Success);
}

#[test]
fn stream_limits_come_from_flags() {
    let c = config(
        parse_with(
            &[
                "--stream-max-bytes",
                "1000",
                "--stream-burst-bytes=10",
                "--stream-rate",
                "0",
                "./b",
            ],
            &[],
            &[],
        )
        .unwrap(),
    );
    assert_eq!(
        c.streaming,
        crate::config::StreamLimits {
            max_bytes: 1000,
            burst_bytes: 10,
            rate: 0
        }
    );
    let d = config(parse_with(&["./b"], &[], &[]).unwrap());
    assert_eq!(d.streaming.max_bytes, 200 * 1024 * 1024);
    assert_eq!(d.streaming.burst_bytes, 6 * 1024 * 1024);
    assert_eq!(d.streaming.rate, 2 * 1024 * 1024);
    assert!(matches!(
        parse_with(&["--stream-rate", "fast", "./b"], &[], &[]),
        Err(CliError::Usage(_))
    ));
}

fn bench_mode(p: Parsed) -> (Config, BenchOptions, Option<String>) {
    match p.mode {
        Mode::Bench {
            config,
            options,
            notice,
        } => (*config, options, notice),
        other => panic!("expected Bench, got {other:?}"),
    }
}

#[test]
fn bench_takes_its_own_options_and_the_simulators() {
    let (c, o, notice) = bench_mode(
        parse_with(
            &[
                "bench",
                "-n",
                "500",
                "--warmup=3",
                "--cold-starts",
                "7",
                "--payload",
                r#"{"a":1}"#,
                "--json",
                "out.json",
                "--svg",
                "out.svg",
                "--parallel",
                "6",
                "--tenant-id",
                "blue",
                "--tenancy",
                "per-tenant",
                "--compare",
                "./plain --fast",
                "--extension",
                "./ext",
                "--memory",
                "256",
                "--",
                "./bootstrap",
                "-n",
                "1",
            ],
            &[],
            &[],
        )
        .unwrap(),
    );
    assert_eq!(notice, None);
    assert_eq!(
        o,
        BenchOptions {
            invocations: 500,
            warmup: 3,
            cold_starts: 7,
            payload: Payload::Inline(r#"{"a":1}"#.into()),
            json: Some("out.json".into()),
            svg: Some("out.svg".into()),
            baseline: Some(Baseline::Command(Bootstrap {
                program: "./plain".into(),
                args: vec!["--fast".into()],
            })),
            histograms: false,
            parallel: 6,
            tenant_id: Some("blue".into()),
        }
    );
    // The bootstrap's own flags stay its own.
    assert_eq!(c.bootstrap.unwrap().args, ["-n", "1"]);
    assert_eq!(c.extensions[0].name, "ext");
    assert_eq!(c.memory_mb, 256);
    assert!(c.tenant_isolation);
    // Free ports, as for invoke: a bench never clashes with a simulator already running.
    assert_eq!((c.invoke_addr.port(), c.runtime_api_addr.port()), (0, 0));

    let (_, o, _) = bench_mode(parse_with(&["bench", "--baseline", "./b"], &[], &[]).unwrap());
    assert_eq!(o.baseline, Some(Baseline::WithoutExtensions));
    assert_eq!(
        (o.invocations, o.warmup, o.cold_starts),
        (1000, 20, 5),
        "the defaults"
    );
}

#[test]
fn a_payload_is_json_a_file_or_standard_input_and_anything_else_is_refused() {
    let files = ["ev.json", "x/ev.json", "raw.bin"];
    let parsed = |flag: &str, v: &str| parse_with(&["invoke", flag, v, "./b"], &[], &files);
    let payload = |v: &str| match parsed("--payload", v).unwrap().mode {
        Mode::Invoke { options, .. } => options.payload,
        other => panic!("{other:?}"),
    };
    assert_eq!(payload(r#"{"a":1}"#), Payload::Inline(r#"{"a":1}"#.into()));
    assert_eq!(payload("ev.json"), Payload::File("ev.json".into()));
    assert_eq!(
        payload("file://x/ev.json"),
        Payload::File("x/ev.json".into())
    );
    assert_eq!(payload("fileb://raw.bin"), Payload::File("raw.bin".into()));
    assert_eq!(payload("-"), Payload::Stdin);
    // A typo, text that is not JSON, a file:// that is not there: refused before anything
    // starts, as a bad flag is.
    for bad in ["ev.jsn", "not json", "{", "file://nope.json"] {
        let e = parsed("--payload", bad).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{bad}: {e}");
    }
    assert!(matches!(
        parsed("--payload-file", "-").unwrap().mode,
        Mode::Invoke {
            options: InvokeOptions {
                payload: Payload::Stdin,
                ..
            },
            ..
        }
    ));
    assert!(parsed("--payload-file", "missing.json").is_err());
    // A file whose name is also JSON is taken as JSON.
    let (_, o, _) =
        bench_mode(parse_with(&["bench", "--payload", "1", "./b"], &[], &["1"]).unwrap());
    assert_eq!(o.payload, Payload::Inline("1".into()));
}

#[test]
fn bench_measures_the_demo_when_bare_or_asked_and_otherwise_wants_a_bootstrap() {
    let (c, _, notice) = bench_mode(parse_with(&["bench"], &[], &[]).unwrap());
    assert_eq!(c.bootstrap, None);
    assert!(notice.unwrap().contains("measuring the built-in demo"));
    let (c, o, notice) =
        bench_mode(parse_with(&["bench", "--demo", "--count", "7"], &[], &[]).unwrap());
    assert_eq!((c.bootstrap, o.invocations), (None, 7));
    assert!(notice.is_some());
    let (c, _, notice) =
        bench_mode(parse_with(&["bench"], &[], &["/var/runtime/bootstrap"]).unwrap());
    assert_eq!(notice, None);
    assert_eq!(
        c.bootstrap.unwrap().program,
        PathBuf::from("/var/runtime/bootstrap")
    );
    // Options but no bootstrap: it cannot run (exit 2), rather than measure the demo.
    let e = parse_with(&["bench", "-n", "5"], &[], &[]).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("--demo"), "{e}");
    assert!(parse_with(&["bench", "--demo", "./b"], &[], &[]).is_err());
}

#[test]
fn bench_refuses_what_makes_no_sense() {
    let usage = |a: &[&str]| match parse_with(a, &[], &[]) {
        Err(CliError::Usage(m)) => m,
        other => panic!("{a:?}: {other:?}"),
    };
    assert!(usage(&["bench", "-n", "0", "./b"]).contains("at least 1"));
    assert!(usage(&["bench", "--cold-starts", "0", "./b"]).contains("at least 1"));
    assert!(usage(&["bench", "-n", "many", "./b"]).contains("not a whole number"));
    assert!(usage(&["bench", "--baseline", "--baseline", "./b"]).contains("once"));
    assert!(usage(&["bench", "--baseline", "--compare", "./c", "./b"]).contains("once"));
    assert!(usage(&["bench", "--compare", " ", "./b"]).contains("no command"));
    assert!(usage(&["bench", "--eager-init", "./b"]).contains("--eager-init"));
    assert!(usage(&["bench", "--external-runtime"]).contains("--external-runtime"));
    // Bench's flags belong to bench only.
    assert!(usage(&["--baseline", "./b"]).contains("unknown option"));
    assert!(usage(&["invoke", "--svg", "x", "./b"]).contains("unknown option"));
}

#[test]
fn rust_log_wins_over_the_log_level_for_every_target() {
    use log::LevelFilter::*;
    assert_eq!(logger::filters(None, None), "warn");
    assert_eq!(logger::filters(None, Some(Debug)), "warn,lambda_sim=DEBUG");
    assert_eq!(logger::filters(Some("error"), Some(Debug)), "error");
    assert_eq!(logger::filters(Some("off"), Some(Trace)), "off");
    assert_eq!(logger::parse_level("DEBUG"), Ok(Debug));
    assert_eq!(logger::parse_level("off"), Ok(Off));
    assert!(
        logger::parse_level("verbose")
            .unwrap_err()
            .contains("trace")
    );
}

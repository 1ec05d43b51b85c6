//! The command line's help texts: one per command, each with its options and their defaults, its
//! exit codes, the environment it reads, and an example.

/// Options every command that starts a simulator takes.
const SIMULATOR_OPTIONS: &str = "\
SIMULATOR OPTIONS:
    --invoke-addr <ADDR>         Invoke endpoint [default: 127.0.0.1:8080; invoke and bench:
                                 a free port] (alias: --runtime-interface-emulator-address)
    --runtime-api-addr <ADDR>    Runtime API, AWS_LAMBDA_RUNTIME_API [default: 127.0.0.1:9001;
                                 invoke and bench: a free port] (alias: --runtime-api-address);
                                 port 0 picks a free port
    --timeout <SECONDS>          Function timeout, 1 to 900 [default: 3]
                                 (env: AWS_LAMBDA_FUNCTION_TIMEOUT)
    --memory <MB>                Memory size, 128 to 10240 [default: 128]
                                 (env: AWS_LAMBDA_FUNCTION_MEMORY_SIZE)
    --function-name <NAME>       [default: test_function] (env: AWS_LAMBDA_FUNCTION_NAME)
    --function-version <V>       [default: $LATEST] (env: AWS_LAMBDA_FUNCTION_VERSION)
    --handler <HANDLER>          _HANDLER [default: the bootstrap's last argument, when it has
                                 arguments] (env: AWS_LAMBDA_FUNCTION_HANDLER, _HANDLER)
    --region <REGION>            [default: us-east-1] (env: AWS_REGION, AWS_DEFAULT_REGION)
    --account-id <ID>            The account in the function's ARN, 12 digits
                                 [default: 012345678912]
    --env <KEY=VALUE>            Add a variable to the function's environment: the runtime's
                                 and the extensions' (repeatable)
    --clean-env                  Give the runtime Lambda's environment only, not this shell's
    --task-root <DIR>            LAMBDA_TASK_ROOT and working directory
                                 [default: /var/task if it exists, else the current directory]
    --max-queue <N>              Invocations that may wait while one runs; past it, 429
                                 [default: 1000]
    --max-queue-bytes <N>        Bytes of invocations that may wait; past it, 429
                                 [default: 67108864 (64 MiB)]
    --log-format <F>             json or text: every line a JSON record with json [text]
    --application-log-level <L>  With json: the function's lowest level shown [INFO]
    --system-log-level <L>       With json: lambda-sim's, DEBUG, INFO or WARN [INFO]
    --max-event-queue <N>        Event invocations not yet ended; past it, 429 [default: 1000]
    --maximum-retry-attempts <N> Retries of a failed Event invocation, 0-2 [default: 2]
    --maximum-event-age <SECS>   No retry past this age, 60-21600 [default: 21600]
    --retry-delay-ms <MS>        Before the first retry, twice it before the second [60000]
    --extension <PATH>           Run an external extension, named after its file name
    --extension <NAME=COMMAND>   ... or a command (split on spaces) that registers as NAME
                                 (repeatable; after the executables in $LAMBDA_EXTENSIONS_DIR
                                 [default: /opt/extensions])
    --eager-init                 Initialise at start-up (provisioned-concurrency)
    --concurrency <N>            Up to N execution environments at once, each with its own
                                 runtime, extensions and Runtime API (the first at
                                 --runtime-api-addr, the others on free ports); lines are
                                 tagged [env N] [default: 1]
    --max-concurrency <M>        Lambda Managed Instances: the environment runs up to M
                                 invocations at once (AWS_LAMBDA_MAX_CONCURRENCY=M for the
                                 runtime), initialises at start-up and is never frozen;
                                 extensions may take SHUTDOWN only [default: off, 1 at a time]
    --tenancy per-tenant         Tenant isolation: each invocation names a tenant
                                 (X-Amz-Tenant-Id), each environment serves one
    --snap-start                 SnapStart: initialise at start-up, snapshot, restore per
                                 environment (alias --enable-init-caching)
    --external-runtime           Spawn no runtime: wait for one you start yourself
                                 (extensions still start; nothing is frozen)
    --no-freeze                  Do not freeze (SIGSTOP) the runtime and extensions between
                                 invocations
    --stream-max-bytes <N>       The most a streamed response may carry [default: 209715200]
    --stream-burst-bytes <N>     Streamed as fast as the invoker reads [default: 6291456]
    --stream-rate <N>            Then at most N bytes a second; 0: no shaping [default: 2097152]
    --seed <N>                   Seed request ids, for reproducible runs [default: random]
    -q, --quiet                  No lifecycle lines (START, END, REPORT, ...)
    --log-level <LEVEL>          lambda-sim's own diagnostics: off, error, warn, info, debug,
                                 trace [default: warn] (env: LOG_LEVEL; RUST_LOG wins)
";

/// The environment every command reads.
const ENVIRONMENT: &str = "\
ENVIRONMENT:
    AWS_LAMBDA_FUNCTION_TIMEOUT, AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_FUNCTION_NAME,
    AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_HANDLER (or _HANDLER), AWS_REGION (or
    AWS_DEFAULT_REGION), as RIE reads them; flags win over them.
    LAMBDA_EXTENSIONS_DIR        Where external extensions are [default: /opt/extensions]
    LOG_LEVEL                    As --log-level
    RUST_LOG                     lambda-sim's diagnostics in env_logger's syntax
                                 (lambda_sim::api=debug, ...); when set, it decides alone
    RUST_LOG_STYLE               auto, always or never: colour in the diagnostics
";

/// The help of `lambda-sim` itself: serving a function.
pub(crate) fn main() -> String {
    format!(
        "\
lambda-sim {version}: a local simulator of the AWS Lambda execution environment

USAGE:
    lambda-sim [OPTIONS] [--] <bootstrap> [args...]   Serve a function: its Runtime API, and an
                                                     invoke endpoint RIE's clients know
    lambda-sim invoke [OPTIONS] [--] <bootstrap> ...  Invoke it and exit (lambda-sim help invoke)
    lambda-sim bench [OPTIONS] [--] <bootstrap> ...   Measure it and its extensions
                                                     (lambda-sim help bench)
    lambda-sim demo [OPTIONS]                        The built-in demo (lambda-sim help demo)
    lambda-sim help [COMMAND]                        This help, or a command's
    lambda-sim version                               The version (also -V, --version)

Options may come anywhere, as RIE takes them: whatever is not one of lambda-sim's options is
the bootstrap's. After `--`, everything is the bootstrap's.

With no bootstrap, lambda-sim runs the first of /var/task/bootstrap, /opt/bootstrap and
/var/runtime/bootstrap that exists, as RIE does. With no arguments at all and none there, it
runs the demo; given any option and none there, it exits 1.

Invoke the function with
    curl -d '{{}}' http://127.0.0.1:8080/2015-03-31/functions/function/invocations

{SIMULATOR_OPTIONS}    -h, --help                   Print this help
    -V, --version                Print the version

{ENVIRONMENT}
EXIT STATUS:
    0    shut down cleanly (SIGTERM, SIGINT, SIGHUP, SIGQUIT; a second one stops at once)
    1    could not start: no bootstrap, a bootstrap or extension that is not executable, an
         address in use
    2    bad command line

EXAMPLE:
    lambda-sim --extension ./my-extension -- python3 -m awslambdaric app.handler
",
        version = env!("CARGO_PKG_VERSION")
    )
}

/// `lambda-sim help invoke`.
pub(crate) fn invoke() -> String {
    format!(
        "\
lambda-sim invoke: start the function, invoke it, print each answer, shut it down

USAGE:
    lambda-sim invoke [INVOKE OPTIONS] [SIMULATOR OPTIONS] [--] <bootstrap> [args...]
    lambda-sim invoke --endpoint <HOST:PORT> [INVOKE OPTIONS]

Each answer goes to stdout, on its own line; the function's log to stderr.

INVOKE OPTIONS:
    --payload <EVENT>            The event: JSON text; file://PATH (text) or fileb://PATH (raw
                                 bytes), as the AWS CLI takes them; the path of a readable
                                 file; or - for standard input [default: {{}}]
    --payload-file <PATH>        The event, from a file (- for standard input)
    -n, --count <N>              Invoke N times [default: 1]
    --parallel <P>               Send up to P at once, answers in order [default: 1]
    --tenant-id <ID>             The tenant each invocation names (with --tenancy per-tenant)
    --log-tail                   Print each invocation's log tail (X-Amz-Log-Result, the last
                                 4 KB) to stderr instead of the whole log
    --endpoint <HOST:PORT>       Invoke a lambda-sim already running there (as its ready line
                                 prints it, or http://HOST:PORT) instead of starting one;
                                 simulator options do not apply then
    -h, --help                   Print this help

{SIMULATOR_OPTIONS}
{ENVIRONMENT}
EXIT STATUS:
    0    every invocation succeeded
    1    the function returned an error (the worst outcome of all the invocations counts)
    2    a platform error (timeout, crash, failed init, ...) or a refused invocation; or a bad
         command line
    3    could not start: no bootstrap, one that is not executable, an address in use, an
         endpoint that does not answer

EXAMPLE:
    lambda-sim invoke --payload '{{\"n\":1}}' -- ./bootstrap
"
    )
}

/// `lambda-sim help bench`.
pub(crate) fn bench() -> String {
    format!(
        "\
lambda-sim bench: measure a function and what each of its extensions adds, on real processes

USAGE:
    lambda-sim bench [BENCH OPTIONS] [SIMULATOR OPTIONS] [--] <bootstrap> [args...]
    lambda-sim bench --demo [BENCH OPTIONS]

With no arguments at all, it measures the built-in demo, as --demo does.

BENCH OPTIONS:
    -n, --count <N>              Measured invocations, one after the other [default: 1000]
    --warmup <N>                 Invocations run and left out first [default: 20]
    --cold-starts <K>            Fresh environments whose init is measured [default: 5]
    --payload <EVENT>            The event, as invoke takes it [default: {{}}]
    --payload-file <PATH>        The event, from a file (- for standard input)
    --parallel <P>               Invokers at once, each in a closed loop: with
                                 --concurrency or --max-concurrency, throughput under load
                                 and a row per environment [default: one per slot, C x M]
    --tenant-id <ID>             The tenant each invocation names (with --tenancy per-tenant)
    --baseline                   Also run the function without its extensions, alternating,
                                 and report each phase's difference with a 95% confidence
                                 interval
    --compare <COMMAND>          ... or another bootstrap (split on spaces), without extensions
    --histograms                 Print a text histogram of each phase
    --json <FILE>                Write every sample and the summary as JSON
    --svg <FILE>                 Draw the histograms, the differences and a per-invocation
                                 timeline
    --demo                       Measure the built-in demo (an echo runtime and an extension
                                 that works 3 ms after each invocation)
    -h, --help                   Print this help

{SIMULATOR_OPTIONS}
{ENVIRONMENT}
The summary and the differences go to stdout, progress to stderr.

EXIT STATUS:
    0    every invocation succeeded
    1    an invocation failed (each is listed)
    2    the bench could not run, or a bad command line

EXAMPLE:
    lambda-sim bench -n 1000 --baseline --extension ./my-extension -- ./bootstrap
"
    )
}

/// `lambda-sim help demo`.
pub(crate) fn demo() -> String {
    format!(
        "\
lambda-sim demo: the built-in demo, with no set-up

An echo runtime and an extension of lambda-sim's own go through a cold start, a warm
invocation, a function error and a timeout (the runtime is killed, the extension gets
SHUTDOWN, the next invocation re-initialises), then the shutdown; every step is printed.

USAGE:
    lambda-sim demo [SIMULATOR OPTIONS]

{SIMULATOR_OPTIONS}    -h, --help                   Print this help

EXIT STATUS:
    0    the demo ran
    1    it could not

EXAMPLE:
    lambda-sim demo --no-freeze
"
    )
}

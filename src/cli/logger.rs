//! lambda-sim's own diagnostic lines, on stderr, through `env_logger`: `RUST_LOG` means what Rust
//! users know (module filters, levels, a `/` filter on the message), and each line carries an
//! RFC 3339 timestamp to the microsecond, as the lifecycle lines are timed. Lines are plain:
//! env_logger's colours would cost 12 KB of the binary.
//!
//! Precedence: `RUST_LOG`, when set, decides for every target, and `--log-level` and
//! `LOG_LEVEL` are ignored; otherwise `--log-level` (or `LOG_LEVEL`) sets lambda-sim's own
//! modules' level, and everything else logs warnings and errors.
//!
//! `env_logger` is built without its `regex` feature, which alone would double the binary: the
//! `/` filter matches a substring of the message rather than a regular expression.

use log::LevelFilter;

/// The levels `--log-level` and `LOG_LEVEL` take.
pub(crate) const LEVELS: &str = "off, error, warn, info, debug, trace";

/// Reads a `--log-level` or `LOG_LEVEL` value.
pub(crate) fn parse_level(value: &str) -> Result<LevelFilter, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("unknown log level '{value}': one of {LEVELS}"))
}

/// The filter `env_logger` gets: `rust_log` (the value of `RUST_LOG`) when set, else `level` for
/// lambda-sim's own modules over warnings for all.
pub(crate) fn filters(rust_log: Option<&str>, level: Option<LevelFilter>) -> String {
    match (rust_log, level) {
        (Some(spec), _) => spec.to_string(),
        (None, Some(level)) => format!("warn,lambda_sim={level}"),
        (None, None) => "warn".to_string(),
    }
}

/// Installs the logger for the process. Does nothing if one is installed already.
pub(crate) fn init(level: Option<LevelFilter>) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(&filters(rust_log.as_deref(), level));
    builder.format_timestamp_micros();
    let _ = builder.try_init();
}

//! lambda-sim's own log lines on stderr, filtered by `RUST_LOG` as env_logger reads it
//! (comma-separated `level`, `target=level` or `target` directives; the longest target that
//! matches wins; a later directive for the same target replaces an earlier one) or by
//! `--log-level`. Written here rather than taken from env_logger, whose builder, filter and
//! formatter cost 43 KB of a binary with a 1 MB budget for the same lines.

use std::io::Write as _;

use log::{LevelFilter, Log, Metadata, Record};

/// The filter: a level per target prefix; the empty target is the default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Filter {
    directives: Vec<(String, LevelFilter)>,
}

impl Filter {
    /// Warnings and errors from everyone: the default.
    pub(crate) fn new() -> Filter {
        Filter {
            directives: vec![(String::new(), LevelFilter::Warn)],
        }
    }

    /// Applies the directives of `spec`, in order. Ones that do not parse are skipped, as
    /// env_logger skips them; so is a `/regex` suffix, which this filter does not do.
    pub(crate) fn parse(&mut self, spec: &str) {
        let spec = spec.split('/').next().unwrap_or("");
        for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let (target, level) = match directive.split_once('=') {
                Some((target, level)) => match level.trim().parse() {
                    Ok(level) => (target.trim(), level),
                    Err(_) => continue,
                },
                // A bare level sets the default; a bare target turns everything on for it.
                None => match directive.parse() {
                    Ok(level) => ("", level),
                    Err(_) => (directive, LevelFilter::Trace),
                },
            };
            match self.directives.iter_mut().find(|(t, _)| t == target) {
                Some(slot) => slot.1 = level,
                None => self.directives.push((target.to_string(), level)),
            }
        }
    }

    /// The level for `target`: the longest directive that is `target` or a module above it.
    pub(crate) fn level(&self, target: &str) -> LevelFilter {
        self.directives
            .iter()
            .filter(|(t, _)| {
                t.is_empty()
                    || target == t
                    || (target.starts_with(t.as_str()) && target[t.len()..].starts_with("::"))
            })
            .max_by_key(|(t, _)| t.len())
            .map_or(LevelFilter::Warn, |(_, level)| *level)
    }

    /// The most verbose level any target gets.
    pub(crate) fn max(&self) -> LevelFilter {
        self.directives
            .iter()
            .map(|(_, level)| *level)
            .max()
            .unwrap_or(LevelFilter::Warn)
    }
}

impl Default for Filter {
    fn default() -> Filter {
        Filter::new()
    }
}

struct Logger(Filter);

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.0.level(metadata.target())
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            // One write per line, so that lines from several threads do not interleave.
            let line = format!(
                "[{:<5} {}] {}\n",
                record.level(),
                record.target(),
                record.args()
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger: warnings by default, `level` for lambda-sim's own modules, then
/// `RUST_LOG` over both. Does nothing if a logger is already installed.
pub(crate) fn init(level: Option<&str>) {
    let mut filter = Filter::new();
    if let Some(level) = level {
        filter.parse(&format!("lambda_sim={level}"));
    }
    if let Ok(spec) = std::env::var("RUST_LOG") {
        filter.parse(&spec);
    }
    let max = filter.max();
    // Installed once for the life of the process.
    let logger: &'static Logger = Box::leak(Box::new(Logger(filter)));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(max);
    }
}

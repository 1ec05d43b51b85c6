//! The simulator's own log lines: lifecycle lines (START, END, REPORT, ...) rendered in batches
//! off the invocations' path, the function's output line by line, and the log tail an invoker
//! asked for (`X-Amz-Log-Type: Tail`).

use crate::api;
use crate::id::RequestId;
use crate::lifecycle::{ChildId, EnvId, PlatformEvent};
use crate::time::Micros;

use super::children::ChildProc;
use super::children::MAX_LINE_BYTES;
use super::sink::Sink;
use super::{Reactor, sink};

/// The most of an invocation's log that `X-Amz-Log-Result` carries (the Invoke API's 4 KB).
pub(super) const LOG_TAIL_BYTES: usize = 4096;

/// Lifecycle events kept room for between batches: a batch of 10 ms at ten thousand
/// invocations per second holds about 300.
const KEEP_EVENTS_CAPACITY: usize = 1024;

/// Where a child's lines go: the log sink, the tails of its environment's invocations, and
/// its environment's telemetry subscribers when there are any.
pub(super) struct LineOut<'a> {
    pub(super) sink: &'a mut Sink,
    /// The logs of the running invocations whose invokers asked for the tail.
    pub(super) tails: &'a mut [(RequestId, EnvId, Vec<u8>)],
    /// The child's environment.
    pub(super) env: EnvId,
    pub(super) hub: Option<(&'a mut crate::telemetry::Hub, &'a api::Context)>,
    pub(super) now: Micros,
    /// The child is an extension: its lines are `extension` records, not `function`.
    pub(super) extension: bool,
    /// With the JSON log format, the function's context: its lines are JSON records, filtered
    /// by the application log level.
    pub(super) json: Option<&'a api::Context>,
}

impl LineOut<'_> {
    /// Logs one line (lossy UTF-8, without a trailing CR) and empties `line`.
    pub(super) fn emit(&mut self, line: &mut Vec<u8>) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        match self.json {
            None => self.sink.untrusted_line(self.env, text),
            Some(ctx) => {
                if api::LogLevel::of_line(text) < ctx.application_level {
                    line.clear();
                    return;
                }
                json_line(self.sink, ctx, self.now, self.extension, text);
            }
        }
        for (_, env, log) in self.tails.iter_mut() {
            // With Managed Instances, several invocations run at once: each tail gets every
            // line of the environment, there being no telling whose a line is.
            if *env == self.env {
                push_tail(log, text.as_bytes());
                push_tail(log, b"\n");
            }
        }
        if let Some((hub, ctx)) = &mut self.hub {
            let record = if self.extension {
                crate::telemetry::Record::Extension(text.to_string())
            } else {
                crate::telemetry::Record::Function(text.to_string())
            };
            hub.record(self.env, ctx, self.now, record, 0);
        }
        line.clear();
    }

    /// Emits the first [`MAX_LINE_BYTES`] of `line` as a line of its own, as long as more
    /// than that is left: what stays is at most that long.
    pub(super) fn emit_long(&mut self, line: &mut Vec<u8>) {
        while line.len() > MAX_LINE_BYTES {
            let cut = utf8_cut(line, MAX_LINE_BYTES);
            let rest = line.split_off(cut);
            self.emit(line);
            *line = rest;
        }
    }
}

/// With the JSON log format, a line of the function's or an extension's as one JSON object
/// (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html>): a
/// line that is a JSON object as it is, any other as a `function` (or `extension`) record of
/// the Telemetry API's shape, so that every line of the output parses.
#[inline(never)]
fn json_line(sink: &mut Sink, ctx: &api::Context, now: Micros, extension: bool, text: &str) {
    let object =
        text.trim_start().starts_with('{') && crate::json::validate(text.as_bytes()).is_ok();
    if object {
        return sink.line(text.trim());
    }
    let mut out = Vec::with_capacity(text.len() + 80);
    api::telemetry::write_line(&mut out, ctx, now, extension, text);
    sink.line(&String::from_utf8_lossy(&out));
}

/// The largest index at most `at` where no UTF-8 character is cut in two (at most three bytes
/// back; `at` itself for bytes that are not UTF-8).
fn utf8_cut(bytes: &[u8], at: usize) -> usize {
    let continuation = |i: usize| bytes.get(i).is_some_and(|b| b & 0xC0 == 0x80);
    (at.saturating_sub(3)..=at)
        .rev()
        .find(|&i| !continuation(i))
        .filter(|&i| i > 0)
        .unwrap_or(at)
}

/// Appends `bytes` to an invocation's log, keeping no more than twice what the tail shows.
pub(super) fn push_tail(log: &mut Vec<u8>, bytes: &[u8]) {
    log.extend_from_slice(bytes);
    if log.len() > 2 * LOG_TAIL_BYTES {
        log.drain(..log.len() - LOG_TAIL_BYTES);
    }
}

impl Reactor {
    /// Keeps the log of invocation `request_id` of `env`, whose invoker asked for its tail.
    #[inline(never)]
    pub(super) fn start_tail(&mut self, request_id: RequestId, env: EnvId) {
        // A tail whose invocation has ended was answered with it, or its invoker left: either
        // way it is done.
        let core = &self.core;
        self.tails
            .retain(|(id, _, _)| core.invocation(*id).is_some());
        self.tails.push((request_id, env, Vec::new()));
    }

    /// Appends `env`'s `event` to the tails of the invocations that asked for one: an event
    /// of an invocation to its own, any other to every tail of the environment.
    #[inline(never)]
    pub(super) fn tail_event(&mut self, now: Micros, env: EnvId, event: &PlatformEvent) {
        let memory = match event {
            PlatformEvent::Report { runtime, .. } => self.max_memory_mb(*runtime),
            _ => None,
        };
        let mut json = Vec::new();
        let text = if self.ctx.json_logs {
            api::logs::write_json(&mut json, &self.ctx, event, now, memory);
            &json[..]
        } else {
            self.lines.clear();
            api::logs::write_event(&mut self.lines, &self.ctx, event, now, memory);
            self.lines.as_bytes()
        };
        let of = event.request_id();
        for (id, e, log) in &mut self.tails {
            if *e == env && of.is_none_or(|of| of == *id) {
                push_tail(log, text);
            }
        }
    }

    /// At the end of a turn: renders the waiting lifecycle events if they are due, or sets when
    /// they will be. Returns whether it rendered.
    ///
    /// Events wait up to [`sink::FLUSH_DELAY`] so that formatting and the peak-RSS read for
    /// REPORT happen once per batch, off the invocations' latency path. Each line keeps the time
    /// of its event; Max Memory Used is read when the batch is rendered (the peak only grows,
    /// so it may include growth in those last milliseconds).
    pub(super) fn log_events_due(&mut self, now: Micros) -> bool {
        if self.events.is_empty() {
            self.events_due = None;
            return false;
        }
        match self.events_due {
            Some(at) if at <= now => {
                self.log_events();
                true
            }
            Some(_) => false,
            None => {
                self.events_due = Some(now + sink::FLUSH_DELAY);
                false
            }
        }
    }

    /// Renders every waiting lifecycle event as log lines now.
    pub(super) fn log_events(&mut self) {
        self.events_due = None;
        let mut events = std::mem::take(&mut self.events);
        // One read of the runtime's peak RSS serves the whole batch.
        let mut memory_of: Option<(Option<ChildId>, Option<u64>)> = None;
        for (at, env, event) in events.drain(..) {
            let memory = match &event {
                PlatformEvent::Report { runtime, .. } => match memory_of {
                    Some((child, mb)) if child == *runtime => mb,
                    _ => {
                        let mb = self.max_memory_mb(*runtime);
                        memory_of = Some((*runtime, mb));
                        mb
                    }
                },
                _ => None,
            };
            if self.ctx.json_logs {
                // One JSON object a line: not tagged with the environment.
                let mut json = Vec::new();
                api::logs::write_json(&mut json, &self.ctx, &event, at, memory);
                if let Some(line) = json.strip_suffix(b"\n") {
                    self.sink.line(&String::from_utf8_lossy(line));
                }
                continue;
            }
            self.lines.clear();
            api::logs::write_event(&mut self.lines, &self.ctx, &event, at, memory);
            self.sink.lines(env, &self.lines);
        }
        // A batch that grew unusually large (the reactor was held up) gives its memory back.
        if events.capacity() > KEEP_EVENTS_CAPACITY {
            events = Vec::new();
        }
        self.events = events;
    }

    /// The environment's peak memory for a report: the runtime `child`'s, plus each live
    /// extension's of its environment, as Lambda counts the whole sandbox (a sum of peaks: an
    /// upper bound).
    pub(super) fn max_memory_mb(&self, child: Option<ChildId>) -> Option<u64> {
        let peak = |proc: &ChildProc| {
            let live = proc
                .rss
                .as_ref()
                .filter(|_| proc.alive)
                .and_then(|r| r.read());
            live.unwrap_or(proc.max_rss_kib)
        };
        let runtime = self.children.iter().find(|c| Some(c.id) == child)?;
        let extensions: u64 = self
            .children
            .iter()
            .filter(|c| c.extension && c.alive && c.env == runtime.env)
            .map(peak)
            .sum();
        Some((peak(runtime) + extensions).div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_keeps_at_least_the_last_4_kb() {
        let mut log = Vec::new();
        for i in 0..1000u32 {
            push_tail(&mut log, format!("{i:05}\n").as_bytes());
            assert!(log.len() <= 2 * LOG_TAIL_BYTES);
        }
        assert!(log.len() >= LOG_TAIL_BYTES);
        assert!(log.ends_with(b"00999\n"));
    }

    #[test]
    fn long_lines_are_cut_where_a_character_begins() {
        assert_eq!(utf8_cut(b"abcdef", 4), 4);
        // "€" is three bytes: E2 82 AC.
        let euros = "€€€".as_bytes();
        assert_eq!(utf8_cut(euros, 3), 3);
        assert_eq!(utf8_cut(euros, 4), 3);
        assert_eq!(utf8_cut(euros, 5), 3);
        assert_eq!(utf8_cut(euros, 6), 6);
        // Not UTF-8: cut where asked.
        assert_eq!(utf8_cut(&[0x80; 8], 5), 5);
    }
}

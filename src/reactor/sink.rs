//! Where log lines go: our stdout without ever blocking the reactor, a bounded channel for the
//! embedding API, or nowhere.
//!
//! Lines for stdout are batched: written when 64 KiB are pending or 10 ms after the first of
//! them, so that a reader (a terminal, `tee`, a CI log) is woken once per batch rather than once
//! per invocation, and the write is off the invocations' latency path. Ten milliseconds is too
//! short for a person to notice; in a closed loop, 2 ms batches cost 2-3 µs at p50 against
//! `--quiet` and 20 ms batches nothing measurable (`cargo bench --bench e2e`).

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

use crate::config::{CAPTURE_LINES, LogOutput};
use crate::lifecycle::EnvId;
use crate::mailbox::{Receiver, SyncSender, TrySendError, sync_channel};
use crate::time::Micros;

/// How many bytes wait for a slow stdout before new lines are dropped (and counted).
pub(crate) const MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;

/// How long a line may wait for more to share its write.
pub(crate) const FLUSH_DELAY: Micros = Micros(10_000);

/// Pending bytes that are written without waiting for [`FLUSH_DELAY`].
const FLUSH_BYTES: usize = 64 * 1024;

/// A pending buffer larger than this once written is released (it grew for a burst or a slow
/// reader), so that memory stays flat however long the simulator runs.
const KEEP_PENDING_CAPACITY: usize = 2 * FLUSH_BYTES;

#[derive(Debug)]
enum Target {
    /// A pipe or terminal, reopened privately in non-blocking mode: registered with the reactor,
    /// written as it accepts bytes.
    NonBlocking(File, u8),
    /// A regular file (never blocks for long) or something we could not reopen: written in
    /// blocking mode.
    Blocking(Std),
    Capture(SyncSender<String>),
    Discard,
}

/// Our stdout or stderr, written in blocking mode.
#[derive(Debug)]
enum Std {
    Out(io::Stdout),
    Err(io::Stderr),
}

impl Std {
    fn write_all(&self, bytes: &[u8]) {
        let _ = match self {
            Std::Out(out) => out
                .lock()
                .write_all(bytes)
                .and_then(|()| out.lock().flush()),
            Std::Err(err) => err.lock().write_all(bytes),
        };
    }
}

#[derive(Debug)]
pub(crate) struct Sink {
    target: Target,
    pending: Vec<u8>,
    written: usize,
    dropped: u64,
    /// When the pending lines are written, if they are waiting.
    due: Option<Micros>,
    /// A write would block: writing resumes on the descriptor's write readiness.
    blocked: bool,
    /// Every line is written as it comes, not in batches (`write_at_once`).
    at_once: bool,
    /// The target is a terminal: the function's control characters are shown, not obeyed
    /// (`untrusted_line`).
    terminal: bool,
    /// Several environments: each of their lines says which one it came from (`[env 2] `),
    /// as each has a log stream of its own on Lambda (`env_line`).
    tagged: bool,
    /// Where a tagged line is put together.
    scratch: String,
}

impl Sink {
    /// A sink for `output`, and the receiving end when capturing.
    pub(crate) fn new(output: LogOutput) -> (Sink, Option<Receiver<String>>) {
        let (target, rx, terminal) = match output {
            LogOutput::Stdout => (std_target(1), None, io::stdout().is_terminal()),
            LogOutput::Stderr => (std_target(2), None, io::stderr().is_terminal()),
            LogOutput::Capture => {
                let (tx, rx) = sync_channel(CAPTURE_LINES);
                (Target::Capture(tx), Some(rx), false)
            }
            LogOutput::Discard => (Target::Discard, None, false),
        };
        let sink = Sink {
            target,
            pending: Vec::new(),
            written: 0,
            dropped: 0,
            due: None,
            blocked: false,
            at_once: false,
            terminal,
            tagged: false,
            scratch: String::new(),
        };
        (sink, rx)
    }

    /// The descriptor to register for write readiness, if the sink needs one.
    pub(crate) fn nonblocking_fd(&self) -> Option<&File> {
        match &self.target {
            Target::NonBlocking(f, _) => Some(f),
            _ => None,
        }
    }

    /// The reactor could not watch the descriptor (epoll refuses `/dev/null`, for one): write
    /// to it in blocking mode instead.
    pub(crate) fn unwatchable(&mut self) {
        if let Target::NonBlocking(_, fd) = self.target {
            self.target = blocking(fd);
        }
    }

    /// Writes each line as it comes rather than in batches: with lambda-sim's own diagnostics
    /// on, a lifecycle line must reach a terminal shared with stderr before the diagnostic
    /// lines that follow it. Costs a write per line; never on by default.
    pub(crate) fn write_at_once(&mut self) {
        self.at_once = true;
    }

    /// Whether lines are written as they come (`write_at_once`).
    pub(crate) fn is_at_once(&self) -> bool {
        self.at_once
    }

    /// Whether lines go anywhere: when they do not, nobody needs to render them.
    pub(crate) fn is_shown(&self) -> bool {
        !matches!(self.target, Target::Discard)
    }

    /// Queues one line (without its newline).
    pub(crate) fn line(&mut self, line: &str) {
        match &mut self.target {
            Target::Discard => {}
            Target::Capture(tx) => match tx.try_send(line.to_string()) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(_)) => self.dropped += 1,
            },
            Target::Blocking(_) | Target::NonBlocking(..) => {
                if self.pending.len() - self.written + line.len() > MAX_PENDING_BYTES {
                    self.dropped += 1;
                    return;
                }
                if self.dropped > 0 {
                    let note = format!(
                        "lambda-sim: {} log lines dropped: stdout was too slow\n",
                        self.dropped
                    );
                    self.pending.extend_from_slice(note.as_bytes());
                    self.dropped = 0;
                }
                self.pending.extend_from_slice(line.as_bytes());
                self.pending.push(b'\n');
                if self.at_once {
                    self.flush();
                }
            }
        }
    }

    /// Queues a line of the function's output (its runtime's or an extension's). On a terminal,
    /// its control characters (C0 but tab, DEL, C1) are written visibly as escapes (`\x1b`),
    /// as `journalctl` and `less` show them: a line must not retitle the window, clear the
    /// screen, overwrite a line with a bare CR, or make the terminal type an answer into its
    /// input. Written to a file or a pipe, the line is kept as it is.
    pub(crate) fn untrusted_line(&mut self, env: EnvId, line: &str) {
        if !self.terminal || !line.chars().any(is_escaped) {
            return self.env_line(env, line);
        }
        let mut shown = String::with_capacity(line.len() + 16);
        for c in line.chars() {
            if is_escaped(c) {
                let _ = write!(shown, "\\x{:02x}", u32::from(c));
            } else {
                shown.push(c);
            }
        }
        self.env_line(env, &shown);
    }

    /// Queues text made of whole lines, each ending in `\n`, from environment `env`.
    pub(crate) fn lines(&mut self, env: EnvId, text: &str) {
        for line in text.lines() {
            self.env_line(env, line);
        }
    }

    /// Tags every line of an environment with its number from now on (several environments).
    pub(crate) fn tag_environments(&mut self) {
        self.tagged = true;
    }

    /// Queues a line from environment `env`: tagged with it when there are several.
    pub(crate) fn env_line(&mut self, env: EnvId, line: &str) {
        if !self.tagged {
            return self.line(line);
        }
        let mut tagged = std::mem::take(&mut self.scratch);
        tagged.clear();
        let _ = write!(tagged, "[env {}] {line}", env.index() + 1);
        self.line(&tagged);
        self.scratch = tagged;
    }

    /// When pending lines are due to be written, for the reactor's poll timeout.
    pub(crate) fn deadline(&self) -> Option<Micros> {
        self.due
    }

    /// At the end of a reactor turn: writes the pending lines if they are due or numerous, or
    /// sets when they will be.
    pub(crate) fn flush_due(&mut self, now: Micros) {
        let pending = self.pending.len() - self.written;
        if pending == 0 || self.blocked {
            self.due = None;
            return;
        }
        if pending >= FLUSH_BYTES || self.due.is_some_and(|at| at <= now) {
            self.flush();
        } else if self.due.is_none() {
            self.due = Some(now + FLUSH_DELAY);
        }
    }

    /// Writes what the descriptor accepts now. Returns whether bytes are still pending.
    pub(crate) fn flush(&mut self) -> bool {
        self.due = None;
        self.blocked = false;
        if self.written == self.pending.len() {
            return false;
        }
        let file = match &mut self.target {
            Target::NonBlocking(file, _) => file,
            Target::Blocking(out) => {
                out.write_all(&self.pending[self.written..]);
                self.written_out();
                return false;
            }
            Target::Capture(_) | Target::Discard => return false,
        };
        while self.written < self.pending.len() {
            match file.write(&self.pending[self.written..]) {
                Ok(0) => break,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.blocked = true;
                    return true;
                }
                // The reader went away: nothing more can be shown.
                Err(_) => {
                    self.target = Target::Discard;
                    break;
                }
            }
        }
        self.written_out();
        false
    }

    /// Empties the written buffer, giving back what an unusual burst made it grow to.
    fn written_out(&mut self) {
        self.pending.clear();
        self.written = 0;
        if self.pending.capacity() > KEEP_PENDING_CAPACITY {
            self.pending = Vec::new();
        }
    }

    /// At exit: writes everything still pending, waiting for the reader if need be.
    pub(crate) fn finish(&mut self) {
        if self.flush() {
            if let Target::NonBlocking(file, _) = &mut self.target {
                let _ = crate::sys::set_blocking(file);
                let _ = file.write_all(&self.pending[self.written..]);
            }
        }
        self.pending.clear();
        self.written = 0;
    }
}

/// Our stdout (1) or stderr (2) in blocking mode.
fn blocking(fd: u8) -> Target {
    Target::Blocking(match fd {
        2 => Std::Err(io::stderr()),
        _ => Std::Out(io::stdout()),
    })
}

/// Our stdout (`fd` 1) or stderr (2), reopened in non-blocking mode when it is a pipe or a
/// terminal. Reopening gives a private open file description, so the flag never leaks to the
/// shell or other processes sharing the original one. Regular files are written directly:
/// reopening one would lose `O_APPEND` and the offset, and writing to it never waits for a
/// reader.
fn std_target(fd: u8) -> Target {
    let path = format!("/proc/self/fd/{fd}");
    let Ok(meta) = std::fs::metadata(&path) else {
        return blocking(fd);
    };
    let kind = meta.file_type();
    if !(kind.is_fifo() || kind.is_char_device()) {
        return blocking(fd);
    }
    match OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
    {
        Ok(file) => Target::NonBlocking(file, fd),
        Err(_) => blocking(fd),
    }
}

/// Whether `c` is written as an escape on a terminal: a control character other than tab.
fn is_escaped(c: char) -> bool {
    c.is_control() && c != '\t'
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;

    use super::*;

    /// A sink writing to one end of a socket pair (a pipe-like non-blocking descriptor), and
    /// the other end to read what it wrote.
    fn sink() -> (Sink, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        theirs.set_nonblocking(true).unwrap();
        let file = File::from(OwnedFd::from(ours));
        let sink = Sink {
            target: Target::NonBlocking(file, 1),
            pending: Vec::new(),
            written: 0,
            dropped: 0,
            due: None,
            blocked: false,
            at_once: false,
            terminal: false,
            tagged: false,
            scratch: String::new(),
        };
        (sink, theirs)
    }

    fn read_all(reader: &mut UnixStream) -> String {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_wait_for_the_flush_delay_then_go_in_one_write() {
        let (mut sink, mut reader) = sink();
        let t0 = Micros(1_000);
        sink.line("START");
        sink.flush_due(t0);
        assert_eq!(sink.deadline(), Some(t0 + FLUSH_DELAY));
        sink.line("END");
        sink.flush_due(t0 + Micros(10));
        assert_eq!(read_all(&mut reader), "", "nothing before the delay");
        assert_eq!(
            sink.deadline(),
            Some(t0 + FLUSH_DELAY),
            "the first line sets it"
        );
        sink.flush_due(t0 + FLUSH_DELAY);
        assert_eq!(read_all(&mut reader), "START\nEND\n");
        assert_eq!(sink.deadline(), None);
        sink.flush_due(t0 + FLUSH_DELAY + Micros(1));
        assert_eq!(sink.deadline(), None, "nothing pending, nothing due");
    }

    #[test]
    fn a_full_batch_goes_at_once() {
        let (mut sink, mut reader) = sink();
        let line = "x".repeat(1023);
        for _ in 0..FLUSH_BYTES / 1024 {
            sink.line(&line);
        }
        sink.flush_due(Micros(5));
        assert_eq!(read_all(&mut reader).len(), FLUSH_BYTES);
        assert_eq!(sink.deadline(), None);
    }

    #[test]
    fn a_reader_that_does_not_keep_up_costs_no_timer() {
        let (mut sink, reader) = sink();
        let line = "y".repeat(1023);
        // 2 MiB, far more than a socket buffer holds: the write would block.
        for _ in 0..2048 {
            sink.line(&line);
        }
        sink.flush_due(Micros(5));
        assert!(sink.blocked);
        // While blocked, writing resumes on write readiness, not on a timer.
        sink.line("z");
        sink.flush_due(Micros(6));
        assert_eq!(sink.deadline(), None);
        drop(reader);
    }

    #[test]
    fn on_a_terminal_the_functions_control_characters_are_shown_not_obeyed() {
        let hostile = "title\u{1b}]0;pwned\u{7}, clear\u{1b}[2J, \rREPORT fake, nul\0, del\u{7f}, csi\u{9b}, tab\tok";
        let (mut sink, mut reader) = sink();
        sink.untrusted_line(EnvId(0), hostile);
        sink.flush();
        assert_eq!(
            read_all(&mut reader),
            format!("{hostile}\n"),
            "a pipe gets the bytes"
        );
        let (mut sink, mut reader) = self::sink();
        sink.terminal = true;
        sink.untrusted_line(EnvId(0), hostile);
        sink.line("lambda-sim's own \u{1b}[1mline");
        sink.flush();
        assert_eq!(
            read_all(&mut reader),
            "title\\x1b]0;pwned\\x07, clear\\x1b[2J, \\x0dREPORT fake, nul\\x00, del\\x7f, csi\\x9b, tab\tok\n\
             lambda-sim's own \u{1b}[1mline\n"
        );
    }
}

//! Child processes: the Lambda environment they start with, spawning them in their own process
//! group, and reading how they ended. The reactor owns the descriptors; the system calls
//! themselves are in `crate::sys`.
//!
//! On Lambda every process in the sandbox is frozen and destroyed together
//! (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>). A process
//! group is not the sandbox: a process may leave it (`setsid()`), and an orphan goes to init.
//! So the function's processes are also found by descent ([`ProcWalk::tree`], whatever their
//! group), those a group signal misses are signalled one by one ([`ProcWalk::group_of`]), and
//! the CLI makes lambda-sim a child subreaper so that orphans come back to it
//! ([`ProcWalk::adopted`]).

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::lifecycle::InitType;
use crate::sys;

/// What to run and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its working directory.
    pub cwd: PathBuf,
    /// Variables to set, on top of the inherited environment unless `clean_env`.
    pub env: Vec<(String, String)>,
    /// Variables not to inherit from the simulator's own environment.
    pub remove: Vec<&'static str>,
    /// Start from an empty environment rather than the simulator's own.
    pub clean_env: bool,
    /// Do not ask for a pidfd: the caller polls for the exit (what happens anyway on kernels
    /// before 5.3, or where pidfd_open is refused).
    pub poll_exit: bool,
}

/// A started child: its pid (also its process group), a pidfd that becomes readable when it
/// exits if the kernel gives one, and the read ends of its stdout and stderr, non-blocking.
#[derive(Debug)]
pub struct Spawned {
    /// The pid, and the id of the process group it leads.
    pub pid: i32,
    /// Readable once the child has exited. `None` where pidfd_open is missing or refused
    /// (Linux before 5.3, some sandboxes, valgrind): then the caller polls with [`reap`].
    pub pidfd: Option<OwnedFd>,
    /// The child's stdout.
    pub stdout: File,
    /// The child's stderr.
    pub stderr: File,
}

/// Starts `launch` in a new process group, stdin from /dev/null, stdout and stderr piped.
/// The child is killed if the spawning thread dies (`PR_SET_PDEATHSIG`).
pub fn spawn(launch: &Launch) -> io::Result<Spawned> {
    let mut env: Vec<(OsString, OsString)> = match launch.clean_env {
        true => Vec::new(),
        false => std::env::vars_os().collect(),
    };
    env.retain(|(k, _)| !launch.remove.iter().any(|r| k == *r));
    for (key, value) in &launch.env {
        match env.iter_mut().find(|(k, _)| k == key.as_str()) {
            Some(slot) => slot.1 = value.into(),
            None => env.push((key.into(), value.into())),
        }
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());
    let program = resolve(&launch.program, path.or_else(|| std::env::var_os("PATH")))?;
    let pairs: Vec<Vec<u8>> = env
        .iter()
        .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat())
        .collect();
    let mut args: Vec<&std::ffi::OsStr> = vec![launch.program.as_os_str()];
    args.extend(launch.args.iter().map(std::ffi::OsStr::new));
    let exec = sys::Exec::new(program.as_os_str(), &args, &pairs, launch.cwd.as_os_str())?;
    let started = sys::spawn_tied_to_parent(&exec)?;
    let pid = started.pid;
    abort_guard::add(pid);
    let stdout = File::from(started.stdout);
    let stderr = File::from(started.stderr);
    sys::set_nonblocking(&stdout)?;
    sys::set_nonblocking(&stderr)?;
    // A child that already exited is a zombie until reaped, so its pid is still ours here.
    let pidfd = if launch.poll_exit {
        None
    } else {
        match sys::pidfd_open(pid) {
            Ok(fd) => Some(fd),
            Err(e) => {
                log::debug!("no pidfd for pid {pid} ({e}): its exit will be polled for");
                None
            }
        }
    };
    Ok(Spawned {
        pid,
        pidfd,
        stdout,
        stderr,
    })
}

/// The file to execute for `program`: itself if it names a path (it has a `/`), else the first
/// executable file of that name in `path`'s directories, as `execvp(3)` would find it.
fn resolve(program: &Path, path: Option<OsString>) -> io::Result<PathBuf> {
    if program.as_os_str().as_bytes().contains(&b'/') {
        return Ok(program.to_path_buf());
    }
    find_on_path(program, &path.unwrap_or_default()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} is not an executable on PATH", program.display()),
        )
    })
}

/// The file to execute for `program` (`what` names it in the error): a path must be an
/// executable file; a bare name must be one in `path`'s directories. Checked before anything
/// starts, so that a bootstrap that cannot run is the caller's error at once, not an
/// `Runtime.InvalidEntrypoint` for every invocation.
pub(crate) fn resolve_executable(
    what: &str,
    program: &Path,
    path: &std::ffi::OsStr,
) -> Result<PathBuf, String> {
    if program.components().count() > 1 || program.is_absolute() {
        if !program.exists() {
            return Err(format!("{what} {} does not exist", program.display()));
        }
        if !is_executable(program) {
            return Err(format!(
                "{what} {} is not an executable file (chmod +x?)",
                program.display()
            ));
        }
        return Ok(program.to_path_buf());
    }
    find_on_path(program, path).ok_or_else(|| {
        format!(
            "{what} '{}' is not an executable on PATH",
            program.display()
        )
    })
}

/// The first executable file named `program` in the directories of `path` (`PATH`'s form).
#[inline(never)]
pub(crate) fn find_on_path(program: &Path, path: &std::ffi::OsStr) -> Option<PathBuf> {
    path.as_bytes()
        .split(|&b| b == b':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(std::ffi::OsStr::from_bytes(dir)).join(program))
        .find(|p| is_executable(p))
}

/// A regular file that someone may execute.
pub(crate) fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How a reaped child ended, and its peak memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// Exit code or signal.
    pub status: crate::lifecycle::ExitStatus,
    /// Peak resident set size in KiB, from `wait4`'s rusage.
    pub max_rss_kib: u64,
}

/// Reaps `pid` if it has exited. Only ever this pid: never `waitpid(-1)`.
pub fn reap(pid: i32) -> io::Result<Option<Exit>> {
    let reaped = sys::reap(pid)?;
    if reaped.is_some() {
        abort_guard::remove(pid);
    }
    Ok(reaped.map(|r| Exit {
        status: if r.exited {
            crate::lifecycle::ExitStatus::Code(r.code)
        } else {
            crate::lifecycle::ExitStatus::Signal(r.code)
        },
        max_rss_kib: r.max_rss_kib,
    }))
}

/// The process groups of live children, for a process that aborts on panic (the release CLI):
/// no `Drop` runs then, so its panic hook kills them through [`abort_guard::kill_on_abort`]. Inert
/// unless [`abort_guard::guard_on_abort`] was called: the library, embedded, keeps no
/// process-wide state.
pub mod abort_guard {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    static ON: AtomicBool = AtomicBool::new(false);
    static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

    /// From now on, children's process groups are remembered until reaped.
    pub fn guard_on_abort() {
        ON.store(true, Ordering::Relaxed);
    }

    pub(super) fn add(pgid: i32) {
        if ON.load(Ordering::Relaxed) {
            if let Ok(mut groups) = GROUPS.lock() {
                groups.push(pgid);
            }
        }
    }

    pub(super) fn remove(pgid: i32) {
        if ON.load(Ordering::Relaxed) {
            if let Ok(mut groups) = GROUPS.lock() {
                groups.retain(|g| *g != pgid);
            }
        }
    }

    /// SIGKILL to every remembered group (from a panic hook: it never blocks on the lock).
    pub fn kill_on_abort() {
        if let Ok(groups) = GROUPS.try_lock() {
            for pgid in groups.iter() {
                let _ = super::kill_group(*pgid);
            }
        }
    }
}

/// SIGKILL to the process group `pgid`.
pub(crate) fn kill_group(pgid: i32) -> io::Result<()> {
    sys::kill_group(pgid, libc::SIGKILL)
}

/// `signal` to the process group `pgid`.
pub(crate) fn signal_group(pgid: i32, signal: crate::lifecycle::Signal) -> io::Result<()> {
    let signal = match signal {
        crate::lifecycle::Signal::Term => libc::SIGTERM,
        crate::lifecycle::Signal::Kill => libc::SIGKILL,
    };
    sys::kill_group(pgid, signal)
}

/// Walks `/proc` for the function's processes. Its buffers are kept between walks, so that once
/// they have grown a walk allocates nothing: a freeze walks every so often, and an invocation
/// allocates only its payloads.
#[derive(Debug, Default)]
pub(crate) struct ProcWalk {
    /// The path being read.
    path: String,
    /// A file's text.
    text: Vec<u8>,
    /// A directory's entries, as `getdents64(2)` writes them.
    entries: Vec<u8>,
    /// The threads of the process whose children are being read.
    tids: Vec<i32>,
    /// The children read last.
    kids: Vec<i32>,
    /// The processes whose children are still to be read.
    pending: Vec<i32>,
}

impl ProcWalk {
    /// Appends to `out` the processes `roots` and every descendant of theirs, each once, found
    /// through each thread's `/proc/PID/task/TID/children`: whatever their process group or
    /// session, so that a process that left its group with `setsid()` is still found while its
    /// parents live.
    pub(crate) fn tree(&mut self, roots: impl IntoIterator<Item = i32>, out: &mut Vec<i32>) {
        let first = out.len();
        for root in roots {
            if !out[first..].contains(&root) {
                out.push(root);
            }
        }
        self.descend(first, out);
    }

    /// Appends to `out` this process's children for which `known` is false, and their
    /// descendants: as a child subreaper, the orphans of its function's processes. Those that
    /// have exited are reaped here.
    pub(crate) fn adopted(&mut self, known: impl Fn(i32) -> bool, out: &mut Vec<i32>) {
        let first = out.len();
        self.read_children(None);
        for &pid in &self.kids {
            if !known(pid) && !matches!(sys::reap(pid), Ok(Some(_))) {
                out.push(pid);
            }
        }
        self.descend(first, out);
    }

    /// Appends to `out` the descendants of `out[first..]`.
    fn descend(&mut self, first: usize, out: &mut Vec<i32>) {
        self.pending.clear();
        self.pending.extend_from_slice(&out[first..]);
        while let Some(pid) = self.pending.pop() {
            self.read_children(Some(pid));
            for &child in &self.kids {
                // A pid seen twice (a reused pid, a race with exits) is walked once.
                if child > 1 && !out[first..].contains(&child) {
                    out.push(child);
                    self.pending.push(child);
                }
            }
        }
    }

    /// Reads into `kids` the children of process `pid` (this process for `None`), from every
    /// one of its threads.
    fn read_children(&mut self, pid: Option<i32>) {
        use std::fmt::Write;
        self.kids.clear();
        self.tids.clear();
        self.path.clear();
        let _ = match pid {
            Some(pid) => write!(self.path, "/proc/{pid}/task"),
            None => write!(self.path, "/proc/self/task"),
        };
        let Ok(dir) = File::open(&self.path) else {
            return;
        };
        let tids = &mut self.tids;
        let listed = sys::dir_names(&dir, &mut self.entries, |name| {
            if let Some(tid) = std::str::from_utf8(name).ok().and_then(|n| n.parse().ok()) {
                tids.push(tid);
            }
        });
        if listed.is_err() {
            return;
        }
        let dir_len = self.path.len();
        for &tid in &self.tids {
            self.path.truncate(dir_len);
            let _ = write!(self.path, "/{tid}/children");
            if read_into(&self.path, &mut self.text).is_ok() {
                let text = std::str::from_utf8(&self.text).unwrap_or("");
                self.kids.extend(
                    text.split_ascii_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
        }
    }

    /// The fields of `/proc/PID/stat` after the command (which may hold spaces and
    /// parentheses): state, ppid, pgrp, ...
    fn stat_fields(&mut self, pid: i32) -> Option<&str> {
        use std::fmt::Write;
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/stat");
        read_into(&self.path, &mut self.text).ok()?;
        let stat = std::str::from_utf8(&self.text).ok()?;
        stat.rsplit_once(") ").map(|(_, rest)| rest)
    }

    /// The process group of process `pid`, if it still exists.
    pub(crate) fn group_of(&mut self, pid: i32) -> Option<i32> {
        self.stat_fields(pid)?.split(' ').nth(2)?.parse().ok()
    }

    /// Whether process `pid` still runs: it exists and is not a zombie waiting to be reaped.
    pub(crate) fn is_running(&mut self, pid: i32) -> bool {
        let state = self
            .stat_fields(pid)
            .and_then(|fields| fields.chars().next());
        !matches!(state, None | Some('Z' | 'X'))
    }
}

/// Replaces `text` with the contents of the file at `path`.
#[inline(never)]
fn read_into(path: &str, text: &mut Vec<u8>) -> io::Result<()> {
    use std::io::Read;
    text.clear();
    File::open(path)?.read_to_end(text).map(drop)
}

/// Sends `signal` to each of `pids`.
pub(crate) fn signal_each(pids: &[i32], signal: libc::c_int) {
    for &pid in pids {
        let _ = sys::kill_pid(pid, signal);
    }
}

/// Freezes (SIGSTOP) or thaws (SIGCONT) the process group `pgid`.
pub(crate) fn freeze_group(pgid: i32, freeze: bool) -> io::Result<()> {
    sys::kill_group(pgid, if freeze { libc::SIGSTOP } else { libc::SIGCONT })
}

/// `/proc/<pid>/status`, opened once and re-read with `pread` for each REPORT: one syscall per
/// read instead of open, stat, several reads and close.
#[derive(Debug)]
pub(crate) struct PeakRss {
    status: File,
}

impl PeakRss {
    /// Opens the status file of process `pid`.
    pub(crate) fn open(pid: i32) -> io::Result<PeakRss> {
        Ok(PeakRss {
            status: File::open(format!("/proc/{pid}/status"))?,
        })
    }

    /// The process's peak resident set size in KiB (`VmHWM`), or `None` once it has exited.
    pub(crate) fn read(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        // The status file is about 1.5 KiB; VmHWM is in its first half.
        let mut buf = [0u8; 4096];
        let n = self.status.read_at(&mut buf, 0).ok()?;
        parse_vm_hwm(&buf[..n])
    }
}

/// The `VmHWM:` value of a status file's text, in KiB.
fn parse_vm_hwm(status: &[u8]) -> Option<u64> {
    let line = status
        .split(|b| *b == b'\n')
        .find(|l| l.starts_with(b"VmHWM:"))?;
    let digits = line[b"VmHWM:".len()..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit());
    let mut kib: u64 = 0;
    let mut any = false;
    for d in digits {
        kib = kib.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        any = true;
    }
    any.then_some(kib)
}

/// Variables Lambda reserves: a function may not set them (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>). The simulator sets those it
/// knows from its own options, so `--env` may not override these.
pub(crate) const RESERVED: &[(&str, &str)] = &[
    ("_HANDLER", "--handler"),
    ("AWS_REGION", "--region"),
    ("AWS_DEFAULT_REGION", "--region"),
    ("AWS_LAMBDA_FUNCTION_NAME", "--function-name"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "--memory"),
    ("AWS_LAMBDA_FUNCTION_VERSION", "--function-version"),
    ("AWS_LAMBDA_INITIALIZATION_TYPE", "--eager-init"),
    ("AWS_LAMBDA_LOG_GROUP_NAME", "--function-name"),
    ("AWS_LAMBDA_LOG_STREAM_NAME", "--seed"),
    ("AWS_LAMBDA_MAX_CONCURRENCY", "--max-concurrency"),
    ("AWS_LAMBDA_RUNTIME_API", "--runtime-api-addr"),
    ("LAMBDA_TASK_ROOT", "--task-root"),
    ("LAMBDA_RUNTIME_DIR", "--task-root"),
];

/// Lambda's default `PATH` (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>).
pub(crate) const LAMBDA_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";

/// The environment of a function's runtime (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FunctionEnv {
    /// `host:port` of the Runtime API, no scheme.
    pub runtime_api: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub version: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// `AWS_REGION` and `AWS_DEFAULT_REGION`.
    pub region: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream: String,
    /// `LAMBDA_TASK_ROOT`, and the runtime's working directory.
    pub task_root: String,
    /// `_HANDLER`, when there is one.
    pub handler: Option<String>,
    /// Managed Instances: `AWS_LAMBDA_MAX_CONCURRENCY`, the runtime's alone (RIE
    /// `internal/lambda-managed-instances/rapidcore/env/environment.go`).
    pub max_concurrency: Option<u32>,
    /// `--env` pairs, applied last.
    pub extra: Vec<(String, String)>,
    /// Lambda's environment only, nothing inherited (`--clean-env`).
    pub clean: bool,
}

impl FunctionEnv {
    /// The variables to set for a runtime started with `init_type`.
    pub(crate) fn runtime_vars(&self, init_type: InitType) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = Vec::with_capacity(24);
        let mut set = |k: &str, v: &str| push_var(&mut vars, k, v);
        if self.clean {
            // Lambda's unreserved defaults. With the host environment underneath they would
            // hide the host's PATH, so they only apply to a clean environment.
            set("PATH", LAMBDA_PATH);
            set("LANG", "en_US.UTF-8");
            set(
                "LD_LIBRARY_PATH",
                &format!(
                    "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:{0}:{0}/lib:/opt/lib",
                    self.task_root
                ),
            );
        }
        set("AWS_LAMBDA_RUNTIME_API", &self.runtime_api);
        set("AWS_LAMBDA_FUNCTION_NAME", &self.function_name);
        set("AWS_LAMBDA_FUNCTION_VERSION", &self.version);
        set(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            &self.memory_mb.to_string(),
        );
        set("AWS_REGION", &self.region);
        set("AWS_DEFAULT_REGION", &self.region);
        set(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            &format!("/aws/lambda/{}", self.function_name),
        );
        set("AWS_LAMBDA_LOG_STREAM_NAME", &self.log_stream);
        set("AWS_LAMBDA_INITIALIZATION_TYPE", init_type.as_str());
        set("LAMBDA_TASK_ROOT", &self.task_root);
        set("LAMBDA_RUNTIME_DIR", "/var/runtime");
        set("TZ", ":UTC");
        set("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR");
        if let Some(handler) = &self.handler {
            set("_HANDLER", handler);
        }
        if let Some(m) = self.max_concurrency {
            set("AWS_LAMBDA_MAX_CONCURRENCY", &m.to_string());
        }
        vars.extend(self.extra.iter().cloned());
        vars
    }

    /// The variables to set for an external extension: the runtime's, less those Lambda keeps
    /// from extensions (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>) and every `_`-prefixed one (rapid `AgentExecEnv`).
    pub(crate) fn extension_vars(&self, init_type: InitType) -> Vec<(String, String)> {
        let mut vars = self.runtime_vars(init_type);
        vars.retain(|(k, _)| !k.starts_with('_') && !EXTENSIONS_DO_NOT_GET.contains(&k.as_str()));
        vars
    }
}

/// Appends variable `k` with value `v`: one copy of the code for each of the variables above.
#[inline(never)]
fn push_var(vars: &mut Vec<(String, String)>, k: &str, v: &str) {
    vars.push((k.to_string(), v.to_string()));
}

/// What Lambda does not give extensions (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>, "Extensions API: environment variables");
/// nor do they inherit these from the simulator's own environment.
pub(crate) const EXTENSIONS_DO_NOT_GET: &[&str] = &[
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_MAX_CONCURRENCY",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
    "_AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_PORT",
    "_HANDLER",
];

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::ProcWalk;

    #[test]
    fn a_walk_finds_grandchildren_in_another_session_and_their_groups() {
        // A shell whose child leaves the session; the shell prints the child's pid.
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "setsid sleep 30 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(shell.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let grandchild: i32 = line.trim().parse().unwrap();
        let shell_pid = i32::try_from(shell.id()).unwrap();
        let mut walk = ProcWalk::default();
        // The second walk reuses the first's buffers and finds the same.
        for _ in 0..2 {
            let mut tree = vec![7];
            walk.tree([shell_pid, shell_pid], &mut tree);
            assert_eq!(
                tree[..2],
                [7, shell_pid],
                "what was there stays; a root once"
            );
            assert!(tree.contains(&grandchild), "{tree:?} lacks {grandchild}");
            assert_eq!(tree.len(), 3, "{tree:?}");
        }
        // `setsid` runs just after the fork that `$!` names.
        for _ in 0..200 {
            if walk.group_of(grandchild) == Some(grandchild) {
                break;
            }
            // A test waiting on another process, not the library.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            walk.group_of(grandchild),
            Some(grandchild),
            "setsid leads its group"
        );
        assert!(walk.is_running(grandchild));
        let _ = std::process::Command::new("kill")
            .arg(grandchild.to_string())
            .status();
        shell.wait().unwrap();
        assert!(!walk.is_running(shell_pid), "reaped: gone");
    }

    #[test]
    fn programs_are_checked_before_anything_starts() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("lambda-sim-exe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("bootstrap");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.join("plain");
        std::fs::write(&plain, "").unwrap();
        let path = |p: &str| std::ffi::OsString::from(p);
        let resolve =
            |program: &Path, p: &str| super::resolve_executable("bootstrap", program, &path(p));
        assert_eq!(resolve(&exe, "").unwrap(), exe);
        assert!(
            resolve(&plain, "")
                .unwrap_err()
                .contains("not an executable file")
        );
        assert!(
            resolve(&dir.join("missing"), "")
                .unwrap_err()
                .contains("does not exist")
        );
        let on_path = resolve(
            Path::new("bootstrap"),
            &format!("/nonexistent:{}", dir.display()),
        );
        assert_eq!(on_path.unwrap(), exe);
        assert!(
            resolve(Path::new("no-such-tool-xyz"), "/usr/bin")
                .unwrap_err()
                .contains("not an executable on PATH")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn usable_cpus_counts_the_affinity_mask() {
        // std's count also applies cgroup quotas, so it can only be lower; neither can pass
        // the CPUs the system has.
        let std_count = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
        let online = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let ours = crate::sys::usable_cpus();
        assert!(ours >= std_count, "{ours} < {std_count}");
        assert!(ours <= online, "{ours} > {online}");
    }

    #[test]
    fn peak_rss_is_read_from_vm_hwm() {
        let status = b"Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(1234));
        assert_eq!(parse_vm_hwm(b"VmHWM:\t kB\n"), None);
        assert_eq!(parse_vm_hwm(b"VmRSS:\t 1000 kB\n"), None);
    }

    #[test]
    fn peak_rss_of_this_process_is_reread_from_one_descriptor() {
        let rss = PeakRss::open(std::process::id() as i32).unwrap();
        let first = rss.read().unwrap();
        // Kept observable: an optimised build would otherwise drop the unused allocation.
        let grown = std::hint::black_box(vec![1u8; 8 << 20]);
        let second = rss.read().unwrap();
        assert!(first > 0);
        assert!(second >= first + 4096, "{first} KiB then {second} KiB");
        drop(grown);
    }

    use super::*;

    fn env(clean: bool) -> FunctionEnv {
        FunctionEnv {
            runtime_api: "127.0.0.1:9001".into(),
            function_name: "f".into(),
            version: "$LATEST".into(),
            memory_mb: 128,
            region: "us-east-1".into(),
            log_stream: "2026/11/26/[$LATEST]0123".into(),
            task_root: "/var/task".into(),
            handler: Some("app.handler".into()),
            max_concurrency: None,
            extra: vec![("MY_VAR".into(), "1".into())],
            clean,
        }
    }

    fn get<'a>(vars: &'a [(String, String)], k: &str) -> Option<&'a str> {
        vars.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn runtime_environment_is_lambdas() {
        let vars = env(false).runtime_vars(InitType::OnDemand);
        assert_eq!(get(&vars, "AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:9001"));
        assert_eq!(get(&vars, "AWS_LAMBDA_FUNCTION_NAME"), Some("f"));
        assert_eq!(get(&vars, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("128"));
        assert_eq!(
            get(&vars, "AWS_LAMBDA_LOG_GROUP_NAME"),
            Some("/aws/lambda/f")
        );
        assert_eq!(
            get(&vars, "AWS_LAMBDA_INITIALIZATION_TYPE"),
            Some("on-demand")
        );
        assert_eq!(get(&vars, "AWS_DEFAULT_REGION"), Some("us-east-1"));
        assert_eq!(get(&vars, "LAMBDA_TASK_ROOT"), Some("/var/task"));
        assert_eq!(get(&vars, "_HANDLER"), Some("app.handler"));
        assert_eq!(get(&vars, "TZ"), Some(":UTC"));
        assert_eq!(get(&vars, "MY_VAR"), Some("1"));
        // The host's PATH stays unless the environment is clean.
        assert_eq!(get(&vars, "PATH"), None);
        assert_eq!(
            get(&vars, "AWS_EXECUTION_ENV"),
            None,
            "not set for custom runtimes"
        );
        let clean = env(true).runtime_vars(InitType::ProvisionedConcurrency);
        assert_eq!(
            get(&clean, "PATH"),
            Some("/usr/local/bin:/usr/bin/:/bin:/opt/bin")
        );
        assert_eq!(
            get(&clean, "AWS_LAMBDA_INITIALIZATION_TYPE"),
            Some("provisioned-concurrency")
        );
    }

    #[test]
    fn extensions_get_the_reduced_environment() {
        let mut e = env(true);
        e.extra.push(("_PRIVATE".into(), "x".into()));
        let vars = e.extension_vars(InitType::OnDemand);
        for kept_out in [
            "_HANDLER",
            "_PRIVATE",
            "LAMBDA_TASK_ROOT",
            "LAMBDA_RUNTIME_DIR",
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_XRAY_CONTEXT_MISSING",
        ] {
            assert_eq!(get(&vars, kept_out), None, "{kept_out}");
        }
        assert_eq!(get(&vars, "AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:9001"));
        assert_eq!(get(&vars, "AWS_LAMBDA_FUNCTION_NAME"), Some("f"));
        assert_eq!(get(&vars, "AWS_REGION"), Some("us-east-1"));
        assert_eq!(
            get(&vars, "MY_VAR"),
            Some("1"),
            "the function's own variables"
        );
        assert_eq!(
            get(&vars, "AWS_LAMBDA_INITIALIZATION_TYPE"),
            Some("on-demand")
        );
    }

    #[test]
    fn spawn_reap_and_kill() {
        let launch = |script: &str| Launch {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            cwd: std::env::temp_dir(),
            env: vec![("LS_TEST".into(), "x".into())],
            remove: Vec::new(),
            clean_env: true,
            poll_exit: false,
        };
        let child = spawn(&launch("echo \"$LS_TEST\"; exit 3")).unwrap();
        let exit = loop {
            if let Some(exit) = reap(child.pid).unwrap() {
                break exit;
            }
            std::thread::yield_now();
        };
        assert_eq!(exit.status, crate::lifecycle::ExitStatus::Code(3));
        assert!(child.pidfd.is_some(), "Linux 5.3+ gives a pidfd");
        let mut out = String::new();
        std::io::Read::read_to_string(&mut &child.stdout, &mut out).unwrap();
        assert_eq!(out, "x\n");

        let child = spawn(&launch("sleep 30")).unwrap();
        let rss = PeakRss::open(child.pid).unwrap();
        assert!(rss.read().is_some_and(|kib| kib > 0));
        kill_group(child.pid).unwrap();
        let exit = loop {
            if let Some(exit) = reap(child.pid).unwrap() {
                break exit;
            }
            std::thread::yield_now();
        };
        assert_eq!(exit.status, crate::lifecycle::ExitStatus::Signal(9));
        // Killing a group that is gone is fine; killing group 0 or 1 is refused.
        kill_group(child.pid).unwrap();
        assert!(kill_group(1).is_err());

        let polled = spawn(&Launch {
            poll_exit: true,
            ..launch("exit 0")
        })
        .unwrap();
        assert!(polled.pidfd.is_none());
        while reap(polled.pid).unwrap().is_none() {
            std::thread::yield_now();
        }

        let missing = Launch {
            program: "/nonexistent/bootstrap".into(),
            ..launch("")
        };
        assert_eq!(
            spawn(&missing).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
    }

    /// Reads a child's stdout to its end.
    fn output(child: &Spawned) -> String {
        sys::set_blocking(&child.stdout).unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut &child.stdout, &mut out).unwrap();
        while reap(child.pid).unwrap().is_none() {
            std::thread::yield_now();
        }
        out
    }

    #[test]
    fn a_child_starts_with_no_blocked_signals_sigpipe_at_default_and_no_stdin() {
        // Block a signal here, as the CLI blocks SIGTERM (and others) for its signalfd; Rust
        // itself ignores SIGPIPE. The child must inherit neither.
        let _fd = sys::signalfd(&[libc::SIGUSR1]).unwrap();
        let script = "grep -E '^Sig(Blk|Ign)' /proc/self/status; cat; echo \"stdin ended\"";
        let child = spawn(&Launch {
            // A bare name, found on PATH.
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            cwd: std::env::temp_dir(),
            env: Vec::new(),
            remove: Vec::new(),
            clean_env: false,
            poll_exit: false,
        })
        .unwrap();
        let out = output(&child);
        let mask = |name: &str| {
            let line = out.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        // `sh` runs `grep` with what it was given: nothing blocked.
        assert_eq!(mask("SigBlk:"), 0, "{out}");
        let sigpipe = 1 << (libc::SIGPIPE - 1);
        assert_eq!(mask("SigIgn:") & sigpipe, 0, "{out}");
        assert!(out.ends_with("stdin ended\n"), "{out}");
    }

    #[test]
    fn the_environment_is_inherited_less_what_is_removed_plus_what_is_set() {
        let child = spawn(&Launch {
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                "echo \"$0|${HOME-unset}|$PATH|$LS_SET|$(pwd)\"".into(),
            ],
            cwd: "/".into(),
            env: vec![
                ("LS_SET".into(), "a=b c".into()),
                ("PATH".into(), "/usr/bin:/bin".into()),
            ],
            remove: vec!["HOME"],
            clean_env: false,
            poll_exit: false,
        })
        .unwrap();
        // argv[0] is the program as given; a variable set over an inherited one replaces it.
        assert_eq!(output(&child), "/bin/sh|unset|/usr/bin:/bin|a=b c|/\n");
        // A bare name that is on no directory of PATH is not found, before any fork.
        let err = spawn(&Launch {
            program: "lambda-sim-no-such-program".into(),
            args: Vec::new(),
            cwd: "/".into(),
            env: Vec::new(),
            remove: Vec::new(),
            clean_env: false,
            poll_exit: false,
        })
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        // A working directory that is not there fails the spawn, saying where.
        let err = spawn(&Launch {
            program: "/bin/sh".into(),
            args: Vec::new(),
            cwd: "/nonexistent/lambda-sim".into(),
            env: Vec::new(),
            remove: Vec::new(),
            clean_env: true,
            poll_exit: false,
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("chdir: "), "{err}");
    }
}

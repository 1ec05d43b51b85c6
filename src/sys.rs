//! The operating system's calls, and every `unsafe` block in lambda-sim: thin wrappers around
//! libc, each with its reason. Spawning children (fork, exec, process groups,
//! `PR_SET_PDEATHSIG`), signalling and reaping them (kill, pidfd, waitid), the reactor's timerfd,
//! the CLI's signalfd, the seed from `getrandom`, the descriptor limit, the CPU affinity mask,
//! a thread's CPU clock and listing a directory without allocating. Callers see safe functions
//! only.
//!
//! Linux only; pidfd (5.3+) where the kernel has it.
#![allow(unsafe_code)]

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A program to run, with everything `execve(2)` needs made ready before the fork: the child
/// then allocates nothing and calls only async-signal-safe functions, as it must when the
/// parent has other threads.
pub(crate) struct Exec {
    program: CString,
    cwd: CString,
    /// Keeps the strings `argv` and `envp` point into alive.
    _strings: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

impl Exec {
    /// `program` (a path) with `args` (`argv[0]` first) and `env` (`KEY=VALUE` each), in `cwd`.
    /// Fails on a NUL byte in any of them.
    pub(crate) fn new(
        program: &OsStr,
        args: &[&OsStr],
        env: &[Vec<u8>],
        cwd: &OsStr,
    ) -> io::Result<Exec> {
        let c = |bytes: &[u8]| {
            CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte"))
        };
        let argv: Vec<CString> = args
            .iter()
            .map(|a| c(a.as_bytes()))
            .collect::<io::Result<_>>()?;
        let envp: Vec<CString> = env.iter().map(|e| c(e)).collect::<io::Result<_>>()?;
        // Each pointer's CString moves into `_strings` below; moving a CString does not move
        // the bytes it owns, so the pointers stay valid.
        let pointers = |strings: &[CString]| {
            let mut ptrs: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
            ptrs.push(std::ptr::null());
            ptrs
        };
        let (argv_ptrs, envp_ptrs) = (pointers(&argv), pointers(&envp));
        let mut strings = argv;
        strings.extend(envp);
        Ok(Exec {
            program: c(program.as_bytes())?,
            cwd: c(cwd.as_bytes())?,
            _strings: strings,
            argv: argv_ptrs,
            envp: envp_ptrs,
        })
    }
}

/// A child just started: its pid, and the read ends of its stdout and stderr.
pub(crate) struct Started {
    pub(crate) pid: i32,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
}

/// What failed in the child before `execve` replaced it, as it reports it.
const STEP_NAMES: [&str; 5] = [
    "dup2",
    "setpgid",
    "prctl(PR_SET_PDEATHSIG)",
    "chdir",
    "execve",
];

/// Starts `exec` in a new process group, stdin from /dev/null, stdout and stderr piped, with
/// an empty signal mask and SIGPIPE at its default (as `std::process::Command` leaves them),
/// and tied to the calling thread: `PR_SET_PDEATHSIG` kills the child with SIGKILL when that
/// thread ends, so a simulator killed outright leaves no runtime behind. An `execve` that
/// fails (a missing program, an interpreter that is not there, ...) is this call's error.
pub(crate) fn spawn_tied_to_parent(exec: &Exec) -> io::Result<Started> {
    let devnull = c"/dev/null";
    // SAFETY: a NUL-terminated path and integer flags.
    let null = check(unsafe { libc::open(devnull.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    let null = unsafe { OwnedFd::from_raw_fd(null) };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    // The child writes here why it could not exec; a successful exec closes it (CLOEXEC).
    let (report_r, report_w) = pipe()?;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: fork has no memory preconditions. The child runs only `exec_child`, which calls
    // async-signal-safe functions on memory prepared before the fork, then execs or exits.
    let pid = check(unsafe { libc::fork() })?;
    if pid == 0 {
        let fds = [null.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()];
        exec_child(exec, fds, report_w.as_raw_fd(), parent);
    }
    drop((null, out_w, err_w, report_w));
    let mut report = [0u8; 8];
    let mut got = 0;
    while got < report.len() {
        // SAFETY: the buffer's remaining bytes are writable for the length given.
        let n = unsafe {
            libc::read(
                report_r.as_raw_fd(),
                report[got..].as_mut_ptr().cast(),
                report.len() - got,
            )
        };
        match n {
            0 => break,
            n if n > 0 => got += n as usize,
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => return Err(io::Error::last_os_error()),
        }
    }
    if got == 0 {
        return Ok(Started {
            pid,
            stdout: out_r,
            stderr: err_r,
        });
    }
    // The child failed before exec and has exited (or is about to): reap it now.
    let mut status = 0;
    // SAFETY: a pointer to a live local.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
    let errno = i32::from_ne_bytes([report[0], report[1], report[2], report[3]]);
    let cause = io::Error::from_raw_os_error(errno);
    match STEP_NAMES.get(usize::from(report[4])) {
        // As execve reports it: Lambda's message for it reads "fork/exec PATH: <error>".
        Some(&"execve") | None => Err(cause),
        Some(step) => Err(io::Error::new(cause.kind(), format!("{step}: {cause}"))),
    }
}

/// The child's side of [`spawn_tied_to_parent`]: never returns. Only async-signal-safe calls,
/// no allocation, no locks (the parent's other threads may have held any at the fork).
fn exec_child(exec: &Exec, fds: [RawFd; 3], report: RawFd, parent: libc::pid_t) -> ! {
    let fail = |step: u8| -> ! {
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let e = errno.to_ne_bytes();
        let message = [e[0], e[1], e[2], e[3], step, 0, 0, 0];
        // SAFETY: write and _exit are async-signal-safe; the buffer is a live local.
        unsafe {
            libc::write(report, message.as_ptr().cast(), message.len());
            libc::_exit(127)
        }
    };
    // SAFETY: every call below is async-signal-safe, on descriptors and NUL-terminated strings
    // prepared before the fork, and pointer arrays ending in NULL (`Exec::new`).
    unsafe {
        for (target, fd) in fds.into_iter().enumerate() {
            let target = target as RawFd;
            // dup2 clears close-on-exec on the copy; a descriptor already in place keeps it.
            let ok = if fd == target {
                libc::fcntl(fd, libc::F_SETFD, 0) == 0
            } else {
                libc::dup2(fd, target) == target
            };
            if !ok {
                fail(0);
            }
        }
        if libc::setpgid(0, 0) != 0 {
            fail(1);
        }
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            fail(2);
        }
        // The parent may have died before prctl took effect: then nobody would kill us.
        if libc::getppid() != parent {
            libc::_exit(127);
        }
        if libc::chdir(exec.cwd.as_ptr()) != 0 {
            fail(3);
        }
        // The CLI blocks SIGTERM, SIGINT, SIGHUP and SIGQUIT to read them from a signalfd,
        // and Rust ignores SIGPIPE: the function gets neither.
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::execve(
            exec.program.as_ptr(),
            exec.argv.as_ptr(),
            exec.envp.as_ptr(),
        );
        fail(4)
    }
}

/// A pipe, both ends close-on-exec.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just returned both descriptors; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The CPU time thread `thread` of this process has used, user and system
/// (`pthread_getcpuclockid(3)`, then `clock_gettime(2)`: nanoseconds, current to the call).
pub(crate) fn thread_cpu_time(thread: libc::pthread_t) -> io::Result<std::time::Duration> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `thread` comes from a JoinHandle the caller still holds, so the thread has not
    // been joined and its id is valid; `clock` is a valid place for the result.
    let rc = unsafe { libc::pthread_getcpuclockid(thread, &mut clock) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock` is the clock id just given; `ts` is a valid place for the result.
    check(unsafe { libc::clock_gettime(clock, &mut ts) })?;
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(ts.tv_nsec).unwrap_or(0);
    Ok(std::time::Duration::new(secs, nanos))
}

/// How many CPUs this process may run on (`sched_getaffinity(2)`); 1 if the call fails.
pub(crate) fn usable_cpus() -> usize {
    // SAFETY: cpu_set_t is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is this thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return 1;
    }
    // SAFETY: `set` was filled in by the kernel just above.
    (unsafe { libc::CPU_COUNT(&set) }).max(1) as usize
}

/// A file descriptor that becomes readable when process `pid` exits (`pidfd_open(2)`).
pub(crate) fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// How a reaped child ended: `(true, code)` for an exit, `(false, signal)` for a signal,
/// and its peak resident set in KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reaped {
    pub(crate) exited: bool,
    pub(crate) code: i32,
    pub(crate) max_rss_kib: u64,
}

/// Reaps child `pid` if it has exited (`wait4` with `WNOHANG`), never any other process: the
/// library never calls `waitpid(-1)`, so other simulators and the host program keep their
/// children.
pub(crate) fn reap(pid: i32) -> io::Result<Option<Reaped>> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals of the right types for the duration of the call.
    let ret = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
    match ret {
        0 => Ok(None),
        r if r < 0 => Err(io::Error::last_os_error()),
        _ => {
            let exited = libc::WIFEXITED(status);
            let code = if exited {
                libc::WEXITSTATUS(status)
            } else {
                libc::WTERMSIG(status)
            };
            Ok(Some(Reaped {
                exited,
                code,
                max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
            }))
        }
    }
}

/// Sends `signal` to every process in group `pgid`. A group that is already gone is not an error.
pub(crate) fn kill_group(pgid: i32, signal: libc::c_int) -> io::Result<()> {
    if pgid <= 1 {
        // Never signal "every process we can" (-1) or our own group (0) by mistake.
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: kill takes plain integers.
    match check(unsafe { libc::kill(-pgid, signal) }) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other.map(drop),
    }
}

/// Calls `each` with the name of every entry of the open directory `dir` but `.` and `..`, read
/// with `getdents64(2)` into `buf`. `buf` is kept by the caller, so that once it has grown a
/// listing allocates nothing (`std::fs::read_dir` allocates for the iterator and each entry).
pub(crate) fn dir_names(
    dir: &std::fs::File,
    buf: &mut Vec<u8>,
    mut each: impl FnMut(&[u8]),
) -> io::Result<()> {
    // struct linux_dirent64: d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1), d_name.
    const NAME_AT: usize = 19;
    if buf.len() < 4096 {
        buf.resize(4096, 0);
    }
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call,
        // and the kernel writes at most that many; the descriptor is borrowed from a live File.
        let read = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        let read = match usize::try_from(read) {
            Ok(0) => return Ok(()),
            Ok(read) => read.min(buf.len()),
            Err(_) => return Err(io::Error::last_os_error()),
        };
        let mut entries = &buf[..read];
        while entries.len() >= NAME_AT {
            let len = usize::from(u16::from_ne_bytes([entries[16], entries[17]]));
            if len < NAME_AT || len > entries.len() {
                return Err(io::Error::from(io::ErrorKind::InvalidData));
            }
            let name = &entries[NAME_AT..len];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if name != b"." && name != b".." {
                each(name);
            }
            entries = &entries[len..];
        }
    }
}

/// Sends `signal` to process `pid`. A process that is already gone is not an error.
pub(crate) fn kill_pid(pid: i32, signal: libc::c_int) -> io::Result<()> {
    if pid <= 1 {
        // Never a group, every process, or init by mistake.
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: kill takes plain integers.
    match check(unsafe { libc::kill(pid, signal) }) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other.map(drop),
    }
}

/// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`): orphans among its
/// descendants become its children, not init's, so that none escapes its reach.
pub(crate) fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }).map(drop)
}

/// Whether this process is a child subreaper.
pub(crate) fn is_child_subreaper() -> bool {
    let mut flag: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one int through the pointer, which is live.
    let ret = unsafe {
        libc::prctl(
            libc::PR_GET_CHILD_SUBREAPER,
            &mut flag as *mut libc::c_int,
            0,
            0,
            0,
        )
    };
    ret == 0 && flag != 0
}

/// Puts a descriptor in non-blocking mode (`O_NONBLOCK` on its open file description).
pub(crate) fn set_nonblocking(fd: &impl AsRawFd) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

/// Waits up to `timeout_ms` for `fd` to become readable (a pidfd: for its process to exit).
pub(crate) fn wait_readable(fd: &impl AsRawFd, timeout_ms: i32) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, and its count.
    let n = check(unsafe { libc::poll(&mut pfd, 1, timeout_ms) })?;
    Ok(n > 0)
}

/// Takes a descriptor out of non-blocking mode.
pub(crate) fn set_blocking(fd: &impl AsRawFd) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) })?;
    Ok(())
}

/// Random bytes from the kernel, for seeding ids when no `--seed` is given.
pub(crate) fn os_random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most `buf.len()` bytes into the buffer we pass.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n == buf.len() as isize {
        u64::from_ne_bytes(buf)
    } else {
        // No entropy source: fall back on what differs between runs.
        let t = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .map_or(0, |d| d.as_nanos() as u64);
        t ^ u64::from(std::process::id()).rotate_left(32)
    }
}

/// Blocks `signals` for this thread (and threads it creates later) and returns a signalfd that
/// reads them. For the CLI only: the library installs no process-wide signal handling.
/// Children start with an empty signal mask (std resets it before exec).
pub(crate) fn signalfd(signals: &[libc::c_int]) -> io::Result<OwnedFd> {
    // SAFETY: sigset_t is plain data and sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live, writable sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for &sig in signals {
        // SAFETY: as above; sig is a valid signal number from libc's constants.
        check(unsafe { libc::sigaddset(&mut set, sig) })?;
    }
    // SAFETY: `set` is initialised; the old-mask pointer may be null.
    let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    // SAFETY: `set` is initialised; -1 asks for a new descriptor.
    let fd = check(unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) })?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one pending signal from a signalfd, if any.
pub(crate) fn read_signal(fd: &OwnedFd) -> io::Result<Option<i32>> {
    // SAFETY: signalfd_siginfo is plain data; all-zero is valid.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: we pass a writable buffer of exactly `size` bytes.
    let n = unsafe {
        libc::read(
            fd.as_raw_fd(),
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            size,
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock {
            Ok(None)
        } else {
            Err(e)
        };
    }
    Ok((n as usize == size).then_some(info.ssi_signo as i32))
}

/// Raises this process's open-file soft limit to its hard limit; returns the new soft limit.
/// Thousands of parked long polls need thousands of descriptors.
pub fn raise_fd_limit() -> io::Result<u64> {
    let mut lim = nofile_limits()?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit whose soft limit does not exceed its hard limit.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    }
    Ok(lim.rlim_cur)
}

/// This process's open-file soft limit (`RLIMIT_NOFILE`).
pub(crate) fn open_file_limit() -> io::Result<u64> {
    Ok(nofile_limits()?.rlim_cur)
}

/// The soft and hard `RLIMIT_NOFILE`.
fn nofile_limits() -> io::Result<libc::rlimit> {
    // SAFETY: rlimit is plain data; getrlimit fills it in.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `lim` is a live, writable rlimit.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    Ok(lim)
}

/// A non-blocking `CLOCK_MONOTONIC` timerfd, disarmed. The reactor's deadlines arm it instead
/// of bounding each `epoll_wait`: arming a kernel timer on every wait (and cancelling it on
/// every wake) costs microseconds per turn in a virtual machine.
pub(crate) fn timerfd() -> io::Result<OwnedFd> {
    // SAFETY: plain system call with constant flags.
    let fd = check(unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    })?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arms `timer` to fire once, `after` from now (at least a nanosecond: zero would disarm it).
pub(crate) fn arm_timerfd(timer: &OwnedFd, after: std::time::Duration) -> io::Result<()> {
    let after = after.max(std::time::Duration::from_nanos(1));
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: after.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: libc::c_long::from(after.subsec_nanos() as i32),
        },
    };
    // SAFETY: `spec` is a valid itimerspec; the old-value pointer may be null.
    check(unsafe { libc::timerfd_settime(timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) })?;
    Ok(())
}

/// Consumes a fired timerfd's expiration count, so that it stops being readable.
pub(crate) fn clear_timerfd(timer: &OwnedFd) {
    let mut count = [0u8; 8];
    // SAFETY: we pass a writable buffer of exactly 8 bytes, the size of the count. The result
    // is ignored: "would block" just means it had not fired.
    let _ = unsafe { libc::read(timer.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
}

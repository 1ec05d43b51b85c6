//! Every `unsafe` call in lambda-sim: thin wrappers around libc, each with its reason.
//!
//! Linux only: `PR_SET_PDEATHSIG`, signalfd, timerfd; pidfd (5.3+) where the kernel has it.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Spawns `cmd` so that the child dies with the thread that spawned it
/// (`PR_SET_PDEATHSIG`, SIGKILL): a simulator killed outright leaves no runtime behind.
pub(crate) fn spawn_tied_to_parent(cmd: &mut Command) -> io::Result<Child> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // calls are allowed: prctl and getppid are plain system calls, and the closure neither
    // allocates nor takes locks.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect: then nobody would kill us.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        })
    };
    cmd.spawn()
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
pub fn os_random_u64() -> u64 {
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
pub fn signalfd(signals: &[libc::c_int]) -> io::Result<OwnedFd> {
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
pub fn read_signal(fd: &OwnedFd) -> io::Result<Option<i32>> {
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
    // SAFETY: rlimit is plain data; getrlimit fills it in.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `lim` is a live, writable rlimit.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit whose soft limit does not exceed its hard limit.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    }
    Ok(lim.rlim_cur)
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

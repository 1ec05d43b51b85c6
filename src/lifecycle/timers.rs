//! The core's timers: a fixed table indexed by what they are for (quinn-proto's `TimerTable`).

use crate::time::Micros;

/// What a deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The init limit passes: the init fails with `Sandbox.Timedout` and the environment resets.
    Init = 0,
    /// The function timeout passes: the invoker gets `Sandbox.Timedout` and the environment resets.
    Invoke = 1,
    /// A stopping runtime's share of the shutdown budget ends: SIGKILL, then the extensions'
    /// turn.
    StopRuntime = 2,
    /// A stop's deadline: whatever still runs is killed and the stop completes.
    Stop = 3,
}

const COUNT: usize = 4;

/// When each timer fires, if it is armed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TimerTable([Option<Micros>; COUNT]);

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Micros) {
        self.0[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.0[timer as usize] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Micros> {
        self.0[timer as usize]
    }

    /// Whether `timer` is armed and due at `now`.
    pub(crate) fn is_due(&self, timer: Timer, now: Micros) -> bool {
        self.get(timer).is_some_and(|at| at <= now)
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Micros> {
        self.0.iter().flatten().min().copied()
    }
}

//! Channels between the embedding API's threads and the reactor: a queue behind a mutex, and a
//! condition variable for the one receiver.
//!
//! The subset of `std::sync::mpsc` that lambda-sim uses, with its error types. std's channels
//! are three implementations behind one type, all compiled for every message type; with three
//! message types that came to 30 KB of a binary meant to stay under 1 MB. These carry a few
//! messages per invocation, so a mutex costs nothing measurable.

use std::collections::VecDeque;
use std::fmt;
pub(crate) use std::sync::mpsc::{
    RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError,
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    receiver: bool,
    /// `sync_channel`'s capacity: `try_send` refuses past it.
    bound: Option<usize>,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Signalled on every message, and when the last sender goes.
    changed: Condvar,
}

impl<T> Shared<T> {
    #[inline(never)]
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves the queue intact: go on with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn new<T>(bound: Option<usize>) -> (Arc<Shared<T>>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            receiver: true,
            bound,
        }),
        changed: Condvar::new(),
    });
    let receiver = Receiver {
        shared: Arc::clone(&shared),
    };
    (shared, receiver)
}

/// An unbounded channel.
#[inline(never)]
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (shared, receiver) = new(None);
    (Sender { shared }, receiver)
}

/// A channel that holds at most `bound` messages: `try_send` refuses more.
pub(crate) fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let (shared, receiver) = new(Some(bound));
    (SyncSender { shared }, receiver)
}

/// The sending side of [`channel`]; clones send to the same receiver.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The sending side of [`sync_channel`].
pub(crate) struct SyncSender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving side.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

fn push<T>(shared: &Shared<T>, message: T) -> Result<(), TrySendError<T>> {
    let mut state = shared.lock();
    if !state.receiver {
        return Err(TrySendError::Disconnected(message));
    }
    if state.bound.is_some_and(|bound| state.queue.len() >= bound) {
        return Err(TrySendError::Full(message));
    }
    state.queue.push_back(message);
    drop(state);
    shared.changed.notify_one();
    Ok(())
}

fn add_sender<T>(shared: &Arc<Shared<T>>) -> Arc<Shared<T>> {
    shared.lock().senders += 1;
    Arc::clone(shared)
}

fn remove_sender<T>(shared: &Shared<T>) {
    let mut state = shared.lock();
    state.senders -= 1;
    let last = state.senders == 0;
    drop(state);
    if last {
        shared.changed.notify_all();
    }
}

impl<T> Sender<T> {
    /// Queues `message`; fails, giving it back, once the receiver is gone.
    pub(crate) fn send(&self, message: T) -> Result<(), SendError<T>> {
        push(&self.shared, message).map_err(|e| match e {
            TrySendError::Full(m) | TrySendError::Disconnected(m) => SendError(m),
        })
    }
}

impl<T> SyncSender<T> {
    /// Queues `message` if there is room and a receiver.
    pub(crate) fn try_send(&self, message: T) -> Result<(), TrySendError<T>> {
        push(&self.shared, message)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            shared: add_sender(&self.shared),
        }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender {
            shared: add_sender(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        remove_sender(&self.shared);
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        remove_sender(&self.shared);
    }
}

impl<T> Receiver<T> {
    /// The next message without waiting.
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = self.shared.lock();
        match state.queue.pop_front() {
            Some(message) => Ok(message),
            None if state.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// The next message, waiting for it; fails once every sender is gone and the queue is empty.
    pub(crate) fn recv(&self) -> Result<T, RecvError> {
        let state = self.shared.lock();
        let mut state = self
            .shared
            .changed
            .wait_while(state, |s| s.queue.is_empty() && s.senders > 0)
            .unwrap_or_else(PoisonError::into_inner);
        state.queue.pop_front().ok_or(RecvError)
    }

    /// The next message, waiting at most `timeout` for it.
    pub(crate) fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let state = self.shared.lock();
        let (mut state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, timeout, |s| s.queue.is_empty() && s.senders > 0)
            .unwrap_or_else(PoisonError::into_inner);
        match state.queue.pop_front() {
            Some(message) => Ok(message),
            None if state.senders == 0 => Err(RecvTimeoutError::Disconnected),
            None => Err(RecvTimeoutError::Timeout),
        }
    }

    /// Every message queued now, without waiting.
    pub(crate) fn try_iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver = false;
        // What nobody will read goes now, not when the last sender does.
        let queued = std::mem::take(&mut state.queue);
        drop(state);
        drop(queued);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SyncSender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // The tests sleep to let a receiver start waiting.
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn messages_come_in_order_then_disconnection() {
        let (tx, rx) = channel();
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        tx2.send(2).unwrap();
        drop(tx);
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "tx2 is alive");
        drop(tx2);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(rx.recv(), Err(RecvError));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(RecvTimeoutError::Disconnected)
        );
    }

    #[test]
    fn what_was_sent_before_the_last_sender_left_is_still_received() {
        let (tx, rx) = channel();
        tx.send("a").unwrap();
        drop(tx);
        assert_eq!(rx.recv_timeout(Duration::ZERO), Ok("a"));
        assert_eq!(rx.recv(), Err(RecvError));
    }

    #[test]
    fn sending_to_a_dropped_receiver_gives_the_message_back() {
        let (tx, rx) = channel();
        let (stx, srx) = sync_channel(1);
        drop((rx, srx));
        assert_eq!(tx.send(7), Err(SendError(7)));
        assert_eq!(stx.try_send(8), Err(TrySendError::Disconnected(8)));
    }

    #[test]
    fn a_bounded_channel_refuses_past_its_bound() {
        let (tx, rx) = sync_channel(2);
        assert_eq!(tx.try_send(1), Ok(()));
        assert_eq!(tx.try_send(2), Ok(()));
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(tx.try_send(4), Ok(()));
        assert_eq!(rx.recv(), Ok(4));
    }

    #[test]
    fn recv_timeout_times_out_on_an_empty_channel() {
        let (_tx, rx) = channel::<u8>();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout)
        );
    }

    #[test]
    fn a_waiting_receiver_wakes_for_a_message_and_for_the_last_sender() {
        let (tx, rx) = channel();
        let waiting = thread::spawn(move || {
            let first = rx.recv();
            let second = rx.recv_timeout(Duration::from_secs(30));
            (first, second)
        });
        thread::sleep(Duration::from_millis(20));
        tx.send(1).unwrap();
        thread::sleep(Duration::from_millis(20));
        drop(tx);
        let (first, second) = waiting.join().unwrap();
        assert_eq!(first, Ok(1));
        assert_eq!(second, Err(RecvTimeoutError::Disconnected));
    }

    #[test]
    fn many_senders_on_many_threads_lose_nothing() {
        let (tx, rx) = channel();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..10_000 {
                        tx.send(t * 10_000 + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut seen = Vec::new();
        while let Ok(n) = rx.recv() {
            seen.push(n);
        }
        for t in threads {
            t.join().unwrap();
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..40_000).collect::<Vec<_>>());
    }
}

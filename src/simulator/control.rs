//! The handle's side of the reactor: the commands an embedding [`Handle`](crate::Handle) sends,
//! and the replies it waits for.

use std::sync::Arc;

use mio::Waker;

use super::results::{Awaited, InvocationReport, InvokeResponse, State, TelemetryCapture};
use crate::lifecycle::InvokeRequest;
use crate::mailbox as mpsc;

/// A test on a captured event, for `Handle::wait_for_event`.
pub(crate) struct EventTest(pub(crate) Box<dyn FnMut(&serde_json::Value) -> bool + Send>);

impl std::fmt::Debug for EventTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventTest")
    }
}

/// What the reactor sends back to the embedding handle. One type for every answer: each
/// channel type is another instance of the mailbox, which the 1 MB binary notices.
#[derive(Debug)]
pub(crate) enum Reply {
    Response(InvokeResponse),
    State(State),
    /// `None` for an invocation that never reached the runtime.
    Report(Option<InvocationReport>),
    Telemetry(TelemetryCapture),
    Event(serde_json::Value),
    Outcomes(Vec<InvokeResponse>),
    /// A piece of a streamed response, before its `Response`.
    Chunk(Vec<u8>),
}

/// What the embedding handle asks of the reactor.
pub(crate) enum Command {
    Invoke {
        request: InvokeRequest,
        reply: mpsc::Sender<Reply>,
        /// Where its report goes once it is complete; `None` is sent for an invocation that
        /// never reached the runtime.
        report: Option<mpsc::Sender<Reply>>,
        /// A streamed response's chunks go to `reply` as they come.
        stream: bool,
    },
    /// An `Event` invocation: answered at once (202, or the refusal); its outcome is kept.
    InvokeEvent {
        request: InvokeRequest,
        reply: mpsc::Sender<Reply>,
    },
    /// Answer with the outcome of `Event` invocation `.0`, kept or to come.
    EventOutcome(String, mpsc::Sender<Reply>),
    /// The kept outcomes of `Event` invocations.
    EventOutcomes(mpsc::Sender<Reply>),
    State(mpsc::Sender<Reply>),
    /// Answer with the state once it reaches `Awaited`.
    WaitFor(Awaited, mpsc::Sender<Reply>),
    /// The captured telemetry.
    Telemetry(mpsc::Sender<Reply>),
    /// Answer with the first captured event, past or future, that passes the test.
    WaitEvent(EventTest, mpsc::Sender<Reply>),
    Shutdown,
}

/// The handle's side of the reactor: a channel and a waker, so no wake-up is ever missed (the
/// waker's eventfd stays readable until the reactor has polled it).
#[derive(Clone, Debug)]
pub(crate) struct Control {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) waker: Arc<Waker>,
}

impl Control {
    /// Sends a command; `false` if the reactor is gone.
    pub(crate) fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok() && self.waker.wake().is_ok()
    }
}

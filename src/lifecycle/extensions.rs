//! The environment's registered extensions: who they are, what they subscribed to, and where
//! each one stands. The orderings that involve them live with the other transitions in the
//! parent module.

use std::collections::VecDeque;
use std::sync::Arc;

use super::types::{Action, Events, ExtensionEvent, ExtensionInfo, TelemetryApi, WaiterId};
use crate::id::Uuid;

/// An extension's state, as rapid names it (RIE `core/agent_state_names.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ExtState {
    /// Registered; its first `event/next` (the end of its init) is still to come.
    Registered,
    /// On `event/next`, or about to be: done with whatever came before.
    Ready,
    /// Working on an event it was given.
    Running,
    /// It posted `init/error`; nothing more succeeds.
    InitError,
    /// It posted `exit/error`; nothing more succeeds.
    ExitError,
}

impl ExtState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            ExtState::Registered => "Registered",
            ExtState::Ready => "Ready",
            ExtState::Running => "Running",
            ExtState::InitError => "InitError",
            ExtState::ExitError => "ExitError",
        }
    }

    /// Whether it reported an error, after which every call is refused.
    pub(super) fn failed(self) -> bool {
        matches!(self, ExtState::InitError | ExtState::ExitError)
    }
}

/// One registered extension. Its slot (index in the registry, at most
/// [`MAX_EXTENSIONS`](super::MAX_EXTENSIONS)) keys its per-invocation data.
#[derive(Debug)]
pub(super) struct Extension {
    pub(super) id: Uuid,
    pub(super) name: Arc<str>,
    pub(super) events: Events,
    /// Its index in `Config::extensions` when it is one of our processes; `None` for an
    /// internal extension (it runs inside the runtime's process).
    pub(super) external: Option<usize>,
    pub(super) state: ExtState,
    /// Its parked `event/next`, if one is.
    pub(super) waiter: Option<WaiterId>,
    /// An event it has not been given yet: released when it next calls `event/next`.
    pub(super) pending: Option<ExtensionEvent>,
    /// The API it subscribed through for the platform's records, if any.
    pub(super) subscribed: Option<TelemetryApi>,
}

impl Extension {
    /// Gives `event` to the extension now if it is parked, else at its next `event/next`.
    #[inline(never)]
    pub(super) fn deliver(&mut self, event: ExtensionEvent, actions: &mut VecDeque<Action>) {
        match self.waiter.take() {
            Some(waiter) => {
                self.state = ExtState::Running;
                actions.push_back(Action::ReleaseExtension { waiter, event });
            }
            None => self.pending = Some(event),
        }
    }

    pub(super) fn info(&self) -> ExtensionInfo {
        ExtensionInfo {
            name: self.name.to_string(),
            id: self.id.to_string(),
            external: self.external.is_some(),
            events: self.events,
            state: self.state.as_str(),
        }
    }
}

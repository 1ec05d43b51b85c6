//! The embedding API's side of the reactor: the commands a [`Handle`](crate::Handle) sends
//! (invocations, state queries, waits) and the callers waiting for a state, an event, a report
//! or an `Event` invocation's outcome.

use std::fmt::Write as _;

use crate::api::exchange::{Answer, Invoked, Waiter};
use crate::lifecycle::{EnvId, InvokeReply, PlatformEvent};
use crate::simulator::control::{Command, Reply};
use crate::simulator::results::{
    EnvState, InvocationReport, InvokeResponse, State, TelemetryCapture,
};
use crate::time::Micros;
use crate::{lifecycle, mailbox as mpsc};

use super::Reactor;
use super::environments::env_ids;

/// How many `Event` outcomes are kept for the embedding API.
const MAX_OUTCOMES: usize = 1000;

/// Where an embedded caller's answer goes.
#[derive(Debug)]
pub(super) struct TicketTx {
    pub(super) tx: mpsc::Sender<Reply>,
    /// The caller takes a streamed response's chunks as they come ([`Reply::Chunk`]).
    pub(super) stream: bool,
}

impl Reactor {
    pub(super) fn on_commands(&mut self, now: Micros) {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Invoke {
                    request,
                    reply,
                    report,
                    stream,
                }) => {
                    let key = self.tickets.insert(TicketTx { tx: reply, stream });
                    let invoker = Waiter::Ticket(key.to_u64());
                    match exchange!(self, now, EnvId(0)).invoke(invoker, request) {
                        Invoked::Queued(id) => {
                            if let Some(report) = report {
                                self.report_waiters.push((id, report));
                            }
                        }
                        Invoked::Answered(_, answer) => {
                            if let Some(report) = report {
                                let _ = report.send(Reply::Report(None));
                            }
                            if let Some(TicketTx { tx: reply, .. }) = self.tickets.remove(key) {
                                let response = self.answered_at_once(now, None, &answer);
                                let _ = reply.send(Reply::Response(response));
                            }
                        }
                    }
                    self.drain(now);
                }
                Ok(Command::InvokeEvent { request, reply }) => {
                    let response = match exchange!(self, now, EnvId(0)).invoke_event(request) {
                        Invoked::Answered(id, answer) => self.answered_at_once(now, id, &answer),
                        // Never: nobody waits for an `Event` invocation.
                        Invoked::Queued(id) => {
                            let accepted = Answer::Accepted(id);
                            self.answered_at_once(now, Some(id), &accepted)
                        }
                    };
                    let _ = reply.send(Reply::Response(response));
                    self.drain(now);
                }
                Ok(Command::EventOutcome(id, reply)) => {
                    // The last attempt's, once no retry is due.
                    let retrying = crate::id::Uuid::parse(&id)
                        .is_some_and(|rid| self.core.event_retry(rid).is_some());
                    match self.outcomes.iter().rfind(|o| o.request_id == id) {
                        Some(outcome) if !retrying => {
                            let _ = reply.send(Reply::Response(outcome.clone()));
                        }
                        _ => self.outcome_waiters.push((id, reply)),
                    }
                }
                Ok(Command::EventOutcomes(reply)) => {
                    let _ = reply.send(Reply::Outcomes(self.outcomes.iter().cloned().collect()));
                }
                Ok(Command::State(reply)) => {
                    let _ = reply.send(Reply::State(self.env_state()));
                }
                Ok(Command::WaitFor(awaited, reply)) => {
                    self.state_waiters.push((awaited, reply));
                    self.answer_state_waiters();
                }
                Ok(Command::Telemetry(reply)) => {
                    let capture = match self.hub.captured() {
                        Some(c) => TelemetryCapture {
                            events: c
                                .events()
                                .filter_map(|(_, e)| serde_json::from_slice(e).ok())
                                .collect(),
                            dropped: c.dropped,
                        },
                        None => TelemetryCapture::default(),
                    };
                    let _ = reply.send(Reply::Telemetry(capture));
                }
                Ok(Command::WaitEvent(test, reply)) => {
                    self.event_waiters.push((test, reply, 0));
                    self.answer_event_waiters();
                }
                // Later commands still count: a caller may wait for the shutdown's end.
                Ok(Command::Shutdown) => self.begin_shutdown(now),
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.begin_shutdown(now);
                    return;
                }
                Err(mpsc::TryRecvError::Empty) => return,
            }
        }
    }

    /// An embedded caller's answer to an invocation answered at once (refused, or an `Event`
    /// queued as `request_id`).
    fn answered_at_once(
        &self,
        now: Micros,
        request_id: Option<crate::id::RequestId>,
        answer: &Answer,
    ) -> InvokeResponse {
        let timings = lifecycle::Timings {
            received: now,
            responded: now,
            ..Default::default()
        };
        let id = request_id.map(|id| id.to_string()).unwrap_or_default();
        InvokeResponse::from_rendered(&answer.render(&self.ctx), id, timings)
    }

    fn env_state(&self) -> State {
        let core = &self.core;
        let environments = env_ids(self.envs.len())
            .map(|env| EnvState {
                runtime_api: self.envs[env.index()].addr,
                runtime_state: core.runtime_state(env),
                parked: core.parked(env),
                current: core.current_request(env).map(|id| id.to_string()),
                in_flight: core.in_flight(env),
                extensions: core.extensions(env),
                initialized: core.is_initialized(env),
                idle: core.is_idle(env),
                frozen: core.is_frozen(env),
            })
            .collect();
        State {
            queued: core.queued(),
            environments,
            shut_down: core.is_finished(),
        }
    }

    /// Answers the embedded callers whose awaited state has been reached. Called after every
    /// drain, so a state that holds only between two inputs is seen.
    pub(super) fn answer_state_waiters(&mut self) {
        if self.state_waiters.is_empty() {
            return;
        }
        let state = self.env_state();
        self.state_waiters.retain(|(awaited, reply)| {
            if awaited.reached(&state) {
                let _ = reply.send(Reply::State(state.clone()));
                false
            } else {
                true
            }
        });
    }

    /// Answers the embedded callers whose event has been captured: each looks at every event
    /// it has not seen, past ones included, so none is missed.
    pub(super) fn answer_event_waiters(&mut self) {
        if self.event_waiters.is_empty() {
            return;
        }
        let Some(capture) = self.hub.captured() else {
            return;
        };
        self.event_waiters.retain_mut(|(test, reply, checked)| {
            for (seq, event) in capture.events() {
                if seq < *checked {
                    continue;
                }
                *checked = seq + 1;
                let Ok(value) = serde_json::from_slice::<serde_json::Value>(event) else {
                    continue;
                };
                if (test.0)(&value) {
                    let _ = reply.send(Reply::Event(value));
                    return false;
                }
            }
            true
        });
    }

    pub(super) fn send_report(&mut self, env: EnvId, event: &PlatformEvent) {
        let PlatformEvent::Report { request_id, .. } = event else {
            return;
        };
        if let Some(i) = self
            .report_waiters
            .iter()
            .position(|(id, _)| id == request_id)
        {
            let (_, tx) = self.report_waiters.swap_remove(i);
            let _ = tx.send(Reply::Report(InvocationReport::from_event(env, event)));
        }
    }

    /// An `Event` invocation ended: its outcome is logged and kept for the embedding API.
    #[inline(never)]
    pub(super) fn event_outcome(&mut self, reply: InvokeReply) {
        // Decision *asynchronous invocations*: a failed attempt may be retried, with the same
        // request id; each attempt's outcome is logged and kept.
        let retry = self.core.event_retry(reply.request_id);
        let ended = reply.timings.responded;
        let response = InvokeResponse::from_reply(&self.ctx, reply);
        let earlier = self
            .outcomes
            .iter()
            .filter(|o| o.request_id == response.request_id)
            .count();
        if !self.quiet {
            self.lines.clear();
            let _ = write!(
                self.lines,
                "lambda-sim: Event invocation {} ended: {}",
                response.request_id,
                response
                    .function_error()
                    .map_or("success", |_| "function error")
            );
            if let Some(kind) = response
                .function_error()
                .and_then(|_| serde_json::from_slice::<serde_json::Value>(&response.body).ok())
                .and_then(|v| {
                    v.get("errorType")
                        .and_then(|t| t.as_str())
                        .map(str::to_string)
                })
            {
                let _ = write!(self.lines, " ({kind})");
            }
            if earlier > 0 || retry.is_some() {
                let _ = write!(self.lines, "; attempt {}", earlier + 1);
            }
            if let Some((_, at)) = retry {
                let wait = at.since(ended).as_micros() / 1000;
                let _ = write!(self.lines, ", retried in {wait} ms");
            }
            self.sink.line(&self.lines);
        }
        let id = response.request_id.clone();
        if retry.is_some() {
            self.keep_outcome(response);
            return;
        }
        self.outcome_waiters.retain(|(waited, tx)| {
            if *waited == id {
                let _ = tx.send(Reply::Response(response.clone()));
                false
            } else {
                true
            }
        });
        self.keep_outcome(response);
    }

    fn keep_outcome(&mut self, response: InvokeResponse) {
        if self.outcomes.len() == MAX_OUTCOMES {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back(response);
    }
}

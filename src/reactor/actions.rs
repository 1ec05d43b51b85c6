//! Carrying out the core's actions in order: releasing invocations and extension events to
//! parked connections, answering invokers, freezing and thawing, signals and spawns; and
//! forwarding a runtime's streamed response to its invoker as it comes.

use crate::api::Listener;
use crate::api::exchange::{Piece, Wait, Waiter};
use crate::http::ParseError;
use crate::lifecycle::{Action, ChildId, ExtensionEvent, InvokeReply, PlatformEvent, WaiterId};
use crate::simulator::control::Reply;
use crate::simulator::results::InvokeResponse;
use crate::time::Micros;
use crate::{api, lifecycle};

use super::conn::{Conn, State};
use super::embed::TicketTx;
use super::logs::LOG_TAIL_BYTES;
use super::slab::{Key, Slab};
use super::{Reactor, Source};

/// Events found while carrying out actions, fed to the core once the drain is done.
#[derive(Debug)]
pub(super) enum Deferred {
    SpawnFailed(ChildId, String),
}

/// The connection `waiter` stands for, if it is one parked waiting for `wait`.
pub(super) fn parked(
    sources: &mut Slab<Source>,
    waiter: WaiterId,
    wait: Wait,
) -> Option<(Key, &mut Conn)> {
    let Waiter::Conn(key) = Waiter::of(waiter) else {
        return None;
    };
    let key = Key::from_u64(key);
    match sources.get_mut(key) {
        Some(Source::Conn(conn)) if conn.state == State::Waiting(wait) => Some((key, conn)),
        _ => None,
    }
}

impl Reactor {
    /// The environment of the connection `waiter` stands for: the one whose Runtime API it
    /// came to (the first, for any other waiter).
    pub(super) fn conn_env(&self, waiter: WaiterId) -> lifecycle::EnvId {
        match Waiter::of(waiter) {
            Waiter::Conn(key) => match self.sources.get(Key::from_u64(key)) {
                Some(Source::Conn(conn)) => conn.env,
                _ => lifecycle::EnvId(0),
            },
            _ => lifecycle::EnvId(0),
        }
    }

    /// Carries out the core's actions in order, then what they caused: spawn failures fed back
    /// to the core, and connections with pipelined requests to decode. Every mutation of the
    /// core is followed by a full drain before the next.
    pub(super) fn drain(&mut self, now: Micros) {
        loop {
            while let Some(action) = self.core.poll_action() {
                self.execute(now, action);
            }
            if let Some(deferred) = self.deferred.pop_front() {
                match deferred {
                    Deferred::SpawnFailed(child, message) => {
                        self.core.handle_spawn_failed(now, child, message);
                    }
                }
                continue;
            }
            if let Some(key) = self.to_process.pop() {
                self.resume_conn(now, key);
                continue;
            }
            break;
        }
        self.thaw_now();
    }

    // Inlined into `drain`, its one caller: an `Action` passed by value would be copied.
    #[inline(always)]
    fn execute(&mut self, now: Micros, action: Action) {
        match action {
            Action::Release {
                waiter,
                request_id,
                deadline,
            } => {
                let ctx = &self.ctx;
                let Some(invocation) = self.core.invocation(request_id) else {
                    // Ended before its release was carried out: the runtime is still asking
                    // for work, so it asks again.
                    let env = self.conn_env(waiter);
                    if let Err(r) = self.core.handle_runtime_next(now, env, waiter) {
                        if let Some((_, conn)) = parked(&mut self.sources, waiter, Wait::Next) {
                            let answer = api::rejection(Listener::Runtime, r);
                            conn.answer(|out, close| answer.write(out, close));
                        }
                    }
                    return;
                };
                let Some((key, conn)) = parked(&mut self.sources, waiter, Wait::Next) else {
                    // The runtime's connection closed in this very turn; it will time out or
                    // ask again (a /next while Running renders the invocation again).
                    log::debug!("invocation {request_id} released to a connection that is gone");
                    return;
                };
                conn.answer(|out, close| {
                    api::runtime::write_next(out, ctx, invocation, deadline, close)
                });
                self.to_process.push(key);
            }
            // SnapStart: the runtime's `/restore/next`, answered as the API renders it.
            Action::Restored(waiter) => {
                if let Some((key, conn)) = parked(&mut self.sources, waiter, Wait::Next) {
                    let restored = api::runtime::restored();
                    conn.answer(|out, close| restored.write(out, close));
                    self.to_process.push(key);
                }
            }
            Action::ReleaseExtension { waiter, event } => self.release_extension(waiter, event),
            Action::Reply { invoker, reply } => self.reply(invoker, reply),
            Action::Close(waiter) => {
                if let Waiter::Conn(key) = Waiter::of(waiter) {
                    self.close_conn(Key::from_u64(key));
                }
            }
            Action::Spawn {
                env,
                child,
                role,
                init_type,
            } => {
                if let Err(message) = self.spawn(now, env, child, role, init_type) {
                    self.deferred
                        .push_back(Deferred::SpawnFailed(child, message));
                }
            }
            Action::Signal { child, signal } => self.signal_child(child, signal),
            // Rendered in batches, off the invocations' path (`log_events_due`).
            Action::Event(env, event) => {
                if !self.report_waiters.is_empty() {
                    self.send_report(env, &event);
                }
                if let PlatformEvent::Start { request_id, .. } = &event {
                    let tail = self
                        .core
                        .invocation(*request_id)
                        .is_some_and(|i| i.request.log_tail);
                    if tail {
                        self.start_tail(*request_id, env);
                    }
                }
                if !self.tails.is_empty() {
                    self.tail_event(now, env, &event);
                }
                if self.hub.wants(&event) {
                    let memory = match &event {
                        PlatformEvent::Report { runtime, .. } => {
                            self.max_memory_mb(*runtime).unwrap_or(0)
                        }
                        _ => 0,
                    };
                    self.hub.record_event(env, &self.ctx, now, &event, memory);
                }
                if !self.quiet && self.sink.is_shown() {
                    self.events.push((now, env, event));
                    // In order with the diagnostic lines that follow (`Sink::write_at_once`).
                    if self.sink.is_at_once() {
                        self.log_events();
                    }
                }
            }
            Action::Freeze(env) => self.freeze(now, env),
            Action::Thaw(env) => self.thaw(env),
            Action::Finished => {
                self.finished_at.get_or_insert(now);
            }
        }
    }

    /// Environment `env` may freeze: tells the core what is still on the wire. (Replies not
    /// yet written are counted for every environment: an invoker's connection belongs to
    /// none, and the wait is a moment's.)
    pub(super) fn offer_freeze(&mut self, now: Micros, env: lifecycle::EnvId) {
        let sources = &self.sources;
        self.unwritten
            .retain(|key| matches!(sources.get(*key), Some(Source::Conn(c)) if c.has_output()));
        let wire = lifecycle::Wire {
            unwritten_replies: self.unwritten.len(),
            batches_in_flight: self.hub.in_flight(env),
        };
        self.core.handle_wire(now, env, wire);
        self.drain(now);
    }

    /// Answers an extension's parked `event/next` with its event.
    fn release_extension(&mut self, waiter: WaiterId, event: ExtensionEvent) {
        let Some((key, conn)) = parked(&mut self.sources, waiter, Wait::Event) else {
            log::debug!("an extension event went to a connection that is gone");
            return;
        };
        let ctx = &self.ctx;
        match event {
            ExtensionEvent::Invoke {
                event_id,
                request_id,
                deadline,
            } => {
                let Some(invocation) = self.core.invocation(request_id) else {
                    // Cannot happen within one drain; if it did, the extension asks again.
                    log::warn!("INVOKE for {request_id}, which has ended: closing the connection");
                    self.close_conn(key);
                    return;
                };
                let body = self.invoke_body.of(
                    ctx,
                    &request_id,
                    invocation.request.invoked_arn.as_deref(),
                    &invocation.trace_id,
                    deadline,
                );
                conn.answer(|out, close| {
                    api::extensions::write_invoke_event(out, &event_id, body, close);
                });
            }
            ExtensionEvent::Shutdown { reason, deadline } => {
                let answer = api::extensions::shutdown_event(ctx, reason, deadline);
                conn.answer(|out, close| answer.write(out, close));
            }
        }
        self.to_process.push(key);
    }

    fn reply(&mut self, invoker: WaiterId, reply: InvokeReply) {
        let tail = self
            .tails
            .iter()
            .position(|(id, _, _)| *id == reply.request_id);
        let log_result = tail.map(|i| {
            let (_, _, log) = self.tails.swap_remove(i);
            crate::base64::encode(&log[log.len().saturating_sub(LOG_TAIL_BYTES)..])
        });
        if reply.timings.released.is_none() && !self.report_waiters.is_empty() {
            // Never released to the runtime: there will be no report.
            let id = reply.request_id;
            if let Some(i) = self.report_waiters.iter().position(|(r, _)| *r == id) {
                let (_, tx) = self.report_waiters.swap_remove(i);
                let _ = tx.send(Reply::Report(None));
            }
        }
        let key = match Waiter::of(invoker) {
            Waiter::Event(_) => return self.event_outcome(reply),
            Waiter::Ticket(key) => {
                if let Some(TicketTx { tx, .. }) = self.tickets.remove(Key::from_u64(key)) {
                    let mut response = InvokeResponse::from_reply(&self.ctx, reply);
                    if let Some(log) = log_result {
                        response.headers.push(("X-Amz-Log-Result", log));
                    }
                    let _ = tx.send(Reply::Response(response));
                }
                return;
            }
            Waiter::Conn(key) => Key::from_u64(key),
        };
        let ctx = &self.ctx;
        // An invoker that left finds nothing here; Lambda finishes the invocation anyway.
        if let Some((_, conn)) = parked(&mut self.sources, invoker, Wait::InvokeStream) {
            let started = std::mem::take(&mut conn.stream_started);
            conn.answer(|out, _| {
                api::invoke::write_stream_answer(out, ctx, &reply, started, log_result.as_deref());
            });
        } else if let Some((_, conn)) = parked(&mut self.sources, invoker, Wait::Invoke) {
            conn.answer(|out, close| {
                let rendered = api::invoke::render(ctx, &reply);
                match &log_result {
                    Some(log) => rendered.header("X-Amz-Log-Result", log.as_bytes()),
                    None => rendered,
                }
                .write(out, close)
            });
        } else {
            return;
        }
        if matches!(self.sources.get(key), Some(Source::Conn(c)) if c.has_output()) {
            self.unwritten.push(key);
        }
        self.to_process.push(key);
    }

    /// A runtime's streamed response decoded further: its new bytes go to the invoker now, if
    /// it streams; for a buffered one they stay, up to the buffered limit.
    pub(super) fn forward_stream(&mut self, now: Micros, key: Key) {
        let unresolved = match self.sources.get(key) {
            Some(Source::Conn(conn)) => match &conn.streaming {
                Some(stream) if !stream.is_resolved() => Some(stream.request_id),
                Some(_) => None,
                None => return,
            },
            _ => return,
        };
        if let Some(request_id) = unresolved {
            let to = self
                .core
                .invoker(request_id)
                .filter(|w| self.takes_chunks(*w));
            log::debug!("invocation {request_id} streams to {to:?}");
            if let Some(Source::Conn(conn)) = self.sources.get_mut(key) {
                if let Some(stream) = conn.streaming.as_mut() {
                    stream.resolve(to);
                }
            }
        }
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        let Some(stream) = conn.streaming.as_mut() else {
            return;
        };
        let Some(to) = stream.to() else {
            if let Some(limit) = stream.over_limit(conn.decoder.body_len()) {
                self.on_parse_error(now, key, ParseError::BodyTooLarge { limit });
            }
            return;
        };
        let bytes = stream.forward(conn.decoder.take_body());
        log::trace!("streamed piece of {} bytes", bytes.len());
        if bytes.is_empty() {
            return;
        }
        let started = *stream.started.get_or_insert(now);
        // Past the burst, the runtime's stream is read no faster than the rate allows: TCP
        // holds the rest back in the runtime, as Lambda's shaping does.
        if let Some(until) = self.stream_limits.paused_until(started, stream.forwarded) {
            if until > now {
                stream.throttled = true;
                self.throttled.push((until, key));
            }
        }
        let piece = Piece {
            to,
            request_id: stream.request_id,
            content_type: stream.content_type.clone(),
            bytes,
        };
        self.send_chunk(piece);
        // An invoker that does not keep up: the runtime's stream is not read again until it
        // has taken what it was sent, so memory holds at most one connection's bound per
        // stream and the runtime's writes block at the invoker's pace.
        if let Waiter::Conn(invoker) = Waiter::of(to) {
            let invoker = Key::from_u64(invoker);
            if let Some(Source::Conn(conn)) = self.sources.get_mut(invoker) {
                if conn.output_full() {
                    conn.feeder = Some(key);
                    if let Some(Source::Conn(runtime)) = self.sources.get_mut(key) {
                        if let Some(stream) = runtime.streaming.as_mut() {
                            stream.backpressured = true;
                        }
                    }
                }
            }
        }
    }

    /// The invoker a runtime's stream waited for has drained its output, or is gone: the
    /// runtime's connection is read again.
    pub(super) fn resume_feeder(&mut self, now: Micros, feeder: Key) {
        if self.unblock_feeder(feeder) {
            // No new readiness comes for bytes already waiting: read until it would block.
            self.conn_readable(now, feeder, true);
        }
    }

    /// Lets the runtime's connection `feeder` be read again; false if it is gone.
    pub(super) fn unblock_feeder(&mut self, feeder: Key) -> bool {
        let Some(Source::Conn(conn)) = self.sources.get_mut(feeder) else {
            return false;
        };
        if let Some(stream) = conn.streaming.as_mut() {
            stream.backpressured = false;
        }
        true
    }

    /// Whether `invoker` takes a streamed response's bytes as they come.
    fn takes_chunks(&self, invoker: WaiterId) -> bool {
        match Waiter::of(invoker) {
            Waiter::Event(_) => false,
            Waiter::Ticket(key) => self
                .tickets
                .get(Key::from_u64(key))
                .is_some_and(|t| t.stream),
            Waiter::Conn(key) => matches!(
                self.sources.get(Key::from_u64(key)),
                Some(Source::Conn(c)) if c.state == State::Waiting(Wait::InvokeStream)
            ),
        }
    }

    /// Streams whose pause is over read again, what arrived meanwhile first.
    pub(super) fn release_throttled(&mut self, now: Micros) {
        if self.throttled.iter().all(|(at, _)| *at > now) {
            return;
        }
        let due: Vec<Key> = self
            .throttled
            .iter()
            .filter(|(at, _)| *at <= now)
            .map(|(_, key)| *key)
            .collect();
        self.throttled.retain(|(at, _)| *at > now);
        for key in due {
            if let Some(Source::Conn(conn)) = self.sources.get_mut(key) {
                if let Some(stream) = conn.streaming.as_mut() {
                    stream.throttled = false;
                }
                // No new readiness comes for bytes already waiting: read until it would block.
                self.conn_readable(now, key, true);
            }
        }
    }

    /// One piece of a streamed response to its invoker: a `PayloadChunk` event on the wire, or
    /// a chunk to an embedded caller.
    pub(super) fn send_chunk(&mut self, piece: Piece) {
        if let Waiter::Ticket(key) = Waiter::of(piece.to) {
            if let Some(ticket) = self.tickets.get(Key::from_u64(key)) {
                let _ = ticket.tx.send(Reply::Chunk(piece.bytes));
            }
            return;
        }
        let ctx = &self.ctx;
        // The invoker left; the invocation goes on.
        let Some((_, conn)) = parked(&mut self.sources, piece.to, Wait::InvokeStream) else {
            return;
        };
        let mut out = Vec::with_capacity(piece.bytes.len() + 256);
        if !conn.stream_started {
            conn.stream_started = true;
            let id = piece.request_id.to_string();
            let content_type = piece.content_type.as_deref();
            api::invoke::write_stream_head(&mut out, ctx, &id, content_type, false);
        }
        api::invoke::write_stream_chunk(&mut out, &piece.bytes);
        conn.send_raw(&out);
    }
}

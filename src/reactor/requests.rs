//! Request dispatch: accepting connections, reading them, handing each request to
//! [`Exchange`](crate::api::exchange::Exchange) and carrying out what it decides (answer, park,
//! answer after the core's actions), closing, lingering and timing out connections that wait on
//! their peer.

use std::io;
use std::os::fd::AsRawFd;

use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Interest, Token};

use crate::api;
use crate::api::Listener;
use crate::api::exchange::{Begin, Cut, Outcome, Wait, Waiter};
use crate::http::{CONTINUE, Event, Framing, ParseError};
use crate::lifecycle::EnvId;
use crate::time::Micros;

use super::conn::{Conn, Exposed, State};
use super::environments::env_ids;
use super::slab::Key;
use super::{FIRST_SOURCE, Reactor, Source, conn};

/// How long a closing connection waits for the peer's EOF after our last response.
const LINGER: Micros = Micros::from_secs(2);

/// How long a Runtime API connection may stay open without sending its first request. A
/// runtime's or an extension's client sends as it connects; this closes what only holds a
/// descriptor. (The Invoke API's idle connections have the idle timeout.)
pub(super) const FRESH_GRACE: Micros = Micros::from_secs(10);

/// Descriptors kept for the function's own needs: its runtime's and extensions' connections,
/// their pipes and pidfds, telemetry connections. Past the open-file limit less these, a new
/// connection first closes the oldest idle one.
pub(super) const FD_RESERVE: usize = 64;

impl Reactor {
    pub(super) fn accept(&mut self, now: Micros, listener: Listener, env: EnvId) {
        loop {
            if self.sources.len() >= self.fd_budget && !self.evict_idle() {
                // Left in the backlog, accepted once a descriptor is free (`accept_blocked`).
                self.descriptors_exhausted();
                return;
            }
            let accepted = match listener {
                Listener::Invoke => self.invoke_listener.accept(),
                Listener::Runtime => self.envs[env.index()].listener.accept(),
            };
            match accepted {
                Ok((stream, peer)) => {
                    log::debug!("{listener:?}: connection from {peer}");
                    if let Some(key) = self.add_conn(now, stream, listener, env) {
                        self.sweep_at.get_or_insert(now + self.sweep_period());
                        // Bytes may already be waiting; readiness for them was reported before
                        // we registered.
                        self.conn_readable(now, key, true);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    if !self.evict_idle() {
                        self.descriptors_exhausted();
                        return;
                    }
                }
                Err(e) => {
                    log::warn!("accept failed on the {listener:?} listener: {e}");
                    return;
                }
            }
        }
    }

    /// Closes the idle connection that has waited longest ([`Conn::is_evictable`]) to free a
    /// descriptor, lingering ones first. Returns whether there was one.
    fn evict_idle(&mut self) -> bool {
        let oldest = self
            .sources
            .iter()
            .filter_map(|(key, source)| match source {
                Source::Conn(c) if c.is_evictable() => Some((!c.lingering, c.opened, key)),
                _ => None,
            })
            .min_by_key(|(fresh, opened, _)| (*fresh, *opened));
        let Some((_, _, key)) = oldest else {
            return false;
        };
        self.warn_descriptors(true);
        self.close_conn(key);
        true
    }

    /// No descriptor to accept a connection with: it waits in the backlog until one is freed.
    fn descriptors_exhausted(&mut self) {
        self.accept_blocked = true;
        self.warn_descriptors(false);
    }

    /// Says once, as a warning, that the open-file limit was reached.
    #[cold]
    #[inline(never)]
    fn warn_descriptors(&mut self, evicting: bool) {
        if std::mem::replace(&mut self.fd_warned, true) {
            return;
        }
        let what = if evicting {
            "closing the connections idle longest"
        } else {
            "new connections wait until one closes"
        };
        log::warn!(
            "lambda-sim's open-file limit is nearly reached ({} connections and pipes open, {} \
             descriptors kept for the function): {what}. Raise the limit with `ulimit -n`.",
            self.sources.len(),
            FD_RESERVE
        );
    }

    /// Connections left in the backlog for want of descriptors are accepted once one is free.
    pub(super) fn accept_waiting(&mut self, now: Micros) {
        if self.accept_blocked && self.sources.len() < self.fd_budget {
            self.accept_blocked = false;
            for env in env_ids(self.envs.len()) {
                self.accept(now, Listener::Runtime, env);
            }
            self.accept(now, Listener::Invoke, EnvId(0));
        }
    }

    fn add_conn(
        &mut self,
        now: Micros,
        stream: TcpStream,
        listener: Listener,
        env: EnvId,
    ) -> Option<Key> {
        // Small request/response exchanges: Nagle's algorithm would add up to 40 ms of delay.
        let _ = stream.set_nodelay(true);
        let key = self
            .sources
            .insert(Source::Conn(Conn::new(stream, listener, env, now)));
        let token = Token(FIRST_SOURCE + key.index as usize);
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return None;
        };
        // Edge-triggered, both directions, once: no re-registration as the state changes.
        if let Err(e) = self.poll.registry().register(
            &mut conn.stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("cannot register a connection: {e}");
            self.sources.remove(key);
            return None;
        }
        Some(key)
    }

    /// Reads and handles what the connection has sent. `to_the_end` reads until the socket
    /// would block; otherwise a short read ends it (see `Conn::read_some`).
    pub(super) fn conn_readable(&mut self, now: Micros, key: Key, to_the_end: bool) {
        loop {
            let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
                return;
            };
            let more = conn.read_some(&mut self.read_buf, to_the_end);
            // Decode after every read so that buffering stays bounded by one read.
            self.process_conn(now, key);
            if !more {
                break;
            }
        }
    }

    pub(super) fn conn_writable(&mut self, now: Micros, key: Key) {
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        conn.flush();
        let drained = !conn.output_full();
        // A runtime's stream that waited for this invoker to read flows again.
        let feeder = if drained { conn.feeder.take() } else { None };
        // Its peer took the output that stopped reading: read and decode again.
        let reread = drained && conn.read_paused && conn.state == State::Reading;
        if let Some(feeder) = feeder {
            self.resume_feeder(now, feeder);
        }
        if reread {
            self.resume_conn(now, key);
        } else {
            self.settle_conn(now, key);
        }
    }

    /// Decodes and handles every complete request the connection has buffered, one at a time.
    fn process_conn(&mut self, now: Micros, key: Key) {
        loop {
            let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
                return;
            };
            if conn.state != State::Reading {
                break;
            }
            if conn.output_full() {
                // Its peer is not reading its answers: no more until it does.
                conn.read_paused = true;
                break;
            }
            match conn.decoder.next_event() {
                Ok(None) => {
                    if conn.streaming.is_some() && conn.decoder.is_reading_body() {
                        self.forward_stream(now, key);
                    }
                    break;
                }
                Ok(Some(Event::Head)) => self.on_head(now, key),
                Ok(Some(Event::Complete)) => {
                    if conn.streaming.is_some() {
                        // A stream that came whole in one read: its payload goes out as any
                        // stream's does, ahead of its end (it was lost before an error end).
                        self.forward_stream(now, key);
                    }
                    self.on_complete(now, key)
                }
                Err(e) => self.on_parse_error(now, key, e),
            }
        }
        self.settle_conn(now, key);
    }

    /// Routes a request from its head and decides what to do with its body.
    fn on_head(&mut self, now: Micros, key: Key) {
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        let head = conn.decoder.head();
        let has_body = head.framing() != Framing::None;
        let expect_continue = head.expect_continue();
        let small_body = match head.framing() {
            Framing::None | Framing::Chunked => true,
            Framing::Length(n) => n <= conn::MAX_DISCARD_BYTES,
        };
        let begin = exchange!(self, now, conn.env).begin(conn.listener, &head);
        match begin {
            Begin::Refused(answer) => {
                if has_body && small_body && !expect_continue {
                    // Read and drop the body, then answer: the connection stays usable.
                    if conn.decoder.discard_body(conn::MAX_DISCARD_BYTES).is_ok() {
                        conn.early = Some(answer);
                        return;
                    }
                }
                // The body is not read: the connection cannot be reused after it.
                conn.close_after |= has_body;
                conn.answer(|out, close| answer.write(out, close));
            }
            Begin::Read {
                route,
                limit,
                stream,
            } => match conn.decoder.read_body(limit) {
                Ok(()) => {
                    if expect_continue {
                        conn.send_raw(CONTINUE);
                    }
                    conn.route = Some(route);
                    conn.streaming = stream;
                }
                Err(e) => {
                    // A declared length over the limit: refused before any byte of the body.
                    exchange!(self, now, conn.env).cut_short(
                        Some(route),
                        stream,
                        Cut::TooLarge { limit },
                    );
                    let listener = conn.listener;
                    conn.close_after = true;
                    conn.answer(|out, close| api::parse_error(listener, e).write(out, close));
                }
            },
        }
    }

    /// Handles a complete request: the exchange decides, this carries it out.
    fn on_complete(&mut self, now: Micros, key: Key) {
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        if let Some(answer) = conn.early.take() {
            conn.answer(|out, close| answer.write(out, close));
            return;
        }
        conn.requests = conn.requests.wrapping_add(1);
        let Some(route) = conn.route.take() else {
            let answer = api::runtime_error(
                500,
                "InternalServerError",
                "request completed without a route",
            );
            conn.answer(|out, close| answer.write(out, close));
            return;
        };
        let stream = conn.streaming.take();
        let waiter = Waiter::Conn(key.to_u64());
        let outcome = exchange!(self, now, conn.env).complete(
            conn.listener,
            waiter,
            route,
            stream,
            &mut conn.decoder,
        );
        let ctx = &self.ctx;
        match outcome {
            Outcome::Answer(answer) => {
                conn.answer(|out, close| answer.render(ctx).write(out, close));
            }
            Outcome::Park(wait) => {
                conn.state = State::Waiting(wait);
                // A long poll may wait for minutes: it keeps no buffer it does not need.
                if matches!(wait, Wait::Next | Wait::Event) {
                    conn.decoder.shrink();
                }
            }
            Outcome::AnswerAfterActions { answer, piece } => {
                if let Some(piece) = piece {
                    self.send_chunk(*piece);
                }
                self.drain(now);
                let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
                    return;
                };
                let ctx = &self.ctx;
                conn.answer(|out, close| answer.render(ctx).write(out, close));
                if conn.has_output() {
                    self.unwritten.push(key);
                }
            }
        }
    }

    pub(super) fn on_parse_error(&mut self, now: Micros, key: Key, error: ParseError) {
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        log::debug!("{:?} request refused: {error}", conn.listener);
        let route = conn.route.take();
        // A runtime's chunked response that outgrew the limit still ends its invocation.
        if let ParseError::BodyTooLarge { limit } = error {
            let stream = conn.streaming.take();
            exchange!(self, now, conn.env).cut_short(route, stream, Cut::TooLarge { limit });
        }
        let listener = conn.listener;
        conn.close_after = true;
        // A refused request whose discarded body was bad: the refusal still answers it.
        let answer = match conn.early.take() {
            Some(early) => *early,
            None => api::parse_error(listener, error),
        };
        conn.answer(|out, close| answer.write(out, close));
    }

    /// After IO on a connection: closes it, lingers, or tells the core its waiter left, as its
    /// state requires.
    fn settle_conn(&mut self, now: Micros, key: Key) {
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        if conn.is_gone() {
            match conn.state {
                State::Waiting(_) => {
                    // A parked /next or a waiting invoker went away.
                    let waiter = Waiter::Conn(key.to_u64()).id();
                    self.core.handle_waiter_closed(now, waiter);
                }
                State::Reading if conn.decoder.is_reading_body() => {
                    let (route, stream) = (conn.route.take(), conn.streaming.take());
                    exchange!(self, now, conn.env).cut_short(route, stream, Cut::Truncated);
                }
                State::Reading | State::Closing => {}
            }
            self.close_conn(key);
            return;
        }
        if conn.state == State::Closing && !conn.has_output() {
            if !conn.lingering {
                conn.start_lingering();
                self.lingering.push((now + LINGER, key));
            }
            // Drain whatever the peer still sends, to see its EOF.
            while conn.read_some(&mut self.read_buf, true) {}
            if conn.eof || conn.peer_closed {
                self.close_conn(key);
            }
        }
    }

    pub(super) fn close_conn(&mut self, key: Key) {
        if let Some(Source::Conn(Conn {
            feeder: Some(feeder),
            ..
        })) = self.sources.get(key)
        {
            // The stream it held back flows again, to nobody: Lambda finishes the invocation
            // without its invoker.
            let feeder = *feeder;
            if self.unblock_feeder(feeder) {
                self.to_process.push(feeder);
            }
        }
        self.remove_source(key);
        self.lingering.retain(|(_, k)| *k != key);
        self.throttled.retain(|(_, k)| *k != key);
    }

    /// Takes a source out of the slab and out of the poll; dropping it closes its descriptor.
    pub(super) fn remove_source(&mut self, key: Key) -> Option<Source> {
        let mut source = self.sources.remove(key)?;
        let registry = self.poll.registry();
        let _ = match &mut source {
            Source::Conn(conn) => registry.deregister(&mut conn.stream),
            Source::Output { file, .. } => registry.deregister(&mut SourceFd(&file.as_raw_fd())),
            Source::Exit { pidfd, .. } => registry.deregister(&mut SourceFd(&pidfd.as_raw_fd())),
            Source::Telemetry(out) => registry.deregister(&mut out.stream),
        };
        Some(source)
    }

    /// A connection whose wait ended: answer written, so decode what it pipelined meanwhile.
    pub(super) fn resume_conn(&mut self, now: Micros, key: Key) {
        let paused = match self.sources.get(key) {
            Some(Source::Conn(conn)) => conn.read_paused,
            _ => return,
        };
        if paused {
            // No new readiness comes for bytes already waiting: read until it would block.
            self.conn_readable(now, key, true);
        } else {
            self.process_conn(now, key);
        }
    }

    /// How often connections are checked against their timeouts: a quarter of the shorter,
    /// between 5 ms and a second. A connection is closed within two periods of its deadline.
    fn sweep_period(&self) -> Micros {
        let shorter = self.timeouts.request.min(self.timeouts.idle);
        let shorter = Micros::from_duration(shorter).as_micros();
        Micros((shorter / 4).clamp(5_000, 1_000_000))
    }

    /// Closes the connections that have waited on their peer too long: a request begun and not
    /// finished in time gets 408 first; an idle keep-alive connection is just closed. Nothing
    /// is timed out that waits on the function (see [`Conn::exposed`]). A connection's clock
    /// starts when a sweep first sees it waiting, so it runs late by one period at most; it
    /// restarts whenever what it waits for changes or a request completes.
    pub(super) fn sweep(&mut self, now: Micros) {
        let request_limit = Micros::from_duration(self.timeouts.request);
        let idle_limit = Micros::from_duration(self.timeouts.idle);
        let mut expired = Vec::new();
        for (key, source) in self.sources.iter_mut() {
            let Source::Conn(conn) = source else {
                continue;
            };
            let Some(exposed) = conn.exposed() else {
                conn.watched = None;
                continue;
            };
            let limit = match exposed {
                Exposed::Request => request_limit,
                Exposed::Idle => idle_limit,
                Exposed::Fresh => FRESH_GRACE,
            };
            match conn.watched {
                Some((seen, requests, since)) if seen == exposed && requests == conn.requests => {
                    if now.since(since) >= limit {
                        expired.push((key, exposed));
                    }
                }
                _ => conn.watched = Some((exposed, conn.requests, now)),
            }
        }
        for (key, exposed) in expired {
            self.time_out(now, key, exposed);
        }
        let any = self
            .sources
            .iter()
            .any(|(_, s)| matches!(s, Source::Conn(_)));
        self.sweep_at = any.then(|| now + self.sweep_period());
    }

    fn time_out(&mut self, now: Micros, key: Key, exposed: Exposed) {
        let Some(Source::Conn(conn)) = self.sources.get_mut(key) else {
            return;
        };
        log::debug!(
            "{:?} connection timed out waiting for {exposed:?}",
            conn.listener
        );
        match exposed {
            Exposed::Idle | Exposed::Fresh => self.close_conn(key),
            Exposed::Request => {
                // A runtime's response cut short by its own slowness ends its invocation.
                let (route, stream) = (conn.route.take(), conn.streaming.take());
                exchange!(self, now, conn.env).cut_short(route, stream, Cut::Truncated);
                let answer = api::request_timeout(conn.listener, self.timeouts.request);
                conn.close_after = true;
                conn.answer(|out, close| answer.write(out, close));
                self.settle_conn(now, key);
                self.drain(now);
            }
        }
    }

    pub(super) fn expire_lingering(&mut self, now: Micros) {
        let expired: Vec<Key> = self
            .lingering
            .iter()
            .filter(|(at, _)| *at <= now)
            .map(|(_, key)| *key)
            .collect();
        for key in expired {
            self.close_conn(key);
        }
    }
}

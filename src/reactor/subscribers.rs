//! Telemetry delivery: one outbound connection per Telemetry or Logs API subscriber, one batch
//! in flight on each, and what each answer means for the batch. What goes in a batch, and when,
//! is `crate::telemetry`'s.

use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::{Interest, Token};

use crate::api;
use crate::time::Micros;

use super::outbound::{Outbound, Step};
use super::slab::Key;
use super::{FIRST_SOURCE, Reactor, Source};

impl Reactor {
    /// Sends every batch that is due, opening connections as needed. One batch is in flight
    /// per subscriber; a subscriber that is down or slow holds back nobody else.
    pub(super) fn pump_telemetry(&mut self, now: Micros) {
        if self.hub.is_empty() {
            return;
        }
        for id in self.hub.handle_timeout(now) {
            // Unanswered for too long: the batch failed; a new connection carries the retry.
            if let Some(key) = self.subscriber_conns.get_mut(id.0).and_then(Option::take) {
                self.remove_source(key);
            }
        }
        while let Some((id, batch)) = self.hub.poll_batch(&self.ctx, now) {
            let Some(destination) = self.hub.destination(id).cloned() else {
                break;
            };
            let (addr, request) = match &destination {
                api::telemetry::Destination::Http { addr, path, host } => {
                    let mut request = Vec::with_capacity(batch.body.len() + 128);
                    crate::http::client::write_post(
                        &mut request,
                        host,
                        path,
                        api::JSON,
                        batch.body.len(),
                    );
                    request.extend_from_slice(&batch.body);
                    (*addr, request)
                }
                api::telemetry::Destination::Tcp { addr } => (*addr, batch.body),
            };
            let http = matches!(destination, api::telemetry::Destination::Http { .. });
            let key = match self.subscriber_conns.get(id.0).copied().flatten() {
                Some(key) => key,
                None => match self.connect_subscriber(id, addr, http) {
                    Some(key) => key,
                    None => {
                        self.hub.handle_sent(now, id, false);
                        continue;
                    }
                },
            };
            let step = match self.sources.get_mut(key) {
                Some(Source::Telemetry(out)) => out.send(request),
                _ => Step::Failed,
            };
            self.subscriber_step(now, key, step);
        }
    }

    // Cold, and called from two places: one copy in the binary (which stays under 1 MB).
    #[inline(never)]
    fn connect_subscriber(
        &mut self,
        id: crate::telemetry::SubscriberId,
        addr: SocketAddr,
        http: bool,
    ) -> Option<Key> {
        let stream = match TcpStream::connect(addr) {
            Ok(stream) => stream,
            Err(e) => {
                log::debug!("telemetry subscriber {id:?} at {addr}: {e}");
                return None;
            }
        };
        let _ = stream.set_nodelay(true);
        let key = self
            .sources
            .insert(Source::Telemetry(Outbound::new(id, stream, http)));
        let token = Token(FIRST_SOURCE + key.index as usize);
        let Some(Source::Telemetry(out)) = self.sources.get_mut(key) else {
            return None;
        };
        if let Err(e) = self.poll.registry().register(
            &mut out.stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("cannot watch a telemetry connection: {e}");
            self.sources.remove(key);
            return None;
        }
        if self.subscriber_conns.len() <= id.0 {
            self.subscriber_conns.resize(id.0 + 1, None);
        }
        self.subscriber_conns[id.0] = Some(key);
        Some(key)
    }

    /// Readiness on a subscriber's connection.
    pub(super) fn subscriber_ready(&mut self, now: Micros, key: Key, writable: bool, closed: bool) {
        let step = match self.sources.get_mut(key) {
            Some(Source::Telemetry(out)) => {
                let wrote = if writable { out.flush() } else { Step::Pending };
                match wrote {
                    Step::Pending => out.read(&mut self.read_buf, closed),
                    done => done,
                }
            }
            _ => return,
        };
        self.subscriber_step(now, key, step);
        self.pump_telemetry(now);
    }

    /// What a step on subscriber connection `key` means for its batch.
    #[inline(never)]
    fn subscriber_step(&mut self, now: Micros, key: Key, step: Step) {
        let Some(Source::Telemetry(out)) = self.sources.get(key) else {
            return;
        };
        let id = out.subscriber;
        match step {
            Step::Pending => {}
            Step::Written => self.hub.handle_sent(now, id, true),
            Step::Answered(answer) => {
                if !answer.accepted() {
                    log::debug!("telemetry subscriber {id:?} answered {}", answer.status);
                }
                self.hub.handle_sent(now, id, answer.accepted());
                if !answer.keep_alive {
                    self.close_subscriber(key);
                }
            }
            Step::Failed => {
                self.hub.handle_sent(now, id, false);
                self.close_subscriber(key);
            }
        }
    }

    fn close_subscriber(&mut self, key: Key) {
        if let Some(Source::Telemetry(out)) = self.remove_source(key) {
            if let Some(slot) = self.subscriber_conns.get_mut(out.subscriber.0) {
                if *slot == Some(key) {
                    *slot = None;
                }
            }
        }
    }
}

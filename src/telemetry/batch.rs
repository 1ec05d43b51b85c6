//! A telemetry subscriber's buffer, sans-IO: when a batch goes out, what happens when the
//! subscriber is down or slow, and what is dropped when it falls behind
//! (<https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html>, "Buffering" and
//! "Delivering").
//!
//! Records arrive rendered (one JSON value each); the batcher decides, on the caller's clock:
//! - a batch is due when `maxItems` records or `maxBytes` bytes are waiting, or `timeoutMs` after
//!   the first of them arrived, or at once when flushing (shutdown, a stream that closed);
//! - one batch is in flight at a time; a failed or unanswered one goes back to the front of the
//!   buffer and is retried with exponential backoff, while new records keep arriving;
//! - a buffer beyond twice the batch limits drops its oldest records, and counts them and their
//!   bytes; the next batch opens with a record saying so (`platform.logsDropped`), which is
//!   counted again if that batch fails, so the news is never lost.
//!
//! `crate::telemetry` holds one per subscriber; the reactor sends what it hands out.

use std::collections::VecDeque;

use crate::time::Micros;

/// When a subscriber's batch goes out (the subscription's `buffering`, <https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html>).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Buffering {
    /// Records per batch, at most.
    pub max_items: u32,
    /// Bytes per batch: a batch goes once this many are waiting.
    pub max_bytes: u32,
    /// How long the first record of a batch waits for the rest.
    pub timeout_ms: u32,
}

/// `maxItems`: default, least, most (<https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html>; the same for the Logs API).
pub(crate) const MAX_ITEMS: (u32, u32, u32) = (10_000, 1_000, 10_000);
/// `maxBytes`: default, least, most.
pub(crate) const MAX_BYTES: (u32, u32, u32) = (262_144, 262_144, 1_048_576);
/// `timeoutMs`: default, least, most.
pub(crate) const TIMEOUT_MS: (u32, u32, u32) = (1_000, 25, 30_000);

impl Default for Buffering {
    fn default() -> Buffering {
        Buffering {
            max_items: MAX_ITEMS.0,
            max_bytes: MAX_BYTES.0,
            timeout_ms: TIMEOUT_MS.0,
        }
    }
}

/// How records are put together into a batch's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// HTTP destinations: a JSON array.
    JsonArray,
    /// TCP destinations: newline-delimited JSON, one record per line.
    Ndjson,
}

/// The first retry waits this long; each failure doubles it, up to [`MAX_BACKOFF`].
pub(crate) const FIRST_BACKOFF: Micros = Micros::from_millis(50);
/// The longest wait between retries.
pub(crate) const MAX_BACKOFF: Micros = Micros::from_secs(5);
/// A batch not answered within this long has failed (its connection should be closed).
pub(crate) const SEND_TIMEOUT: Micros = Micros::from_secs(5);
/// The buffer holds at most this many batches' worth of records and bytes before it drops.
pub(crate) const BUFFERED_BATCHES: usize = 2;

/// A batch to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Batch {
    /// The body, framed.
    pub body: Vec<u8>,
    /// How many records it holds.
    pub records: usize,
}

/// Records and bytes dropped, for `platform.logsDropped`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Records dropped.
    pub records: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// One subscriber's buffer. See the module docs.
#[derive(Debug)]
pub(crate) struct Batcher {
    buffering: Buffering,
    framing: Framing,
    /// Records waiting, oldest first, each with when it arrived; the batch in flight is the
    /// first `in_flight` of them.
    queue: VecDeque<(Micros, Vec<u8>)>,
    queued_bytes: usize,
    /// The number of records in the batch in flight, and when it was sent.
    in_flight: Option<(usize, Micros)>,
    /// No batch before this (backing off after a failure).
    retry_at: Option<Micros>,
    backoff: Micros,
    flushing: bool,
    /// Dropped and not yet reported.
    dropped: Dropped,
    /// Reported by the batch in flight: counted again if it fails.
    reporting: Dropped,
}

impl Batcher {
    /// An empty buffer with `buffering`'s limits.
    pub(crate) fn new(buffering: Buffering, framing: Framing) -> Batcher {
        Batcher {
            buffering,
            framing,
            queue: VecDeque::new(),
            queued_bytes: 0,
            in_flight: None,
            retry_at: None,
            backoff: FIRST_BACKOFF,
            flushing: false,
            dropped: Dropped::default(),
            reporting: Dropped::default(),
        }
    }

    /// Records waiting (the in-flight batch included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits and nothing is in flight.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether a batch is in flight.
    pub(crate) fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Takes a rendered record. If the buffer is over its bounds, the oldest records not in
    /// flight are dropped and counted.
    pub(crate) fn push(&mut self, now: Micros, record: Vec<u8>) {
        self.queued_bytes += record.len();
        self.queue.push_back((now, record));
        let max_records = self.buffering.max_items as usize * BUFFERED_BATCHES;
        let max_bytes = self.buffering.max_bytes as usize * BUFFERED_BATCHES;
        let sending = self.in_flight.map_or(0, |(n, _)| n);
        while (self.queue.len() > max_records || self.queued_bytes > max_bytes)
            && self.queue.len() > sending + 1
        {
            // The oldest record not in flight; the newest always stays.
            let Some((_, old)) = self.queue.remove(sending) else {
                break;
            };
            self.queued_bytes -= old.len();
            self.dropped.records += 1;
            self.dropped.bytes += old.len() as u64;
        }
    }

    /// What was dropped and not yet reported by a batch that went through.
    #[cfg(test)]
    pub(crate) fn dropped(&self) -> Dropped {
        Dropped {
            records: self.dropped.records + self.reporting.records,
            bytes: self.dropped.bytes + self.reporting.bytes,
        }
    }

    /// Makes everything waiting due at once (shutdown, or a stream that closed), and stays so
    /// until the buffer is empty.
    pub(crate) fn flush(&mut self) {
        self.flushing = true;
    }

    /// The batch to send now, if one is due and none is in flight. If records were dropped,
    /// `report` renders the record that says so (or nothing, for a subscriber that does not
    /// take platform events); it opens the batch.
    pub(crate) fn poll_batch(
        &mut self,
        now: Micros,
        report: &mut dyn FnMut(Dropped, &mut Vec<u8>),
    ) -> Option<Batch> {
        if self.in_flight.is_some() || self.queue.is_empty() {
            return None;
        }
        if self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        let full = self.queue.len() >= self.buffering.max_items as usize
            || self.queued_bytes >= self.buffering.max_bytes as usize;
        let waited = self.queue.front().is_some_and(|(at, _)| {
            now >= *at + Micros::from_millis(u64::from(self.buffering.timeout_ms))
        });
        if !(full || waited || self.flushing || self.retry_at.is_some()) {
            return None;
        }
        self.retry_at = None;
        let mut body = Vec::new();
        let mut records = 0;
        let mut bytes = 0;
        if self.framing == Framing::JsonArray {
            body.push(b'[');
        }
        let mut notice = Vec::new();
        if self.dropped.records > 0 {
            report(self.dropped, &mut notice);
            self.reporting = std::mem::take(&mut self.dropped);
        }
        let records_of_queue = std::iter::once(&notice[..])
            .filter(|n| !n.is_empty())
            .chain(self.queue.iter().map(|(_, r)| &r[..]));
        for record in records_of_queue {
            if records == self.buffering.max_items as usize
                || (records > 0 && bytes >= self.buffering.max_bytes as usize)
            {
                break;
            }
            if self.framing == Framing::JsonArray && records > 0 {
                body.push(b',');
            }
            body.extend_from_slice(record);
            if self.framing == Framing::Ndjson {
                body.push(b'\n');
            }
            records += 1;
            bytes += record.len();
        }
        if self.framing == Framing::JsonArray {
            body.push(b']');
        }
        // The queue's records in this batch: all but the notice.
        self.in_flight = Some((records - usize::from(!notice.is_empty()), now));
        Some(Batch { body, records })
    }

    /// The batch in flight was answered: `accepted` for a 2xx (its records are gone), otherwise
    /// it failed (refused, an error, a broken connection) and is retried after a backoff.
    pub(crate) fn handle_sent(&mut self, now: Micros, accepted: bool) {
        let Some((records, _)) = self.in_flight.take() else {
            return;
        };
        if accepted {
            for (_, record) in self.queue.drain(..records.min(self.queue.len())) {
                self.queued_bytes -= record.len();
            }
            self.reporting = Dropped::default();
            self.backoff = FIRST_BACKOFF;
            if self.queue.is_empty() {
                self.flushing = false;
            }
        } else {
            // The news of the drops did not get through: it goes with the next batch.
            let reported = std::mem::take(&mut self.reporting);
            self.dropped.records += reported.records;
            self.dropped.bytes += reported.bytes;
            self.retry_at = Some(now + self.backoff);
            self.backoff = Micros(self.backoff.as_micros().saturating_mul(2)).min(MAX_BACKOFF);
        }
    }

    /// When [`Batcher::handle_timeout`] or [`Batcher::poll_batch`] should next be called.
    pub(crate) fn poll_timeout(&self) -> Option<Micros> {
        if let Some((_, sent)) = self.in_flight {
            return Some(sent + SEND_TIMEOUT);
        }
        if self.queue.is_empty() {
            return None;
        }
        if let Some(at) = self.retry_at {
            return Some(at);
        }
        if self.flushing {
            return Some(Micros::ZERO);
        }
        let timeout = Micros::from_millis(u64::from(self.buffering.timeout_ms));
        self.queue.front().map(|(at, _)| *at + timeout)
    }

    /// Fires what is due at `now`. Returns `true` if the batch in flight went unanswered for
    /// [`SEND_TIMEOUT`]: it counts as failed, and the caller closes its connection.
    pub(crate) fn handle_timeout(&mut self, now: Micros) -> bool {
        match self.in_flight {
            Some((_, sent)) if now >= sent + SEND_TIMEOUT => {
                self.handle_sent(now, false);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;

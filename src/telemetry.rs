//! Telemetry fan-out, sans-IO: the records the platform produces (its events and every line of
//! output) go to each subscriber that asked for their type, rendered for it and buffered in its
//! own [`Batcher`]; the reactor sends the batches and reports how they went
//! (<https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html>). Between the lifecycle core, which decides who may subscribe and when, and the reactor,
//! which owns the connections.
//!
//! **Replay**: from the start of an init to its end, every record is also kept, and a subscriber
//! that arrives during the init gets them first, so it sees `platform.initStart` and the early
//! lines as Lambda's subscribers do. Then `platform.telemetrySubscription` announces it.
//!
//! **Environments**: each execution environment has its own Telemetry API, as on Lambda. A
//! subscriber receives the records of the environment it subscribed in, the replay is that
//! environment's init, and a frozen environment holds its own subscribers' batches only.

pub(crate) mod batch;

use crate::api::Context;
use crate::api::telemetry::{
    Api, Destination, Schema, Subscription, Types, write_event, write_line, write_logs_dropped,
    write_logs_event, write_subscription,
};
use crate::lifecycle::{EnvId, PlatformEvent};
use crate::time::Micros;
use batch::{Batch, Batcher, Dropped, Framing};

/// At most this many records are kept for replay during one init; the oldest go first.
pub(crate) const MAX_REPLAY: usize = 10_000;

/// Something the platform produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// A lifecycle event.
    Platform(PlatformEvent),
    /// A line of the runtime's output (`function`).
    Function(String),
    /// A line of an extension's output (`extension`).
    Extension(String),
    /// An extension subscribed (`platform.telemetrySubscription`).
    Subscribed {
        /// The extension.
        name: String,
        /// What it subscribed to.
        types: Types,
    },
}

impl Record {
    fn item(&self) -> Item<'_> {
        match self {
            Record::Platform(event) => Item::Platform(event),
            Record::Function(line) => Item::Function(line),
            Record::Extension(line) => Item::Extension(line),
            Record::Subscribed { name, types } => Item::Subscribed(name, *types),
        }
    }
}

/// A record, borrowed: what is rendered for each subscriber.
#[derive(Clone, Copy, Debug)]
enum Item<'a> {
    Platform(&'a PlatformEvent),
    Function(&'a str),
    Extension(&'a str),
    Subscribed(&'a str, Types),
}

impl Item<'_> {
    /// Whether a subscriber to `types` receives it.
    fn wanted(self, types: Types) -> bool {
        match self {
            Item::Platform(_) | Item::Subscribed(..) => types.platform,
            Item::Function(_) => types.function,
            Item::Extension(_) => types.extension,
        }
    }

    fn to_record(self) -> Record {
        match self {
            Item::Platform(event) => Record::Platform(event.clone()),
            Item::Function(line) => Record::Function(line.to_string()),
            Item::Extension(line) => Record::Extension(line.to_string()),
            Item::Subscribed(name, types) => Record::Subscribed {
                name: name.to_string(),
                types,
            },
        }
    }
}

/// A subscriber, by its order of subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SubscriberId(pub usize);

#[derive(Debug)]
struct Subscriber {
    /// The environment it subscribed in: it receives that environment's records.
    env: EnvId,
    subscription: Subscription,
    batcher: Batcher,
}

/// Every subscriber's buffer, and the replay of the current init. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    /// By environment: records of the init in progress, for subscribers still to come; `None`
    /// outside an init.
    replay: Vec<Option<Vec<(Micros, Record)>>>,
    subscribers: Vec<Subscriber>,
    /// Every event of every environment, as a subscriber to all types sees it, for the
    /// embedding API.
    capture: Option<Capture>,
    /// By environment: it is frozen, so no batch of its subscribers goes, and no timer of
    /// theirs runs, until it thaws.
    frozen: Vec<bool>,
}

/// The last events of every type, rendered, for the embedding API; bounded, counting what it
/// let go.
#[derive(Debug)]
pub(crate) struct Capture {
    events: std::collections::VecDeque<Vec<u8>>,
    max: usize,
    /// Events let go to stay within `max`.
    pub dropped: u64,
    /// Events captured since the start: the sequence number of the next one.
    pub total: u64,
}

impl Capture {
    /// The kept events with their sequence numbers, oldest first.
    pub(crate) fn events(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let first = self.total - self.events.len() as u64;
        self.events
            .iter()
            .enumerate()
            .map(move |(i, e)| (first + i as u64, &e[..]))
    }
}

impl Hub {
    /// No subscriber, no init.
    pub(crate) fn new() -> Hub {
        Hub::default()
    }

    /// Subscribers so far.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.subscribers.len()
    }

    /// Whether nobody has subscribed.
    pub(crate) fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }

    /// Whether `event` should be recorded: someone subscribed or captures, or an init is (or
    /// begins to be) kept for replay. Saves a clone per event when nobody listens.
    pub(crate) fn wants(&self, event: &PlatformEvent) -> bool {
        self.wants_lines() || matches!(event, PlatformEvent::InitStart { .. })
    }

    /// Whether lines of output should be recorded (see [`Hub::wants`]).
    pub(crate) fn wants_lines(&self) -> bool {
        !self.subscribers.is_empty()
            || self.replay.iter().any(Option::is_some)
            || self.capture.is_some()
    }

    /// Keeps the last `max` events of every type from now on (see [`Hub::captured`]).
    pub(crate) fn capture(&mut self, max: usize) {
        self.capture = Some(Capture {
            events: std::collections::VecDeque::new(),
            max: max.max(1),
            dropped: 0,
            total: 0,
        });
    }

    /// The captured events, if capturing.
    pub(crate) fn captured(&self) -> Option<&Capture> {
        self.capture.as_ref()
    }

    /// Whether every buffer is empty and nothing is in flight.
    pub(crate) fn is_drained(&self) -> bool {
        self.subscribers
            .iter()
            .all(|s| s.batcher.is_empty() && !s.batcher.in_flight())
    }

    /// Batches of `env`'s subscribers sent and not yet answered.
    pub(crate) fn in_flight(&self, env: EnvId) -> usize {
        self.subscribers
            .iter()
            .filter(|s| s.env == env && s.batcher.in_flight())
            .count()
    }

    /// Whether `env` is frozen.
    fn is_frozen(&self, env: EnvId) -> bool {
        self.frozen.get(env.index()).copied().unwrap_or(false)
    }

    /// Holds every batch of `env`'s subscribers while it is frozen, and lets them go when it
    /// thaws: a subscriber in a frozen process cannot receive. Nothing is retried, dropped or
    /// counted as lost meanwhile; what came due goes at the thaw.
    pub(crate) fn set_frozen(&mut self, env: EnvId, frozen: bool) {
        if self.frozen.len() <= env.index() {
            self.frozen.resize(env.index() + 1, false);
        }
        self.frozen[env.index()] = frozen;
    }

    /// Records of `env` kept for replay (zero outside an init).
    #[cfg(test)]
    pub(crate) fn replayable(&self, env: EnvId) -> usize {
        self.replay
            .get(env.index())
            .and_then(Option::as_ref)
            .map_or(0, Vec::len)
    }

    /// Takes a record `env` produced at `at`: each of its subscribers that wants it gets it,
    /// and an init keeps it for replay (`platform.initStart` begins an init,
    /// `platform.initReport` ends it). `max_memory_mb` is what a report carries.
    pub(crate) fn record(
        &mut self,
        env: EnvId,
        ctx: &Context,
        at: Micros,
        record: Record,
        max_memory_mb: u64,
    ) {
        self.take(env, ctx, at, record.item(), max_memory_mb);
    }

    /// [`Hub::record`] for a lifecycle event the caller keeps: it is copied only for a replay.
    pub(crate) fn record_event(
        &mut self,
        env: EnvId,
        ctx: &Context,
        at: Micros,
        event: &PlatformEvent,
        memory: u64,
    ) {
        self.take(env, ctx, at, Item::Platform(event), memory);
    }

    /// Delivers `item` to each of `env`'s subscribers and keeps it for a replay during its
    /// init. One copy in the binary: its callers sit on the reactor's hot path, and it is off
    /// it.
    #[inline(never)]
    fn take(&mut self, env: EnvId, ctx: &Context, at: Micros, item: Item<'_>, max_memory_mb: u64) {
        if let Item::Platform(PlatformEvent::InitStart { .. }) = item {
            if self.replay.len() <= env.index() {
                self.replay.resize_with(env.index() + 1, || None);
            }
            self.replay[env.index()] = Some(Vec::new());
        }
        for i in 0..self.subscribers.len() {
            if self.subscribers[i].env == env {
                self.deliver(ctx, i, at, item, max_memory_mb);
            }
        }
        if let Some(capture) = &mut self.capture {
            let schema = Schema::Telemetry2025_01_29;
            for rendered in render(ctx, at, item, max_memory_mb, Api::Telemetry, schema) {
                if capture.events.len() == capture.max {
                    capture.events.pop_front();
                    capture.dropped += 1;
                }
                capture.events.push_back(rendered);
                capture.total += 1;
            }
        }
        let replay = self.replay.get_mut(env.index());
        if let Item::Platform(PlatformEvent::InitDone { .. }) = item {
            if let Some(replay) = replay {
                *replay = None;
            }
        } else if let Some(Some(replay)) = replay {
            if replay.len() == MAX_REPLAY {
                replay.remove(0);
            }
            replay.push((at, item.to_record()));
        }
    }

    /// Adds a subscriber in `env` at `now` as extension `name`: it gets the replay of the
    /// environment's init in progress, then everyone there gets its
    /// `platform.telemetrySubscription`.
    pub(crate) fn subscribe(
        &mut self,
        env: EnvId,
        ctx: &Context,
        now: Micros,
        name: &str,
        subscription: Subscription,
    ) -> SubscriberId {
        let framing = match subscription.destination {
            Destination::Http { .. } => Framing::JsonArray,
            Destination::Tcp { .. } => Framing::Ndjson,
        };
        let types = subscription.types;
        self.subscribers.push(Subscriber {
            env,
            batcher: Batcher::new(subscription.buffering, framing),
            subscription,
        });
        let id = self.subscribers.len() - 1;
        if let Some(replay) = self.replay.get_mut(env.index()).and_then(Option::take) {
            // An init's records hold no report, so no memory figure is needed.
            for (at, record) in &replay {
                self.deliver(ctx, id, *at, record.item(), 0);
            }
            self.replay[env.index()] = Some(replay);
        }
        let subscribed = Record::Subscribed {
            name: name.to_string(),
            types,
        };
        self.record(env, ctx, now, subscribed, 0);
        SubscriberId(id)
    }

    /// Where subscriber `id`'s batches go.
    pub(crate) fn destination(&self, id: SubscriberId) -> Option<&Destination> {
        self.subscribers
            .get(id.0)
            .map(|s| &s.subscription.destination)
    }

    /// The next batch to send, and whose, if one is due. A subscriber that lost records
    /// (and takes platform events) finds a `platform.logsDropped` at the head of its batch.
    pub(crate) fn poll_batch(
        &mut self,
        ctx: &Context,
        now: Micros,
    ) -> Option<(SubscriberId, Batch)> {
        let frozen = &self.frozen;
        let is_frozen = |env: EnvId| frozen.get(env.index()).copied().unwrap_or(false);
        self.subscribers.iter_mut().enumerate().find_map(|(i, s)| {
            if is_frozen(s.env) {
                return None;
            }
            let platform = s.subscription.types.platform;
            let mut report = |dropped: Dropped, out: &mut Vec<u8>| {
                if platform {
                    write_logs_dropped(out, ctx, now, dropped.records, dropped.bytes);
                }
            };
            s.batcher
                .poll_batch(now, &mut report)
                .map(|b| (SubscriberId(i), b))
        })
    }

    /// Subscriber `id`'s batch in flight was answered (`accepted` for a 2xx) or failed.
    pub(crate) fn handle_sent(&mut self, now: Micros, id: SubscriberId, accepted: bool) {
        if let Some(s) = self.subscribers.get_mut(id.0) {
            s.batcher.handle_sent(now, accepted);
        }
    }

    /// When [`Hub::handle_timeout`] or [`Hub::poll_batch`] should next be called.
    pub(crate) fn poll_timeout(&self) -> Option<Micros> {
        // A frozen environment's subscribers have no batch in flight (it froze after the last
        // one was answered), and none is due until the thaw.
        self.subscribers
            .iter()
            .filter(|s| !self.is_frozen(s.env))
            .filter_map(|s| s.batcher.poll_timeout())
            .min()
    }

    /// Fires what is due; returns the subscribers whose batch in flight went unanswered (the
    /// caller closes their connections).
    pub(crate) fn handle_timeout(&mut self, now: Micros) -> Vec<SubscriberId> {
        let mut stalled = Vec::new();
        for (i, s) in self.subscribers.iter_mut().enumerate() {
            if s.batcher.handle_timeout(now) {
                stalled.push(SubscriberId(i));
            }
        }
        stalled
    }

    /// Sends everything buffered without waiting (shutdown, a stream that closed).
    pub(crate) fn flush(&mut self) {
        for s in &mut self.subscribers {
            s.batcher.flush();
        }
    }

    /// Renders `record` for subscriber `i` and buffers it, if it is wanted.
    fn deliver(&mut self, ctx: &Context, i: usize, at: Micros, item: Item<'_>, memory_mb: u64) {
        let Some(s) = self.subscribers.get_mut(i) else {
            return;
        };
        if !item.wanted(s.subscription.types) {
            return;
        }
        let (api, schema) = (s.subscription.api, s.subscription.schema);
        for rendered in render(ctx, at, item, memory_mb, api, schema) {
            s.batcher.push(at, rendered);
        }
    }
}

/// `item` as the events of `api` on `schema`: none for one it has no type for, two for a
/// report on the Logs API (`platform.end`, `platform.report`).
fn render(
    ctx: &Context,
    at: Micros,
    item: Item<'_>,
    memory_mb: u64,
    api: Api,
    schema: Schema,
) -> Vec<Vec<u8>> {
    let mut records = Vec::with_capacity(1);
    let mut out = Vec::new();
    match item {
        Item::Platform(event) if api == Api::Logs => {
            write_logs_event(&mut records, ctx, schema, event, at, memory_mb);
            return records;
        }
        Item::Platform(event) => {
            if !write_event(&mut out, ctx, event, at, memory_mb) {
                return records;
            }
        }
        Item::Function(line) => write_line(&mut out, ctx, at, false, line),
        Item::Extension(line) => write_line(&mut out, ctx, at, true, line),
        Item::Subscribed(name, types) => write_subscription(&mut out, ctx, at, api, name, types),
    }
    records.push(out);
    records
}

#[cfg(test)]
mod tests;

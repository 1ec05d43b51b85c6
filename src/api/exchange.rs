//! What a request means, decided without IO: its route, the checks rapid makes before reading a
//! runtime's post, the limit on its body, which of the core's events it raises, and what it is
//! answered. The reactor reads and writes the bytes and carries the [`Outcome`] out, as quinn's
//! driver carries out what quinn-proto returns.
//!
//! A request goes through [`Exchange::begin`] when its head is in, then, once its body is,
//! [`Exchange::complete`]; a body that never arrives whole goes to [`Exchange::cut_short`]. An
//! embedded invocation skips the wire and goes to [`Exchange::invoke`], the one path of every
//! invocation, HTTP or embedded.
//!
//! Rules, each with its source:
//! - A runtime's `/response` and `/error` are checked on their head, before the body is read:
//!   an id that is not the invocation in flight is 400 `InvalidRequestID`, a second result 403
//!   `InvalidStateTransition` (rapid validates before any state change: RIE
//!   `internal/lambda/rapi/middleware/middleware.go`, `rapi/handler/invocationresponse.go`).
//! - A `Lambda-Runtime-Function-Response-Mode` other than `streaming` is 400
//!   `InvalidFunctionResponseMode`, and the invocation fails with
//!   `Runtime.InvalidResponseModeHeader` (RIE `rapi/handler/invocationresponse.go`).
//! - `/init/error` is taken only before the runtime's first `/next` (RIE
//!   `rapi/handler/initerror.go`).
//! - A runtime's post whose body is over the limit (6 291 556 bytes, RIE
//!   `internal/lambda/interop/model.go`) is 413 for the runtime and
//!   `Function.ResponseSizeTooLarge` for the invoker; one cut short is
//!   `Runtime.TruncatedResponse` (RIE `rapi/handler/invocationresponse.go`).
//! - A streamed response's bytes reach a streaming invoker as they come; a buffered invoker gets
//!   them whole, within the buffered limit
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html>).
//! - `X-Amz-Invocation-Type: Event` is answered 202 at once and nobody waits for its outcome;
//!   `DryRun` is 204 and runs nothing
//!   (<https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>).
//! - Telemetry and Logs subscriptions are registered in the hub as the core allows them
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html>).

use super::invoke::InvocationType;
use super::runtime::{self, ResponseMode};
use super::{Context, Listener, Rendered, Route, extensions, invoke, rejection, telemetry};
use crate::http::{Head, RequestDecoder};
use crate::id::{RequestId, Uuid};
use crate::lifecycle::{
    EnvId, InvokeRequest, Lifecycle, MAX_RESPONSE_BYTES, Rejection, RuntimeResult, StreamEnd,
    WaiterId,
};
use crate::telemetry::Hub;
use crate::time::Micros;

/// Who a core [`WaiterId`] stands for: a connection, an embedded caller's ticket, or nobody (an
/// `Event` invocation, whose outcome is kept instead). The numbers are the reactor's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiter {
    /// A connection, by its slab key.
    Conn(u64),
    /// An embedded caller, by its ticket's slab key.
    Ticket(u64),
    /// The `n`th `Event` invocation: nobody waits.
    Event(u64),
}

/// The top two bits of a [`WaiterId`] say which kind of [`Waiter`] it is.
const KIND_SHIFT: u32 = 62;
const KIND_TICKET: u64 = 1;
const KIND_EVENT: u64 = 2;
const NUMBER: u64 = (1 << KIND_SHIFT) - 1;

impl Waiter {
    /// The core's id for this waiter.
    pub(crate) fn id(self) -> WaiterId {
        let (kind, n) = match self {
            Waiter::Conn(n) => (0, n),
            Waiter::Ticket(n) => (KIND_TICKET, n),
            Waiter::Event(n) => (KIND_EVENT, n),
        };
        debug_assert!(n <= NUMBER, "a waiter number over 62 bits");
        WaiterId(kind << KIND_SHIFT | (n & NUMBER))
    }

    /// The waiter a core id stands for.
    pub(crate) fn of(id: WaiterId) -> Waiter {
        let n = id.0 & NUMBER;
        match id.0 >> KIND_SHIFT {
            KIND_TICKET => Waiter::Ticket(n),
            KIND_EVENT => Waiter::Event(n),
            _ => Waiter::Conn(n),
        }
    }
}

/// What a parked connection waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// A runtime's `/next`: an invocation.
    Next,
    /// An invoker: the function's answer.
    Invoke,
    /// An `InvokeWithResponseStream` invoker: the answer as an event stream, its chunks as they
    /// come.
    InvokeStream,
    /// An extension's `event/next`: an INVOKE or SHUTDOWN event.
    Event,
}

/// What a request's head decided.
#[derive(Debug)]
pub(crate) enum Begin {
    /// Refused from its head: this is the answer, whatever the body holds. (Boxed, as are
    /// the answers below: the hot path moves these values several times per request, and a
    /// rendering is a few hundred bytes.)
    Refused(Box<Rendered<'static>>),
    /// Read the body, at most `limit` bytes (413 past it), then [`Exchange::complete`].
    Read {
        /// The route, for [`Exchange::complete`].
        route: Route,
        /// The body limit.
        limit: u64,
        /// A runtime's streamed response: its body is forwarded as it comes.
        stream: Option<Box<ResponseStream>>,
    },
}

/// How a request's body failed to arrive whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Over the route's limit.
    TooLarge {
        /// The limit it passed.
        limit: u64,
    },
    /// The peer closed, or took too long.
    Truncated,
}

/// An answer, owning what its rendering borrows.
#[derive(Debug)]
pub(crate) enum Answer {
    /// 202 `{"status":"OK"}`: a post taken.
    Taken,
    /// Rendered already.
    Rendered(Box<Rendered<'static>>),
    /// 200 to an extension's registration, with its identifier.
    Registered {
        /// The extension's identifier.
        id: Uuid,
        /// It asked for `accountId` (`Lambda-Extension-Accept-Feature`).
        account_id: bool,
    },
    /// 202 to an `Event` invocation, queued as this request id.
    Accepted(RequestId),
}

impl Answer {
    /// The answer as it goes on the wire.
    pub(crate) fn render<'a>(&'a self, ctx: &'a Context) -> Rendered<'a> {
        match self {
            Answer::Taken => runtime::accepted(),
            Answer::Rendered(rendered) => rendered.borrowed(),
            Answer::Registered { id, account_id } => {
                extensions::registered(ctx, id, &ctx.handler, *account_id)
            }
            Answer::Accepted(id) => invoke::accepted(id),
        }
    }
}

/// The last bytes of a runtime's stream, for its streaming invoker.
#[derive(Debug)]
pub(crate) struct Piece {
    /// The streaming invoker.
    pub(crate) to: WaiterId,
    /// The invocation.
    pub(crate) request_id: RequestId,
    /// The stream's content type.
    pub(crate) content_type: Option<String>,
    /// The bytes.
    pub(crate) bytes: Vec<u8>,
}

/// What to do with a complete request.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Answer it now.
    Answer(Answer),
    /// Park the connection; its answer comes with one of the core's actions.
    Park(Wait),
    /// A post that ends an invocation or an init (a runtime's result, an extension's error),
    /// taken or refused by the core: send `piece` (the end of a stream) to its invoker, carry
    /// out the core's actions, and only then answer, so that the invoker's answer, on the
    /// invocation's latency path, goes out first.
    AnswerAfterActions {
        /// The poster's answer.
        answer: Answer,
        /// The stream's last bytes, ahead of the invoker's answer.
        piece: Option<Box<Piece>>,
    },
}

/// What an invocation got.
#[derive(Debug)]
pub(crate) enum Invoked {
    /// Queued as this request id; the invoker's answer comes as the core's `Reply`.
    Queued(RequestId),
    /// Answered at once: 202 for an `Event` (queued as the id), 204 for a `DryRun`, or a refusal.
    Answered(Option<RequestId>, Answer),
}

/// A request's view of the simulator: the core, the telemetry hub, and what the wire needs to
/// know about the function, at `now`.
#[derive(Debug)]
pub(crate) struct Exchange<'a> {
    /// The time of the turn.
    pub(crate) now: Micros,
    /// The lifecycle core.
    pub(crate) core: &'a mut Lifecycle,
    /// The environment whose Runtime API the request came to (any, on the invoke endpoint).
    pub(crate) env: EnvId,
    /// Telemetry and Logs subscribers.
    pub(crate) hub: &'a mut Hub,
    /// The function, as the wire shows it.
    pub(crate) ctx: &'a Context,
    /// `Event` invocations so far: each gets the next number as its [`Waiter::Event`].
    pub(crate) events: &'a mut u64,
}

/// The answer to a runtime's result the core refused. One too late for its timed-out invocation
/// is answered so once, and forgotten.
fn refuse_result(
    core: &mut Lifecycle,
    env: EnvId,
    id: RequestId,
    listener: Listener,
    refused: Rejection,
) -> Rendered<'static> {
    if refused == Rejection::InvokeTimeout {
        core.handle_late_result(env, id);
    }
    rejection(listener, refused)
}

impl Exchange<'_> {
    /// A request's head is in: routes it and decides, before any byte of its body, whether it
    /// is refused, and how much body it may have.
    pub(crate) fn begin(&mut self, listener: Listener, head: &Head<'_>) -> Begin {
        let route = super::route(listener, head, self.ctx);
        log::debug!("{:?} {}", head.method(), head.target());
        let (core, env) = (&mut *self.core, self.env);
        let mode = match &route {
            Route::Response(_) => runtime::response_mode(head),
            _ => Some(ResponseMode::Buffered),
        };
        let refused = match &route {
            Route::Refuse(refusal) => Some(super::refusal(listener, refusal, head, self.ctx)),
            Route::Response(id) => match (core.check_runtime_result(env, *id, false), mode) {
                (Err(r), _) => Some(refuse_result(core, env, *id, listener, r)),
                (Ok(()), None) => {
                    // The runtime's 400, and the invocation fails with it (rapid).
                    let invalid = RuntimeResult::InvalidResponseMode;
                    let _ = core.handle_runtime_result(self.now, env, *id, invalid);
                    Some(runtime::invalid_response_mode())
                }
                (Ok(()), Some(_)) => None,
            },
            Route::Error(id) => core
                .check_runtime_result(env, *id, true)
                .err()
                .map(|r| refuse_result(core, env, *id, listener, r)),
            Route::InitError => core
                .check_init_error(env)
                .err()
                .map(|r| rejection(listener, r)),
            _ => None,
        };
        if let Some(answer) = refused {
            return Begin::Refused(Box::new(answer));
        }
        let stream = match (&route, mode) {
            (Route::Response(id), Some(ResponseMode::Streaming)) => {
                let content_type = head.header_str("Content-Type").map(str::to_string);
                Some(Box::new(ResponseStream::new(*id, content_type)))
            }
            _ => None,
        };
        if let Route::Response(id) | Route::Error(id) = &route {
            // Taken: the body may take a while, and its start ends the response's latency.
            core.handle_runtime_response_started(self.now, env, *id);
        }
        let limit = match stream {
            // A streaming invoker takes up to the stream limit; a buffered one keeps to the
            // buffered limit (`ResponseStream::over_limit`).
            Some(_) => self.ctx.max_stream_bytes,
            None => route.body_limit(),
        };
        Begin::Read {
            route,
            limit,
            stream,
        }
    }

    /// A request's body did not arrive whole: a runtime's post ends its invocation with it.
    pub(crate) fn cut_short(
        &mut self,
        route: Option<Route>,
        stream: Option<Box<ResponseStream>>,
        cut: Cut,
    ) {
        let Some(Route::Response(id) | Route::Error(id)) = route else {
            return;
        };
        let result = match (stream, cut) {
            (Some(stream), Cut::TooLarge { limit }) => RuntimeResult::Streamed {
                forwarded: stream.forwarded,
                end: StreamEnd::TooLarge { limit },
            },
            (Some(stream), Cut::Truncated) => RuntimeResult::Streamed {
                forwarded: stream.forwarded,
                end: StreamEnd::Truncated,
            },
            (None, Cut::TooLarge { .. }) => RuntimeResult::TooLarge,
            (None, Cut::Truncated) => RuntimeResult::Truncated,
        };
        // Refused only if the invocation has ended meanwhile; nothing is left to tell.
        let _ = self
            .core
            .handle_runtime_result(self.now, self.env, id, result);
    }

    /// A request is complete in `decoder`: raises its event in the core and says what to
    /// answer. `waiter` is its connection's, should it park.
    pub(crate) fn complete(
        &mut self,
        listener: Listener,
        waiter: Waiter,
        route: Route,
        stream: Option<Box<ResponseStream>>,
        decoder: &mut RequestDecoder,
    ) -> Outcome {
        let body = decoder.take_body();
        let head = &decoder.head();
        let now = self.now;
        let answer = |r: Rendered<'static>| Outcome::Answer(Answer::Rendered(Box::new(r)));
        let refused = |r: Rejection| answer(rejection(listener, r));
        match route {
            Route::Ping => answer(super::pong()),
            Route::Next => match self.core.handle_runtime_next(now, self.env, waiter.id()) {
                Ok(()) => Outcome::Park(Wait::Next),
                Err(r) => refused(r),
            },
            Route::Response(id) => {
                let content_type = head.header_str("Content-Type").map(str::to_string);
                let (result, piece) = match stream {
                    Some(stream) => {
                        let trailer = |name: &str| decoder.trailer(name).map(<[u8]>::to_vec);
                        stream.finish(body, content_type, &trailer)
                    }
                    None if decoder.trailers_raw().is_empty() => {
                        (RuntimeResult::Response { body, content_type }, None)
                    }
                    None => {
                        let trailer = |name: &str| decoder.trailer(name).map(<[u8]>::to_vec);
                        match runtime::trailer_error(&trailer) {
                            Some(error) => (RuntimeResult::Error(error), None),
                            None => (RuntimeResult::Response { body, content_type }, None),
                        }
                    }
                };
                let taken = self.core.handle_runtime_result(now, self.env, id, result);
                post(listener, taken, piece)
            }
            Route::Error(id) => {
                let error = runtime::invocation_error(head, body);
                let taken =
                    self.core
                        .handle_runtime_result(now, self.env, id, RuntimeResult::Error(error));
                post(listener, taken, None)
            }
            Route::InitError => {
                let error = runtime::init_error(head, body);
                let taken = self.core.handle_init_error(now, self.env, error);
                post(listener, taken, None)
            }
            // SnapStart (RIE `internal/lambda/rapi/handler/restorenext.go`, `restoreerror.go`).
            Route::RestoreNext => match self.core.handle_restore_next(now, self.env, waiter.id()) {
                Ok(()) => Outcome::Park(Wait::Next),
                Err(r) => refused(r),
            },
            Route::RestoreError => {
                let error = runtime::init_error(head, body);
                let taken = self.core.handle_restore_error(now, self.env, error);
                post(listener, taken, None)
            }
            Route::ExtensionRegister => {
                let name = head.header_str(extensions::NAME_HEADER).unwrap_or("");
                let registration = match extensions::register(head, &body) {
                    Ok(registration) => registration,
                    Err(refusal) => {
                        warn_refused(name, &refusal);
                        return answer(*refusal);
                    }
                };
                let (name, events) = (&registration.name, registration.events);
                match self
                    .core
                    .handle_extension_register(now, self.env, name, events)
                {
                    Ok(id) => {
                        log::debug!("extension {name} registered as {id}");
                        Outcome::Answer(Answer::Registered {
                            id,
                            account_id: registration.account_id,
                        })
                    }
                    Err(r) => {
                        let refusal = rejection(listener, r);
                        warn_refused(name, &refusal);
                        answer(refusal)
                    }
                }
            }
            Route::ExtensionNext => match extensions::identifier(head) {
                Ok(id) => match self
                    .core
                    .handle_extension_next(now, self.env, waiter.id(), id)
                {
                    Ok(()) => Outcome::Park(Wait::Event),
                    Err(r) => refused(r),
                },
                Err(refusal) => answer(*refusal),
            },
            Route::ExtensionError(kind) => {
                let checked = extensions::identifier(head)
                    .and_then(|id| Ok((id, extensions::error_type(head)?)));
                match checked {
                    Ok((id, error_type)) => {
                        let taken = self
                            .core
                            .handle_extension_error(now, self.env, id, kind, error_type);
                        post(listener, taken, None)
                    }
                    Err(refusal) => answer(*refusal),
                }
            }
            Route::Subscribe(api) => {
                let checked = extensions::identifier(head)
                    .and_then(|id| Ok((id, telemetry::subscription(api, &body)?)));
                let (id, subscription) = match checked {
                    Ok(checked) => checked,
                    Err(refusal) => return answer(*refusal),
                };
                if let Some(refusal) =
                    telemetry::refuse_own_listener(api, &subscription, &self.ctx.listeners)
                {
                    return answer(*refusal);
                }
                match self.core.handle_subscribe(self.env, id, api) {
                    Ok(first) => {
                        // A repeated subscription is taken and changes nothing
                        // (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-logs-api.html).
                        if first {
                            let name = self
                                .core
                                .extension_name(self.env, id)
                                .unwrap_or("")
                                .to_string();
                            let id =
                                self.hub
                                    .subscribe(self.env, self.ctx, now, &name, subscription);
                            log::debug!("extension {name} subscribed to telemetry as {id:?}");
                        }
                        answer(telemetry::subscribed())
                    }
                    Err(r) => refused(r),
                }
            }
            Route::Invoke {
                invoked_arn,
                stream,
                ..
            } => {
                let invoked = match invoke::request(head, body, invoked_arn) {
                    Ok((request, InvocationType::RequestResponse)) => self.invoke(waiter, request),
                    Ok((request, InvocationType::Event)) => self.invoke_event(request),
                    Ok((_, InvocationType::DryRun)) => return answer(invoke::dry_run()),
                    Err(refusal) => return answer(*refusal),
                };
                match invoked {
                    Invoked::Queued(id) => {
                        log::debug!("invocation {id} queued");
                        Outcome::Park(if stream {
                            Wait::InvokeStream
                        } else {
                            Wait::Invoke
                        })
                    }
                    Invoked::Answered(_, answer) => Outcome::Answer(answer),
                }
            }
            Route::Refuse(refusal) => answer(super::refusal(listener, &refusal, head, self.ctx)),
        }
    }

    /// A `RequestResponse` invocation from `invoker`, over HTTP or embedded: it waits for the
    /// function's answer.
    pub(crate) fn invoke(&mut self, invoker: Waiter, request: InvokeRequest) -> Invoked {
        if let Some(refusal) = invoke::refused_forwarding(&request) {
            return Invoked::Answered(None, Answer::Rendered(refusal));
        }
        match self.core.invoke(self.now, invoker.id(), request) {
            Ok(id) => Invoked::Queued(id),
            Err(r) => Invoked::Answered(None, refused_invocation(r)),
        }
    }

    /// An `Event` invocation, over HTTP or embedded: answered 202 at once, and nobody waits
    /// for its outcome, which the reactor keeps. Its client context is checked but not passed
    /// on: "Lambda passes the ClientContext object to your function for synchronous
    /// invocations only" (<https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>).
    pub(crate) fn invoke_event(&mut self, mut request: InvokeRequest) -> Invoked {
        if let Some(refusal) = invoke::refused_forwarding(&request) {
            return Invoked::Answered(None, Answer::Rendered(refusal));
        }
        request.client_context = None;
        *self.events += 1;
        let nobody = Waiter::Event(*self.events);
        match self.core.invoke_event(self.now, nobody.id(), request) {
            Ok(id) => {
                log::debug!("Event invocation {id} queued");
                Invoked::Answered(Some(id), Answer::Accepted(id))
            }
            Err(r) => Invoked::Answered(None, refused_invocation(r)),
        }
    }
}

/// An extension whose registration is refused usually exits or hangs, and its reason would be
/// visible only in the HTTP body it got: say it where the user looks.
#[inline(never)]
fn warn_refused(name: &str, refusal: &Rendered<'_>) {
    let body: serde_json::Value = serde_json::from_slice(&refusal.body).unwrap_or_default();
    let field = |key: &str| {
        body.get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    log::warn!(
        "extension '{name}' was refused registration: {} {}: {}",
        refusal.status,
        field("errorType"),
        field("errorMessage")
    );
}

/// An invoker's refusal.
fn refused_invocation(rejection: Rejection) -> Answer {
    Answer::Rendered(Box::new(super::rejection(Listener::Invoke, rejection)))
}

/// The answer to a post the core took (202) or refused.
fn post(listener: Listener, taken: Result<(), Rejection>, piece: Option<Box<Piece>>) -> Outcome {
    let answer = match taken {
        Ok(()) => Answer::Taken,
        Err(r) => Answer::Rendered(Box::new(rejection(listener, r))),
    };
    Outcome::AnswerAfterActions { answer, piece }
}

/// A runtime's streamed `/response` between its head and its end
/// (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming>):
/// where its bytes go, how many went, and the bytes held back because they may begin the error
/// lines some runtimes append to the body instead of sending trailers.
#[derive(Debug)]
pub(crate) struct ResponseStream {
    /// The invocation.
    pub(crate) request_id: RequestId,
    /// Where the bytes go as they come: a streaming invoker. `None`: kept whole for a buffered
    /// one. Set once by the reactor, which knows its invokers ([`Self::resolve`]).
    to: Option<WaiterId>,
    resolved: bool,
    /// Bytes forwarded so far.
    pub(crate) forwarded: u64,
    held: Vec<u8>,
    /// The runtime's `Content-Type`: the stream's, for the invoker.
    pub(crate) content_type: Option<String>,
    /// The reactor's shaping: when the first bytes went on...
    pub(crate) started: Option<Micros>,
    /// ...and whether reading waits for the rate to allow more (`StreamLimits`).
    pub(crate) throttled: bool,
    /// Reading waits for the invoker to take what it was sent: its connection's unwritten
    /// output is past its bound. The runtime feels the invoker's pace through TCP.
    pub(crate) backpressured: bool,
}

impl ResponseStream {
    fn new(request_id: RequestId, content_type: Option<String>) -> ResponseStream {
        ResponseStream {
            request_id,
            to: None,
            resolved: false,
            forwarded: 0,
            held: Vec::new(),
            content_type,
            started: None,
            throttled: false,
            backpressured: false,
        }
    }

    /// Whether the stream's invoker is known yet.
    pub(crate) fn is_resolved(&self) -> bool {
        self.resolved
    }

    /// Sets where the bytes go: `Some` for an invoker who takes them as they come.
    pub(crate) fn resolve(&mut self, to: Option<WaiterId>) {
        self.resolved = true;
        self.to = to;
    }

    /// The streaming invoker, if there is one.
    pub(crate) fn to(&self) -> Option<WaiterId> {
        self.to
    }

    /// For a buffered invoker: the limit, if `buffered` bytes of body are past it.
    pub(crate) fn over_limit(&self, buffered: usize) -> Option<u64> {
        (self.to.is_none() && buffered as u64 > MAX_RESPONSE_BYTES).then_some(MAX_RESPONSE_BYTES)
    }

    /// The next bytes of the body, for a streaming invoker: what can go to it now. All of it,
    /// but for what may begin in-body error lines, held until the next bytes tell.
    pub(crate) fn forward(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        let mut piece = std::mem::take(&mut self.held);
        if piece.is_empty() {
            piece = bytes;
        } else {
            piece.extend_from_slice(&bytes);
        }
        let sendable = runtime::forwardable(&piece);
        self.held = piece.split_off(sendable);
        self.forwarded += piece.len() as u64;
        piece
    }

    /// The body is complete with `body`, its last bytes: what the core hears, and the last
    /// piece for a streaming invoker when the stream ends in an error (the payload before the
    /// error still reaches it, ahead of the end).
    fn finish(
        self,
        body: Vec<u8>,
        content_type: Option<String>,
        trailer: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) -> (RuntimeResult, Option<Box<Piece>>) {
        let mut rest = self.held;
        rest.extend_from_slice(&body);
        let error = runtime::stream_error(trailer, &mut rest);
        let mut forwarded = self.forwarded;
        let mut piece = None;
        if let (Some(to), Some(_)) = (self.to, &error) {
            if !rest.is_empty() {
                forwarded += rest.len() as u64;
                piece = Some(Box::new(Piece {
                    to,
                    request_id: self.request_id,
                    content_type: self.content_type,
                    bytes: std::mem::take(&mut rest),
                }));
            }
        }
        let end = match error {
            Some(error) => StreamEnd::Error(error),
            None if self.to.is_none() && rest.len() as u64 > MAX_RESPONSE_BYTES => {
                StreamEnd::TooLarge {
                    limit: MAX_RESPONSE_BYTES,
                }
            }
            None => StreamEnd::Complete {
                body: rest,
                content_type,
            },
        };
        (RuntimeResult::Streamed { forwarded, end }, piece)
    }
}

mod fuzz;
#[cfg(test)]
mod tests;

pub use fuzz::fuzz_router;

//! One HTTP connection: its socket, its request decoder, its pending output, and what it is
//! waiting for. IO only; what requests mean is decided in `reactor::mod` with `api` and the core.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

use crate::api::exchange::{ResponseStream, Wait};
use crate::api::{Listener, Rendered, Route};
use crate::http::RequestDecoder;
use crate::lifecycle::EnvId;
use crate::time::Micros;

/// While a connection waits for an answer, the client may pipeline more requests; past this many
/// buffered bytes we stop reading from it until the answer is out.
pub(crate) const MAX_PIPELINED_BYTES: usize = 64 * 1024;

/// A request refused on its head keeps its connection if its body is at most this long: the
/// body is read and dropped (Go's net/http drains up to 256 KiB the same way). Longer bodies,
/// and bodies held back behind `Expect: 100-continue`, close the connection instead.
pub(crate) const MAX_DISCARD_BYTES: u64 = 256 * 1024;

/// A connection whose unwritten output passes this many bytes is not read (nor its buffered
/// requests decoded) until its peer has taken enough of it: a peer that pipelines requests and
/// never reads their answers holds at most this much output, one read's worth of requests, and
/// the answers to them. Nginx and Go's server stop reading such a peer the same way.
pub(crate) const MAX_UNWRITTEN_BYTES: usize = 256 * 1024;

/// Output buffers larger than this are released once flushed, so that a connection that carried
/// a 6 MB payload does not keep 6 MB while it sits parked.
const KEEP_OUTPUT_CAPACITY: usize = 64 * 1024;

/// What a connection is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Reading (and answering) requests one at a time.
    Reading,
    /// A request went to the core; its answer comes as an action.
    Waiting(Wait),
    /// The last response is going out; then the write side closes and the connection lingers,
    /// discarding input, until the peer closes or the linger time passes.
    Closing,
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) listener: Listener,
    /// The environment whose Runtime API it came to (the first, on the invoke endpoint).
    pub(crate) env: EnvId,
    pub(crate) decoder: RequestDecoder,
    pub(crate) state: State,
    /// When it was accepted: the oldest idle connection is the first closed when descriptors
    /// run short (`Reactor::evict_idle`).
    pub(crate) opened: Micros,
    /// The current request's route, between its head and its completion.
    pub(crate) route: Option<Route>,
    /// An answer decided from the head, sent once the (discarded) body has been read.
    pub(crate) early: Option<Box<Rendered<'static>>>,
    /// The connection broke (a reset, a failed write): nothing more can be written.
    pub(crate) peer_closed: bool,
    /// The peer sent EOF: it sends nothing more, but may still read (a half-close).
    pub(crate) eof: bool,
    /// Close after the current response, whatever the request asked (its body was not read).
    pub(crate) close_after: bool,
    /// Reading stopped because too much was pipelined; resume when the answer is out.
    pub(crate) read_paused: bool,
    /// The write side has been shut down; waiting for the peer's EOF.
    pub(crate) lingering: bool,
    /// A runtime's streamed `/response` in progress.
    pub(crate) streaming: Option<Box<ResponseStream>>,
    /// An `InvokeWithResponseStream` invoker whose answer's head is out.
    pub(crate) stream_started: bool,
    /// The runtime's connection whose stream waits for this invoker to read (its
    /// `backpressured` stream): read again once this connection's output drains.
    pub(crate) feeder: Option<super::slab::Key>,
    /// Requests completed on this connection (wrapping): tells the sweep that one ended.
    pub(crate) requests: u32,
    /// What the last sweep saw it waiting on its peer for, with how many requests it had
    /// completed then, and since when (`Reactor::sweep`).
    pub(crate) watched: Option<(Exposed, u32, Micros)>,
    out: Vec<u8>,
    out_at: usize,
}

/// What a connection waits on its peer for, as far as its timeouts go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exposed {
    /// The rest of a request it has begun.
    Request,
    /// A next request, with nothing in flight.
    Idle,
    /// A first request, on a Runtime API connection that has sent nothing yet.
    Fresh,
}

impl Conn {
    /// What this connection waits on its peer for, if a timeout applies to it. None applies to
    /// a parked long poll or a waiting invoker (the function keeps them), to an answer still
    /// being written, or to a connection already closing; nor, on the Runtime API, to an idle
    /// connection (a runtime's, idle for as long as its function works, up to 15 minutes on
    /// Lambda) or to the body of a runtime's response (the invocation's deadline bounds it,
    /// streamed or not).
    pub(crate) fn exposed(&self) -> Option<Exposed> {
        if self.state != State::Reading
            || self.streaming.is_some()
            || self.has_output()
            || self.lingering
            || self.read_paused
        {
            return None;
        }
        let runtime = self.listener == Listener::Runtime;
        if self.decoder.is_idle() {
            return match (runtime, self.requests) {
                (false, _) => Some(Exposed::Idle),
                // A runtime's or an extension's connection sends its request as it opens.
                (true, 0) => Some(Exposed::Fresh),
                (true, _) => None,
            };
        }
        let response_body = self.decoder.is_reading_body()
            && self.route.as_ref().is_some_and(Route::is_runtime_post);
        (!(runtime && response_body)).then_some(Exposed::Request)
    }

    pub(crate) fn new(stream: TcpStream, listener: Listener, env: EnvId, opened: Micros) -> Conn {
        Conn {
            stream,
            listener,
            env,
            opened,
            decoder: RequestDecoder::new(),
            state: State::Reading,
            route: None,
            early: None,
            peer_closed: false,
            eof: false,
            close_after: false,
            read_paused: false,
            lingering: false,
            streaming: None,
            stream_started: false,
            feeder: None,
            requests: 0,
            watched: None,
            out: Vec::new(),
            out_at: 0,
        }
    }

    /// Reads one buffer's worth into the decoder. Returns `false` when there is nothing more to
    /// read now (would block, paused, or closed).
    ///
    /// Unless `to_the_end`, a read shorter than `scratch` also returns `false`: it emptied the
    /// socket's receive queue, and bytes that arrive later raise a new edge of readiness (mio
    /// registers edge-triggered), so the read that would only say "would block" is skipped, as
    /// tokio does. A readiness event that reports the peer's EOF passes `to_the_end`, so that
    /// data and EOF arriving together are both seen.
    pub(crate) fn read_some(&mut self, scratch: &mut [u8], to_the_end: bool) -> bool {
        if self.peer_closed || self.eof {
            return false;
        }
        if let Some(stream) = &self.streaming {
            if stream.throttled || stream.backpressured {
                self.read_paused = true;
                return false;
            }
        }
        if self.output_full() {
            self.read_paused = true;
            return false;
        }
        if self.state != State::Reading
            && !self.lingering
            && self.decoder.buffered() > MAX_PIPELINED_BYTES
        {
            self.read_paused = true;
            return false;
        }
        loop {
            match self.stream.read(scratch) {
                Ok(0) => {
                    self.eof = true;
                    return false;
                }
                Ok(n) => {
                    // A lingering connection only waits for EOF; what it sends is dropped.
                    if !self.lingering {
                        self.decoder.feed(&scratch[..n]);
                    }
                    self.read_paused = false;
                    return to_the_end || n == scratch.len();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.read_paused = false;
                    return false;
                }
                // A reset connection is as gone as a closed one.
                Err(_) => {
                    self.peer_closed = true;
                    return false;
                }
            }
        }
    }

    /// Whether the response to the current request must close the connection.
    #[inline(never)]
    pub(crate) fn must_close(&self) -> bool {
        self.close_after || self.peer_closed || self.eof || !self.decoder.head().keep_alive()
    }

    /// Whether the connection is done with: broken, or closed by its peer with nothing left to
    /// write to it. A peer that half-closed after its request still gets the answer (as Go's
    /// server, and so AWS's emulator, answers it): an invoker waiting for the function's answer
    /// keeps its connection, and so does an answer still being written. A runtime's or an
    /// extension's parked long poll whose peer sent EOF is gone: its process is taken to have
    /// let go of it.
    pub(crate) fn is_gone(&self) -> bool {
        let awaits_answer = self.listener == Listener::Invoke
            && matches!(
                self.state,
                State::Waiting(Wait::Invoke | Wait::InvokeStream)
            );
        self.peer_closed || (self.eof && !awaits_answer && !self.has_output())
    }

    /// Whether it may be closed to free its descriptor: it waits for nothing of the
    /// function's and owes nothing. A connection that never sent a request, an idle invoker's
    /// keep-alive connection, or one lingering after its last answer; never a runtime's or an
    /// extension's connection that has been used (it may be their keep-alive connection).
    pub(crate) fn is_evictable(&self) -> bool {
        if self.lingering {
            return true;
        }
        self.state == State::Reading
            && self.decoder.is_idle()
            && !self.has_output()
            && (self.requests == 0 || self.listener == Listener::Invoke)
    }

    /// Unwritten output past [`MAX_UNWRITTEN_BYTES`]: stop reading and decoding until the peer
    /// takes some of it. A lingering connection only drops what it reads, so it never is.
    pub(crate) fn output_full(&self) -> bool {
        !self.lingering && self.out.len() - self.out_at > MAX_UNWRITTEN_BYTES
    }

    /// Answers the current request: `render` appends the whole response, told whether the
    /// connection closes after it. The decoder moves on to the next request.
    pub(crate) fn answer(&mut self, render: impl FnOnce(&mut Vec<u8>, bool)) {
        let close = self.must_close();
        render(&mut self.out, close);
        self.answered(close);
    }

    /// The part of `answer` that does not depend on the rendering: one copy of it in the
    /// binary, not one per caller.
    #[inline(never)]
    fn answered(&mut self, close: bool) {
        self.decoder.finish();
        self.route = None;
        self.early = None;
        self.state = if close {
            State::Closing
        } else {
            State::Reading
        };
        self.flush();
    }

    /// Queues raw bytes (an interim `100 Continue`).
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.flush();
    }

    /// Writes pending output until the socket would block. A broken connection counts as
    /// closed by the peer.
    pub(crate) fn flush(&mut self) {
        while self.out_at < self.out.len() {
            match self.stream.write(&self.out[self.out_at..]) {
                Ok(0) => {
                    self.peer_closed = true;
                    return;
                }
                Ok(n) => self.out_at += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.peer_closed = true;
                    return;
                }
            }
        }
        self.out.clear();
        self.out_at = 0;
        if self.out.capacity() > KEEP_OUTPUT_CAPACITY {
            self.out = Vec::new();
        }
    }

    pub(crate) fn has_output(&self) -> bool {
        self.out_at < self.out.len()
    }

    /// For a connection in `State::Closing` whose output is out: closes our write side so the
    /// peer sees the end of the response, then lingers for its EOF. Closing outright with unread
    /// input would make the kernel send RST, which can destroy the response in flight.
    pub(crate) fn start_lingering(&mut self) {
        if !self.lingering {
            self.lingering = true;
            let _ = self.stream.shutdown(Shutdown::Write);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connected pair: the client as std, the server end as the reactor holds it.
    fn pair() -> (std::net::TcpStream, TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (client, TcpStream::from_std(server))
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // waits for loopback delivery
    fn a_short_read_ends_reading_unless_the_event_reported_eof() {
        let (mut client, server) = pair();
        let request = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
        client.write_all(request).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut conn = Conn::new(server, Listener::Runtime, EnvId(0), Micros::ZERO);
        let mut scratch = vec![0u8; 4096];
        // A short read emptied the queue: no second read, so the EOF behind it is unseen...
        assert!(!conn.read_some(&mut scratch, false));
        assert_eq!(conn.decoder.buffered(), request.len());
        assert!(!conn.eof);
        // ...which is why an event that reports EOF reads to the end.
        while conn.read_some(&mut scratch, true) {}
        assert!(conn.eof);
        assert_eq!(conn.decoder.buffered(), request.len());
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // waits for loopback delivery
    fn a_full_read_asks_for_another() {
        let (mut client, server) = pair();
        client.write_all(&[b'x'; 100]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut conn = Conn::new(server, Listener::Runtime, EnvId(0), Micros::ZERO);
        let mut scratch = vec![0u8; 10];
        let mut reads = 0;
        while conn.read_some(&mut scratch, false) {
            reads += 1;
            assert!(reads < 1000, "the reads end");
        }
        // Ten full reads, then the empty one that would block.
        assert_eq!(conn.decoder.buffered(), 100);
        assert!(!conn.eof);
    }
}

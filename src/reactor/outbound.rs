//! A connection to a telemetry subscriber's listener, carrying one batch at a time: written when
//! the socket takes it, answered (HTTP) or done once written (TCP). Non-blocking; the reactor
//! drives it from readiness events.

use std::io::{self, Read, Write};

use mio::net::TcpStream;

use crate::http::client::{Answer, ResponseReader};
use crate::telemetry::SubscriberId;

/// What a step on the connection came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing yet: wait for readiness.
    Pending,
    /// A TCP batch is written: there is no answer to wait for.
    Written,
    /// The HTTP answer came.
    Answered(Answer),
    /// The connection failed (refused, reset, closed mid-answer, a bad answer).
    Failed,
}

#[derive(Debug)]
pub(crate) struct Outbound {
    pub(crate) subscriber: SubscriberId,
    pub(crate) stream: TcpStream,
    /// HTTP (an answer follows each batch) or NDJSON over TCP.
    http: bool,
    out: Vec<u8>,
    out_at: usize,
    input: Vec<u8>,
    reader: ResponseReader,
    /// A batch is on its way or awaiting its answer.
    pub(crate) busy: bool,
}

impl Outbound {
    pub(crate) fn new(subscriber: SubscriberId, stream: TcpStream, http: bool) -> Outbound {
        Outbound {
            subscriber,
            stream,
            http,
            out: Vec::new(),
            out_at: 0,
            input: Vec::new(),
            reader: ResponseReader::default(),
            busy: false,
        }
    }

    /// Sends a whole request (HTTP) or batch (TCP).
    pub(crate) fn send(&mut self, bytes: Vec<u8>) -> Step {
        self.out = bytes;
        self.out_at = 0;
        self.input.clear();
        self.reader.reset();
        self.busy = true;
        self.flush()
    }

    /// Writes what the socket takes. A socket still connecting takes nothing yet.
    #[inline(never)]
    pub(crate) fn flush(&mut self) -> Step {
        if !self.busy {
            return Step::Pending;
        }
        if let Ok(Some(_)) | Err(_) = self.stream.take_error() {
            return Step::Failed;
        }
        while self.out_at < self.out.len() {
            match self.stream.write(&self.out[self.out_at..]) {
                Ok(0) => return Step::Failed,
                Ok(n) => self.out_at += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::NotConnected =>
                {
                    return Step::Pending;
                }
                Err(_) => return Step::Failed,
            }
        }
        if self.http {
            Step::Pending
        } else {
            self.busy = false;
            Step::Written
        }
    }

    /// Reads what the peer sent, up to its answer; `closed` when the event said it hung up.
    pub(crate) fn read(&mut self, buf: &mut [u8], closed: bool) -> Step {
        let mut eof = false;
        loop {
            match self.stream.read(buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Step::Failed,
            }
        }
        if self.busy && self.http {
            match self.reader.feed(&self.input) {
                Ok((Some(answer), _)) => {
                    self.busy = false;
                    self.input.clear();
                    return Step::Answered(answer);
                }
                Ok((None, used)) => {
                    self.input.drain(..used);
                }
                Err(_) => return Step::Failed,
            }
            if eof {
                return match self.reader.feed_eof() {
                    Ok(answer) => {
                        self.busy = false;
                        Step::Answered(answer)
                    }
                    Err(_) => Step::Failed,
                };
            }
        } else {
            // Nothing is expected: a TCP listener's bytes are dropped.
            self.input.clear();
        }
        if eof || closed {
            Step::Failed
        } else {
            Step::Pending
        }
    }
}

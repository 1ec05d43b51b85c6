//! The HTTP floor: the same clients as lambda-sim's rows (the invoker, the `runtime` and
//! `extension` helpers, all speaking HTTP/1.1), served by a relay that does the least an HTTP
//! server of this protocol must: it parses each request's head with httparse (lambda-sim's
//! parser) to find where it ends and its `Content-Length`, tells a `GET` from a `POST`, and
//! answers with responses of lambda-sim's shape whose every byte but the body's length and the
//! body is fixed. No routing, no lifecycle, no ids, no clock, no logs.
//!
//! Against the protocol floor (whose peers read and write one byte), what separates the two
//! is what HTTP costs the clients and a server that parses nothing: against this floor, what
//! lambda-sim itself adds.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};

use super::write_all_spinning as send;
use super::{
    EXT_PEER, Invoker, ROLE, expect_line, extension_flags, poll_retrying, start_relay, stop,
};

/// The runtime's `/next` answer, up to its `Content-Length` value: lambda-sim's headers, with
/// fixed values of the same lengths.
const NEXT_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
Lambda-Runtime-Aws-Request-Id: 9cdb1e3e-164c-4997-9331-4c335856184f\r\n\
Lambda-Runtime-Deadline-Ms: 1796611586005\r\n\
Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:012345678912:function:test_function\r\n\
Lambda-Runtime-Trace-Id: Root=1-6b161dff-d6ff0a06ef75d3bd365dacfa;Parent=72c8d22cc87b3f92;Sampled=0\r\n\
Content-Type: application/json\r\n\
Content-Length: ";

/// The invoker's answer, up to its `Content-Length` value.
const REPLY_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
X-Amzn-RequestId: 9cdb1e3e-164c-4997-9331-4c335856184f\r\n\
X-Amz-Executed-Version: $LATEST\r\n\
Content-Type: application/json\r\n\
Content-Length: ";

/// The runtime's answer to its `/response`.
const ACCEPTED: &[u8] = b"HTTP/1.1 202 Accepted\r\n\
Content-Type: application/json\r\n\
Content-Length: 15\r\n\r\n{\"status\":\"OK\"}";

/// An extension's answer to its registration.
const REGISTERED: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Type: application/json\r\n\
Lambda-Extension-Identifier: 3d1f6ddd-0915-4ee0-823c-432bd329e20e\r\n\
Content-Length: 73\r\n\r\n\
{\"functionName\":\"test_function\",\"functionVersion\":\"$LATEST\",\"handler\":\"\"}";

/// An extension's INVOKE event.
const INVOKE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Type: application/json\r\n\
Lambda-Extension-Event-Identifier: 0e3a39d1-bf9a-4c88-98a0-aa5a92fe4327\r\n\
Content-Length: 306\r\n\r\n\
{\"eventType\":\"INVOKE\",\"deadlineMs\":1796611586005,\"requestId\":\"9cdb1e3e-164c-4997-9331-4c335856184f\",\
\"invokedFunctionArn\":\"arn:aws:lambda:us-east-1:012345678912:function:test_function\",\
\"tracing\":{\"type\":\"X-Amzn-Trace-Id\",\"value\":\"Root=1-6b161dff-d6ff0a06ef75d3bd365dacfa;Parent=72c8d22cc87b3f92;Sampled=0\"}}";

/// Where the first whole request in `buf` ends, and where its body starts; `None` if it is not
/// all in yet. The same parser as lambda-sim's, and nothing after it but the one header.
fn request_end(buf: &[u8]) -> io::Result<Option<(usize, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut request = httparse::Request::new(&mut headers);
    let head = match request.parse(buf) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(io::Error::other(format!(
                "the HTTP relay got a bad request: {e}"
            )));
        }
    };
    let length = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |h| {
            h.value
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .fold(0usize, |n, b| n * 10 + usize::from(b - b'0'))
        });
    Ok((buf.len() >= head + length).then_some((head, head + length)))
}

/// Appends `head` (which ends with `Content-Length: `), the length, a blank line and `body`.
fn answer(out: &mut Vec<u8>, head: &[u8], body: &[u8]) -> io::Result<()> {
    out.clear();
    out.extend_from_slice(head);
    write!(out, "{}\r\n\r\n", body.len())?;
    out.extend_from_slice(body);
    Ok(())
}

/// The `httprelay` role: prints its port; accepts the runtime's connection, then the
/// [`EXT_PEER`] extensions', then the invoker's (saying `connected` after each but the last);
/// then serves them from one mio reactor. The next invocation waits for the runtime's `/next`
/// and every extension's `event/next`, as lambda-sim's does.
pub(super) fn relay() -> io::Result<()> {
    use mio::net::TcpStream as MioStream;
    use mio::{Events, Interest, Poll, Token};

    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    io::stdout().flush()?;
    let peers: usize = std::env::var(EXT_PEER)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let accept = |say: bool| -> io::Result<MioStream> {
        let (s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        if say {
            println!("connected");
            io::stdout().flush()?;
        }
        Ok(MioStream::from_std(s))
    };
    // End 0 is the runtime, 1 the invoker, 2.. the extensions.
    let runtime = accept(true)?;
    let mut exts = Vec::with_capacity(peers);
    for _ in 0..peers {
        exts.push(accept(true)?);
    }
    let mut ends = vec![runtime, accept(false)?];
    ends.extend(exts);
    let mut poll = Poll::new()?;
    for (i, s) in ends.iter_mut().enumerate() {
        poll.registry().register(s, Token(i), Interest::READABLE)?;
    }
    let mut events = Events::with_capacity(16);
    let mut bufs: Vec<Vec<u8>> = ends.iter().map(|_| Vec::with_capacity(64 * 1024)).collect();
    let mut out = Vec::with_capacity(64 * 1024);
    let mut held = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    // Whether the runtime is on `/next`, how many extensions are on `event/next`, and whether
    // an invocation waits in `held`.
    let mut asked = false;
    let mut back = 0;
    let mut waiting = false;
    loop {
        poll_retrying(&mut poll, &mut events)?;
        for event in events.iter() {
            let from = event.token().0;
            loop {
                match ends[from].read(&mut chunk) {
                    Ok(0) => return Ok(()),
                    Ok(n) => bufs[from].extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            while let Some((body_at, end)) = request_end(&bufs[from])? {
                let request = &bufs[from][..end];
                let post = request.starts_with(b"POST");
                match from {
                    0 if post => {
                        answer(&mut out, REPLY_HEAD, &request[body_at..])?;
                        send(&mut ends[1], &out)?;
                        send(&mut ends[0], ACCEPTED)?;
                    }
                    0 => asked = true,
                    1 => {
                        held.clear();
                        held.extend_from_slice(&request[body_at..]);
                        waiting = true;
                    }
                    _ if post => send(&mut ends[from], REGISTERED)?,
                    _ => back += 1,
                }
                bufs[from].drain(..end);
                if asked && waiting && back == peers {
                    answer(&mut out, NEXT_HEAD, &held)?;
                    send(&mut ends[0], &out)?;
                    for ext in &mut ends[2..] {
                        send(ext, INVOKE)?;
                    }
                    (asked, waiting, back) = (false, false, 0);
                }
            }
        }
    }
}

/// The HTTP floor with `peers` extensions: the relay and its clients, each a process but the
/// invoker.
pub struct HttpFloor {
    relay: Child,
    clients: Vec<Child>,
    addr: SocketAddr,
    invoker: Option<Invoker>,
}

impl HttpFloor {
    /// The floor with this process as its invoker.
    pub fn start(peers: usize) -> io::Result<HttpFloor> {
        HttpFloor::spawn(peers, true)
    }

    /// The floor waiting for an invoker in another process ([`super::invoke_apart`]).
    pub fn unlinked(peers: usize) -> io::Result<HttpFloor> {
        HttpFloor::spawn(peers, false)
    }

    fn spawn(peers: usize, link: bool) -> io::Result<HttpFloor> {
        let exe = std::env::current_exe()?;
        let (relay, mut out, addr) = start_relay(
            Command::new(&exe)
                .env(ROLE, "httprelay")
                .env(EXT_PEER, peers.to_string()),
        )?;
        let mut floor = HttpFloor {
            relay,
            clients: Vec::with_capacity(peers + 1),
            addr: addr.parse().map_err(io::Error::other)?,
            invoker: None,
        };
        let exe = exe.to_str().ok_or(io::ErrorKind::InvalidInput)?;
        // The runtime, then each extension: the order the relay tells them apart by.
        let mut runtime = Command::new(exe);
        runtime.env(ROLE, "runtime");
        let extensions = extension_flags(exe, peers).into_iter().map(|flag| {
            // `name=exe args...`: the helper's own arguments.
            let mut words = flag.split_whitespace().skip(1);
            let mut cmd = Command::new(exe);
            cmd.args(words.by_ref());
            cmd
        });
        for mut cmd in std::iter::once(runtime).chain(extensions) {
            floor.clients.push(
                cmd.env("AWS_LAMBDA_RUNTIME_API", &addr)
                    .stdout(Stdio::null())
                    .spawn()?,
            );
            expect_line(&mut out, "connected", "a client")?;
        }
        if link {
            floor.invoker = Some(Invoker::connect(floor.addr)?);
        }
        Ok(floor)
    }

    /// The relay's process id.
    pub fn relay_pid(&self) -> u32 {
        self.relay.id()
    }

    /// The relay's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// One invocation with `payload`, its echo checked.
    pub fn round_trip(&mut self, payload: &[u8]) -> io::Result<()> {
        let invoker = self
            .invoker
            .as_mut()
            .ok_or_else(|| io::Error::other("this floor's invoker is another process"))?;
        match invoker.invoke(payload)? == payload {
            true => Ok(()),
            false => Err(io::Error::other("the echo came back different")),
        }
    }
}

impl Drop for HttpFloor {
    fn drop(&mut self) {
        let mut all: Vec<&mut Child> = std::iter::once(&mut self.relay)
            .chain(self.clients.iter_mut())
            .collect();
        stop(&mut all);
    }
}

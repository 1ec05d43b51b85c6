//! Shared by the benches: percentiles, a std-only HTTP/1.1 client, the helper roles a bench
//! re-executes itself in (an HTTP runtime client, the floor's relay and echo peers), and
//! process helpers (starting the release binary, reading RSS).
//!
//! Every bench binary calls [`play_role`] first: when the process was started as a helper, it
//! plays that role and exits; otherwise it returns and the bench runs.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod http_floor;
pub use http_floor::HttpFloor;

/// The variable that names a helper role.
pub const ROLE: &str = "LAMBDA_SIM_BENCH_ROLE";
/// The address an `echo` helper connects to.
pub const PEER: &str = "LAMBDA_SIM_BENCH_PEER";

/// The invoke path every invoker uses.
pub const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";

/// The payload of every latency measurement: a small JSON event.
pub const PAYLOAD: &[u8] = br#"{"message":"hello","n":1234}"#;

/// The release binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_lambda-sim")
}

/// The argument that names a helper role, taking precedence over [`ROLE`]: an extension
/// inherits the simulator's environment, where `ROLE` says `runtime`.
pub const ROLE_ARG: &str = "--bench-role=";

/// The name the `extension` helper registers with.
pub const EXTENSION_NAME: &str = "bench-ext";

/// `--extension` for the simulator's CLI: this bench binary as the `extension` helper.
pub fn extension_flag(exe: &str) -> String {
    format!("{EXTENSION_NAME}={exe} {ROLE_ARG}extension")
}

/// The argument that gives the `extension` helper another name than [`EXTENSION_NAME`]
/// (names are unique within an environment).
const NAME_ARG: &str = "--bench-name=";

/// `--extension` flags for `count` extension helpers, named `bench-ext`, `bench-ext-2`, ...
pub fn extension_flags(exe: &str, count: usize) -> Vec<String> {
    (1..=count)
        .map(|i| match i {
            1 => extension_flag(exe),
            i => format!(
                "{EXTENSION_NAME}-{i}={exe} {ROLE_ARG}extension {NAME_ARG}{EXTENSION_NAME}-{i}"
            ),
        })
        .collect()
}

/// Plays a helper role and exits, if this process was started as one.
pub fn play_role() {
    let from_arg = std::env::args().find_map(|a| a.strip_prefix(ROLE_ARG).map(str::to_string));
    let Some(role) = from_arg.or_else(|| std::env::var(ROLE).ok()) else {
        return;
    };
    let result = match role.as_str() {
        "runtime" => runtime_client(),
        "extension" => extension_client(),
        "relay" => relay(),
        "flows" => flows_relay(),
        "httprelay" => http_floor::relay(),
        "echo" => echo(),
        "park" => park(),
        "extpeer" => extension_peer(),
        "invoke" => invoke_role(),
        other => Err(io::Error::other(format!("unknown role {other}"))),
    };
    match result {
        Ok(()) => std::process::exit(0),
        // The simulator closing our connection at shutdown ends a helper's loop.
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => std::process::exit(0),
        Err(e) => {
            eprintln!("bench helper {role}: {e}");
            std::process::exit(1)
        }
    }
}

/// How many measured iterations a bench runs: `default`, unless `LAMBDA_SIM_BENCH_SCALE` (a
/// fraction, for a quick smoke run in CI) scales it down.
pub fn scaled(default: usize) -> usize {
    let scale: f64 = std::env::var("LAMBDA_SIM_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((default as f64 * scale) as usize).max(1)
}

// ----- statistics -----

/// Latency samples in nanoseconds.
#[derive(Default, Clone)]
pub struct Samples {
    ns: Vec<u64>,
    /// Wall time spent taking them: throughput is `len / busy`.
    busy: Duration,
}

impl Samples {
    pub fn with_capacity(n: usize) -> Samples {
        Samples {
            ns: Vec::with_capacity(n),
            busy: Duration::ZERO,
        }
    }

    pub fn push(&mut self, d: Duration) {
        self.ns.push(d.as_nanos() as u64);
    }

    pub fn add_busy(&mut self, d: Duration) {
        self.busy += d;
    }

    /// Calls `f` `n` times, timing each call, and the whole for throughput.
    pub fn measure(&mut self, n: usize, mut f: impl FnMut() -> io::Result<()>) -> io::Result<()> {
        let start = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            f()?;
            self.push(t.elapsed());
        }
        self.add_busy(start.elapsed());
        Ok(())
    }

    /// Runs every flow `n` times, each flow on a thread of its own, side by side: each call
    /// timed, and the wall time of the whole for throughput.
    pub fn measure_flows(
        &mut self,
        n: usize,
        flows: &mut [Box<dyn FnMut() -> io::Result<()> + Send + '_>],
    ) -> io::Result<()> {
        let start = Instant::now();
        let each = std::thread::scope(|scope| {
            let threads: Vec<_> = flows
                .iter_mut()
                .map(|flow| {
                    scope.spawn(move || {
                        let mut mine = Samples::with_capacity(n);
                        mine.measure(n, flow)?;
                        Ok::<_, io::Error>(mine)
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|_| Err(io::Error::other("a flow panicked")))
                })
                .collect::<io::Result<Vec<_>>>()
        })?;
        self.add_busy(start.elapsed());
        for mine in each {
            self.ns.extend(mine.ns);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ns.len()
    }

    /// The percentiles of what was pushed.
    pub fn summary(&self) -> Summary {
        let mut v = self.ns.clone();
        v.sort_unstable();
        let at = |p: f64| -> f64 {
            if v.is_empty() {
                return 0.0;
            }
            let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
            v[i] as f64 / 1000.0
        };
        Summary {
            n: v.len(),
            p50: at(50.0),
            p90: at(90.0),
            p99: at(99.0),
            max: at(100.0),
            per_sec: if self.busy.is_zero() {
                0.0
            } else {
                v.len() as f64 / self.busy.as_secs_f64()
            },
        }
    }
}

/// Percentiles in microseconds, and throughput.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub per_sec: f64,
}

/// The header line for [`row`].
pub fn header() {
    println!(
        "  {:<34} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "", "p50 µs", "p90 µs", "p99 µs", "max µs", "per s"
    );
}

/// One table row.
pub fn row(name: &str, s: &Summary) {
    let per_sec = if s.per_sec > 0.0 {
        format!("{:.0}", s.per_sec)
    } else {
        "-".to_string()
    };
    println!(
        "  {:<34} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>10}",
        name, s.p50, s.p90, s.p99, s.max, per_sec
    );
}

/// Prints how `ours` compares with `floor`.
pub fn ratios(ours: &Summary, floor: &Summary) {
    println!(
        "  ratio to the floor: p50 {:.2}x, p99 {:.2}x, throughput {:.2}x; our cost above the floor at p50: {:.1} µs",
        ours.p50 / floor.p50,
        ours.p99 / floor.p99,
        ours.per_sec / floor.per_sec,
        ours.p50 - floor.p50
    );
}

/// The command that reproduces this bench, for its output.
pub fn print_command(bench: &str) {
    println!("command: cargo bench --bench {bench}");
    if let Ok(scale) = std::env::var("LAMBDA_SIM_BENCH_SCALE") {
        println!("         (LAMBDA_SIM_BENCH_SCALE={scale}: a scaled-down run)");
    }
}

// ----- a minimal HTTP/1.1 client -----

/// One keep-alive connection that writes whole requests and reads whole responses
/// (`Content-Length` bodies only: what lambda-sim sends), reusing its buffers.
pub struct HttpConn {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
    /// The last response's body, and the value of the header asked for.
    pub body: Vec<u8>,
    pub wanted: Vec<u8>,
}

impl HttpConn {
    pub fn connect(addr: impl std::net::ToSocketAddrs) -> io::Result<HttpConn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(HttpConn {
            stream,
            buf: vec![0; 64 * 1024],
            filled: 0,
            body: Vec::with_capacity(64 * 1024),
            wanted: Vec::with_capacity(64),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one response; keeps its body in `self.body` and the value of header `want` (if
    /// any) in `self.wanted`. Returns the status.
    pub fn read_response(&mut self, want: &str) -> io::Result<u16> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf[..self.filled]) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let status = response.code.unwrap_or(0);
                    let mut length = 0usize;
                    self.wanted.clear();
                    for h in response.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            length = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .ok_or_else(|| io::Error::other("bad content-length"))?;
                        } else if !want.is_empty() && h.name.eq_ignore_ascii_case(want) {
                            self.wanted.extend_from_slice(h.value);
                        }
                    }
                    self.read_body(head_len, length)?;
                    return Ok(status);
                }
                Ok(httparse::Status::Partial) => self.fill()?,
                Err(e) => return Err(io::Error::other(format!("bad response: {e}"))),
            }
        }
    }

    fn read_body(&mut self, head_len: usize, length: usize) -> io::Result<()> {
        self.body.clear();
        let have = (self.filled - head_len).min(length);
        self.body
            .extend_from_slice(&self.buf[head_len..head_len + have]);
        let used = head_len + have;
        self.buf.copy_within(used..self.filled, 0);
        self.filled -= used;
        while self.body.len() < length {
            let want = (length - self.body.len()).min(self.buf.len());
            let n = read_retrying(&mut self.stream, &mut self.buf[..want])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.body.extend_from_slice(&self.buf[..n]);
        }
        Ok(())
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.filled == self.buf.len() {
            return Err(io::Error::other("response head too large"));
        }
        let n = read_retrying(&mut self.stream, &mut self.buf[self.filled..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.filled += n;
        Ok(())
    }
}

/// `read`, again after EINTR: a socket with a receive timeout fails that way when its process
/// is stopped and continued (signal(7)), which is how lambda-sim freezes a runtime.
fn read_retrying(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// An invoker on one keep-alive connection to an invoke endpoint.
pub struct Invoker {
    conn: HttpConn,
    request: Vec<u8>,
}

impl Invoker {
    pub fn connect(addr: SocketAddr) -> io::Result<Invoker> {
        Ok(Invoker {
            conn: HttpConn::connect(addr)?,
            request: Vec::with_capacity(4096),
        })
    }

    /// Invokes with `payload`; returns the response body (checked to be a 200).
    pub fn invoke(&mut self, payload: &[u8]) -> io::Result<&[u8]> {
        self.request.clear();
        write!(
            self.request,
            "POST {INVOKE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
            payload.len()
        )?;
        self.request.extend_from_slice(payload);
        self.conn.send(&self.request)?;
        let status = self.conn.read_response("")?;
        if status != 200 {
            return Err(io::Error::other(format!(
                "invoke answered {status}: {}",
                String::from_utf8_lossy(&self.conn.body)
            )));
        }
        Ok(&self.conn.body)
    }
}

/// The `runtime` role: a lean std-only runtime client that echoes each event, as a runtime
/// interface client does its work (one keep-alive connection, `/next`, `/response`). Under
/// Managed Instances, `AWS_LAMBDA_MAX_CONCURRENCY` such loops on threads of their own, as the
/// official clients' concurrent modes run.
fn runtime_client() -> io::Result<()> {
    let workers: usize = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(1);
    let others: Vec<_> = (1..workers)
        .map(|_| std::thread::spawn(runtime_loop))
        .collect();
    runtime_loop()?;
    for other in others {
        other
            .join()
            .map_err(|_| io::Error::other("a worker panicked"))??;
    }
    Ok(())
}

fn runtime_loop() -> io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(io::Error::other)?;
    let mut conn = HttpConn::connect(api.as_str())?;
    let next = format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n");
    let mut post = Vec::with_capacity(64 * 1024);
    loop {
        conn.send(next.as_bytes())?;
        let status = conn.read_response("lambda-runtime-aws-request-id")?;
        if status != 200 {
            return Err(io::Error::other(format!("/next answered {status}")));
        }
        post.clear();
        post.extend_from_slice(b"POST /2018-06-01/runtime/invocation/");
        post.extend_from_slice(&conn.wanted);
        write!(
            post,
            "/response HTTP/1.1\r\nHost: {api}\r\nContent-Length: {}\r\n\r\n",
            conn.body.len()
        )?;
        post.extend_from_slice(&conn.body);
        conn.send(&post)?;
        let status = conn.read_response("")?;
        if status != 202 {
            return Err(io::Error::other(format!("/response answered {status}")));
        }
    }
}

/// The `extension` role: an external extension that registers for INVOKE and SHUTDOWN and is
/// back on `event/next` as soon as it has an event: the least an extension can add.
fn extension_client() -> io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(io::Error::other)?;
    let name = std::env::args()
        .find_map(|a| a.strip_prefix(NAME_ARG).map(str::to_string))
        .unwrap_or_else(|| EXTENSION_NAME.to_string());
    let mut conn = HttpConn::connect(api.as_str())?;
    let events = br#"{"events":["INVOKE","SHUTDOWN"]}"#;
    let mut register = format!(
        "POST /2020-01-01/extension/register HTTP/1.1\r\nHost: {api}\r\nLambda-Extension-Name: {name}\r\nContent-Length: {}\r\n\r\n",
        events.len()
    )
    .into_bytes();
    register.extend_from_slice(events);
    conn.send(&register)?;
    let status = conn.read_response("lambda-extension-identifier")?;
    if status != 200 {
        return Err(io::Error::other(format!("register answered {status}")));
    }
    let id = String::from_utf8_lossy(&conn.wanted).into_owned();
    let next = format!(
        "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: {api}\r\nLambda-Extension-Identifier: {id}\r\n\r\n"
    );
    loop {
        conn.send(next.as_bytes())?;
        let status = conn.read_response("")?;
        if status != 200 {
            return Err(io::Error::other(format!("event/next answered {status}")));
        }
        if conn.body.windows(8).any(|w| w == b"SHUTDOWN") {
            return Ok(());
        }
    }
}

// ----- the floor -----

/// With this variable set to the payload's length, the floor also follows the Runtime API's
/// message pattern: after the echo's reply the relay sends it a one-byte acknowledgement (the
/// 202), the echo answers with a one-byte request for more (its next `/next`), and the relay
/// hands the echo an invoker's payload only once it has asked for one (an invocation that
/// arrives first waits, as it does for a runtime that is not yet back on `/next`).
pub const ACKS: &str = "LAMBDA_SIM_BENCH_ACKS";

/// The `echo` role: connects to `PEER` and writes back whatever it reads. The floor's runtime.
fn echo() -> io::Result<()> {
    let peer = std::env::var(PEER).map_err(io::Error::other)?;
    let mut stream = TcpStream::connect(peer.as_str())?;
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    if let Some(len) = acks() {
        loop {
            read_exactly(&mut stream, &mut buf, len)?;
            stream.write_all(&buf[..len])?;
            read_exactly(&mut stream, &mut buf, 1)?;
            stream.write_all(b"n")?;
        }
    }
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n])?;
    }
}

/// With this variable set to a count (and [`ACKS`]), the relay also has that many extension
/// peers: each payload released to the echo is also announced to every one with one byte (its
/// INVOKE), each answers with one byte (back on `event/next`), and the next payload waits for
/// the echo and all of them.
pub const EXT_PEER: &str = "LAMBDA_SIM_BENCH_EXT_PEER";

/// The `extpeer` role: the floor's extension, back on next as soon as it has an event.
fn extension_peer() -> io::Result<()> {
    let peer = std::env::var(PEER).map_err(io::Error::other)?;
    let mut stream = TcpStream::connect(peer.as_str())?;
    stream.set_nodelay(true)?;
    let mut byte = [0u8; 1];
    loop {
        stream.read_exact(&mut byte)?;
        stream.write_all(b"n")?;
    }
}

/// The `relay` role: the floor's server. It prints its port, accepts the runtime's connection
/// (and the extension peers', with [`EXT_PEER`]) and then the invoker's, and copies bytes
/// between them from one mio reactor: the same socket hops as lambda-sim, with no HTTP and no
/// lifecycle.
fn relay() -> io::Result<()> {
    use mio::net::TcpStream as MioStream;
    use mio::{Events, Interest, Poll, Token};

    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    io::stdout().flush()?;
    let peers: usize = match acks() {
        Some(_) => std::env::var(EXT_PEER)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        None => 0,
    };
    let accept = || -> io::Result<MioStream> {
        let (s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        Ok(MioStream::from_std(s))
    };
    // End 0 is the echo, ends 2.. the extension peers, end 1 the invoker; each is told when
    // the previous one is in.
    let echo = accept()?;
    println!("echo connected");
    io::stdout().flush()?;
    let mut exts = Vec::with_capacity(peers);
    for _ in 0..peers {
        exts.push(accept()?);
        println!("extension connected");
        io::stdout().flush()?;
    }
    let mut ends = vec![echo, accept()?];
    ends.extend(exts);
    let mut poll = Poll::new()?;
    for (i, s) in ends.iter_mut().enumerate() {
        poll.registry().register(s, Token(i), Interest::READABLE)?;
    }
    let mut events = Events::with_capacity(16);
    let mut buf = vec![0u8; 64 * 1024];
    // With acks: where the runtime's stream is in its cycle of `len` reply bytes (forwarded)
    // and one request for more (dropped).
    let cycle = acks().map(|len| len + 1);
    let mut at = 0;
    // With acks: whether the runtime has asked for a payload, how many extension peers are
    // back on next, and a payload that waits for them.
    let mut asked = true;
    let mut back = peers;
    let mut held: Vec<u8> = Vec::new();
    // Hands a payload to the echo and announces it to every extension peer.
    let release = |ends: &mut [MioStream], payload: &[u8]| -> io::Result<()> {
        write_all_spinning(&mut ends[0], payload)?;
        for ext in &mut ends[2..] {
            write_all_spinning(ext, b"i")?;
        }
        Ok(())
    };
    loop {
        poll_retrying(&mut poll, &mut events)?;
        for event in events.iter() {
            let from = event.token().0;
            loop {
                let n = match ends[from].read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                match cycle {
                    Some(cycle) if from == 0 => {
                        let mut i = 0;
                        while i < n {
                            let reply_left = (cycle - 1).saturating_sub(at);
                            if reply_left == 0 {
                                // The request for more: a held payload goes now, if the
                                // extension peer is back too.
                                i += 1;
                                at = 0;
                                if held.is_empty() || back < peers {
                                    asked = true;
                                } else {
                                    release(&mut ends, &held)?;
                                    held.clear();
                                    back = 0;
                                }
                                continue;
                            }
                            let take = reply_left.min(n - i);
                            write_all_spinning(&mut ends[1], &buf[i..i + take])?;
                            i += take;
                            at += take;
                            if at == cycle - 1 {
                                write_all_spinning(&mut ends[0], b"a")?;
                            }
                        }
                    }
                    // An extension peer is back on next (one byte per event).
                    Some(_) if from >= 2 => {
                        back += n;
                        if asked && back == peers && !held.is_empty() {
                            asked = false;
                            back = 0;
                            release(&mut ends, &held)?;
                            held.clear();
                        }
                    }
                    Some(_) => {
                        if asked && back == peers {
                            asked = false;
                            back = 0;
                            release(&mut ends, &buf[..n])?;
                        } else {
                            held.extend_from_slice(&buf[..n]);
                        }
                    }
                    None => write_all_spinning(&mut ends[1 - from], &buf[..n])?,
                }
            }
        }
    }
}

/// How many flows the `flows` relay carries.
pub const FLOWS: &str = "LAMBDA_SIM_BENCH_FLOWS";

/// The `flows` role: the relay of [`relay`] for [`FLOWS`] flows side by side, from one mio
/// reactor, raw or (with [`ACKS`]) following the Runtime API's message pattern. It prints its
/// port and accepts one echo per flow (saying so after each), then one invoker per flow, in
/// the same order; flow `i` carries bytes between echo `i` and invoker `i`.
fn flows_relay() -> io::Result<()> {
    use mio::net::TcpStream as MioStream;
    use mio::{Events, Interest, Poll, Token};

    let flows: usize = std::env::var(FLOWS)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other("no flow count"))?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    io::stdout().flush()?;
    let accept = || -> io::Result<MioStream> {
        let (s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        Ok(MioStream::from_std(s))
    };
    let mut ends = Vec::with_capacity(2 * flows);
    for _ in 0..flows {
        ends.push(accept()?);
        println!("echo connected");
        io::stdout().flush()?;
    }
    for _ in 0..flows {
        ends.push(accept()?);
    }
    let mut poll = Poll::new()?;
    for (i, s) in ends.iter_mut().enumerate() {
        poll.registry().register(s, Token(i), Interest::READABLE)?;
    }
    let mut events = Events::with_capacity(64);
    let mut buf = vec![0u8; 64 * 1024];
    // With acks, per flow: where the echo's stream is in its cycle of `len` reply bytes
    // (forwarded) and one request for more (dropped); whether it has asked for a payload; one
    // that waits for it.
    let cycle = acks().map(|len| len + 1);
    let mut at = vec![0; flows];
    let mut asked = vec![true; flows];
    let mut held: Vec<Vec<u8>> = vec![Vec::new(); flows];
    loop {
        poll_retrying(&mut poll, &mut events)?;
        for event in events.iter() {
            let from = event.token().0;
            let flow = from % flows;
            loop {
                let n = match ends[from].read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                let (echo, invoker) = (flow, flows + flow);
                match cycle {
                    None => write_all_spinning(&mut ends[(from + flows) % (2 * flows)], &buf[..n])?,
                    Some(cycle) if from == echo => {
                        let mut i = 0;
                        while i < n {
                            let reply_left = (cycle - 1).saturating_sub(at[flow]);
                            if reply_left == 0 {
                                // The request for more: a held payload goes now.
                                i += 1;
                                at[flow] = 0;
                                if held[flow].is_empty() {
                                    asked[flow] = true;
                                } else {
                                    write_all_spinning(&mut ends[echo], &held[flow])?;
                                    held[flow].clear();
                                }
                                continue;
                            }
                            let take = reply_left.min(n - i);
                            write_all_spinning(&mut ends[invoker], &buf[i..i + take])?;
                            i += take;
                            at[flow] += take;
                            if at[flow] == cycle - 1 {
                                write_all_spinning(&mut ends[echo], b"a")?;
                            }
                        }
                    }
                    Some(_) => {
                        if asked[flow] {
                            asked[flow] = false;
                            write_all_spinning(&mut ends[echo], &buf[..n])?;
                        } else {
                            held[flow].extend_from_slice(&buf[..n]);
                        }
                    }
                }
            }
        }
    }
}

fn acks() -> Option<usize> {
    std::env::var(ACKS).ok().and_then(|v| v.parse().ok())
}

/// Waits for events, again after a signal (a tracer attaching interrupts the wait).
fn poll_retrying(poll: &mut mio::Poll, events: &mut mio::Events) -> io::Result<()> {
    loop {
        match poll.poll(events, None) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

fn write_all_spinning(to: &mut impl Write, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match to.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The value of [`ACKS`] for an echo or relay: the payload's length, or empty for none.
fn acks_env(acks: bool) -> String {
    if acks {
        PAYLOAD.len().to_string()
    } else {
        String::new()
    }
}

/// Starts an echo peer that connects to `peer`.
fn spawn_echo(peer: &str, acks: bool) -> io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .env(ROLE, "echo")
        .env(PEER, peer)
        .env(ACKS, acks_env(acks))
        .spawn()
}

/// A blocking connection that sends a payload and reads as many bytes back.
struct EchoLink {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl EchoLink {
    fn new(stream: TcpStream) -> io::Result<EchoLink> {
        stream.set_nodelay(true)?;
        Ok(EchoLink {
            stream,
            buf: vec![0; 64 * 1024],
        })
    }

    fn round_trip(&mut self, payload: &[u8]) -> io::Result<()> {
        self.stream.write_all(payload)?;
        read_exactly(&mut self.stream, &mut self.buf, payload.len())
    }
}

/// Kills and reaps helper processes.
fn stop(children: &mut [&mut Child]) {
    for child in children.iter_mut() {
        let _ = child.kill();
    }
    for child in children.iter_mut() {
        let _ = child.wait();
    }
}

/// A floor's relay: started as the helper role `cmd` names, its port read from the first line
/// it prints. Returns the relay, the rest of its output and its address.
fn start_relay(cmd: &mut Command) -> io::Result<(Child, RelayOutput, String)> {
    let mut relay = cmd.stdout(Stdio::piped()).spawn()?;
    let mut out = BufReader::new(relay.stdout.take().ok_or(io::ErrorKind::BrokenPipe)?);
    let mut port = String::new();
    out.read_line(&mut port)?;
    let addr = format!("127.0.0.1:{}", port.trim());
    Ok((relay, out, addr))
}

/// What a relay prints after its port.
type RelayOutput = BufReader<std::process::ChildStdout>;

/// Waits for the relay to print `want` (it has taken the connection that `what` names).
fn expect_line(out: &mut RelayOutput, want: &str, what: &str) -> io::Result<()> {
    let mut line = String::new();
    out.read_line(&mut line)?;
    match line.trim() == want {
        true => Ok(()),
        false => Err(io::Error::other(format!("the relay did not take {what}"))),
    }
}

/// What the e2e bench times a floor by.
pub trait Floor {
    /// One round trip of `payload`, from this process.
    fn round_trip(&mut self, payload: &[u8]) -> io::Result<()>;
    /// The floor's server: what its CPU is read from.
    fn relay_pid(&self) -> u32;
}

impl Floor for FourHopFloor {
    fn round_trip(&mut self, payload: &[u8]) -> io::Result<()> {
        FourHopFloor::round_trip(self, payload)
    }
    fn relay_pid(&self) -> u32 {
        FourHopFloor::relay_pid(self)
    }
}

impl Floor for HttpFloor {
    fn round_trip(&mut self, payload: &[u8]) -> io::Result<()> {
        HttpFloor::round_trip(self, payload)
    }
    fn relay_pid(&self) -> u32 {
        HttpFloor::relay_pid(self)
    }
}

/// The four-hop floor: invoker (this process) → relay → echo → relay → invoker, each a process.
pub struct FourHopFloor {
    relay: Child,
    echo: Child,
    exts: Vec<Child>,
    /// The relay's address, and this process's connection to it as the invoker (none when
    /// another process is to be the invoker: [`FourHopFloor::unlinked`]).
    addr: SocketAddr,
    link: Option<EchoLink>,
}

impl FourHopFloor {
    /// The relay's process id.
    pub fn relay_pid(&self) -> u32 {
        self.relay.id()
    }

    /// `acks`: also exchange the Runtime API's two extra messages per invocation (see [`ACKS`]),
    /// for payloads of `PAYLOAD`'s length.
    pub fn start(acks: bool) -> io::Result<FourHopFloor> {
        FourHopFloor::spawn(acks, 0, true)
    }

    /// The protocol floor with `peers` extension peers (see [`EXT_PEER`]).
    pub fn with_extensions(peers: usize) -> io::Result<FourHopFloor> {
        FourHopFloor::spawn(true, peers, true)
    }

    /// The protocol floor with `peers` extension peers, waiting for an invoker in another
    /// process to connect to [`FourHopFloor::addr`] (see [`invoke_apart`]).
    pub fn unlinked(peers: usize) -> io::Result<FourHopFloor> {
        FourHopFloor::spawn(true, peers, false)
    }

    /// The relay's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn spawn(acks: bool, peers: usize, link: bool) -> io::Result<FourHopFloor> {
        let (relay, mut out, addr) = start_relay(
            Command::new(std::env::current_exe()?)
                .env(ROLE, "relay")
                .env(ACKS, acks_env(acks))
                .env(EXT_PEER, peers.to_string()),
        )?;
        let echo = spawn_echo(&addr, acks)?;
        // The relay takes the echo's connection first, and says so.
        expect_line(&mut out, "echo connected", "the echo")?;
        let mut exts = Vec::with_capacity(peers);
        for _ in 0..peers {
            exts.push(
                Command::new(std::env::current_exe()?)
                    .env(ROLE, "extpeer")
                    .env(PEER, &addr)
                    .spawn()?,
            );
            expect_line(&mut out, "extension connected", "an extension peer")?;
        }
        let link = match link {
            true => Some(EchoLink::new(TcpStream::connect(&addr)?)?),
            false => None,
        };
        Ok(FourHopFloor {
            relay,
            echo,
            exts,
            addr: addr.parse().map_err(io::Error::other)?,
            link,
        })
    }

    /// One round trip of `payload`.
    pub fn round_trip(&mut self, payload: &[u8]) -> io::Result<()> {
        match &mut self.link {
            Some(link) => link.round_trip(payload),
            None => Err(io::Error::other("this floor's invoker is another process")),
        }
    }
}

impl Drop for FourHopFloor {
    fn drop(&mut self) {
        stop(&mut [&mut self.relay, &mut self.echo]);
        for ext in &mut self.exts {
            stop(&mut [ext]);
        }
    }
}

/// The four-hop floor for `flows` flows side by side: invoker `i` (a link of this process) →
/// one relay → echo `i` → the relay → invoker `i`; the relay and each echo a process. With
/// acks, the protocol floor: also the 202 and the next `/next` of each invocation.
pub struct FlowsFloor {
    relay: Child,
    echoes: Vec<Child>,
    links: Vec<EchoLink>,
}

impl FlowsFloor {
    /// `acks`: follow the Runtime API's message pattern, as [`ACKS`] describes.
    pub fn start(flows: usize, acks: bool) -> io::Result<FlowsFloor> {
        let (relay, mut out, addr) = start_relay(
            Command::new(std::env::current_exe()?)
                .env(ROLE, "flows")
                .env(FLOWS, flows.to_string())
                .env(ACKS, acks_env(acks)),
        )?;
        let mut echoes = Vec::with_capacity(flows);
        for _ in 0..flows {
            echoes.push(spawn_echo(&addr, acks)?);
            // One at a time, so that echo `i` is flow `i`.
            expect_line(&mut out, "echo connected", "an echo")?;
        }
        let links = (0..flows)
            .map(|_| EchoLink::new(TcpStream::connect(&addr)?))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(FlowsFloor {
            relay,
            echoes,
            links,
        })
    }

    pub fn relay_pid(&self) -> u32 {
        self.relay.id()
    }

    /// A round trip of `payload` on each flow, to be driven from a thread of its own.
    pub fn flows<'a>(
        &'a mut self,
        payload: &'a [u8],
    ) -> Vec<Box<dyn FnMut() -> io::Result<()> + Send + 'a>> {
        self.links
            .iter_mut()
            .map(|link| {
                Box::new(move || link.round_trip(payload))
                    as Box<dyn FnMut() -> io::Result<()> + Send>
            })
            .collect()
    }
}

impl Drop for FlowsFloor {
    fn drop(&mut self) {
        stop(&mut [&mut self.relay]);
        for echo in &mut self.echoes {
            stop(&mut [echo]);
        }
    }
}

/// The two-hop floor: this process → echo → this process.
pub struct TwoHopFloor {
    echo: Child,
    link: EchoLink,
}

impl TwoHopFloor {
    pub fn start() -> io::Result<TwoHopFloor> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let echo = spawn_echo(&listener.local_addr()?.to_string(), false)?;
        let (stream, _) = listener.accept()?;
        Ok(TwoHopFloor {
            echo,
            link: EchoLink::new(stream)?,
        })
    }

    pub fn round_trip(&mut self, payload: &[u8]) -> io::Result<()> {
        self.link.round_trip(payload)
    }
}

impl Drop for TwoHopFloor {
    fn drop(&mut self) {
        stop(&mut [&mut self.echo]);
    }
}

/// The two-hop floor with the embedding API's thread hand-offs: the caller hands the payload to
/// a relay thread (a channel and a `mio::Waker`, as `Handle` does), which relays it to an echo
/// peer over loopback and hands the echo back over a channel. No HTTP, no lifecycle.
pub struct RelayedTwoHopFloor {
    to_relay: std::sync::mpsc::Sender<Vec<u8>>,
    from_relay: std::sync::mpsc::Receiver<Vec<u8>>,
    waker: std::sync::Arc<mio::Waker>,
    echo: Child,
}

impl RelayedTwoHopFloor {
    /// `acks`: follow the Runtime API's message pattern, as [`ACKS`] describes, for payloads
    /// of `PAYLOAD`'s length.
    pub fn start(acks: bool) -> io::Result<RelayedTwoHopFloor> {
        use mio::{Events, Interest, Poll, Token, Waker};
        const WAKER: Token = Token(0);
        const PEER_TOKEN: Token = Token(1);

        let listener = TcpListener::bind("127.0.0.1:0")?;
        let len = PAYLOAD.len();
        let echo = spawn_echo(&listener.local_addr()?.to_string(), acks)?;
        let (stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let mut stream = mio::net::TcpStream::from_std(stream);
        let mut poll = Poll::new()?;
        let waker = std::sync::Arc::new(Waker::new(poll.registry(), WAKER)?);
        poll.registry()
            .register(&mut stream, PEER_TOKEN, Interest::READABLE)?;
        let (to_relay, requests) = std::sync::mpsc::channel::<Vec<u8>>();
        let (replies, from_relay) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || -> io::Result<()> {
            let mut events = Events::with_capacity(16);
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = Vec::new();
            // With acks: whether the echo has asked for a payload, and one waiting for that.
            let mut asked = true;
            let mut held: Option<Vec<u8>> = None;
            loop {
                poll_retrying(&mut poll, &mut events)?;
                for event in events.iter() {
                    if event.token() == WAKER {
                        while let Ok(payload) = requests.try_recv() {
                            if asked || !acks {
                                asked = false;
                                write_all_spinning(&mut stream, &payload)?;
                            } else {
                                held = Some(payload);
                            }
                        }
                        continue;
                    }
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) => return Ok(()),
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                    // The echo's reply, then (with acks) its request for more.
                    while got.len() >= len {
                        let reply: Vec<u8> = got.drain(..len).collect();
                        if replies.send(reply).is_err() {
                            return Ok(());
                        }
                        if acks {
                            write_all_spinning(&mut stream, b"a")?;
                        }
                    }
                    if acks && got.first() == Some(&b'n') {
                        got.remove(0);
                        match held.take() {
                            Some(payload) => write_all_spinning(&mut stream, &payload)?,
                            None => asked = true,
                        }
                    }
                }
            }
        });
        Ok(RelayedTwoHopFloor {
            to_relay,
            from_relay,
            waker,
            echo,
        })
    }

    pub fn round_trip(&mut self, payload: &[u8]) -> io::Result<()> {
        self.to_relay
            .send(payload.to_vec())
            .map_err(|_| io::Error::other("relay gone"))?;
        self.waker.wake()?;
        let echoed = self
            .from_relay
            .recv()
            .map_err(|_| io::Error::other("relay gone"))?;
        if echoed.len() != payload.len() {
            return Err(io::Error::other("short echo"));
        }
        Ok(())
    }
}

impl Drop for RelayedTwoHopFloor {
    fn drop(&mut self) {
        stop(&mut [&mut self.echo]);
    }
}

fn read_exactly(stream: &mut TcpStream, buf: &mut [u8], mut want: usize) -> io::Result<()> {
    while want > 0 {
        let take = want.min(buf.len());
        let n = stream.read(&mut buf[..take])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        want -= n;
    }
    Ok(())
}

/// The `invoke` role: `LAMBDA_SIM_BENCH_COUNT` invocations of the endpoint at `PEER`, one
/// connection, closed loop (for `benches/callgrind.sh`). With [`TIMES`] set to a count, that
/// many more, each timed, printed as one line: the nanoseconds they took together, then each
/// one's. With [`RAW`], the peer is a floor's relay (the payload, then its echo) rather than an
/// invoke endpoint.
fn invoke_role() -> io::Result<()> {
    let peer: SocketAddr = std::env::var(PEER)
        .map_err(io::Error::other)?
        .parse()
        .map_err(io::Error::other)?;
    let count = |var: &str| -> Option<usize> { std::env::var(var).ok()?.parse().ok() };
    let n = count("LAMBDA_SIM_BENCH_COUNT")
        .ok_or_else(|| io::Error::other("LAMBDA_SIM_BENCH_COUNT"))?;
    let timed = count(TIMES).unwrap_or(0);
    let mut call: Box<dyn FnMut() -> io::Result<()>> = if std::env::var_os(RAW).is_some() {
        let mut link = EchoLink::new(TcpStream::connect(peer)?)?;
        Box::new(move || link.round_trip(PAYLOAD))
    } else {
        let mut invoker = Invoker::connect(peer)?;
        Box::new(move || match invoker.invoke(PAYLOAD)? == PAYLOAD {
            true => Ok(()),
            false => Err(io::Error::other("the echo came back different")),
        })
    };
    for _ in 0..n {
        call()?;
    }
    if timed == 0 {
        return Ok(());
    }
    let mut samples = Samples::with_capacity(timed);
    samples.measure(timed, &mut call)?;
    let mut line = samples.busy.as_nanos().to_string();
    for ns in &samples.ns {
        line.push(' ');
        line.push_str(&ns.to_string());
    }
    println!("{line}");
    Ok(())
}

/// For the `invoke` role: how many invocations to time and print.
const TIMES: &str = "LAMBDA_SIM_BENCH_TIMES";

/// For the `invoke` role: the peer is a floor's relay.
const RAW: &str = "LAMBDA_SIM_BENCH_RAW";

/// The second harness: `count` invocations of `peer` timed by an invoker in a process of its
/// own (the `invoke` role, after `warmup` untimed), blocking in `read(2)` as most users'
/// invokers do, rather than by this process between its other measurements. `raw`: the peer
/// is a floor's relay ([`FourHopFloor::unlinked`]), which takes one invoker: one call each.
pub fn invoke_apart(
    peer: SocketAddr,
    raw: bool,
    warmup: usize,
    count: usize,
    samples: &mut Samples,
) -> io::Result<()> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.env(ROLE, "invoke")
        .env(PEER, peer.to_string())
        .env("LAMBDA_SIM_BENCH_COUNT", warmup.to_string())
        .env(TIMES, count.to_string())
        .stdout(Stdio::piped());
    if raw {
        cmd.env(RAW, "1");
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "the invoker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut numbers = text.split_ascii_whitespace().map(str::parse::<u64>);
    let busy = numbers
        .next()
        .ok_or_else(|| io::Error::other("the invoker printed nothing"))?
        .map_err(io::Error::other)?;
    samples.add_busy(Duration::from_nanos(busy));
    for ns in numbers {
        samples.push(Duration::from_nanos(ns.map_err(io::Error::other)?));
    }
    Ok(())
}

// ----- parked connections -----

/// The `park` role: opens `LAMBDA_SIM_BENCH_CONNS` connections to `PEER`, sends `/next` on
/// each, prints `parked` and waits for its stdin to close.
fn park() -> io::Result<()> {
    let peer = std::env::var(PEER).map_err(io::Error::other)?;
    let n: usize = std::env::var("LAMBDA_SIM_BENCH_CONNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other("LAMBDA_SIM_BENCH_CONNS"))?;
    lambda_sim::internals::raise_fd_limit()?;
    let next = format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {peer}\r\n\r\n");
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect(peer.as_str())?;
        s.write_all(next.as_bytes())?;
        conns.push(s);
    }
    println!("parked");
    io::stdout().flush()?;
    let mut line = String::new();
    io::stdin().read_line(&mut line)?;
    drop(conns);
    Ok(())
}

// ----- the binary under test -----

/// In [`SimProcess::start`]'s `envs`: write lambda-sim's stdout to this regular file instead of
/// a pipe read by a thread of the bench (not passed on to lambda-sim's environment).
pub const STDOUT_FILE: &str = "LAMBDA_SIM_BENCH_STDOUT_FILE";

/// In [`SimProcess::start`]'s `envs`: run this lambda-sim binary instead of the release build
/// (another commit's, to compare two in the same run).
pub const BINARY: &str = "LAMBDA_SIM_BENCH_BINARY";

/// The release binary, started with `args`, its ready line read.
pub struct SimProcess {
    pub child: Child,
    pub invoke: SocketAddr,
    pub runtime_api: SocketAddr,
    drain: Option<std::thread::JoinHandle<u64>>,
}

impl SimProcess {
    /// Starts `lambda-sim` on free loopback ports with `args`; its stdout (the lifecycle lines)
    /// is read and dropped by a thread, as a terminal or `tee` would.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> io::Result<SimProcess> {
        let binary = envs
            .iter()
            .find(|(k, _)| *k == BINARY)
            .map_or(binary(), |(_, v)| *v);
        let mut cmd = Command::new(binary);
        cmd.args([
            "--invoke-addr",
            "127.0.0.1:0",
            "--runtime-api-addr",
            "127.0.0.1:0",
        ])
        .args(args)
        .stdin(Stdio::null())
        // Only the extensions a bench names: none from this machine's /opt/extensions.
        .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-benches");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        if let Some(path) = envs
            .iter()
            .find(|(k, _)| *k == STDOUT_FILE)
            .map(|(_, v)| *v)
        {
            // Lines to a regular file: no reader to wake.
            cmd.stdout(std::fs::File::create(path)?);
            let child = cmd.spawn()?;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let text = std::fs::read_to_string(path)?;
                if text.contains("lambda-sim ready ") {
                    let (invoke, runtime_api) = read_ready(&mut text.as_bytes())?;
                    return Ok(SimProcess {
                        child,
                        invoke,
                        runtime_api,
                        drain: None,
                    });
                }
                if Instant::now() > deadline {
                    return Err(io::Error::other("lambda-sim did not get ready"));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        cmd.stdout(Stdio::piped());
        let mut child = cmd.spawn()?;
        let mut out = BufReader::new(child.stdout.take().ok_or(io::ErrorKind::BrokenPipe)?);
        let (invoke, runtime_api) = read_ready(&mut out)?;
        let drain = std::thread::spawn(move || drain(out));
        Ok(SimProcess {
            child,
            invoke,
            runtime_api,
            drain: Some(drain),
        })
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        // SIGTERM (a clean shutdown) is not reachable from std; kill is enough for a bench.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = self.drain.take() {
            let _ = d.join();
        }
    }
}

/// Reads lines until `lambda-sim ready invoke=<addr> runtime-api=<addr>`.
pub fn read_ready(out: &mut impl BufRead) -> io::Result<(SocketAddr, SocketAddr)> {
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line)? == 0 {
            return Err(io::Error::other("lambda-sim exited before it was ready"));
        }
        let Some(rest) = line.trim().strip_prefix("lambda-sim ready ") else {
            continue;
        };
        let mut invoke = None;
        let mut api = None;
        for part in rest.split_whitespace() {
            if let Some(a) = part.strip_prefix("invoke=") {
                invoke = a.parse().ok();
            } else if let Some(a) = part.strip_prefix("runtime-api=") {
                api = a.parse().ok();
            }
        }
        return match (invoke, api) {
            (Some(i), Some(a)) => Ok((i, a)),
            _ => Err(io::Error::other(format!("unexpected ready line {line:?}"))),
        };
    }
}

fn drain(mut out: impl Read) -> u64 {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    while let Ok(n) = out.read(&mut buf) {
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    total
}

/// CPU time a process's main thread has used, in nanoseconds (`/proc/<pid>/schedstat`): user
/// and kernel time together, at the scheduler's resolution. lambda-sim's reactor and the floor's
/// relay are single-threaded.
pub fn cpu_ns(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// A process's resident set size in KiB (`VmRSS`), or 0 if it cannot be read.
pub fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

/// A process's peak resident set size in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmHWM:")
}

fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Times `f` once.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

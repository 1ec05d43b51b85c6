//! The request decoder alone, on bytes already in memory: a runtime's `/next`, a 6 MB
//! `/response` with `Content-Length`, the same body chunked (64 KiB chunks), and a head with a
//! 64 KiB field that trickles in 16 bytes a read (a slow client's cost to the reactor). Each
//! sample decodes one whole request; throughput is in bytes per second.
//!
//! `cargo bench --bench parser`; `LAMBDA_SIM_BENCH_SCALE=0.01` for a quick run.
#![allow(clippy::disallowed_methods)]

mod support;

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use lambda_sim::internals::http::{Event, RequestDecoder};
use support::Samples;

const LIMIT: u64 = 6 * 1024 * 1024 + 100;
/// How the reactor feeds the decoder: one socket read at a time.
const READ_CHUNK: usize = 64 * 1024;

fn decode(decoder: &mut RequestDecoder, request: &[u8], read: usize) -> usize {
    let mut body_len = 0;
    for piece in request.chunks(read) {
        decoder.feed(piece);
        loop {
            match decoder.next_event() {
                Ok(Some(Event::Head)) => {
                    black_box(decoder.head().path());
                    decoder.read_body(LIMIT).expect("within the limit");
                }
                Ok(Some(Event::Complete)) => {
                    body_len = decoder.take_body().len();
                    decoder.finish();
                }
                Ok(None) => break,
                Err(e) => panic!("the bench's request is valid: {e}"),
            }
        }
    }
    body_len
}

fn bench(name: &str, request: &[u8], read: usize, iterations: usize) {
    let mut decoder = RequestDecoder::new();
    let mut samples = Samples::with_capacity(iterations);
    for _ in 0..iterations.min(1000) {
        decode(&mut decoder, request, read);
    }
    let start = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        black_box(decode(&mut decoder, black_box(request), read));
        samples.push(t.elapsed());
    }
    samples.add_busy(start.elapsed());
    let s = samples.summary();
    support::row(name, &s);
    println!(
        "  {:<34} {:.0} MB/s ({} bytes per request)",
        "",
        s.per_sec * request.len() as f64 / 1e6,
        request.len()
    );
}

fn main() {
    support::play_role();
    support::print_command("parser");
    let next = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: aws-lambda-rust/1.0\r\nAccept: */*\r\n\r\n".to_vec();

    let body = vec![b'x'; 6 * 1024 * 1024];
    let mut large = Vec::new();
    write!(
        large,
        "POST /2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .expect("write to a Vec");
    large.extend_from_slice(&body);

    let mut chunked = Vec::new();
    chunked.extend_from_slice(b"POST /2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nTransfer-Encoding: chunked\r\n\r\n");
    for chunk in body.chunks(64 * 1024) {
        write!(chunked, "{:x}\r\n", chunk.len()).expect("write to a Vec");
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");

    let mut trickle = Vec::new();
    trickle.extend_from_slice(b"POST /2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/error HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nLambda-Runtime-Function-Error-Type: Runtime.Crash\r\nLambda-Runtime-Function-XRay-Error-Cause: ");
    trickle.extend(std::iter::repeat_n(b'c', 64 * 1024));
    trickle.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");

    support::header();
    bench("GET /next", &next, READ_CHUNK, support::scaled(1_000_000));
    bench(
        "6 MB response, Content-Length",
        &large,
        READ_CHUNK,
        support::scaled(300),
    );
    bench(
        "6 MB response, chunked (64 KiB)",
        &chunked,
        READ_CHUNK,
        support::scaled(300),
    );
    bench(
        "64 KiB head, 16 bytes a read",
        &trickle,
        16,
        support::scaled(3000),
    );
}

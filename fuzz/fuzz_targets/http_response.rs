//! The telemetry sender's response reader on arbitrary bytes: it never panics, and it reaches
//! the same answers whether the bytes come whole, one at a time, or split where the fuzzer
//! chooses (a caller offers again what the reader did not use).
#![no_main]

use lambda_sim::internals::http::ParseError;
use lambda_sim::internals::http::{Answer, ResponseReader};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
enum Seen {
    Answer(Answer),
    Error(ParseError),
    /// Input ended: what the close would make of it.
    Eof(Result<Answer, ParseError>),
}

/// Several responses in a row, as on a keep-alive connection.
fn drive<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> Vec<Seen> {
    let mut reader = ResponseReader::default();
    let mut pending: Vec<u8> = Vec::new();
    let mut seen = Vec::new();
    for chunk in chunks {
        pending.extend_from_slice(chunk);
        loop {
            match reader.feed(&pending) {
                Ok((answer, used)) => {
                    assert!(used <= pending.len(), "used more than it was given");
                    pending.drain(..used);
                    match answer {
                        Some(a) => seen.push(Seen::Answer(a)),
                        None => break,
                    }
                }
                Err(e) => {
                    seen.push(Seen::Error(e));
                    return seen;
                }
            }
        }
    }
    seen.push(Seen::Eof(reader.feed_eof()));
    seen
}

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (data, cuts) = input;
    let whole = drive(std::iter::once(&data[..]));
    let bytewise = drive(data.chunks(1));
    assert_eq!(whole, bytewise, "whole vs byte by byte");
    let mut pieces = Vec::new();
    let mut rest = &data[..];
    for cut in cuts {
        if rest.is_empty() {
            break;
        }
        let at = usize::from(cut) % rest.len() + 1;
        let (piece, tail) = rest.split_at(at);
        pieces.push(piece);
        rest = tail;
    }
    pieces.push(rest);
    assert_eq!(whole, drive(pieces.into_iter()), "whole vs fuzzer's cuts");
});

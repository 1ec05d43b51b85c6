//! The chunked body decoder (RFC 9112 §7.1): any chunked body the fuzzer describes, written
//! with sizes in either case, leading zeros and chunk extensions, decodes to its data and its
//! trailer section, whole or split anywhere; and arbitrary bytes after a chunked head never
//! make it panic, take more than the limit, or decide differently when split.
#![no_main]

use arbitrary::Arbitrary;
use lambda_sim::internals::http::{Event, ParseError, RequestDecoder};
use libfuzzer_sys::fuzz_target;

const HEAD: &[u8] = b"POST /r HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
const LIMIT: u64 = 1 << 16;

#[derive(Arbitrary, Debug)]
struct Input {
    chunks: Vec<Vec<u8>>,
    upper: bool,
    zeros: u8,
    extension: bool,
    trailers: Vec<(u8, u16)>,
    split: u16,
    junk: Vec<u8>,
}

#[derive(Debug, PartialEq)]
enum End {
    Complete { body: Vec<u8>, trailers: Vec<u8> },
    Error(ParseError),
    Incomplete { body: Vec<u8> },
}

fn decode<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> End {
    let mut dec = RequestDecoder::new();
    let mut body = Vec::new();
    for piece in pieces {
        dec.feed(piece);
        loop {
            match dec.next_event() {
                Ok(None) => {
                    // Taken as it comes, as a streamed response is.
                    body.extend(dec.take_body());
                    break;
                }
                Ok(Some(Event::Head)) => {
                    if let Err(e) = dec.read_body(LIMIT) {
                        return End::Error(e);
                    }
                }
                Ok(Some(Event::Complete)) => {
                    body.extend(dec.take_body());
                    assert!(body.len() as u64 <= LIMIT);
                    return End::Complete {
                        body,
                        trailers: dec.trailers_raw().to_vec(),
                    };
                }
                Err(e) => return End::Error(e),
            }
        }
    }
    assert!(body.len() as u64 <= LIMIT);
    End::Incomplete { body }
}

fn both_ways(bytes: &[u8], split: usize) -> End {
    let whole = decode(std::iter::once(bytes));
    let (a, b) = bytes.split_at(split % (bytes.len() + 1));
    assert_eq!(decode([a, b].into_iter()), whole, "split at {split}");
    assert_eq!(decode(bytes.chunks(3)), whole, "three at a time");
    whole
}

fuzz_target!(|input: Input| {
    let mut wire = HEAD.to_vec();
    let mut data = Vec::new();
    for chunk in input.chunks.iter().filter(|c| !c.is_empty()) {
        let size = match input.upper {
            true => format!("{:X}", chunk.len()),
            false => format!("{:x}", chunk.len()),
        };
        wire.extend(std::iter::repeat_n(b'0', usize::from(input.zeros % 4)));
        wire.extend_from_slice(size.as_bytes());
        if input.extension {
            wire.extend_from_slice(b";name=\"va;lue\"");
        }
        wire.extend_from_slice(b"\r\n");
        wire.extend_from_slice(chunk);
        wire.extend_from_slice(b"\r\n");
        data.extend_from_slice(chunk);
    }
    wire.extend_from_slice(b"0\r\n");
    let mut trailers = Vec::new();
    for (name, value) in input.trailers.iter().take(8) {
        trailers.extend_from_slice(format!("X-T{name}: v{value}\r\n").as_bytes());
    }
    wire.extend_from_slice(&trailers);
    wire.extend_from_slice(b"\r\n");
    // The raw section keeps its final empty line; with no fields, it is empty.
    if !trailers.is_empty() {
        trailers.extend_from_slice(b"\r\n");
    }
    let end = both_ways(&wire, usize::from(input.split));
    if data.len() as u64 <= LIMIT {
        assert_eq!(
            end,
            End::Complete {
                body: data,
                trailers
            }
        );
    } else {
        assert_eq!(end, End::Error(ParseError::BodyTooLarge { limit: LIMIT }));
    }

    let mut hostile = HEAD.to_vec();
    hostile.extend_from_slice(&input.junk);
    both_ways(&hostile, usize::from(input.split));
});

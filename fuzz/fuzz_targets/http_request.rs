//! The request decoder on arbitrary bytes: it never panics, and it reaches the same result
//! whether the bytes come whole, one at a time, or split where the fuzzer chooses.
#![no_main]

use lambda_sim::internals::http::{Event, ParseError, RequestDecoder};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
enum Seen {
    Head {
        target: String,
        fields: Vec<(String, Vec<u8>)>,
        keep_alive: bool,
        expect: bool,
    },
    Complete {
        body: Vec<u8>,
        trailers: Vec<u8>,
    },
    Error(ParseError),
}

const LIMIT: u64 = 4096;

fn drive<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> Vec<Seen> {
    let mut dec = RequestDecoder::new();
    let mut seen = Vec::new();
    for chunk in chunks {
        dec.feed(chunk);
        loop {
            match dec.next_event() {
                Ok(None) => break,
                Ok(Some(Event::Head)) => {
                    let h = dec.head();
                    seen.push(Seen::Head {
                        target: h.target().to_string(),
                        fields: h
                            .fields()
                            .map(|(n, v)| (n.to_string(), v.to_vec()))
                            .collect(),
                        keep_alive: h.keep_alive(),
                        expect: h.expect_continue(),
                    });
                    // Alternate the body's fate by the head's length, deterministically.
                    let result = if h.target().len() % 2 == 0 {
                        dec.read_body(LIMIT)
                    } else {
                        dec.discard_body(LIMIT)
                    };
                    if let Err(e) = result {
                        seen.push(Seen::Error(e));
                        return seen;
                    }
                }
                Ok(Some(Event::Complete)) => {
                    let body = dec.take_body();
                    seen.push(Seen::Complete {
                        body,
                        trailers: dec.trailers_raw().to_vec(),
                    });
                    dec.finish();
                }
                Err(e) => {
                    seen.push(Seen::Error(e));
                    return seen;
                }
            }
        }
    }
    seen
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks a split point; the rest is the input.
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = drive(std::iter::once(input));
    let at = (split as usize * input.len()) / 255;
    let (a, b) = input.split_at(at.min(input.len()));
    assert_eq!(drive([a, b].into_iter()), whole, "split at {at}");
    assert_eq!(drive(input.chunks(1)), whole, "byte at a time");
    assert_eq!(drive(input.chunks(7)), whole, "seven at a time");
});

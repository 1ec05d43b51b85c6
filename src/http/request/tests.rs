//! The request decoder: heads, bodies, chunked encoding, trailers, limits and errors, whole and
//! split.

use super::*;
use crate::http::MAX_TRAILER_BYTES;

/// What a driver saw, in a form that compares across different splits of the same input.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Head {
        method: Method,
        version: Version,
        target: String,
        fields: Vec<(String, Vec<u8>)>,
        framing: Framing,
        keep_alive: bool,
        expect_continue: bool,
    },
    Complete {
        body: Vec<u8>,
        trailers: Vec<u8>,
        keep_alive: bool,
    },
    Error(ParseError),
}

const LIMIT: u64 = 64;

/// Feeds `chunks` one after the other, reading every body up to `LIMIT` bytes.
fn drive(chunks: &[&[u8]]) -> Vec<Seen> {
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
                        method: h.method(),
                        version: h.version(),
                        target: h.target().to_string(),
                        fields: h
                            .fields()
                            .map(|(n, v)| (n.to_string(), v.to_vec()))
                            .collect(),
                        framing: h.framing(),
                        keep_alive: h.keep_alive(),
                        expect_continue: h.expect_continue(),
                    });
                    if let Err(e) = dec.read_body(LIMIT) {
                        seen.push(Seen::Error(e));
                        return seen;
                    }
                }
                Ok(Some(Event::Complete)) => {
                    let body = dec.take_body();
                    let trailers = dec.trailers_raw().to_vec();
                    let keep_alive = dec.finish();
                    seen.push(Seen::Complete {
                        body,
                        trailers,
                        keep_alive,
                    });
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

/// The decoder gives the same result for the whole input, for every split into two parts,
/// and fed one byte at a time.
#[track_caller]
fn split_invariant(input: &[u8]) -> Vec<Seen> {
    let whole = drive(&[input]);
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(
            drive(&[a, b]),
            whole,
            "split at {at} of {:?}",
            String::from_utf8_lossy(input)
        );
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(drive(&bytes), whole, "byte at a time");
    whole
}

fn complete(body: &[u8]) -> Seen {
    Seen::Complete {
        body: body.to_vec(),
        trailers: Vec::new(),
        keep_alive: true,
    }
}

#[test]
fn get_next_is_one_event_pair() {
    let seen = split_invariant(
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\r\n",
    );
    assert_eq!(seen.len(), 2);
    let Seen::Head {
        method,
        target,
        keep_alive,
        framing,
        ..
    } = &seen[0]
    else {
        panic!("{seen:?}")
    };
    assert_eq!(*method, Method::Get);
    assert_eq!(target, "/2018-06-01/runtime/invocation/next");
    assert!(*keep_alive);
    assert_eq!(*framing, Framing::None);
    assert_eq!(seen[1], complete(b""));
}

#[test]
fn pipelined_requests_come_out_in_order() {
    let seen = split_invariant(
        b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n\
          POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    );
    let targets: Vec<_> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Head { target, .. } => Some(target.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(targets, ["/a", "/b", "/c"]);
    assert_eq!(seen[1], complete(b"hello"));
    assert_eq!(seen[3], complete(b""));
    assert_eq!(seen[5], complete(b"ok"));
}

#[test]
fn chunked_body_with_trailers() {
    let seen = split_invariant(
        b"POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTrailer: X-Err\r\n\r\n\
          4;ext\r\nabcd\r\n1\r\ne\r\n0\r\nX-Err: Runtime.Boom\r\n\r\n",
    );
    assert_eq!(
        seen[1],
        Seen::Complete {
            body: b"abcde".to_vec(),
            trailers: b"X-Err: Runtime.Boom\r\n\r\n".to_vec(),
            keep_alive: true
        }
    );
    let mut dec = RequestDecoder::new();
    dec.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: two\r\n\r\n");
    assert_eq!(dec.next_event(), Ok(Some(Event::Head)));
    dec.read_body(10).unwrap();
    assert_eq!(dec.next_event(), Ok(Some(Event::Complete)));
    assert_eq!(dec.trailer("b"), Some(&b"two"[..]));
    assert_eq!(dec.trailer("c"), None);
}

#[test]
fn http10_closes_unless_asked() {
    let seen = split_invariant(b"GET /ping HTTP/1.0\r\n\r\n");
    assert!(matches!(
        seen[0],
        Seen::Head {
            version: Version::Http10,
            keep_alive: false,
            ..
        }
    ));
    let seen = split_invariant(b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert!(matches!(
        seen[0],
        Seen::Head {
            keep_alive: true,
            ..
        }
    ));
    let seen = split_invariant(b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(matches!(
        seen[0],
        Seen::Head {
            keep_alive: false,
            ..
        }
    ));
    assert!(matches!(
        seen[1],
        Seen::Complete {
            keep_alive: false,
            ..
        }
    ));
}

#[test]
fn expect_continue_only_with_a_body_on_http11() {
    let seen =
        split_invariant(b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
    assert!(matches!(
        seen[0],
        Seen::Head {
            expect_continue: true,
            ..
        }
    ));
    let seen = split_invariant(b"GET /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
    assert!(matches!(
        seen[0],
        Seen::Head {
            expect_continue: false,
            ..
        }
    ));
    let seen =
        split_invariant(b"POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
    assert!(matches!(
        seen[0],
        Seen::Head {
            expect_continue: false,
            ..
        }
    ));
    assert_eq!(
        split_invariant(b"POST /x HTTP/1.1\r\nExpect: something\r\n\r\n"),
        [Seen::Error(ParseError::ExpectationFailed)]
    );
}

#[test]
fn bad_framing_is_refused() {
    let cases: &[(&[u8], ParseError)] = &[
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            ParseError::Malformed("conflicting Content-Length"),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            ParseError::Malformed("invalid Content-Length"),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            ParseError::Malformed("invalid Content-Length"),
        ),
        // No length at all in the field: not the same as no field.
        (
            b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\nGET / HTTP/1.1\r\n\r\n",
            ParseError::Malformed("invalid Content-Length"),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: ,\r\n\r\n",
            ParseError::Malformed("invalid Content-Length"),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length:  , \r\n\r\n",
            ParseError::Malformed("invalid Content-Length"),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            ParseError::UnsupportedTransferEncoding,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            ParseError::Malformed("chunked is not the final coding"),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            ParseError::Malformed("both Content-Length and Transfer-Encoding"),
        ),
        (
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            ParseError::Malformed("Transfer-Encoding in an HTTP/1.0 request"),
        ),
        (b"GET / HTTP/2.0\r\n\r\n", ParseError::VersionNotSupported),
        (
            b"GET /\x01 HTTP/1.1\r\n\r\n",
            ParseError::Malformed("invalid request line or header field"),
        ),
        (
            b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
            ParseError::Malformed("invalid request line or header field"),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            split_invariant(input),
            [Seen::Error(*want)],
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    // The same Content-Length twice, or as a list of one value, is one length.
    let seen =
        split_invariant(b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok");
    assert_eq!(seen[1], complete(b"ok"));
}

#[test]
fn malformed_chunked_bodies_are_refused_after_the_head() {
    for body in [
        &b"zz\r\n"[..],
        b"\r\n",
        b"2\r\nabc\r\n",
        b"1\r\na\r\n0\r\nbad trailer\r\n\r\n",
    ] {
        let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        input.extend_from_slice(body);
        let seen = split_invariant(&input);
        assert!(
            matches!(seen.last(), Some(Seen::Error(ParseError::Malformed(_)))),
            "{seen:?}"
        );
    }
}

#[test]
fn limits_map_to_431_and_413() {
    let mut big_head = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big_head.resize(MAX_HEAD_BYTES + 100, b'a');
    assert_eq!(drive(&[&big_head]), [Seen::Error(ParseError::HeadTooLarge)]);
    assert_eq!(ParseError::HeadTooLarge.status(), 431);

    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(drive(&[&many]), [Seen::Error(ParseError::TooManyHeaders)]);
    assert_eq!(ParseError::TooManyHeaders.status(), 431);

    // A declared length over the limit is refused before any body byte.
    let seen = split_invariant(b"POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n");
    assert_eq!(
        seen[1],
        Seen::Error(ParseError::BodyTooLarge { limit: LIMIT })
    );
    assert_eq!(seen[1], Seen::Error(ParseError::BodyTooLarge { limit: 64 }));
    // A chunked body is refused as soon as it passes the limit.
    let mut chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..5 {
        chunked.extend_from_slice(b"10\r\n0123456789abcdef\r\n");
    }
    let seen = split_invariant(&chunked);
    assert_eq!(
        seen.last(),
        Some(&Seen::Error(ParseError::BodyTooLarge { limit: LIMIT }))
    );
    assert_eq!(ParseError::BodyTooLarge { limit: 1 }.status(), 413);
    // A chunk that declares more than the limit leaves is refused on its size line, before
    // its data (which may never come); one that fills the limit exactly is read.
    let seen = split_invariant(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n");
    assert_eq!(
        seen.last(),
        Some(&Seen::Error(ParseError::BodyTooLarge { limit: LIMIT }))
    );
    let mut filled =
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n38\r\n".to_vec();
    filled.resize(filled.len() + 56, b'x');
    filled.extend_from_slice(b"\r\n0\r\n\r\n");
    let seen = split_invariant(&filled);
    assert!(
        matches!(seen.last(), Some(Seen::Complete { .. })),
        "{seen:?}"
    );
    // Exactly the limit is fine.
    let mut exact = b"POST / HTTP/1.1\r\nContent-Length: 64\r\n\r\n".to_vec();
    exact.resize(exact.len() + 64, b'x');
    assert_eq!(split_invariant(&exact)[1], complete(&[b'x'; 64]));

    let mut trailers = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ".to_vec();
    trailers.resize(trailers.len() + MAX_TRAILER_BYTES + 10, b'a');
    assert_eq!(
        drive(&[&trailers]).last(),
        Some(&Seen::Error(ParseError::HeadTooLarge))
    );
}

#[test]
fn errors_are_sticky() {
    let mut dec = RequestDecoder::new();
    dec.feed(b"BAD\x00 / HTTP/1.1\r\n\r\n");
    let first = dec.next_event();
    assert!(first.is_err());
    dec.feed(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(dec.next_event(), first);
    dec.finish();
    assert_eq!(dec.next_event(), first);
}

#[test]
fn a_partial_head_is_parsed_again_only_once_a_line_ends() {
    // A slow client's bytes are not parsed one read at a time: an error in an unfinished line
    // shows when the line ends, and a head that never ends a line fails at the size limit.
    let mut dec = RequestDecoder::new();
    dec.feed(b"GE\x00T / HTTP/1.1");
    assert_eq!(dec.next_event(), Ok(None));
    dec.feed(b"\r");
    assert_eq!(dec.next_event(), Ok(None));
    dec.feed(b"\n");
    assert!(matches!(dec.next_event(), Err(ParseError::Malformed(_))));

    let mut dec = RequestDecoder::new();
    let mut line = b"GET /".to_vec();
    line.resize(MAX_HEAD_BYTES, b'a');
    dec.feed(&line);
    assert_eq!(dec.next_event(), Ok(None));
    dec.feed(b"a");
    assert_eq!(dec.next_event(), Err(ParseError::HeadTooLarge));

    // What follows the last line end waits for its own: `\n:` is no error yet, whole or split.
    assert!(split_invariant(b"\n:").is_empty());

    // A pipelined request behind a complete one is parsed from its own first byte.
    let mut dec = RequestDecoder::new();
    dec.feed(b"GET /a HTTP/1.1\r\n\r\nGET /b HT");
    assert_eq!(dec.next_event(), Ok(Some(Event::Head)));
    dec.discard_body(LIMIT).expect("no body");
    assert_eq!(dec.next_event(), Ok(Some(Event::Complete)));
    dec.finish();
    assert_eq!(dec.next_event(), Ok(None));
    dec.feed(b"TP/1.1\r\n\r\n");
    assert_eq!(dec.next_event(), Ok(Some(Event::Head)));
    assert_eq!(dec.head().target(), "/b");
}

#[test]
fn discarded_bodies_keep_the_connection_in_step() {
    let mut dec = RequestDecoder::new();
    dec.feed(b"POST /r HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /n HTTP/1.1\r\n\r\n");
    assert_eq!(dec.next_event(), Ok(Some(Event::Head)));
    dec.discard_body(10).unwrap();
    assert_eq!(dec.next_event(), Ok(Some(Event::Complete)));
    assert!(dec.take_body().is_empty());
    assert!(dec.finish());
    assert_eq!(dec.next_event(), Ok(Some(Event::Head)));
    assert_eq!(dec.head().path(), "/n");
}

#[test]
fn head_accessors() {
    let mut dec = RequestDecoder::new();
    dec.feed(
        b"POST http://localhost:8080/2015-03-31/functions/f/invocations?Qualifier=%24LATEST HTTP/1.1\r\n\
          content-type:  application/json \r\nX-Amz-Client-Context: e30=\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(dec.next_event(), Ok(Some(Event::Head)));
    let h = dec.head();
    assert_eq!(h.path(), "/2015-03-31/functions/f/invocations");
    assert_eq!(h.query(), Some("Qualifier=%24LATEST"));
    assert_eq!(h.header_str("Content-Type"), Some("application/json"));
    assert_eq!(h.header("x-amz-client-context"), Some(&b"e30="[..]));
    assert_eq!(h.header("missing"), None);
    assert!(!h.expect_continue());
    assert_eq!(h.framing(), Framing::Length(0));
    dec.read_body(0).unwrap();
    assert_eq!(dec.next_event(), Ok(Some(Event::Complete)));
}

#[test]
fn idle_and_truncation_states() {
    let mut dec = RequestDecoder::new();
    assert!(dec.is_idle());
    dec.feed(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab");
    assert!(!dec.is_idle());
    assert_eq!(dec.next_event(), Ok(Some(Event::Head)));
    dec.read_body(10).unwrap();
    assert_eq!(dec.next_event(), Ok(None));
    assert!(dec.is_reading_body());
    dec.feed(b"cd");
    assert_eq!(dec.next_event(), Ok(Some(Event::Complete)));
    assert_eq!(dec.take_body(), b"abcd");
    dec.finish();
    assert!(dec.is_idle());
}

#[test]
fn targets_split_into_path_and_query_once() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("/a", "/a", None),
        ("/a?b=1&c", "/a", Some("b=1&c")),
        ("/a?", "/a", Some("")),
        ("*", "*", None),
        ("http://host", "/", None),
        ("http://host?x=1", "/", Some("x=1")),
        (
            "https://host:9001/2018-06-01/ping?x",
            "/2018-06-01/ping",
            Some("x"),
        ),
    ];
    for (target, path, query) in cases {
        let mut dec = RequestDecoder::new();
        dec.feed(format!("GET {target} HTTP/1.1\r\n\r\n").as_bytes());
        assert_eq!(dec.next_event(), Ok(Some(Event::Head)), "{target}");
        let h = dec.head();
        assert_eq!(h.target(), *target);
        assert_eq!(h.path(), *path, "{target}");
        assert_eq!(h.query(), *query, "{target}");
    }
}

/// A streamed `/response` as the Rust runtime sends it: chunked, with the error trailers.
const STREAMED: &[u8] = b"POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\n\
    Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\
    Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n\
    5\r\nhello\r\n1\r\n,\r\n6\r\n world\r\n0\r\n\
    Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\n\
    Lambda-Runtime-Function-Error-Body: Ym9vbQ==\r\n\r\n";

#[test]
fn streaming_trailers_survive_every_split() {
    let seen = split_invariant(STREAMED);
    assert_eq!(
        seen[1],
        Seen::Complete {
            body: b"hello, world".to_vec(),
            trailers: b"Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\n\
                Lambda-Runtime-Function-Error-Body: Ym9vbQ==\r\n\r\n"
                .to_vec(),
            keep_alive: true,
        }
    );
}

/// Feeds `input` split at `at`, then byte by byte from there, taking the body as it is decoded
/// (as the reactor does for a streamed response): the pieces, and the trailer at the end.
fn take_piece_by_piece(input: &[u8], at: usize) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
    let mut dec = RequestDecoder::new();
    let mut pieces = Vec::new();
    let mut feeds: Vec<&[u8]> = vec![&input[..at]];
    feeds.extend(input[at..].chunks(1));
    for feed in feeds {
        dec.feed(feed);
        loop {
            match dec.next_event() {
                Ok(Some(Event::Head)) => dec.read_body(1 << 20).unwrap(),
                Ok(Some(Event::Complete)) => {
                    pieces.push(dec.take_body());
                    let trailer = dec
                        .trailer("Lambda-Runtime-Function-Error-Type")
                        .map(<[u8]>::to_vec);
                    return (pieces, trailer);
                }
                Ok(None) => {
                    if dec.is_reading_body() {
                        pieces.push(dec.take_body());
                    }
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
    panic!("incomplete");
}

#[test]
fn a_streamed_body_taken_piece_by_piece_adds_up_at_every_split() {
    for at in 0..=STREAMED.len() {
        let (pieces, trailer) = take_piece_by_piece(STREAMED, at);
        assert_eq!(pieces.concat(), b"hello, world", "split at {at}");
        assert_eq!(trailer.as_deref(), Some(&b"Runtime.StreamError"[..]));
    }
    // Byte by byte from the start, the first piece comes before the last chunk has arrived.
    let (pieces, _) = take_piece_by_piece(STREAMED, 0);
    let first = pieces.iter().position(|p| !p.is_empty()).unwrap();
    assert_eq!(pieces[first], b"h");
}

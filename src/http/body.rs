//! Message body framing (RFC 9112 §6, §7.1): `Content-Length` and `chunked` with trailers,
//! decoded incrementally over byte slices. The states follow hyper's `ChunkedState`, with the
//! size line parsed by `httparse::parse_chunk_size`.

use super::{MAX_CHUNK_LINE_BYTES, MAX_HEADERS, MAX_TRAILER_BYTES, ParseError};

/// How much of the input one `decode` call used, and whether the body ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    pub(crate) consumed: usize,
    pub(crate) done: bool,
}

/// The framing state of one request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyDecoder {
    /// `Content-Length`: this many bytes are still to come.
    Length { remaining: u64 },
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunk),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Expecting `chunk-size [ chunk-ext ] CRLF`.
    Size,
    /// Inside chunk data, with this many bytes still to come.
    Data { remaining: u64 },
    /// Expecting the CRLF that ends chunk data.
    DataEnd,
    /// After the last chunk: trailer fields, then an empty line.
    Trailers,
}

impl BodyDecoder {
    /// Decodes what it can of `input`, handing each run of body data to `data` and the raw
    /// trailer section (including its final empty line) to `trailers`.
    ///
    /// Bytes it cannot use yet (a partial size line or trailer section) are left unconsumed;
    /// the caller offers them again with more input appended.
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        data: &mut dyn FnMut(&[u8]) -> Result<(), ParseError>,
        trailers: &mut dyn FnMut(&[u8]),
    ) -> Result<Progress, ParseError> {
        let mut at = 0;
        loop {
            let rest = &input[at..];
            match self {
                BodyDecoder::Length { remaining } => {
                    let take = rest
                        .len()
                        .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    if take > 0 {
                        data(&rest[..take])?;
                    }
                    *remaining -= take as u64;
                    at += take;
                    return Ok(Progress {
                        consumed: at,
                        done: *remaining == 0,
                    });
                }
                BodyDecoder::Chunked(chunk) => match *chunk {
                    Chunk::Size => {
                        if rest.is_empty() {
                            return Ok(Progress {
                                consumed: at,
                                done: false,
                            });
                        }
                        // httparse reads an empty size line as 0; RFC 9112 §7.1 wants 1*HEXDIG.
                        if !rest[0].is_ascii_hexdigit() {
                            return Err(ParseError::Malformed("invalid chunk size"));
                        }
                        match httparse::parse_chunk_size(rest) {
                            Ok(httparse::Status::Complete((n, 0))) => {
                                at += n;
                                *chunk = Chunk::Trailers;
                            }
                            Ok(httparse::Status::Complete((n, size))) => {
                                at += n;
                                *chunk = Chunk::Data { remaining: size };
                            }
                            Ok(httparse::Status::Partial) => {
                                if rest.len() > MAX_CHUNK_LINE_BYTES {
                                    return Err(ParseError::Malformed("chunk size line too long"));
                                }
                                return Ok(Progress {
                                    consumed: at,
                                    done: false,
                                });
                            }
                            Err(_) => return Err(ParseError::Malformed("invalid chunk size")),
                        }
                    }
                    Chunk::Data { remaining } => {
                        let take = rest
                            .len()
                            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                        if take == 0 {
                            return Ok(Progress {
                                consumed: at,
                                done: false,
                            });
                        }
                        data(&rest[..take])?;
                        at += take;
                        let remaining = remaining - take as u64;
                        *chunk = if remaining == 0 {
                            Chunk::DataEnd
                        } else {
                            Chunk::Data { remaining }
                        };
                    }
                    Chunk::DataEnd => match rest {
                        [b'\r', b'\n', ..] => {
                            at += 2;
                            *chunk = Chunk::Size;
                        }
                        [] | [b'\r'] => {
                            return Ok(Progress {
                                consumed: at,
                                done: false,
                            });
                        }
                        _ => return Err(ParseError::Malformed("chunk data not followed by CRLF")),
                    },
                    Chunk::Trailers => {
                        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                        match httparse::parse_headers(rest, &mut fields) {
                            Ok(httparse::Status::Complete((n, fields))) => {
                                if !fields.is_empty() {
                                    trailers(&rest[..n]);
                                }
                                return Ok(Progress {
                                    consumed: at + n,
                                    done: true,
                                });
                            }
                            Ok(httparse::Status::Partial) => {
                                if rest.len() > MAX_TRAILER_BYTES {
                                    return Err(ParseError::HeadTooLarge);
                                }
                                return Ok(Progress {
                                    consumed: at,
                                    done: false,
                                });
                            }
                            Err(httparse::Error::TooManyHeaders) => {
                                return Err(ParseError::TooManyHeaders);
                            }
                            Err(_) => return Err(ParseError::Malformed("invalid trailer field")),
                        }
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        mut dec: BodyDecoder,
        input: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>, usize, bool), ParseError> {
        let mut body = Vec::new();
        let mut trailer = Vec::new();
        let p = dec.decode(
            input,
            &mut |d| {
                body.extend_from_slice(d);
                Ok(())
            },
            &mut |t| trailer.extend_from_slice(t),
        )?;
        Ok((body, trailer, p.consumed, p.done))
    }

    #[test]
    fn length_stops_at_its_end() {
        let (body, _, used, done) = run(BodyDecoder::Length { remaining: 3 }, b"abcdef").unwrap();
        assert_eq!((body.as_slice(), used, done), (&b"abc"[..], 3, true));
    }

    #[test]
    fn chunked_with_extension_and_trailers() {
        let input =
            b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nLambda-Runtime-Function-Error-Type: X\r\n\r\nNEXT";
        let (body, trailer, used, done) = run(BodyDecoder::Chunked(Chunk::Size), input).unwrap();
        assert_eq!(body, b"abcde");
        assert_eq!(trailer, b"Lambda-Runtime-Function-Error-Type: X\r\n\r\n");
        assert_eq!(&input[used..], b"NEXT");
        assert!(done);
    }

    #[test]
    fn chunked_rejects_bad_framing() {
        for bad in [
            &b"\r\n"[..],
            b"x\r\n",
            b"3\r\nabcX",
            b"3\nabc\r\n",
            b"fffffffffffffffff\r\n",
        ] {
            assert!(
                run(BodyDecoder::Chunked(Chunk::Size), bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn chunked_bounds_what_it_buffers() {
        let mut long = b"5;".to_vec();
        long.resize(MAX_CHUNK_LINE_BYTES + 10, b'a');
        assert!(run(BodyDecoder::Chunked(Chunk::Size), &long).is_err());
        let mut trailer = b"0\r\nX: ".to_vec();
        trailer.resize(MAX_TRAILER_BYTES + 10, b'a');
        assert_eq!(
            run(BodyDecoder::Chunked(Chunk::Size), &trailer),
            Err(ParseError::HeadTooLarge)
        );
    }
}

//! Unit tests of `body.rs`.

use super::*;
use crate::codec::error::Excerpt;
use crate::codec::response::{parse_response_head, response_framing, DEFAULT_MAX_HEAD_BYTES};
use http::Method;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test; // there, run by wasm-bindgen-test in node

/// Everything a caller can observe from decoding one body.
#[derive(Debug, PartialEq)]
struct Outcome {
    payload: Vec<u8>,
    /// The first error, from `decode` or `on_eof`.
    error: Option<ProtocolError>,
    done: bool,
    trailers: Option<HeaderMap>,
    /// Bytes after the body, left in the caller's buffer.
    leftover: Vec<u8>,
    received: u64,
    remaining: Option<u64>,
}

/// Simulates a caller that reads `input` in pieces ending at `cuts`, keeps unconsumed bytes
/// in a buffer, and decodes after every read; then, if `eof`, reports EOF. Checks the
/// `Decoded` invariants on the way.
fn run(framing: Framing, input: &[u8], cuts: &[usize], eof: bool) -> Outcome {
    let mut decoder = BodyDecoder::new(framing);
    // Unconsumed bytes are `buf[at..]`; consumed ones are dropped before each read.
    let (mut buf, mut at) = (Vec::new(), 0);
    let mut payload = Vec::new();
    let mut error = None;
    let mut start = 0;
    let ends = cuts.iter().copied().chain([input.len()]);
    'reads: for end in ends {
        buf.drain(..at);
        at = 0;
        buf.extend_from_slice(&input[start..end]);
        start = end;
        while !decoder.is_done() {
            let decoded = match decoder.decode(&buf[at..]) {
                Ok(decoded) => decoded,
                Err(e) => {
                    // The decoder stays failed.
                    assert_eq!(decoder.decode(b"more").unwrap_err(), e);
                    error = Some(e);
                    break 'reads;
                }
            };
            assert_eq!(decoded.data.end, decoded.consumed, "{decoded:?}");
            assert!(decoded.consumed <= buf.len() - at);
            payload.extend_from_slice(&buf[at..][decoded.data.clone()]);
            at += decoded.consumed;
            if decoded.data.is_empty() {
                if !decoder.is_done() {
                    assert_eq!(at, buf.len(), "no payload and not done, yet bytes left");
                }
                break;
            }
        }
    }
    buf.drain(..at);
    if error.is_none() {
        // Bytes after the body are not the body's (and if not done, `buf` is empty).
        assert_eq!(decoder.decode(&buf).unwrap(), Decoded::framing_only(0));
        if eof {
            error = decoder.on_eof().err();
        }
    }
    if error.is_some() {
        // What is left in the buffer after an error depends on the split; it is garbage.
        buf.clear();
    }
    let received = decoder.received();
    assert_eq!(received, payload.len() as u64);
    Outcome {
        payload,
        error,
        done: decoder.is_done(),
        trailers: decoder.take_trailers(),
        leftover: buf,
        received,
        remaining: decoder.remaining(),
    }
}

/// Runs `input` whole, split at every position, split at every pair of positions (for short
/// inputs), and byte by byte; asserts all outcomes equal and returns it.
///
/// Inputs over 4 KiB (only the trailer-size limit test) are split at every position in
/// their first and last KiB and every 7th in between, to keep debug test runs quick.
fn run_all_splits(framing: Framing, input: &[u8], eof: bool) -> Outcome {
    let whole = run(framing, input, &[], eof);
    let len = input.len();
    let sampled = |i: &usize| len <= 4096 || *i < 1024 || *i > len - 1024 || i.is_multiple_of(7);
    for i in (0..=len).filter(sampled) {
        assert_eq!(run(framing, input, &[i], eof), whole, "split at {i}");
    }
    if input.len() <= 64 {
        for i in 0..=input.len() {
            for j in i..=input.len() {
                assert_eq!(
                    run(framing, input, &[i, j], eof),
                    whole,
                    "split at {i}, {j}"
                );
            }
        }
    }
    let bytes: Vec<usize> = (0..input.len()).collect();
    assert_eq!(run(framing, input, &bytes, eof), whole, "byte by byte");
    whole
}

fn trailers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, http::HeaderValue::from_static(value));
    }
    map
}

fn complete(payload: &[u8], leftover: &[u8], remaining: Option<u64>) -> Outcome {
    Outcome {
        payload: payload.to_vec(),
        error: None,
        done: true,
        trailers: None,
        leftover: leftover.to_vec(),
        received: payload.len() as u64,
        remaining,
    }
}

#[test]
fn empty_is_done_at_once() {
    for framing in [Framing::Empty, Framing::Length(0)] {
        let mut decoder = BodyDecoder::new(framing);
        assert!(decoder.is_done());
        assert_eq!(
            decoder.decode(b"HTTP/1.1").unwrap(),
            Decoded::framing_only(0)
        );
        assert_eq!(decoder.remaining(), Some(0));
        assert_eq!(decoder.on_eof(), Ok(()));
        assert_eq!(decoder.take_trailers(), None);
    }
    assert_eq!(
        run_all_splits(Framing::Empty, b"next", true),
        complete(b"", b"next", Some(0))
    );
}

#[test]
fn content_length() {
    let got = run_all_splits(Framing::Length(11), b"hello world", false);
    assert_eq!(got, complete(b"hello world", b"", Some(0)));
    let got = run_all_splits(Framing::Length(5), b"helloHTTP/1.1 200 OK\r\n", true);
    assert_eq!(got, complete(b"hello", b"HTTP/1.1 200 OK\r\n", Some(0)));

    // Done right after the last payload byte, in the same call.
    let mut decoder = BodyDecoder::new(Framing::Length(3));
    assert_eq!(decoder.remaining(), Some(3));
    assert_eq!(
        decoder.decode(b"ab").unwrap(),
        Decoded {
            consumed: 2,
            data: 0..2
        }
    );
    assert_eq!((decoder.remaining(), decoder.received()), (Some(1), 2));
    assert_eq!(decoder.decode(b"").unwrap(), Decoded::framing_only(0));
    assert_eq!(
        decoder.decode(b"cd").unwrap(),
        Decoded {
            consumed: 1,
            data: 0..1
        }
    );
    assert!(decoder.is_done());
}

#[test]
fn content_length_cut_short() {
    let got = run_all_splits(Framing::Length(10), b"hello", true);
    let incomplete = ProtocolError::IncompleteBody {
        expected: Some(10),
        received: 5,
    };
    assert_eq!(got.error, Some(incomplete.clone()));
    assert_eq!(
        (got.done, got.remaining, got.payload.as_slice()),
        (false, Some(5), &b"hello"[..])
    );
    let mut decoder = BodyDecoder::new(Framing::Length(10));
    assert!(decoder.on_eof().is_err());
    assert!(decoder.on_eof().is_err(), "stays failed");
}

#[test]
fn close_delimited() {
    let got = run_all_splits(Framing::CloseDelimited, b"all of it\r\n0\r\n\r\n", true);
    assert_eq!(got, complete(b"all of it\r\n0\r\n\r\n", b"", None));
    let got = run(Framing::CloseDelimited, b"partial", &[3], false);
    assert!(!got.done);
    assert_eq!(got.payload, b"partial");
}

#[test]
fn chunked() {
    let input =
        b"5\r\nhello\r\n1;ext=1\r\n \r\n00B \t; a=b ; c=\"d\"\r\nworld!!!!!!\r\n0\r\n\r\nnext";
    let got = run_all_splits(Framing::Chunked, input, false);
    assert_eq!(got, complete(b"hello world!!!!!!", b"next", None));
    let got = run_all_splits(Framing::Chunked, b"A\r\n0123456789\r\n0;last\r\n\r\n", true);
    assert_eq!(got, complete(b"0123456789", b"", None));
    let got = run_all_splits(Framing::Chunked, b"0\r\n\r\n", true);
    assert_eq!(got, complete(b"", b"", None));
}

#[test]
fn chunked_with_trailers() {
    let input = b"3\r\nabc\r\n0\r\nExpires: never\r\nX-Checksum: 1\r\nx-checksum:2\r\n\r\nHTTP/1.1";
    let got = run_all_splits(Framing::Chunked, input, false);
    assert_eq!(
        got,
        Outcome {
            trailers: Some(trailers(&[
                ("expires", "never"),
                ("x-checksum", "1"),
                ("x-checksum", "2")
            ])),
            ..complete(b"abc", b"HTTP/1.1", None)
        }
    );
}

#[test]
fn chunked_done_steps() {
    // The last chunk's data ends one call; the next call finishes the body.
    let mut decoder = BodyDecoder::new(Framing::Chunked);
    assert_eq!(
        decoder.decode(b"3\r\nabc\r\n0\r\n\r\n").unwrap(),
        Decoded {
            consumed: 6,
            data: 3..6
        }
    );
    assert!(!decoder.is_done());
    assert_eq!(
        decoder.decode(b"\r\n0\r\n\r\nrest").unwrap(),
        Decoded::framing_only(7)
    );
    assert!(decoder.is_done());
    assert_eq!(decoder.remaining(), None);
    assert_eq!(decoder.take_trailers(), None);
    assert_eq!(decoder.decode(b"rest").unwrap(), Decoded::framing_only(0));
}

/// Decodes `input` as a chunked body, expecting `error` whatever the split.
fn chunked_error(input: &[u8], error: ProtocolError) {
    let got = run_all_splits(Framing::Chunked, input, false);
    assert_eq!(
        got.error,
        Some(error),
        "{:?}",
        input.escape_ascii().to_string()
    );
    assert!(!got.done);
}

fn invalid_size(line: &[u8]) -> ProtocolError {
    ProtocolError::InvalidChunkSize {
        bytes: Excerpt::new(line),
    }
}

#[test]
fn chunked_size_errors() {
    chunked_error(b"\r\n", invalid_size(b"\r"));
    chunked_error(b"x\r\n", invalid_size(b"x"));
    chunked_error(b" 5\r\nhello", invalid_size(b" "));
    chunked_error(b"+5\r\nhello", invalid_size(b"+"));
    chunked_error(b"5\nhello", invalid_size(b"5\n"));
    chunked_error(b"5\r\rhello", invalid_size(b"5\r\r"));
    chunked_error(b"5 5\r\n", invalid_size(b"5 5"));
    chunked_error(b"5;a\nb\r\n", invalid_size(b"5;a\n"));
    chunked_error(b"5;a\x00\r\n", invalid_size(b"5;a\x00"));
    chunked_error(b"5;\x7f\r\n", invalid_size(b"5;\x7f"));
    chunked_error(b"5\r\nhello\r\n-1\r\n", invalid_size(b"-"));
    // 16 digits fit a u64, 17 digits never do, even as leading zeros (like Go).
    let got = run_all_splits(Framing::Chunked, b"ffffffffffffffff\r\nab", true);
    let incomplete = ProtocolError::IncompleteBody {
        expected: None,
        received: 2,
    };
    assert_eq!(
        (got.error, got.payload.as_slice()),
        (Some(incomplete), &b"ab"[..])
    );
    chunked_error(b"00000000000000001\r\n", invalid_size(b"00000000000000001"));
    // A line of exactly the limit, CRLF included, is fine; one more byte is not.
    let mut long = b"1;".to_vec();
    long.resize(MAX_CHUNK_LINE - 2, b'x');
    long.extend_from_slice(b"\r\nz");
    let got = run(Framing::Chunked, &long, &[], false);
    assert_eq!((got.error, got.payload.as_slice()), (None, &b"z"[..]));
    long.insert(2, b'x');
    chunked_error(
        &long,
        ProtocolError::ChunkLineTooLong {
            limit: MAX_CHUNK_LINE,
        },
    );
    // Long garbage is quoted truncated.
    let garbage = [b'g'; 100];
    chunked_error(&garbage, invalid_size(b"g"));
    let mut ext = b"1;".to_vec();
    ext.extend_from_slice(&[b'e'; 100]);
    ext.push(0);
    chunked_error(&ext, invalid_size(&ext));
}

#[test]
fn chunked_data_errors() {
    let malformed = |bytes: &[u8]| ProtocolError::MalformedChunk {
        bytes: Excerpt::new(bytes),
    };
    chunked_error(b"5\r\nhello!\r\n0\r\n\r\n", malformed(b"!"));
    chunked_error(b"5\r\nhello\n0\r\n\r\n", malformed(b"\n"));
    chunked_error(b"5\r\nhello\r0\r\n\r\n", malformed(b"\r0"));
}

#[test]
fn chunked_trailer_errors() {
    let malformed = |bytes: &[u8]| ProtocolError::MalformedTrailers {
        bytes: Excerpt::new(bytes),
    };
    chunked_error(b"0\r\n\n", malformed(b"\n"));
    chunked_error(b"0\r\nA: 1\n\r\n", malformed(b"A: 1\n"));
    chunked_error(b"0\r\nA: 1\r\nno colon\r\n\r\n", malformed(b"no colon\r\n"));
    chunked_error(b"0\r\nA: 1\r\n folded\r\n\r\n", malformed(b" folded\r\n"));
    // Unlike in heads, no whitespace before the colon (RFC 9112 §5.1).
    chunked_error(b"0\r\nA : 1\r\n\r\n", malformed(b"A : 1\r\n"));
    chunked_error(b"0\r\nA: x\ry\r\n\r\n", malformed(b"A: x\ry\r\n"));
    chunked_error(b"0\r\n\rX\r\n\r\n", malformed(b"\rX\r\n"));
    let mut big = b"0\r\n".to_vec();
    while big.len() < MAX_TRAILER_BYTES + 10 {
        big.extend_from_slice(b"x-filler: 0123456789\r\n");
    }
    big.extend_from_slice(b"\r\n");
    chunked_error(
        &big,
        ProtocolError::TrailersTooLarge {
            limit: MAX_TRAILER_BYTES,
        },
    );
    let mut many = b"0\r\n".to_vec();
    for i in 0..=crate::codec::response::MAX_HEADERS {
        many.extend_from_slice(format!("t{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    chunked_error(
        &many,
        ProtocolError::TooManyHeaders {
            limit: crate::codec::response::MAX_HEADERS,
        },
    );
}

#[test]
fn chunked_cut_short() {
    for input in [
        &b""[..],
        b"5",
        b"5\r\nhel",
        b"5\r\nhello",
        b"5\r\nhello\r\n0\r\n",
        b"0\r\nA: 1\r\n",
    ] {
        let got = run_all_splits(Framing::Chunked, input, true);
        let received = got.payload.len() as u64;
        assert_eq!(
            got.error,
            Some(ProtocolError::IncompleteBody {
                expected: None,
                received
            })
        );
    }
}

/// A whole exchange as a connection would see it: an interim response, a head, a chunked
/// body with trailers, then a second response, split at every position.
#[test]
fn responses_back_to_back() {
    let input: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x\r\npedia\r\n0\r\nT: 1\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc\
        HTTP/1.0 200 OK\r\n\r\nto the end";
    let whole = exchange(input, &[]);
    assert_eq!(
        whole,
        vec![
            (200, b"Wikipedia".to_vec(), Some(trailers(&[("t", "1")]))),
            (200, b"abc".to_vec(), None),
            (200, b"to the end".to_vec(), None),
        ]
    );
    for i in 0..=input.len() {
        assert_eq!(exchange(input, &[i]), whole, "split at {i}");
    }
    let bytes: Vec<usize> = (0..input.len()).collect();
    assert_eq!(exchange(input, &bytes), whole, "byte by byte");
}

/// Reads responses from `input` delivered in pieces: (status, body, trailers) for each
/// final response.
fn exchange(input: &[u8], cuts: &[usize]) -> Vec<(u16, Vec<u8>, Option<HeaderMap>)> {
    let mut pieces = cuts.iter().copied().chain([input.len()]);
    let mut start = 0;
    let mut buf = Vec::new();
    let mut read = |buf: &mut Vec<u8>| -> bool {
        match pieces.next() {
            Some(end) => {
                buf.extend_from_slice(&input[start..end]);
                start = end;
                true
            }
            None => false,
        }
    };
    let mut responses = Vec::new();
    'responses: loop {
        let head = loop {
            if let Some((head, consumed)) =
                parse_response_head(&buf, DEFAULT_MAX_HEAD_BYTES).unwrap()
            {
                buf.drain(..consumed);
                if crate::codec::response::is_interim(head.status) {
                    continue;
                }
                break head;
            }
            if !read(&mut buf) {
                assert!(buf.is_empty());
                break 'responses;
            }
        };
        let framing = response_framing(&Method::GET, false, &head).unwrap();
        let mut decoder = BodyDecoder::new(framing.framing);
        let mut body = Vec::new();
        while !decoder.is_done() {
            let decoded = decoder.decode(&buf).unwrap();
            body.extend_from_slice(&buf[decoded.data.clone()]);
            buf.drain(..decoded.consumed);
            if decoded.data.is_empty() && !decoder.is_done() && !read(&mut buf) {
                decoder.on_eof().unwrap();
            }
        }
        responses.push((head.status.as_u16(), body, decoder.take_trailers()));
    }
    responses
}

//! Transparent decompression (feature `decompress`) against the scripted server, natively
//! and under wasmtime: the request field, decoding of sized and chunked gzip and deflate
//! bodies, the caller's own `Accept-Encoding`, `disable_compression`, corrupt bodies and what
//! becomes of their connection, bodiless responses with `Content-Encoding`, reuse after a
//! decoded body, and the collect limit on decoded bytes. Compressed bodies are made at test
//! time by flate2's encoders.
#![cfg(feature = "decompress")]

mod common;

use std::io::Write;

use common::*;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;
use roundtrip::{CloseReason, ContentEncoding, DecompressError, Decompressed, Error, Transport};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn text(n: usize) -> String {
    (0..n).map(|i| format!("line {i}\n")).collect()
}

/// A 200 with `body` sized, in `coding`.
fn sized(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\ncontent-encoding: {coding}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A 200 with `body` chunked in pieces of `size` bytes, in `coding`.
fn chunked(coding: &str, body: &[u8], size: usize) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\ncontent-encoding: {coding}\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for piece in body.chunks(size) {
        r.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        r.extend_from_slice(piece);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

/// The default request asks for gzip and deflate; a gzip body comes decoded, without the
/// headers that described the encoded bytes, and its connection is reused for the next one.
#[test]
fn gzip_body_is_decoded_and_its_connection_reused() {
    let body = text(300);
    Script::new()
        .server([conn([
            read(GET),
            write(sized("gzip", &gzip(body.as_bytes()))),
            read(GET),
            write(ok("next")),
        ])])
        .client([
            Step::Send(
                Req::get("/")
                    .text(&body)
                    .no_header("content-encoding")
                    .no_header("content-length")
                    .conn(1, false)
                    .idle(1),
            ),
            Step::Send(Req::get("/").text("next").conn(1, true)),
        ])
        .want(Want {
            dials: 1,
            reuses: 1,
            requests: 2,
            idle: 1,
            ..Want::default()
        })
        .run();
}

/// Chunked gzip (what nginx sends), zlib-wrapped deflate and raw deflate, in small chunks,
/// all on one connection.
#[test]
fn chunked_gzip_and_both_deflates() {
    let body = text(500);
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::best());
    zlib.write_all(body.as_bytes()).unwrap();
    let mut raw = DeflateEncoder::new(Vec::new(), Compression::fast());
    raw.write_all(body.as_bytes()).unwrap();
    Script::new()
        .server([conn([
            read(GET),
            write(chunked("gzip", &gzip(body.as_bytes()), 100)),
            read(GET),
            write(chunked("deflate", &zlib.finish().unwrap(), 7)),
            read(GET),
            write(sized("Deflate", &raw.finish().unwrap())),
        ])])
        .client([
            Step::Send(Req::get("/").text(&body).no_header("content-encoding")),
            Step::Send(Req::get("/").text(&body).conn(1, true)),
            Step::Send(Req::get("/").text(&body).conn(1, true).idle(1)),
        ])
        .want(Want {
            dials: 1,
            reuses: 2,
            requests: 3,
            idle: 1,
            ..Want::default()
        })
        .run();
}

/// A caller's own `Accept-Encoding` is sent as it is, and the body comes as it came.
#[test]
fn the_callers_accept_encoding_means_the_body_as_it_came() {
    let encoded = gzip(b"hello");
    Script::new()
        .server([conn([
            read("GET / HTTP/1.1\r\nhost: {host}\r\naccept-encoding: gzip\r\n\r\n"),
            write(sized("gzip", &encoded)),
        ])])
        .client([Step::Send(
            Req::get("/")
                .header("accept-encoding", "gzip")
                .body_is(encoded.clone())
                .has_header("content-encoding", "gzip")
                .has_header("content-length", &encoded.len().to_string()),
        )])
        .want(Want {
            dials: 1,
            requests: 1,
            idle: 1,
            ..Want::default()
        })
        .run();
}

/// `disable_compression(true)`: no field is added, and nothing is decoded.
#[test]
fn disable_compression_sends_nothing_and_decodes_nothing() {
    let encoded = gzip(b"hello");
    Script::new()
        .transport(Transport::builder().disable_compression(true))
        .server([conn([
            read("GET / HTTP/1.1\r\nhost: {host}\r\n\r\n"),
            write(sized("gzip", &encoded)),
        ])])
        .client([Step::Send(
            Req::get("/")
                .body_is(encoded.clone())
                .has_header("content-encoding", "gzip"),
        )])
        .want(Want {
            dials: 1,
            requests: 1,
            idle: 1,
            ..Want::default()
        })
        .run();
}

/// Codings the transport does not decode (`br`, stacked ones) come as they came.
#[test]
fn other_codings_are_delivered_as_they_came() {
    Script::new()
        .server([conn([
            read(GET),
            write(sized("br", b"\x0b\x02\x80hi\x03")),
            read(GET),
            write(sized("gzip, gzip", b"xyz")),
        ])])
        .client([
            Step::Send(
                Req::get("/")
                    .body_is(b"\x0b\x02\x80hi\x03".to_vec())
                    .has_header("content-encoding", "br"),
            ),
            Step::Send(Req::get("/").text("xyz").has_header("content-length", "3")),
        ])
        .want(Want {
            dials: 1,
            reuses: 1,
            requests: 2,
            idle: 1,
            ..Want::default()
        })
        .run();
}

fn is_decompress(e: &Error, want: DecompressError) -> bool {
    matches!(e, Error::Decompress { encoding: ContentEncoding::Gzip, source } if *source == want)
        && e.phase() == roundtrip::Phase::ReadBody
}

/// A body whose gzip data is bad while its framing still runs: a typed body error, and the
/// connection is closed as a protocol error (the verdict on the failed exchange).
#[test]
fn corrupt_gzip_mid_body_closes_the_connection() {
    // A gzip header, then a DEFLATE block of the invalid type 11, of a body of 1000 bytes
    // whose rest never comes.
    let mut bad = gzip(b"")[..10].to_vec();
    bad.extend([0x07, 0, 0, 0]);
    let mut response =
        b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 1000\r\n\r\n".to_vec();
    response.extend(&bad);
    Script::new()
        .server([conn([read(GET), write(response)])])
        .client([Step::Send(
            Req::get("/").body_fails(|e| is_decompress(e, DecompressError::Corrupt)),
        )])
        .want(Want {
            dials: 1,
            requests: 1,
            closed: vec![(CloseReason::ProtocolError, 1)],
            ..Want::default()
        })
        .run();
}

/// A gzip body whose checksum is wrong, or that is cut short, inside intact framing: the
/// error comes at the end of the data, and the connection, whose framing was complete, is
/// pooled and reused.
#[test]
fn bad_checksum_or_truncated_gzip_in_intact_framing_keeps_the_connection() {
    let mut bad_crc = gzip(b"hello world");
    let at = bad_crc.len() - 8;
    bad_crc[at] ^= 0xff;
    let good = gzip(b"hello world");
    let truncated = good[..good.len() - 3].to_vec();
    Script::new()
        .server([conn([
            read(GET),
            write(sized("gzip", &bad_crc)),
            read(GET),
            write(chunked("gzip", &truncated, 5)),
            read(GET),
            write(ok("after")),
        ])])
        .client([
            Step::Send(Req::get("/").body_fails(|e| is_decompress(e, DecompressError::Crc32))),
            Step::Send(
                Req::get("/")
                    .conn(1, true)
                    .body_fails(|e| is_decompress(e, DecompressError::Truncated)),
            ),
            Step::Send(Req::get("/").text("after").conn(1, true)),
        ])
        .want(Want {
            dials: 1,
            reuses: 2,
            requests: 3,
            idle: 1,
            ..Want::default()
        })
        .run();
}

/// HEAD (sent without the field: nothing to decode), 204 and 304 with `Content-Encoding`:
/// no body, headers as they came, the connection pooled at once.
#[test]
fn bodiless_responses_with_content_encoding() {
    Script::new()
        .server([conn([
            read("HEAD / HTTP/1.1\r\nhost: {host}\r\n\r\n"),
            write("HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 123\r\n\r\n"),
            read(GET),
            write("HTTP/1.1 204 No Content\r\ncontent-encoding: gzip\r\n\r\n"),
            read(GET),
            write(
                "HTTP/1.1 304 Not Modified\r\ncontent-encoding: gzip\r\ncontent-length: 9\r\n\r\n",
            ),
        ])])
        .client([
            Step::Send(
                Req::new(http::Method::HEAD, "/")
                    .has_header("content-encoding", "gzip")
                    .has_header("content-length", "123")
                    .end_stream(),
            ),
            Step::Send(
                Req::get("/")
                    .status(204)
                    .has_header("content-encoding", "gzip")
                    .end_stream(),
            ),
            Step::Send(
                Req::get("/")
                    .status(304)
                    .has_header("content-encoding", "gzip")
                    .end_stream()
                    .idle(1),
            ),
        ])
        .want(Want {
            dials: 1,
            reuses: 2,
            requests: 3,
            idle: 1,
            ..Want::default()
        })
        .run();
}

/// The collect limit counts decoded bytes: 1 MiB of zeros in a ~1 KiB gzip body is over a
/// 64 KiB limit. The body's framing is not over (its last chunk is never sent), so the
/// connection is closed.
#[test]
fn the_collect_limit_applies_to_decoded_bytes() {
    let bomb = gzip(&vec![0; 1 << 20]);
    assert!(bomb.len() < 4096);
    let mut response =
        b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    response.extend(format!("{:x}\r\n", bomb.len()).as_bytes());
    response.extend(&bomb);
    response.extend(b"\r\n");
    Script::new()
        .transport(Transport::builder().max_collect_bytes(64 * 1024))
        .server([conn([read(GET), write(response)])])
        .client([Step::Send(Req::get("/").body_fails(|e| {
            matches!(e, Error::BodyTooLarge { limit: 65536 })
        }))])
        .want(Want {
            dials: 1,
            requests: 1,
            closed: vec![(CloseReason::CallerGone, 1)],
            ..Want::default()
        })
        .run();
}

/// The response is marked `Decompressed` with its coding; one that was not decoded is not.
#[test]
fn decoded_responses_are_marked() {
    let server = Server::bind();
    let url = server.url("/");
    let body = text(50);
    let encoded = gzip(body.as_bytes());
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            peer.write(&sized("x-gzip", &encoded)).await;
            peer.read_request().await.unwrap();
            peer.respond("plain").await;
            peer.until_eof().await;
        },
        async {
            let mut resp = t.round_trip(get(&url)).await.unwrap();
            let marker = resp.extensions().get::<Decompressed>().copied();
            assert_eq!(marker, Some(Decompressed(ContentEncoding::Gzip)));
            assert_eq!(resp.body_mut().text().await.unwrap(), body);
            assert!(resp.body().is_end_stream());
            let mut resp = t.round_trip(get(&url)).await.unwrap();
            assert!(resp.extensions().get::<Decompressed>().is_none());
            assert_eq!(resp.body_mut().text().await.unwrap(), "plain");
            drop(t);
        },
    );
}

/// A request with `Range` is sent without the field (a range of the encoded bytes is not a
/// range of the decoded ones), as Go does.
#[test]
fn range_requests_do_not_ask_for_compression() {
    Script::new()
        .server([conn([
            read("GET / HTTP/1.1\r\nhost: {host}\r\nrange: bytes=0-1\r\n\r\n"),
            write("HTTP/1.1 206 Partial Content\r\ncontent-length: 2\r\n\r\nab"),
        ])])
        .client([Step::Send(
            Req::get("/")
                .header("range", "bytes=0-1")
                .status(206)
                .text("ab"),
        )])
        .want(Want {
            dials: 1,
            requests: 1,
            idle: 1,
            ..Want::default()
        })
        .run();
}

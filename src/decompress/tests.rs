//! The decoder through its adapter, over a scripted source: every input split at every
//! position, output buffers of several sizes, the exact error for each kind of bad input.

use std::io::Write;
use std::task::{Context, Poll, Waker};

use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::{Compression, GzBuilder};

use super::{ContentEncoding, Decoding, DecompressError};
use crate::error::Error;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

use ContentEncoding::{Deflate, Gzip};

fn text(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect()
}

/// Bytes no compressor can shrink (an LCG), so the window's pending output gets exercised.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Decodes `chunks` (the source's reads, each followed by a `Pending` to test resumption)
/// with reads of `out` bytes; the source's end must be read before the end is reported.
/// (An empty chunk is no read: a read of 0 bytes is the end.)
fn decode(encoding: ContentEncoding, chunks: &[&[u8]], out: usize) -> Result<Vec<u8>, Error> {
    let chunks: Vec<&[u8]> = chunks.iter().copied().filter(|c| !c.is_empty()).collect();
    let mut decoding = Decoding::new(encoding);
    let mut cx = Context::from_waker(Waker::noop());
    let (mut next, mut offset) = (0, 0);
    let mut pending = false;
    let mut ended = false;
    let mut got = Vec::new();
    let mut buf = vec![0; out];
    for _ in 0..1_000_000 {
        let poll = decoding.poll_read(&mut cx, &mut buf, |_, into| {
            assert!(!ended, "read past the source's end");
            if pending {
                pending = false;
                return Poll::Pending;
            }
            let Some(chunk) = chunks.get(next) else {
                ended = true;
                return Poll::Ready(Ok(0));
            };
            // A chunk larger than the room left is delivered over several reads.
            let n = (chunk.len() - offset).min(into.len());
            into[..n].copy_from_slice(&chunk[offset..offset + n]);
            offset += n;
            if offset == chunk.len() {
                (next, offset) = (next + 1, 0);
                pending = true;
            }
            Poll::Ready(Ok(n))
        });
        match poll {
            Poll::Pending => {}
            Poll::Ready(Ok(0)) => {
                assert!(ended, "the end was reported before the source's end");
                return Ok(got);
            }
            Poll::Ready(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Poll::Ready(Err(e)) => return Err(e),
        }
    }
    panic!("no end");
}

fn decode_err(encoding: ContentEncoding, input: &[u8]) -> DecompressError {
    match decode(encoding, &[input], 4096) {
        Err(Error::Decompress {
            encoding: e,
            source,
        }) => {
            assert_eq!(e, encoding);
            source
        }
        other => panic!("expected a decoding error, got {other:?}"),
    }
}

/// `input` decodes to `want` whole, split in two at every position, and byte by byte, with
/// output buffers of 1, 7 and 4096 bytes.
fn check_every_split(encoding: ContentEncoding, input: &[u8], want: &[u8]) {
    for out in [1, 7, 4096] {
        assert_eq!(
            decode(encoding, &[input], out).unwrap(),
            want,
            "whole, out {out}"
        );
    }
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(decode(encoding, &[a, b], 7).unwrap(), want, "split at {at}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        decode(encoding, &bytes, 4096).unwrap(),
        want,
        "byte by byte"
    );
}

#[test]
fn gzip_at_every_split() {
    let data = text(200);
    check_every_split(Gzip, &gzip(&data), &data);
}

#[test]
fn gzip_of_incompressible_data_with_small_reads() {
    let data = noise(100_000);
    let input = gzip(&data);
    let chunks: Vec<&[u8]> = input.chunks(1000).collect();
    for out in [1, 100, 65536] {
        assert_eq!(decode(Gzip, &chunks, out).unwrap(), data, "out {out}");
    }
}

#[test]
fn gzip_members_in_a_row() {
    let (a, b) = (text(50), noise(3000));
    let mut input = gzip(&a);
    input.extend(gzip(&b));
    input.extend(gzip(b""));
    check_every_split(Gzip, &input, &[a, b].concat());
}

#[test]
fn gzip_header_with_every_optional_field() {
    let data = text(20);
    let mut input = GzBuilder::new()
        .filename("file.txt")
        .comment("a comment")
        .extra(vec![1, 2, 3, 4])
        .write(Vec::new(), Compression::default());
    input.write_all(&data).unwrap();
    let input = input.finish().unwrap();
    check_every_split(Gzip, &input, &data);

    // FHCRC, which flate2 does not write: set the flag and insert the CRC16 of the header.
    let plain = gzip(&data);
    let mut header = plain[..10].to_vec();
    header[3] |= 0x02;
    let crc = crc32fast::hash(&header) as u16;
    let mut with_crc = header.clone();
    with_crc.extend(crc.to_le_bytes());
    with_crc.extend(&plain[10..]);
    check_every_split(Gzip, &with_crc, &data);
    with_crc[10] ^= 1;
    let e = decode_err(Gzip, &with_crc);
    assert_eq!(
        e,
        DecompressError::GzipHeader("header checksum (FHCRC) mismatch")
    );
}

#[test]
fn deflate_zlib_wrapped_and_raw() {
    let data = text(200);
    check_every_split(Deflate, &zlib(&data), &data);
    check_every_split(Deflate, &raw_deflate(&data), &data);
    let data = noise(20_000);
    assert_eq!(decode(Deflate, &[&zlib(&data)], 100).unwrap(), data);
    assert_eq!(decode(Deflate, &[&raw_deflate(&data)], 100).unwrap(), data);
}

#[test]
fn empty_body_is_empty() {
    assert_eq!(decode(Gzip, &[], 10).unwrap(), b"");
    assert_eq!(decode(Deflate, &[], 10).unwrap(), b"");
    assert_eq!(decode(Gzip, &[&gzip(b"")], 10).unwrap(), b"");
}

/// Every proper prefix of a stream is truncated (the empty one is an empty body).
#[test]
fn truncated_at_every_position() {
    let data = text(100);
    for (encoding, input) in [(Gzip, gzip(&data)), (Deflate, zlib(&data))] {
        for len in 1..input.len() {
            let e = decode_err(encoding, &input[..len]);
            assert_eq!(e, DecompressError::Truncated, "{encoding} cut at {len}");
        }
    }
    let input = raw_deflate(&data);
    for len in 1..input.len() {
        assert_eq!(
            decode_err(Deflate, &input[..len]),
            DecompressError::Truncated
        );
    }
}

#[test]
fn corrupt_streams() {
    let data = text(100);
    let good = gzip(&data);
    let n = good.len();

    let mut bad = good.clone();
    bad[0] = b'x';
    assert_eq!(
        decode_err(Gzip, &bad),
        DecompressError::GzipHeader("not gzip (no 1f 8b magic)")
    );
    let mut bad = good.clone();
    bad[2] = 7;
    assert_eq!(
        decode_err(Gzip, &bad),
        DecompressError::GzipHeader("compression method is not deflate")
    );
    let mut bad = good.clone();
    bad[3] = 0x20;
    assert_eq!(
        decode_err(Gzip, &bad),
        DecompressError::GzipHeader("reserved flags are set")
    );
    let mut bad = good.clone();
    bad[n - 8] ^= 1;
    assert_eq!(decode_err(Gzip, &bad), DecompressError::Crc32);
    let mut bad = good.clone();
    bad[n - 4] ^= 1;
    assert_eq!(decode_err(Gzip, &bad), DecompressError::Length);
    // An invalid block type (BTYPE 11) in the DEFLATE data.
    let mut bad = good[..10].to_vec();
    bad.extend([0x07, 0, 0, 0]);
    assert_eq!(decode_err(Gzip, &bad), DecompressError::Corrupt);

    let mut bad = zlib(&data);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(decode_err(Deflate, &bad), DecompressError::Adler32);
    assert_eq!(decode_err(Deflate, &[0x07, 0, 0]), DecompressError::Corrupt);
    // The data decoded before the error was delivered: the error ends the body.
}

/// What follows the end of the stream: another gzip member is decoded, anything else is read
/// and ignored; bytes that start like a member must be one.
#[test]
fn after_the_end_of_the_stream() {
    let data = text(30);
    let good = gzip(&data);
    for garbage in [&b"garbage"[..], b"\x1f", b"\x1f\x00", b"\0\0\0\0", b"\n"] {
        let input = [&good[..], garbage].concat();
        check_every_split(Gzip, &input, &data);
    }
    let input = [&good[..], b"\x1f\x8b\x08"].concat();
    assert_eq!(decode_err(Gzip, &input), DecompressError::Truncated);
    let input = [&good[..], b"\x1f\x8bxxxxxxxxxx"].concat();
    assert_eq!(
        decode_err(Gzip, &input),
        DecompressError::GzipHeader("compression method is not deflate")
    );
    for input in [zlib(&data), raw_deflate(&data)] {
        let input = [&input[..], b"garbage"].concat();
        check_every_split(Deflate, &input, &data);
    }
}

#[test]
fn content_encoding_field_values() {
    let of = |v: &str| ContentEncoding::from_field(v.as_bytes());
    assert_eq!(of("gzip"), Some(Gzip));
    assert_eq!(of(" GZip "), Some(Gzip));
    assert_eq!(of("x-gzip"), Some(Gzip));
    assert_eq!(of("deflate"), Some(Deflate));
    for other in ["br", "identity", "gzip, gzip", "", "zstd", "gzip;q=1"] {
        assert_eq!(of(other), None, "{other}");
    }
}

//! The gzip member header (RFC 1952 §2.3), parsed incrementally: it can be split anywhere
//! and, with a file name or comment, has no length limit, so it is never buffered whole.

use super::DecompressError;

/// Flag bits of `FLG`.
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xe0;

/// The parts of a header, in order; all but `Fixed` and `Done` only when `FLG` says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// ID1 ID2 CM FLG MTIME(4) XFL OS: 10 bytes.
    Fixed,
    /// XLEN, 2 bytes, little-endian.
    ExtraLen,
    /// The extra field: this many bytes left.
    Extra(u16),
    /// The file name, zero-terminated.
    Name,
    /// The comment, zero-terminated.
    Comment,
    /// CRC16: the low 16 bits of the CRC-32 of the header bytes before it.
    Crc,
    Done,
}

/// A gzip member header being read.
pub(super) struct Header {
    part: Part,
    flags: u8,
    /// The bytes of a fixed-size part read so far: `buf[..len]`.
    buf: [u8; 10],
    len: usize,
    /// CRC-32 of the header bytes read so far, for `FHCRC`.
    crc: crc32fast::Hasher,
    /// Bytes consumed so far.
    seen: usize,
}

impl Header {
    pub(super) fn new() -> Header {
        Header {
            part: Part::Fixed,
            flags: 0,
            buf: [0; 10],
            len: 0,
            crc: crc32fast::Hasher::new(),
            seen: 0,
        }
    }

    /// No byte of the header has been read.
    pub(super) fn is_untouched(&self) -> bool {
        self.seen == 0
    }

    /// Reads header bytes from `input`: how many it consumed, and whether the header is
    /// complete (the DEFLATE data starts right after them).
    pub(super) fn feed(&mut self, input: &[u8]) -> Result<(usize, bool), DecompressError> {
        let mut at = 0;
        loop {
            let rest = &input[at..];
            let used = match self.part {
                Part::Done => return Ok((at, true)),
                Part::Fixed | Part::ExtraLen | Part::Crc => self.fill(rest),
                Part::Extra(left) => {
                    let n = usize::from(left).min(rest.len());
                    // `n <= left`, a u16.
                    self.part = Part::Extra(left - n as u16);
                    n
                }
                Part::Name | Part::Comment => match rest.iter().position(|&b| b == 0) {
                    Some(nul) => {
                        self.len = 1; // complete: `advance` moves on
                        nul + 1
                    }
                    None => rest.len(),
                },
            };
            if self.part != Part::Crc {
                self.crc.update(&rest[..used]);
            }
            self.seen += used;
            at += used;
            if !self.part_complete() {
                return Ok((at, false));
            }
            self.advance()?;
        }
    }

    /// Copies bytes of a fixed-size part into `buf`.
    fn fill(&mut self, rest: &[u8]) -> usize {
        let n = (self.part_len() - self.len).min(rest.len());
        self.buf[self.len..self.len + n].copy_from_slice(&rest[..n]);
        self.len += n;
        n
    }

    fn part_len(&self) -> usize {
        match self.part {
            Part::Fixed => 10,
            Part::ExtraLen | Part::Crc => 2,
            _ => 1,
        }
    }

    fn part_complete(&self) -> bool {
        match self.part {
            Part::Extra(left) => left == 0,
            Part::Done => true,
            _ => self.len == self.part_len(),
        }
    }

    /// Checks the part just completed and moves to the next one the flags call for.
    fn advance(&mut self) -> Result<(), DecompressError> {
        let bad = |why| Err(DecompressError::GzipHeader(why));
        let done = self.part;
        match done {
            Part::Fixed => {
                if self.buf[..2] != [0x1f, 0x8b] {
                    return bad("not gzip (no 1f 8b magic)");
                }
                if self.buf[2] != 8 {
                    return bad("compression method is not deflate");
                }
                self.flags = self.buf[3];
                if self.flags & RESERVED != 0 {
                    return bad("reserved flags are set");
                }
            }
            Part::ExtraLen => {
                self.len = 0;
                self.part = Part::Extra(u16::from_le_bytes([self.buf[0], self.buf[1]]));
                return Ok(());
            }
            Part::Crc => {
                let want = u16::from_le_bytes([self.buf[0], self.buf[1]]);
                // The low 16 bits, as RFC 1952 §2.3.1 defines CRC16.
                if want != self.crc.clone().finalize() as u16 {
                    return bad("header checksum (FHCRC) mismatch");
                }
            }
            Part::Extra(_) | Part::Name | Part::Comment | Part::Done => {}
        }
        self.len = 0;
        let next = [
            (Part::ExtraLen, FEXTRA),
            (Part::Name, FNAME),
            (Part::Comment, FCOMMENT),
            (Part::Crc, FHCRC),
        ];
        let after = match done {
            Part::Fixed => 0,
            Part::ExtraLen | Part::Extra(_) => 1,
            Part::Name => 2,
            Part::Comment => 3,
            Part::Crc | Part::Done => 4,
        };
        self.part = next[after..]
            .iter()
            .find(|(_, flag)| self.flags & flag != 0)
            .map_or(Part::Done, |(part, _)| *part);
        Ok(())
    }
}

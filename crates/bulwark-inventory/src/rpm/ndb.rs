//! rpm's own package database, NDB (`Packages.db`; rpm's `lib/backend/ndb/rpmpkg.c` is
//! the reference). All numbers are little-endian `u32`s. The file is 16-byte blocks:
//!
//! - a 32-byte header: magic `RpmP`, format version (0), generation, the number of 4 KiB
//!   pages of slots, the next package index;
//! - the slot pages right after (the header takes the first two 16-byte slots of page 0):
//!   each slot is magic `Slot`, package index, first block, block count; a slot whose
//!   first block is 0 is free;
//! - each package's blob at its slot's first block: magic `BlbS`, package index,
//!   generation, length, the header blob, padding, then the tail: Adler-32 of everything
//!   before it, the length again, magic `BlbE`. The blocks counted must be exactly those
//!   this takes.
//!
//! Blobs are checked as rpm checks them (magics, index, lengths, checksum); a bad one is
//! reported and skipped. A bad slot means the slot pages cannot be trusted: reading stops
//! there, as rpm refuses the whole database.

use super::{MAX_HEADER_BYTES, Reading, le32};

pub(super) const MAGIC: &[u8] = b"RpmP";
const SLOT_MAGIC: &[u8] = b"Slot";
const BLOB_HEAD_MAGIC: &[u8] = b"BlbS";
const BLOB_TAIL_MAGIC: &[u8] = b"BlbE";
const PAGE_SIZE: usize = 4096;
const BLOCK_SIZE: usize = 16;
const SLOT_SIZE: usize = 16;
const BLOB_HEAD_SIZE: usize = 16;
const BLOB_TAIL_SIZE: usize = 12;

pub(super) fn read(data: &[u8], reading: &mut Reading<'_>) -> Result<(), String> {
    let (Some(version), Some(slot_pages)) = (le32(data, 4), le32(data, 12)) else {
        return Err("NDB header truncated".to_owned());
    };
    if version != 0 {
        return Err(format!("NDB format version {version} (0 is read)"));
    }
    let slots_end = usize::try_from(slot_pages)
        .ok()
        .and_then(|pages| pages.checked_mul(PAGE_SIZE))
        .filter(|&end| end > 0 && end <= data.len())
        .ok_or_else(|| format!("NDB: {slot_pages} slot pages do not fit the file"))?;
    // Blob bytes that may still be checked: blobs do not overlap, so they add up to less
    // than the file (a hostile file's slots could all name one large blob).
    let mut bytes_left = data.len();
    // The header takes the first two slots.
    for at in (2 * SLOT_SIZE..slots_end).step_by(SLOT_SIZE) {
        let slot_number = at / SLOT_SIZE;
        let (Some(magic), Some(index), Some(first), Some(count)) = (
            data.get(at..at + 4),
            le32(data, at + 4),
            le32(data, at + 8),
            le32(data, at + 12),
        ) else {
            return Err(format!("NDB slot {slot_number} truncated"));
        };
        if magic != SLOT_MAGIC {
            return Err(format!(
                "NDB slot {slot_number} is corrupt; later slots not read"
            ));
        }
        if first == 0 {
            continue;
        }
        let blocks = usize::try_from(count).unwrap_or(usize::MAX);
        match bytes_left.checked_sub(blocks.saturating_mul(BLOCK_SIZE)) {
            Some(left) => bytes_left = left,
            None => return Err("NDB blobs overlap; later slots not read".to_owned()),
        }
        match blob(data, slots_end, index, first, count) {
            Ok(blob) => {
                if !reading.header(blob) {
                    return Ok(());
                }
            }
            Err(problem) => reading.problem(format!("NDB package {index}: {problem}")),
        }
    }
    Ok(())
}

/// The header blob of package `index`, stored in `count` blocks from block `first`.
fn blob(
    data: &[u8],
    slots_end: usize,
    index: u32,
    first: u32,
    count: u32,
) -> Result<&[u8], String> {
    let start = usize::try_from(first)
        .ok()
        .and_then(|first| first.checked_mul(BLOCK_SIZE))
        .ok_or("blob offset too large")?;
    if start < slots_end {
        return Err("blob inside the slot pages".to_owned());
    }
    let area = usize::try_from(count)
        .ok()
        .and_then(|count| count.checked_mul(BLOCK_SIZE))
        .and_then(|len| start.checked_add(len))
        .and_then(|end| data.get(start..end))
        .ok_or("blob runs past the end of the file")?;
    if area.len() < BLOB_HEAD_SIZE + BLOB_TAIL_SIZE {
        return Err("blob too short".to_owned());
    }
    if area.get(..4) != Some(BLOB_HEAD_MAGIC) {
        return Err("blob has no head".to_owned());
    }
    if le32(area, 4) != Some(index) {
        return Err("blob belongs to another package".to_owned());
    }
    let len = le32(area, 12)
        .and_then(|len| usize::try_from(len).ok())
        .filter(|&len| len <= MAX_HEADER_BYTES)
        .ok_or_else(|| format!("blob larger than the {MAX_HEADER_BYTES} bytes read"))?;
    if (BLOB_HEAD_SIZE + len + BLOB_TAIL_SIZE).div_ceil(BLOCK_SIZE) * BLOCK_SIZE != area.len() {
        return Err("blob length does not match its blocks".to_owned());
    }
    let tail_at = area.len() - BLOB_TAIL_SIZE;
    let tail = &area[tail_at..];
    if tail.get(8..12) != Some(BLOB_TAIL_MAGIC) || le32(tail, 4) != Some(len as u32) {
        return Err("blob has no tail".to_owned());
    }
    if le32(tail, 0) != Some(adler32(&area[..tail_at])) {
        return Err("blob checksum mismatch".to_owned());
    }
    Ok(&area[BLOB_HEAD_SIZE..BLOB_HEAD_SIZE + len])
}

/// Adler-32 (RFC 1950), as rpm checksums its blobs.
pub(super) fn adler32(bytes: &[u8]) -> u32 {
    const MODULUS: u32 = 65_521;
    // The most bytes summed before `b` could overflow a u32 (zlib's NMAX).
    const CHUNK: usize = 5552;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(CHUNK) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MODULUS;
        b %= MODULUS;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_matches_rfc_1950() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        // Past one chunk, so the modulus is taken mid-way.
        assert_eq!(adler32(&[0xff; 10_000]), {
            let (mut a, mut b) = (1u64, 0u64);
            for _ in 0..10_000 {
                a = (a + 255) % 65_521;
                b = (b + a) % 65_521;
            }
            u32::try_from((b << 16) | a).unwrap()
        });
    }
}

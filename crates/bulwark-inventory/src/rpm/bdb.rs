//! Berkeley DB hash databases (`Packages` of rpm before 4.16), read without Berkeley DB,
//! as rpm's own read-only reader does (`lib/backend/bdb_ro.cc`). Numbers are in the byte
//! order of the machine that wrote the file, which the magic tells.
//!
//! - Page 0 is the hash metadata: magic `0x061561` at 12, version (8 to 10) at 16, page
//!   size at 20, encryption at 24, page type 8 at 25, the highest bucket at 72, and the
//!   "spares" at 96: bucket `b`'s first page is `b + spares[bits(b)]`.
//! - A bucket is a chain of hash pages (type 13, or 2 for unsorted ones; `next` at 16,
//!   item count at 20, item offsets from 26): items alternate key and value, each starting
//!   with its kind: 1 the bytes in place, 3 on overflow pages (page at 4, length at 8).
//!   Items are stacked from the page's end, so each one's length is the distance to the
//!   previous one's offset.
//! - Overflow pages (type 7) hold their share of bytes from 26, its length at 22, the
//!   next page at 16.
//!
//! Keys are package numbers; key 0 is rpm's counter, not a package. A bucket whose page
//! was never written reads as zeros and holds nothing. Every page is visited at most once,
//! so a hostile file can neither loop nor make one page cost many reads.

use std::borrow::Cow;

use super::{MAX_HEADER_BYTES, Reading};

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HASH_METADATA: u8 = 8;
const PAGE_HASH: u8 = 13;
const PAGE_HASH_UNSORTED: u8 = 2;
const PAGE_OVERFLOW: u8 = 7;
/// A page that was allocated but never written.
const PAGE_INVALID: u8 = 0;
const ITEM_IN_PLACE: u8 = 1;
const ITEM_OVERFLOW: u8 = 3;
/// The header every page starts with.
const PAGE_HEADER: usize = 26;

pub(super) fn is_hash_database(data: &[u8]) -> bool {
    data.get(12..16)
        .is_some_and(|magic| magic == HASH_MAGIC.to_le_bytes() || magic == HASH_MAGIC.to_be_bytes())
}

/// Numbers in the file's byte order.
#[derive(Clone, Copy)]
struct Order {
    big_endian: bool,
}

impl Order {
    fn u32(self, bytes: &[u8], at: usize) -> Option<u32> {
        let array: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(array)
        } else {
            u32::from_le_bytes(array)
        })
    }

    fn u16(self, bytes: &[u8], at: usize) -> Option<usize> {
        let array: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(usize::from(if self.big_endian {
            u16::from_be_bytes(array)
        } else {
            u16::from_le_bytes(array)
        }))
    }
}

struct Database<'a> {
    data: &'a [u8],
    order: Order,
    page_size: usize,
    /// Pages visited, bucket and overflow pages alike: each page has one use, so none is
    /// read twice.
    seen: Vec<bool>,
}

pub(super) fn read(data: &[u8], reading: &mut Reading<'_>) -> Result<(), String> {
    let big_endian = data.get(12..16) == Some(&HASH_MAGIC.to_be_bytes()[..]);
    let order = Order { big_endian };
    let field = |at: usize| order.u32(data, at).ok_or("Berkeley DB metadata truncated");
    let version = field(16)?;
    if !(8..=10).contains(&version) {
        return Err(format!(
            "Berkeley DB hash version {version} (8 to 10 are read)"
        ));
    }
    let page_size = usize::try_from(field(20)?).unwrap_or(0);
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("Berkeley DB page size {page_size}"));
    }
    match (data.get(24), data.get(25)) {
        (Some(&0), Some(&PAGE_HASH_METADATA)) => {}
        (Some(&0), _) => return Err("not a Berkeley DB hash database".to_owned()),
        _ => return Err("encrypted Berkeley DB database".to_owned()),
    }
    let pages = data.len() / page_size;
    let max_bucket = field(72)?;
    if usize::try_from(max_bucket)
        .ok()
        .is_none_or(|max| max >= pages)
    {
        return Err(format!(
            "Berkeley DB: {max_bucket} buckets, more than the file's pages"
        ));
    }
    let mut spares = [0u32; 32];
    for (index, spare) in spares.iter_mut().enumerate() {
        *spare = field(96 + 4 * index)?;
    }
    let mut db = Database {
        data,
        order,
        page_size,
        seen: vec![false; pages],
    };
    // The metadata page is no bucket's.
    db.visit(0)?;
    for bucket in 0..=max_bucket {
        let bits = (u32::BITS - bucket.leading_zeros()) as usize;
        let mut number = spares
            .get(bits)
            .and_then(|spare| bucket.checked_add(*spare))
            .ok_or_else(|| format!("Berkeley DB bucket {bucket} has no page"))?;
        loop {
            let page = db.visit(number)?;
            let kind = page[25];
            if kind == PAGE_INVALID {
                break;
            }
            if kind != PAGE_HASH && kind != PAGE_HASH_UNSORTED {
                return Err(format!("Berkeley DB page {number} is not a hash page"));
            }
            if !db.items(number, page, reading)? {
                return Ok(());
            }
            number = order.u32(page, 16).unwrap_or(0);
            if number == 0 {
                break;
            }
        }
    }
    Ok(())
}

impl<'a> Database<'a> {
    /// Page `number`, once: a page linked twice is an error.
    fn visit(&mut self, number: u32) -> Result<&'a [u8], String> {
        let index = usize::try_from(number).unwrap_or(usize::MAX);
        let Some(seen) = self.seen.get_mut(index) else {
            return Err(format!(
                "Berkeley DB page {number} is past the end of the file"
            ));
        };
        if *seen {
            return Err(format!("Berkeley DB page {number} is linked twice"));
        }
        *seen = true;
        let start = index * self.page_size;
        self.data
            .get(start..start + self.page_size)
            .ok_or_else(|| format!("Berkeley DB page {number} is past the end of the file"))
    }

    /// Hands the values of one hash page's key/value pairs to `reading`; `false` when it
    /// wants no more.
    fn items(
        &mut self,
        number: u32,
        page: &'a [u8],
        reading: &mut Reading<'_>,
    ) -> Result<bool, String> {
        let order = self.order;
        let truncated = || format!("Berkeley DB page {number}: item table truncated");
        let count = order.u16(page, 20).ok_or_else(truncated)?;
        let offset = |index: usize| {
            order
                .u16(page, PAGE_HEADER + 2 * index)
                .ok_or_else(truncated)
        };
        let table_end = PAGE_HEADER + 2 * count;
        for key_index in (0..count.saturating_sub(1)).step_by(2) {
            let key_at = offset(key_index)?;
            let value_at = offset(key_index + 1)?;
            // Item 0 reaches the end of the page; every other one the previous item.
            let key_end = if key_index == 0 {
                self.page_size
            } else {
                offset(key_index - 1)?
            };
            if value_at < table_end
                || value_at >= key_at
                || key_at >= key_end
                || key_end > page.len()
            {
                reading.problem(format!(
                    "Berkeley DB page {number}: item {key_index} out of place"
                ));
                continue;
            }
            let key = &page[key_at..key_end];
            let value = &page[value_at..key_at];
            // Key 0 is rpm's record of the next package number.
            if key.first() == Some(&ITEM_IN_PLACE) && key[1..].iter().all(|&b| b == 0) {
                continue;
            }
            let header = match value.first() {
                Some(&ITEM_IN_PLACE) => Ok(Cow::Borrowed(&value[1..])),
                Some(&ITEM_OVERFLOW) if value.len() == 12 => {
                    match (order.u32(value, 4), order.u32(value, 8)) {
                        (Some(first), Some(len)) => self.overflow(first, len).map(Cow::Owned),
                        _ => Err("overflow reference truncated".to_owned()),
                    }
                }
                _ => Err("value is neither in place nor on overflow pages".to_owned()),
            };
            match header {
                Ok(header) => {
                    if !reading.header(&header) {
                        return Ok(false);
                    }
                }
                Err(problem) => reading.problem(format!(
                    "Berkeley DB page {number}, item {key_index}: {problem}"
                )),
            }
        }
        Ok(true)
    }

    /// The `len` bytes stored on the overflow pages from `first`.
    fn overflow(&mut self, first: u32, len: u32) -> Result<Vec<u8>, String> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= MAX_HEADER_BYTES)
            .ok_or_else(|| format!("a value larger than the {MAX_HEADER_BYTES} bytes read"))?;
        let mut value = Vec::with_capacity(len);
        let mut number = first;
        while value.len() < len {
            let page = self.visit(number)?;
            if page[25] != PAGE_OVERFLOW {
                return Err(format!("page {number} is not an overflow page"));
            }
            let used = self.order.u16(page, 22).unwrap_or(0);
            let bytes = page
                .get(PAGE_HEADER..PAGE_HEADER + used)
                .filter(|bytes| !bytes.is_empty() && bytes.len() <= len - value.len())
                .ok_or_else(|| format!("overflow page {number} holds {used} bytes"))?;
            value.extend_from_slice(bytes);
            number = self.order.u32(page, 16).unwrap_or(0);
        }
        Ok(value)
    }
}

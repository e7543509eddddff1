//! Just enough of the SQLite file format (sqlite.org, "Database File Format") to read one
//! table: the schema table on page 1 names the `Packages` table's root page, whose table
//! b-tree is walked (interior pages `0x05`, leaf pages `0x0d`) to every row; a row's
//! record is assembled from its cell and, when it is larger than the page allows, its
//! chain of overflow pages; the record's second column is the header blob (the first,
//! `hnum INTEGER PRIMARY KEY`, is the rowid and stored as NULL).
//!
//! Every page is visited once at most (a page linked twice is an error, so a hostile file
//! cannot loop or make one page cost many reads), pages past the end of the file do not
//! exist, a row larger than a header may be is refused before it is assembled, and rows
//! may add up to no more than the file's size.

use std::borrow::Cow;

use super::{MAX_HEADER_BYTES, Reading, be32};

pub(super) const MAGIC: &[u8] = b"SQLite format 3\0";

/// The rpm header table.
const TABLE: &str = "Packages";
/// The most a row may hold: a header and a few bytes of record header.
const MAX_ROW_BYTES: usize = MAX_HEADER_BYTES + 64;

pub(super) fn read(data: &[u8], reading: &mut Reading<'_>) -> Result<(), String> {
    let mut db = Database::open(data)?;
    let mut root = None;
    db.rows(1, &mut |record| {
        let columns = columns(record)?;
        if let [Value::Text(ty), Value::Text(name), _, Value::Int(page), ..] = columns.as_slice()
            && *ty == b"table"
            && name.eq_ignore_ascii_case(TABLE.as_bytes())
        {
            root = u32::try_from(*page).ok();
            return Ok(false);
        }
        Ok(true)
    })?;
    let root = root.ok_or("no Packages table")?;
    db.rows(root, &mut |record| match columns(record)?.get(1) {
        Some(Value::Blob(blob)) => Ok(reading.header(blob)),
        _ => {
            reading.problem("a Packages row without a header blob".to_owned());
            Ok(true)
        }
    })
}

struct Database<'a> {
    data: &'a [u8],
    page_size: usize,
    /// The page size less the bytes reserved at the end of each page.
    usable: usize,
    pages: usize,
    /// Pages visited, b-tree and overflow pages alike: in a database each page has one
    /// use, so none is read twice.
    seen: Vec<bool>,
    /// Record bytes that may still be read: every record is stored once, so a database
    /// holds no more than its size.
    bytes_left: usize,
}

impl<'a> Database<'a> {
    fn open(data: &'a [u8]) -> Result<Self, String> {
        let header = data.get(..100).ok_or("SQLite header truncated")?;
        let page_size = match u16::from_be_bytes([header[16], header[17]]) {
            1 => 65_536,
            size => usize::from(size),
        };
        if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(format!("SQLite page size {page_size}"));
        }
        let usable = page_size - usize::from(header[20]);
        if usable < 480 {
            return Err(format!("SQLite usable page size {usable}"));
        }
        // 0 until something is written, then 1 (UTF-8), 2 or 3 (UTF-16).
        match be32(header, 56) {
            Some(0 | 1) => {}
            _ => return Err("SQLite text encoding is not UTF-8".to_owned()),
        }
        let pages = data.len() / page_size;
        Ok(Database {
            data,
            page_size,
            usable,
            pages,
            seen: vec![false; pages + 1],
            bytes_left: data.len(),
        })
    }

    /// Page `number` (from 1), whole, unless it was visited before.
    fn visit(&mut self, number: u32) -> Result<&'a [u8], String> {
        let index = usize::try_from(number)
            .ok()
            .filter(|n| (1..=self.pages).contains(n))
            .ok_or_else(|| format!("page {number} is past the end of the file"))?;
        let seen = &mut self.seen[index];
        if *seen {
            return Err(format!("page {number} is linked twice"));
        }
        *seen = true;
        let start = (index - 1) * self.page_size;
        self.data
            .get(start..start + self.page_size)
            .ok_or_else(|| format!("page {number} is past the end of the file"))
    }

    /// Calls `each` with every row's record of the table b-tree rooted at `root`, in rowid
    /// order, until it returns `false`.
    fn rows(
        &mut self,
        root: u32,
        each: &mut dyn FnMut(&[u8]) -> Result<bool, String>,
    ) -> Result<(), String> {
        let mut stack = vec![root];
        while let Some(number) = stack.pop() {
            let page = self.visit(number)?;
            // Page 1 starts with the file header.
            let at = if number == 1 { 100 } else { 0 };
            let (Some(&kind), Some(cells)) = (page.get(at), be16(page, at + 3)) else {
                return Err(format!("page {number}: truncated b-tree header"));
            };
            let cells = usize::from(cells);
            match kind {
                0x0d => {
                    for cell in 0..cells {
                        let offset = cell_offset(page, at + 8, cell)
                            .ok_or_else(|| format!("page {number}: cell {cell} out of the page"))?;
                        let record = self
                            .payload(page, offset)
                            .map_err(|e| format!("page {number}, cell {cell}: {e}"))?;
                        if !each(&record)? {
                            return Ok(());
                        }
                    }
                }
                0x05 => {
                    let right = be32(page, at + 8)
                        .ok_or_else(|| format!("page {number}: truncated b-tree header"))?;
                    // Children are visited left to right: pushed right to left.
                    stack.push(right);
                    for cell in (0..cells).rev() {
                        let child = cell_offset(page, at + 12, cell)
                            .and_then(|offset| be32(page, offset))
                            .ok_or_else(|| format!("page {number}: cell {cell} out of the page"))?;
                        stack.push(child);
                    }
                }
                kind => {
                    return Err(format!(
                        "page {number} is not a table b-tree page (type {kind})"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The record of the table leaf cell at `offset` of `page`: in place when it fits the
    /// page, else assembled from its overflow pages.
    fn payload(&mut self, page: &'a [u8], offset: usize) -> Result<Cow<'a, [u8]>, String> {
        let cell = page.get(offset..).ok_or("cell out of the page")?;
        let (size, size_len) = varint(cell).ok_or("truncated cell")?;
        let (_rowid, rowid_len) = varint(&cell[size_len..]).ok_or("truncated cell")?;
        let size = usize::try_from(size)
            .ok()
            .filter(|&size| size <= MAX_ROW_BYTES)
            .ok_or_else(|| format!("a row of {size} bytes, more than the {MAX_ROW_BYTES} read"))?;
        self.bytes_left = self
            .bytes_left
            .checked_sub(size)
            .ok_or("rows share their bytes")?;
        let start = size_len + rowid_len;
        let usable = self.usable;
        // The most a table leaf cell keeps on its page, and what it keeps when it spills
        // (the file format's X, M and K).
        let max_local = usable - 35;
        if size <= max_local {
            return cell
                .get(start..start + size)
                .map(Cow::Borrowed)
                .ok_or_else(|| "cell runs past the page".to_owned());
        }
        let min_local = (usable - 12) * 32 / 255 - 23;
        let spill = min_local + (size - min_local) % (usable - 4);
        let local = if spill <= max_local { spill } else { min_local };
        let mut record = Vec::with_capacity(size);
        record.extend_from_slice(
            cell.get(start..start + local)
                .ok_or("cell runs past the page")?,
        );
        let mut next = be32(cell, start + local).ok_or("cell runs past the page")?;
        while record.len() < size {
            if next == 0 {
                return Err("overflow chain ends early".to_owned());
            }
            let overflow = self.visit(next)?;
            let take = (usable - 4).min(size - record.len());
            record.extend_from_slice(overflow.get(4..4 + take).ok_or("overflow page truncated")?);
            next = be32(overflow, 0).ok_or("overflow page truncated")?;
        }
        Ok(Cow::Owned(record))
    }
}

/// The offset of cell `cell` of a page whose cell pointer array starts at `array`.
fn cell_offset(page: &[u8], array: usize, cell: usize) -> Option<usize> {
    be16(page, array + 2 * cell).map(usize::from)
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let pair = bytes.get(at..at + 2)?;
    Some(u16::from_be_bytes([pair[0], pair[1]]))
}

/// SQLite's variable-length integer: 1 to 9 bytes, big-endian, 7 bits a byte with the
/// high bit set on all but the last, the ninth byte contributing all 8 bits.
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().take(9).enumerate() {
        if index == 8 {
            return Some(((value << 8) | u64::from(byte), 9));
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((value, index + 1));
        }
    }
    None
}

/// A record's column, as far as the reader needs it.
#[derive(Debug, PartialEq)]
enum Value<'a> {
    Null,
    Int(i64),
    /// Floats are not needed; their bytes are skipped.
    Float,
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

/// The columns of a record: a header (its own size, then one serial type per column),
/// then each column's bytes.
fn columns(record: &[u8]) -> Result<Vec<Value<'_>>, String> {
    let (header_size, mut at) = varint(record).ok_or("truncated record")?;
    let header_size = usize::try_from(header_size)
        .ok()
        .filter(|&size| size <= record.len())
        .ok_or("record header past the record")?;
    let mut body = header_size;
    let mut values = Vec::new();
    while at < header_size {
        let (serial, len) = varint(&record[at..header_size]).ok_or("truncated record header")?;
        at += len;
        let size = match serial {
            0 | 8 | 9 => 0,
            1..=4 => serial as usize,
            5 => 6,
            6 | 7 => 8,
            10 | 11 => return Err(format!("reserved serial type {serial}")),
            n => usize::try_from((n - 12) / 2).map_err(|_| "column too large".to_owned())?,
        };
        let bytes = body
            .checked_add(size)
            .and_then(|end| record.get(body..end))
            .ok_or("column past the record")?;
        body += size;
        values.push(match serial {
            0 => Value::Null,
            8 => Value::Int(0),
            9 => Value::Int(1),
            1..=6 => Value::Int(signed(bytes)),
            7 => Value::Float,
            n if n.is_multiple_of(2) => Value::Blob(bytes),
            _ => Value::Text(bytes),
        });
    }
    Ok(values)
}

/// A big-endian two's-complement integer of 1 to 8 bytes.
fn signed(bytes: &[u8]) -> i64 {
    let negative = bytes.first().is_some_and(|&b| b & 0x80 != 0);
    let mut value: u64 = if negative { u64::MAX } else { 0 };
    for &byte in bytes {
        value = (value << 8) | u64::from(byte);
    }
    i64::from_ne_bytes(value.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_integers_read_as_sqlite_writes_them() {
        assert_eq!(varint(&[0x05]), Some((5, 1)));
        assert_eq!(varint(&[0x81, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9]), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x81]), None);
        assert_eq!(signed(&[0xff]), -1);
        assert_eq!(signed(&[0x01, 0x00]), 256);
        assert_eq!(signed(&[0x80, 0, 0, 0, 0, 0, 0, 0]), i64::MIN);
    }
}

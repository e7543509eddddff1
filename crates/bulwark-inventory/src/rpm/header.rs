//! One rpm header as the database stores it (rpm's `headerExport` without the leading
//! magic): `il` and `dl` (big-endian `u32`s: index entries, data bytes), `il` entries of
//! 16 bytes (tag, type, offset into the data, count; big-endian), then `dl` bytes of data.
//! An installed package's header starts with a region entry (`HEADERIMMUTABLE`, tag 63,
//! type BIN, 16 bytes at its offset: the region's trailer) covering the tags the package
//! was built with; tags rpm added at install time follow it and win over the region's,
//! so the last entry of a tag is the one read.

use super::{MAX_HEADER_BYTES, MAX_INDEX_ENTRIES, be32};

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
/// The region tags: `HEADERIMAGE`, `HEADERSIGNATURES`, `HEADERIMMUTABLE`.
const REGION_TAGS: std::ops::RangeInclusive<u32> = 61..=63;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_BIN: u32 = 7;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// What is read of one installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Package {
    pub(super) name: String,
    pub(super) epoch: Option<u32>,
    pub(super) version: String,
    pub(super) release: String,
    pub(super) arch: Option<String>,
    pub(super) source_rpm: Option<String>,
}

/// One index entry.
#[derive(Clone, Copy)]
struct Entry {
    ty: u32,
    offset: usize,
    count: u32,
}

impl Package {
    pub(super) fn parse(blob: &[u8]) -> Result<Package, String> {
        if blob.len() > MAX_HEADER_BYTES {
            return Err(format!(
                "{} bytes, more than the {MAX_HEADER_BYTES} read",
                blob.len()
            ));
        }
        let (Some(il), Some(dl)) = (be32(blob, 0), be32(blob, 4)) else {
            return Err("shorter than its 8-byte preamble".to_owned());
        };
        let (il, dl) = (il as usize, dl as usize);
        if il == 0 || il > MAX_INDEX_ENTRIES {
            return Err(format!(
                "{il} index entries (1 to {MAX_INDEX_ENTRIES} are read)"
            ));
        }
        // il ≤ MAX_INDEX_ENTRIES and dl ≤ u32::MAX: no overflow on 64-bit, and checked
        // anyway.
        let data_start = il
            .checked_mul(16)
            .and_then(|entries| entries.checked_add(8))
            .ok_or("index too large")?;
        let data_end = data_start.checked_add(dl).ok_or("data too large")?;
        let data = blob.get(data_start..data_end).ok_or_else(|| {
            format!(
                "{il} entries and {dl} data bytes need {data_end} bytes, the header has {}",
                blob.len()
            )
        })?;

        let mut wanted: [Option<Entry>; 6] = [None; 6];
        for index in 0..il {
            let at = 8 + index * 16;
            let (Some(tag), Some(ty), Some(offset), Some(count)) = (
                be32(blob, at),
                be32(blob, at + 4),
                be32(blob, at + 8),
                be32(blob, at + 12),
            ) else {
                return Err("index entry past the end".to_owned());
            };
            // Offsets are signed in rpm: negative ones appear only in a region's trailer,
            // which lies in the data, never in the index.
            let Ok(offset) = usize::try_from(i32::from_be_bytes(offset.to_be_bytes())) else {
                return Err(format!("tag {tag}: negative data offset"));
            };
            if index == 0 && REGION_TAGS.contains(&tag) {
                // The region's trailer: one more 16-byte entry in the data.
                if ty != TYPE_BIN
                    || count != 16
                    || offset.checked_add(16).is_none_or(|end| end > dl)
                {
                    return Err(format!("malformed region (tag {tag})"));
                }
                continue;
            }
            let slot = match tag {
                TAG_NAME => 0,
                TAG_VERSION => 1,
                TAG_RELEASE => 2,
                TAG_EPOCH => 3,
                TAG_ARCH => 4,
                TAG_SOURCERPM => 5,
                _ => continue,
            };
            wanted[slot] = Some(Entry { ty, offset, count });
        }
        let [name, version, release, epoch, arch, source_rpm] = wanted;
        let required = |entry: Option<Entry>, what: &str| -> Result<String, String> {
            let entry = entry.ok_or_else(|| format!("no {what}"))?;
            string(data, entry).ok_or_else(|| format!("{what} is not a string"))
        };
        let name = required(name, "NAME")?;
        let version = required(version, "VERSION")?;
        let release = required(release, "RELEASE")?;
        let epoch = match epoch {
            Some(entry) => Some(int32(data, entry).ok_or("EPOCH is not a 32-bit integer")?),
            None => None,
        };
        let optional = |entry: Option<Entry>, what: &str| -> Result<Option<String>, String> {
            entry
                .map(|entry| string(data, entry).ok_or_else(|| format!("{what} is not a string")))
                .transpose()
        };
        Ok(Package {
            name,
            epoch,
            version,
            release,
            arch: optional(arch, "ARCH")?,
            source_rpm: optional(source_rpm, "SOURCERPM")?,
        })
    }
}

/// A string entry's (first) string: NUL-terminated at its offset.
fn string(data: &[u8], entry: Entry) -> Option<String> {
    if !matches!(entry.ty, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) || entry.count == 0 {
        return None;
    }
    let rest = data.get(entry.offset..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// An `INT32` entry's first value.
fn int32(data: &[u8], entry: Entry) -> Option<u32> {
    if entry.ty != TYPE_INT32 || entry.count == 0 {
        return None;
    }
    be32(data, entry.offset)
}

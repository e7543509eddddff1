//! Upload files on the local filesystem, written past the page cache.
//!
//! A push must hash every byte and store it. Written through the page cache, every byte is
//! also copied into a newly allocated cache page, and on virtual machines that first touch
//! is slow and erratic: 0.4 to 5 GB/s for the same 1 GiB on the machines this was measured
//! on, mostly slower than hashing. It also evicts the cached blobs that pulls are served from.
//! Direct I/O moves the bytes from our buffer to the device without that copy, at a steady
//! 1.8 to 3 GB/s there. Filesystems that refuse `O_DIRECT` (tmpfs, for one) and other
//! systems than Linux get ordinary buffered writes through the same code.
//!
//! Direct I/O needs buffers, lengths and file offsets aligned to the device's block size;
//! [`ALIGN`] covers the block sizes of common devices; a device that demands more has its
//! uploads written through the page cache instead. The upload pipeline hands over whole
//! aligned buffers, written as they are; anything else (an unaligned piece, the short end of
//! a chunk, the start of a chunk that begins inside a block) goes through a small staging
//! buffer. Only the last write of a chunk may be short: it is padded, and the file is then
//! cut to its real length.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

pub(crate) const ALIGN: usize = 4096;

/// A fixed-capacity byte buffer whose contents start on an [`ALIGN`] boundary.
pub(crate) struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
    capacity: usize,
}

impl AlignedBuf {
    pub(crate) fn new(capacity: usize) -> Self {
        let storage = vec![0u8; capacity + ALIGN];
        // `align_offset` may decline to compute an offset (usize::MAX); the buffer then is
        // simply unaligned, and a part fed from it copies its bytes into aligned staging.
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        AlignedBuf {
            storage,
            start,
            len: 0,
            capacity,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The filled bytes, to change in place.
    pub(crate) fn filled_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }

    /// Keeps the filled bytes from `from` on, moved to the start.
    pub(crate) fn keep_from(&mut self, from: usize) {
        let from = from.min(self.len);
        self.storage
            .copy_within(self.start + from..self.start + self.len, self.start);
        self.len -= from;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes that still fit.
    pub(crate) fn room(&self) -> usize {
        self.capacity - self.len
    }

    pub(crate) fn filled(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    /// Appends `bytes`; the callers size their batches so that they always fit.
    pub(crate) fn extend(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.len + bytes.len() > self.capacity {
            return Err(io::Error::other("staging buffer overflow"));
        }
        let at = self.start + self.len;
        self.storage[at..at + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Pads with zeros up to the next multiple of [`ALIGN`] (capacity permitting).
    fn pad_to_alignment(&mut self) -> io::Result<()> {
        let padded = self.len.next_multiple_of(ALIGN);
        let zeros = [0u8; ALIGN];
        self.extend(&zeros[..padded - self.len])
    }
}

/// Bytes a part stages before writing them: pieces that cannot be written from the caller's
/// memory directly (unaligned, or the short end of the part). Sixteen blocks.
const STAGING: usize = 16 * ALIGN;

/// An upload's file being written from some offset on. Whole blocks in aligned memory are
/// written straight from the caller's buffer; other bytes are gathered in a small buffer of
/// the file's own, so that every direct write but the last is of whole blocks at a
/// block-aligned offset.
pub(crate) struct PartFile {
    file: File,
    /// Made on first use; most parts, fed whole aligned batches, only stage their end.
    staging: Option<AlignedBuf>,
    direct: bool,
    written: u64,
    /// A share of the session's lock, held while this part can still write.
    _lock: Option<std::sync::Arc<File>>,
}

impl PartFile {
    /// Opens the file at `path` (made, with its folder, if missing) to write from `offset`
    /// on: the bytes before `offset` stay, those after it are replaced, or cut off by
    /// [`PartFile::finish`]. An offset inside a block starts by staging that block's bytes
    /// before it, so that direct writes stay whole blocks at aligned offsets. Blocking.
    pub(crate) fn open_at(path: &Path, offset: u64, direct_io: bool) -> io::Result<Self> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let head = offset % ALIGN as u64;
        let block_start = offset - head;
        let staging = if head == 0 {
            None
        } else {
            // Read before direct I/O is on: this read is neither whole blocks nor aligned.
            let mut block = [0u8; ALIGN];
            let head = &mut block[..usize::try_from(head).unwrap_or(ALIGN)];
            file.read_exact_at(head, block_start)?;
            let mut staging = AlignedBuf::new(STAGING);
            staging.extend(head)?;
            Some(staging)
        };
        // Direct I/O is switched on after the file exists: some filesystems (tmpfs before
        // Linux 6.6) create the file and only then refuse `O_DIRECT` at open.
        let direct = direct_io && set_direct(&file, true)?;
        Ok(PartFile {
            file,
            staging,
            direct,
            written: block_start,
            _lock: None,
        })
    }

    /// Keeps `lock` (a share of the session's lock) for as long as this part lives.
    pub(crate) fn holding(mut self, lock: Option<std::sync::Arc<File>>) -> Self {
        self._lock = lock;
        self
    }

    /// Appends `bytes`. Blocking.
    pub(crate) fn append(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        if self.staging.as_ref().is_none_or(AlignedBuf::is_empty) {
            let straight = if !self.direct {
                bytes.len()
            } else if bytes.as_ptr().align_offset(ALIGN) == 0 {
                bytes.len() - bytes.len() % ALIGN
            } else {
                0
            };
            if straight > 0 {
                self.write(&bytes[..straight])?;
                bytes = &bytes[straight..];
            }
        }
        while !bytes.is_empty() {
            let staging = self.staging.get_or_insert_with(|| AlignedBuf::new(STAGING));
            let (now, later) = bytes.split_at(staging.room().min(bytes.len()));
            staging.extend(now)?;
            bytes = later;
            if staging.room() == 0 {
                self.write_staging()?;
            }
        }
        Ok(())
    }

    fn write_staging(&mut self) -> io::Result<()> {
        if let Some(mut staging) = self.staging.take() {
            let written = self.write(staging.filled());
            staging.clear();
            self.staging = Some(staging);
            written?;
        }
        Ok(())
    }

    /// Writes at the end of what is written by position, so that a write retried after a
    /// partial one rewrites the same bytes in the same place.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        #[cfg(feature = "failpoints")]
        fail::fail_point!("blobstore::part::write");
        match self.file.write_all_at(bytes, self.written) {
            // A filesystem that took `O_DIRECT` but refuses a write (alignment rules stricter
            // than ours, such as a device with 16 KiB blocks refusing the padded end): the
            // file goes on through the page cache from where it is.
            Err(e) if self.direct && is_invalid_argument(&e) => {
                set_direct(&self.file, false)?;
                self.direct = false;
                self.file.write_all_at(bytes, self.written)?;
            }
            result => result?,
        }
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes what is staged, cuts the file at the end of what was written (a padded last
    /// block, or what a failed earlier attempt left beyond it) and returns its length.
    /// Blocking.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        let staged = self.staging.as_ref().map_or(0, AlignedBuf::len);
        let real_len = self.written + staged as u64;
        if let Some(staging) = self.staging.as_mut()
            && self.direct
        {
            // Direct I/O writes whole blocks.
            staging.pad_to_alignment()?;
        }
        if staged > 0 {
            self.write_staging()?;
        }
        self.file.set_len(real_len)?;
        // The blob's metadata (SQLite with synchronous = FULL, or PostgreSQL) is durable once
        // committed; the bytes it points to must be durable first.
        self.file.sync_data()?;
        Ok(real_len)
    }
}

/// Turns direct I/O on or off for `file`; `false` when the filesystem has none.
#[cfg(target_os = "linux")]
fn set_direct(file: &File, on: bool) -> io::Result<bool> {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    let flags = fcntl_getfl(file)?;
    let flags = if on {
        flags | OFlags::DIRECT
    } else {
        flags - OFlags::DIRECT
    };
    match fcntl_setfl(file, flags) {
        Ok(()) => Ok(on),
        Err(rustix::io::Errno::INVAL) if on => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_file: &File, _on: bool) -> io::Result<bool> {
    Ok(false)
}

fn is_invalid_argument(error: &io::Error) -> bool {
    error.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_and_bounded() {
        let mut buf = AlignedBuf::new(2 * ALIGN);
        assert_eq!(buf.filled().as_ptr().align_offset(ALIGN), 0);
        buf.extend(&[1; ALIGN]).unwrap();
        buf.extend(&[2; ALIGN]).unwrap();
        assert!(buf.extend(&[3]).is_err());
        assert_eq!(buf.len(), 2 * ALIGN);
    }

    /// Every split of a stream into appends yields the same file, direct or not.
    #[test]
    fn parts_keep_exact_length_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let content: Vec<u8> = (0..(STAGING + 3 * ALIGN) as u32 + 123)
            .map(|i| (i * 7) as u8)
            .collect();
        // Fed from aligned memory, as the pipeline does, so that pieces of whole blocks are
        // written straight and the others staged.
        let mut aligned = AlignedBuf::new(content.len().next_multiple_of(ALIGN));
        aligned.extend(&content).unwrap();
        for direct in [true, false] {
            for piece in [
                1,
                100,
                ALIGN - 1,
                ALIGN,
                ALIGN + 1,
                2 * ALIGN,
                2 * ALIGN + 5,
                STAGING + 1,
            ] {
                let path = dir.path().join(format!("d{direct}-p{piece}"));
                let mut part = PartFile::open_at(&path, 0, direct).unwrap();
                for chunk in aligned.filled().chunks(piece) {
                    part.append(chunk).unwrap();
                }
                assert_eq!(part.finish().unwrap(), content.len() as u64);
                assert_eq!(std::fs::read(&path).unwrap(), content, "{direct} {piece}");
            }
        }
    }

    /// Direct I/O can be switched off again on an open part (the fallback when a filesystem
    /// refuses a direct write); writes of any length then work.
    #[cfg(target_os = "linux")]
    #[test]
    fn direct_io_switches_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        let mut part = PartFile::open_at(&path, 0, true).unwrap();
        assert!(set_direct(&part.file, true).unwrap());
        assert!(!set_direct(&part.file, false).unwrap());
        part.direct = false;
        part.append(b"short").unwrap();
        assert_eq!(part.finish().unwrap(), 5);
        assert_eq!(std::fs::read(&path).unwrap(), b"short");
    }

    /// A chunk written from any offset, aligned or not, keeps the bytes before it and
    /// replaces whatever a failed attempt left after it.
    #[test]
    fn chunks_go_on_from_their_offset() {
        let dir = tempfile::tempdir().unwrap();
        let content: Vec<u8> = (0..3 * ALIGN as u32 + 77).map(|i| (i * 13) as u8).collect();
        let mut aligned = AlignedBuf::new(content.len().next_multiple_of(ALIGN));
        aligned.extend(&content).unwrap();
        for direct in [true, false] {
            for offset in [0, 1, ALIGN - 1, ALIGN, ALIGN + 5, 2 * ALIGN, content.len()] {
                let path = dir.path().join(format!("d{direct}-o{offset}"));
                let mut first = PartFile::open_at(&path, 0, direct).unwrap();
                first.append(&aligned.filled()[..offset]).unwrap();
                assert_eq!(first.finish().unwrap(), offset as u64);
                // A failed attempt leaves junk past the offset.
                let mut failed = PartFile::open_at(&path, offset as u64, direct).unwrap();
                failed.append(&vec![0xEE; STAGING + 2 * ALIGN + 3]).unwrap();
                drop(failed);
                let mut second = PartFile::open_at(&path, offset as u64, direct).unwrap();
                for piece in aligned.filled()[offset..].chunks(ALIGN + 3) {
                    second.append(piece).unwrap();
                }
                assert_eq!(second.finish().unwrap(), content.len() as u64);
                assert_eq!(std::fs::read(&path).unwrap(), content, "{direct} {offset}");
            }
        }
    }
}

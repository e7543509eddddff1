//! Go binaries: the build info the Go linker embeds (what `go version -m` prints), the
//! release of Go that built the binary and the modules compiled into it.
//!
//! The build info sits in the section `.go.buildinfo` (ELF) or `__go_buildinfo` (Mach-O);
//! without one (PE, or an ELF whose section headers were stripped) it is the first
//! 16-byte-aligned occurrence of its magic that reads as build info, as Go's own
//! `debug/buildinfo` looks in the data. It is a 32-byte header, the magic
//! `\xff Go buildinf:`, the pointer size and flags, then:
//!
//! - with flag `0x2` (Go 1.18 and later), two strings in place, each prefixed by its
//!   length as an unsigned varint: the Go version, then the module info;
//! - before Go 1.18, at offset 16, two pointers (of the pointer size, big-endian with
//!   flag `0x1`) to Go string headers (data pointer, length), read through the binary's
//!   segments.
//!
//! The module info is framed by 16-byte sentinels (dropped) and has one line per entry:
//! `path` (the main package), `mod` (the main module), `dep` (a dependency) with module
//! path, version and checksum, `=>` (the preceding module's replacement: its path and
//! version are what was compiled) and `build` settings (ignored).
//!
//! Components (kind [`Kind::Go`]): the Go standard library as `stdlib`, at the Go release
//! in SemVer (`go1.21.3` is `1.21.3`, `go1.22rc1` is `1.22.0-rc.1`), which is how OSV's Go
//! advisories name it (`GO-2022-0493`: `stdlib`, fixed `1.18.2`); the main module unless
//! its version is `(devel)` (built from a work tree); every dependency after its
//! replacement, except those replaced by a local directory (version `(devel)`). Versions
//! are kept as Go writes them (`v1.9.1`); [`osv_package`] drops the `v`, as OSV's Go
//! records write their ranges (`GO-2020-0001`: fixed `1.6.0`).

use object::{Object, ObjectSection, ObjectSegment};

use crate::{Collector, Component, Kind};

const MAGIC: &[u8] = b"\xff Go buildinf:";
const HEADER_SIZE: usize = 32;
const FLAG_BIG_ENDIAN: u8 = 0x1;
const FLAG_INLINE: u8 = 0x2;
/// The longest version or module info string read: real ones are kilobytes.
const MAX_STRING_BYTES: usize = 16 << 20;
/// Occurrences of the magic tried when there is no build info section.
const MAX_CANDIDATES: usize = 16;

/// The build info of one binary.
#[derive(Debug, PartialEq, Eq)]
struct BuildInfo {
    /// `go1.21.3`, `devel go1.23-…`, as the binary says.
    go: String,
    /// Module path and version of the main module and each dependency, replacements
    /// applied, in the order listed.
    modules: Vec<(String, String)>,
}

pub(crate) fn extract(
    path: &str,
    content: &[u8],
    file: Option<&object::File<'_>>,
    out: &mut Vec<Component>,
) -> Result<(), String> {
    if let Some(section) = file.and_then(section) {
        let info = read(section, file)?;
        push(path, &info, out);
        return Ok(());
    }
    // Without a section, the magic may also be there by chance (a program that reads Go
    // binaries holds it as a constant): what does not read as build info is passed over
    // in silence.
    for at in memchr::memmem::find_iter(content, MAGIC)
        .filter(|at| at.is_multiple_of(16))
        .take(MAX_CANDIDATES)
    {
        if let Ok(info) = read(&content[at..], file) {
            push(path, &info, out);
            break;
        }
    }
    Ok(())
}

/// The build info section's bytes, when the binary has one starting with the magic.
fn section<'a>(file: &object::File<'a>) -> Option<&'a [u8]> {
    [".go.buildinfo", "__go_buildinfo"].iter().find_map(|name| {
        let data = file.section_by_name(name)?.data().ok()?;
        data.starts_with(MAGIC).then_some(data)
    })
}

/// Reads the build info starting at `blob` (its magic).
fn read(blob: &[u8], file: Option<&object::File<'_>>) -> Result<BuildInfo, String> {
    let header = blob
        .get(..HEADER_SIZE)
        .filter(|header| header.starts_with(MAGIC))
        .ok_or("Go build info truncated")?;
    let pointer_size = usize::from(header[14]);
    let flags = header[15];
    let (version, modinfo) = if flags & FLAG_INLINE != 0 {
        let (version, rest) = prefixed(&blob[HEADER_SIZE..])?;
        let (modinfo, _) = prefixed(rest)?;
        (version, modinfo)
    } else {
        if pointer_size != 4 && pointer_size != 8 {
            return Err(format!("Go build info with pointer size {pointer_size}"));
        }
        let file =
            file.ok_or("build info of Go before 1.18 in a binary whose headers do not parse")?;
        let layout = Layout {
            pointer_size,
            big_endian: flags & FLAG_BIG_ENDIAN != 0,
        };
        let version = layout
            .pointer(&header[16..])
            .ok_or("Go build info truncated")?;
        let modinfo = layout
            .pointer(&header[16 + pointer_size..])
            .ok_or("Go build info truncated")?;
        (layout.string(file, version)?, layout.string(file, modinfo)?)
    };
    let go = std::str::from_utf8(version)
        .ok()
        .filter(|go| go.starts_with("go") || go.starts_with("devel"))
        .ok_or("Go build info without a Go version")?;
    Ok(BuildInfo {
        go: go.to_owned(),
        modules: modules(&String::from_utf8_lossy(unframe(modinfo))),
    })
}

/// A string prefixed by its length (an unsigned varint), and what follows it.
fn prefixed(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (len, used) = uvarint(bytes).ok_or("Go build info truncated")?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len <= MAX_STRING_BYTES)
        .ok_or("Go build info string too long")?;
    let rest = &bytes[used..];
    let string = rest.get(..len).ok_or("Go build info truncated")?;
    Ok((string, &rest[len..]))
}

/// Go's `binary.Uvarint`: 7 bits a byte, least significant first, at most 10 bytes.
fn uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().take(10).enumerate() {
        let bits = u64::from(byte & 0x7f);
        if index == 9 && byte > 1 {
            return None;
        }
        value |= bits << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, index + 1));
        }
    }
    None
}

/// The module info without its 16-byte sentinels; empty when they are not there (as Go
/// reads it).
fn unframe(modinfo: &[u8]) -> &[u8] {
    let len = modinfo.len();
    if len >= 33 && modinfo[len - 17] == b'\n' {
        &modinfo[16..len - 16]
    } else {
        &[]
    }
}

/// The modules of the module info: `mod` and `dep` lines, each replaced by the `=>` line
/// that follows it.
fn modules(text: &str) -> Vec<(String, String)> {
    let mut modules: Vec<(String, String)> = Vec::new();
    let mut replaceable = false;
    for line in text.lines() {
        let mut fields = line.split('\t');
        let kind = fields.next();
        let module = fields.next().unwrap_or_default().to_owned();
        let version = fields.next().unwrap_or_default().to_owned();
        match kind {
            Some("mod" | "dep") => {
                modules.push((module, version));
                replaceable = true;
            }
            Some("=>") => {
                if replaceable && let Some(last) = modules.last_mut() {
                    *last = (module, version);
                }
                replaceable = false;
            }
            _ => replaceable = false,
        }
    }
    modules
}

fn push(path: &str, info: &BuildInfo, out: &mut Vec<Component>) {
    let mut collector = Collector::new(Kind::Go, path, out);
    if let Some(version) = stdlib_version(&info.go) {
        collector.push("stdlib", &version);
    }
    for (module, version) in &info.modules {
        if version != "(devel)" {
            collector.push(module, version);
        }
    }
}

/// The Go release in SemVer, as OSV names the standard library's versions: `go1.21.3` is
/// `1.21.3`, `go1.21` `1.21.0`, `go1.22rc1` `1.22.0-rc.1`, `go1.18beta2` `1.18.0-beta.2`.
/// What follows the release (` X:boringcrypto`, a vendor's `-fips`) is left out; a
/// development build (`devel …`) has no release.
fn stdlib_version(go: &str) -> Option<String> {
    let release = go.split_whitespace().next()?.strip_prefix("go")?;
    let numbers_end = release
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(release.len());
    let (numbers, rest) = release.split_at(numbers_end);
    let mut parts: Vec<&str> = numbers.split('.').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|part| part.is_empty()) {
        return None;
    }
    if parts.len() == 2 {
        parts.push("0");
    }
    let mut version = parts.join(".");
    for label in ["rc", "beta"] {
        if let Some(number) = rest.strip_prefix(label) {
            let digits: String = number.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() {
                version = format!("{version}-{label}.{digits}");
            }
            break;
        }
    }
    Some(version)
}

/// The OSV package of a Go component: ecosystem `Go`, the module path (`stdlib` for the
/// standard library), the version without Go's `v`.
pub(crate) fn osv_package(component: &Component) -> (String, String, String) {
    let version = component
        .version
        .strip_prefix('v')
        .unwrap_or(&component.version);
    ("Go".to_owned(), component.name.clone(), version.to_owned())
}

/// How a binary before Go 1.18 lays out pointers.
#[derive(Clone, Copy)]
struct Layout {
    pointer_size: usize,
    big_endian: bool,
}

impl Layout {
    fn pointer(self, bytes: &[u8]) -> Option<u64> {
        let bytes = bytes.get(..self.pointer_size)?;
        Some(match (self.pointer_size, self.big_endian) {
            (4, false) => u64::from(u32::from_le_bytes(bytes.try_into().ok()?)),
            (4, true) => u64::from(u32::from_be_bytes(bytes.try_into().ok()?)),
            (_, false) => u64::from_le_bytes(bytes.try_into().ok()?),
            (_, true) => u64::from_be_bytes(bytes.try_into().ok()?),
        })
    }

    /// The Go string whose header (data pointer, length) is at `address`.
    fn string<'a>(self, file: &object::File<'a>, address: u64) -> Result<&'a [u8], String> {
        let outside = || "Go build info points outside the binary".to_owned();
        let size = self.pointer_size as u64;
        let header = data_at(file, address, 2 * size).ok_or_else(outside)?;
        let (Some(data), Some(len)) = (
            self.pointer(header),
            self.pointer(&header[self.pointer_size..]),
        ) else {
            return Err(outside());
        };
        if len > MAX_STRING_BYTES as u64 {
            return Err("Go build info string too long".to_owned());
        }
        if len == 0 {
            return Ok(&[]);
        }
        data_at(file, data, len).ok_or_else(outside)
    }
}

/// `size` bytes of the file at the virtual address `address`.
fn data_at<'a>(file: &object::File<'a>, address: u64, size: u64) -> Option<&'a [u8]> {
    file.segments()
        .find_map(|segment| segment.data_range(address, size).ok().flatten())
        .or_else(|| {
            file.sections()
                .find_map(|section| section.data_range(address, size).ok().flatten())
        })
}

#[cfg(test)]
pub(crate) mod tests;

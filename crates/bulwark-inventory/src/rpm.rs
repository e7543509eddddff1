//! RPM packages: rpm's database of installed packages, in `var/lib/rpm/` or (SUSE, newer
//! Fedora) `usr/lib/sysimage/rpm/`. Three formats hold the same thing, one header blob per
//! installed package, and the file's first bytes say which it is:
//!
//! - `rpmdb.sqlite` (rpm ≥ 4.16: Fedora 33+, RHEL 9 and its rebuilds): an SQLite
//!   database whose table `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)` holds the
//!   headers. The file format is read here ([`sqlite`]), not through the SQLite library:
//!   the bytes are hostile, and the only SQLite a safe binding in this workspace could
//!   load from memory needs `unsafe`. Only the main file is read: transactions still in a
//!   `-wal` file are not (rpm checkpoints when it closes the database, so an image built
//!   by `dnf` has an empty one).
//! - `Packages.db` (rpm's own NDB format: openSUSE, SLE 15 SP3+): slots naming blobs
//!   ([`ndb`]).
//! - `Packages` (Berkeley DB hash database: RHEL 7 and 8 and their rebuilds, Amazon
//!   Linux 2, older SUSE): hash pages whose values are the headers, in place or on
//!   overflow pages ([`bdb`]), read without Berkeley DB.
//!
//! A header ([`header`]) is rpm's tag store: a count of index entries and of data bytes,
//! the entries (tag, type, offset, count, big-endian), then the data. Read from it: `NAME`,
//! `EPOCH`, `VERSION`, `RELEASE`, `ARCH` and `SOURCERPM`. The `gpg-pubkey` pseudo-packages
//! (imported signing keys) are not packages and are skipped.
//!
//! A component's version is `[epoch:]version-release`, the epoch written only when it is
//! not 0, as AlmaLinux's advisories write their fixed versions (`1:3.5.1-4.el10_1.alma.1`,
//! `0.0.25-6.el8`); an absent and a zero epoch order alike. Its source is the source
//! package named by `SOURCERPM` (`openssl-3.0.7-27.el9.src.rpm`), at that package's version
//! and release with the binary's epoch (a source package and its binaries share one).
//!
//! Hostile databases are bounded: at most [`MAX_PACKAGES`] headers are read, a header
//! may be at most [`MAX_HEADER_BYTES`] with at most [`MAX_INDEX_ENTRIES`] entries, and
//! every page, slot, offset and length is checked against the file before it is read.

mod bdb;
mod header;
mod ndb;
mod sqlite;

use bulwark_package::Purl;

use crate::{Component, Kind, OsRelease};

/// Headers read from one database.
const MAX_PACKAGES: usize = 100_000;
/// The size of one header blob.
const MAX_HEADER_BYTES: usize = 64 << 20;
/// Index entries of one header.
const MAX_INDEX_ENTRIES: usize = 100_000;
/// Problems listed for one database; more are counted.
const MAX_PROBLEMS: usize = 20;

pub(crate) fn wants(path: &str) -> bool {
    let Some(file) = path
        .strip_prefix("var/lib/rpm/")
        .or_else(|| path.strip_prefix("usr/lib/sysimage/rpm/"))
    else {
        return false;
    };
    matches!(file, "rpmdb.sqlite" | "Packages.db" | "Packages")
}

pub(crate) fn extract(path: &str, content: &[u8], out: &mut Vec<Component>) -> Result<(), String> {
    let mut reading = Reading {
        path,
        out,
        problems: Vec::new(),
        more_problems: 0,
        headers: 0,
        bytes_left: content.len(),
    };
    let result = if content.starts_with(sqlite::MAGIC) {
        sqlite::read(content, &mut reading)
    } else if content.starts_with(ndb::MAGIC) {
        ndb::read(content, &mut reading)
    } else if bdb::is_hash_database(content) {
        bdb::read(content, &mut reading)
    } else {
        Err("not an rpm database (SQLite, NDB or Berkeley DB hash)".to_owned())
    };
    let mut problems = reading.problems;
    if let Err(problem) = result {
        problems.insert(0, problem);
    }
    if reading.more_problems > 0 {
        problems.push(format!("{} more problems", reading.more_problems));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(problems.join("; "))
}

/// One database's reading: the packages found and what could not be read. The format
/// readers hand it each header blob they find.
struct Reading<'a> {
    path: &'a str,
    out: &'a mut Vec<Component>,
    problems: Vec<String>,
    /// Problems past the first [`MAX_PROBLEMS`], counted only.
    more_problems: usize,
    headers: usize,
    /// Header bytes that may still be read. Every header is stored once, so a database
    /// holds no more header bytes than its own size: a file whose records share their
    /// bytes (a hostile one, to make a small file cost much reading) stops there.
    bytes_left: usize,
}

impl Reading<'_> {
    /// Reads one header blob; `false` once [`MAX_PACKAGES`] were read or the file's
    /// bytes are spent, when the format reader stops.
    fn header(&mut self, blob: &[u8]) -> bool {
        if self.headers == MAX_PACKAGES {
            self.problem(format!(
                "more than {MAX_PACKAGES} packages, only the first {MAX_PACKAGES} read"
            ));
            return false;
        }
        let Some(left) = self.bytes_left.checked_sub(blob.len()) else {
            self.problem("package headers share their bytes; the rest not read".to_owned());
            return false;
        };
        self.bytes_left = left;
        self.headers += 1;
        match header::Package::parse(blob) {
            Ok(package) if package.name == "gpg-pubkey" => {}
            Ok(package) => self.out.push(package.component(self.path)),
            Err(problem) => self.problem(format!("a package header: {problem}")),
        }
        true
    }

    fn problem(&mut self, problem: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        } else {
            self.more_problems += 1;
        }
    }
}

impl header::Package {
    fn component(self, path: &str) -> Component {
        let version = evr(self.epoch, &self.version, &self.release);
        let source = self
            .source_rpm
            .as_deref()
            .and_then(source_package)
            .map(|(name, version, release)| (name.to_owned(), evr(self.epoch, version, release)))
            .unwrap_or_else(|| (self.name.clone(), version.clone()));
        Component {
            kind: Kind::Rpm,
            name: self.name,
            version,
            source: Some(source),
            path: path.to_owned(),
            arch: self.arch,
        }
    }
}

/// `[epoch:]version-release`, the epoch only when it is not 0.
fn evr(epoch: Option<u32>, version: &str, release: &str) -> String {
    match epoch {
        Some(epoch) if epoch != 0 => format!("{epoch}:{version}-{release}"),
        _ => format!("{version}-{release}"),
    }
}

/// The name, version and release of a source RPM file name:
/// `openssl-3.0.7-27.el9.src.rpm` is (`openssl`, `3.0.7`, `27.el9`). Names may hold `-`,
/// versions and releases may not, so both are cut from the right.
fn source_package(file: &str) -> Option<(&str, &str, &str)> {
    let stem = file
        .strip_suffix(".src.rpm")
        .or_else(|| file.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    (!name.is_empty() && !version.is_empty() && !release.is_empty())
        .then_some((name, version, release))
}

/// The OSV package of an RPM component on the distribution `os`, per what each
/// distribution's advisories name (checked against their records):
/// - AlmaLinux lists every binary package of an update (ALSA-2025:21248 names `openssl`,
///   `openssl-devel`, `openssl-libs`, `openssl-perl`), so the binary package's name and
///   version;
/// - Rocky Linux's advisories are generated from the update's source RPMs (RESF's
///   `apollo`, `api_osv.py`: only `src` packages become `affected` entries), and openSUSE
///   and SUSE name the source RPM (OSV `ecosystems.json`), so the source package's name
///   and version;
/// - any other distribution (Red Hat included, see [`OsRelease::osv_ecosystem`]): none.
pub(crate) fn osv_package(
    component: &Component,
    os: &OsRelease,
) -> Option<(String, String, String)> {
    let ecosystem = os.osv_ecosystem()?;
    let base = ecosystem.split(':').next().unwrap_or_default();
    let (name, version) = match base {
        "AlmaLinux" => (component.name.clone(), component.version.clone()),
        "Rocky Linux" | "openSUSE" | "SUSE" => component
            .source
            .clone()
            .unwrap_or_else(|| (component.name.clone(), component.version.clone())),
        _ => return None,
    };
    Some((ecosystem, name, version))
}

/// `pkg:rpm/<vendor>/<name>@<version>-<release>?arch=…&distro=<id>-<version_id>&epoch=…`,
/// as the purl specification writes RPMs: the epoch is a qualifier, not part of the
/// version. The vendor is the distribution's os-release `ID`, with the spellings purls
/// use for Red Hat (`redhat`), openSUSE (`opensuse`) and SUSE (`suse`).
pub(crate) fn purl(component: &Component, os: &OsRelease) -> Option<Purl> {
    let (epoch, version) = match component.version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(epoch), rest)
        }
        _ => (None, component.version.as_str()),
    };
    let vendor = match os.id.as_str() {
        "rhel" => "redhat",
        id if id.starts_with("opensuse") => "opensuse",
        id if id.starts_with("sle") => "suse",
        id => id,
    };
    let mut purl = Purl::new("rpm", &component.name)
        .ok()?
        .with_namespace(vendor)
        .with_version(version);
    if let Some(arch) = &component.arch {
        purl = purl.with_qualifier("arch", arch);
    }
    if let Some(version_id) = &os.version_id {
        purl = purl.with_qualifier("distro", &format!("{}-{version_id}", os.id));
    }
    if let Some(epoch) = epoch {
        purl = purl.with_qualifier("epoch", epoch);
    }
    Some(purl)
}

/// Reads a big-endian `u32` at `at`.
fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    let array: [u8; 4] = bytes.get(at..end)?.try_into().ok()?;
    Some(u32::from_be_bytes(array))
}

/// Reads a little-endian `u32` at `at`.
fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    let array: [u8; 4] = bytes.get(at..end)?.try_into().ok()?;
    Some(u32::from_le_bytes(array))
}

#[cfg(test)]
mod tests;

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::{Extracted, extract};

// ---- Building headers and databases by hand ---------------------------------------

/// A tag's value in a hand-built header.
enum Value<'a> {
    Str(&'a str),
    Int(u32),
}

/// A header as rpm stores it: `il`, `dl`, a `HEADERIMMUTABLE` region entry whose trailer
/// closes the data, then the entries and their data.
fn header(tags: &[(u32, Value<'_>)]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut entries = Vec::new();
    for (tag, value) in tags {
        match value {
            Value::Str(text) => {
                entries.push((*tag, 6u32, data.len(), 1u32));
                data.extend_from_slice(text.as_bytes());
                data.push(0);
            }
            Value::Int(number) => {
                while !data.len().is_multiple_of(4) {
                    data.push(0);
                }
                entries.push((*tag, 4, data.len(), 1));
                data.extend_from_slice(&number.to_be_bytes());
            }
        }
    }
    let il = entries.len() + 1;
    let trailer = data.len();
    data.extend_from_slice(&63u32.to_be_bytes());
    data.extend_from_slice(&7u32.to_be_bytes());
    data.extend_from_slice(&(-(i32::try_from(il * 16).unwrap())).to_be_bytes());
    data.extend_from_slice(&16u32.to_be_bytes());
    let mut blob = Vec::new();
    blob.extend_from_slice(&u32::try_from(il).unwrap().to_be_bytes());
    blob.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    for (tag, ty, offset, count) in std::iter::once((63, 7, trailer, 16)).chain(entries) {
        blob.extend_from_slice(&u32::to_be_bytes(tag));
        blob.extend_from_slice(&u32::to_be_bytes(ty));
        blob.extend_from_slice(&u32::try_from(offset).unwrap().to_be_bytes());
        blob.extend_from_slice(&u32::to_be_bytes(count));
    }
    blob.extend_from_slice(&data);
    blob
}

/// An installed package's header.
fn package(
    name: &str,
    epoch: Option<u32>,
    version: &str,
    release: &str,
    arch: &str,
    source_rpm: Option<&str>,
) -> Vec<u8> {
    let mut tags = vec![
        (1000, Value::Str(name)),
        (1001, Value::Str(version)),
        (1002, Value::Str(release)),
        (1022, Value::Str(arch)),
    ];
    if let Some(epoch) = epoch {
        tags.push((1003, Value::Int(epoch)));
    }
    if let Some(source_rpm) = source_rpm {
        tags.push((1044, Value::Str(source_rpm)));
    }
    header(&tags)
}

/// A header with a `DESCRIPTION` of `filler` bytes, to make it span pages.
fn big_package(name: &str, filler: usize) -> Vec<u8> {
    let description = "x".repeat(filler);
    header(&[
        (1000, Value::Str(name)),
        (1001, Value::Str("1.0")),
        (1002, Value::Str("1.el9")),
        (1005, Value::Str(&description)),
        (1022, Value::Str("x86_64")),
        (1044, Value::Str(&format!("{name}-1.0-1.el9.src.rpm"))),
    ])
}

/// The packages most tests read: an epoch, a source package of another name, a
/// `noarch` package without epoch, and a signing key that is no package.
fn sample() -> Vec<Vec<u8>> {
    vec![
        package(
            "openssl-libs",
            Some(1),
            "3.0.7",
            "27.el9",
            "x86_64",
            Some("openssl-3.0.7-27.el9.src.rpm"),
        ),
        package(
            "vim-minimal",
            Some(2),
            "8.2.2637",
            "20.el9_1",
            "x86_64",
            Some("vim-8.2.2637-20.el9_1.src.rpm"),
        ),
        package(
            "tzdata",
            None,
            "2024a",
            "1.el9",
            "noarch",
            Some("tzdata-2024a-1.el9.src.rpm"),
        ),
        package("gpg-pubkey", None, "fd431d51", "4ae0493b", "", None),
    ]
}

fn assert_sample(found: &Extracted, path: &str) {
    assert_eq!(found.problem, None);
    let got: Vec<_> = found
        .components
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.version.as_str(),
                c.source.as_ref().map(|(n, v)| (n.as_str(), v.as_str())),
                c.arch.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "openssl-libs",
                "1:3.0.7-27.el9",
                Some(("openssl", "1:3.0.7-27.el9")),
                Some("x86_64")
            ),
            (
                "vim-minimal",
                "2:8.2.2637-20.el9_1",
                Some(("vim", "2:8.2.2637-20.el9_1")),
                Some("x86_64")
            ),
            (
                "tzdata",
                "2024a-1.el9",
                Some(("tzdata", "2024a-1.el9")),
                Some("noarch")
            ),
        ]
    );
    assert!(
        found
            .components
            .iter()
            .all(|c| c.kind == Kind::Rpm && c.path == path)
    );
}

/// An NDB `Packages.db` holding `blobs`, one slot page.
fn ndb(blobs: &[Vec<u8>]) -> Vec<u8> {
    let mut file = vec![0u8; 4096];
    file[..4].copy_from_slice(b"RpmP");
    file[8..12].copy_from_slice(&1u32.to_le_bytes());
    file[12..16].copy_from_slice(&1u32.to_le_bytes());
    file[16..20].copy_from_slice(&(u32::try_from(blobs.len()).unwrap() + 1).to_le_bytes());
    for slot in 2..256 {
        file[slot * 16..slot * 16 + 4].copy_from_slice(b"Slot");
    }
    for (index, blob) in blobs.iter().enumerate() {
        let package = u32::try_from(index).unwrap() + 1;
        let first = u32::try_from(file.len() / 16).unwrap();
        let len = u32::try_from(blob.len()).unwrap();
        let mut area = Vec::new();
        area.extend_from_slice(b"BlbS");
        area.extend_from_slice(&package.to_le_bytes());
        area.extend_from_slice(&7u32.to_le_bytes());
        area.extend_from_slice(&len.to_le_bytes());
        area.extend_from_slice(blob);
        let total = (16 + blob.len() + 12).div_ceil(16) * 16;
        area.resize(total - 12, 0);
        let checksum = ndb::adler32(&area);
        area.extend_from_slice(&checksum.to_le_bytes());
        area.extend_from_slice(&len.to_le_bytes());
        area.extend_from_slice(b"BlbE");
        // Slots 0 and 1 are the file header.
        let slot = (index + 2) * 16;
        file[slot + 4..slot + 8].copy_from_slice(&package.to_le_bytes());
        file[slot + 8..slot + 12].copy_from_slice(&first.to_le_bytes());
        file[slot + 12..slot + 16]
            .copy_from_slice(&u32::try_from(total / 16).unwrap().to_le_bytes());
        file.extend_from_slice(&area);
    }
    file
}

/// What a hash page item holds.
enum Item<'a> {
    InPlace(&'a [u8]),
    /// On overflow pages from this page, this many bytes.
    Overflow(u32, u32),
}

/// Pages of a hand-built Berkeley DB hash database, 4 KiB, in either byte order.
#[derive(Clone, Copy)]
struct Bdb {
    big_endian: bool,
}

impl Bdb {
    const PAGE: usize = 4096;

    fn u32(self, value: u32) -> [u8; 4] {
        if self.big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        }
    }

    fn u16(self, value: usize) -> [u8; 2] {
        let value = u16::try_from(value).unwrap();
        if self.big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        }
    }

    /// The hash metadata: buckets 0 and 1, starting at pages `spares[0]` and
    /// `1 + spares[1]`.
    fn meta(self, last: u32, spares: [u32; 2]) -> Vec<u8> {
        let mut page = vec![0u8; Self::PAGE];
        page[12..16].copy_from_slice(&self.u32(0x0006_1561));
        page[16..20].copy_from_slice(&self.u32(9));
        page[20..24].copy_from_slice(&self.u32(u32::try_from(Self::PAGE).unwrap()));
        page[25] = 8;
        page[32..36].copy_from_slice(&self.u32(last));
        page[72..76].copy_from_slice(&self.u32(1));
        page[76..80].copy_from_slice(&self.u32(1));
        page[96..100].copy_from_slice(&self.u32(spares[0]));
        page[100..104].copy_from_slice(&self.u32(spares[1]));
        page
    }

    fn blank(self, number: u32, kind: u8, next: u32) -> Vec<u8> {
        let mut page = vec![0u8; Self::PAGE];
        page[8..12].copy_from_slice(&self.u32(number));
        page[16..20].copy_from_slice(&self.u32(next));
        page[25] = kind;
        page
    }

    /// A hash page holding `pairs` of (package number, value), chained to `next`: items
    /// stacked down from the page's end, key before value.
    fn hash_page(self, number: u32, pairs: &[(u32, Item<'_>)], next: u32) -> Vec<u8> {
        let mut page = self.blank(number, 13, next);
        let mut items: Vec<Vec<u8>> = Vec::new();
        for (key, value) in pairs {
            items.push([&[1u8][..], &self.u32(*key)].concat());
            items.push(match value {
                Item::InPlace(bytes) => [&[1u8][..], bytes].concat(),
                Item::Overflow(first, len) => {
                    [&[3u8, 0, 0, 0][..], &self.u32(*first), &self.u32(*len)].concat()
                }
            });
        }
        let mut top = Self::PAGE;
        for (index, item) in items.iter().enumerate() {
            top -= item.len();
            page[top..top + item.len()].copy_from_slice(item);
            let at = 26 + 2 * index;
            page[at..at + 2].copy_from_slice(&self.u16(top));
        }
        page[20..22].copy_from_slice(&self.u16(items.len()));
        page[22..24].copy_from_slice(&self.u16(top));
        page
    }

    fn overflow_page(self, number: u32, chunk: &[u8], next: u32) -> Vec<u8> {
        let mut page = self.blank(number, 7, next);
        page[22..24].copy_from_slice(&self.u16(chunk.len()));
        page[26..26 + chunk.len()].copy_from_slice(chunk);
        page
    }
}

/// The sample as Berkeley DB lays it out: page 1 (bucket 0) holds rpm's counter under
/// key 0 and package 1 in place; page 2 (bucket 1) holds package 2 on overflow pages 3
/// and 4 and chains to page 5, which holds packages 3 and 4 in place.
fn bdb(big_endian: bool) -> Vec<u8> {
    let db = Bdb { big_endian };
    let packages = sample();
    let counter = db.u32(5);
    let len = u32::try_from(packages[1].len()).unwrap();
    let half = packages[1].len() / 2;
    [
        db.meta(5, [1, 1]),
        db.hash_page(
            1,
            &[
                (0, Item::InPlace(&counter)),
                (1, Item::InPlace(&packages[0])),
            ],
            0,
        ),
        db.hash_page(2, &[(2, Item::Overflow(3, len))], 5),
        db.overflow_page(3, &packages[1][..half], 4),
        db.overflow_page(4, &packages[1][half..], 0),
        db.hash_page(
            5,
            &[
                (3, Item::InPlace(&packages[2])),
                (4, Item::InPlace(&packages[3])),
            ],
            0,
        ),
    ]
    .concat()
}

/// An `rpmdb.sqlite` as rpm creates it (WAL journal, `Packages` and an index table),
/// written by SQLite itself.
fn sqlite(blobs: &[Vec<u8>]) -> Vec<u8> {
    use sqlx::{ConnectOptions, Connection};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpmdb.sqlite");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut connection = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .connect()
            .await
            .unwrap();
        for statement in [
            "CREATE TABLE IF NOT EXISTS 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
            "CREATE TABLE IF NOT EXISTS 'Name' (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum))",
            "CREATE INDEX IF NOT EXISTS 'Name_key_idx' ON 'Name'(key ASC)",
        ] {
            sqlx::query(statement).execute(&mut connection).await.unwrap();
        }
        for (index, blob) in blobs.iter().enumerate() {
            sqlx::query("INSERT INTO 'Packages' (blob) VALUES (?)")
                .bind(blob.as_slice())
                .execute(&mut connection)
                .await
                .unwrap();
            sqlx::query("INSERT INTO 'Name' (key, hnum, idx) VALUES (?, ?, 0)")
                .bind(format!("package-{index}"))
                .bind(i64::try_from(index).unwrap() + 1)
                .execute(&mut connection)
                .await
                .unwrap();
        }
        connection.close().await.unwrap();
    });
    std::fs::read(path).unwrap()
}

// ---- Tests ------------------------------------------------------------------------

#[test]
fn rpm_databases_are_wanted_at_both_locations() {
    for path in [
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "var/lib/rpm/Packages.db",
        "usr/lib/sysimage/rpm/Packages.db",
        "var/lib/rpm/Packages",
        "usr/lib/sysimage/rpm/Packages",
    ] {
        assert!(crate::wants(path), "{path}");
    }
    assert!(!crate::wants("var/lib/rpm/Name"));
    assert!(!crate::wants("var/lib/rpm/rpmdb.sqlite-wal"));
    assert!(!crate::wants("opt/var/lib/rpm/Packages"));
}

#[test]
fn headers_yield_name_epoch_version_release_arch_and_source() {
    let found = header::Package::parse(&sample()[0]).unwrap();
    assert_eq!(
        found,
        header::Package {
            name: "openssl-libs".into(),
            epoch: Some(1),
            version: "3.0.7".into(),
            release: "27.el9".into(),
            arch: Some("x86_64".into()),
            source_rpm: Some("openssl-3.0.7-27.el9.src.rpm".into()),
        }
    );
    assert_eq!(
        source_package("java-17-openjdk-17.0.9.0.9-2.el9.src.rpm"),
        Some(("java-17-openjdk", "17.0.9.0.9", "2.el9"))
    );
    assert_eq!(source_package("not-a-source.rpm"), None);
    assert_eq!(evr(Some(0), "1.0", "1"), "1.0-1", "epoch 0 is no epoch");
}

#[test]
fn headers_that_lie_about_their_sizes_are_refused() {
    let blob = sample().remove(0);
    // Truncated: the data store is shorter than `dl` says.
    assert!(header::Package::parse(&blob[..blob.len() - 1]).is_err());
    // Too many index entries.
    let mut many = blob.clone();
    many[..4].copy_from_slice(&200_000u32.to_be_bytes());
    assert!(header::Package::parse(&many).is_err());
    // A string offset past the data store.
    let mut past = blob.clone();
    let name_entry = 8 + 16;
    past[name_entry + 8..name_entry + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(header::Package::parse(&past).is_err());
    // No NAME at all.
    let nameless = header(&[(1001, Value::Str("1")), (1002, Value::Str("1"))]);
    assert!(
        header::Package::parse(&nameless)
            .unwrap_err()
            .contains("NAME")
    );
    assert!(header::Package::parse(&[]).is_err());
}

#[test]
fn ndb_packages_db_lists_its_packages() {
    let file = ndb(&sample());
    let path = "usr/lib/sysimage/rpm/Packages.db";
    assert_sample(&extract(path, &file), path);
}

#[test]
fn ndb_blobs_with_a_bad_checksum_are_skipped_not_fatal() {
    let mut file = ndb(&sample());
    // A byte inside the first blob (its header's data), after the slot page.
    file[4096 + 40] ^= 0xff;
    let found = extract("var/lib/rpm/Packages.db", &file);
    assert_eq!(found.components.len(), 2);
    assert!(found.problem.unwrap().contains("checksum"));
    // A slot pointing into the slot pages, and one past the end of the file.
    let mut file = ndb(&sample());
    file[2 * 16 + 8..2 * 16 + 12].copy_from_slice(&1u32.to_le_bytes());
    file[3 * 16 + 8..3 * 16 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let found = extract("var/lib/rpm/Packages.db", &file);
    assert_eq!(found.components.len(), 1);
    assert!(found.problem.is_some());
    // Corrupt slot magic: the slots after it are not trusted.
    let mut file = ndb(&sample());
    file[2 * 16] = b'X';
    let found = extract("var/lib/rpm/Packages.db", &file);
    assert!(found.components.is_empty());
    assert!(found.problem.unwrap().contains("corrupt"));
}

#[test]
fn ndb_slots_sharing_one_blob_stop_at_the_file_size() {
    let blob = big_package("big", 10_000);
    let mut file = ndb(std::slice::from_ref(&blob));
    // Every other slot names the same blob (rpm refuses overlapping slots).
    let template: [u8; 16] = file[32..48].try_into().unwrap();
    for slot in 3..256 {
        file[slot * 16..slot * 16 + 16].copy_from_slice(&template);
    }
    let found = extract("var/lib/rpm/Packages.db", &file);
    assert_eq!(found.components.len(), 1);
    assert!(found.problem.unwrap().contains("overlap"));
}

#[test]
fn berkeley_db_packages_in_place_on_overflow_pages_and_chained() {
    for big_endian in [false, true] {
        let file = bdb(big_endian);
        let path = "var/lib/rpm/Packages";
        let found = extract(path, &file);
        assert_sample(&found, path);
    }
}

#[test]
fn berkeley_db_page_loops_are_errors() {
    let mut file = bdb(false);
    // Page 5 (bucket 1's second page) chains back to page 2.
    file[5 * 4096 + 16..5 * 4096 + 20].copy_from_slice(&2u32.to_le_bytes());
    let found = extract("var/lib/rpm/Packages", &file);
    assert!(found.problem.unwrap().contains("linked twice"));
    // An overflow chain that loops onto itself.
    let mut file = bdb(false);
    file[4 * 4096 + 16..4 * 4096 + 20].copy_from_slice(&3u32.to_le_bytes());
    file[4 * 4096 + 22..4 * 4096 + 24].copy_from_slice(&1u16.to_le_bytes());
    let found = extract("var/lib/rpm/Packages", &file);
    assert!(found.problem.is_some());
    // Encrypted and truncated databases.
    let mut file = bdb(false);
    file[24] = 1;
    assert!(
        extract("var/lib/rpm/Packages", &file)
            .problem
            .unwrap()
            .contains("encrypted")
    );
    let file = bdb(false);
    let found = extract("var/lib/rpm/Packages", &file[..3 * 4096]);
    assert!(found.problem.is_some());
}

#[test]
fn sqlite_rpmdb_lists_its_packages() {
    let file = sqlite(&sample());
    // rpm runs its database in WAL mode: the header says so (bytes 18 and 19).
    assert_eq!(&file[18..20], &[2, 2]);
    let path = "var/lib/rpm/rpmdb.sqlite";
    assert_sample(&extract(path, &file), path);
}

#[test]
fn sqlite_rows_spanning_overflow_pages_and_interior_pages_are_read() {
    let mut blobs: Vec<Vec<u8>> = (0..400)
        .map(|n| {
            package(
                &format!("package-{n}"),
                None,
                "1.0",
                &format!("{n}.el9"),
                "x86_64",
                None,
            )
        })
        .collect();
    // Larger than a page, and than several.
    blobs.insert(7, big_package("big-one", 5_000));
    blobs.insert(300, big_package("big-two", 100_000));
    let file = sqlite(&blobs);
    let found = extract("var/lib/rpm/rpmdb.sqlite", &file);
    assert_eq!(found.problem, None);
    assert_eq!(found.components.len(), 402);
    assert_eq!(found.components[7].name, "big-one");
    assert_eq!(found.components[300].name, "big-two");
    assert_eq!(
        found.components[300].source,
        Some(("big-two".into(), "1.0-1.el9".into()))
    );
    assert_eq!(found.components[401].name, "package-399");
    assert_eq!(found.components[401].version, "1.0-399.el9");
}

#[test]
fn sqlite_without_a_packages_table_or_with_page_loops_is_a_problem() {
    let file = sqlite(&sample());
    // Rename the table in the schema: `Packages` → `Pockages`.
    let at = memchr::memmem::find(&file, b"tablePackagesPackages").unwrap();
    let mut renamed = file.clone();
    renamed[at + 6] = b'o';
    let found = extract("var/lib/rpm/rpmdb.sqlite", &renamed);
    assert!(found.problem.unwrap().contains("no Packages table"));
    // Not a database at all.
    let found = extract(
        "var/lib/rpm/rpmdb.sqlite",
        b"SQLite format 3\0 and then nothing",
    );
    assert!(found.problem.is_some());
    let found = extract("var/lib/rpm/rpmdb.sqlite", b"hello");
    assert!(found.problem.unwrap().contains("not an rpm database"));
}

#[test]
fn rpm_packages_match_their_distributions_advisories() {
    let found = extract("var/lib/rpm/Packages.db", &ndb(&sample()));
    let [ssl, vim, _tzdata] = found.components.as_slice() else {
        panic!("{:?}", found.components);
    };
    let alma = OsRelease::parse("ID=\"almalinux\"\nVERSION_ID=\"9.4\"\n");
    // AlmaLinux lists binary packages.
    assert_eq!(
        vim.osv_package(Some(&alma)),
        Some((
            "AlmaLinux:9".into(),
            "vim-minimal".into(),
            "2:8.2.2637-20.el9_1".into()
        ))
    );
    // Rocky Linux and SUSE list source packages.
    let rocky = OsRelease::parse("ID=\"rocky\"\nVERSION_ID=\"9.3\"\n");
    assert_eq!(
        vim.osv_package(Some(&rocky)),
        Some((
            "Rocky Linux:9".into(),
            "vim".into(),
            "2:8.2.2637-20.el9_1".into()
        ))
    );
    let suse = OsRelease::parse(
        "ID=\"sles\"\nVERSION_ID=\"15.5\"\nPRETTY_NAME=\"SUSE Linux Enterprise Server 15 SP5\"\n",
    );
    assert_eq!(
        ssl.osv_package(Some(&suse)).unwrap().0,
        "SUSE:Linux Enterprise Server 15 SP5"
    );
    // Red Hat, a Debian filesystem, or no known release: nothing to match.
    let rhel = OsRelease::parse("ID=\"rhel\"\nVERSION_ID=\"9.4\"\n");
    assert_eq!(ssl.osv_package(Some(&rhel)), None);
    let debian = OsRelease::parse("ID=debian\nVERSION_ID=12\n");
    assert_eq!(ssl.osv_package(Some(&debian)), None);
    assert_eq!(ssl.osv_package(None), None);

    assert_eq!(
        ssl.purl(Some(&alma)).unwrap().to_string(),
        "pkg:rpm/almalinux/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=almalinux-9.4&epoch=1"
    );
    assert_eq!(
        ssl.purl(Some(&rhel)).unwrap().to_string(),
        "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1"
    );
    assert_eq!(ssl.purl(None), None);
}

proptest::proptest! {
    /// Every format survives arbitrary damage: some bytes of a valid database overwritten.
    #[test]
    fn damaged_databases_never_panic(
        format in 0usize..4,
        writes in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 1..16)
    ) {
        let packages = sample();
        let (path, mut file) = match format {
            0 => ("var/lib/rpm/Packages.db", ndb(&packages)),
            1 => ("var/lib/rpm/Packages", bdb(false)),
            2 => ("var/lib/rpm/Packages", bdb(true)),
            _ => ("var/lib/rpm/Packages.db", ndb(&[big_package("big", 20_000)])),
        };
        for (at, byte) in writes {
            let len = file.len();
            file[at % len] = byte;
        }
        let _ = extract(path, &file);
        // And cut anywhere.
        let cut = file.len() / 3;
        let _ = extract(path, &file[..cut]);
    }
}

#[test]
fn damaged_sqlite_databases_never_panic() {
    // SQLite files are made once (they take a runtime); each damage is tried on a copy.
    let mut blobs = sample();
    blobs.push(big_package("big", 20_000));
    let file = sqlite(&blobs);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2_000 {
        let mut damaged = file.clone();
        for _ in 0..1 + next() % 8 {
            let at = usize::try_from(next() % damaged.len() as u64).unwrap();
            damaged[at] = u8::try_from(next() % 256).unwrap();
        }
        let _ = extract("var/lib/rpm/rpmdb.sqlite", &damaged);
        let cut = usize::try_from(next() % damaged.len() as u64).unwrap();
        let _ = extract("var/lib/rpm/rpmdb.sqlite", &damaged[..cut]);
    }
}

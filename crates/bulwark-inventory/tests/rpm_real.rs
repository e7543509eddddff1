//! The rpm database reader against rpm itself. Packages are built with `rpmbuild` from
//! spec files written here (one with an epoch, one whose source package has a
//! subpackage of another name), installed with `rpm -i --justdb` into an empty database,
//! and what `rpm -qa` lists is what the extractor must find in the database's bytes.
//!
//! - SQLite: the database rpm wrote (`_db_backend sqlite`).
//! - Berkeley DB: the same headers (`rpmdb --exportdb`) loaded into a Berkeley DB hash
//!   database by Berkeley DB itself (`db5.3_load`), then listed by rpm's read-only
//!   Berkeley DB backend (`bdb_ro`): the layout is Berkeley DB's, the oracle rpm's.
//! - NDB is not covered here: Debian's rpm (4.18) is built without it (`--initdb` with
//!   `_db_backend ndb` falls back to a dummy database). The unit tests build NDB files.
//!
//! Needs `rpm` and `rpmbuild` (Debian's `rpm` package ships both) and `db5.3_load`
//! (`db5.3-util`). Outside CI the test is skipped, saying so, when one is missing; under
//! CI (`CI` set) a missing tool fails it: `scripts/test.sh` installs them.
// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// Whether every tool runs; `false` (skip) outside CI when one does not, a failure under
/// CI.
fn tools_present(tools: &[(&str, &str)]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|(tool, flag)| {
            !Command::new(tool)
                .arg(flag)
                .output()
                .is_ok_and(|output| output.status.success())
        })
        .map(|(tool, _)| *tool)
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{missing:?} missing under CI: scripts/test.sh installs rpm and db5.3-util"
    );
    eprintln!("{missing:?} not installed: the rpm database test did not run (it does under CI)");
    false
}

fn run(command: &mut Command) -> Vec<u8> {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

const HELLO: &str = "\
Name: bulwark-hello
Epoch: 3
Version: 1.2.3
Release: 4.test
Summary: test package
License: MIT
BuildArch: noarch

%description
A package with an epoch.

%files
";

const MULTI: &str = "\
Name: bulwark-multi
Version: 2.0~rc1
Release: 1.el9
Summary: test package
License: MIT
BuildArch: noarch

%description
A source package with a subpackage of another name.

%package -n bulwark-sub
Summary: test subpackage

%description -n bulwark-sub
The subpackage.

%files

%files -n bulwark-sub
";

const QUERY_FORMAT: &str = "%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH} %{SOURCERPM}\\n";

/// What `rpm -qa` lists, as (name, `[epoch:]version-release`, arch, source name).
fn listed(database: &Path, backend: &str) -> BTreeSet<(String, String, String, String)> {
    let stdout = run(Command::new("rpm")
        .arg("-qa")
        .arg("--dbpath")
        .arg(database)
        .arg("--define")
        .arg(format!("_db_backend {backend}"))
        .arg("--qf")
        .arg(QUERY_FORMAT));
    String::from_utf8(stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let [name, epoch, version, release, arch, source] = fields[..] else {
                panic!("unexpected rpm -qa line {line:?}");
            };
            let evr = if epoch == "0" {
                format!("{version}-{release}")
            } else {
                format!("{epoch}:{version}-{release}")
            };
            // `name-version-release.src.rpm`: the name is what precedes the last two `-`.
            let stem = source.strip_suffix(".src.rpm").unwrap();
            let source_name = stem.rsplitn(3, '-').nth(2).unwrap();
            (
                name.to_owned(),
                evr,
                arch.to_owned(),
                source_name.to_owned(),
            )
        })
        .collect()
}

/// What the extractor finds in `content` read as `path`.
fn extracted(path: &str, content: &[u8]) -> BTreeSet<(String, String, String, String)> {
    let found = bulwark_inventory::extract(path, content);
    assert_eq!(found.problem, None, "{path}");
    found
        .components
        .into_iter()
        .map(|c| {
            assert_eq!(c.kind, bulwark_inventory::Kind::Rpm);
            let (source, _) = c.source.unwrap();
            (c.name, c.version, c.arch.unwrap_or_default(), source)
        })
        .collect()
}

/// The headers of `rpmdb --exportdb`: each one rpm's 8-byte header magic, then the
/// header as a database stores it (`il`, `dl`, entries, data).
fn exported_headers(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut headers = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        assert_eq!(&rest[..8], &[0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]);
        let il = u32::from_be_bytes(rest[8..12].try_into().unwrap()) as usize;
        let dl = u32::from_be_bytes(rest[12..16].try_into().unwrap()) as usize;
        let len = 8 + 16 * il + dl;
        headers.push(rest[8..8 + len].to_vec());
        rest = &rest[8 + len..];
    }
    headers
}

#[test]
fn rpm_databases_read_as_rpm_lists_them() {
    if !tools_present(&[
        ("rpm", "--version"),
        ("rpmbuild", "--version"),
        ("db5.3_load", "-V"),
    ]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("top");
    std::fs::create_dir_all(&top).unwrap();
    for (name, spec) in [("hello", HELLO), ("multi", MULTI)] {
        let path = top.join(format!("{name}.spec"));
        std::fs::write(&path, spec).unwrap();
        run(Command::new("rpmbuild")
            .arg("-bb")
            .arg("--quiet")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg(path));
    }
    let packages: Vec<_> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(packages.len(), 3, "{packages:?}");

    // SQLite, as rpm writes it.
    let sqlite = dir.path().join("sqlite");
    std::fs::create_dir_all(&sqlite).unwrap();
    let backend = ["--define", "_db_backend sqlite"];
    run(Command::new("rpm")
        .arg("--initdb")
        .arg("--dbpath")
        .arg(&sqlite)
        .args(backend));
    run(Command::new("rpm")
        .args(["-i", "--justdb", "--nodeps", "--noscripts", "--dbpath"])
        .arg(&sqlite)
        .args(backend)
        .args(packages));
    let expected = listed(&sqlite, "sqlite");
    assert_eq!(expected.len(), 3, "{expected:?}");
    let row = |name: &str, version: &str, source: &str| {
        (
            name.to_owned(),
            version.to_owned(),
            "noarch".to_owned(),
            source.to_owned(),
        )
    };
    assert!(expected.contains(&row("bulwark-hello", "3:1.2.3-4.test", "bulwark-hello")));
    assert!(expected.contains(&row("bulwark-sub", "2.0~rc1-1.el9", "bulwark-multi")));
    let database = std::fs::read(sqlite.join("rpmdb.sqlite")).unwrap();
    for path in [
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
    ] {
        assert_eq!(extracted(path, &database), expected);
    }

    // Berkeley DB: the same headers under package numbers 1…, and rpm's counter under
    // key 0, in the machine's byte order as rpm's Berkeley DB backend stored them.
    let stream = run(Command::new("rpmdb")
        .arg("--exportdb")
        .arg("--dbpath")
        .arg(sqlite)
        .args(backend));
    let headers = exported_headers(&stream);
    assert_eq!(headers.len(), 3);
    let mut dump =
        String::from("VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\nHEADER=END\n");
    let hex = |bytes: &[u8]| {
        bytes.iter().fold(String::new(), |mut out, b| {
            write!(out, "{b:02x}").unwrap();
            out
        })
    };
    let next = u32::try_from(headers.len() + 1).unwrap();
    writeln!(
        dump,
        " {}\n {}",
        hex(&0u32.to_ne_bytes()),
        hex(&next.to_ne_bytes())
    )
    .unwrap();
    for (number, header) in (1u32..).zip(&headers) {
        writeln!(dump, " {}\n {}", hex(&number.to_ne_bytes()), hex(header)).unwrap();
    }
    dump.push_str("DATA=END\n");
    let bdb = dir.path().join("bdb");
    std::fs::create_dir_all(&bdb).unwrap();
    let dump_path = dir.path().join("packages.dump");
    std::fs::write(&dump_path, dump).unwrap();
    run(Command::new("db5.3_load")
        .arg("-f")
        .arg(dump_path)
        .arg(bdb.join("Packages")));
    assert_eq!(
        listed(&bdb, "bdb_ro"),
        expected,
        "rpm reads the Berkeley DB copy"
    );
    let database = std::fs::read(bdb.join("Packages")).unwrap();
    assert_eq!(extracted("var/lib/rpm/Packages", &database), expected);
}

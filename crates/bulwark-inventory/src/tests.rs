#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn names(extracted: &Extracted) -> Vec<(String, String)> {
    extracted
        .components
        .iter()
        .map(|c| (c.name.clone(), c.version.clone()))
        .collect()
}

const DPKG_STATUS: &str = "\
Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit
 a continuation line: not a field

Package: removed-but-not-purged
Status: deinstall ok config-files
Version: 1.0-1

Package: xz-utils
Status: install ok installed
Source: xz-utils (5.4.1-0.2)
Version: 5.4.1-0.2+b1

Package: bash
Status: install ok installed
Version: 5.2.15-2+b2
";

#[test]
fn dpkg_lists_installed_packages_with_their_source() {
    assert!(wants("var/lib/dpkg/status"));
    let found = extract("var/lib/dpkg/status", DPKG_STATUS.as_bytes());
    assert_eq!(
        names(&found),
        [
            ("libssl3".into(), "3.0.11-1~deb12u2".into()),
            ("xz-utils".into(), "5.4.1-0.2+b1".into()),
            ("bash".into(), "5.2.15-2+b2".into()),
        ]
    );
    let debian = OsRelease::parse("ID=debian\nVERSION_ID=\"12\"\n");
    let ssl = &found.components[0];
    assert_eq!(
        ssl.osv_package(Some(&debian)),
        Some((
            "Debian:12".into(),
            "openssl".into(),
            "3.0.11-1~deb12u2".into()
        ))
    );
    assert_eq!(
        ssl.purl(Some(&debian)).unwrap().to_string(),
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12&upstream=openssl"
    );
    // A binary rebuild (+b1) is matched at its source's version.
    assert_eq!(
        found.components[1].osv_package(Some(&debian)).unwrap().2,
        "5.4.1-0.2"
    );
    // Without a known release, no distribution advisory can apply.
    assert_eq!(ssl.osv_package(None), None);
}

#[test]
fn distroless_status_files_are_one_package_each() {
    let path = "var/lib/dpkg/status.d/libc6";
    assert!(wants(path));
    assert!(!wants("var/lib/dpkg/status.d/libc6.md5sums"));
    let found = extract(
        path,
        b"Package: libc6\nVersion: 2.36-9+deb12u4\nSource: glibc\n",
    );
    assert_eq!(
        found.components[0].source,
        Some(("glibc".into(), "2.36-9+deb12u4".into()))
    );
}

#[test]
fn apk_records_carry_their_origin() {
    let installed =
        "C:Q1abc=\nP:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n\nP:busybox\nV:1.36.1-r29\n";
    let found = extract("lib/apk/db/installed", installed.as_bytes());
    assert_eq!(names(&found)[0], ("libcrypto3".into(), "3.3.2-r0".into()));
    let alpine = OsRelease::parse("ID=alpine\nVERSION_ID=3.20.3\n");
    assert_eq!(
        found.components[0].osv_package(Some(&alpine)),
        Some(("Alpine:3.20.3".into(), "openssl".into(), "3.3.2-r0".into()))
    );
    // An Alpine package on a Debian filesystem matches nothing.
    let debian = OsRelease::parse("ID=debian\nVERSION_ID=12\n");
    assert_eq!(found.components[0].osv_package(Some(&debian)), None);
}

#[test]
fn python_distributions_from_metadata_headers() {
    let path = "usr/lib/python3/dist-packages/Django-2.2.0.dist-info/METADATA";
    assert!(wants(path));
    assert!(wants("usr/lib/python3/site-packages/six-1.16.0.egg-info"));
    assert!(wants("x/requests.egg-info/PKG-INFO"));
    assert!(!wants("x/Django-2.2.0.dist-info/RECORD"));
    let found = extract(
        path,
        b"Metadata-Version: 2.1\nName: Django\nVersion: 2.2.0\n\nName: not-a-header\n",
    );
    assert_eq!(names(&found), [("Django".into(), "2.2.0".into())]);
    assert_eq!(
        found.components[0].purl(None).unwrap().to_string(),
        "pkg:pypi/Django@2.2.0"
    );
    assert!(extract(path, b"garbage").problem.is_some());
}

#[test]
fn npm_packages_and_lock_files() {
    let path = "app/node_modules/@babel/core/package.json";
    assert!(wants(path));
    assert!(
        !wants("app/package.json"),
        "the project itself is not a dependency"
    );
    let found = extract(path, br#"{"name":"@babel/core","version":"7.0.0"}"#);
    assert_eq!(
        found.components[0].purl(None).unwrap().to_string(),
        "pkg:npm/%40babel/core@7.0.0"
    );
    let v3 = br#"{"lockfileVersion":3,"packages":{
        "":{"name":"app","version":"1.0.0"},
        "node_modules/lodash":{"version":"4.17.20"},
        "node_modules/a/node_modules/minimist":{"version":"0.0.8"},
        "packages/local":{"link":true}}}"#;
    let found = extract("app/package-lock.json", v3);
    let mut got = names(&found);
    got.sort();
    assert_eq!(
        got,
        [
            ("lodash".into(), "4.17.20".into()),
            ("minimist".into(), "0.0.8".into())
        ]
    );
    let v1 = br#"{"lockfileVersion":1,"dependencies":{
        "lodash":{"version":"4.17.4","dependencies":{"inner":{"version":"1.0.0"}}},
        "local":{"version":"file:../local"}}}"#;
    let mut got = names(&extract("package-lock.json", v1));
    got.sort();
    assert_eq!(
        got,
        [
            ("inner".into(), "1.0.0".into()),
            ("lodash".into(), "4.17.4".into())
        ]
    );
}

#[test]
fn cargo_lock_lists_registry_crates_only() {
    let lock = r#"
version = 3

[[package]]
name = "app"
version = "0.1.0"

[[package]]
name = "smallvec"
version = "1.6.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;
    let found = extract("src/Cargo.lock", lock.as_bytes());
    assert_eq!(names(&found), [("smallvec".into(), "1.6.0".into())]);
    assert_eq!(
        found.components[0].osv_package(None),
        Some(("crates.io".into(), "smallvec".into(), "1.6.0".into()))
    );
}

proptest::proptest! {
    #[test]
    fn no_extractor_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
        for path in [
            "etc/os-release",
            "var/lib/dpkg/status",
            "var/lib/dpkg/status.d/x",
            "lib/apk/db/installed",
            "a.dist-info/METADATA",
            "node_modules/x/package.json",
            "package-lock.json",
            "Cargo.lock",
        ] {
            let _ = extract(path, &bytes);
        }
    }
}

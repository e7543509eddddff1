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

fn sorted(extracted: &Extracted) -> Vec<(String, String)> {
    let mut got = names(extracted);
    got.sort();
    got
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(name, version)| ((*name).to_owned(), (*version).to_owned()))
        .collect()
}

const YARN_V1: &str = r#"# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.12.13"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz#dcfc826beef65e75c50e21d3837d7d95798dd658"
  integrity sha512-HV1Cm0Q3ZrpCR93tkWOYiuYIgLxZXZFVG2VgK+MBWjUqZTundupbfx2aXarXuw5Ko5aMcjtJgbSs4vUGBS5v6g==
  dependencies:
    "@babel/highlight" "^7.12.13"

"@babel/code-frame@^7.12.13":
  version "7.12.13"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz#dcfc826beef65e75c50e21d3837d7d95798dd658"
  integrity sha512-HV1Cm0Q3ZrpCR93tkWOYiuYIgLxZXZFVG2VgK+MBWjUqZTundupbfx2aXarXuw5Ko5aMcjtJgbSs4vUGBS5v6g==

"left-pad@git+https://github.com/stevemao/left-pad.git#v1.3.0":
  version "1.3.0"
  resolved "git+https://github.com/stevemao/left-pad.git#5e5b9c5a7b5b0e3c2d2c1b7e9f1c1a2b3c4d5e6f"

"local-lib@file:./packages/local-lib":
  version "1.0.0"

lodash@^4.17.19, lodash@^4.17.21:
  version "4.17.21"
  resolved "https://registry.yarnpkg.com/lodash/-/lodash-4.17.21.tgz#679591c564c3bffaae8454cf0b3df370c3d6911c"
  integrity sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==

"string-width-cjs@npm:string-width@^4.2.0":
  version "4.2.3"
  resolved "https://registry.yarnpkg.com/string-width/-/string-width-4.2.3.tgz#269c7117d27b05ad2e536830a8ec895ef9c6d010"
  integrity sha512-wKyQRQpjJ0sIp62ErSZdGsjMJWsap5oRNihHhu6G7JVO/9jIB6UyevL+tXuOqrng8j/cxKTWyWUwvSTriiZz/g==
"#;

const YARN_BERRY: &str = r#"# This file is generated by running "yarn install" inside your project.
# Manual changes might be lost - proceed with caution!

__metadata:
  version: 6
  cacheKey: 8

"@babel/code-frame@npm:^7.0.0, @babel/code-frame@npm:^7.18.6":
  version: 7.18.6
  resolution: "@babel/code-frame@npm:7.18.6"
  dependencies:
    "@babel/highlight": ^7.18.6
  checksum: 195e2be3172d7684bf95cff69ae3b7a15a9841ea9d27d3c843662d50cdd7d6470fd9c8e64be84d031117e4a4083486effba39f9aef6bbb2c89f7f21bcfb33ba
  languageName: node
  linkType: hard

"lodash@npm:^4.17.21":
  version: 4.17.21
  resolution: "lodash@npm:4.17.21"
  checksum: eb835a2e51d381e561e508ce932ea50a8e5a68f4ebdd771ea240d3048244a8d13658acbd502cd4829768c56f2e16bdd4340b9ea141297d472517b83868e677f7
  languageName: node
  linkType: hard

"my-app@workspace:.":
  version: 0.0.0-use.local
  resolution: "my-app@workspace:."
  dependencies:
    lodash: ^4.17.21
    resolve: ^1.22.1
    shared: "link:../shared"
  languageName: unknown
  linkType: soft

"resolve@npm:^1.22.1":
  version: 1.22.1
  resolution: "resolve@npm:1.22.1"
  dependencies:
    is-core-module: ^2.9.0
  bin:
    resolve: bin/resolve
  checksum: 07af5fc1e81aa1d866cbc9e9460fbb67318a10fa3c4deadc35c3ad8a898ee9a71a86a65e4755ac3195e0ea0cfbe201eb323ebe655ce90526fd61917313a34e4e
  languageName: node
  linkType: hard

"resolve@patch:resolve@^1.22.1#~builtin<compat/resolve>":
  version: 1.22.1
  resolution: "resolve@patch:resolve@npm%3A1.22.1#~builtin<compat/resolve>::version=1.22.1&hash=c3c19d"
  dependencies:
    is-core-module: ^2.9.0
  checksum: 5656f4d0bedcf8eb52685c1abdf8fbe73a1603bb1160a24d716e27a57f6cecbe2432ff9c89c2bd57542c3a7b9d14b1882b73bfe2e9d7849c9a4c0b8b39f02b8b
  languageName: node
  linkType: hard

"shared@link:../shared::locator=my-app%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "shared@link:../shared::locator=my-app%40workspace%3A."
  languageName: node
  linkType: soft
"#;

#[test]
fn yarn_classic_lock_lists_registry_packages_once() {
    assert!(wants("app/yarn.lock"));
    let found = extract("app/yarn.lock", YARN_V1.as_bytes());
    assert_eq!(found.problem, None);
    // The alias installs string-width; the Git and file: entries are not registry releases.
    assert_eq!(
        sorted(&found),
        pairs(&[
            ("@babel/code-frame", "7.12.13"),
            ("lodash", "4.17.21"),
            ("string-width", "4.2.3"),
        ])
    );
    let babel = found
        .components
        .iter()
        .find(|c| c.name == "@babel/code-frame")
        .unwrap();
    assert_eq!(babel.kind, Kind::Npm);
    assert_eq!(
        babel.purl(None).unwrap().to_string(),
        "pkg:npm/%40babel/code-frame@7.12.13"
    );
    assert_eq!(
        babel.osv_package(None),
        Some(("npm".into(), "@babel/code-frame".into(), "7.12.13".into()))
    );
}

#[test]
fn yarn_berry_lock_skips_metadata_workspaces_links_and_patches() {
    let found = extract("yarn.lock", YARN_BERRY.as_bytes());
    assert_eq!(found.problem, None);
    assert_eq!(
        sorted(&found),
        pairs(&[
            ("@babel/code-frame", "7.18.6"),
            ("lodash", "4.17.21"),
            ("resolve", "1.22.1"),
        ])
    );
}

const PNPM_V5: &str = "lockfileVersion: 5.4

specifiers:
  '@babel/core': ^7.12.3
  '@babel/plugin-syntax-jsx': ^7.12.1
  local-lib: file:packages/local-lib
  lodash: ^4.17.21

dependencies:
  local-lib: file:packages/local-lib
  lodash: 4.17.21

devDependencies:
  '@babel/core': 7.12.3
  '@babel/plugin-syntax-jsx': 7.12.1_@babel+core@7.12.3

packages:

  /@babel/core/7.12.3:
    resolution: {integrity: sha512-0qXcZYKZp3/6N2jKYVxZv0aNCsxTSVCiK72DTiTYZAu7sjg73W0/aynWjMbiGd87EQL4WyA8reiJVh92AVla9g==}
    engines: {node: '>=6.9.0'}
    dependencies:
      '@babel/code-frame': 7.12.13
    dev: true

  /@babel/plugin-syntax-jsx/7.12.1_@babel+core@7.12.3:
    resolution: {integrity: sha512-1yRi7yAtB0ETgxdY9ti/p2TivUxJkTdhu/ZbF9MshVGqOx1TdB3b7xCXs49Fupgg50N45KcAsRP/ZqWjs9SRjg==}
    peerDependencies:
      '@babel/core': ^7.0.0-0
    dependencies:
      '@babel/core': 7.12.3
    dev: true

  /lodash/4.17.21:
    resolution: {integrity: sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==}
    dev: false

  file:packages/local-lib:
    resolution: {directory: packages/local-lib, type: directory}
    name: local-lib
    version: 1.0.0
    dev: false
";

const PNPM_V6: &str = "lockfileVersion: '6.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

dependencies:
  lodash:
    specifier: ^4.17.21
    version: 4.17.21

devDependencies:
  '@babel/core':
    specifier: ^7.12.3
    version: 7.12.3
  '@babel/plugin-syntax-jsx':
    specifier: ^7.12.1
    version: 7.12.1(@babel/core@7.12.3)

packages:

  /@babel/core@7.12.3:
    resolution: {integrity: sha512-0qXcZYKZp3/6N2jKYVxZv0aNCsxTSVCiK72DTiTYZAu7sjg73W0/aynWjMbiGd87EQL4WyA8reiJVh92AVla9g==}
    engines: {node: '>=6.9.0'}
    dev: true

  /@babel/plugin-syntax-jsx@7.12.1(@babel/core@7.12.3):
    resolution: {integrity: sha512-1yRi7yAtB0ETgxdY9ti/p2TivUxJkTdhu/ZbF9MshVGqOx1TdB3b7xCXs49Fupgg50N45KcAsRP/ZqWjs9SRjg==}
    peerDependencies:
      '@babel/core': ^7.0.0-0
    dependencies:
      '@babel/core': 7.12.3
    dev: true

  /lodash@4.17.21:
    resolution: {integrity: sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==}
    dev: false
";

const PNPM_V9: &str = "lockfileVersion: '9.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      local-lib:
        specifier: file:packages/local-lib
        version: file:packages/local-lib
      lodash:
        specifier: ^4.17.21
        version: 4.17.21
    devDependencies:
      '@babel/core':
        specifier: ^7.12.3
        version: 7.12.3
      '@babel/plugin-syntax-jsx':
        specifier: ^7.12.1
        version: 7.12.1(@babel/core@7.12.3)

packages:

  '@babel/core@7.12.3':
    resolution: {integrity: sha512-0qXcZYKZp3/6N2jKYVxZv0aNCsxTSVCiK72DTiTYZAu7sjg73W0/aynWjMbiGd87EQL4WyA8reiJVh92AVla9g==}
    engines: {node: '>=6.9.0'}

  '@babel/plugin-syntax-jsx@7.12.1':
    resolution: {integrity: sha512-1yRi7yAtB0ETgxdY9ti/p2TivUxJkTdhu/ZbF9MshVGqOx1TdB3b7xCXs49Fupgg50N45KcAsRP/ZqWjs9SRjg==}
    peerDependencies:
      '@babel/core': ^7.0.0-0

  local-lib@file:packages/local-lib:
    resolution: {directory: packages/local-lib, type: directory}

  lodash@4.17.21:
    resolution: {integrity: sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==}

snapshots:

  '@babel/core@7.12.3':
    dependencies:
      '@babel/code-frame': 7.12.13

  '@babel/plugin-syntax-jsx@7.12.1(@babel/core@7.12.3)':
    dependencies:
      '@babel/core': 7.12.3

  local-lib@file:packages/local-lib: {}

  lodash@4.17.21: {}
";

#[test]
fn pnpm_locks_of_each_version_list_the_same_packages() {
    assert!(wants("app/pnpm-lock.yaml"));
    let expected = pairs(&[
        ("@babel/core", "7.12.3"),
        ("@babel/plugin-syntax-jsx", "7.12.1"),
        ("lodash", "4.17.21"),
    ]);
    for (version, lock) in [("5.4", PNPM_V5), ("6.0", PNPM_V6), ("9.0", PNPM_V9)] {
        let found = extract("app/pnpm-lock.yaml", lock.as_bytes());
        assert_eq!(found.problem, None, "lockfile {version}");
        assert_eq!(sorted(&found), expected, "lockfile {version}");
        assert!(found.components.iter().all(|c| c.kind == Kind::Npm));
    }
}

const COMPOSER_LOCK: &str = r#"{
    "_readme": [
        "This file locks the dependencies of your project to a known state",
        "Read more about it at https://getcomposer.org/doc/01-basic-usage.md#installing-dependencies",
        "This file is @generated automatically"
    ],
    "content-hash": "3b1ed4f2b8a3a7a5c0d3c5f1e7a2a9b1",
    "packages": [
        {
            "name": "monolog/monolog",
            "version": "2.3.5",
            "source": {
                "type": "git",
                "url": "https://github.com/Seldaek/monolog.git",
                "reference": "fd4380d6fc37626e2f799f29d91195040137eba9"
            },
            "dist": {
                "type": "zip",
                "url": "https://api.github.com/repos/Seldaek/monolog/zipball/fd4380d6fc37626e2f799f29d91195040137eba9",
                "reference": "fd4380d6fc37626e2f799f29d91195040137eba9",
                "shasum": ""
            },
            "type": "library"
        },
        {
            "name": "symfony/http-kernel",
            "version": "v5.4.0",
            "source": {
                "type": "git",
                "url": "https://github.com/symfony/http-kernel.git",
                "reference": "e012f16688bcb151e965473a70d8ebaa8b1d15ea"
            },
            "dist": {
                "type": "zip",
                "url": "https://api.github.com/repos/symfony/http-kernel/zipball/e012f16688bcb151e965473a70d8ebaa8b1d15ea",
                "reference": "e012f16688bcb151e965473a70d8ebaa8b1d15ea",
                "shasum": ""
            },
            "type": "library"
        },
        {
            "name": "acme/local-tools",
            "version": "dev-main",
            "dist": {
                "type": "path",
                "url": "../local-tools",
                "reference": "0a8b4c2d6e1f3a5b7c9d0e2f4a6b8c0d1e3f5a7b"
            },
            "type": "library"
        }
    ],
    "packages-dev": [
        {
            "name": "phpunit/phpunit",
            "version": "9.5.10",
            "dist": {
                "type": "zip",
                "url": "https://api.github.com/repos/sebastianbergmann/phpunit/zipball/c814a05837f2edb0d1471d6e3f4ab3501ca3899a",
                "reference": "c814a05837f2edb0d1471d6e3f4ab3501ca3899a",
                "shasum": ""
            },
            "type": "library"
        }
    ],
    "aliases": [],
    "minimum-stability": "stable",
    "stability-flags": [],
    "prefer-stable": false,
    "prefer-lowest": false,
    "platform": {
        "php": ">=7.4"
    },
    "platform-dev": [],
    "plugin-api-version": "2.1.0"
}"#;

#[test]
fn composer_lock_lists_packages_and_dev_packages() {
    assert!(wants("srv/app/composer.lock"));
    let found = extract("srv/app/composer.lock", COMPOSER_LOCK.as_bytes());
    assert_eq!(found.problem, None);
    assert_eq!(
        sorted(&found),
        pairs(&[
            ("monolog/monolog", "2.3.5"),
            ("phpunit/phpunit", "9.5.10"),
            ("symfony/http-kernel", "v5.4.0"),
        ])
    );
    let kernel = found
        .components
        .iter()
        .find(|c| c.name == "symfony/http-kernel")
        .unwrap();
    assert_eq!(kernel.kind, Kind::Composer);
    // Composer's spelling in the component and its purl; advisories' for matching.
    assert_eq!(
        kernel.purl(None).unwrap().to_string(),
        "pkg:composer/symfony/http-kernel@v5.4.0"
    );
    assert_eq!(
        kernel.osv_package(None),
        Some((
            "Packagist".into(),
            "symfony/http-kernel".into(),
            "5.4.0".into()
        ))
    );
    assert_eq!(
        kernel.purl(None).unwrap().to_osv(),
        Some(("Packagist".into(), "symfony/http-kernel".into()))
    );
}

#[test]
fn composer_installed_json_of_composer_1_and_2() {
    let path = "var/www/vendor/composer/installed.json";
    assert!(wants(path));
    assert!(wants("vendor/composer/installed.json"));
    assert!(!wants("var/www/notvendor/composer/installed.json"));
    let composer1 = r#"[
    {
        "name": "guzzlehttp/guzzle",
        "version": "6.5.5",
        "version_normalized": "6.5.5.0",
        "type": "library",
        "installation-source": "dist"
    }
]"#;
    let found = extract(path, composer1.as_bytes());
    assert_eq!(names(&found), pairs(&[("guzzlehttp/guzzle", "6.5.5")]));
    let composer2 = r#"{
    "packages": [
        {
            "name": "guzzlehttp/guzzle",
            "version": "7.4.0",
            "version_normalized": "7.4.0.0",
            "type": "library",
            "installation-source": "dist",
            "install-path": "../guzzlehttp/guzzle"
        },
        {
            "name": "symfony/polyfill-php80",
            "version": "v1.23.1",
            "version_normalized": "1.23.1.0",
            "type": "library",
            "install-path": "../symfony/polyfill-php80"
        }
    ],
    "dev": true,
    "dev-package-names": []
}"#;
    let found = extract(path, composer2.as_bytes());
    assert_eq!(
        names(&found),
        pairs(&[
            ("guzzlehttp/guzzle", "7.4.0"),
            ("symfony/polyfill-php80", "v1.23.1"),
        ])
    );
    assert_eq!(found.components[1].osv_package(None).unwrap().2, "1.23.1");
    assert!(extract(path, b"{\"dev\": true}").problem.is_some());
}

const GEMFILE_LOCK: &str = "GIT
  remote: https://github.com/rails/rails.git
  revision: 9e8c3c0c6f3a1ab1d5f2a3e6b8e4f0a1c2d3e4f5
  branch: main
  specs:
    rails (7.1.0.alpha)
      railties (= 7.1.0.alpha)

PATH
  remote: .
  specs:
    myapp (0.1.0)
      rake (>= 13)

GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.13.10-arm64-darwin)
      racc (~> 1.4)
    nokogiri (1.13.10-x86_64-linux)
      racc (~> 1.4)
    racc (1.6.1)
    rake (13.0.6)

PLATFORMS
  arm64-darwin-22
  x86_64-linux

DEPENDENCIES
  myapp!
  nokogiri (~> 1.13)
  rails!
  rake (~> 13.0)

BUNDLED WITH
   2.3.26
";

#[test]
fn gemfile_lock_lists_gem_and_git_specs_without_platforms() {
    assert!(wants("app/Gemfile.lock"));
    assert!(wants("app/gems.locked"));
    let found = extract("app/Gemfile.lock", GEMFILE_LOCK.as_bytes());
    assert_eq!(found.problem, None);
    // `myapp` is the project's own PATH gem; the GIT gem is reported like the others.
    assert_eq!(
        sorted(&found),
        pairs(&[
            ("nokogiri", "1.13.10"),
            ("racc", "1.6.1"),
            ("rails", "7.1.0.alpha"),
            ("rake", "13.0.6"),
        ])
    );
    let nokogiri = found
        .components
        .iter()
        .find(|c| c.name == "nokogiri")
        .unwrap();
    assert_eq!(nokogiri.kind, Kind::Gem);
    assert_eq!(
        nokogiri.osv_package(None),
        Some(("RubyGems".into(), "nokogiri".into(), "1.13.10".into()))
    );
    assert_eq!(
        nokogiri.purl(None).unwrap().to_string(),
        "pkg:gem/nokogiri@1.13.10"
    );
}

const NOKOGIRI_GEMSPEC: &str = r#"# -*- encoding: utf-8 -*-
# stub: nokogiri 1.13.10 x86_64-linux lib

Gem::Specification.new do |s|
  s.name = "nokogiri".freeze
  s.version = "1.13.10"
  s.platform = "x86_64-linux".freeze

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
  s.metadata = { "bug_tracker_uri" => "https://github.com/sparklemotion/nokogiri/issues" } if s.respond_to? :metadata=
  s.require_paths = ["lib".freeze]
  s.authors = ["Mike Dalessio".freeze, "Aaron Patterson".freeze]
  s.date = "2022-12-07"
  s.rubygems_version = "3.3.26".freeze
  s.summary = "Nokogiri makes it easy and painless to work with XML and HTML from Ruby.".freeze

  s.installed_by_version = "3.3.26" if s.respond_to? :installed_by_version

  if s.respond_to? :specification_version then
    s.specification_version = 4
  end

  if s.respond_to? :add_runtime_dependency then
    s.add_runtime_dependency(%q<racc>.freeze, ["~> 1.4"])
  else
    s.add_dependency(%q<racc>.freeze, ["~> 1.4"])
  end
end
"#;

#[test]
fn installed_gemspecs_name_their_gem() {
    let path = "usr/local/bundle/specifications/nokogiri-1.13.10-x86_64-linux.gemspec";
    assert!(wants(path));
    assert!(wants(
        "usr/local/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec"
    ));
    assert!(!wants("src/myapp/myapp.gemspec"));
    let found = extract(path, NOKOGIRI_GEMSPEC.as_bytes());
    assert_eq!(names(&found), pairs(&[("nokogiri", "1.13.10")]));
    assert_eq!(found.components[0].kind, Kind::Gem);
    // Without readable assignments, the stub comment, then the file name.
    let found = extract(path, b"# stub: nokogiri 1.13.9 x86_64-linux lib\n");
    assert_eq!(names(&found), pairs(&[("nokogiri", "1.13.9")]));
    let found = extract(
        "usr/local/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec",
        b"",
    );
    assert_eq!(names(&found), pairs(&[("json", "2.6.1")]));
}

const DEPS_JSON: &str = r#"{
  "runtimeTarget": {
    "name": ".NETCoreApp,Version=v6.0",
    "signature": ""
  },
  "compilationOptions": {},
  "targets": {
    ".NETCoreApp,Version=v6.0": {
      "MyApp/1.0.0": {
        "dependencies": {
          "MyApp.Core": "1.0.0",
          "Newtonsoft.Json": "13.0.1"
        },
        "runtime": {
          "MyApp.dll": {}
        }
      },
      "Newtonsoft.Json/13.0.1": {
        "runtime": {
          "lib/netstandard2.0/Newtonsoft.Json.dll": {
            "assemblyVersion": "13.0.0.0",
            "fileVersion": "13.0.1.25517"
          }
        }
      },
      "MyApp.Core/1.0.0": {
        "runtime": {
          "MyApp.Core.dll": {}
        }
      }
    }
  },
  "libraries": {
    "MyApp/1.0.0": {
      "type": "project",
      "serviceable": false,
      "sha512": ""
    },
    "Newtonsoft.Json/13.0.1": {
      "type": "package",
      "serviceable": true,
      "sha512": "sha512-ppPFpBcvxdsfUonNcvITKqLl3bqxWbDCZIzDWHzjpdAHRFfZe0Dw9HmA0+za13IdyrgJwpkDTDA9fHaxOrt20A==",
      "path": "newtonsoft.json/13.0.1",
      "hashPath": "newtonsoft.json.13.0.1.nupkg.sha512"
    },
    "MyApp.Core/1.0.0": {
      "type": "project",
      "serviceable": false,
      "sha512": ""
    }
  }
}"#;

#[test]
fn deps_json_lists_packages_not_projects() {
    let path = "app/MyApp.deps.json";
    assert!(wants(path));
    assert!(!wants("app/.deps.json"));
    let found = extract(path, DEPS_JSON.as_bytes());
    assert_eq!(found.problem, None);
    assert_eq!(names(&found), pairs(&[("Newtonsoft.Json", "13.0.1")]));
    let json = &found.components[0];
    assert_eq!(json.kind, Kind::NuGet);
    assert_eq!(
        json.osv_package(None),
        Some(("NuGet".into(), "Newtonsoft.Json".into(), "13.0.1".into()))
    );
    assert_eq!(
        json.purl(None).unwrap().to_string(),
        "pkg:nuget/Newtonsoft.Json@13.0.1"
    );
}

#[test]
fn packages_lock_json_lists_each_package_once() {
    let lock = r#"{
  "version": 1,
  "dependencies": {
    "net6.0": {
      "Newtonsoft.Json": {
        "type": "Direct",
        "requested": "[13.0.1, )",
        "resolved": "13.0.1",
        "contentHash": "ppPFpBcvxdsfUonNcvITKqLl3bqxWbDCZIzDWHzjpdAHRFfZe0Dw9HmA0+za13IdyrgJwpkDTDA9fHaxOrt20A=="
      },
      "System.Text.Encodings.Web": {
        "type": "Transitive",
        "resolved": "4.7.2",
        "contentHash": "iTUgB/WtrZ1sWZs84F2hwyQhiRH6QNjQv2DkwrH+WP6RoFga2Q1m3f9/Q7FG8cck8AdHitQkmkXSY8qylcDmuA=="
      },
      "myapp.core": {
        "type": "Project",
        "dependencies": {
          "Newtonsoft.Json": "[13.0.1, )"
        }
      }
    },
    "net6.0/linux-x64": {
      "System.Text.Encodings.Web": {
        "type": "Transitive",
        "resolved": "4.7.2",
        "contentHash": "iTUgB/WtrZ1sWZs84F2hwyQhiRH6QNjQv2DkwrH+WP6RoFga2Q1m3f9/Q7FG8cck8AdHitQkmkXSY8qylcDmuA=="
      }
    }
  }
}"#;
    assert!(wants("src/MyApp/packages.lock.json"));
    let found = extract("src/MyApp/packages.lock.json", lock.as_bytes());
    assert_eq!(found.problem, None);
    assert_eq!(
        sorted(&found),
        pairs(&[
            ("Newtonsoft.Json", "13.0.1"),
            ("System.Text.Encodings.Web", "4.7.2"),
        ])
    );
}

/// A zip archive of `(name, bytes)` entries, as `jar` writes them (deflated).
fn zip_archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

const LOG4J_POM_PROPERTIES: &[u8] = b"#Created by Apache Maven 3.6.3
version=2.14.1
groupId=org.apache.logging.log4j
artifactId=log4j-core
";

#[test]
fn jars_yield_their_pom_properties_and_nested_jars() {
    let log4j = zip_archive(&[
        (
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nImplementation-Title: Apache Log4j Core\r\nImplementation-Version: 2.14.1\r\n\r\n",
        ),
        (
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            LOG4J_POM_PROPERTIES,
        ),
        (
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.xml",
            b"<project/>",
        ),
        ("org/apache/logging/log4j/core/Logger.class", b"\xca\xfe\xba\xbe"),
    ]);
    // No pom.properties: the manifest names it, wrapped at 72 bytes, without a group.
    let legacy = zip_archive(&[(
        "META-INF/MANIFEST.MF",
        b"Manifest-Version: 1.0\r\nBundle-SymbolicName: org.example.legacy.util\r\n ities;singleton:=true\r\nBundle-Version: 1.0.3\r\n\r\nName: org/example/\r\nImplementation-Title: not the main section\r\n",
    )]);
    let war = zip_archive(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\n\r\n"),
        (
            "META-INF/maven/com.example/shop/pom.properties",
            b"#Generated by Maven\n#Tue Mar 01 12:00:00 UTC 2022\ngroupId=com.example\nartifactId=shop\nversion=1.0.0\n",
        ),
        ("WEB-INF/lib/log4j-core-2.14.1.jar", &log4j),
        ("WEB-INF/lib/legacy-utilities.jar", &legacy),
        ("WEB-INF/lib/broken.jar", b"not a zip archive"),
        ("index.jsp", b"<html/>"),
    ]);
    let path = "usr/local/tomcat/webapps/shop.war";
    assert!(wants(path));
    assert!(wants("opt/app/lib/thing.JAR"));
    assert!(wants("opt/jenkins/plugins/git.hpi"));
    assert!(!wants("opt/app/lib/jar"));
    let found = extract(path, &war);
    let mut got: Vec<(String, String, String)> = found
        .components
        .iter()
        .map(|c| (c.name.clone(), c.version.clone(), c.path.clone()))
        .collect();
    got.sort();
    let nested = |jar: &str| format!("{path}!/WEB-INF/lib/{jar}");
    assert_eq!(
        got,
        [
            ("com.example:shop".into(), "1.0.0".into(), path.to_owned()),
            (
                "org.apache.logging.log4j:log4j-core".into(),
                "2.14.1".into(),
                nested("log4j-core-2.14.1.jar")
            ),
            (
                "org.example.legacy.utilities".into(),
                "1.0.3".into(),
                nested("legacy-utilities.jar")
            ),
        ]
    );
    // The broken jar is a problem, not a failure of the whole war.
    let problem = found.problem.unwrap();
    assert!(problem.contains("broken.jar"), "{problem}");
    assert!(!problem.contains("log4j"), "{problem}");

    let log4j = found
        .components
        .iter()
        .find(|c| c.name.ends_with("log4j-core"))
        .unwrap();
    assert_eq!(log4j.kind, Kind::Maven);
    assert_eq!(
        log4j.osv_package(None),
        Some((
            "Maven".into(),
            "org.apache.logging.log4j:log4j-core".into(),
            "2.14.1".into()
        ))
    );
    let purl = log4j.purl(None).unwrap();
    assert_eq!(
        purl.to_string(),
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    );
    assert_eq!(
        purl.to_osv(),
        Some(("Maven".into(), "org.apache.logging.log4j:log4j-core".into()))
    );
    // Known by its manifest only: no group, so nothing to match and no Maven coordinate.
    let legacy = found
        .components
        .iter()
        .find(|c| c.name.contains("legacy"))
        .unwrap();
    assert_eq!(legacy.osv_package(None), None);
    assert_eq!(legacy.purl(None), None);
}

#[test]
fn nested_archives_are_read_three_deep() {
    let pom = |artifact: &str| {
        format!("groupId=org.example\nartifactId={artifact}\nversion=1.0\n").into_bytes()
    };
    let fourth = zip_archive(&[("META-INF/maven/org.example/d/pom.properties", &pom("d"))]);
    let third = zip_archive(&[
        ("META-INF/maven/org.example/c/pom.properties", &pom("c")),
        ("lib/d.jar", &fourth),
    ]);
    let second = zip_archive(&[
        ("META-INF/maven/org.example/b/pom.properties", &pom("b")),
        ("app.war", &third),
    ]);
    let first = zip_archive(&[
        ("META-INF/maven/org.example/a/pom.properties", &pom("a")),
        ("lib/app.war", &second),
    ]);
    let found = extract("app.ear", &first);
    let got: Vec<(String, String)> = found
        .components
        .iter()
        .map(|c| (c.name.clone(), c.path.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("org.example:a".to_owned(), "app.ear".to_owned()),
            (
                "org.example:b".to_owned(),
                "app.ear!/lib/app.war".to_owned()
            ),
            (
                "org.example:c".to_owned(),
                "app.ear!/lib/app.war!/app.war".to_owned()
            ),
        ]
    );
    let problem = found.problem.unwrap();
    assert!(
        problem.contains("app.ear!/lib/app.war!/app.war!/lib/d.jar"),
        "{problem}"
    );
}

#[test]
fn loose_pom_properties_name_an_artifact() {
    let path = "opt/app/META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties";
    assert!(wants(path));
    assert!(!wants("opt/app/config/pom.properties"));
    let found = extract(path, LOG4J_POM_PROPERTIES);
    assert_eq!(
        names(&found),
        pairs(&[("org.apache.logging.log4j:log4j-core", "2.14.1")])
    );
    assert_eq!(found.components[0].path, path);
    let unresolved = extract(
        path,
        b"groupId=org.example\nartifactId=x\nversion=${project.version}\n",
    );
    assert!(unresolved.components.is_empty());
    assert!(unresolved.problem.is_some());
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
            "yarn.lock",
            "pnpm-lock.yaml",
            "composer.lock",
            "vendor/composer/installed.json",
            "Gemfile.lock",
            "specifications/x-1.0.gemspec",
            "app.deps.json",
            "packages.lock.json",
            "META-INF/maven/g/a/pom.properties",
            "app.jar",
            "var/lib/rpm/rpmdb.sqlite",
            "var/lib/rpm/Packages.db",
            "var/lib/rpm/Packages",
            "usr/local/bin/tool",
        ] {
            let _ = extract(path, &bytes);
        }
    }
}

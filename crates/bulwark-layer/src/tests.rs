#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;

use super::*;

/// Records what it is handed; wants every path ending in one of its suffixes.
#[derive(Default)]
struct Collect {
    suffixes: Vec<&'static str>,
    files: BTreeMap<String, Vec<u8>>,
}

impl Visitor for Collect {
    fn wants(&mut self, path: &str, _entry: &Entry) -> bool {
        self.suffixes.iter().any(|s| path.ends_with(s))
    }

    fn file(&mut self, path: &str, content: &[u8]) {
        self.files.insert(path.to_owned(), content.to_vec());
    }
}

fn collect(suffixes: &[&'static str]) -> Collect {
    Collect {
        suffixes: suffixes.to_vec(),
        ..Collect::default()
    }
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    header
}

/// A tar with these (name, content) files, names written raw (so hostile ones survive).
fn tar_of(files: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, content) in files {
        let mut header = header(tar::EntryType::Regular, content.len() as u64);
        let bytes = header.as_old_mut();
        bytes.name[..name.len()].copy_from_slice(name);
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(content);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn wanted_files_arrive_whole_in_every_compression() {
    let tar = tar_of(&[
        (b"./etc/os-release", b"ID=debian\n"),
        (b"usr/bin/tool", b"\x7fELF"),
        (b"/var/lib/dpkg/status", b"Package: a\n"),
    ]);
    for blob in [
        tar.clone(),
        gzip(&tar),
        zstd::stream::encode_all(&tar[..], 3).unwrap(),
    ] {
        let mut seen = collect(&["os-release", "dpkg/status"]);
        let summary = read_layer(&blob[..], &Limits::default(), &mut seen).unwrap();
        assert_eq!(summary.entries, 3);
        assert_eq!(summary.bytes, tar.len() as u64);
        assert_eq!(seen.files["etc/os-release"], b"ID=debian\n");
        assert_eq!(seen.files["var/lib/dpkg/status"], b"Package: a\n");
        assert_eq!(seen.files.len(), 2, "unwanted files are not read");
        assert_eq!(
            summary.changes.present,
            PathSet::from_paths(["etc/os-release", "usr/bin/tool", "var/lib/dpkg/status"]),
            "every entry's path, read or not"
        );
    }
}

#[test]
fn whiteouts_and_opaque_folders_are_recorded_not_handed_over() {
    let tar = tar_of(&[
        (b"usr/lib/python3/site-packages/.wh.old-1.0.dist-info", b""),
        (b"app/node_modules/.wh..wh..opq", b""),
        (b".wh.top", b""),
    ]);
    let mut seen = collect(&[""]);
    let summary = read_layer(&tar[..], &Limits::default(), &mut seen).unwrap();
    assert_eq!(
        summary.changes.whiteouts,
        ["usr/lib/python3/site-packages/old-1.0.dist-info", "top"]
    );
    assert_eq!(summary.changes.opaque, ["app/node_modules"]);
    assert!(seen.files.is_empty());
}

#[test]
fn hostile_names_are_skipped_with_a_warning() {
    let tar = tar_of(&[
        (b"../../etc/passwd", b"root"),
        (b"ok/\xff\xfe/METADATA", b"x"),
        (b"fine/METADATA", b"y"),
    ]);
    let mut seen = collect(&["METADATA", "passwd"]);
    let summary = read_layer(&tar[..], &Limits::default(), &mut seen).unwrap();
    assert_eq!(seen.files.keys().collect::<Vec<_>>(), ["fine/METADATA"]);
    assert_eq!(summary.warnings.len(), 2, "{:?}", summary.warnings);
}

#[test]
fn links_are_recorded_and_never_followed() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut link = header(tar::EntryType::Symlink, 0);
    builder
        .append_link(&mut link, "etc/os-release", "/../../host/etc/os-release")
        .unwrap();
    let tar = builder.into_inner().unwrap();
    let mut seen = collect(&["os-release"]);
    let summary = read_layer(&tar[..], &Limits::default(), &mut seen).unwrap();
    assert!(seen.files.is_empty());
    assert!(
        summary.changes.present.contains("etc/os-release"),
        "it replaces what was below"
    );
}

#[test]
fn files_over_the_cap_are_skipped() {
    let big = vec![b'x'; 10_000];
    let tar = tar_of(&[(b"big/METADATA", &big), (b"small/METADATA", b"ok")]);
    let limits = Limits {
        max_file_bytes: 1000,
        ..Limits::default()
    };
    let mut seen = collect(&["METADATA"]);
    let summary = read_layer(&tar[..], &limits, &mut seen).unwrap();
    assert_eq!(seen.files.keys().collect::<Vec<_>>(), ["small/METADATA"]);
    assert_eq!(summary.warnings.len(), 1);
}

#[test]
fn bombs_and_floods_stop_with_a_clear_error() {
    // 64 MiB of zeros in one file gzips to about 64 KiB: a ratio near 1000.
    let zeros = vec![0u8; 64 << 20];
    let tar = tar_of(&[(b"zeros", &zeros)]);
    let bomb = gzip(&tar);
    let limits = Limits {
        max_ratio: 100,
        ratio_grace: 1 << 20,
        ..Limits::default()
    };
    let error = read_layer(&bomb[..], &limits, &mut collect(&[])).unwrap_err();
    assert!(
        matches!(error, LayerError::RatioExceeded { limit: 100 }),
        "{error}"
    );
    let limits = Limits {
        max_layer_bytes: 1 << 20,
        ..Limits::default()
    };
    let error = read_layer(&tar[..], &limits, &mut collect(&[])).unwrap_err();
    assert!(matches!(error, LayerError::TooLarge { .. }), "{error}");

    let many: Vec<(Vec<u8>, Vec<u8>)> = (0..50)
        .map(|n| (format!("f{n}").into_bytes(), Vec::new()))
        .collect();
    let borrowed: Vec<(&[u8], &[u8])> = many.iter().map(|(a, b)| (&a[..], &b[..])).collect();
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let error = read_layer(&tar_of(&borrowed)[..], &limits, &mut collect(&[])).unwrap_err();
    assert!(
        matches!(error, LayerError::TooManyEntries { limit: 10 }),
        "{error}"
    );
}

#[test]
fn broken_archives_are_errors_not_panics() {
    let tar = tar_of(&[(b"a/METADATA", b"hello world")]);
    // Cut inside the file's data.
    let cut = &tar[..520];
    assert!(read_layer(cut, &Limits::default(), &mut collect(&["METADATA"])).is_err());
    // A gzip stream cut short.
    let gz = gzip(&tar);
    assert!(read_layer(&gz[..gz.len() / 2], &Limits::default(), &mut collect(&[])).is_err());
    // Garbage.
    let garbage = vec![0x5a_u8; 4096];
    let _ = read_layer(&garbage[..], &Limits::default(), &mut collect(&[""]));
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
        let _ = read_layer(&bytes[..], &Limits::default(), &mut collect(&[""]));
    }
}

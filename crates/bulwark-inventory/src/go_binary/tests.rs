#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::extract;

/// Where the hand-built ELF files are loaded.
pub(crate) const BASE: u64 = 0x40_0000;
/// Where [`elf`] puts its `extra` bytes: 16-byte aligned, after the headers.
pub(crate) const EXTRA_AT: usize = 128;

/// A minimal little-endian ELF64 executable: one loadable segment mapping the whole file
/// at [`BASE`], `extra` at file offset [`EXTRA_AT`], and, unless `sections` is empty,
/// section headers naming each of `sections` (plus the name table).
pub(crate) fn elf(sections: &[(&str, &[u8])], extra: &[u8]) -> Vec<u8> {
    let align = |file: &mut Vec<u8>, to: usize| {
        while !file.len().is_multiple_of(to) {
            file.push(0);
        }
    };
    let mut file = vec![0u8; EXTRA_AT];
    file.extend_from_slice(extra);
    // (name offset, type, file offset, size) of each section header after the null one.
    let mut headers = Vec::new();
    let mut names = vec![0u8];
    for (name, data) in sections {
        align(&mut file, 16);
        headers.push((names.len(), 1u32, file.len(), data.len()));
        names.extend_from_slice(name.as_bytes());
        names.push(0);
        file.extend_from_slice(data);
    }
    let mut section_count = 0;
    let mut section_table = 0;
    if !sections.is_empty() {
        let names_name = names.len();
        names.extend_from_slice(b".shstrtab\0");
        headers.push((names_name, 3, file.len(), names.len()));
        file.extend_from_slice(&names);
        align(&mut file, 8);
        section_table = file.len();
        file.extend_from_slice(&[0u8; 64]);
        for (name, ty, offset, size) in &headers {
            let mut header = Vec::new();
            header.extend_from_slice(&u32::try_from(*name).unwrap().to_le_bytes());
            header.extend_from_slice(&ty.to_le_bytes());
            // Loaded sections are allocated (SHF_ALLOC) at their place in the segment.
            let (flags, address) = if *ty == 1 {
                (2u64, BASE + *offset as u64)
            } else {
                (0, 0)
            };
            header.extend_from_slice(&flags.to_le_bytes());
            header.extend_from_slice(&address.to_le_bytes());
            header.extend_from_slice(&(*offset as u64).to_le_bytes());
            header.extend_from_slice(&(*size as u64).to_le_bytes());
            header.extend_from_slice(&[0u8; 8]);
            header.extend_from_slice(&16u64.to_le_bytes());
            header.extend_from_slice(&0u64.to_le_bytes());
            file.extend_from_slice(&header);
        }
        section_count = headers.len() + 1;
    }
    let len = file.len() as u64;
    let mut head = Vec::new();
    head.extend_from_slice(b"\x7fELF");
    head.extend_from_slice(&[2, 1, 1, 0]);
    head.extend_from_slice(&[0u8; 8]);
    head.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    head.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    head.extend_from_slice(&1u32.to_le_bytes());
    head.extend_from_slice(&BASE.to_le_bytes()); // entry
    head.extend_from_slice(&64u64.to_le_bytes()); // program headers
    head.extend_from_slice(&(section_table as u64).to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    head.extend_from_slice(&64u16.to_le_bytes());
    head.extend_from_slice(&56u16.to_le_bytes());
    head.extend_from_slice(&1u16.to_le_bytes());
    head.extend_from_slice(&64u16.to_le_bytes());
    head.extend_from_slice(&u16::try_from(section_count).unwrap().to_le_bytes());
    head.extend_from_slice(
        &u16::try_from(section_count.saturating_sub(1))
            .unwrap()
            .to_le_bytes(),
    );
    // PT_LOAD, readable and writable, the whole file at BASE.
    head.extend_from_slice(&1u32.to_le_bytes());
    head.extend_from_slice(&6u32.to_le_bytes());
    head.extend_from_slice(&0u64.to_le_bytes());
    head.extend_from_slice(&BASE.to_le_bytes());
    head.extend_from_slice(&BASE.to_le_bytes());
    head.extend_from_slice(&len.to_le_bytes());
    head.extend_from_slice(&len.to_le_bytes());
    head.extend_from_slice(&0x1000u64.to_le_bytes());
    assert_eq!(head.len(), 120);
    file[..120].copy_from_slice(&head);
    file
}

const MODINFO: &str = "path\texample.com/app/cmd/app
mod\texample.com/app\t(devel)\t
dep\tgithub.com/gin-gonic/gin\tv1.9.1\th1:4idEAncQnU5cB7BeOkPtxjfCzGRhbTvoe1YmnadZ5xg=
dep\tgolang.org/x/net\tv0.10.0\th1:X2//UzNDwYmtCLn7To6G58Wr6f5ahEAQgKNzv9Y951M=
=>\tgolang.org/x/net\tv0.17.0\th1:pVaXccu2ozPjCXewfr1S7xoGs3YYeA0rJvOyoq3NgLU=
dep\texample.com/local\tv0.0.0
=>\t../local\t(devel)\t
build\t-compiler=gc
build\tCGO_ENABLED=1
";

/// Module info as the linker frames it: 16 bytes before, and 16 after its last newline.
fn framed(modinfo: &str) -> Vec<u8> {
    [&[0x30u8; 16][..], modinfo.as_bytes(), &[0xf9u8; 16][..]].concat()
}

fn uvarint_bytes(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = u8::try_from(value & 0x7f).unwrap();
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Build info of Go 1.18 and later: the strings in place.
fn inline_blob(go: &str, modinfo: &[u8]) -> Vec<u8> {
    let mut blob = MAGIC.to_vec();
    blob.extend_from_slice(&[8, FLAG_INLINE]);
    blob.resize(HEADER_SIZE, 0);
    for string in [go.as_bytes(), modinfo] {
        blob.extend_from_slice(&uvarint_bytes(string.len()));
        blob.extend_from_slice(string);
    }
    blob
}

fn found(extracted: &crate::Extracted) -> Vec<(&str, &str)> {
    extracted
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.version.as_str()))
        .collect()
}

#[test]
fn module_info_lists_modules_after_their_replacements() {
    let info = read(&inline_blob("go1.21.3", &framed(MODINFO)), None).unwrap();
    assert_eq!(info.go, "go1.21.3");
    assert_eq!(
        info.modules,
        [
            ("example.com/app".into(), "(devel)".into()),
            ("github.com/gin-gonic/gin".into(), "v1.9.1".into()),
            ("golang.org/x/net".into(), "v0.17.0".into()),
            ("../local".into(), "(devel)".into()),
        ]
    );
    // Without its sentinels the module info is not read, as Go reads it.
    let info = read(&inline_blob("go1.21.3", MODINFO.as_bytes()), None).unwrap();
    assert!(info.modules.is_empty());
    // Truncated anywhere: an error, never a panic.
    let blob = inline_blob("go1.21.3", &framed(MODINFO));
    for cut in 0..blob.len() {
        let _ = read(&blob[..cut], None);
    }
    assert!(read(&blob[..blob.len() - 1], None).is_err());
}

#[test]
fn go_releases_become_semver() {
    for (go, semver) in [
        ("go1.21.3", Some("1.21.3")),
        ("go1.21", Some("1.21.0")),
        ("go1.22rc1", Some("1.22.0-rc.1")),
        ("go1.18beta2", Some("1.18.0-beta.2")),
        ("go1.20.5 X:boringcrypto", Some("1.20.5")),
        ("devel go1.23-b0b1e6a Tue Jan 2 2024", None),
        ("go", None),
        ("go1", None),
    ] {
        assert_eq!(stdlib_version(go).as_deref(), semver, "{go}");
    }
}

#[test]
fn an_elf_build_info_section_yields_stdlib_and_modules() {
    let blob = inline_blob("go1.21.3", &framed(MODINFO));
    let binary = elf(&[(".go.buildinfo", blob.as_slice())], b"");
    assert!(crate::is_binary_candidate(&binary));
    assert!(
        !crate::wants("usr/local/bin/app"),
        "binaries are not known by name"
    );
    let extracted = extract("usr/local/bin/app", &binary);
    assert_eq!(extracted.problem, None);
    assert_eq!(
        found(&extracted),
        [
            ("stdlib", "1.21.3"),
            ("github.com/gin-gonic/gin", "v1.9.1"),
            ("golang.org/x/net", "v0.17.0"),
        ]
    );
    let gin = &extracted.components[1];
    assert_eq!(gin.kind, Kind::Go);
    assert_eq!(gin.path, "usr/local/bin/app");
    assert_eq!(
        gin.osv_package(None),
        Some((
            "Go".into(),
            "github.com/gin-gonic/gin".into(),
            "1.9.1".into()
        ))
    );
    assert_eq!(
        gin.purl(None).unwrap().to_string(),
        "pkg:golang/github.com/gin-gonic/gin@v1.9.1"
    );
    let stdlib = &extracted.components[0];
    assert_eq!(
        stdlib.osv_package(None),
        Some(("Go".into(), "stdlib".into(), "1.21.3".into()))
    );
    assert_eq!(
        stdlib.purl(None).unwrap().to_string(),
        "pkg:golang/stdlib@1.21.3"
    );
}

#[test]
fn without_section_headers_the_magic_is_found_in_the_data() {
    let blob = inline_blob("go1.22.0", &framed(MODINFO));
    // A stray magic first, not 16-byte aligned and not build info: passed over.
    let mut extra = vec![0u8; 3];
    extra.extend_from_slice(MAGIC);
    extra.resize(48, 0);
    extra.extend_from_slice(&blob);
    let binary = elf(&[], &extra);
    let extracted = extract("app", &binary);
    assert_eq!(extracted.problem, None);
    assert_eq!(found(&extracted)[0], ("stdlib", "1.22.0"));
    assert_eq!(extracted.components.len(), 3);
    // A binary holding only the bare magic (a tool that reads Go binaries): nothing.
    let mut bare = MAGIC.to_vec();
    bare.resize(64, 0);
    let extracted = extract("tool", &elf(&[], &bare));
    assert_eq!(extracted, crate::Extracted::default());
}

#[test]
fn go_before_1_18_points_at_its_strings() {
    // Header at EXTRA_AT; string headers and strings after it, addressed through the
    // segment that maps the file at BASE.
    let modinfo = framed("path\tx\nmod\tx\t(devel)\t\ndep\tgithub.com/pkg/errors\tv0.9.1\th1:x=\n");
    let go = b"go1.16.15";
    let header_at = EXTRA_AT as u64;
    let strings_at = header_at + 64;
    let version_data = strings_at + 32;
    let modinfo_data = version_data + go.len() as u64;
    let mut extra = MAGIC.to_vec();
    extra.extend_from_slice(&[8, 0]);
    extra.extend_from_slice(&(BASE + strings_at).to_le_bytes());
    extra.extend_from_slice(&(BASE + strings_at + 16).to_le_bytes());
    extra.resize(64, 0);
    for (data, len) in [(version_data, go.len()), (modinfo_data, modinfo.len())] {
        extra.extend_from_slice(&(BASE + data).to_le_bytes());
        extra.extend_from_slice(&(len as u64).to_le_bytes());
    }
    extra.extend_from_slice(go);
    extra.extend_from_slice(&modinfo);
    let extracted = extract("old", &elf(&[], &extra));
    assert_eq!(extracted.problem, None);
    assert_eq!(
        found(&extracted),
        [("stdlib", "1.16.15"), ("github.com/pkg/errors", "v0.9.1")]
    );
    // A pointer outside every segment, in a build info section: reported.
    let mut broken = extra;
    broken[16..24].copy_from_slice(&0xdead_0000u64.to_le_bytes());
    let extracted = extract("old", &elf(&[(".go.buildinfo", broken.as_slice())], b""));
    assert!(extracted.problem.unwrap().contains("outside"));
}

#[test]
fn non_binaries_and_other_binaries_yield_nothing() {
    assert!(!crate::is_binary_candidate(b"#!/bin/sh\necho hi\n"));
    assert!(!crate::is_binary_candidate(b"\x7fEL"));
    assert!(crate::is_binary_candidate(&[
        0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1
    ]));
    let mut pe = [0u8; 0x80];
    pe[..2].copy_from_slice(b"MZ");
    pe[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    pe[0x40..0x44].copy_from_slice(b"PE\0\0");
    assert!(crate::is_binary_candidate(&pe));
    pe[0x3c..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(!crate::is_binary_candidate(&pe));
    // An ELF without build info of either kind, and a malformed one.
    assert_eq!(
        extract("usr/bin/true", &elf(&[(".text", &b"\x90\x90"[..])], b"")),
        crate::Extracted::default()
    );
    let mut malformed = elf(&[(".text", &b"\x90"[..])], b"");
    malformed[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
    let _ = extract("usr/bin/broken", &malformed);
}

proptest::proptest! {
    #[test]
    fn damaged_go_binaries_never_panic(
        writes in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 1..16),
        with_section in proptest::bool::ANY
    ) {
        let blob = inline_blob("go1.21.3", &framed(MODINFO));
        let mut binary = if with_section {
            elf(&[(".go.buildinfo", blob.as_slice())], b"")
        } else {
            elf(&[], &blob)
        };
        for (at, byte) in writes {
            let len = binary.len();
            binary[at % len] = byte;
        }
        let _ = extract("app", &binary);
    }
}

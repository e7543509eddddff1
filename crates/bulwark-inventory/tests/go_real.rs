//! The Go build info reader against binaries `go build` makes, checked against what
//! `go version -m` prints. Offline: the module depends on one module served by a
//! `file://` module proxy written here (a real `dep` line, version and checksum) and on
//! one replaced by a local directory (a `=>` line the reader must pass over), and is
//! built three ways: plain, stripped (`-ldflags=-s -w`), and with its section headers
//! then removed, which leaves only the magic search to find the build info.
//!
//! Needs `go` (Debian's `golang-go`; 1.18 or later writes the build info in place).
//! Outside CI the test is skipped, saying so, when it is missing; under CI (`CI` set) a
//! missing `go` fails it: `scripts/test.sh` installs it.
// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

fn go_present() -> bool {
    if Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|output| output.status.success())
    {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "go missing under CI: scripts/test.sh installs golang-go"
    );
    eprintln!("go not installed: the Go binary test did not run (it does under CI)");
    false
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A `go` command that builds offline from the proxy at `proxy`.
fn go(dir: &Path, proxy: &Path) -> Command {
    let mut command = Command::new("go");
    command
        .current_dir(dir.join("app"))
        .env("GOPROXY", format!("file://{}", proxy.display()))
        .env("GOSUMDB", "off")
        // Writable module cache, so the temporary directory can be removed.
        .env("GOFLAGS", "-mod=mod -modcacherw")
        .env("GOPATH", dir.join("gopath"))
        // Shared between runs, so the standard library is compiled once per machine.
        .env(
            "GOCACHE",
            std::env::temp_dir().join("bulwark-go-test-cache"),
        )
        .env("GOTOOLCHAIN", "local")
        .env("GO111MODULE", "on")
        .env("CGO_ENABLED", "0");
    command
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

/// The module `example.com/greet` v1.2.3 in a `file://` proxy under `proxy`.
fn serve_module(proxy: &Path) {
    let base = proxy.join("example.com/greet/@v");
    let go_mod = "module example.com/greet\n\ngo 1.18\n";
    write(&base.join("list"), "v1.2.3\n");
    write(&base.join("v1.2.3.info"), r#"{"Version":"v1.2.3"}"#);
    write(&base.join("v1.2.3.mod"), go_mod);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in [
        ("go.mod", go_mod),
        (
            "greet.go",
            "package greet\n\nfunc Greet() string { return \"hello\" }\n",
        ),
    ] {
        zip.start_file(format!("example.com/greet@v1.2.3/{name}"), options)
            .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    let archive = zip.finish().unwrap().into_inner();
    std::fs::write(base.join("v1.2.3.zip"), archive).unwrap();
}

/// What `go version -m` says the binary holds, as the extractor names it: `stdlib` at
/// the Go release, then each module after its replacement, without `(devel)` ones.
fn listed(dir: &Path, proxy: &Path, binary: &Path) -> BTreeSet<(String, String)> {
    let stdout = run(go(dir, proxy).arg("version").arg("-m").arg(binary));
    let text = String::from_utf8(stdout).unwrap();
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    let release = first.rsplit(' ').next().unwrap();
    let stdlib = release.strip_prefix("go").unwrap();
    // Releases like `go1.19` name no patch: SemVer `1.19.0`.
    let stdlib = if stdlib.matches('.').count() == 1 {
        format!("{stdlib}.0")
    } else {
        stdlib.to_owned()
    };
    let mut modules: Vec<(String, String)> = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.trim_start().split('\t').collect();
        match fields.as_slice() {
            ["mod" | "dep", path, version, ..] => {
                modules.push(((*path).to_owned(), (*version).to_owned()));
            }
            ["=>", path, version, ..] => {
                *modules.last_mut().unwrap() = ((*path).to_owned(), (*version).to_owned());
            }
            _ => {}
        }
    }
    std::iter::once(("stdlib".to_owned(), stdlib))
        .chain(
            modules
                .into_iter()
                .filter(|(_, version)| version != "(devel)"),
        )
        .collect()
}

fn extracted(content: &[u8]) -> BTreeSet<(String, String)> {
    assert!(bulwark_inventory::is_binary_candidate(content));
    let found = bulwark_inventory::extract("usr/local/bin/app", content);
    assert_eq!(found.problem, None);
    found
        .components
        .into_iter()
        .map(|c| {
            assert_eq!(c.kind, bulwark_inventory::Kind::Go);
            (c.name, c.version)
        })
        .collect()
}

/// The ELF file with its section header table dropped (`e_shoff`, `e_shnum` and
/// `e_shstrndx` zeroed), as `sstrip` leaves binaries.
fn without_section_headers(elf: &[u8]) -> Vec<u8> {
    assert_eq!(
        &elf[..6],
        b"\x7fELF\x02\x01",
        "a little-endian ELF64 binary"
    );
    let mut stripped = elf.to_vec();
    stripped[0x28..0x30].fill(0);
    stripped[0x3c..0x40].fill(0);
    stripped
}

#[test]
fn go_binaries_list_what_go_version_lists() {
    if !go_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let proxy = dir.join("proxy");
    serve_module(&proxy);
    write(
        &dir.join("local/go.mod"),
        "module example.com/local\n\ngo 1.18\n",
    );
    write(
        &dir.join("local/local.go"),
        "package local\n\nfunc Name() string { return \"local\" }\n",
    );
    write(
        &dir.join("app/go.mod"),
        "module example.com/app\n\ngo 1.18\n\nrequire (\n\texample.com/greet v1.2.3\n\texample.com/local v0.0.0\n)\n\nreplace example.com/local => ../local\n",
    );
    write(
        &dir.join("app/main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/greet\"\n\t\"example.com/local\"\n)\n\nfunc main() { fmt.Println(greet.Greet(), local.Name()) }\n",
    );
    let plain = dir.join("app-plain");
    let stripped = dir.join("app-stripped");
    run(go(dir, &proxy).args(["build", "-o"]).arg(&plain).arg("."));
    run(go(dir, &proxy)
        .args(["build", "-ldflags=-s -w", "-o"])
        .arg(&stripped)
        .arg("."));

    let expected = listed(dir, &proxy, &plain);
    assert!(
        expected.contains(&("example.com/greet".to_owned(), "v1.2.3".to_owned())),
        "{expected:?}"
    );
    assert!(expected.iter().any(|(name, _)| name == "stdlib"));
    assert!(!expected.iter().any(|(name, _)| name.contains("local")));

    let plain = std::fs::read(plain).unwrap();
    assert_eq!(extracted(&plain), expected);
    assert_eq!(extracted(&std::fs::read(stripped).unwrap()), expected);
    assert_eq!(extracted(&without_section_headers(&plain)), expected);
}

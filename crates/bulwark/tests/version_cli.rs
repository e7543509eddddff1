//! `bulwark version compare|sort` as a person runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

fn bulwark(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn compare_prints_the_ordering() {
    for (ecosystem, a, b, expected) in [
        ("PyPI", "1.0.0rc1", "1.0.0", "<"),
        ("PyPI", "1.0", "1.0.0", "="),
        ("Debian:12", "1:1.0", "2.0", ">"),
        ("Maven", "1.0-alpha", "1.0", "<"),
        ("Alpine:v3.20", "1.2.3-r1", "1.2.3-r0", ">"),
        ("npm", "1.0.0-beta.2", "1.0.0-beta.11", "<"),
    ] {
        let (ok, stdout, stderr) = bulwark(&["version", "compare", "-e", ecosystem, a, b], "");
        assert!(ok, "{stderr}");
        assert_eq!(stdout.trim(), expected, "{ecosystem} {a} {b}");
    }
}

#[test]
fn sort_orders_stdin() {
    let (ok, stdout, _) = bulwark(
        &["version", "sort", "-e", "PyPI"],
        "1.10\n1.2\n\n1.2a1\n1.2.post1\n",
    );
    assert!(ok);
    assert_eq!(stdout, "1.2a1\n1.2\n1.2.post1\n1.10\n");
    let (ok, stdout, _) = bulwark(
        &["version", "sort", "-e", "crates.io", "--reverse", "--json"],
        "0.9.0\n1.0.0\n",
    );
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Vec<String>>(&stdout).unwrap(),
        ["1.0.0", "0.9.0"]
    );
}

#[test]
fn refuses_what_it_cannot_order() {
    let (ok, _, stderr) = bulwark(&["version", "sort", "-e", "npm"], "1.0.0\nnot a version\n");
    assert!(!ok);
    assert!(stderr.contains("line 2"), "{stderr}");
    let (ok, _, stderr) = bulwark(&["version", "compare", "-e", "Julia", "1", "2"], "");
    assert!(!ok);
    assert!(stderr.contains("no known version ordering"), "{stderr}");
}

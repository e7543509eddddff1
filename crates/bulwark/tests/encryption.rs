//! Encryption at rest with real clients: after skopeo's push and a chunked push whose
//! chunks end inside segments, no file of the data directory (the SQLite database
//! included) holds the known plaintext, while pulls and the scanner read it back whole; a
//! flipped byte makes the pull fail instead of returning other bytes; blobs stored before
//! encryption was switched on stay readable and `bulwark keys migrate` seals them;
//! `bulwark keys rotate` re-wraps data keys under a new key-encryption key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The files of `dir` that hold `needle`.
fn holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|path| {
            std::fs::read(path)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

/// A key-encryption key, as `bulwark keys generate` prints one.
fn new_key() -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(["keys", "generate"])
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// An image whose one layer holds `marker` many times over in a file, gzipped without
/// compression (deflate's stored blocks) so that the marker is in the layer's bytes as
/// pushed; the layer as stored in the layout.
fn marked_image(dir: &Path, marker: &str) -> Vec<u8> {
    let text: String = (0..5000).map(|i| format!("{marker} line {i}\n")).collect();
    let tar = tar_of(&[("opt/app/notes.txt", text.as_bytes())]);
    write_oci_image_compressed(
        dir,
        "1.0",
        std::slice::from_ref(&tar),
        flate2::Compression::none(),
    );
    let layer = gzip(&tar, flate2::Compression::none());
    assert!(layer.windows(marker.len()).any(|w| w == marker.as_bytes()));
    layer
}

/// Pulls with skopeo into a layout; the layer blobs it wrote.
fn pull_layers(server: &TestServer, reference: &str) -> Vec<Vec<u8>> {
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            &server.creds(),
            &format!("docker://{}/{reference}", server.address),
            &format!("oci:{}:pulled", layout.display()),
        ],
    );
    files_under(&layout.join("blobs"))
        .into_iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect()
}

/// Where the local store keeps blob `digest`.
fn stored_blob(server: &TestServer, digest: &bulwark_oci::Digest) -> PathBuf {
    let hex = digest.encoded();
    server
        .data_dir
        .join("blobs/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_are_stored_encrypted_and_any_change_is_refused() {
    let key = new_key();
    let server = TestServer::start_with(Backend::Sqlite, &[("BULWARK_ENCRYPTION_KEY", &key)]).await;
    let work = tempfile::tempdir().unwrap();

    // A push by skopeo, and a chunked push whose chunks end inside segments.
    let layout = work.path().join("image");
    let layer = marked_image(&layout, "SKOPEO-PUSHED-PLAINTEXT");
    push_layout(&server, &layout, "proj/app:1.0");
    let chunked: Vec<u8> = (0..300_000u32)
        .flat_map(|i| format!("CHUNKED-PLAINTEXT {i}\n").into_bytes())
        .take(300_000)
        .collect();
    let digest = sha256(&chunked);
    let client = server.client();
    let started = client
        .post(server.url("/v2/proj/chunks/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let mut location = started.headers()["location"].to_str().unwrap().to_owned();
    let mut at = 0;
    for end in [1, 70_000, 131_072, 200_001] {
        let response = client
            .patch(server.url(&location))
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{at}-{}", end - 1))
            .body(chunked[at..end].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "{:?}", response.text().await);
        location = response.headers()["location"].to_str().unwrap().to_owned();
        at = end;
    }
    let separator = if location.contains('?') { '&' } else { '?' };
    let finished = client
        .put(server.url(&format!("{location}{separator}digest={digest}")))
        .body(chunked[at..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(finished.status(), 201, "{:?}", finished.text().await);

    // A blob smaller than a hash block, half-uploaded: its bytes are all in the session's
    // saved hash state, which is stored sealed too (no clear or hex copy in the database).
    let tiny = b"TINY-PLAINTEXT-MARKER-0123456789".to_vec();
    let started = client
        .post(server.url("/v2/proj/tiny/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let tiny_location = started.headers()["location"].to_str().unwrap().to_owned();
    let patched = client
        .patch(server.url(&tiny_location))
        .header("content-type", "application/octet-stream")
        .body(tiny.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 202);
    let tiny_location = patched.headers()["location"].to_str().unwrap().to_owned();
    for needle in [tiny.clone(), hex::encode(&tiny[..16]).into_bytes()] {
        assert_eq!(holding(&server.data_dir, &needle), Vec::<PathBuf>::new());
    }
    let separator = if tiny_location.contains('?') {
        '&'
    } else {
        '?'
    };
    let done = client
        .put(server.url(&format!(
            "{tiny_location}{separator}digest={}",
            sha256(&tiny)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 201, "{:?}", done.text().await);

    // The scanner read the layer through the decryption (and stored what it found).
    let report = api(
        &server,
        reqwest::Method::GET,
        "/api/v1/repositories/proj%2Fapp/artifacts/1.0/scan",
        serde_json::json!({}),
    )
    .await;
    assert!(report["status"].is_string(), "{report}");

    // No file of the data directory holds either plaintext; reads give it back whole.
    for marker in ["SKOPEO-PUSHED-PLAINTEXT", "CHUNKED-PLAINTEXT"] {
        assert_eq!(
            holding(&server.data_dir, marker.as_bytes()),
            Vec::<PathBuf>::new()
        );
    }
    assert!(pull_layers(&server, "proj/app:1.0").contains(&layer));
    let pulled = client
        .get(server.url(&format!("/v2/proj/chunks/blobs/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.status(), 200);
    assert!(pulled.bytes().await.unwrap() == chunked);
    let ranged = client
        .get(server.url(&format!("/v2/proj/chunks/blobs/{digest}")))
        .header("range", "bytes=65530-65545")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert!(ranged.bytes().await.unwrap() == chunked[65_530..65_546]);

    // One byte flipped in the stored blob: the pull fails, it never answers other bytes.
    let file = stored_blob(&server, &digest);
    let mut stored = std::fs::read(&file).unwrap();
    stored[500] ^= 0x20;
    std::fs::write(&file, &stored).unwrap();
    let refused = client
        .get(server.url(&format!("/v2/proj/chunks/blobs/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 500);
    // The server says why (its log is read from its stderr as it comes).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server
        .logs()
        .iter()
        .any(|line| line.contains("does not authenticate"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not say why"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_blobs_are_migrated_and_keys_rotated() {
    let mut server = TestServer::start(Backend::Sqlite).await;
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("image");
    let layer = marked_image(&layout, "STORED-BEFORE-ENCRYPTION");
    push_layout(&server, &layout, "proj/old:1.0");
    assert!(!holding(&server.data_dir, b"STORED-BEFORE-ENCRYPTION").is_empty());

    // Switched on: the old blob is still served as it is.
    let first = new_key();
    server.set_env("BULWARK_ENCRYPTION_KEY", &first);
    server.restart();
    assert!(pull_layers(&server, "proj/old:1.0").contains(&layer));

    // Migrated: nothing in the clear any more, and still served.
    let output = server
        .command()
        .args(["keys", "migrate", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("encrypted"));
    assert_eq!(
        holding(&server.data_dir, b"STORED-BEFORE-ENCRYPTION"),
        Vec::<PathBuf>::new()
    );
    server.set_env("BULWARK_ENCRYPTION_PLAINTEXT_READS", "false");
    server.restart();
    assert!(pull_layers(&server, "proj/old:1.0").contains(&layer));

    // Rotated: the new key first, the old one after it while `keys rotate` re-wraps.
    let second = new_key();
    server.set_env("BULWARK_ENCRYPTION_KEY", &format!("{second},{first}"));
    let output = server
        .command()
        .args(["keys", "rotate", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        said.starts_with("re-wrapped ") && !said.starts_with("re-wrapped 0 "),
        "{said}"
    );
    // The old key alone no longer opens them; the new one alone does.
    server.set_env("BULWARK_ENCRYPTION_KEY", &first);
    server.restart();
    let layer_digest = sha256(&layer);
    let refused = server
        .client()
        .get(server.url(&format!("/v2/proj/old/blobs/{layer_digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 500);
    server.set_env("BULWARK_ENCRYPTION_KEY", &second);
    server.restart();
    assert!(pull_layers(&server, "proj/old:1.0").contains(&layer));
}

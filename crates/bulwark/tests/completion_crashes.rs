//! A real server SIGKILLed in the middle of an upload's completion, at each of its steps,
//! on both metadata back ends: after a restart the client's retried `PUT` answers `201` (or
//! `BLOB_UPLOAD_UNKNOWN` once the session was removed) and the blob serves exactly the bytes
//! that were pushed. The server is held at the step by a fault point (`FAILPOINTS`), so the
//! crash lands there every time, not by timing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;

use bulwark_registry::COMPLETION_FAULT_POINTS as STEPS;

/// With `encrypted`, the blobs are stored sealed: the completion also seals the chunk's
/// unfinished last segment before the same steps.
async fn crash_at_every_step(backend: Backend, encrypted: bool) {
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let env: &[(&str, &str)] = if encrypted {
        &[("BULWARK_ENCRYPTION_KEY", key)]
    } else {
        &[]
    };
    let mut server = TestServer::start_with(backend, env).await;
    for (n, step) in STEPS.into_iter().enumerate() {
        let repo = format!("proj/crash{n}");
        // Two whole 64 KiB segments and part of a third, when sealed.
        let bytes: Vec<u8> = (0..150_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8 ^ n as u8)
            .collect();
        let digest = sha256(&bytes);
        // Held there far longer than the test runs: only the SIGKILL ends it.
        server.set_env("FAILPOINTS", &format!("{step}=sleep(600000)"));
        server.restart();
        let c = server.client();
        let started = c
            .post(server.url(&format!("/v2/{repo}/blobs/uploads/")))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202);
        let location = started.headers()["location"].to_str().unwrap().to_owned();
        let patched = c
            .patch(server.url(&location))
            .header("content-type", "application/octet-stream")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), 202, "{step}");
        let location = patched.headers()["location"].to_str().unwrap().to_owned();
        let complete = |base: String| {
            let separator = if location.contains('?') { '&' } else { '?' };
            format!("{base}{location}{separator}digest={digest}")
        };
        let held = c
            .put(complete(server.base.clone()))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        assert!(
            held.is_err_and(|e| e.is_timeout()),
            "{step}: the PUT was not held"
        );

        server.kill();
        server.unset_env("FAILPOINTS");
        server.restart();
        let c = server.client();
        let retried = c.put(complete(server.base.clone())).send().await.unwrap();
        let status = retried.status();
        let text = retried.text().await.unwrap();
        if step == "registry::complete::after_session_delete" {
            assert_eq!(status, 404, "{step}: {text}");
            assert!(text.contains("BLOB_UPLOAD_UNKNOWN"), "{step}: {text}");
        } else {
            assert_eq!(status, 201, "{step}: {text}");
        }
        let pulled = c
            .get(server.url(&format!("/v2/{repo}/blobs/{digest}")))
            .send()
            .await
            .unwrap();
        assert_eq!(pulled.status(), 200, "{step}");
        assert!(
            pulled.bytes().await.unwrap() == bytes,
            "{step}: the blob is not what was pushed"
        );
    }
}

#[tokio::test]
async fn crash_at_every_completion_step_sqlite() {
    crash_at_every_step(Backend::Sqlite, false).await;
}

#[tokio::test]
async fn crash_at_every_completion_step_postgres() {
    crash_at_every_step(Backend::Postgres, false).await;
}

#[tokio::test]
async fn crash_at_every_completion_step_encrypted() {
    crash_at_every_step(Backend::Sqlite, true).await;
}

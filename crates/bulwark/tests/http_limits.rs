//! Limits at the HTTP layer, seen from raw sockets: the deadline for a request's head (which
//! also closes idle keep-alive connections), the cap on open connections, the deadline for
//! requests that move no blob data, and refused bodies drained so that clients that write
//! everything before reading still get the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes or `within` passes; returns what arrived and whether the
/// peer closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (received, true),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return (received, false),
        }
    }
}

#[tokio::test]
async fn slow_heads_and_idle_connections_are_closed() {
    let server = TestServer::start_with(
        Backend::Sqlite,
        &[("BULWARK_HEADER_READ_TIMEOUT_SECS", "1")],
    )
    .await;
    // Half a request head, then nothing.
    let mut slow = TcpStream::connect(&server.address).await.unwrap();
    slow.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(20)).await;
    assert!(
        closed,
        "a connection that never finishes its head stays open"
    );
    // A keep-alive connection left idle after a request.
    let mut idle = TcpStream::connect(&server.address).await.unwrap();
    idle.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = read_until_closed(&mut idle, Duration::from_secs(20)).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 401"));
    assert!(closed, "an idle keep-alive connection stays open");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait() {
    let server = TestServer::start_with(Backend::Sqlite, &[("BULWARK_MAX_CONNECTIONS", "2")]).await;
    // Two connections that are open and idle take every place.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&server.address).await.unwrap();
        stream
            .write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 401");
        held.push(stream);
    }
    let waiting = anonymous_client().get(server.url("/v2/")).send();
    let waiting = tokio::spawn(waiting);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection was served past the cap"
    );
    held.pop();
    let answered = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the waiting connection was never served once a place was free")
        .unwrap()
        .unwrap();
    assert_eq!(answered.status(), 401);
}

#[tokio::test]
async fn requests_without_blob_data_have_a_deadline() {
    let server =
        TestServer::start_with(Backend::Sqlite, &[("BULWARK_REQUEST_TIMEOUT_SECS", "1")]).await;
    // A manifest that trickles in far slower than the deadline allows.
    let mut stream = TcpStream::connect(&server.address).await.unwrap();
    let head = format!(
        "PUT /v2/proj/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n\
         Content-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 1000\r\n\r\n{{",
        server.basic_credentials()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(20)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("UNAVAILABLE"), "{answer}");
}

/// Writes a whole request, body included, before reading anything, as Python's
/// `http.client` does; returns the status line of the answer.
async fn write_all_then_read(address: &str, head: String, body_len: usize) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let body = vec![b' '; body_len];
    let written = tokio::time::timeout(Duration::from_secs(30), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await
    })
    .await;
    assert!(
        matches!(written, Ok(Ok(()))),
        "the server stopped reading the body: {written:?}"
    );
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buffer[..n]),
            other => panic!("no answer: {other:?}"),
        }
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn refused_bodies_are_drained_so_the_error_is_read() {
    let server = TestServer::start(Backend::Sqlite).await;
    // Over the 4 MiB manifest limit, with credentials: 413.
    let len = 5 * 1024 * 1024;
    let head = format!(
        "PUT /v2/proj/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n\
         Content-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {len}\r\n\r\n",
        server.basic_credentials()
    );
    let status = write_all_then_read(&server.address, head, len).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    // Just under it, without credentials: 401 before a byte of the body is read.
    let len = 3_900_000;
    let head = format!(
        "PUT /v2/proj/app/manifests/v1 HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {len}\r\n\r\n"
    );
    let status = write_all_then_read(&server.address, head, len).await;
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");
}

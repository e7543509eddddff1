//! Advisory archives for tests: a directory tree zipped the way osv.dev publishes it, and a
//! loopback HTTP server that serves such archives by path.

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::path::Path;
use std::sync::Arc;

use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use zip::write::SimpleFileOptions;

/// The files under `dir` whose names end in `.json`, `.yaml` or `.yml`, as a zip archive
/// with paths relative to `dir`, in name order.
pub fn zip_tree(dir: &Path) -> Vec<u8> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files);
    files.sort();
    let entries: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|(name, path)| (name, std::fs::read(path).unwrap()))
        .collect();
    zip_entries(&entries)
}

/// A zip archive of `(name, bytes)` entries, deflated.
pub fn zip_entries(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, std::path::PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "yaml" | "yml")
        ) {
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.push((name, path));
        }
    }
}

/// An HTTP server on 127.0.0.1 serving `{base}/{name}/all.zip` from a map of names to
/// bytes (404 for other names) with an `ETag`, answering 304 to a matching
/// `If-None-Match`, on its own thread; stopped when dropped.
pub struct ArchiveServer {
    pub base_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ArchiveServer {
    pub fn start(archives: HashMap<String, Vec<u8>>) -> ArchiveServer {
        let archives = Arc::new(archives);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new().route(
                    "/{name}/all.zip",
                    get(move |UrlPath(name): UrlPath<String>, headers: HeaderMap| {
                        let archives = Arc::clone(&archives);
                        async move {
                            let Some(bytes) = archives.get(&name) else {
                                return StatusCode::NOT_FOUND.into_response();
                            };
                            let etag = etag_of(bytes);
                            if headers
                                .get(header::IF_NONE_MATCH)
                                .and_then(|v| v.to_str().ok())
                                == Some(etag.as_str())
                            {
                                return StatusCode::NOT_MODIFIED.into_response();
                            }
                            ([(header::ETAG, etag)], bytes.clone()).into_response()
                        }
                    }),
                );
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        stop.await.ok();
                    })
                    .await
                    .unwrap();
            });
        });
        ArchiveServer {
            base_url,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }
}

/// A strong entity tag for `bytes`.
fn etag_of(bytes: &[u8]) -> String {
    use std::hash::{DefaultHasher, Hasher};
    let mut hasher = DefaultHasher::new();
    hasher.write(bytes);
    format!("\"{:016x}\"", hasher.finish())
}

impl Drop for ArchiveServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).ok();
        }
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

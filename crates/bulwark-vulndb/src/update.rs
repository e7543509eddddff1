//! Updating from osv.dev's layout: one `all.zip` per ecosystem under a base URL
//! (`{base_url}/{ecosystem}/all.zip`), each streamed to a temporary file, then imported as
//! one source named by its URL.
//!
//! The archive's `ETag` is logged with its import and sent back as `If-None-Match` next
//! time, so an archive that has not changed (osv.dev's storage answers 304) is not
//! downloaded again; its ecosystems count as checked.

use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use tokio::io::AsyncWriteExt;

use crate::import::{ImportReport, Progress, ProgressFn};
use crate::source::SourceKind;
use crate::{VulnDb, VulnDbError};

/// Where osv.dev publishes its per-ecosystem archives.
pub const DEFAULT_BASE_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// The largest archive downloaded: osv.dev's biggest per-ecosystem archive is a few hundred
/// MB; a server sending more than this is not sending advisories, and must not fill the disk.
pub(crate) const MAX_ARCHIVE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// The longest wait for the next piece of a download before giving up on it.
const STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Characters escaped in an ecosystem name used as one path segment (`Red Hat`,
/// `Ubuntu:22.04:LTS`); `:` is allowed in a path segment and osv.dev's names keep it.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn archive_url(base_url: &str, ecosystem: &str) -> String {
    format!(
        "{}/{}/all.zip",
        base_url.trim_end_matches('/'),
        utf8_percent_encode(ecosystem, SEGMENT)
    )
}

impl VulnDb {
    /// Downloads and imports the archive of each ecosystem, in order. An ecosystem whose
    /// download or import fails is reported and leaves its stored data as it was.
    pub async fn update(
        &self,
        base_url: &str,
        ecosystems: &[String],
        progress: &mut ProgressFn<'_>,
    ) -> Vec<ImportReport> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("bulwark/", env!("CARGO_PKG_VERSION")))
            .build();
        let mut reports = Vec::with_capacity(ecosystems.len());
        for ecosystem in ecosystems {
            let url = archive_url(base_url, ecosystem);
            let report = match self.fetch(&client, &url, progress).await {
                Ok(Download::Archive { file, etag }) => {
                    self.import_source(file.path(), SourceKind::Zip, &url, etag, progress)
                        .await
                }
                Ok(Download::NotModified) => ImportReport {
                    source: url.clone(),
                    not_modified: true,
                    ..ImportReport::default()
                },
                Err(error) => ImportReport {
                    source: url.clone(),
                    failure: Some(error.to_string()),
                    ..ImportReport::default()
                },
            };
            progress(Progress::Done { report: &report });
            reports.push(report);
        }
        reports
    }
}

/// What a conditional download brought.
enum Download {
    /// The archive, in a temporary file deleted when dropped, and its entity tag.
    Archive {
        file: tempfile::NamedTempFile,
        etag: Option<String>,
    },
    /// The archive is the one last imported from this URL.
    NotModified,
}

impl VulnDb {
    /// Downloads `url` unless the server says it is unchanged since the import that logged
    /// its entity tag, which is then recorded as checked.
    async fn fetch(
        &self,
        client: &Result<reqwest::Client, reqwest::Error>,
        url: &str,
        progress: &mut ProgressFn<'_>,
    ) -> Result<Download, VulnDbError> {
        let failed = |message: String| VulnDbError::Download {
            url: url.to_owned(),
            message,
        };
        let client = client
            .as_ref()
            .map_err(|error| failed(with_causes(error)))?;
        let known = self.store.advisory_source_etag(url).await?;
        let mut request = client.get(url);
        if let Some(etag) = &known {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        let response = request
            .send()
            .await
            .map_err(|error| failed(with_causes(&error)))?;
        if let (reqwest::StatusCode::NOT_MODIFIED, Some(etag)) = (response.status(), &known) {
            self.store.advisory_source_unchanged(url, etag).await?;
            return Ok(Download::NotModified);
        }
        let response = response
            .error_for_status()
            .map_err(|error| failed(with_causes(&error)))?;
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let file = download(response, url, progress).await?;
        Ok(Download::Archive { file, etag })
    }
}

/// The error and its causes: reqwest's own message ("error sending request") names none.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    message
}

/// Streams the body of `response` (from `url`) into a temporary file, deleted when the
/// returned handle drops.
async fn download(
    response: reqwest::Response,
    url: &str,
    progress: &mut ProgressFn<'_>,
) -> Result<tempfile::NamedTempFile, VulnDbError> {
    download_within(response, url, progress, MAX_ARCHIVE_BYTES).await
}

/// [`download`], refusing more than `limit` bytes (announced or received).
async fn download_within(
    mut response: reqwest::Response,
    url: &str,
    progress: &mut ProgressFn<'_>,
    limit: u64,
) -> Result<tempfile::NamedTempFile, VulnDbError> {
    let failed = |message: String| VulnDbError::Download {
        url: url.to_owned(),
        message,
    };
    let too_large = || failed(format!("the archive is larger than {limit} bytes"));
    let total = response.content_length();
    if total.is_some_and(|total| total > limit) {
        return Err(too_large());
    }
    let archive = tempfile::Builder::new()
        .prefix("bulwark-advisories-")
        .suffix(".zip")
        .tempfile()
        .map_err(|error| failed(format!("creating a temporary file: {error}")))?;
    let handle = archive
        .as_file()
        .try_clone()
        .map_err(|error| failed(format!("opening the temporary file: {error}")))?;
    let mut file = tokio::fs::File::from_std(handle);
    let mut received = 0u64;
    progress(Progress::Download {
        url,
        received,
        total,
    });
    loop {
        let chunk = tokio::time::timeout(STALL_TIMEOUT, response.chunk())
            .await
            .map_err(|_| failed(format!("no data for {} s", STALL_TIMEOUT.as_secs())))?
            .map_err(|error| failed(with_causes(&error)))?;
        let Some(chunk) = chunk else {
            break;
        };
        if received + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        file.write_all(&chunk)
            .await
            .map_err(|error| failed(format!("writing the temporary file: {error}")))?;
        received += chunk.len() as u64;
        progress(Progress::Download {
            url,
            received,
            total,
        });
    }
    if let Some(total) = total
        && received != total
    {
        return Err(failed(format!("received {received} of {total} bytes")));
    }
    file.flush()
        .await
        .map_err(|error| failed(format!("writing the temporary file: {error}")))?;
    Ok(archive)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive over the limit is refused, whether its size is announced or not, and the
    /// partial file goes with the error.
    #[tokio::test]
    async fn downloads_are_capped() {
        let mut quiet = |_: Progress<'_>| {};
        let announced = reqwest::Response::from(http::Response::new(vec![0u8; 100]));
        assert!(matches!(
            download_within(announced, "u", &mut quiet, 50).await,
            Err(VulnDbError::Download { message, .. }) if message.contains("larger than 50")
        ));
        let chunks = futures::stream::iter(
            (0..10).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![1u8; 10]))),
        );
        let streamed =
            reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(chunks)));
        assert!(streamed.content_length().is_none());
        assert!(matches!(
            download_within(streamed, "u", &mut quiet, 50).await,
            Err(VulnDbError::Download { message, .. }) if message.contains("larger than 50")
        ));
        let fits = reqwest::Response::from(http::Response::new(vec![2u8; 50]));
        let file = download_within(fits, "u", &mut quiet, 50).await.unwrap();
        assert_eq!(std::fs::read(file.path()).unwrap(), vec![2u8; 50]);
    }

    #[test]
    fn ecosystems_become_one_path_segment() {
        assert_eq!(
            archive_url("http://h/base/", "PyPI"),
            "http://h/base/PyPI/all.zip"
        );
        assert_eq!(
            archive_url("http://h", "Red Hat"),
            "http://h/Red%20Hat/all.zip"
        );
        assert_eq!(
            archive_url("http://h", "Ubuntu:22.04:LTS"),
            "http://h/Ubuntu:22.04:LTS/all.zip"
        );
        assert_eq!(archive_url("http://h", "a/b"), "http://h/a%2Fb/all.zip");
    }
}

//! Updating from osv.dev's layout: one `all.zip` per ecosystem under a base URL
//! (`{base_url}/{ecosystem}/all.zip`), each streamed to a temporary file, then imported as
//! one source named by its URL.

use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use tokio::io::AsyncWriteExt;

use crate::import::{ImportReport, Progress, ProgressFn};
use crate::source::SourceKind;
use crate::{VulnDb, VulnDbError};

/// Where osv.dev publishes its per-ecosystem archives.
pub const DEFAULT_BASE_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";

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
            let downloaded = match &client {
                Ok(client) => download(client, &url, progress).await,
                Err(error) => Err(VulnDbError::Download {
                    url: url.clone(),
                    message: with_causes(error),
                }),
            };
            let report = match downloaded {
                Ok(archive) => {
                    self.import_source(archive.path(), SourceKind::Zip, &url, progress)
                        .await
                }
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

/// Streams `url` into a temporary file, deleted when the returned handle drops.
async fn download(
    client: &reqwest::Client,
    url: &str,
    progress: &mut ProgressFn<'_>,
) -> Result<tempfile::NamedTempFile, VulnDbError> {
    let failed = |message: String| VulnDbError::Download {
        url: url.to_owned(),
        message,
    };
    let mut response = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| failed(with_causes(&error)))?;
    let total = response.content_length();
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

//! Reclaiming what interrupted uploads leave behind.

use crate::{Registry, Result};

/// What one sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Sessions past their lifetime, removed with their data.
    pub expired_sessions: usize,
    /// Staged data no session refers to (a process died between staging and recording).
    pub orphaned_sessions: usize,
}

impl Registry {
    /// Removes expired upload sessions and staged data without a session.
    pub async fn sweep_uploads(&self) -> Result<SweepReport> {
        let ttl_ms = i64::try_from(self.limits.upload_ttl.as_millis()).unwrap_or(i64::MAX);
        let cutoff = bulwark_metadata::now_millis().saturating_sub(ttl_ms);
        let mut report = SweepReport::default();
        for session in self.metadata.stale_uploads(cutoff).await? {
            // A chunk still arriving holds the session's lock (and keeps it fresh): a
            // session that is busy is not idle, whatever its record says.
            match self.blobs.lock_session(&session).await {
                Ok(_lock) => {
                    self.discard_session(&session).await?;
                    report.expired_sessions += 1;
                }
                Err(bulwark_blobstore::BlobStoreError::SessionBusy(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        for session in self.blobs.staged_sessions().await? {
            if !self.metadata.upload_exists(&session).await? {
                self.blobs.discard_upload(&session).await?;
                report.orphaned_sessions += 1;
            }
        }
        if report != SweepReport::default() {
            tracing::info!(
                expired = report.expired_sessions,
                orphaned = report.orphaned_sessions,
                "reclaimed upload space"
            );
        }
        Ok(report)
    }
}

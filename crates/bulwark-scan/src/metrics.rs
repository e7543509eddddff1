//! What the scan service reports to `/metrics`: how long scans run and how they end, and
//! how many wait. The server composes these with its own into one registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Ended {
    /// `stored` or `failed`.
    outcome: &'static str,
}

/// The scan service's metrics; cheap to clone (every clone counts into the same values).
#[derive(Clone, Debug)]
pub struct ScanMetrics {
    duration: Histogram,
    ended: Family<Ended, Counter>,
}

impl Default for ScanMetrics {
    fn default() -> Self {
        ScanMetrics {
            // 50 ms (a small image whose layers were all read before) to ~7 min (a large
            // image read for the first time on a busy node).
            duration: Histogram::new(exponential_buckets(0.05, 2.0, 14)),
            ended: Family::default(),
        }
    }
}

impl ScanMetrics {
    pub(crate) fn finished(&self, seconds: f64, failed: bool) {
        self.duration.observe(seconds);
        let outcome = if failed { "failed" } else { "stored" };
        self.ended.get_or_create(&Ended { outcome }).inc();
    }

    /// Adds these metrics to `registry` (names prefixed `bulwark_scan_`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "bulwark_scan_duration",
            "Time from a scan's claim to its stored result or failure",
            Unit::Seconds,
            self.duration.clone(),
        );
        registry.register(
            "bulwark_scans",
            "Scans this node ran, by how they ended",
            self.ended.clone(),
        );
    }
}

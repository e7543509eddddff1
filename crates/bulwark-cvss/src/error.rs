//! Why a string is not a CVSS vector Bulwark can score.
//!
//! The wrapped parser reports its own error type; it is translated here once so callers
//! see one enum that names the offending metric or component, whatever the CVSS version.

use thiserror::Error;

/// Why a CVSS vector string was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CvssError {
    /// The string is empty.
    #[error("the CVSS vector is empty")]
    Empty,
    /// The string starts neither with `CVSS:<version>/` nor with a CVSS v2 base metric.
    #[error(
        "{found:?} is not a CVSS prefix: expected CVSS:3.0/, CVSS:3.1/, CVSS:4.0/ or a v2 vector starting with AV:"
    )]
    WrongPrefix {
        /// The first `/`-separated component of the input.
        found: String,
    },
    /// A `CVSS:x.y/` prefix with a version this crate does not score.
    #[error("unsupported CVSS version {version:?}")]
    UnsupportedVersion {
        /// The version after `CVSS:`.
        version: String,
    },
    /// A component that is not `METRIC:VALUE` (empty, several colons, trailing `/`).
    #[error("malformed CVSS component {component:?}: expected METRIC:VALUE")]
    MalformedComponent {
        /// The component as written.
        component: String,
    },
    /// A metric name the vector's CVSS version does not define.
    #[error("unknown CVSS metric {metric:?}")]
    UnknownMetric {
        /// The metric name as written.
        metric: String,
    },
    /// A value the metric does not allow.
    #[error("invalid value {value:?} for CVSS metric {metric}")]
    InvalidValue {
        /// The metric's abbreviation.
        metric: &'static str,
        /// The value as written.
        value: String,
    },
    /// The same metric appears twice.
    #[error("CVSS metric {metric} appears more than once")]
    DuplicateMetric {
        /// The metric's abbreviation.
        metric: &'static str,
    },
    /// A base metric the version requires is absent.
    #[error("mandatory CVSS metric {metric} is missing")]
    MissingMetric {
        /// The metric's abbreviation.
        metric: &'static str,
    },
    /// The wrapped parser refused the vector for a reason not listed above (its error type
    /// is open to new reasons); its message is kept.
    #[error("invalid CVSS vector: {0}")]
    Other(String),
}

impl From<cvss::Error> for CvssError {
    fn from(error: cvss::Error) -> Self {
        use cvss::Error as E;
        match error {
            E::InvalidComponent { component } => CvssError::MalformedComponent { component },
            E::InvalidMetricV2 { metric_type, value } => CvssError::InvalidValue {
                metric: metric_type.name(),
                value,
            },
            E::InvalidMetricV3 { metric_type, value } => CvssError::InvalidValue {
                metric: metric_type.name(),
                value,
            },
            E::InvalidMetricV4 { metric_type, value } => CvssError::InvalidValue {
                metric: metric_type.name(),
                value,
            },
            E::DuplicateMetricV2 { metric_type } => CvssError::DuplicateMetric {
                metric: metric_type.name(),
            },
            E::DuplicateMetricV3 { metric_type } => CvssError::DuplicateMetric {
                metric: metric_type.name(),
            },
            E::DuplicateMetricV4 { metric_type } => CvssError::DuplicateMetric {
                metric: metric_type.name(),
            },
            E::MissingMandatoryMetricV2 { metric_type } => CvssError::MissingMetric {
                metric: metric_type.name(),
            },
            E::MissingMandatoryMetricV4 { metric_type } => CvssError::MissingMetric {
                metric: metric_type.name(),
            },
            E::UnknownMetric { name } => CvssError::UnknownMetric { metric: name },
            E::InvalidPrefix { prefix } => CvssError::WrongPrefix { found: prefix },
            E::UnsupportedVersion { version } => CvssError::UnsupportedVersion { version },
            other => CvssError::Other(other.to_string()),
        }
    }
}

//! CVSS vectors as advisories publish them: CVSS v2, v3.0, v3.1 and v4.0 strings parsed
//! into a [`Cvss`] with its base score and qualitative [`Severity`].
//!
//! The parsing and the scoring equations are RustSec's `cvss` crate; this crate is the
//! single front door Bulwark uses, with one error type ([`CvssError`]) that names the
//! offending metric, stricter checks where the wrapped parser is lenient (a v3 vector must
//! carry all eight base metrics), and one meaning of "base score" across versions.
//!
//! It never panics on any input: vectors come from advisories Bulwark did not write.
//!
//! # Example
//!
//! ```
//! use bulwark_cvss::{Cvss, CvssVersion, Severity};
//!
//! # fn main() -> Result<(), bulwark_cvss::CvssError> {
//! // FIRST's CVSS v3.1 examples: OpenSSL Heartbleed (CVE-2014-0160).
//! let heartbleed = Cvss::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N")?;
//! assert_eq!(heartbleed.version(), CvssVersion::V3_1);
//! assert_eq!(heartbleed.base_score(), 7.5);
//! assert_eq!(heartbleed.severity(), Severity::High);
//! # Ok(())
//! # }
//! ```

mod error;
mod severity;
mod vector;

pub use error::CvssError;
pub use severity::Severity;
pub use vector::{Cvss, CvssVersion};

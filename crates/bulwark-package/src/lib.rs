//! Package identity, the vocabulary every part that names a package shares — the advisory
//! database, the scanner's inventories and the package front ends to come: [`Purl`] parses
//! and formats package URLs (keeping case where ecosystems compare case-sensitively) and maps
//! them to OSV ecosystems; [`PackageKey`] normalises an (ecosystem, name) pair the way each
//! ecosystem's own tools compare names (PEP 503, crates.io, NuGet, …) and a distribution's
//! release (`Debian:12.5` → `Debian:12`). No I/O.

mod package;
mod purl;

pub use package::{EcosystemKey, PackageKey, normalize_name};
pub use purl::{Purl, PurlError};

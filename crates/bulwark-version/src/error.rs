//! Errors of this crate: why a version string was refused, and why two versions cannot be
//! ordered.
//!
//! Scheme modules report only the reason ([`InvalidVersion`]); the crate's entry points add
//! which ecosystem and which input, so every error a caller sees names both.

use thiserror::Error;

use crate::ecosystem::{Ecosystem, VersionScheme};

/// Why a string is not a version of a given scheme.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InvalidVersion {
    /// The string is empty or only whitespace; no ecosystem has an empty version.
    #[error("the version string is empty")]
    Empty,
    /// A character the scheme never allows where it was found.
    #[error("unexpected character {found:?} at byte {position}")]
    UnexpectedCharacter {
        /// The offending character.
        found: char,
        /// Its byte offset in the input.
        position: usize,
    },
    /// The string breaks a structural rule of the scheme.
    #[error("{0}")]
    Malformed(&'static str),
}

/// An error from parsing or comparing versions.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The input is not a version in the ecosystem's syntax.
    #[error("{input:?} is not a valid {ecosystem} version: {reason}")]
    Invalid {
        /// The ecosystem whose rules were applied.
        ecosystem: Ecosystem,
        /// The rejected input, as given.
        input: String,
        /// What is wrong with it.
        reason: InvalidVersion,
    },
    /// The ecosystem has no version ordering this crate knows; callers must match explicit
    /// version lists only.
    #[error("the {0} ecosystem has no known version ordering")]
    NoOrdering(Ecosystem),
    /// Two versions of different schemes were compared (say a PyPI and a Maven version).
    #[error("cannot order a {left} version against a {right} version")]
    SchemeMismatch {
        /// The scheme of the left-hand version.
        left: VersionScheme,
        /// The scheme of the right-hand version.
        right: VersionScheme,
    },
}

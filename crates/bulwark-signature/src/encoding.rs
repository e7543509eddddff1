//! Base64 as the writers of each field encode it, decoded after a size check.
//!
//! - Layer annotations are written by Go's `base64.StdEncoding`: standard alphabet, padding
//!   required. Go's decoder skips CR and LF, and so does this one.
//! - Bundle `bytes` fields are protobuf JSON: standard or URL-safe alphabet, padding optional
//!   (what `protojson` accepts). CR and LF are skipped likewise.

use std::borrow::Cow;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

use crate::{SignatureError, check_size};

const LENIENT_PADDING: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);

/// Standard alphabet, with or without padding.
const PROTOJSON_STANDARD: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, LENIENT_PADDING);

/// URL-safe alphabet, with or without padding.
const PROTOJSON_URL_SAFE: GeneralPurpose =
    GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT_PADDING);

/// `text` without CR and LF (borrowed when it has none, the usual case).
fn without_line_breaks(text: &str) -> Cow<'_, str> {
    if text.contains(['\r', '\n']) {
        Cow::Owned(text.chars().filter(|&c| c != '\r' && c != '\n').collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// Decodes a layer annotation (Go `StdEncoding`), at most `limit` characters of it.
pub(crate) fn decode_annotation(
    text: &str,
    what: &'static str,
    limit: usize,
) -> Result<Vec<u8>, SignatureError> {
    check_size(what, "bytes", text.len(), limit)?;
    STANDARD
        .decode(without_line_breaks(text).as_bytes())
        .map_err(|_| SignatureError::InvalidBase64 { what })
}

/// Decodes a protobuf JSON `bytes` field, at most `limit` characters of it.
pub(crate) fn decode_protojson_bytes(
    text: &str,
    what: &'static str,
    limit: usize,
) -> Result<Vec<u8>, SignatureError> {
    check_size(what, "bytes", text.len(), limit)?;
    let text = without_line_breaks(text);
    let engine = if text.contains(['-', '_']) {
        &PROTOJSON_URL_SAFE
    } else {
        &PROTOJSON_STANDARD
    };
    engine
        .decode(text.as_bytes())
        .map_err(|_| SignatureError::InvalidBase64 { what })
}

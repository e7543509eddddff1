//! Parsing and formatting of the few headers the distribution protocol gives meaning to.

use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use bulwark_oci::ErrorCode;
use bulwark_registry::ByteRange;

use crate::error::ApiError;

/// The `Range` value of an upload that has received `offset` bytes. Docker's convention
/// (kept by every client) reports `0-0` for an empty upload.
pub fn upload_range(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}

pub fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    headers
        .get(CONTENT_LENGTH)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::SizeInvalid, "Content-Length is not a number")
                })
        })
        .transpose()
}

/// `Content-Range: <start>-<end>` of an upload chunk (inclusive end), as the spec writes it;
/// the RFC 9110 form `bytes <start>-<end>/<total>` is accepted too.
pub fn upload_content_range(headers: &HeaderMap) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(value) = headers.get(CONTENT_RANGE) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            ErrorCode::RangeInvalid,
            "Content-Range must be <start>-<end>",
        )
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    let text = text.strip_prefix("bytes ").unwrap_or(text);
    let text = text.split('/').next().unwrap_or(text);
    let (start, end) = text.split_once('-').ok_or_else(invalid)?;
    let start: u64 = start.trim().parse().map_err(|_| invalid())?;
    let end: u64 = end.trim().parse().map_err(|_| invalid())?;
    // An end of u64::MAX would make the chunk's length overflow; no blob is that large.
    if end < start || end == u64::MAX {
        return Err(invalid());
    }
    Ok(Some((start, end)))
}

/// The byte range a blob `GET` asks for, from a single-range `Range` header. `None` means the
/// whole blob: no header, or one RFC 9110 lets a server ignore (another unit, several
/// ranges, bad syntax). Whether it fits the blob is decided once its size is known
/// (`ByteRange::resolve`; 416 with `Content-Range: bytes */size` when it does not).
pub fn blob_range(headers: &HeaderMap) -> Option<ByteRange> {
    let spec = headers
        .get(RANGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().strip_prefix("bytes="))
        .filter(|spec| !spec.contains(','))?;
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return last.parse().ok().map(ByteRange::Suffix);
    }
    let start = first.parse().ok()?;
    if last.is_empty() {
        return Some(ByteRange::From(start));
    }
    match last.parse::<u64>() {
        Ok(last) if last >= start => Some(ByteRange::Between(start, last)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: axum::http::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn blob_ranges() {
        let r = |v: &str| blob_range(&with(RANGE, v)).map(|range| range.resolve(100));
        assert_eq!(r("bytes=0-9"), Some(Some(0..10)));
        assert_eq!(r("bytes=90-"), Some(Some(90..100)));
        assert_eq!(r("bytes=-10"), Some(Some(90..100)));
        assert_eq!(r("bytes=95-200"), Some(Some(95..100)));
        for unsatisfiable in ["bytes=100-", "bytes=100-200", "bytes=-0"] {
            assert_eq!(r(unsatisfiable), Some(None), "{unsatisfiable}");
        }
        for ignored in [
            "bytes=5-1",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=x-1",
            "bytes=5",
        ] {
            assert_eq!(r(ignored), None, "{ignored}");
        }
        assert_eq!(blob_range(&HeaderMap::new()), None);
        assert_eq!(ByteRange::Suffix(10).resolve(0), None, "nothing to give");
    }

    #[test]
    fn upload_ranges() {
        let r = |v: &str| upload_content_range(&with(CONTENT_RANGE, v)).map_err(|e| e.code);
        assert_eq!(r("0-99"), Ok(Some((0, 99))));
        assert_eq!(r("bytes 100-199/*"), Ok(Some((100, 199))));
        assert_eq!(r("5-1"), Err(ErrorCode::RangeInvalid));
        assert_eq!(r("0-18446744073709551615"), Err(ErrorCode::RangeInvalid));
        assert_eq!(upload_range(0), "0-0");
        assert_eq!(upload_range(10), "0-9");
    }
}

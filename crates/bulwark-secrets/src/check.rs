//! What turns a match into a secret, or rejects it: entropy, placeholders, PEM bodies,
//! Docker's base64 credentials, and the line formats of `.pgpass` and `.pypirc`.

use std::ops::Range;

use memchr::memmem;
use regex::bytes::Regex;

/// How far past a `BEGIN` line its `END` line may be: an 8192-bit RSA key is about 6 KiB of
/// PEM, a PGP key with subkeys tens of KiB.
const MAX_PEM_BODY: usize = 64 << 10;

/// Fewer base64 characters than this between the markers is an example, not a key (the
/// smallest real keys, Ed25519, have about 120).
const MIN_PEM_BODY: usize = 64;

/// Values of configuration rules that stand for "no password here" (compared lowercase,
/// without `_`, `-`, `.` and spaces).
const PLACEHOLDER_WORDS: &[&[u8]] = &[
    b"changeme",
    b"password",
    b"passwd",
    b"pass",
    b"pwd",
    b"secret",
    b"token",
    b"example",
    b"none",
    b"null",
    b"nil",
    b"undefined",
    b"empty",
    b"todo",
    b"fixme",
    b"dummy",
    b"placeholder",
    b"redacted",
    b"passwordhere",
    b"mypassword",
];

/// Markers of templating and interpolation: `${VAR}`, Python's `%(name)s`, Jinja, Helm and
/// Go templates (`{{ … }}`), ERB (`<%= … %>`).
const TEMPLATE_MARKERS: &[&[u8]] = &[b"${", b"%(", b"{{", b"<%"];

/// Substrings (of the lowercase word) that make a value an example.
const PLACEHOLDER_PARTS: &[&[u8]] = &[b"example", b"changeme", b"placeholder", b"redacted"];

pub(crate) fn is_alphanumeric(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

pub(crate) fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

pub(crate) fn is_base64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')
}

pub(crate) fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_')
}

pub(crate) fn is_not_space(byte: u8) -> bool {
    !byte.is_ascii_whitespace()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memmem::find(haystack, needle).is_some()
}

/// Shannon entropy of the bytes, in bits per byte: 0 for `aaaa`, about 4.7 for random
/// base 62 of token length, at most `log2(len)`.
pub(crate) fn entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for &byte in bytes {
        counts[usize::from(byte)] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let p = count as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// The value without one pair of surrounding quotes.
pub(crate) fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] | [b'\'', inner @ .., b'\''] => inner,
        _ => value,
    }
}

/// Whether a configured value is empty or stands in for a real one: `changeme`,
/// `password`, `example…`, `your_password`, `xxx`, `****`, `$VAR`, `${VAR}`, `<token>`,
/// `%(pw)s`, `%PASSWORD%`, `{{ .Values.password }}`.
pub(crate) fn is_placeholder(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    let Some(&first) = value.first() else {
        return true;
    };
    if value.iter().all(|&byte| byte == first)
        || value.iter().all(|byte| b"*xX.#_- ".contains(byte))
    {
        return true;
    }
    let variable = first == b'$'
        && value
            .get(1)
            .is_some_and(|&next| matches!(next, b'{' | b'(' | b'_') || next.is_ascii_alphabetic());
    let bracketed = (first == b'<' && value.ends_with(b">"))
        || (first == b'%' && value.len() > 2 && value.ends_with(b"%"));
    if variable
        || bracketed
        || TEMPLATE_MARKERS
            .iter()
            .any(|marker| contains(value, marker))
    {
        return true;
    }
    let word: Vec<u8> = value
        .iter()
        .filter(|&&byte| !matches!(byte, b'_' | b'-' | b'.' | b' '))
        .map(u8::to_ascii_lowercase)
        .collect();
    PLACEHOLDER_WORDS.contains(&word.as_slice())
        || PLACEHOLDER_PARTS.iter().any(|part| contains(&word, part))
        || word.starts_with(b"your")
}

/// Whether Docker's `auth` value is base64 of `user:password` with a real password.
pub(crate) fn docker_auth_has_password(value: &[u8]) -> bool {
    use ::base64::Engine as _;
    use ::base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

    let Ok(decoded) = STANDARD
        .decode(value)
        .or_else(|_| STANDARD_NO_PAD.decode(value))
    else {
        return false;
    };
    match memchr::memchr(b':', &decoded) {
        Some(colon) => colon > 0 && !is_placeholder(decoded.get(colon + 1..).unwrap_or_default()),
        None => false,
    }
}

/// The private keys whose `BEGIN` line is in `window` of `content`: (offset of the `BEGIN`
/// line, base64 body). The body runs to the next `-----`, which must start the `END` line
/// of the same label; that bounds the work per `BEGIN` line by the distance to the next
/// marker, so many markers cost no more than one pass.
pub(crate) fn pem_keys(
    begin: &Regex,
    content: &[u8],
    window: Range<usize>,
) -> Vec<(usize, Vec<u8>)> {
    let mut keys = Vec::new();
    let Some(haystack) = content.get(window.clone()) else {
        return keys;
    };
    for caps in begin.captures_iter(haystack) {
        let (Some(line), Some(label)) = (caps.get(0), caps.name("label")) else {
            continue;
        };
        let body_start = window.start + line.end();
        let body_limit = body_start.saturating_add(MAX_PEM_BODY).min(content.len());
        let Some(rest) = content.get(body_start..body_limit) else {
            continue;
        };
        let Some(dashes) = memmem::find(rest, b"-----") else {
            continue;
        };
        let (body, end_line) = rest.split_at(dashes);
        let same_label = end_line
            .strip_prefix(b"-----END ")
            .and_then(|end| end.strip_prefix(label.as_bytes()))
            .is_some_and(|end| end.starts_with(b"-----"));
        if !same_label {
            continue;
        }
        if let Some(body) = pem_body(body) {
            keys.push((window.start + line.start(), body));
        }
    }
    keys
}

/// A JSON string value holding a whole PKCS#8 PEM key (Google's `private_key`): its body.
pub(crate) fn pem_in_json(value: &[u8]) -> Option<Vec<u8>> {
    let body = value
        .strip_prefix(b"-----BEGIN PRIVATE KEY-----")?
        .strip_suffix(b"-----END PRIVATE KEY-----")?;
    pem_body(body)
}

/// The base64 characters of a PEM body, or `None` when it is not one: every line must be
/// base64 (spaces and indentation aside) or a header (`Proc-Type: 4,ENCRYPTED`,
/// `Version: GnuPG`, anything with a colon), and there must be at least [`MIN_PEM_BODY`]
/// characters. Lines may also be separated by the two characters `\n`, as in JSON strings.
fn pem_body(body: &[u8]) -> Option<Vec<u8>> {
    let mut base64 = Vec::with_capacity(body.len());
    let mut line_start = 0;
    let mut header = false;
    let mut foreign = false;
    let mut at = 0;
    loop {
        let step = match body.get(at) {
            None => None,
            Some(b'\n' | b'\r') => Some(1),
            Some(b'\\') if matches!(body.get(at + 1), Some(b'n' | b'r')) => Some(2),
            Some(&byte) => {
                match byte {
                    b':' => header = true,
                    b' ' | b'\t' => {}
                    _ if is_base64(byte) => base64.push(byte),
                    _ => foreign = true,
                }
                at += 1;
                continue;
            }
        };
        // End of a line.
        if header {
            base64.truncate(line_start);
        } else if foreign {
            return None;
        }
        header = false;
        foreign = false;
        line_start = base64.len();
        match step {
            Some(step) => at += step,
            None => break,
        }
    }
    (base64.len() >= MIN_PEM_BODY).then_some(base64)
}

/// Lines of `text` with the offset each starts at.
fn lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut start = 0;
    text.split(|&byte| byte == b'\n').map(move |line| {
        let at = start;
        start += line.len() + 1;
        (at, line)
    })
}

/// The password fields of `.pgpass` lines (`host:port:database:user:password`, `\:` and
/// `\\` escaped), with the offset of their line (`base` plus the offset in `text`).
pub(crate) fn pgpass_passwords(text: &[u8], base: usize) -> Vec<(usize, Vec<u8>)> {
    let mut found = Vec::new();
    for (start, line) in lines(text) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.trim_ascii_start().starts_with(b"#") {
            continue;
        }
        if let Some(password) = pgpass_password(line) {
            found.push((base + start, password));
        }
    }
    found
}

fn pgpass_password(line: &[u8]) -> Option<Vec<u8>> {
    let mut colons = 0;
    let mut escaped = false;
    let mut password_start = None;
    for (at, &byte) in line.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if byte == b'\\' {
            escaped = true;
        } else if byte == b':' {
            colons += 1;
            if colons == 4 {
                password_start = Some(at + 1);
                break;
            }
        }
    }
    let field = line.get(password_start?..)?;
    let mut password = Vec::with_capacity(field.len());
    let mut escaped = false;
    for &byte in field {
        if !escaped && byte == b'\\' {
            escaped = true;
        } else {
            password.push(byte);
            escaped = false;
        }
    }
    Some(password)
}

/// `password` values in the repository sections of a `.pypirc` (every section but
/// `[distutils]`, which only lists the others), with the offset of their line.
pub(crate) fn pypirc_passwords(text: &[u8], base: usize) -> Vec<(usize, Vec<u8>)> {
    let mut found = Vec::new();
    let mut repository = false;
    for (start, line) in lines(text) {
        let line = line.trim_ascii();
        if let Some(section) = line.strip_prefix(b"[") {
            let name = section.strip_suffix(b"]").unwrap_or(section).trim_ascii();
            repository = !name.eq_ignore_ascii_case(b"distutils");
            continue;
        }
        if !repository || line.starts_with(b"#") || line.starts_with(b";") {
            continue;
        }
        let Some(separator) = line.iter().position(|&byte| byte == b'=' || byte == b':') else {
            continue;
        };
        let (key, value) = line.split_at(separator);
        if key.trim_ascii().eq_ignore_ascii_case(b"password") {
            found.push((base + start, value.get(1..).unwrap_or_default().to_vec()));
        }
    }
    found
}

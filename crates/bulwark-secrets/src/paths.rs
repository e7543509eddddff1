//! Which files are worth reading, and which files the configuration rules apply to. Paths
//! are relative and `/`-separated, as `bulwark-layer` hands them out; a leading `./` is
//! tolerated.

/// Trees of documentation and data: example keys in docs are not leaks, and the rest
/// (translations, time zones, icons) cannot hold secrets.
const SKIPPED_DIRS: &[&str] = &[
    "usr/share/doc/",
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/locale/",
    "usr/share/i18n/",
    "usr/share/zoneinfo/",
    "usr/share/icons/",
    "usr/share/fonts/",
    "usr/lib/locale/",
];

/// Extensions of compiled, compressed and media files (compared ignoring ASCII case).
#[rustfmt::skip]
const BINARY_EXTENSIONS: &[&str] = &[
    // Native code and bytecode.
    "so", "a", "o", "ko", "dll", "exe", "dylib", "node", "pyd", "pyc", "pyo", "class", "jmod",
    "wasm", "dex", "oat", "odex", "vdex", "beam",
    // Archives and compressed files.
    "gz", "tgz", "bz2", "tbz2", "xz", "txz", "zst", "lz4", "lzma", "z", "7z", "zip", "rar",
    "tar", "jar", "war", "ear", "whl", "egg", "deb", "rpm", "apk", "gem", "nupkg", "pack", "idx",
    // Images.
    "png", "jpg", "jpeg", "gif", "bmp", "ico", "icns", "cur", "tif", "tiff", "webp", "avif",
    "heic", "psd", "xcf", "svgz",
    // Fonts.
    "ttf", "otf", "woff", "woff2", "eot", "pfb", "pcf",
    // Audio and video.
    "mp3", "mp4", "m4a", "ogg", "oga", "ogv", "opus", "flac", "wav", "aac", "avi", "mkv", "mov",
    "webm",
    // Message catalogues and other compiled data.
    "mo", "gmo", "qm", "pdf",
];

/// Roots below which code was installed by a package manager or ships with a runtime.
const PACKAGE_ROOTS: &[&str] = &[
    "node_modules",
    "site-packages",
    "dist-packages",
    "gems",
    "vendor",
];

/// Directory names of test suites and their fixtures.
const TEST_DIRS: &[&str] = &[
    "test",
    "tests",
    "testdata",
    "test_data",
    "test-data",
    "__tests__",
    "fixtures",
    "__fixtures__",
    "test-fixtures",
    "spec",
];

/// See [`crate::Detector::wants`].
pub(crate) fn worth_reading(path: &str) -> bool {
    let path = path.trim_start_matches("./");
    !(SKIPPED_DIRS.iter().any(|dir| path.starts_with(dir))
        || has_binary_extension(file_name(path))
        || is_packaged_test_file(path))
}

/// The last component of a path.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn has_binary_extension(name: &str) -> bool {
    // Versioned shared libraries: libssl.so.3, libc.so.6.
    if name.contains(".so.") {
        return true;
    }
    match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => BINARY_EXTENSIONS
            .iter()
            .any(|binary| binary.eq_ignore_ascii_case(extension)),
        _ => false,
    }
}

/// Whether `path` is in a test directory of a package-manager tree or a Python standard
/// library (`usr/lib/python3.12/test/…`).
fn is_packaged_test_file(path: &str) -> bool {
    let mut components: Vec<&str> = path.split('/').collect();
    // The file name itself does not make a test directory.
    components.pop();
    let mut packaged = false;
    let mut previous = "";
    for component in components {
        if packaged && TEST_DIRS.contains(&component) {
            return true;
        }
        if PACKAGE_ROOTS.contains(&component)
            || (previous == "pkg" && component == "mod")
            || (previous == "registry" && component == "src")
            || (matches!(previous, "lib" | "lib64") && is_python_dir(component))
        {
            packaged = true;
        }
        previous = component;
    }
    false
}

/// `python3`, `python3.12`, `python2.7`.
fn is_python_dir(component: &str) -> bool {
    component.strip_prefix("python").is_some_and(|version| {
        version.starts_with(|c: char| c.is_ascii_digit())
            && version.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    })
}

/// Whether `path` is `suffix` or ends with `/` followed by `suffix`.
fn ends_with_path(path: &str, suffix: &str) -> bool {
    path.strip_suffix(suffix)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('/'))
}

pub(crate) fn any(_path: &str) -> bool {
    true
}

/// User (`~/.npmrc`), project (`.npmrc`) and global (`etc/npmrc`) npm configuration.
pub(crate) fn npmrc(path: &str) -> bool {
    matches!(file_name(path), ".npmrc" | "npmrc")
}

pub(crate) fn pypirc(path: &str) -> bool {
    file_name(path) == ".pypirc"
}

/// `git credential-store`'s default file and its XDG location.
pub(crate) fn git_credentials(path: &str) -> bool {
    file_name(path) == ".git-credentials" || ends_with_path(path, ".config/git/credentials")
}

pub(crate) fn netrc(path: &str) -> bool {
    matches!(file_name(path), ".netrc" | "_netrc")
}

/// Docker's `~/.docker/config.json` (also kaniko's `kaniko/.docker/config.json`) and
/// Podman's `auth.json` below a `containers` directory (`run/containers/0/auth.json`,
/// `~/.config/containers/auth.json`).
pub(crate) fn docker_config(path: &str) -> bool {
    ends_with_path(path, ".docker/config.json")
        || (file_name(path) == "auth.json" && path.split('/').any(|dir| dir == "containers"))
}

pub(crate) fn pgpass(path: &str) -> bool {
    file_name(path) == ".pgpass"
}

pub(crate) fn mysql_config(path: &str) -> bool {
    let name = file_name(path);
    matches!(name, ".my.cnf" | "my.cnf" | "debian.cnf")
        || (name.ends_with(".cnf") && path.contains("mysql/"))
}

pub(crate) fn wordpress_config(path: &str) -> bool {
    file_name(path) == "wp-config.php"
}

/// `settings.py`, `local_settings.py` and the modules of a `settings/` package, outside
/// installed packages (whose settings are their own test or example configuration).
pub(crate) fn django_settings(path: &str) -> bool {
    if path
        .split('/')
        .any(|component| matches!(component, "site-packages" | "dist-packages"))
    {
        return false;
    }
    let name = file_name(path);
    let parent = path.rsplit('/').nth(1).unwrap_or_default();
    name.ends_with("settings.py") || (parent == "settings" && name.ends_with(".py"))
}

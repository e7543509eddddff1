//! The secret rules read every text file of a pushed image: any bytes, at any path (the
//! configuration-file rules pick by path, so the first byte picks one of those).
#![no_main]

use std::sync::LazyLock;

use bulwark_secrets::Detector;
use libfuzzer_sys::fuzz_target;

static DETECTOR: LazyLock<Detector> = LazyLock::new(Detector::new);

const PATHS: &[&str] = &[
    "app/config.txt",
    "root/.git-credentials",
    "root/.netrc",
    "root/.docker/config.json",
    "root/.pgpass",
    "root/.my.cnf",
    "var/www/wp-config.php",
    "app/settings.py",
    "root/.npmrc",
    "root/.pypirc",
    "app/service-account.json",
];

fuzz_target!(|input: (u8, &[u8])| {
    let (choice, content) = input;
    let path = PATHS[usize::from(choice) % PATHS.len()];
    for finding in DETECTOR.scan(path, content) {
        assert!(finding.redacted.len() <= 64 + 8);
    }
});

//! Every extractor reads files out of pushed images: any bytes, at any of the paths an
//! extractor wants. The first byte picks the path, so each extractor is reached.
#![no_main]

use libfuzzer_sys::fuzz_target;

const PATHS: &[&str] = &[
    "etc/os-release",
    "var/lib/dpkg/status",
    "var/lib/dpkg/status.d/base",
    "lib/apk/db/installed",
    "usr/lib/python3/dist-packages/x-1.0.dist-info/METADATA",
    "usr/lib/python3/dist-packages/x-1.0.egg-info/PKG-INFO",
    "usr/lib/python3/dist-packages/x-1.0.egg-info",
    "app/node_modules/x/package.json",
    "app/package-lock.json",
    "app/yarn.lock",
    "app/pnpm-lock.yaml",
    "src/Cargo.lock",
    "app/composer.lock",
    "app/vendor/composer/installed.json",
    "app/Gemfile.lock",
    "usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec",
    "app/App.deps.json",
    "app/packages.lock.json",
    "app/META-INF/maven/g/a/pom.properties",
    "app/lib/app.jar",
    "var/lib/rpm/rpmdb.sqlite",
    "var/lib/rpm/Packages.db",
    "usr/local/bin/tool",
];

fuzz_target!(|input: (u8, &[u8])| {
    let (choice, content) = input;
    let path = PATHS[usize::from(choice) % PATHS.len()];
    let _ = bulwark_inventory::extract(path, content);
});

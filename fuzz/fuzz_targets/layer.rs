//! Layer blobs come from whoever pushed the image: any bytes, claimed to be a tar stream,
//! maybe gzip or zstd. Small limits keep each run short; hitting one is a clean error.
#![no_main]

use bulwark_layer::{Entry, Limits, Visitor, read_layer};
use libfuzzer_sys::fuzz_target;

struct Everything;

impl Visitor for Everything {
    fn wants(&mut self, _path: &str, _entry: &Entry) -> bool {
        true
    }

    fn file(&mut self, _path: &str, _content: &[u8]) {}
}

fuzz_target!(|blob: &[u8]| {
    let limits = Limits {
        max_layer_bytes: 16 << 20,
        max_ratio: 100,
        ratio_grace: 1 << 20,
        max_entries: 10_000,
        max_file_bytes: 1 << 20,
    };
    let _ = read_layer(blob, &limits, &mut Everything);
});

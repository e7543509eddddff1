//! The scan engine end to end on an OCI layout made here: two gzip layers, the second
//! replacing dpkg's status, whiting out a Python distribution and hiding a folder; the
//! final filesystem's components matched against advisories imported into a real store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;

use bulwark_layer::Limits;
use bulwark_metadata::MetadataStore;
use bulwark_oci::Digest;
use bulwark_scan::layout::Layout;
use bulwark_scan::{Inventory, inventory_layer, matching};
use bulwark_test_support::{Backend, TestDatabase};
use bulwark_vulndb::VulnDb;

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, *content).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

fn put_blob(root: &Path, bytes: &[u8]) -> Digest {
    let digest = Digest::sha256_of(bytes);
    let dir = root.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(digest.encoded()), bytes).unwrap();
    digest
}

const STATUS_1: &str = "Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.9-1\n\nPackage: gone\nStatus: install ok installed\nVersion: 1.0-1\n";
const STATUS_2: &str = "Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.9-1\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0-1\n";

/// A layout with one image, tagged `v1`.
fn image(root: &Path) {
    let base = layer(&[
        ("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n"),
        ("var/lib/dpkg/status", STATUS_1.as_bytes()),
        (
            "usr/lib/python3/dist-packages/Django-2.2.0.dist-info/METADATA",
            b"Name: Django\nVersion: 2.2.0\n",
        ),
        (
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
            b"Name: six\nVersion: 1.16.0\n",
        ),
        (
            "app/node_modules/lodash/package.json",
            br#"{"name":"lodash","version":"4.17.20"}"#,
        ),
    ]);
    let top = layer(&[
        ("var/lib/dpkg/status", STATUS_2.as_bytes()),
        (
            "usr/lib/python3/dist-packages/.wh.six-1.16.0.dist-info",
            b"",
        ),
        ("app/node_modules/.wh..wh..opq", b""),
    ]);
    let layers: Vec<(Digest, usize)> = [base, top]
        .iter()
        .map(|bytes| (put_blob(root, bytes), bytes.len()))
        .collect();
    let config = put_blob(root, b"{}");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2 },
        "layers": layers.iter().map(|(d, size)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": d.to_string(), "size": size,
        })).collect::<Vec<_>>(),
    });
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = put_blob(root, &manifest_bytes);
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest.to_string(), "size": manifest_bytes.len(),
            "annotations": { "org.opencontainers.image.ref.name": "v1" },
        }],
    });
    std::fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn advisories(dir: &Path) {
    let record = |id: &str, ecosystem: &str, name: &str, fixed: &str, severity: &str| {
        serde_json::json!({
            "schema_version": "1.6.0",
            "id": id,
            "modified": "2024-01-01T00:00:00Z",
            "summary": format!("test advisory for {name}"),
            "affected": [{
                "package": { "ecosystem": ecosystem, "name": name },
                "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": fixed }] }],
            }],
            "database_specific": { "severity": severity },
        })
    };
    for (id, value) in [
        (
            "BWK-TEST-1",
            record(
                "BWK-TEST-1",
                "Debian:12",
                "openssl",
                "3.0.11-1~deb12u1",
                "HIGH",
            ),
        ),
        (
            "BWK-TEST-2",
            record("BWK-TEST-2", "PyPI", "django", "2.2.1", "CRITICAL"),
        ),
        (
            "BWK-TEST-3",
            record("BWK-TEST-3", "PyPI", "six", "99.0", "LOW"),
        ),
        (
            "BWK-TEST-4",
            record("BWK-TEST-4", "npm", "lodash", "4.17.21", "HIGH"),
        ),
    ] {
        std::fs::write(
            dir.join(format!("{id}.json")),
            serde_json::to_vec(&value).unwrap(),
        )
        .unwrap();
    }
}

#[tokio::test]
async fn an_image_is_inventoried_by_its_final_filesystem_and_matched() {
    let dir = tempfile::tempdir().unwrap();
    image(dir.path());
    let layout = Layout::open(dir.path()).unwrap();
    let images = layout.images(Some("v1")).unwrap();
    assert_eq!(images.len(), 1);
    let layers: Vec<_> = images[0]
        .layers
        .iter()
        .map(|digest| {
            inventory_layer(layout.open_layer(digest).unwrap(), &Limits::default()).unwrap()
        })
        .collect();
    let inventory = Inventory::of_image(&layers.iter().collect::<Vec<_>>());
    assert_eq!(
        inventory.os.as_ref().unwrap().osv_ecosystem().as_deref(),
        Some("Debian:12")
    );
    let found: Vec<(&str, &str, Option<usize>)> = inventory
        .components
        .iter()
        .map(|c| {
            (
                c.component.name.as_str(),
                c.component.version.as_str(),
                c.layer,
            )
        })
        .collect();
    // `gone` was removed (config-files), six whited out, lodash hidden by an opaque folder;
    // libssl3 comes from the top layer's status, Django from the base layer.
    assert_eq!(
        found,
        [
            ("Django", "2.2.0", Some(0)),
            ("libssl3", "3.0.9-1", Some(1))
        ]
    );

    let advisories_dir = tempfile::tempdir().unwrap();
    advisories(advisories_dir.path());
    let database = TestDatabase::new(Backend::Sqlite).await;
    let db = VulnDb::new(MetadataStore::connect(database.url(), 4).await.unwrap());
    let reports = db
        .import(&[advisories_dir.path().to_owned()], &mut |_| {})
        .await;
    assert!(reports.iter().all(|r| r.failure.is_none()), "{reports:?}");
    let findings = matching::find(&db, &inventory).await.unwrap();
    let ids: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| {
            (
                f.vulnerability.id.as_str(),
                inventory.components[f.component].component.name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [("BWK-TEST-2", "Django"), ("BWK-TEST-1", "libssl3")],
        "most severe first"
    );
    assert_eq!(
        findings[1].package, "openssl",
        "matched by its source package"
    );
    assert_eq!(findings[1].vulnerability.fixed, ["3.0.11-1~deb12u1"]);
}

#[test]
fn a_tampered_layer_fails_its_digest_check() {
    let dir = tempfile::tempdir().unwrap();
    image(dir.path());
    let layout = Layout::open(dir.path()).unwrap();
    let digest = layout.images(None).unwrap()[0].layers[0].clone();
    let path = dir.path().join("blobs/sha256").join(digest.encoded());
    let mut bytes = std::fs::read(&path).unwrap();
    // Gzip's trailer is checked too, so flip a byte of the uncompressed-size field only:
    // the tar inside reads the same, the digest does not match.
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let result = inventory_layer(layout.open_layer(&digest).unwrap(), &Limits::default());
    assert!(
        result.is_err(),
        "a layer that is not what its digest says is refused"
    );
}

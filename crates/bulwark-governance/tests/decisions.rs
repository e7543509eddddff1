//! Decisions over a real store and scanner with an injectable clock: an exception lets a
//! refused artifact through until its expiry and stops applying by itself when the clock
//! passes it (the cached decision included); stale exceptions are reported; policies are
//! versioned and a project can only tighten the system's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_blobstore::BlobStore;
use bulwark_governance::{Clock, Governance, GovernanceSettings, NewException, PullVerdict};
use bulwark_metadata::MetadataStore;
use bulwark_oci::{Digest, Reference, RepositoryName, RequestContext};
use bulwark_registry::{Registry, RegistryLimits};
use bulwark_scan::service::{ScanSettings, Scanner};
use bulwark_test_support::{Backend, TestDatabase};
use serde_json::json;

const DAY: i64 = 86_400_000;
/// 2030-01-01T00:00:00Z.
const T0: i64 = 1_893_456_000_000;
const CVE: &str = "CVE-2099-0002";

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *content).unwrap();
    }
    builder.into_inner().unwrap()
}

async fn put_blob(registry: &Registry, repository: &RepositoryName, bytes: &[u8]) -> Digest {
    let digest = Digest::sha256_of(bytes);
    let body = futures::stream::once({
        let bytes = bytes::Bytes::copy_from_slice(bytes);
        async move { Ok::<_, std::io::Error>(bytes) }
    });
    registry
        .put_blob(repository, &digest, Some(bytes.len() as u64), body)
        .await
        .unwrap();
    digest
}

async fn suite(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let metadata = MetadataStore::connect(db.url(), 4).await.unwrap();
    metadata.create_project("team", false).await.unwrap();
    let registry = Registry::new(
        BlobStore::in_memory(),
        metadata.clone(),
        RegistryLimits::default(),
    );
    let scanner = Scanner::new(
        metadata.clone(),
        registry.clone(),
        bulwark_vulndb::VulnDb::new(metadata.clone()),
        ScanSettings::default(),
        "test",
    );
    let clock = Clock::manual(T0);
    let governance = Governance::new(
        metadata.clone(),
        registry.clone(),
        scanner.clone(),
        GovernanceSettings::default(),
        clock.clone(),
    );

    // Advisory data, and an image holding the vulnerable version, scanned.
    let dir = tempfile::tempdir().unwrap();
    let record = json!({
        "schema_version": "1.6.0", "id": CVE, "modified": "2024-01-01T00:00:00Z",
        "published": "2029-12-25T00:00:00Z",
        "affected": [{"package": {"ecosystem": "Alpine:v3.19", "name": "musl"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.4-r3"}]}]}],
        "database_specific": {"severity": "HIGH"},
    });
    let advisory = dir.path().join("cve.json");
    std::fs::write(&advisory, record.to_string()).unwrap();
    let imported = scanner.import_advisories(&[advisory]).await;
    assert!(imported[0].failure.is_none(), "{imported:?}");
    let repository: RepositoryName = "team/app".parse().unwrap();
    let layer = tar_of(&[
        ("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"),
        (
            "lib/apk/db/installed",
            b"P:musl-utils\nV:1.2.4-r2\no:musl\n\n",
        ),
    ]);
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer_digest = put_blob(&registry, &repository, &layer).await;
    let config_digest = put_blob(&registry, &repository, config).await;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let stored = registry
        .put_manifest(
            &RequestContext::internal("test", T0),
            &repository,
            &Reference::Tag("1.0".parse().unwrap()),
            &[],
            Some("application/vnd.oci.image.manifest.v1+json"),
            manifest.clone().into(),
        )
        .await
        .unwrap();
    let digest = stored.digest;
    scanner.request(&digest).await.unwrap();
    assert_eq!(scanner.work(4).await.unwrap().scanned, 1);
    let pull = || {
        governance.check_pull(
            &repository,
            &digest,
            (&manifest, "application/vnd.oci.image.manifest.v1+json"),
            Some("1.0"),
        )
    };

    // No policy: only malicious packages block.
    assert_eq!(pull().await.unwrap(), PullVerdict::Allowed);

    // The system blocks critical; the project tightens that to high, and cannot loosen it.
    governance
        .set_policy(None, "block_severity = \"critical\"\n", false, "root")
        .await
        .unwrap();
    let set = governance
        .set_policy(Some("team"), "block_severity: high\n", true, "alice")
        .await
        .unwrap();
    assert_eq!(set.version, 1);
    assert!(
        set.effective.contains("block_severity = \"high\""),
        "{}",
        set.effective
    );
    governance.changed();
    match pull().await.unwrap() {
        PullVerdict::Denied(message) => {
            assert!(
                message.contains(CVE) && message.contains("policy \"team\""),
                "{message}"
            )
        }
        PullVerdict::Allowed => panic!("a high finding must block"),
    }
    let loosened = governance
        .set_policy(Some("team"), "block_severity = \"none\"\n", false, "alice")
        .await
        .unwrap();
    assert_eq!(loosened.version, 2);
    assert!(
        loosened.effective.contains("\"critical\""),
        "the system's still applies"
    );
    let history = governance.policy_history(Some("team")).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|v| (v.version, v.author.as_deref()))
            .collect::<Vec<_>>(),
        [(2, Some("alice")), (1, Some("alice"))]
    );
    governance
        .set_policy(Some("team"), "block_severity = \"high\"\n", false, "alice")
        .await
        .unwrap();
    assert!(matches!(pull().await.unwrap(), PullVerdict::Denied(_)));
    assert!(
        governance
            .set_policy(Some("team"), "block_severty = \"high\"\n", false, "alice")
            .await
            .is_err(),
        "a misspelt rule is refused, not ignored"
    );

    // Only fixes older than 14 days count: this one was published a week before T0, so it
    // blocks from 2030-01-08 on, with no job to wake it. (With no system threshold: a
    // system rule without a fix age would count every fix.)
    governance
        .set_policy(None, "", false, "root")
        .await
        .unwrap();
    governance
        .set_policy(
            Some("team"),
            "block_severity = \"high\"\nfix_older_than_days = 14\n",
            false,
            "alice",
        )
        .await
        .unwrap();
    assert_eq!(pull().await.unwrap(), PullVerdict::Allowed);
    clock.set(T0 + 7 * DAY - 1);
    assert_eq!(pull().await.unwrap(), PullVerdict::Allowed);
    clock.set(T0 + 7 * DAY);
    assert!(matches!(pull().await.unwrap(), PullVerdict::Denied(_)));
    clock.set(T0);
    governance
        .set_policy(Some("team"), "block_severity = \"high\"\n", false, "alice")
        .await
        .unwrap();
    governance
        .set_policy(None, "block_severity = \"critical\"\n", false, "root")
        .await
        .unwrap();

    // An exception until tomorrow lets it through, and the decision is cached…
    let exception = governance
        .add_exception(
            &NewException {
                project: Some("team".into()),
                vulnerability: CVE.into(),
                package: Some("musl".into()),
                repository: None,
                digest: None,
                reason: "mitigated by seccomp profile".into(),
                expires_at: "2030-01-02T00:00:00Z".into(),
            },
            "alice",
        )
        .await
        .unwrap();
    assert!(!exception.expired);
    assert_eq!(pull().await.unwrap(), PullVerdict::Allowed);
    clock.set(T0 + DAY - 1);
    assert_eq!(pull().await.unwrap(), PullVerdict::Allowed);
    // … until the clock passes its expiry: then it stops applying by itself, with no job.
    clock.set(T0 + DAY);
    match pull().await.unwrap() {
        PullVerdict::Denied(message) => assert!(message.contains(CVE), "{message}"),
        PullVerdict::Allowed => panic!("an expired exception must not apply"),
    }
    let listed = governance
        .exceptions(Some(&["team".to_owned()]), true, true)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].expired);
    assert_eq!(listed[0].stale, Some(false), "it still names a finding");
    let evaluation = governance
        .evaluate(&repository, &digest, None)
        .await
        .unwrap();
    assert_eq!(
        evaluation.expired_exceptions,
        std::slice::from_ref(&exception.id)
    );

    // An exception for something no artifact holds is stale; one in the past is refused.
    governance
        .add_exception(
            &NewException {
                project: Some("team".into()),
                vulnerability: "CVE-1999-0001".into(),
                package: None,
                repository: Some("team/app".into()),
                digest: None,
                reason: "old".into(),
                expires_at: "2031-01-01".into(),
            },
            "alice",
        )
        .await
        .unwrap();
    let stale: Vec<_> = governance
        .exceptions(Some(&["team".to_owned()]), true, true)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.stale == Some(true))
        .map(|e| e.vulnerability)
        .collect();
    assert_eq!(stale, ["CVE-1999-0001"]);
    let past = governance
        .add_exception(
            &NewException {
                project: Some("team".into()),
                vulnerability: CVE.into(),
                package: None,
                repository: Some("other/app".into()),
                digest: None,
                reason: "x".into(),
                expires_at: "2029-12-31".into(),
            },
            "alice",
        )
        .await;
    assert!(
        past.is_err(),
        "an expiry in the past, a repository of another project"
    );

    // A project's exception waives its own rules, never the system's.
    governance
        .set_policy(None, "block_severity = \"high\"\n", false, "root")
        .await
        .unwrap();
    let waiver = |project: Option<&str>| NewException {
        project: project.map(str::to_owned),
        vulnerability: CVE.into(),
        package: None,
        repository: None,
        digest: None,
        reason: "accepted risk".into(),
        expires_at: "2031-01-01".into(),
    };
    governance
        .add_exception(&waiver(Some("team")), "alice")
        .await
        .unwrap();
    match pull().await.unwrap() {
        PullVerdict::Denied(message) => {
            assert!(message.contains("policy \"system\""), "{message}")
        }
        PullVerdict::Allowed => panic!("a project exception must not waive a system rule"),
    }
    governance
        .add_exception(&waiver(None), "root")
        .await
        .unwrap();
    assert_eq!(pull().await.unwrap(), PullVerdict::Allowed);
}

#[tokio::test]
async fn decisions_sqlite() {
    suite(Backend::Sqlite).await;
}

#[tokio::test]
async fn decisions_postgres() {
    suite(Backend::Postgres).await;
}

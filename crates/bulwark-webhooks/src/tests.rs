#![allow(clippy::unwrap_used)]

use super::*;

fn hook(project: Option<&str>, events: &[&str]) -> WebhookRecord {
    WebhookRecord {
        id: 1,
        project: project.map(str::to_owned),
        url: "http://127.0.0.1:9/hook".into(),
        secret: signing::new_secret().unwrap(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        description: String::new(),
        created_by: "admin".into(),
        created_at: 0,
    }
}

fn notice(project: &str, event_type: &'static str) -> Notice {
    Notice {
        event_type,
        project: project.into(),
        key: "7".into(),
        subject: format!("{project}/app@sha256:00"),
        time: 1_765_000_000_000,
        data: serde_json::json!({ "repository": format!("{project}/app") }),
    }
}

#[test]
fn urls_must_be_http_with_a_host_and_no_credentials() {
    assert!(check_url("https://hooks.example.com/bulwark").is_ok());
    assert!(check_url("http://127.0.0.1:8080/x?y=1").is_ok());
    for bad in [
        "ftp://example.com/",
        "file:///etc/passwd",
        "https://user:pass@example.com/",
        "https://token@example.com/",
        "not a url",
        "https://",
    ] {
        assert!(check_url(bad).is_err(), "{bad}");
    }
    assert!(check_url(&format!("https://example.com/{}", "a".repeat(3000))).is_err());
}

#[test]
fn event_types_are_checked_and_deduplicated() {
    let events = check_events(&["scan.completed".into(), "scan.completed".into()]).unwrap();
    assert_eq!(events, ["scan.completed"]);
    let refused = check_events(&["image.pushed".into()])
        .unwrap_err()
        .to_string();
    assert!(refused.contains("artifact.pushed"), "{refused}");
}

#[test]
fn a_project_webhook_gets_only_its_projects_notices_of_its_types() {
    let project = hook(Some("team"), &["artifact.pushed"]);
    assert!(wants(&project, &notice("team", "artifact.pushed")));
    assert!(!wants(&project, &notice("other", "artifact.pushed")));
    assert!(!wants(&project, &notice("team", "policy.denied")));
    let system = hook(None, &[]);
    assert!(wants(&system, &notice("other", "policy.denied")));
}

#[test]
fn the_cloud_event_is_structured_json_with_a_stable_id() {
    let event = cloud_event(&notice("team", "artifact.pushed"));
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "dev.bulwark.artifact.pushed");
    assert_eq!(event["source"], "/projects/team");
    assert_eq!(event["subject"], "team/app@sha256:00");
    assert_eq!(event["datacontenttype"], "application/json");
    assert!(event["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        event["id"],
        cloud_event(&notice("team", "artifact.pushed"))["id"]
    );
    let mut other = notice("team", "artifact.pushed");
    other.key = "8".into();
    assert_ne!(event["id"], cloud_event(&other)["id"]);
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let database =
        bulwark_test_support::TestDatabase::new(bulwark_test_support::Backend::Sqlite).await;
    let metadata = MetadataStore::connect(database.url(), 2).await.unwrap();
    let guarded = Webhooks::new(metadata.clone(), WebhookSettings::default()).unwrap();
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.7/hook",
    ] {
        let request = WebhookRequest {
            url: url.into(),
            events: Vec::new(),
            description: String::new(),
        };
        let refused = guarded.create(None, &request, "admin").await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("webhook_allow_private_networks"),
            "{url}: {refused}"
        );
    }
    // A name is checked when it is resolved: one that resolves only to loopback is dropped.
    let resolved =
        reqwest::dns::Resolve::resolve(&targets::PublicOnly, "localhost".parse().unwrap()).await;
    assert!(resolved.is_err());
    // Allowed by the operator, for receivers inside the network.
    let open = Webhooks::new(
        metadata,
        WebhookSettings {
            allow_private_networks: true,
            ..WebhookSettings::default()
        },
    )
    .unwrap();
    let request = WebhookRequest {
        url: "http://127.0.0.1:8080/hook".into(),
        events: Vec::new(),
        description: String::new(),
    };
    assert!(open.create(None, &request, "admin").await.is_ok());
}

#[tokio::test]
async fn secrets_are_kept_sealed_when_keys_are_configured() {
    let database =
        bulwark_test_support::TestDatabase::new(bulwark_test_support::Backend::Sqlite).await;
    let metadata = MetadataStore::connect(database.url(), 2).await.unwrap();
    let keys = bulwark_blobstore::KeyFile::parse(&bulwark_blobstore::KeyFile::generate().unwrap())
        .unwrap();
    let webhooks = Webhooks::new(metadata.clone(), WebhookSettings::default())
        .unwrap()
        .sealing_secrets(std::sync::Arc::new(keys));
    let request = WebhookRequest {
        url: "https://hooks.example.com/a".into(),
        events: Vec::new(),
        description: String::new(),
    };
    let created = webhooks.create(None, &request, "admin").await.unwrap();
    let stored = metadata.webhook(created.webhook.id).await.unwrap().unwrap();
    assert!(
        stored.secret.starts_with(SEALED_SECRET),
        "{}",
        stored.secret
    );
    assert!(!stored.secret.contains(&created.secret[6..]));
    assert_eq!(webhooks.signing_secret(&stored).unwrap(), created.secret);
    // Moved to another webhook (another URL), it no longer opens.
    let mut moved = stored.clone();
    moved.url = "https://hooks.example.com/b".into();
    assert!(webhooks.signing_secret(&moved).is_err());
    // Without the keys, a sealed secret signs nothing.
    let keyless = Webhooks::new(metadata, WebhookSettings::default()).unwrap();
    assert!(keyless.signing_secret(&stored).is_err());
}

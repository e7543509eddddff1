//! The access-control service against a real store, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bulwark_auth::manage::{
    NewProject, NewRobot, NewUser, PasswordChange, ProjectChanges, TokenOwnerRef, TokenRequest,
    UserChanges,
};
use bulwark_auth::{
    Action, Auth, AuthConfig, AuthError, Caller, Credentials, Resource, Role, Subject,
};
use bulwark_metadata::{MetadataStore, TokenOwner, TokenRecord, now_millis};
use bulwark_test_support::{Backend, TestDatabase};

const CLIENT: &str = "127.0.0.1";

/// Signs in, as the request context of the management operations that follow.
async fn login(auth: &Auth, username: &str, secret: &str) -> Result<Caller, AuthError> {
    let subject = auth
        .authenticate(Credentials::Basic { username, secret }, CLIENT)
        .await?;
    Ok(Caller::new(
        subject,
        CLIENT.to_owned(),
        format!("test-{username}"),
    ))
}

/// Every project `caller` can see, page by page (three at a time).
async fn all_projects(auth: &Auth, caller: &Caller) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let (page, next) = auth.list_projects(caller, &after, Some(3)).await.unwrap();
        assert!(page.len() <= 3);
        seen.extend(page.into_iter().map(|p| p.name));
        match next {
            Some(next) => after = next,
            None => return seen,
        }
    }
}

async fn suite(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = MetadataStore::connect(db.url(), 4).await.unwrap();
    let auth = Auth::new(store.clone(), AuthConfig::default())
        .await
        .unwrap();

    // The first administrator, once.
    let (admin_view, admin_token) = auth.init_admin("root", None).await.unwrap();
    assert!(admin_view.admin);
    assert!(admin_token.token.starts_with("bwk_"));
    assert!(matches!(
        auth.init_admin("second", None).await,
        Err(AuthError::Conflict(_))
    ));
    let admin = login(&auth, "root", &admin_token.token).await.unwrap();
    // A token only works with its owner's name.
    assert!(matches!(
        login(&auth, "someone", &admin_token.token).await,
        Err(AuthError::InvalidCredentials)
    ));

    // Users with passwords; wrong passwords and unknown users fail alike.
    for name in ["dev", "reader", "outsider"] {
        auth.create_user(
            &admin,
            NewUser {
                name: name.into(),
                password: Some(format!("{name}-password-123")),
                admin: false,
            },
        )
        .await
        .unwrap();
    }
    assert!(matches!(
        auth.create_user(
            &admin,
            NewUser {
                name: "dev".into(),
                ..Default::default()
            }
        )
        .await,
        Err(AuthError::AlreadyExists(_))
    ));
    assert!(matches!(
        auth.create_user(
            &admin,
            NewUser {
                name: "Bad$Name".into(),
                ..Default::default()
            }
        )
        .await,
        Err(AuthError::Invalid(_))
    ));
    let dev = login(&auth, "dev", "dev-password-123").await.unwrap();
    assert!(matches!(
        login(&auth, "dev", "wrong-password-123").await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        login(&auth, "ghost", "whatever-password").await,
        Err(AuthError::InvalidCredentials)
    ));
    // Non-admins cannot manage users.
    assert!(matches!(
        auth.list_users(&dev, "", None).await,
        Err(AuthError::Denied)
    ));
    assert_eq!(auth.list_users(&admin, "", Some(2)).await.unwrap().len(), 2);

    // A private project with members.
    auth.create_project(
        &admin,
        NewProject {
            name: "team".into(),
            public: false,
            owner: None,
        },
    )
    .await
    .unwrap();
    auth.set_member(&admin, "team", "dev", Role::Developer)
        .await
        .unwrap();
    auth.set_member(&admin, "team", "reader", Role::Reader)
        .await
        .unwrap();
    let dev = login(&auth, "dev", "dev-password-123").await.unwrap();
    let reader = login(&auth, "reader", "reader-password-123").await.unwrap();
    let outsider = login(&auth, "outsider", "outsider-password-123")
        .await
        .unwrap();
    let repo = Resource::Repository("team/app");
    auth.authorize(&dev, Action::Push, repo).await.unwrap();
    auth.authorize(&reader, Action::Pull, repo).await.unwrap();
    assert!(matches!(
        auth.authorize(&reader, Action::Push, repo).await,
        Err(AuthError::Denied)
    ));
    assert!(matches!(
        auth.authorize(&outsider, Action::Pull, repo).await,
        Err(AuthError::Denied)
    ));
    assert!(matches!(
        auth.authorize(&Subject::Anonymous, Action::Pull, repo)
            .await,
        Err(AuthError::Unauthenticated)
    ));
    // The project list is filtered.
    assert_eq!(
        auth.list_projects(&outsider, "", None)
            .await
            .unwrap()
            .0
            .len(),
        0
    );
    assert_eq!(
        auth.list_projects(&reader, "", None).await.unwrap().0.len(),
        1
    );
    // Among many projects it cannot see, a member pages through exactly its own and the
    // public ones (read by name, not by scanning the others), and an administrator through
    // all of them, each once.
    for n in 0..40 {
        auth.create_project(
            &admin,
            NewProject {
                name: format!("hidden-{n:02}"),
                public: n % 10 == 0,
                owner: None,
            },
        )
        .await
        .unwrap();
    }
    let reader_sees = all_projects(&auth, &reader).await;
    let mut public: Vec<String> = (0..40)
        .filter(|n| n % 10 == 0)
        .map(|n| format!("hidden-{n:02}"))
        .collect();
    public.push("team".into());
    assert_eq!(reader_sees, public);
    let admin_sees = all_projects(&auth, &admin).await;
    assert_eq!(admin_sees.len(), 41);
    assert!(
        admin_sees.windows(2).all(|w| w[0] < w[1]),
        "each once, in order"
    );

    // Public projects: anonymous pull, nothing more.
    auth.update_project(
        &admin,
        "team",
        ProjectChanges {
            public: Some(true),
            ..ProjectChanges::default()
        },
    )
    .await
    .unwrap();
    auth.authorize(&Subject::Anonymous, Action::Pull, repo)
        .await
        .unwrap();
    assert!(
        auth.authorize(&Subject::Anonymous, Action::Push, repo)
            .await
            .is_err()
    );
    auth.update_project(
        &admin,
        "team",
        ProjectChanges {
            public: Some(false),
            ..ProjectChanges::default()
        },
    )
    .await
    .unwrap();

    // Personal access tokens: scoped, revocable, rotatable.
    let scoped = auth
        .create_token(
            &dev,
            &TokenOwnerRef::Me,
            TokenRequest {
                name: "ci".into(),
                expires_in_days: Some(7),
                scopes: vec!["team/app:pull".into()],
            },
        )
        .await
        .unwrap();
    let via_token = login(&auth, "dev", &scoped.token).await.unwrap();
    auth.authorize(&via_token, Action::Pull, repo)
        .await
        .unwrap();
    assert!(
        auth.authorize(&via_token, Action::Push, repo)
            .await
            .is_err(),
        "the scope narrows the developer's rights"
    );
    // A scoped token cannot mint tokens.
    assert!(
        auth.create_token(
            &via_token,
            &TokenOwnerRef::Me,
            TokenRequest {
                name: "wider".into(),
                ..Default::default()
            }
        )
        .await
        .is_err()
    );
    assert!(matches!(
        auth.create_token(
            &dev,
            &TokenOwnerRef::Me,
            TokenRequest {
                name: "forever".into(),
                expires_in_days: Some(10_000),
                scopes: vec![]
            }
        )
        .await,
        Err(AuthError::Invalid(_))
    ));
    let listed = auth
        .list_tokens(&dev, &TokenOwnerRef::Me, "", None)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_from.as_deref(), Some(CLIENT));
    // Others' tokens look absent.
    assert!(matches!(
        auth.revoke_token(&outsider, &scoped.view.id).await,
        Err(AuthError::NotFound(_))
    ));

    // Rotation without grace: the old secret stops at once.
    let rotated = auth.rotate_token(&dev, &scoped.view.id, 0).await.unwrap();
    assert!(login(&auth, "dev", &scoped.token).await.is_err());
    login(&auth, "dev", &rotated.token).await.unwrap();
    // With grace: both work.
    let again = auth
        .rotate_token(&dev, &scoped.view.id, 3600)
        .await
        .unwrap();
    login(&auth, "dev", &rotated.token).await.unwrap();
    login(&auth, "dev", &again.token).await.unwrap();
    // Revocation is immediate.
    auth.revoke_token(&dev, &scoped.view.id).await.unwrap();
    assert!(login(&auth, "dev", &again.token).await.is_err());
    assert!(login(&auth, "dev", &rotated.token).await.is_err());

    // An expired token fails.
    let expired = bulwark_auth::secret::generate_token().unwrap();
    let dev_id = store.user_by_name("dev").await.unwrap().unwrap().id;
    store
        .insert_token(&TokenRecord {
            id: expired.id.clone(),
            owner: TokenOwner::User(dev_id),
            name: "old".into(),
            secret_hash: expired.secret_hash.clone(),
            previous_secret_hash: None,
            previous_valid_until: None,
            scopes: "[]".into(),
            created_at: now_millis() - 10_000,
            expires_at: now_millis() - 1,
            revoked_at: None,
            last_used_at: None,
            last_used_addr: None,
        })
        .await
        .unwrap();
    assert!(login(&auth, "dev", &expired.token).await.is_err());

    // Disabling a user disables its password and tokens.
    let live = auth
        .create_token(
            &dev,
            &TokenOwnerRef::Me,
            TokenRequest {
                name: "live".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    auth.update_user(
        &admin,
        "dev",
        UserChanges {
            disabled: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(login(&auth, "dev", "dev-password-123").await.is_err());
    assert!(login(&auth, "dev", &live.token).await.is_err());

    // Robots: permissions within their project, tokens only.
    let (robot, robot_token) = auth
        .create_robot(
            &admin,
            Some("team"),
            NewRobot {
                name: "ci".into(),
                description: "pipeline".into(),
                permissions: vec!["team:pull,push".into()],
                expires_in_days: Some(30),
            },
        )
        .await
        .unwrap();
    assert_eq!(robot.name, "robot+team+ci");
    let bot = login(&auth, &robot.name, &robot_token.token).await.unwrap();
    auth.authorize(&bot, Action::Push, repo).await.unwrap();
    assert!(auth.authorize(&bot, Action::Delete, repo).await.is_err());
    assert!(
        auth.authorize(&bot, Action::Pull, Resource::Repository("other/app"))
            .await
            .is_err()
    );
    assert!(matches!(
        auth.create_robot(
            &admin,
            Some("team"),
            NewRobot {
                name: "greedy".into(),
                permissions: vec!["other:pull".into()],
                ..Default::default()
            }
        )
        .await,
        Err(AuthError::Invalid(_))
    ));
    auth.set_robot_disabled(&admin, &robot.name, true)
        .await
        .unwrap();
    assert!(login(&auth, &robot.name, &robot_token.token).await.is_err());

    // Registry tokens carry only the granted subset.
    let reader = login(&auth, "reader", "reader-password-123").await.unwrap();
    let issued = auth
        .registry_token(
            &reader,
            &[
                "repository:team/app:pull,push",
                "repository:elsewhere/x:pull",
                "registry:catalog:*",
            ],
        )
        .await
        .unwrap();
    let bearer = auth
        .authenticate(Credentials::Bearer(&issued.token), CLIENT)
        .await
        .unwrap();
    let Subject::RegistryToken { access, .. } = &bearer else {
        panic!("expected a registry token subject");
    };
    assert_eq!(access.len(), 2);
    assert_eq!(access[0].name, "team/app");
    assert_eq!(access[0].actions, vec!["pull".to_owned()]);
    auth.authorize(&bearer, Action::Pull, repo).await.unwrap();
    assert!(matches!(
        auth.authorize(&bearer, Action::Push, repo).await,
        Err(AuthError::InsufficientScope)
    ));
    assert!(auth.registry_token(&bearer, &[]).await.is_err());

    // Key rotation: tokens of the old key still verify; new tokens use the new key.
    let new_kid = Auth::rotate_signing_key(&store).await.unwrap();
    auth.reload_keys().await.unwrap();
    auth.authenticate(Credentials::Bearer(&issued.token), CLIENT)
        .await
        .unwrap();
    let fresh = auth.registry_token(&reader, &[]).await.unwrap();
    assert!(fresh.token.split('.').next().is_some());
    let header = fresh.token.split('.').next().unwrap();
    use base64::Engine;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    assert!(String::from_utf8(header).unwrap().contains(&new_kid));

    // Failed attempts are rate limited per account.
    let mut limited = false;
    for _ in 0..8 {
        if let Err(AuthError::RateLimited { retry_after }) =
            login(&auth, "outsider", "not-the-password").await
        {
            assert!(retry_after >= Duration::from_secs(1));
            limited = true;
            break;
        }
    }
    assert!(limited, "failures must be rate limited");

    // A token-only account cannot give itself a first password: whoever holds one of its
    // tokens would get a credential that outlives the token. An administrator sets it.
    auth.create_user(
        &admin,
        NewUser {
            name: "tokenonly".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let issued = auth
        .create_token(
            &admin,
            &TokenOwnerRef::User("tokenonly".into()),
            TokenRequest {
                name: "laptop".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let token_only = login(&auth, "tokenonly", &issued.token).await.unwrap();
    assert!(matches!(
        auth.change_own_password(
            &token_only,
            PasswordChange {
                current_password: None,
                new_password: "stolen-token-password".into(),
            },
        )
        .await,
        Err(AuthError::Conflict(_))
    ));
    assert!(matches!(
        login(&auth, "tokenonly", "stolen-token-password").await,
        Err(AuthError::InvalidCredentials)
    ));

    // Projects holding nothing can be deleted; members and robots go with them.
    auth.delete_project(&admin, "team").await.unwrap();
    assert!(matches!(
        auth.get_project(&admin, "team").await,
        Err(AuthError::NotFound(_))
    ));
}

#[tokio::test]
async fn sqlite() {
    suite(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres() {
    suite(Backend::Postgres).await;
}

//! The authorization decision: who may do what to which resource.
//!
//! [`decide`] is a pure function of the caller ([`Subject`]), the [`Action`] and the facts
//! about the [`Target`]. Every route, registry and management alike, reaches it through
//! `Auth::authorize`; nothing else grants access. Anything not explicitly allowed is denied.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::AuthError;

/// What a caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read manifests, blobs, tags and referrers.
    Pull,
    /// Upload blobs, put manifests and tags.
    Push,
    /// Delete manifests, tags and blobs.
    Delete,
    /// Read the audit log and scan reports.
    Audit,
    /// Read an artifact's scan report, or find it in an impact query: whoever may pull it,
    /// and the project's auditors.
    ReadScans,
    /// Change a project's settings, members and robots.
    ManageProject,
    /// Create projects.
    CreateProject,
    /// Manage users, system robots and signing keys.
    ManageSystem,
    /// Create, list, rotate and revoke one's own access tokens; change one's own password.
    ManageOwnAccount,
    /// List the repositories one may pull.
    Catalog,
    /// See that a project exists and read its settings.
    ViewProject,
    /// Read the server's metrics (`/metrics`): administrators, and system robots that hold
    /// `*:metrics`, the credential a Prometheus scraper is given.
    ReadMetrics,
}

/// A member's role in a project. Each role's rights are listed in [`Role::allows`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Maintainer,
    Developer,
    Reader,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Maintainer,
        Role::Developer,
        Role::Reader,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Maintainer => "maintainer",
            Role::Developer => "developer",
            Role::Reader => "reader",
            Role::Auditor => "auditor",
        }
    }

    pub fn allows(self, action: Action) -> bool {
        use Action::*;
        if action == ViewProject {
            return true;
        }
        match self {
            Role::Owner => matches!(
                action,
                Pull | Push | Delete | Audit | ManageProject | ReadScans
            ),
            Role::Maintainer => matches!(action, Pull | Push | Delete | ReadScans),
            Role::Developer => matches!(action, Pull | Push | ReadScans),
            Role::Reader => matches!(action, Pull | ReadScans),
            // Auditors see the audit log and scan reports and nothing else: not even images.
            Role::Auditor => matches!(action, Audit | ReadScans),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| {
                AuthError::Invalid(format!(
                    "unknown role {s:?}: use owner, maintainer, developer, reader or auditor"
                ))
            })
    }
}

/// The actions a token scope or robot permission can name. Narrower than [`Action`]: nothing
/// scoped can manage users or the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScopedAction {
    Pull,
    Push,
    Delete,
    Audit,
    Admin,
    /// Reading `/metrics`; only system robots may hold it (`*:metrics`).
    Metrics,
}

impl ScopedAction {
    fn as_str(self) -> &'static str {
        match self {
            ScopedAction::Pull => "pull",
            ScopedAction::Push => "push",
            ScopedAction::Delete => "delete",
            ScopedAction::Audit => "audit",
            ScopedAction::Admin => "admin",
            ScopedAction::Metrics => "metrics",
        }
    }

    fn covers(self, action: Action) -> bool {
        matches!(
            (self, action),
            (ScopedAction::Pull, Action::Pull)
                | (ScopedAction::Push, Action::Push)
                | (ScopedAction::Delete, Action::Delete)
                | (ScopedAction::Audit, Action::Audit)
                | (ScopedAction::Pull | ScopedAction::Audit, Action::ReadScans)
                | (ScopedAction::Admin, Action::ManageProject)
                | (ScopedAction::Metrics, Action::ReadMetrics)
        )
    }
}

impl FromStr for ScopedAction {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pull" => ScopedAction::Pull,
            "push" => ScopedAction::Push,
            "delete" => ScopedAction::Delete,
            "audit" => ScopedAction::Audit,
            "admin" => ScopedAction::Admin,
            "metrics" => ScopedAction::Metrics,
            other => {
                return Err(AuthError::Invalid(format!(
                    "unknown action {other:?}: use pull, push, delete, audit, admin or metrics"
                )));
            }
        })
    }
}

/// Parses `a,b,c` into a non-empty set of actions.
pub fn parse_actions(list: &str) -> Result<BTreeSet<ScopedAction>, AuthError> {
    let actions = list
        .split(',')
        .map(|a| a.trim().parse())
        .collect::<Result<BTreeSet<_>, _>>()?;
    if actions.is_empty() {
        return Err(AuthError::Invalid(
            "a scope needs at least one action".into(),
        ));
    }
    Ok(actions)
}

pub fn format_actions(actions: &BTreeSet<ScopedAction>) -> String {
    actions
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A restriction on an access token: `project:actions` or `project/repository:actions`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scope {
    pub project: String,
    /// A whole repository name (`project/…`); `None` = every repository of the project.
    pub repository: Option<String>,
    pub actions: BTreeSet<ScopedAction>,
}

impl Scope {
    fn covers(&self, action: Action, target: &Target<'_>) -> bool {
        let Some(project) = target.project else {
            return false;
        };
        if self.project != project {
            return false;
        }
        if action == Action::ViewProject {
            return true;
        }
        if let Some(repository) = &self.repository {
            // A repository scope grants nothing at project level (settings, members, audit).
            if target.repository != Some(repository.as_str()) {
                return false;
            }
        }
        self.actions.iter().any(|a| a.covers(action))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resource = self.repository.as_deref().unwrap_or(&self.project);
        write!(f, "{resource}:{}", format_actions(&self.actions))
    }
}

impl FromStr for Scope {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (resource, actions) = s.rsplit_once(':').ok_or_else(|| {
            AuthError::Invalid(format!(
                "scope {s:?} must look like project:pull,push or project/repo:pull"
            ))
        })?;
        let name: bulwark_oci::RepositoryName = resource.parse().map_err(|_| {
            AuthError::Invalid(format!("scope {s:?} names no valid project or repository"))
        })?;
        let project = name.project().to_owned();
        let repository = (name.as_str() != project).then(|| name.as_str().to_owned());
        Ok(Scope {
            project,
            repository,
            actions: parse_actions(actions)?,
        })
    }
}

/// A scope a registry client asks the token endpoint for, as the Docker token protocol
/// writes it: `repository:NAME:ACTIONS` or `registry:catalog:*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedScope<'a> {
    Repository {
        name: &'a str,
        pull: bool,
        push: bool,
        delete: bool,
    },
    Catalog,
}

impl<'a> RequestedScope<'a> {
    /// `None` for anything else (unknown types, invalid names): clients may ask for scopes
    /// this registry does not know, and those are simply not granted.
    pub fn parse(scope: &'a str) -> Option<Self> {
        let (kind, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        match kind {
            "repository" => {
                name.parse::<bulwark_oci::RepositoryName>().ok()?;
                let asked = |wanted: &str| actions.split(',').any(|a| a == wanted || a == "*");
                Some(RequestedScope::Repository {
                    name,
                    pull: asked("pull"),
                    push: asked("push"),
                    delete: asked("delete"),
                })
            }
            "registry" if name == "catalog" => Some(RequestedScope::Catalog),
            _ => None,
        }
    }
}

/// A robot's standing permission: the actions it may take in one project, or in every
/// project (`project == None`, system robots only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotPermission {
    pub project: Option<String>,
    pub actions: BTreeSet<ScopedAction>,
}

/// One grant inside a registry token (the Docker token format's `access` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceAccess {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// The account behind a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum AccountId {
    User(i64),
    Robot(i64),
}

/// An authenticated account with the facts needed to decide for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub kind: AccountKind,
    /// `Some` when the caller used a scoped token: rights are the intersection.
    pub scopes: Option<Vec<Scope>>,
    /// The token used, if any (for audit and self-service).
    pub token_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountKind {
    User {
        is_admin: bool,
        /// Role per project name.
        memberships: HashMap<String, Role>,
    },
    Robot {
        project: Option<String>,
        permissions: Vec<RobotPermission>,
    },
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Anonymous,
    Account(Account),
    /// The bearer of a registry token: exactly the grants inside it, until it expires.
    RegistryToken {
        /// `None` for a token issued to an anonymous caller.
        account: Option<AccountId>,
        name: String,
        access: Vec<ResourceAccess>,
    },
}

impl Subject {
    pub fn is_authenticated(&self) -> bool {
        !matches!(self, Subject::Anonymous)
    }

    /// A name fit for logs and audit records.
    pub fn display_name(&self) -> &str {
        match self {
            Subject::Anonymous => "anonymous",
            Subject::Account(account) => &account.name,
            Subject::RegistryToken { name, .. } => name,
        }
    }
}

/// What the request is about, with the facts the decision needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// `None` for system-wide actions.
    pub project: Option<&'a str>,
    /// The full repository name for repository actions.
    pub repository: Option<&'a str>,
    /// Whether the project exists and is public. A project that does not exist is private,
    /// so a caller cannot tell the two apart.
    pub public: bool,
}

impl Target<'_> {
    pub const SYSTEM: Target<'static> = Target {
        project: None,
        repository: None,
        public: false,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// The one authorization decision.
///
/// *Invariant:* `target.public` only ever widens what is allowed (callers rely on this to
/// look visibility up only after a denial).
pub fn decide(subject: &Subject, action: Action, target: &Target<'_>) -> Decision {
    let allowed = match subject {
        Subject::Anonymous => public_allows(action, target),
        Subject::RegistryToken { access, .. } => registry_token_allows(access, action, target),
        Subject::Account(account) => match action {
            // The listing itself is filtered repository by repository with `Pull`.
            Action::Catalog => true,
            // Self-service needs the full credential: a scoped token cannot mint wider ones.
            Action::ManageOwnAccount => {
                account.scopes.is_none() && matches!(account.kind, AccountKind::User { .. })
            }
            _ => {
                account_allows(account, action, target)
                    && account
                        .scopes
                        .as_ref()
                        .is_none_or(|scopes| scopes.iter().any(|s| s.covers(action, target)))
            }
        },
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::Deny
    }
}

/// The projects in which a caller might be allowed an action, besides public ones: a
/// superset that lets a listing be narrowed in the store before [`decide`] judges each entry,
/// so the work a listing does follows what the caller can see, not the size of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidates {
    /// Any project (an administrator, a system robot with the right).
    Any,
    /// These projects, and public ones.
    Only(BTreeSet<String>),
}

/// See [`Candidates`]. A registry token's bearer is judged by its account, which the caller
/// loads first (as `Auth::candidates` does).
pub fn candidates(subject: &Subject, action: Action) -> Candidates {
    match subject {
        Subject::Anonymous | Subject::RegistryToken { .. } => Candidates::Only(BTreeSet::new()),
        Subject::Account(account) => match &account.kind {
            AccountKind::User { is_admin: true, .. } => Candidates::Any,
            AccountKind::User { memberships, .. } => Candidates::Only(
                memberships
                    .iter()
                    .filter(|(_, role)| role.allows(action))
                    .map(|(project, _)| project.clone())
                    .collect(),
            ),
            AccountKind::Robot { permissions, .. } => {
                let granting = permissions.iter().filter(|p| {
                    action == Action::ViewProject || p.actions.iter().any(|a| a.covers(action))
                });
                let mut projects = BTreeSet::new();
                for permission in granting {
                    match &permission.project {
                        None => return Candidates::Any,
                        Some(project) => {
                            projects.insert(project.clone());
                        }
                    }
                }
                Candidates::Only(projects)
            }
        },
    }
}

fn account_allows(account: &Account, action: Action, target: &Target<'_>) -> bool {
    match &account.kind {
        AccountKind::User {
            is_admin,
            memberships,
        } => {
            if *is_admin {
                return true;
            }
            let Some(project) = target.project else {
                return false;
            };
            let by_role = memberships
                .get(project)
                .is_some_and(|role| role.allows(action));
            by_role || public_allows(action, target)
        }
        AccountKind::Robot { permissions, .. } => {
            let Some(project) = target.project else {
                // The one system-wide right a robot can hold.
                return action == Action::ReadMetrics
                    && permissions.iter().any(|p| {
                        p.project.is_none() && p.actions.contains(&ScopedAction::Metrics)
                    });
            };
            let by_permission = permissions.iter().any(|p| {
                p.project.as_deref().is_none_or(|p| p == project)
                    && (action == Action::ViewProject || p.actions.iter().any(|a| a.covers(action)))
            });
            by_permission || public_allows(action, target)
        }
    }
}

/// What a public project gives everyone, signed in or not: pulls (and the scan reports
/// of what may be pulled), and seeing the project.
fn public_allows(action: Action, target: &Target<'_>) -> bool {
    target.public
        && match action {
            Action::Pull | Action::ReadScans => target.repository.is_some(),
            Action::ViewProject => true,
            _ => false,
        }
}

fn registry_token_allows(access: &[ResourceAccess], action: Action, target: &Target<'_>) -> bool {
    if action == Action::Catalog {
        return access
            .iter()
            .any(|a| a.kind == "registry" && a.name == "catalog");
    }
    let wanted = match action {
        Action::Pull => "pull",
        Action::Push => "push",
        Action::Delete => "delete",
        _ => return false,
    };
    let Some(repository) = target.repository else {
        return false;
    };
    access.iter().any(|a| {
        a.kind == "repository"
            && a.name == repository
            && a.actions
                .iter()
                .any(|granted| granted == wanted || granted == "*")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(is_admin: bool, memberships: &[(&str, Role)]) -> Account {
        Account {
            id: AccountId::User(1),
            name: "alice".into(),
            kind: AccountKind::User {
                is_admin,
                memberships: memberships
                    .iter()
                    .map(|(p, r)| ((*p).to_owned(), *r))
                    .collect(),
            },
            scopes: None,
            token_id: None,
        }
    }

    fn repo(project: &str, public: bool) -> Target<'_> {
        Target {
            project: Some(project),
            repository: Some(if project == "p" { "p/app" } else { "q/app" }),
            public,
        }
    }

    #[test]
    fn roles_grant_exactly_their_rights() {
        for role in Role::ALL {
            let subject = Subject::Account(user(false, &[("p", role)]));
            let can = |a| decide(&subject, a, &repo("p", false)) == Decision::Allow;
            assert_eq!(can(Action::Pull), role != Role::Auditor, "{role} pull");
            assert_eq!(
                can(Action::Push),
                matches!(role, Role::Owner | Role::Maintainer | Role::Developer),
                "{role} push"
            );
            assert_eq!(
                can(Action::Delete),
                matches!(role, Role::Owner | Role::Maintainer),
                "{role} delete"
            );
            assert_eq!(
                can(Action::ManageProject),
                role == Role::Owner,
                "{role} admin"
            );
            assert_eq!(
                can(Action::Audit),
                matches!(role, Role::Owner | Role::Auditor),
                "{role} audit"
            );
            assert!(!can(Action::ManageSystem));
            // Nothing carries over to another project.
            assert_eq!(
                decide(&subject, Action::Pull, &repo("q", false)),
                Decision::Deny
            );
        }
    }

    #[test]
    fn public_projects_allow_anonymous_pull_and_nothing_more() {
        assert_eq!(
            decide(&Subject::Anonymous, Action::Pull, &repo("p", true)),
            Decision::Allow
        );
        assert_eq!(
            decide(&Subject::Anonymous, Action::Pull, &repo("p", false)),
            Decision::Deny
        );
        for action in [
            Action::Push,
            Action::Delete,
            Action::Audit,
            Action::ManageProject,
            Action::Catalog,
        ] {
            assert_eq!(
                decide(&Subject::Anonymous, action, &repo("p", true)),
                Decision::Deny
            );
        }
    }

    #[test]
    fn scan_reports_follow_pulls_and_audit() {
        for role in Role::ALL {
            let subject = Subject::Account(user(false, &[("p", role)]));
            assert_eq!(
                decide(&subject, Action::ReadScans, &repo("p", false)),
                Decision::Allow,
                "{role} reads the reports of its project"
            );
            assert_eq!(
                decide(&subject, Action::ReadScans, &repo("q", false)),
                Decision::Deny,
                "{role} reads no other private project's"
            );
        }
        assert_eq!(
            decide(&Subject::Anonymous, Action::ReadScans, &repo("p", true)),
            Decision::Allow,
            "what anyone may pull, anyone may read the report of"
        );
        let mut scoped = user(false, &[("p", Role::Owner)]);
        scoped.scopes = Some(vec!["p/app:push".parse().unwrap()]);
        assert_eq!(
            decide(
                &Subject::Account(scoped),
                Action::ReadScans,
                &repo("p", false)
            ),
            Decision::Deny,
            "a push-only token reads no reports"
        );
    }

    #[test]
    fn scopes_narrow_an_account() {
        let mut admin = user(true, &[]);
        admin.scopes = Some(vec!["p/app:pull".parse().unwrap()]);
        let subject = Subject::Account(admin);
        assert_eq!(
            decide(&subject, Action::Pull, &repo("p", false)),
            Decision::Allow
        );
        assert_eq!(
            decide(&subject, Action::Push, &repo("p", false)),
            Decision::Deny
        );
        assert_eq!(
            decide(&subject, Action::Pull, &repo("q", false)),
            Decision::Deny
        );
        assert_eq!(
            decide(&subject, Action::ManageSystem, &Target::SYSTEM),
            Decision::Deny
        );
        assert_eq!(
            decide(&subject, Action::ManageOwnAccount, &Target::SYSTEM),
            Decision::Deny
        );
    }

    #[test]
    fn registry_tokens_grant_only_what_they_carry() {
        let subject = Subject::RegistryToken {
            account: Some(AccountId::User(1)),
            name: "alice".into(),
            access: vec![ResourceAccess {
                kind: "repository".into(),
                name: "p/app".into(),
                actions: vec!["pull".into()],
            }],
        };
        assert_eq!(
            decide(&subject, Action::Pull, &repo("p", false)),
            Decision::Allow
        );
        assert_eq!(
            decide(&subject, Action::Push, &repo("p", false)),
            Decision::Deny
        );
        assert_eq!(
            decide(&subject, Action::ManageProject, &repo("p", false)),
            Decision::Deny
        );
    }

    /// Whatever the caller, a private project it may act on is among its candidates for that
    /// action: a listing narrowed to them loses nothing the decision would show.
    #[test]
    fn candidates_cover_every_allowed_project() {
        let robot = |project: Option<&str>, actions: &[ScopedAction]| {
            Subject::Account(Account {
                id: AccountId::Robot(7),
                name: "robot".into(),
                kind: AccountKind::Robot {
                    project: project.map(str::to_owned),
                    permissions: vec![RobotPermission {
                        project: project.map(str::to_owned),
                        actions: actions.iter().copied().collect(),
                    }],
                },
                scopes: None,
                token_id: None,
            })
        };
        let mut subjects = vec![
            Subject::Anonymous,
            Subject::Account(user(true, &[])),
            robot(Some("p"), &[ScopedAction::Pull]),
            robot(Some("p"), &[ScopedAction::Push, ScopedAction::Admin]),
            robot(None, &[ScopedAction::Pull]),
        ];
        for role in Role::ALL {
            subjects.push(Subject::Account(user(false, &[("p", role)])));
        }
        let actions = [
            Action::Pull,
            Action::Push,
            Action::Delete,
            Action::Audit,
            Action::ManageProject,
            Action::ViewProject,
        ];
        for subject in &subjects {
            for action in actions {
                let found = candidates(subject, action);
                for project in ["p", "q"] {
                    let allowed = decide(subject, action, &repo(project, false)) == Decision::Allow;
                    let listed = match &found {
                        Candidates::Any => true,
                        Candidates::Only(projects) => projects.contains(project),
                    };
                    assert!(
                        !allowed || listed,
                        "{subject:?} may {action:?} in {project} yet it is not a candidate"
                    );
                }
            }
        }
    }

    #[test]
    fn requested_scopes_parse() {
        assert_eq!(
            RequestedScope::parse("repository:p/app:pull,push"),
            Some(RequestedScope::Repository {
                name: "p/app",
                pull: true,
                push: true,
                delete: false
            })
        );
        assert_eq!(
            RequestedScope::parse("repository:p/app:*"),
            Some(RequestedScope::Repository {
                name: "p/app",
                pull: true,
                push: true,
                delete: true
            })
        );
        assert_eq!(
            RequestedScope::parse("registry:catalog:*"),
            Some(RequestedScope::Catalog)
        );
        for ignored in [
            "repository:P/App:pull",
            "repository",
            "plugin:x:pull",
            "registry:other:*",
        ] {
            assert_eq!(RequestedScope::parse(ignored), None, "{ignored}");
        }
    }

    proptest::proptest! {
        #[test]
        fn scope_parsers_never_panic(s in "\\PC*") {
            let _ = RequestedScope::parse(&s);
            let _ = s.parse::<Scope>();
            let _ = parse_actions(&s);
        }

        #[test]
        fn valid_scopes_round_trip(
            repo in "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}",
            actions in proptest::sample::subsequence(vec!["pull", "push", "delete", "audit", "admin"], 1..=5),
        ) {
            let text = format!("{repo}:{}", actions.join(","));
            let scope: Scope = text.parse().unwrap();
            let again: Scope = scope.to_string().parse().unwrap();
            proptest::prop_assert_eq!(scope, again);
        }
    }

    #[test]
    fn scope_strings_round_trip() {
        for text in ["p:pull", "p/app/web:pull,push,delete", "p:audit,admin"] {
            let scope: Scope = text.parse().unwrap();
            assert_eq!(scope.to_string(), text);
        }
        assert!("p".parse::<Scope>().is_err());
        assert!("p:fly".parse::<Scope>().is_err());
        assert!("P$:pull".parse::<Scope>().is_err());
    }
}

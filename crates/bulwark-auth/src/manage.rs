//! Management of users, projects, members, robots and access tokens.
//!
//! Every operation takes the caller first and authorizes through [`Auth::authorize`] before it
//! touches anything, so no front end (HTTP API, CLI) can forget a check. Records come back as
//! views without secrets.

use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Unbounded};

use bulwark_metadata::{
    ProjectRecord, RobotPermissionRecord, RobotRecord, TokenOwner, TokenRecord, UserRecord,
    UserUpdate, now_millis,
};
use serde::{Deserialize, Serialize};

use crate::policy::{ScopedAction, format_actions, parse_actions};
use crate::secret::{self, GeneratedToken};
use crate::{
    AccountId, Action, Auth, AuthError, Caller, Candidates, Decision, Resource, Role, Scope,
    Subject, Target,
};

pub type ManageError = AuthError;
type Result<T> = std::result::Result<T, AuthError>;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// A rotated-out secret may stay valid for at most this long.
pub const MAX_ROTATION_GRACE_SECS: u64 = 30 * 24 * 60 * 60;
pub const MAX_PAGE: u32 = 1000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct UserView {
    pub name: String,
    pub admin: bool,
    pub disabled: bool,
    pub has_password: bool,
    pub created_at: i64,
}

impl From<UserRecord> for UserView {
    fn from(user: UserRecord) -> Self {
        UserView {
            name: user.name,
            admin: user.is_admin,
            disabled: user.disabled,
            has_password: user.password_hash.is_some(),
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct ProjectView {
    pub name: String,
    pub public: bool,
    /// Whether a push queues a scan of what it stored.
    pub scan_on_push: bool,
    pub created_at: i64,
}

impl From<ProjectRecord> for ProjectView {
    fn from(project: ProjectRecord) -> Self {
        ProjectView {
            name: project.name,
            public: project.public,
            scan_on_push: project.scan_on_push,
            created_at: project.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct MemberView {
    pub user: String,
    pub role: Role,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct RobotView {
    pub name: String,
    pub project: Option<String>,
    pub description: String,
    pub disabled: bool,
    /// `project:actions` entries (`*:actions` = every project).
    pub permissions: Vec<String>,
    pub created_at: i64,
}

impl From<RobotRecord> for RobotView {
    fn from(robot: RobotRecord) -> Self {
        RobotView {
            name: robot.name,
            project: robot.project,
            description: robot.description,
            disabled: robot.disabled,
            permissions: robot
                .permissions
                .into_iter()
                .map(|p| format!("{}:{}", p.project, p.actions))
                .collect(),
            created_at: robot.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
    /// Until when a rotated-out secret keeps working.
    pub previous_secret_valid_until: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_from: Option<String>,
}

/// A token just created or rotated: the only time its secret is shown.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct NewToken {
    #[serde(flatten)]
    pub view: TokenView,
    pub token: String,
}

/// Secrets stay out of debug output (and so out of any log line that prints one).
impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("view", &self.view)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[derive(Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct NewUser {
    pub name: String,
    pub password: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

/// Secrets stay out of debug output (and so out of any log line that prints one).
impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("admin", &self.admin)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct UserChanges {
    pub password: Option<String>,
    pub admin: Option<bool>,
    pub disabled: Option<bool>,
}

/// Secrets stay out of debug output (and so out of any log line that prints one).
impl std::fmt::Debug for UserChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChanges")
            .field("admin", &self.admin)
            .field("disabled", &self.disabled)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// Required when the account already has a password.
    pub current_password: Option<String>,
    pub new_password: String,
}

/// Secrets stay out of debug output (and so out of any log line that prints one).
impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChange")
            .field("current_password", &"<redacted>")
            .field("new_password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct NewProject {
    pub name: String,
    #[serde(default)]
    pub public: bool,
    /// A user made owner of the new project.
    pub owner: Option<String>,
}

/// A change of a project's settings; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectChanges {
    /// Whether anyone may pull (and see the project).
    pub public: Option<bool>,
    /// Whether a push queues a scan of what it stored.
    pub scan_on_push: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct NewRobot {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `project:actions`; for a project robot the project must be its own.
    pub permissions: Vec<String>,
    /// Lifetime of the robot's first token.
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct TokenRequest {
    pub name: String,
    pub expires_in_days: Option<u32>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Whose tokens an operation is about.
#[derive(Debug, Clone)]
pub enum TokenOwnerRef {
    /// The caller's own.
    Me,
    User(String),
    Robot(String),
}

/// User names, robot names and project names: lowercase, digits and `._-` inside; no `$`,
/// quotes or spaces, so they are safe in any shell without quoting.
pub fn validate_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid(format!(
            "{kind} name {name:?} must be 1-64 characters of a-z, 0-9 and . _ - \
             starting and ending with a letter or digit"
        )))
    }
}

fn validate_token_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid(format!(
            "token name {name:?} must be 1-64 characters of A-Z, a-z, 0-9 and . _ - @"
        )))
    }
}

fn project_name_valid(name: &str) -> Result<()> {
    validate_name("project", name)?;
    // A project is the first component of repository names, so it must be one.
    match name.parse::<bulwark_oci::RepositoryName>() {
        Ok(parsed) if parsed.as_str() == name && !name.contains('/') => Ok(()),
        _ => Err(AuthError::Invalid(format!(
            "project name {name:?} is not a valid repository path component"
        ))),
    }
}

fn page_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(100).clamp(1, MAX_PAGE)
}

fn robot_full_name(project: Option<&str>, name: &str) -> String {
    match project {
        Some(project) => format!("robot+{project}+{name}"),
        None => format!("robot+{name}"),
    }
}

impl Auth {
    /// Creates the first system administrator with an access token, for `bulwark admin init`.
    /// Refused when an administrator already exists.
    pub async fn init_admin(
        &self,
        username: &str,
        password: Option<&str>,
    ) -> Result<(UserView, NewToken)> {
        validate_name("user", username)?;
        let password_hash = match password {
            Some(password) => Some(self.hash_password(password).await?),
            None => None,
        };
        let user = self
            .store()
            .create_first_admin(username, password_hash.as_deref())
            .await?
            .ok_or_else(|| AuthError::Conflict("a system administrator already exists".into()))?;
        let token = self
            .insert_token(
                TokenOwner::User(user.id),
                &user.name,
                "admin-init",
                None,
                &[],
            )
            .await?;
        Ok((user.into(), token))
    }

    // ---- users ----

    pub async fn create_user(&self, caller: &Caller, new: NewUser) -> Result<UserView> {
        self.authorize(caller, Action::ManageSystem, Resource::System)
            .await?;
        validate_name("user", &new.name)?;
        let hash = match new.password.as_deref() {
            Some(password) => Some(self.hash_password(password).await?),
            None => None,
        };
        let user = self
            .store()
            .create_user(&new.name, hash.as_deref(), new.admin)
            .await?;
        self.changed(caller, "user.create", &user.name);
        Ok(user.into())
    }

    pub async fn list_users(
        &self,
        caller: &Caller,
        after: &str,
        limit: Option<u32>,
    ) -> Result<Vec<UserView>> {
        self.authorize(caller, Action::ManageSystem, Resource::System)
            .await?;
        let users = self.store().users(after, page_limit(limit)).await?;
        Ok(users.into_iter().map(UserView::from).collect())
    }

    /// One's own record, or anyone's for an administrator.
    pub async fn get_user(&self, caller: &Caller, name: &str) -> Result<UserView> {
        if !is_self(caller, name) {
            self.authorize(caller, Action::ManageSystem, Resource::System)
                .await?;
        }
        let user = self.store().user_by_name(name).await?;
        user.map(UserView::from).ok_or(AuthError::NotFound("user"))
    }

    pub async fn update_user(
        &self,
        caller: &Caller,
        name: &str,
        changes: UserChanges,
    ) -> Result<UserView> {
        self.authorize(caller, Action::ManageSystem, Resource::System)
            .await?;
        if is_self(caller, name) && (changes.admin == Some(false) || changes.disabled == Some(true))
        {
            return Err(AuthError::Conflict(
                "administrators cannot demote or disable themselves".into(),
            ));
        }
        let password_hash = match changes.password.as_deref() {
            Some(password) => Some(self.hash_password(password).await?),
            None => None,
        };
        let update = UserUpdate {
            password_hash,
            is_admin: changes.admin,
            disabled: changes.disabled,
        };
        let user = self.store().update_user(name, &update).await?;
        let user = user.ok_or(AuthError::NotFound("user"))?;
        self.changed(caller, "user.update", &user.name);
        Ok(user.into())
    }

    // ---- projects ----

    pub async fn create_project(&self, caller: &Caller, new: NewProject) -> Result<ProjectView> {
        self.authorize(caller, Action::CreateProject, Resource::System)
            .await?;
        project_name_valid(&new.name)?;
        let owner = match &new.owner {
            Some(owner) => Some(
                self.store()
                    .user_by_name(owner)
                    .await?
                    .ok_or(AuthError::NotFound("user"))?,
            ),
            None => None,
        };
        let project = self.store().create_project(&new.name, new.public).await?;
        if let Some(owner) = owner {
            self.store()
                .set_member(project.id, owner.id, Role::Owner.as_str())
                .await?;
        }
        self.changed(caller, "project.create", &project.name);
        Ok(project.into())
    }

    /// The projects the caller can see (public ones, its own, all for an administrator) and
    /// the cursor of the next page. Only the projects the caller might see are read (its own
    /// and the public ones, see [`crate::policy::Candidates`]), and each is still judged by
    /// the decision point: the work follows what the caller sees, not the registry's size.
    pub async fn list_projects(
        &self,
        caller: &Caller,
        after: &str,
        limit: Option<u32>,
    ) -> Result<(Vec<ProjectView>, Option<String>)> {
        let limit = page_limit(limit) as usize;
        let records = match self.candidates(caller, Action::ViewProject).await? {
            Candidates::Any => self.store().projects(after, limit as u32 + 1).await?,
            Candidates::Only(mut names) => {
                names.extend(self.store().public_projects().await?);
                let mut records = Vec::new();
                for name in names.range::<str, _>((Excluded(after), Unbounded)) {
                    if records.len() > limit {
                        break;
                    }
                    // Gone since the names were read: nothing to show.
                    if let Some(record) = self.store().project_by_name(name).await? {
                        records.push(record);
                    }
                }
                records
            }
        };
        let more = records.len() > limit;
        let mut visible: Vec<ProjectView> = Vec::new();
        let mut examined = None;
        for project in records.into_iter().take(limit) {
            examined = Some(project.name.clone());
            // The record carries the visibility: decide without another query.
            let target = Target {
                project: Some(&project.name),
                repository: None,
                public: project.public,
            };
            if self.judge(caller, Action::ViewProject, &target) == Decision::Allow {
                visible.push(project.into());
            }
        }
        // From the last project examined: one the decision refused is not shown, yet the
        // next page starts after it.
        Ok((visible, examined.filter(|_| more)))
    }

    pub async fn get_project(&self, caller: &Caller, name: &str) -> Result<ProjectView> {
        self.authorize(caller, Action::ViewProject, Resource::Project(name))
            .await?;
        let project = self.store().project_by_name(name).await?;
        project
            .map(ProjectView::from)
            .ok_or(AuthError::NotFound("project"))
    }

    /// Changes a project's settings (those given).
    pub async fn update_project(
        &self,
        caller: &Caller,
        name: &str,
        changes: ProjectChanges,
    ) -> Result<ProjectView> {
        self.authorize(caller, Action::ManageProject, Resource::Project(name))
            .await?;
        let project = self
            .store()
            .update_project(name, changes.public, changes.scan_on_push)
            .await?;
        let project = project.ok_or(AuthError::NotFound("project"))?;
        self.changed(caller, "project.update", &project.name);
        Ok(project.into())
    }

    pub async fn delete_project(&self, caller: &Caller, name: &str) -> Result<()> {
        self.authorize(caller, Action::ManageProject, Resource::Project(name))
            .await?;
        if self.store().delete_project(name).await? {
            self.changed(caller, "project.delete", name);
            Ok(())
        } else {
            Err(AuthError::NotFound("project"))
        }
    }

    async fn project(&self, name: &str) -> Result<ProjectRecord> {
        self.store()
            .project_by_name(name)
            .await?
            .ok_or(AuthError::NotFound("project"))
    }

    // ---- members ----

    pub async fn list_members(
        &self,
        caller: &Caller,
        project: &str,
        after: &str,
        limit: Option<u32>,
    ) -> Result<Vec<MemberView>> {
        self.authorize(caller, Action::ManageProject, Resource::Project(project))
            .await?;
        let project = self.project(project).await?;
        self.store()
            .members(project.id, after, page_limit(limit))
            .await?
            .into_iter()
            .map(|m| {
                Ok(MemberView {
                    user: m.user,
                    role: m.role.parse()?,
                    created_at: m.created_at,
                })
            })
            .collect()
    }

    pub async fn set_member(
        &self,
        caller: &Caller,
        project: &str,
        user: &str,
        role: Role,
    ) -> Result<MemberView> {
        self.authorize(caller, Action::ManageProject, Resource::Project(project))
            .await?;
        let project = self.project(project).await?;
        let user = self
            .store()
            .user_by_name(user)
            .await?
            .ok_or(AuthError::NotFound("user"))?;
        self.store()
            .set_member(project.id, user.id, role.as_str())
            .await?;
        self.changed(
            caller,
            "member.set",
            &format!("{}/{} as {role}", project.name, user.name),
        );
        Ok(MemberView {
            user: user.name,
            role,
            created_at: caller.context.at_millis,
        })
    }

    pub async fn remove_member(&self, caller: &Caller, project: &str, user: &str) -> Result<()> {
        self.authorize(caller, Action::ManageProject, Resource::Project(project))
            .await?;
        let project = self.project(project).await?;
        let user = self
            .store()
            .user_by_name(user)
            .await?
            .ok_or(AuthError::NotFound("member"))?;
        if self.store().remove_member(project.id, user.id).await? {
            self.changed(
                caller,
                "member.remove",
                &format!("{}/{}", project.name, user.name),
            );
            Ok(())
        } else {
            Err(AuthError::NotFound("member"))
        }
    }

    // ---- robots ----

    /// Creates a robot in `project` (or a system robot) and its first access token.
    pub async fn create_robot(
        &self,
        caller: &Caller,
        project: Option<&str>,
        new: NewRobot,
    ) -> Result<(RobotView, NewToken)> {
        let project_record = match project {
            Some(name) => {
                self.authorize(caller, Action::ManageProject, Resource::Project(name))
                    .await?;
                Some(self.project(name).await?)
            }
            None => {
                self.authorize(caller, Action::ManageSystem, Resource::System)
                    .await?;
                None
            }
        };
        validate_name("robot", &new.name)?;
        if new.permissions.is_empty() {
            return Err(AuthError::Invalid(
                "a robot needs at least one permission, e.g. myproject:pull".into(),
            ));
        }
        let mut permissions: Vec<RobotPermissionRecord> = Vec::new();
        for entry in &new.permissions {
            let (target, actions) = entry.rsplit_once(':').ok_or_else(|| {
                AuthError::Invalid(format!(
                    "permission {entry:?} must look like project:pull,push"
                ))
            })?;
            let actions = parse_actions(actions)?;
            if actions.contains(&ScopedAction::Admin) || actions.contains(&ScopedAction::Audit) {
                return Err(AuthError::Invalid(
                    "robots may pull, push and delete (system robots also read metrics: *:metrics); nothing more"
                        .into(),
                ));
            }
            if actions.contains(&ScopedAction::Metrics) && (project.is_some() || target != "*") {
                return Err(AuthError::Invalid(
                    "metrics is a system-wide right: only a system robot may hold it, as *:metrics"
                        .into(),
                ));
            }
            match project {
                Some(own) if target != own => {
                    return Err(AuthError::Invalid(format!(
                        "a robot of project {own} can only hold permissions on {own}"
                    )));
                }
                None if target != "*" => project_name_valid(target)?,
                _ => {}
            }
            if permissions.iter().any(|p| p.project == target) {
                return Err(AuthError::Invalid(format!("project {target} listed twice")));
            }
            permissions.push(RobotPermissionRecord {
                project: target.to_owned(),
                actions: format_actions(&actions),
            });
        }
        let full_name = robot_full_name(project, &new.name);
        let robot = self
            .store()
            .create_robot(
                &full_name,
                project_record.map(|p| p.id),
                &new.description,
                &permissions,
            )
            .await?;
        let token = self
            .insert_token(
                TokenOwner::Robot(robot.id),
                &robot.name,
                "initial",
                new.expires_in_days,
                &[],
            )
            .await?;
        self.changed(caller, "robot.create", &robot.name);
        Ok((robot.into(), token))
    }

    pub async fn list_robots(
        &self,
        caller: &Caller,
        project: Option<&str>,
        after: &str,
        limit: Option<u32>,
    ) -> Result<Vec<RobotView>> {
        let project_id = match project {
            Some(name) => {
                self.authorize(caller, Action::ManageProject, Resource::Project(name))
                    .await?;
                Some(self.project(name).await?.id)
            }
            None => {
                self.authorize(caller, Action::ManageSystem, Resource::System)
                    .await?;
                None
            }
        };
        let robots = self
            .store()
            .robots(project_id, after, page_limit(limit))
            .await?;
        Ok(robots.into_iter().map(RobotView::from).collect())
    }

    /// The robot, once the caller is known to manage it; a robot the caller may not manage is
    /// "not found", like one that does not exist.
    async fn managed_robot(&self, caller: &Subject, name: &str) -> Result<RobotRecord> {
        // Anonymous callers learn nothing, not even whether the robot exists.
        if !caller.is_authenticated() {
            return Err(AuthError::Unauthenticated);
        }
        let robot = self.store().robot_by_name(name).await?;
        let allowed = match &robot {
            Some(robot) => match &robot.project {
                Some(project) => {
                    self.authorize(caller, Action::ManageProject, Resource::Project(project))
                        .await
                }
                None => {
                    self.authorize(caller, Action::ManageSystem, Resource::System)
                        .await
                }
            },
            None => Err(AuthError::NotFound("robot")),
        };
        match (robot, allowed) {
            (Some(robot), Ok(())) => Ok(robot),
            (_, Err(AuthError::Unauthenticated)) => Err(AuthError::Unauthenticated),
            _ => Err(AuthError::NotFound("robot")),
        }
    }

    pub async fn set_robot_disabled(
        &self,
        caller: &Caller,
        name: &str,
        disabled: bool,
    ) -> Result<RobotView> {
        let robot = self.managed_robot(caller, name).await?;
        self.store().set_robot_disabled(robot.id, disabled).await?;
        let robot = self.store().robot_by_id(robot.id).await?;
        let robot = robot.ok_or(AuthError::NotFound("robot"))?;
        self.changed(caller, "robot.update", &robot.name);
        Ok(robot.into())
    }

    pub async fn delete_robot(&self, caller: &Caller, name: &str) -> Result<()> {
        let robot = self.managed_robot(caller, name).await?;
        self.store().delete_robot(robot.id).await?;
        self.changed(caller, "robot.delete", &robot.name);
        Ok(())
    }

    // ---- access tokens ----

    async fn token_owner(
        &self,
        caller: &Subject,
        owner: &TokenOwnerRef,
    ) -> Result<(TokenOwner, String)> {
        match owner {
            TokenOwnerRef::Me => {
                self.authorize(caller, Action::ManageOwnAccount, Resource::System)
                    .await?;
                match caller {
                    Subject::Account(account) => match account.id {
                        AccountId::User(id) => Ok((TokenOwner::User(id), account.name.clone())),
                        AccountId::Robot(_) => Err(AuthError::Denied),
                    },
                    _ => Err(AuthError::Denied),
                }
            }
            TokenOwnerRef::User(name) => {
                if is_self(caller, name) {
                    return Box::pin(self.token_owner(caller, &TokenOwnerRef::Me)).await;
                }
                self.authorize(caller, Action::ManageSystem, Resource::System)
                    .await?;
                let user = self
                    .store()
                    .user_by_name(name)
                    .await?
                    .ok_or(AuthError::NotFound("user"))?;
                Ok((TokenOwner::User(user.id), user.name))
            }
            TokenOwnerRef::Robot(name) => {
                let robot = self.managed_robot(caller, name).await?;
                Ok((TokenOwner::Robot(robot.id), robot.name))
            }
        }
    }

    pub async fn create_token(
        &self,
        caller: &Caller,
        owner: &TokenOwnerRef,
        request: TokenRequest,
    ) -> Result<NewToken> {
        let (owner, owner_name) = self.token_owner(caller, owner).await?;
        validate_token_name(&request.name)?;
        let scopes = request
            .scopes
            .iter()
            .map(|s| s.parse())
            .collect::<Result<BTreeSet<Scope>>>()?;
        let scopes: Vec<Scope> = scopes.into_iter().collect();
        let token = self
            .insert_token(
                owner,
                &owner_name,
                &request.name,
                request.expires_in_days,
                &scopes,
            )
            .await?;
        self.changed(
            caller,
            "token.create",
            &format!("{} for {owner_name}", token.view.id),
        );
        Ok(token)
    }

    async fn insert_token(
        &self,
        owner: TokenOwner,
        owner_name: &str,
        name: &str,
        expires_in_days: Option<u32>,
        scopes: &[Scope],
    ) -> Result<NewToken> {
        let config = self.config();
        let days = expires_in_days.unwrap_or(config.access_token_default_days);
        if days == 0 || days > config.access_token_max_days {
            return Err(AuthError::Invalid(format!(
                "a token must expire within 1 to {} days",
                config.access_token_max_days
            )));
        }
        let generated: GeneratedToken = secret::generate_token()?;
        let now = now_millis();
        let scope_strings: Vec<String> = scopes.iter().map(Scope::to_string).collect();
        let record = TokenRecord {
            id: generated.id.clone(),
            owner,
            name: name.to_owned(),
            secret_hash: generated.secret_hash.clone(),
            previous_secret_hash: None,
            previous_valid_until: None,
            scopes: serde_json::to_string(&scope_strings)
                .map_err(|e| AuthError::Internal(e.to_string()))?,
            created_at: now,
            expires_at: now + i64::from(days) * DAY_MS,
            revoked_at: None,
            last_used_at: None,
            last_used_addr: None,
        };
        self.store().insert_token(&record).await?;
        Ok(NewToken {
            view: token_view(record, owner_name)?,
            token: generated.token,
        })
    }

    pub async fn list_tokens(
        &self,
        caller: &Caller,
        owner: &TokenOwnerRef,
        after: &str,
        limit: Option<u32>,
    ) -> Result<Vec<TokenView>> {
        let (owner, owner_name) = self.token_owner(caller, owner).await?;
        self.store()
            .tokens_of(owner, after, page_limit(limit))
            .await?
            .into_iter()
            .map(|t| token_view(t, &owner_name))
            .collect()
    }

    /// The token and its owner's name, once the caller is known to manage it. Tokens the
    /// caller may not manage are "not found".
    async fn managed_token(&self, caller: &Subject, id: &str) -> Result<(TokenRecord, String)> {
        if !caller.is_authenticated() {
            return Err(AuthError::Unauthenticated);
        }
        let Some(record) = self.store().token(id).await? else {
            return Err(AuthError::NotFound("token"));
        };
        let owner_ref = match record.owner {
            TokenOwner::User(user_id) => {
                let user = self.store().user_by_id(user_id).await?;
                TokenOwnerRef::User(user.map(|u| u.name).unwrap_or_default())
            }
            TokenOwner::Robot(robot_id) => {
                let robot = self.store().robot_by_id(robot_id).await?;
                TokenOwnerRef::Robot(robot.map(|r| r.name).unwrap_or_default())
            }
        };
        match self.token_owner(caller, &owner_ref).await {
            Ok((_, owner_name)) => Ok((record, owner_name)),
            Err(AuthError::Unauthenticated) => Err(AuthError::Unauthenticated),
            Err(_) => Err(AuthError::NotFound("token")),
        }
    }

    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> Result<()> {
        let (record, _) = self.managed_token(caller, id).await?;
        self.store().revoke_token(&record.id).await?;
        self.changed(caller, "token.revoke", &record.id);
        Ok(())
    }

    /// A new secret for the token; the old one keeps working for `grace_secs` (default 0).
    pub async fn rotate_token(
        &self,
        caller: &Caller,
        id: &str,
        grace_secs: u64,
    ) -> Result<NewToken> {
        if grace_secs > MAX_ROTATION_GRACE_SECS {
            return Err(AuthError::Invalid(format!(
                "the grace period may be at most {MAX_ROTATION_GRACE_SECS} seconds"
            )));
        }
        let (record, owner_name) = self.managed_token(caller, id).await?;
        if record.revoked_at.is_some() || record.expires_at <= now_millis() {
            return Err(AuthError::Conflict(
                "a revoked or expired token cannot be rotated".into(),
            ));
        }
        let generated = secret::regenerate_token(&record.id)?;
        let grace_ms = i64::try_from(grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let until = (grace_secs > 0).then(|| now_millis().saturating_add(grace_ms));
        if !self
            .store()
            .rotate_token(&record.id, &generated.secret_hash, until)
            .await?
        {
            return Err(AuthError::NotFound("token"));
        }
        let updated = self
            .store()
            .token(&record.id)
            .await?
            .ok_or(AuthError::NotFound("token"))?;
        self.changed(caller, "token.rotate", &record.id);
        Ok(NewToken {
            view: token_view(updated, &owner_name)?,
            token: generated.token,
        })
    }

    /// Changes the caller's own password. When the account has one, the current password
    /// must be given: a stolen token alone cannot turn into a password that never expires.
    pub async fn change_own_password(&self, caller: &Caller, change: PasswordChange) -> Result<()> {
        self.authorize(caller, Action::ManageOwnAccount, Resource::System)
            .await?;
        let Subject::Account(account) = &caller.subject else {
            return Err(AuthError::Denied);
        };
        let user = self
            .store()
            .user_by_name(&account.name)
            .await?
            .ok_or(AuthError::NotFound("user"))?;
        match &user.password_hash {
            Some(phc) => {
                let current = change.current_password.unwrap_or_default();
                if !self
                    .check_current_password(&user.name, &current, phc)
                    .await?
                {
                    return Err(AuthError::Invalid("the current password is wrong".into()));
                }
            }
            // A token-only account has nothing to re-authenticate with: a first password
            // is given by an administrator, or a stolen token would become a password that
            // outlives the token's expiry and revocation.
            None if !user.is_admin => {
                return Err(AuthError::Conflict(
                    "this account has no password yet; an administrator sets the first one \
                     (bulwark user update NAME --password-stdin)"
                        .into(),
                ));
            }
            None => {}
        }
        let update = UserUpdate {
            password_hash: Some(self.hash_password(&change.new_password).await?),
            ..UserUpdate::default()
        };
        self.store().update_user(&user.name, &update).await?;
        self.changed(caller, "password.change", &user.name);
        Ok(())
    }

    /// The caller's own identity, for `whoami`.
    pub async fn whoami(&self, caller: &Caller) -> Result<Whoami> {
        match &caller.subject {
            Subject::Account(account) => Ok(Whoami {
                name: account.name.clone(),
                kind: match account.id {
                    AccountId::User(_) => "user",
                    AccountId::Robot(_) => "robot",
                }
                .to_owned(),
                admin: matches!(
                    account.kind,
                    crate::AccountKind::User { is_admin: true, .. }
                ),
                token: account.token_id.clone(),
                scopes: account
                    .scopes
                    .as_ref()
                    .map(|s| s.iter().map(Scope::to_string).collect()),
            }),
            Subject::Anonymous => Err(AuthError::Unauthenticated),
            Subject::RegistryToken { .. } => Err(AuthError::Denied),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Whoami {
    pub name: String,
    pub kind: String,
    pub admin: bool,
    pub token: Option<String>,
    pub scopes: Option<Vec<String>>,
}

impl Auth {
    /// Every change a management operation made, with the request that asked for it: who
    /// (and with which token), from where, under which request id. The audit log's records
    /// will carry the same fields.
    fn changed(&self, caller: &Caller, action: &'static str, target: &str) {
        let context = &caller.context;
        tracing::info!(
            action,
            target,
            actor = %context.actor,
            token_id = context.token_id.as_deref().unwrap_or("-"),
            client = %context.client_address,
            request_id = %context.request_id,
            "management change"
        );
    }
}

fn is_self(caller: &Subject, name: &str) -> bool {
    matches!(caller, Subject::Account(account)
        if matches!(account.id, AccountId::User(_)) && account.name == name)
}

fn token_view(record: TokenRecord, owner_name: &str) -> Result<TokenView> {
    let scopes: Vec<String> = serde_json::from_str(&record.scopes)
        .map_err(|e| AuthError::Internal(format!("stored token scopes: {e}")))?;
    Ok(TokenView {
        id: record.id,
        name: record.name,
        owner: owner_name.to_owned(),
        scopes,
        created_at: record.created_at,
        expires_at: record.expires_at,
        revoked: record.revoked_at.is_some(),
        previous_secret_valid_until: record.previous_valid_until,
        last_used_at: record.last_used_at,
        last_used_from: record.last_used_addr,
    })
}

//! Queries for identities, projects, memberships, robots, access tokens and signing keys.
//!
//! This module stores facts; what they allow is decided elsewhere (`bulwark-auth`). Roles and
//! actions are kept as the text the policy layer gave, secrets only as hashes.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{MetadataError, MetadataStore, Result, now_millis};

#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub name: String,
    /// argon2id PHC string; `None` for token-only accounts.
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: i64,
}

/// Secrets stay out of debug output (and so out of any log line that prints one).
impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("is_admin", &self.is_admin)
            .field("disabled", &self.disabled)
            .field("created_at", &self.created_at)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRecord {
    pub id: i64,
    pub name: String,
    pub public: bool,
    /// Whether a push queues a scan of what it stored.
    pub scan_on_push: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub user: String,
    pub role: String,
    pub created_at: i64,
}

/// A robot's permission on one project (`*` = every project) as stored: the project and a
/// comma-separated list of actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotPermissionRecord {
    pub project: String,
    pub actions: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotRecord {
    pub id: i64,
    pub name: String,
    /// The owning project; `None` for a system robot.
    pub project: Option<String>,
    pub description: String,
    pub disabled: bool,
    pub created_at: i64,
    pub permissions: Vec<RobotPermissionRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenOwner {
    User(i64),
    Robot(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public part of the token, also its primary key.
    pub id: String,
    pub owner: TokenOwner,
    pub name: String,
    pub secret_hash: Vec<u8>,
    pub previous_secret_hash: Option<Vec<u8>>,
    pub previous_valid_until: Option<i64>,
    /// JSON array of scopes; empty array = the owner's full rights.
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_addr: Option<String>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// Secrets stay out of debug output (and so out of any log line that prints one).
impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("public_key", &self.public_key)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// Changes to a user; `None` leaves a field alone.
#[derive(Clone, Default)]
pub struct UserUpdate {
    pub password_hash: Option<String>,
    pub is_admin: Option<bool>,
    pub disabled: Option<bool>,
}

/// Secrets stay out of debug output (and so out of any log line that prints one).
impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdate")
            .field("is_admin", &self.is_admin)
            .field("disabled", &self.disabled)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessStoreError {
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    #[error("the project still holds repositories")]
    ProjectNotEmpty,
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

impl From<sqlx::Error> for AccessStoreError {
    fn from(e: sqlx::Error) -> Self {
        AccessStoreError::Metadata(e.into())
    }
}

fn unique_violation(error: sqlx::Error, what: &'static str) -> AccessStoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            AccessStoreError::AlreadyExists(what)
        }
        _ => error.into(),
    }
}

fn flag(value: bool) -> i64 {
    i64::from(value)
}

fn user_from(row: &AnyRow) -> Result<UserRecord> {
    Ok(UserRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

fn project_from(row: &AnyRow) -> Result<ProjectRecord> {
    Ok(ProjectRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        public: row.try_get::<i64, _>("public")? != 0,
        scan_on_push: row.try_get::<i64, _>("scan_on_push")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

fn token_from(row: &AnyRow) -> Result<TokenRecord> {
    let user: Option<i64> = row.try_get("user_id")?;
    let robot: Option<i64> = row.try_get("robot_id")?;
    let owner = match (user, robot) {
        (Some(id), None) => TokenOwner::User(id),
        (None, Some(id)) => TokenOwner::Robot(id),
        _ => return Err(MetadataError::Corrupt("token without one owner".into())),
    };
    Ok(TokenRecord {
        id: row.try_get("id")?,
        owner,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        previous_secret_hash: row.try_get("previous_secret_hash")?,
        previous_valid_until: row.try_get("previous_valid_until")?,
        scopes: row.try_get("scopes")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
        last_used_addr: row.try_get("last_used_addr")?,
    })
}

fn signing_key_from(row: &AnyRow) -> Result<SigningKeyRecord> {
    Ok(SigningKeyRecord {
        kid: row.try_get("kid")?,
        algorithm: row.try_get("algorithm")?,
        private_key: row.try_get("private_key")?,
        public_key: row.try_get("public_key")?,
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
    })
}

const USER_COLUMNS: &str = "id, name, password_hash, is_admin, disabled, created_at";
const TOKEN_COLUMNS: &str = "id, user_id, robot_id, name, secret_hash, previous_secret_hash, \
     previous_valid_until, scopes, created_at, expires_at, revoked_at, last_used_at, last_used_addr";

impl MetadataStore {
    // ---- users ----

    pub async fn create_user(
        &self,
        name: &str,
        password_hash: Option<&str>,
        is_admin: bool,
    ) -> Result<UserRecord, AccessStoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO users (name, password_hash, is_admin, disabled, created_at) \
             VALUES ($1, $2, $3, 0, $4) RETURNING {USER_COLUMNS}"
        ))
        .bind(name)
        .bind(password_hash)
        .bind(flag(is_admin))
        .bind(now_millis())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| unique_violation(e, "user"))?;
        Ok(user_from(&row)?)
    }

    /// Creates the first system administrator, once: the claim on the `bootstrap` row and
    /// the insert share a transaction, so of two concurrent `admin init` runs one wins.
    /// `None` when an administrator already exists.
    pub async fn create_first_admin(
        &self,
        name: &str,
        password_hash: Option<&str>,
    ) -> Result<Option<UserRecord>, AccessStoreError> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO bootstrap (id, created_at) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
        )
        .bind(now_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "INSERT INTO users (name, password_hash, is_admin, disabled, created_at) \
             SELECT $1, $2, 1, 0, $3 WHERE NOT EXISTS (SELECT 1 FROM users WHERE is_admin = 1) \
             RETURNING {USER_COLUMNS}"
        ))
        .bind(name)
        .bind(password_hash)
        .bind(now_millis())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "user"))?;
        let user = row.as_ref().map(user_from).transpose()?;
        if user.is_some() {
            tx.commit().await?;
        }
        Ok(user)
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from).transpose()
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from).transpose()
    }

    /// Users in name order after `after`.
    pub async fn users(&self, after: &str, limit: u32) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE name > $1 ORDER BY name LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from).collect()
    }

    pub async fn update_user(&self, name: &str, update: &UserUpdate) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!(
            "UPDATE users SET password_hash = COALESCE($2, password_hash), \
             is_admin = COALESCE($3, is_admin), disabled = COALESCE($4, disabled) \
             WHERE name = $1 RETURNING {USER_COLUMNS}"
        ))
        .bind(name)
        .bind(update.password_hash.as_deref())
        .bind(update.is_admin.map(flag))
        .bind(update.disabled.map(flag))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    // ---- projects and members ----

    pub async fn create_project(
        &self,
        name: &str,
        public: bool,
    ) -> Result<ProjectRecord, AccessStoreError> {
        let row = sqlx::query(
            "INSERT INTO projects (name, public, created_at) VALUES ($1, $2, $3) \
             RETURNING id, name, public, scan_on_push, created_at",
        )
        .bind(name)
        .bind(flag(public))
        .bind(now_millis())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| unique_violation(e, "project"))?;
        Ok(project_from(&row)?)
    }

    pub async fn project_by_name(&self, name: &str) -> Result<Option<ProjectRecord>> {
        let row = sqlx::query(
            "SELECT id, name, public, scan_on_push, created_at FROM projects WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(project_from).transpose()
    }

    pub async fn projects(&self, after: &str, limit: u32) -> Result<Vec<ProjectRecord>> {
        let rows = sqlx::query(
            "SELECT id, name, public, scan_on_push, created_at FROM projects WHERE name > $1 \
             ORDER BY name LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(project_from).collect()
    }

    /// Changes the settings given (`None`: left as it is).
    pub async fn update_project(
        &self,
        name: &str,
        public: Option<bool>,
        scan_on_push: Option<bool>,
    ) -> Result<Option<ProjectRecord>> {
        let row = sqlx::query(
            "UPDATE projects SET public = COALESCE($2, public), \
             scan_on_push = COALESCE($3, scan_on_push) WHERE name = $1 \
             RETURNING id, name, public, scan_on_push, created_at",
        )
        .bind(name)
        .bind(public.map(flag))
        .bind(scan_on_push.map(flag))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(project_from).transpose()
    }

    /// Deletes a project with its members and robots; refused while any repository lives in
    /// it. `false` when there was no such project.
    pub async fn delete_project(&self, name: &str) -> Result<bool, AccessStoreError> {
        let mut tx = self.pool.begin().await?;
        // Delete first, then look for repositories, rolling back if there are any: the row
        // lock (PostgreSQL) or write lock (SQLite) the delete takes orders this against a
        // first push into the project (see `ensure_and_lock_repository`).
        let deleted = sqlx::query("DELETE FROM projects WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let prefix = format!("{name}/");
        let holding: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM repositories WHERE name = $1 \
             OR substr(name, 1, CAST($3 AS INTEGER)) = $2 LIMIT 1",
        )
        .bind(name)
        .bind(&prefix)
        .bind(i64::try_from(prefix.len()).unwrap_or(i64::MAX))
        .fetch_optional(&mut *tx)
        .await?;
        if holding.is_some() {
            tx.rollback().await?;
            return Err(AccessStoreError::ProjectNotEmpty);
        }
        // Its governance goes with it: a project made again under the name starts with no
        // waivers, keys or VEX of the old one.
        for statement in [
            "DELETE FROM policy_versions WHERE scope = $1",
            "DELETE FROM trusted_keys WHERE project = $1",
            "DELETE FROM policy_exceptions WHERE project = $1",
            "DELETE FROM vex_documents WHERE project = $1",
        ] {
            sqlx::query(statement).bind(name).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE governance_generation SET value = value + 1 WHERE singleton = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Adds a member or changes its role.
    pub async fn set_member(&self, project_id: i64, user_id: i64, role: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO project_members (project_id, user_id, role, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(role)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn remove_member(&self, project_id: i64, user_id: i64) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
                .bind(project_id)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn members(
        &self,
        project_id: i64,
        after: &str,
        limit: u32,
    ) -> Result<Vec<MemberRecord>> {
        let rows = sqlx::query(
            "SELECT u.name AS user_name, m.role, m.created_at FROM project_members m \
             JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 AND u.name > $2 \
             ORDER BY u.name LIMIT $3",
        )
        .bind(project_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MemberRecord {
                    user: row.try_get("user_name")?,
                    role: row.try_get("role")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Every (project, role) the user holds.
    pub async fn memberships(&self, user_id: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT p.name AS project_name, m.role FROM project_members m \
             JOIN projects p ON p.id = m.project_id WHERE m.user_id = $1",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("project_name")?, row.try_get("role")?)))
            .collect()
    }

    // ---- robots ----

    pub async fn create_robot(
        &self,
        name: &str,
        project_id: Option<i64>,
        description: &str,
        permissions: &[RobotPermissionRecord],
    ) -> Result<RobotRecord, AccessStoreError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO robots (name, project_id, description, disabled, created_at) \
             VALUES ($1, $2, $3, 0, $4) RETURNING id",
        )
        .bind(name)
        .bind(project_id)
        .bind(description)
        .bind(now_millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "robot"))?;
        for permission in permissions {
            sqlx::query(
                "INSERT INTO robot_permissions (robot_id, project, actions) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(&permission.project)
            .bind(&permission.actions)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_violation(e, "robot permission"))?;
        }
        tx.commit().await?;
        self.robot_where("r.id = $1", RobotKey::Id(id))
            .await?
            .ok_or_else(|| MetadataError::Corrupt("robot vanished after insert".into()).into())
    }

    pub async fn robot_by_name(&self, name: &str) -> Result<Option<RobotRecord>> {
        self.robot_where("r.name = $1", RobotKey::Name(name)).await
    }

    pub async fn robot_by_id(&self, id: i64) -> Result<Option<RobotRecord>> {
        self.robot_where("r.id = $1", RobotKey::Id(id)).await
    }

    async fn robot_where(&self, condition: &str, key: RobotKey<'_>) -> Result<Option<RobotRecord>> {
        let query = format!(
            "SELECT r.id, r.name, p.name AS project_name, r.description, r.disabled, r.created_at \
             FROM robots r LEFT JOIN projects p ON p.id = r.project_id WHERE {condition}"
        );
        let query = sqlx::query(&query);
        let query = match key {
            RobotKey::Id(id) => query.bind(id),
            RobotKey::Name(name) => query.bind(name),
        };
        let Some(row) = query.fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        Ok(Some(self.robot_from(&row).await?))
    }

    async fn robot_from(&self, row: &AnyRow) -> Result<RobotRecord> {
        let id: i64 = row.try_get("id")?;
        let permissions = sqlx::query(
            "SELECT project, actions FROM robot_permissions WHERE robot_id = $1 ORDER BY project",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|p| {
            Ok(RobotPermissionRecord {
                project: p.try_get("project")?,
                actions: p.try_get("actions")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(RobotRecord {
            id,
            name: row.try_get("name")?,
            project: row.try_get("project_name")?,
            description: row.try_get("description")?,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
            created_at: row.try_get("created_at")?,
            permissions,
        })
    }

    /// Robots of a project, or system robots when `project_id` is `None`.
    pub async fn robots(
        &self,
        project_id: Option<i64>,
        after: &str,
        limit: u32,
    ) -> Result<Vec<RobotRecord>> {
        let condition = match project_id {
            Some(_) => "r.project_id = $1",
            None => "r.project_id IS NULL AND $1 IS NULL",
        };
        let rows = sqlx::query(&format!(
            "SELECT r.id, r.name, p.name AS project_name, r.description, r.disabled, r.created_at \
             FROM robots r LEFT JOIN projects p ON p.id = r.project_id \
             WHERE {condition} AND r.name > $2 ORDER BY r.name LIMIT $3"
        ))
        .bind(project_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut robots = Vec::with_capacity(rows.len());
        for row in &rows {
            robots.push(self.robot_from(row).await?);
        }
        Ok(robots)
    }

    pub async fn set_robot_disabled(&self, id: i64, disabled: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE robots SET disabled = $2 WHERE id = $1")
            .bind(id)
            .bind(flag(disabled))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn delete_robot(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM robots WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    // ---- access tokens ----

    pub async fn insert_token(&self, token: &TokenRecord) -> Result<(), AccessStoreError> {
        let (user, robot) = match token.owner {
            TokenOwner::User(id) => (Some(id), None),
            TokenOwner::Robot(id) => (None, Some(id)),
        };
        sqlx::query(
            "INSERT INTO access_tokens (id, user_id, robot_id, name, secret_hash, scopes, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&token.id)
        .bind(user)
        .bind(robot)
        .bind(&token.name)
        .bind(&token.secret_hash)
        .bind(&token.scopes)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_violation(e, "token"))?;
        Ok(())
    }

    pub async fn token(&self, id: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_from).transpose()
    }

    /// An owner's tokens, newest first after the cursor `after` (a token id; empty = start).
    pub async fn tokens_of(
        &self,
        owner: TokenOwner,
        after: &str,
        limit: u32,
    ) -> Result<Vec<TokenRecord>> {
        let (column, id) = match owner {
            TokenOwner::User(id) => ("user_id", id),
            TokenOwner::Robot(id) => ("robot_id", id),
        };
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE {column} = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        ))
        .bind(id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from).collect()
    }

    pub async fn revoke_token(&self, id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE access_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces a token's secret; the old one stays valid until `previous_valid_until`
    /// (`None` = not at all).
    pub async fn rotate_token(
        &self,
        id: &str,
        new_secret_hash: &[u8],
        previous_valid_until: Option<i64>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE access_tokens SET \
             previous_secret_hash = CASE WHEN $3 IS NULL THEN NULL ELSE secret_hash END, \
             previous_valid_until = $3, secret_hash = $2 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(new_secret_hash)
        .bind(previous_valid_until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a use of the token, at most once per `resolution_ms` to keep reads from
    /// turning into writes.
    pub async fn touch_token(&self, id: &str, address: &str, resolution_ms: i64) -> Result<()> {
        let now = now_millis();
        sqlx::query(
            "UPDATE access_tokens SET last_used_at = $2, last_used_addr = $3 \
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $4 OR last_used_addr <> $3)",
        )
        .bind(id)
        .bind(now)
        .bind(address)
        .bind(now - resolution_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ---- signing keys ----

    pub async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.private_key)
        .bind(&key.public_key)
        .bind(key.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Keys retired before `retired_after` are left out: no token they signed can still be
    /// valid.
    pub async fn signing_keys(&self, retired_after: i64) -> Result<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "SELECT kid, algorithm, private_key, public_key, created_at, retired_at \
             FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1 \
             ORDER BY created_at, kid",
        )
        .bind(retired_after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(signing_key_from).collect()
    }

    /// Retires every key but `kid`.
    pub async fn retire_signing_keys_except(&self, kid: &str) -> Result<()> {
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $2 WHERE kid <> $1 AND retired_at IS NULL",
        )
        .bind(kid)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

enum RobotKey<'a> {
    Id(i64),
    Name(&'a str),
}

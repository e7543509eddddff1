-- Identities, projects and credentials. Times are Unix milliseconds; flags are 0/1 BIGINTs
-- because sqlx's Any driver carries no booleans. Keep in step with ../postgres/0002_access.sql.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    -- argon2id in PHC string form; NULL for an account that signs in with tokens only.
    password_hash TEXT,
    is_admin BIGINT NOT NULL DEFAULT 0,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    public BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE project_members (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'maintainer', 'developer', 'reader', 'auditor')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id);

-- A robot belongs to a project (project_id set) or to the system (NULL).
CREATE TABLE robots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    project_id BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- What a robot may do, per project ('*' = every project, system robots only).
CREATE TABLE robot_permissions (
    robot_id BIGINT NOT NULL REFERENCES robots (id) ON DELETE CASCADE,
    project TEXT NOT NULL,
    actions TEXT NOT NULL,
    PRIMARY KEY (robot_id, project)
);

-- Personal access tokens of users and robots. Only hashes of secrets are stored.
CREATE TABLE access_tokens (
    id TEXT PRIMARY KEY,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    robot_id BIGINT REFERENCES robots (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    -- After a rotation, the previous secret keeps working until previous_valid_until.
    previous_secret_hash BLOB,
    previous_valid_until BIGINT,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT,
    last_used_addr TEXT,
    CHECK ((user_id IS NULL) <> (robot_id IS NULL))
);
CREATE INDEX access_tokens_user ON access_tokens (user_id);
CREATE INDEX access_tokens_robot ON access_tokens (robot_id);

-- Keys that sign registry tokens. The newest unretired key signs; every key verifies until
-- retired_at plus the longest token lifetime has passed.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    private_key BLOB NOT NULL,
    public_key BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- One row once the first administrator exists: concurrent `bulwark admin init` runs race on
-- this primary key, which serialises them on PostgreSQL as on SQLite.
CREATE TABLE bootstrap (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    created_at BIGINT NOT NULL
);

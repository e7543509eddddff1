//! `bulwark login|whoami|user|project|member|robot|token`: the management API from the shell.
//! Tables for people (coloured on a terminal), `--json` for scripts. A secret is printed once,
//! alone on the last line of stdout, so a script can capture it with `tail -n1`.

use std::io::IsTerminal;

use anyhow::Context;
use clap::{Args, Subcommand};
use comfy_table::{Attribute, Cell, ContentArrangement, Table, presets};
use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_cmd::read_secret_line;
use crate::client::{
    ApiClient, StoredLogin, encode, forget_login, format_time, load_login, save_login,
};

#[derive(Args, Clone, Copy, Default)]
pub struct OutputArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub struct LoginArgs {
    /// The registry, e.g. http://127.0.0.1:5000
    url: String,
    /// User (or robot) name
    #[arg(long, short)]
    username: String,
    /// Read the password or access token from the first line of stdin instead of a prompt
    #[arg(long)]
    password_stdin: bool,
    /// Lifetime of the access token created for this login, in days
    #[arg(long)]
    expires_in_days: Option<u32>,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// List users.
    List(OutputArgs),
    /// Create a user; with --password-stdin it also gets a password.
    Create {
        name: String,
        /// Make the user a system administrator
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Show a user.
    Show {
        name: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Change your own password (asks for the current one, if you have one, then the new).
    Passwd {
        /// Read the current password and the new one from the first two lines of stdin
        /// (the first line empty when the account has no password yet)
        #[arg(long)]
        stdin: bool,
    },
    /// Change a user: administrator flag, disabled flag, password.
    Update {
        name: String,
        #[arg(long)]
        admin: Option<bool>,
        /// Disable the user and every token it owns (`--disabled false` enables again)
        #[arg(long)]
        disabled: Option<bool>,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// List the projects you can see.
    List(OutputArgs),
    /// Create a project (private unless --public).
    Create {
        name: String,
        /// Anyone, even anonymous, may pull
        #[arg(long)]
        public: bool,
        /// Make this user the project's owner
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Show a project.
    Show {
        name: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Change a project's settings: public or private, scanning at push.
    Update {
        name: String,
        #[arg(long)]
        public: Option<bool>,
        /// Whether a push queues a scan of what it stored (on for new projects)
        #[arg(long)]
        scan_on_push: Option<bool>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Delete an empty project with its members and robots.
    Delete { name: String },
}

#[derive(Subcommand)]
pub enum MemberCommand {
    /// List a project's members.
    List {
        project: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Add a member or change its role.
    Set {
        project: String,
        user: String,
        /// owner, maintainer, developer, reader or auditor
        #[arg(long)]
        role: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Remove a member.
    Remove { project: String, user: String },
}

#[derive(Subcommand)]
pub enum RobotCommand {
    /// List a project's robots, or system robots without --project.
    List {
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Create a robot and print its first access token.
    Create {
        name: String,
        /// Owning project; without it, a system robot (administrators only)
        #[arg(long)]
        project: Option<String>,
        /// `project:pull,push,delete`, repeatable (`*:pull` for every project and `*:metrics`
        /// for a Prometheus scraper: system robots)
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// Lifetime of the first token, in days
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Disable a robot and its tokens.
    Disable { name: String },
    /// Enable a robot again.
    Enable { name: String },
    /// Delete a robot and its tokens.
    Delete { name: String },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// List your tokens, a robot's (--robot) or a user's (--user, administrators).
    List {
        #[arg(long, conflicts_with = "user")]
        robot: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Create a token and print it once.
    Create {
        name: String,
        /// Days until it expires (every token expires)
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Restrict it: `project:pull,push` or `project/repo:pull`, repeatable
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Create it for this robot instead of yourself
        #[arg(long)]
        robot: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Revoke a token at once.
    Revoke { id: String },
    /// Give a token a new secret and print it once.
    Rotate {
        id: String,
        /// Seconds the old secret keeps working
        #[arg(long, default_value_t = 0)]
        grace_seconds: u64,
        #[command(flatten)]
        output: OutputArgs,
    },
}

pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if std::io::stdout().is_terminal() {
        table.set_header(
            headers
                .iter()
                .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
        );
    } else {
        table.set_header(headers.iter().map(Cell::new));
    }
    for row in rows {
        table.add_row(row);
    }
    println!("{table}");
}

pub(crate) fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

pub(crate) fn time(value: &Value) -> String {
    value
        .as_i64()
        .map(format_time)
        .unwrap_or_else(|| "-".into())
}

fn show(output: OutputArgs, value: &Value, fields: &[(&str, &str)]) -> anyhow::Result<()> {
    if output.json {
        return print_json(value);
    }
    let rows = fields
        .iter()
        .map(|(label, key)| {
            let field = &value[*key];
            let shown = if key.ends_with("_at") {
                time(field)
            } else {
                text(field)
            };
            vec![(*label).to_owned(), shown]
        })
        .collect();
    table(&["field", "value"], rows);
    Ok(())
}

fn list(output: OutputArgs, items: Vec<Value>, columns: &[(&str, &str)]) -> anyhow::Result<()> {
    if output.json {
        return print_json(&Value::Array(items));
    }
    let headers: Vec<&str> = columns.iter().map(|(label, _)| *label).collect();
    let rows = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|(_, key)| {
                    if key.ends_with("_at") {
                        time(&item[*key])
                    } else {
                        text(&item[*key])
                    }
                })
                .collect()
        })
        .collect();
    table(&headers, rows);
    Ok(())
}

const USER_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("admin", "admin"),
    ("disabled", "disabled"),
    ("password", "has_password"),
    ("created", "created_at"),
];
const PROJECT_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("public", "public"),
    ("scan at push", "scan_on_push"),
    ("created", "created_at"),
];
const ROBOT_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("project", "project"),
    ("permissions", "permissions"),
    ("disabled", "disabled"),
    ("description", "description"),
    ("created", "created_at"),
];
const TOKEN_FIELDS: &[(&str, &str)] = &[
    ("id", "id"),
    ("name", "name"),
    ("owner", "owner"),
    ("scopes", "scopes"),
    ("expires", "expires_at"),
    ("revoked", "revoked"),
    ("last used", "last_used_at"),
    ("from", "last_used_from"),
];

/// Prints a new secret: details first, the token alone on the last line.
fn print_new_token(output: OutputArgs, token: &Value) -> anyhow::Result<()> {
    if output.json {
        return print_json(token);
    }
    println!(
        "token {} (id {}) for {} expires {}; it is shown only now:",
        text(&token["name"]),
        text(&token["id"]),
        text(&token["owner"]),
        time(&token["expires_at"])
    );
    println!("{}", text(&token["token"]));
    Ok(())
}

fn read_password(prompt: &str, from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        read_secret_line()
    } else {
        rpassword::prompt_password(prompt).context("reading the password")
    }
}

pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let secret = read_password("Password or access token: ", args.password_stdin)?;
    let url = args.url.trim_end_matches('/').to_owned();
    let login = if bulwark_auth::secret::looks_like_token(&secret) {
        // An access token is stored as given, once the server accepts it.
        let client = ApiClient::new(&url, &args.username, &secret)?;
        client.get("/api/v1/me").await?;
        StoredLogin {
            url,
            username: args.username,
            token: secret,
            token_id: None,
        }
    } else {
        // A password is exchanged for an access token, so no password is ever stored.
        let client = ApiClient::new(&url, &args.username, &secret)?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "cli".into());
        let name: String = format!("cli@{host}")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "._-@".contains(*c))
            .take(64)
            .collect();
        let mut request = json!({ "name": name });
        if let Some(days) = args.expires_in_days {
            request["expires_in_days"] = days.into();
        }
        let token = client
            .call(Method::POST, "/api/v1/tokens", Some(request))
            .await?;
        StoredLogin {
            url,
            username: args.username,
            token: text(&token["token"]),
            token_id: token["id"].as_str().map(str::to_owned),
        }
    };
    let path = save_login(&login)?;
    println!(
        "logged in to {} as {} (saved in {})",
        login.url,
        login.username,
        path.display()
    );
    Ok(())
}

pub async fn logout() -> anyhow::Result<()> {
    let login = match load_login() {
        Ok(login) => login,
        Err(_) => {
            println!("not logged in");
            return Ok(());
        }
    };
    if let Some(id) = &login.token_id {
        let client = ApiClient::new(&login.url, &login.username, &login.token)?;
        if let Err(error) = client
            .call(
                Method::DELETE,
                &format!("/api/v1/tokens/{}", encode(id)),
                None,
            )
            .await
        {
            eprintln!("warning: could not revoke the login's token: {error:#}");
        }
    }
    forget_login()?;
    println!("logged out of {}", login.url);
    Ok(())
}

pub async fn whoami(output: OutputArgs) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    let me = client.get("/api/v1/me").await?;
    show(
        output,
        &me,
        &[
            ("name", "name"),
            ("kind", "kind"),
            ("admin", "admin"),
            ("token", "token"),
            ("scopes", "scopes"),
        ],
    )
}

pub async fn user(command: UserCommand) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    match command {
        UserCommand::List(output) => {
            list(output, client.get_all("/api/v1/users").await?, USER_FIELDS)
        }
        UserCommand::Create {
            name,
            admin,
            password_stdin,
            output,
        } => {
            let mut body = json!({ "name": name, "admin": admin });
            if password_stdin {
                body["password"] = read_secret_line()?.into();
            }
            let user = client
                .call(Method::POST, "/api/v1/users", Some(body))
                .await?;
            show(output, &user, USER_FIELDS)
        }
        UserCommand::Passwd { stdin } => {
            let (current, new) = if stdin || !std::io::stdin().is_terminal() {
                let mut lines = std::io::stdin().lines();
                let mut next = || -> anyhow::Result<String> {
                    Ok(lines.next().transpose()?.unwrap_or_default())
                };
                (next()?, next()?)
            } else {
                let current = rpassword::prompt_password("Current password (empty if none): ")?;
                let new = rpassword::prompt_password("New password: ")?;
                anyhow::ensure!(
                    rpassword::prompt_password("New password again: ")? == new,
                    "the new passwords differ"
                );
                (current, new)
            };
            let mut body = json!({ "new_password": new });
            if !current.is_empty() {
                body["current_password"] = current.into();
            }
            client
                .call(Method::PUT, "/api/v1/me/password", Some(body))
                .await?;
            println!("password changed");
            Ok(())
        }
        UserCommand::Show { name, output } => {
            let user = client
                .get(&format!("/api/v1/users/{}", encode(&name)))
                .await?;
            show(output, &user, USER_FIELDS)
        }
        UserCommand::Update {
            name,
            admin,
            disabled,
            password_stdin,
            output,
        } => {
            let mut body = json!({});
            if let Some(admin) = admin {
                body["admin"] = admin.into();
            }
            if let Some(disabled) = disabled {
                body["disabled"] = disabled.into();
            }
            if password_stdin {
                body["password"] = read_secret_line()?.into();
            }
            let path = format!("/api/v1/users/{}", encode(&name));
            let user = client.call(Method::PATCH, &path, Some(body)).await?;
            show(output, &user, USER_FIELDS)
        }
    }
}

pub async fn project(command: ProjectCommand) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    match command {
        ProjectCommand::List(output) => list(
            output,
            client.get_all("/api/v1/projects").await?,
            PROJECT_FIELDS,
        ),
        ProjectCommand::Create {
            name,
            public,
            owner,
            output,
        } => {
            let body = json!({ "name": name, "public": public, "owner": owner });
            let project = client
                .call(Method::POST, "/api/v1/projects", Some(body))
                .await?;
            show(output, &project, PROJECT_FIELDS)
        }
        ProjectCommand::Show { name, output } => {
            let project = client
                .get(&format!("/api/v1/projects/{}", encode(&name)))
                .await?;
            show(output, &project, PROJECT_FIELDS)
        }
        ProjectCommand::Update {
            name,
            public,
            scan_on_push,
            output,
        } => {
            anyhow::ensure!(
                public.is_some() || scan_on_push.is_some(),
                "nothing to change: give --public and/or --scan-on-push"
            );
            let path = format!("/api/v1/projects/{}", encode(&name));
            let body = json!({ "public": public, "scan_on_push": scan_on_push });
            let project = client.call(Method::PATCH, &path, Some(body)).await?;
            show(output, &project, PROJECT_FIELDS)
        }
        ProjectCommand::Delete { name } => {
            let path = format!("/api/v1/projects/{}", encode(&name));
            client.call(Method::DELETE, &path, None).await?;
            println!("deleted project {name}");
            Ok(())
        }
    }
}

pub async fn member(command: MemberCommand) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    match command {
        MemberCommand::List { project, output } => {
            let path = format!("/api/v1/projects/{}/members", encode(&project));
            list(
                output,
                client.get_all(&path).await?,
                &[("user", "user"), ("role", "role"), ("since", "created_at")],
            )
        }
        MemberCommand::Set {
            project,
            user,
            role,
            output,
        } => {
            let path = format!(
                "/api/v1/projects/{}/members/{}",
                encode(&project),
                encode(&user)
            );
            let member = client
                .call(Method::PUT, &path, Some(json!({ "role": role })))
                .await?;
            show(output, &member, &[("user", "user"), ("role", "role")])
        }
        MemberCommand::Remove { project, user } => {
            let path = format!(
                "/api/v1/projects/{}/members/{}",
                encode(&project),
                encode(&user)
            );
            client.call(Method::DELETE, &path, None).await?;
            println!("removed {user} from {project}");
            Ok(())
        }
    }
}

pub async fn robot(command: RobotCommand) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    let robot_path = |name: &str| format!("/api/v1/robots/{}", encode(name));
    match command {
        RobotCommand::List { project, output } => {
            let path = match project {
                Some(project) => format!("/api/v1/projects/{}/robots", encode(&project)),
                None => "/api/v1/robots".to_owned(),
            };
            list(output, client.get_all(&path).await?, ROBOT_FIELDS)
        }
        RobotCommand::Create {
            name,
            project,
            permissions,
            description,
            expires_in_days,
            output,
        } => {
            let path = match &project {
                Some(project) => format!("/api/v1/projects/{}/robots", encode(project)),
                None => "/api/v1/robots".to_owned(),
            };
            let body = json!({
                "name": name,
                "permissions": permissions,
                "description": description,
                "expires_in_days": expires_in_days,
            });
            let created = client.call(Method::POST, &path, Some(body)).await?;
            if output.json {
                return print_json(&created);
            }
            println!("created robot {}", text(&created["robot"]["name"]));
            print_new_token(output, &created["token"])
        }
        RobotCommand::Disable { name } => {
            client
                .call(
                    Method::PATCH,
                    &robot_path(&name),
                    Some(json!({ "disabled": true })),
                )
                .await?;
            println!("disabled robot {name}");
            Ok(())
        }
        RobotCommand::Enable { name } => {
            client
                .call(
                    Method::PATCH,
                    &robot_path(&name),
                    Some(json!({ "disabled": false })),
                )
                .await?;
            println!("enabled robot {name}");
            Ok(())
        }
        RobotCommand::Delete { name } => {
            client
                .call(Method::DELETE, &robot_path(&name), None)
                .await?;
            println!("deleted robot {name}");
            Ok(())
        }
    }
}

pub async fn token(command: TokenCommand) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    match command {
        TokenCommand::List {
            robot,
            user,
            output,
        } => {
            let path = match (robot, user) {
                (Some(robot), _) => format!("/api/v1/robots/{}/tokens", encode(&robot)),
                (None, Some(user)) => format!("/api/v1/users/{}/tokens", encode(&user)),
                (None, None) => "/api/v1/tokens".to_owned(),
            };
            list(output, client.get_all(&path).await?, TOKEN_FIELDS)
        }
        TokenCommand::Create {
            name,
            expires_in_days,
            scopes,
            robot,
            output,
        } => {
            let path = match robot {
                Some(robot) => format!("/api/v1/robots/{}/tokens", encode(&robot)),
                None => "/api/v1/tokens".to_owned(),
            };
            let body =
                json!({ "name": name, "expires_in_days": expires_in_days, "scopes": scopes });
            let token = client.call(Method::POST, &path, Some(body)).await?;
            print_new_token(output, &token)
        }
        TokenCommand::Revoke { id } => {
            let path = format!("/api/v1/tokens/{}", encode(&id));
            client.call(Method::DELETE, &path, None).await?;
            println!("revoked token {id}");
            Ok(())
        }
        TokenCommand::Rotate {
            id,
            grace_seconds,
            output,
        } => {
            let path = format!("/api/v1/tokens/{}/rotate", encode(&id));
            let token = client
                .call(
                    Method::POST,
                    &path,
                    Some(json!({ "grace_seconds": grace_seconds })),
                )
                .await?;
            print_new_token(output, &token)
        }
    }
}

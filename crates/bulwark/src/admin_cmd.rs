//! `bulwark admin …`: operations on the data directory itself, for when no administrator
//! exists yet or the server's keys must change. They work while a server runs on the store.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bulwark_auth::Auth;
use clap::Subcommand;

use crate::client::format_time;
use crate::config::{Config, FlagOverrides};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create the first system administrator and print an access token for it, once, alone
    /// on the last line of stdout. Refused when an administrator already exists.
    Init {
        /// Data directory of the registry [env: BULWARK_DATA_DIR]
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Name of the administrator
        #[arg(long)]
        username: String,
        /// Also set a password, read from the first line of stdin (the token alone is enough)
        #[arg(long)]
        password_stdin: bool,
    },
    /// Make a new key sign registry tokens. Tokens signed by the old key stay valid until
    /// they expire; running servers switch within 30 seconds.
    RotateSigningKey {
        /// Data directory of the registry [env: BULWARK_DATA_DIR]
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn load(config_file: Option<&Path>, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
    let flags = FlagOverrides {
        data_dir,
        ..FlagOverrides::default()
    };
    Ok(Config::load(config_file, &flags)?)
}

pub fn read_secret_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading from stdin")?;
    let secret = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!secret.is_empty(), "stdin held no secret");
    Ok(secret)
}

pub async fn run(config_file: Option<&Path>, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Init {
            data_dir,
            username,
            password_stdin,
        } => {
            let config = load(config_file, data_dir)?;
            let password = password_stdin.then(read_secret_line).transpose()?;
            let metadata = crate::open_metadata(&config).await?;
            let auth = Auth::new(metadata.clone(), crate::auth_config(&config)?).await?;
            let (user, token) = auth
                .init_admin(&username, password.as_deref())
                .await
                .context("creating the first administrator")?;
            crate::audit_cmd::record_command(
                &config,
                &metadata,
                "bulwark admin init",
                &format!("user {}", user.name),
                format!("first system administrator; token {}", token.view.id),
            )
            .await?;
            println!("created system administrator {:?}", user.name);
            println!(
                "access token {:?} (id {}) expires {}; it is shown only now:",
                token.view.name,
                token.view.id,
                format_time(token.view.expires_at)
            );
            println!("{}", token.token);
            Ok(())
        }
        AdminCommand::RotateSigningKey { data_dir } => {
            let config = load(config_file, data_dir)?;
            let metadata = crate::open_metadata(&config).await?;
            // Make sure a first key exists, so that rotating a fresh store is not a no-op.
            Auth::new(metadata.clone(), crate::auth_config(&config)?).await?;
            let kid = Auth::rotate_signing_key(&metadata).await?;
            crate::audit_cmd::record_command(
                &config,
                &metadata,
                "bulwark admin rotate-signing-key",
                "registry token signing key",
                format!("new key {kid}"),
            )
            .await?;
            println!("registry tokens are now signed with key {kid}");
            Ok(())
        }
    }
}

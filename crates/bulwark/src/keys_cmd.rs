//! `bulwark keys generate|rotate|migrate`: the key-encryption keys of encryption at rest.
//! `rotate` and `migrate` work on the data directory itself (like `admin`), with the keys
//! the configuration gives (`encryption_key_file` or `BULWARK_ENCRYPTION_KEY`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use crate::config::{Config, FlagOverrides};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print a new key-encryption key (base64 of 32 random bytes): a line for
    /// `encryption_key_file`, or the value of BULWARK_ENCRYPTION_KEY.
    Generate,
    /// Re-wrap every blob's data key under the current key-encryption key (the first one
    /// configured): each blob gets a new header, its segments are copied as they are, never
    /// encrypted again. Put the new key first and keep the old one after it until this has
    /// run.
    Rotate {
        /// Data directory of the registry [env: BULWARK_DATA_DIR]
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Encrypt the blobs stored before encryption was switched on, each replaced
    /// atomically by its sealed form; then `encryption_plaintext_reads = false` refuses any
    /// blob found in the clear.
    Migrate {
        /// Data directory of the registry [env: BULWARK_DATA_DIR]
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn keys_of(
    config_file: Option<&Path>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<(Config, bulwark_blobstore::KeyFile)> {
    let config = Config::load(
        config_file,
        &FlagOverrides {
            data_dir,
            ..FlagOverrides::default()
        },
    )?;
    let keys = config.encryption_keys()?.context(
        "no key-encryption key configured: set encryption_key_file or BULWARK_ENCRYPTION_KEY",
    )?;
    Ok((config, keys))
}

pub async fn run(config_file: Option<&Path>, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Generate => {
            println!("{}", bulwark_blobstore::KeyFile::generate()?);
        }
        KeysCommand::Rotate { data_dir } => {
            let (config, keys) = keys_of(config_file, data_dir)?;
            let root = config.data_dir.join("blobs");
            let done = tokio::task::spawn_blocking(move || {
                bulwark_blobstore::rotate_directory(&root, &keys)
            })
            .await??;
            println!(
                "re-wrapped {} blobs' data keys; {} needed nothing",
                done.changed, done.unchanged
            );
        }
        KeysCommand::Migrate { data_dir } => {
            let (config, keys) = keys_of(config_file, data_dir)?;
            let root = config.data_dir.join("blobs");
            let done = tokio::task::spawn_blocking(move || {
                bulwark_blobstore::migrate_directory(&root, &keys)
            })
            .await??;
            println!(
                "encrypted {} blobs; {} were encrypted already",
                done.changed, done.unchanged
            );
        }
    }
    Ok(())
}

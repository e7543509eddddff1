//! Configuration: defaults, then a TOML file, then `BULWARK_*` environment variables, then
//! command-line flags, each overriding the one before.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Loopback by default: exposing the registry is a decision.
    pub listen: SocketAddr,
    /// The server's certificate chain (PEM, leaf first): with `tls_key_file`, the registry
    /// speaks TLS 1.3/1.2 itself. Reloaded without a restart when the file changes.
    pub tls_cert_file: String,
    /// The certificate's private key (PEM).
    pub tls_key_file: String,
    /// CA certificates (PEM) that client certificates may chain to (mTLS). A verified
    /// certificate whose subject common name is a user's name or a robot's full name
    /// authenticates as that account when the request carries no other credentials.
    pub tls_client_ca_file: String,
    /// With `tls_client_ca_file`: refuse clients that present no certificate.
    pub tls_client_cert_required: bool,
    /// How often the TLS files are checked for a renewed certificate, in seconds.
    pub tls_reload_secs: u64,
    /// Serve plain HTTP on a non-loopback address: only behind a TLS-terminating proxy.
    pub insecure_http: bool,
    /// Where blobs and (with SQLite) metadata live.
    pub data_dir: PathBuf,
    /// `postgres://…` for scale-out metadata; empty means SQLite inside `data_dir`.
    pub database_url: String,
    /// Upload data on the local filesystem is written with direct I/O, past the page cache:
    /// steadier and faster pushes, at the price of the first pull of a new blob reading it
    /// from disk. Ignored where the filesystem has no direct I/O.
    pub direct_io: bool,
    /// Largest blob accepted, in bytes.
    pub max_blob_size: u64,
    /// Chunks (`PATCH` requests) one upload session may take; each costs a row that is read
    /// back to complete it.
    pub max_upload_chunks: u64,
    /// Largest manifest accepted, in bytes (the spec's recommended 4 MiB).
    pub max_manifest_size: usize,
    /// Seconds an idle upload session lives before it and its data are discarded.
    pub upload_ttl_secs: u64,
    /// `text` for people, `json` for log pipelines.
    pub log_format: LogFormat,
    /// The URL clients use to reach the registry (e.g. `https://registry.example.com`), for
    /// token realms; empty = the host each client addressed, over http.
    pub public_url: String,
    /// Reverse proxies (IP addresses) in front of the registry: when one of them is the peer,
    /// the client's address for rate limits and token records is taken from
    /// `X-Forwarded-For`. Empty: the peer is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The `service` named in registry token challenges and tokens.
    pub token_service: String,
    /// Lifetime of registry (bearer) tokens, 5 s to 1 h. Also the bound on how long a
    /// revoked credential's registry tokens keep working.
    pub registry_token_ttl_secs: u64,
    /// Expiry of new access tokens when the creator gives none, in days.
    pub access_token_default_days: u32,
    /// The longest expiry an access token may have, in days.
    pub access_token_max_days: u32,
    /// Failed sign-ins a client address or account may make before each further failure
    /// makes it wait (1 s, doubling, up to 15 min; 429 with Retry-After meanwhile).
    pub auth_failures_before_backoff: u32,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Seconds a client has to send a request's head; also how long an idle keep-alive
    /// connection stays open.
    pub header_read_timeout_secs: u64,
    /// Seconds a request that moves no blob data may take (blob transfers are bounded by
    /// the idle time between their pieces instead).
    pub request_timeout_secs: u64,
    /// Where `bulwark db update` downloads advisories, in osv.dev's layout:
    /// `{advisory_base_url}/{ecosystem}/all.zip`.
    pub advisory_base_url: String,
    /// The OSV ecosystems `bulwark db update` downloads.
    pub advisory_ecosystems: Vec<String>,
    /// Advisory data older than this many hours is stale: `bulwark db status` warns (and
    /// exits 4 with `--check`), since findings miss what was disclosed since.
    pub advisory_max_age_hours: u64,
    /// Whether successful reads (pulls, listings, API `GET`s) get an audit record too.
    /// Writes, deletions, sign-ins and every refusal are always recorded.
    pub audit_reads: bool,
    /// The Ed25519 key (PKCS#8 PEM) this node signs audit checkpoints with; created 0600
    /// on first start. Empty: `{data_dir}/audit-signing-key.pem`. Each node of a scale-out
    /// deployment has its own; `bulwark audit verify` takes all their public keys.
    pub audit_key_file: String,
    /// Audit records older than this many days are cut from the log (a signed cut that
    /// verification accepts); 0 keeps everything.
    pub audit_retention_days: u64,
    /// Seconds before a failed webhook delivery is tried again; each further failure
    /// doubles the wait (up to an hour).
    pub webhook_retry_base_secs: u64,
    /// Attempts at a webhook delivery before it is given up (`bulwark webhook redeliver`
    /// sends it again).
    pub webhook_max_attempts: u32,
    /// Whether webhooks may send to loopback, private and link-local addresses (receivers
    /// inside the network). Off by default: a webhook must not become a way into the
    /// registry's own network or a cloud metadata service.
    pub webhook_allow_private_networks: bool,
    /// A file of key-encryption keys (base64, one per line, the first current; `bulwark
    /// keys generate` makes one): blobs are stored encrypted. `BULWARK_ENCRYPTION_KEY`
    /// gives the keys instead, kept out of files and of `bulwark config`.
    pub encryption_key_file: String,
    /// With encryption on, blobs stored before it was switched on are still served; off
    /// once `bulwark keys migrate` has sealed them all, so a blob swapped for a clear one
    /// is refused.
    pub encryption_plaintext_reads: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

const SETTING_KEYS: &[&str] = &[
    "listen",
    "tls_cert_file",
    "tls_key_file",
    "tls_client_ca_file",
    "tls_client_cert_required",
    "tls_reload_secs",
    "insecure_http",
    "data_dir",
    "database_url",
    "direct_io",
    "max_blob_size",
    "max_upload_chunks",
    "max_manifest_size",
    "upload_ttl_secs",
    "log_format",
    "public_url",
    "trusted_proxies",
    "token_service",
    "registry_token_ttl_secs",
    "access_token_default_days",
    "access_token_max_days",
    "auth_failures_before_backoff",
    "max_connections",
    "header_read_timeout_secs",
    "request_timeout_secs",
    "advisory_base_url",
    "advisory_ecosystems",
    "advisory_max_age_hours",
    "audit_reads",
    "audit_key_file",
    "audit_retention_days",
    "webhook_retry_base_secs",
    "webhook_max_attempts",
    "webhook_allow_private_networks",
    "encryption_key_file",
    "encryption_plaintext_reads",
];

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_client_ca_file: String::new(),
            tls_client_cert_required: false,
            tls_reload_secs: 10,
            insecure_http: false,
            data_dir: PathBuf::from("bulwark-data"),
            database_url: String::new(),
            direct_io: true,
            max_blob_size: 64 * 1024 * 1024 * 1024,
            max_upload_chunks: 10_000,
            max_manifest_size: 4 * 1024 * 1024,
            upload_ttl_secs: 24 * 60 * 60,
            log_format: LogFormat::Text,
            public_url: String::new(),
            trusted_proxies: Vec::new(),
            token_service: "bulwark".into(),
            registry_token_ttl_secs: 300,
            access_token_default_days: 90,
            access_token_max_days: 365,
            auth_failures_before_backoff: 5,
            max_connections: 4096,
            header_read_timeout_secs: 30,
            request_timeout_secs: 120,
            advisory_base_url: bulwark_vulndb::DEFAULT_BASE_URL.into(),
            // The package ecosystems a registry hosts, and the distributions of the images
            // it holds whose version orderings the matcher knows.
            advisory_ecosystems: [
                "AlmaLinux",
                "Alpine",
                "crates.io",
                "Debian",
                "Go",
                "Hex",
                "Maven",
                "npm",
                "NuGet",
                "Packagist",
                "Pub",
                "PyPI",
                "Red Hat",
                "Rocky Linux",
                "RubyGems",
                "Ubuntu",
            ]
            .map(String::from)
            .to_vec(),
            advisory_max_age_hours: 48,
            audit_reads: true,
            audit_key_file: String::new(),
            audit_retention_days: 0,
            webhook_retry_base_secs: 10,
            webhook_max_attempts: 12,
            webhook_allow_private_networks: false,
            encryption_key_file: String::new(),
            encryption_plaintext_reads: true,
        }
    }
}

/// Values given as flags; `None` leaves the layers below in force.
#[derive(Debug, Default, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "tls_cert_file")]
    pub tls_cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "tls_key_file")]
    pub tls_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "tls_client_ca_file")]
    pub tls_client_ca: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_http: Option<bool>,
}

impl Config {
    /// The TLS files, when the registry serves TLS itself; an error for a half
    /// configuration (a certificate without its key, a client CA without TLS).
    pub fn tls_files(&self) -> anyhow::Result<Option<bulwark_server::TlsFiles>> {
        let given = |value: &str| (!value.is_empty()).then(|| PathBuf::from(value));
        match (given(&self.tls_cert_file), given(&self.tls_key_file)) {
            (Some(certificate), Some(key)) => Ok(Some(bulwark_server::TlsFiles {
                certificate,
                key,
                client_ca: given(&self.tls_client_ca_file),
                client_certificate_required: self.tls_client_cert_required,
            })),
            (None, None) => {
                anyhow::ensure!(
                    self.tls_client_ca_file.is_empty(),
                    "tls_client_ca_file needs TLS: give tls_cert_file and tls_key_file too"
                );
                Ok(None)
            }
            _ => anyhow::bail!(
                "TLS needs both tls_cert_file (--tls-cert) and tls_key_file (--tls-key)"
            ),
        }
    }

    /// Refuses plain HTTP on an address others can reach, unless the operator said a
    /// TLS-terminating proxy is in front.
    pub fn check_exposure(&self, serves_tls: bool) -> anyhow::Result<()> {
        anyhow::ensure!(
            serves_tls || self.insecure_http || self.listen.ip().is_loopback(),
            "refusing to serve plain HTTP on {}, which is not a loopback address: give \
             --tls-cert and --tls-key, or --insecure-http when a TLS-terminating proxy is in \
             front of the registry",
            self.listen
        );
        Ok(())
    }

    /// The key-encryption keys, when blobs are to be stored encrypted: from
    /// `BULWARK_ENCRYPTION_KEY` (lines or commas), else from `encryption_key_file`.
    pub fn encryption_keys(&self) -> anyhow::Result<Option<bulwark_blobstore::KeyFile>> {
        use anyhow::Context;
        let from_env = std::env::var("BULWARK_ENCRYPTION_KEY")
            .ok()
            .filter(|keys| !keys.trim().is_empty());
        let text = match (from_env, self.encryption_key_file.is_empty()) {
            (Some(_), false) => anyhow::bail!(
                "both BULWARK_ENCRYPTION_KEY and encryption_key_file are set: give one"
            ),
            (Some(keys), true) => keys.replace(',', "\n"),
            (None, false) => std::fs::read_to_string(&self.encryption_key_file)
                .with_context(|| format!("reading {}", self.encryption_key_file))?,
            (None, true) => return Ok(None),
        };
        Ok(Some(bulwark_blobstore::KeyFile::parse(&text)?))
    }

    /// Where this node's audit checkpoint signing key lives.
    pub fn audit_key_path(&self) -> PathBuf {
        if self.audit_key_file.is_empty() {
            self.data_dir.join("audit-signing-key.pem")
        } else {
            PathBuf::from(&self.audit_key_file)
        }
    }

    pub fn load(
        file: Option<&std::path::Path>,
        flags: &FlagOverrides,
    ) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            // Only the settings' own names: other BULWARK_* variables (BULWARK_LOG,
            // BULWARK_CONFIG, test settings) are not configuration keys.
            .merge(Env::prefixed("BULWARK_").only(SETTING_KEYS))
            .merge(Serialized::defaults(flags))
            .extract()
            .map_err(Box::new)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail fixes the closure's error type.
mod tests {
    use super::*;

    #[test]
    fn layers_override_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "bulwark.toml",
                "listen = \"127.0.0.1:6000\"\ndata_dir = \"/from-file\"\nupload_ttl_secs = 60\n",
            )?;
            jail.set_env("BULWARK_DATA_DIR", "/from-env");
            let flags = FlagOverrides {
                listen: Some("127.0.0.1:7000".parse().unwrap()),
                ..FlagOverrides::default()
            };
            let config = Config::load(Some(std::path::Path::new("bulwark.toml")), &flags).unwrap();
            assert_eq!(config.listen.port(), 7000);
            assert_eq!(config.data_dir, PathBuf::from("/from-env"));
            assert_eq!(config.upload_ttl_secs, 60);
            assert_eq!(config.max_manifest_size, 4 * 1024 * 1024);
            Ok(())
        });
    }

    #[test]
    fn plain_http_only_on_loopback_unless_told() {
        let mut config = Config::default();
        assert!(config.check_exposure(false).is_ok());
        config.listen = "0.0.0.0:5000".parse().unwrap();
        let refused = config.check_exposure(false).unwrap_err().to_string();
        assert!(refused.contains("--insecure-http"), "{refused}");
        assert!(config.check_exposure(true).is_ok());
        config.insecure_http = true;
        assert!(config.check_exposure(false).is_ok());
        config.listen = "[::]:5000".parse().unwrap();
        config.insecure_http = false;
        assert!(config.check_exposure(false).is_err());
    }

    #[test]
    fn tls_needs_certificate_and_key_together() {
        let mut config = Config::default();
        assert!(config.tls_files().unwrap().is_none());
        config.tls_cert_file = "cert.pem".into();
        assert!(config.tls_files().is_err());
        config.tls_key_file = "key.pem".into();
        let files = config.tls_files().unwrap().unwrap();
        assert_eq!(files.key, PathBuf::from("key.pem"));
        assert!(files.client_ca.is_none());
        let plain = Config {
            tls_client_ca_file: "ca.pem".into(),
            ..Config::default()
        };
        assert!(plain.tls_files().is_err());
    }

    #[test]
    fn unknown_keys_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bulwark.toml", "listn = \"127.0.0.1:6000\"\n")?;
            assert!(
                Config::load(
                    Some(std::path::Path::new("bulwark.toml")),
                    &FlagOverrides::default()
                )
                .is_err()
            );
            Ok(())
        });
    }
}

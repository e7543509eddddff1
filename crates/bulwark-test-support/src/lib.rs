//! Fixtures shared by Bulwark's tests: throwaway metadata databases on both back ends, and
//! advisory archives with a server for them ([`archives`]).
//!
//! PostgreSQL tests use `BULWARK_TEST_POSTGRES_URL` when it is set (a server CI or the
//! developer started; each test gets a fresh database in it), and otherwise start a private
//! server with `initdb`/`pg_ctl` in a temporary directory on an ephemeral loopback port,
//! stopped when the fixture drops. `initdb` refuses to run as root, so as root the server runs
//! as the `postgres` (or `nobody`) user.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod archives;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::Connection;
use tempfile::TempDir;

pub const POSTGRES_URL_VAR: &str = "BULWARK_TEST_POSTGRES_URL";

/// Which metadata back end a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty metadata database; dropping it stops any server it started.
pub struct TestDatabase {
    url: String,
    _server: Option<PostgresServer>,
    _dir: Option<TempDir>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("metadata.db").display()
                );
                TestDatabase {
                    url,
                    _server: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => match std::env::var(POSTGRES_URL_VAR) {
                Ok(admin_url) if !admin_url.is_empty() => TestDatabase {
                    url: create_database(&admin_url).await,
                    _server: None,
                    _dir: None,
                },
                _ => {
                    let server = PostgresServer::start();
                    let url = create_database(&server.admin_url()).await;
                    TestDatabase {
                        url,
                        _server: Some(server),
                        _dir: None,
                    }
                }
            },
        }
    }

    /// URL of the database, for `MetadataStore::connect`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Creates a uniquely named database on the server at `admin_url` and returns its URL.
async fn create_database(admin_url: &str) -> String {
    let name = format!("bulwark_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {admin_url}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// A private PostgreSQL server in a temporary directory.
pub struct PostgresServer {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<String>,
    port: u16,
    _dir: TempDir,
}

fn postgres_bin_dir() -> PathBuf {
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates
        .pop()
        .filter(|dir| dir.join("initdb").exists())
        .expect(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql",
        )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PostgresServer {
    pub fn start() -> PostgresServer {
        let bin_dir = postgres_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("bulwark-pg-")
            .tempdir()
            .unwrap();
        let run_as = is_root().then(|| {
            let has_postgres_user = Command::new("id")
                .arg("postgres")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if has_postgres_user {
                "postgres"
            } else {
                "nobody"
            }
            .to_owned()
        });
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .args(["-R", user])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown of the PostgreSQL directory failed");
        }
        let data_dir = dir.path().join("data");
        let server = PostgresServer {
            data_dir,
            bin_dir,
            run_as,
            port: free_port(),
            _dir: dir,
        };
        server.run(
            "initdb",
            &[
                "-D",
                server.data_dir.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            server.port,
            server._dir.path().display()
        );
        server.run(
            "pg_ctl",
            &[
                "-D",
                server.data_dir.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                server._dir.path().join("server.log").to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        server
    }

    fn run(&self, program: &str, args: &[&str]) {
        if let Err(message) = self.try_run(program, args) {
            panic!("{message}");
        }
    }

    fn try_run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let program_path = self.bin_dir.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program_path);
                c
            }
            None => Command::new(&program_path),
        };
        let output = command
            .args(args)
            .current_dir(Path::new("/"))
            .output()
            .map_err(|e| format!("running {program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        // Never panic in drop: a failed stop leaves a server that dies with its directory.
        let data_dir = self.data_dir.to_string_lossy().into_owned();
        if let Err(message) = self.try_run(
            "pg_ctl",
            &["-D", &data_dir, "-m", "immediate", "-w", "stop"],
        ) {
            eprintln!("{message}");
        }
    }
}

//! The management API client of the CLI and the login it remembers.
//!
//! The login is an access token (never a password) in a file only its owner can read:
//! `$BULWARK_CREDENTIALS`, else `$XDG_CONFIG_HOME/bulwark/credentials.toml`, else
//! `~/.config/bulwark/credentials.toml`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Serialize, Deserialize)]
pub struct StoredLogin {
    pub url: String,
    pub username: String,
    pub token: String,
    /// Set when `bulwark login` created the token, so `logout` revokes it.
    pub token_id: Option<String>,
}

/// Secrets stay out of debug output (and so out of any log line that prints one).
impl std::fmt::Debug for StoredLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredLogin")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("token_id", &self.token_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

pub fn credentials_path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("BULWARK_CREDENTIALS") {
        return Ok(PathBuf::from(path));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".config"),
    };
    Ok(base.join("bulwark").join("credentials.toml"))
}

pub fn save_login(login: &StoredLogin) -> anyhow::Result<PathBuf> {
    let path = credentials_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = toml::to_string(login)?;
    // Written to a private temporary file and renamed, so the secret is never readable by
    // others, not even for a moment, and a crash leaves the old file whole.
    let temporary = path.with_extension("toml.tmp");
    // A leftover (or planted) temporary file must not lend us its owner or permissions:
    // remove it and create ours anew, failing if someone races us to the name.
    match std::fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", temporary.display())),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&temporary)
        .with_context(|| format!("writing {}", temporary.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    Ok(path)
}

pub fn load_login() -> anyhow::Result<StoredLogin> {
    let path = credentials_path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("not logged in: run `bulwark login URL --username NAME` first")
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    toml::from_str(&text).with_context(|| format!("reading {}", path.display()))
}

pub fn forget_login() -> anyhow::Result<bool> {
    let path = credentials_path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Speaks to `/api/v1` with Basic credentials (a user or robot name and a secret).
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    username: String,
    secret: String,
}

impl ApiClient {
    pub fn new(base: &str, username: &str, secret: &str) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        anyhow::ensure!(
            base.starts_with("http://") || base.starts_with("https://"),
            "the registry URL must start with http:// or https://"
        );
        let mut http = reqwest::Client::builder()
            .user_agent(concat!("bulwark-cli/", env!("CARGO_PKG_VERSION")));
        // A registry whose certificate an organisation's own CA issued.
        if let Some(path) = std::env::var_os("BULWARK_CA_FILE").filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            let pem = std::fs::read(&path)
                .with_context(|| format!("reading BULWARK_CA_FILE {}", path.display()))?;
            for certificate in reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
                format!("BULWARK_CA_FILE {}: not PEM certificates", path.display())
            })? {
                http = http.add_root_certificate(certificate);
            }
        }
        Ok(ApiClient {
            http: http.build()?,
            base,
            username: username.to_owned(),
            secret: secret.to_owned(),
        })
    }

    pub fn from_login() -> anyhow::Result<Self> {
        let login = load_login()?;
        Self::new(&login.url, &login.username, &login.token)
    }

    /// Sends a request; the JSON answer, or `Value::Null` for 204. An API error becomes an
    /// error carrying the server's message.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.request(&method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(&method, path, request).await
    }

    /// Sends `body` as it is, with `content_type`: a document whose digest is of its bytes.
    pub async fn call_bytes(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Value> {
        let request = self
            .request(&method, path)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        self.send(&method, path, request).await
    }

    fn request(&self, method: &Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method.clone(), format!("{}{path}", self.base))
            .basic_auth(&self.username, Some(&self.secret))
    }

    async fn send(
        &self,
        method: &Method,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<Value> {
        let response = request
            .send()
            .await
            .with_context(|| format!("connecting to {}", self.base))?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).context("the server's answer is not JSON");
        }
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_owned());
        bail!("{method} {path}: {status}: {message}")
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }

    /// Every item of a paginated listing.
    pub async fn get_all(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut after = String::new();
        loop {
            let separator = if path.contains('?') { '&' } else { '?' };
            let page = self
                .get(&format!(
                    "{path}{separator}limit=1000&after={}",
                    encode(&after)
                ))
                .await?;
            if let Some(page_items) = page["items"].as_array() {
                items.extend(page_items.iter().cloned());
            }
            match page["next"].as_str() {
                Some(next) => after = next.to_owned(),
                None => return Ok(items),
            }
        }
    }
}

/// Percent-encodes a path segment or query value (names here are ASCII; `+` must survive).
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A stored millisecond timestamp as an RFC 3339 UTC time, to the second.
pub fn format_time(millis: i64) -> String {
    match jiff::Timestamp::from_millisecond(millis) {
        Ok(time) => time.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
        Err(_) => millis.to_string(),
    }
}

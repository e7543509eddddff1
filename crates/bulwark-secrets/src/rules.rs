//! The built-in rules. Each names what it finds and why its pattern is shaped the way it is;
//! the shapes are those the issuing tool writes (`aws configure`, `npm login`, `docker
//! login`, GitHub's token formats, …), not guesses at what a secret might look like.

use std::fmt;
use std::ops::Range;

use regex::bytes::Regex;

use crate::Severity;
use crate::check;
use crate::paths;

/// One kind of secret: what it is called, how bad its leak is, and (privately) how it is
/// found. The built-in rules are listed by [`crate::Detector::rules`].
#[derive(Clone)]
pub struct Rule {
    /// Stable identifier, kebab-case (`aws-access-key-id`); findings refer to it.
    pub id: &'static str,
    /// What a person reading a report is told was found.
    pub title: &'static str,
    pub severity: Severity,
    /// Literal, case-sensitive words every match contains (or is near); empty for rules
    /// selected by path, which search the whole file.
    pub(crate) keywords: &'static [&'static str],
    /// Which files (by path) the rule applies to.
    pub(crate) applies: fn(&str) -> bool,
    pub(crate) matcher: Matcher,
    /// Bytes searched on either side of a keyword hit.
    pub(crate) context: usize,
    /// How the matched text becomes the secret, and what is rejected outright.
    pub(crate) value: Value,
    /// Shannon entropy (bits per byte) the secret needs: rejects `ghp_xxxx…` and friends.
    pub(crate) min_entropy: Option<f64>,
    /// Substrings marking published example values, which are not leaks.
    pub(crate) allow: &'static [&'static str],
    /// The byte before the match must not be of this class (a token inside a longer word
    /// or base64 blob is not that token).
    pub(crate) before: Option<fn(u8) -> bool>,
    /// The byte after the secret must not be of this class.
    pub(crate) after: Option<fn(u8) -> bool>,
    /// A window must also match this somewhere for the rule to search it.
    pub(crate) requires: Option<Regex>,
    /// Rules whose findings on the same line this rule's findings replace.
    pub(crate) supersedes: &'static [&'static str],
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("id", &self.id)
            .field("title", &self.title)
            .field("severity", &self.severity)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub(crate) enum Matcher {
    /// A regex; the secret is its group `secret` (or `secret2`), else the whole match.
    Pattern(Regex),
    /// PEM `BEGIN` lines (group `label`), completed by [`check::pem_keys`].
    Pem(Regex),
    /// `.pgpass` lines.
    Pgpass,
    /// `password` in the repository sections of `.pypirc`.
    Pypirc,
}

#[derive(Clone, Copy)]
pub(crate) enum Value {
    /// The match is the secret.
    Token,
    /// A configured value: trimmed, unquoted; empty values and placeholders are rejected.
    Password,
    /// Docker's `auth`: base64 of `user:password`, rejected unless it decodes to that.
    DockerAuth,
    /// A JSON string holding a PEM private key; the secret is the key's base64 body.
    PemInJson,
}

/// Window around keyword hits: a line of configuration and then some.
const CONTEXT: usize = 4 << 10;

/// Rules for passwords in configuration files; a token rule matching the same line knows
/// better what the value is, so its finding replaces theirs.
const PASSWORD_RULES: &[&str] = &[
    "git-credentials",
    "netrc-password",
    "docker-config-auth",
    "pgpass-password",
    "mysql-config-password",
    "wordpress-db-password",
    "django-settings-password",
    "npmrc-auth-token",
    "pypirc-password",
];

impl Rule {
    fn new(id: &'static str, title: &'static str, severity: Severity, matcher: Matcher) -> Rule {
        Rule {
            id,
            title,
            severity,
            keywords: &[],
            applies: paths::any,
            matcher,
            context: CONTEXT,
            value: Value::Token,
            min_entropy: None,
            allow: &[],
            before: None,
            after: None,
            requires: None,
            supersedes: &[],
        }
    }

    /// Appends to `hits` (absolute line-anchor offset, secret) the accepted candidates in
    /// `window` of `content`, stopping once `hits` holds `limit`.
    pub(crate) fn find(
        &self,
        content: &[u8],
        window: Range<usize>,
        hits: &mut Vec<(usize, Vec<u8>)>,
        limit: usize,
    ) {
        let Some(haystack) = content.get(window.clone()) else {
            return;
        };
        if self
            .requires
            .as_ref()
            .is_some_and(|requires| !requires.is_match(haystack))
        {
            return;
        }
        let base = window.start;
        let raw = match &self.matcher {
            Matcher::Pattern(pattern) => {
                for caps in pattern.captures_iter(haystack) {
                    if hits.len() >= limit {
                        return;
                    }
                    let Some(whole) = caps.get(0) else {
                        continue;
                    };
                    let secret = caps
                        .name("secret")
                        .or_else(|| caps.name("secret2"))
                        .unwrap_or(whole);
                    if !self.bounded(content, base + whole.start(), base + secret.end()) {
                        continue;
                    }
                    if let Some(secret) = self.accept(secret.as_bytes()) {
                        hits.push((base + whole.start(), secret));
                    }
                }
                return;
            }
            Matcher::Pem(begin) => check::pem_keys(begin, content, window),
            Matcher::Pgpass => check::pgpass_passwords(haystack, base),
            Matcher::Pypirc => check::pypirc_passwords(haystack, base),
        };
        for (offset, candidate) in raw {
            if hits.len() >= limit {
                return;
            }
            if let Some(secret) = self.accept(&candidate) {
                hits.push((offset, secret));
            }
        }
    }

    /// Whether the match `start..end` (absolute) stands on its own in `content`.
    fn bounded(&self, content: &[u8], start: usize, end: usize) -> bool {
        let before = start.checked_sub(1).and_then(|at| content.get(at));
        let before_ok = match (self.before, before) {
            (Some(class), Some(&byte)) => !class(byte),
            _ => true,
        };
        let after_ok = match (self.after, content.get(end)) {
            (Some(class), Some(&byte)) => !class(byte),
            _ => true,
        };
        before_ok && after_ok
    }

    /// The secret a matched value stands for, or `None` when it is not one.
    fn accept(&self, raw: &[u8]) -> Option<Vec<u8>> {
        let secret = match self.value {
            Value::Token => raw.to_vec(),
            Value::Password => {
                let value = check::unquote(raw.trim_ascii());
                if check::is_placeholder(value) {
                    return None;
                }
                value.to_vec()
            }
            Value::DockerAuth => {
                if !check::docker_auth_has_password(raw) {
                    return None;
                }
                raw.to_vec()
            }
            Value::PemInJson => check::pem_in_json(raw)?,
        };
        if secret.is_empty()
            || self
                .min_entropy
                .is_some_and(|min| check::entropy(&secret) < min)
            || self
                .allow
                .iter()
                .any(|allowed| memchr::memmem::find(&secret, allowed.as_bytes()).is_some())
        {
            return None;
        }
        Some(secret)
    }
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(pattern)
}

/// Every built-in rule, or the error compiling it (a test asserts there are none).
pub(crate) fn builtin() -> Vec<Result<Rule, regex::Error>> {
    vec![
        private_key(),
        aws_access_key_id(),
        aws_secret_access_key(),
        github_token(),
        gitlab_token(),
        slack_token(),
        slack_webhook(),
        gcp_service_account(),
        npm_token(),
        npmrc_auth_token(),
        pypi_token(),
        pypirc_password(),
        bulwark_token(),
        git_credentials(),
        netrc_password(),
        docker_config_auth(),
        pgpass_password(),
        mysql_config_password(),
        wordpress_db_password(),
        django_settings_password(),
    ]
}

/// PEM private keys of every common kind (PKCS#1 RSA, SEC1 EC, DSA, PKCS#8 plain and
/// encrypted, OpenSSH, PGP armor). The `END` line must match the `BEGIN` line and the body
/// must be at least 64 characters of base64, so code and docs that merely mention the
/// markers (`-----BEGIN PRIVATE KEY-----\n...`) do not fire.
fn private_key() -> Result<Rule, regex::Error> {
    Ok(Rule {
        keywords: &["PRIVATE KEY"],
        // The BEGIN line around the keyword; check::pem_keys reads on to the END line.
        context: 64,
        min_entropy: Some(4.0),
        ..Rule::new(
            "private-key",
            "Private key (PEM or OpenSSH)",
            Severity::Critical,
            Matcher::Pem(compile(
                r"(?-u)-----BEGIN (?P<label>(?:RSA |EC |DSA |ENCRYPTED |OPENSSH |PGP )?PRIVATE KEY(?: BLOCK)?)-----",
            )?),
        )
    })
}

/// Long-term (`AKIA`) and temporary (`ASIA`) AWS access key ids. The id alone grants
/// nothing, hence high rather than critical, but it names the account and the user, and
/// its secret is rarely far. `…EXAMPLE` ids are AWS's documentation examples.
fn aws_access_key_id() -> Result<Rule, regex::Error> {
    Ok(Rule {
        keywords: &["AKIA", "ASIA"],
        min_entropy: Some(3.0),
        allow: &["EXAMPLE"],
        before: Some(check::is_alphanumeric),
        after: Some(check::is_alphanumeric),
        ..Rule::new(
            "aws-access-key-id",
            "AWS access key id",
            Severity::High,
            Matcher::Pattern(compile(r"(?-u)(?:AKIA|ASIA)[0-9A-Z]{16}")?),
        )
    })
}

/// The secret access key, as `aws configure` (`aws_secret_access_key = …`), environment
/// files (`AWS_SECRET_ACCESS_KEY=…`) and the JSON of `aws iam create-access-key`
/// (`"SecretAccessKey": "…"`) write it. 40 base64 characters are too common to go on
/// alone, hence the name next to it and the entropy floor; `…EXAMPLEKEY` is AWS's
/// documentation example.
fn aws_secret_access_key() -> Result<Rule, regex::Error> {
    Ok(Rule {
        keywords: &[
            "secret_access_key",
            "SECRET_ACCESS_KEY",
            "SecretAccessKey",
            "secretAccessKey",
        ],
        min_entropy: Some(4.0),
        allow: &["EXAMPLE"],
        after: Some(check::is_base64),
        ..Rule::new(
            "aws-secret-access-key",
            "AWS secret access key",
            Severity::Critical,
            Matcher::Pattern(compile(
                r#"(?-u)(?i:secret_?access_?key)["']?[ \t]*(?::=|=>|:|=)[ \t]*["']?(?P<secret>[A-Za-z0-9/+]{40})"#,
            )?),
        )
    })
}

/// GitHub personal access (`ghp_`), OAuth (`gho_`), user-to-server (`ghu_`),
/// server-to-server (`ghs_`) and refresh (`ghr_`) tokens, and fine-grained personal access
/// tokens (`github_pat_`).
fn github_token() -> Result<Rule, regex::Error> {
    Ok(Rule {
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        min_entropy: Some(3.0),
        before: Some(check::is_word),
        after: Some(check::is_word),
        supersedes: PASSWORD_RULES,
        ..Rule::new(
            "github-token",
            "GitHub token",
            Severity::High,
            Matcher::Pattern(compile(
                r"(?-u)(?:gh[pousr]_[0-9A-Za-z]{36}|github_pat_[0-9A-Za-z_]{82})",
            )?),
        )
    })
}

/// GitLab personal access tokens: `glpat-` and 20 characters (longer in newer, routable
/// tokens, which this also matches).
fn gitlab_token() -> Result<Rule, regex::Error> {
    Ok(Rule {
        keywords: &["glpat-"],
        min_entropy: Some(3.0),
        before: Some(check::is_base64url),
        after: Some(check::is_base64url),
        supersedes: PASSWORD_RULES,
        ..Rule::new(
            "gitlab-token",
            "GitLab personal access token",
            Severity::High,
            Matcher::Pattern(compile(r"(?-u)glpat-[0-9A-Za-z_-]{20,}")?),
        )
    })
}

/// Slack bot (`xoxb-`), user (`xoxp-`), app (`xoxa-`), refresh (`xoxr-`) and legacy
/// workspace (`xoxs-`) tokens: numeric ids separated by dashes, then the secret part.
fn slack_token() -> Result<Rule, regex::Error> {
    Ok(Rule {
        keywords: &["xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"],
        min_entropy: Some(3.0),
        before: Some(check::is_alphanumeric),
        after: Some(check::is_base64url),
        supersedes: PASSWORD_RULES,
        ..Rule::new(
            "slack-token",
            "Slack token",
            Severity::High,
            Matcher::Pattern(compile(
                r"(?-u)xox[abprs]-(?:[0-9]{1,20}-){1,4}[0-9A-Za-z]{16,}",
            )?),
        )
    })
}

/// Slack incoming webhooks: whoever has the URL can post to the channel. The secret is the
/// `T…/B…/…` path.
fn slack_webhook() -> Result<Rule, regex::Error> {
    Ok(Rule {
        keywords: &["hooks.slack.com/services/"],
        min_entropy: Some(3.0),
        after: Some(check::is_alphanumeric),
        ..Rule::new(
            "slack-webhook",
            "Slack webhook URL",
            Severity::High,
            Matcher::Pattern(compile(
                r"(?-u)https://hooks\.slack\.com/services/(?P<secret>T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,})",
            )?),
        )
    })
}

/// Google Cloud service-account key files (`"type": "service_account"` and a
/// `"private_key"`): reported once, at the `private_key` line, instead of as a bare
/// private key.
fn gcp_service_account() -> Result<Rule, regex::Error> {
    Ok(Rule {
        keywords: &["service_account"],
        context: 16 << 10,
        value: Value::PemInJson,
        min_entropy: Some(4.0),
        requires: Some(compile(
            r#"(?-u)"type"[ \t\r\n]*:[ \t\r\n]*"service_account""#,
        )?),
        supersedes: &["private-key"],
        ..Rule::new(
            "gcp-service-account",
            "Google Cloud service account key",
            Severity::Critical,
            Matcher::Pattern(compile(
                r#"(?-u)"private_key"[ \t\r\n]*:[ \t\r\n]*"(?P<secret>-----BEGIN PRIVATE KEY-----(?:[^"\\]|\\.)*?-----END PRIVATE KEY-----)"#,
            )?),
        )
    })
}

/// npm access tokens (`npm_` and 36 base-62 characters), wherever they are.
fn npm_token() -> Result<Rule, regex::Error> {
    Ok(Rule {
        keywords: &["npm_"],
        min_entropy: Some(3.0),
        before: Some(check::is_word),
        after: Some(check::is_word),
        supersedes: PASSWORD_RULES,
        ..Rule::new(
            "npm-token",
            "npm access token",
            Severity::High,
            Matcher::Pattern(compile(r"(?-u)npm_[A-Za-z0-9]{36}")?),
        )
    })
}

/// Registry credentials in `.npmrc` (`//registry.npmjs.org/:_authToken=…`, and the older
/// `_auth` and `_password`), for any registry; `${NPM_TOKEN}` and other placeholders are
/// not secrets.
fn npmrc_auth_token() -> Result<Rule, regex::Error> {
    Ok(Rule {
        applies: paths::npmrc,
        value: Value::Password,
        ..Rule::new(
            "npmrc-auth-token",
            "Registry credential in .npmrc",
            Severity::High,
            Matcher::Pattern(compile(
                r"(?m-u)^[ \t]*(?://[^\s=]*:)?(?:_authToken|_auth|_password)[ \t]*=(?P<secret>[^\r\n]*)",
            )?),
        )
    })
}

/// PyPI API tokens (macaroons; the fixed prefix is the base64 of their `pypi.org` or
/// `test.pypi.org` location).
fn pypi_token() -> Result<Rule, regex::Error> {
    Ok(Rule {
        keywords: &["pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw"],
        min_entropy: Some(3.0),
        before: Some(check::is_base64url),
        after: Some(check::is_base64url),
        supersedes: PASSWORD_RULES,
        ..Rule::new(
            "pypi-token",
            "PyPI API token",
            Severity::High,
            Matcher::Pattern(compile(
                r"(?-u)pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}",
            )?),
        )
    })
}

/// `password` in a repository section of `.pypirc` (`[pypi]`, `[testpypi]`, private
/// indexes; not `[distutils]`).
fn pypirc_password() -> Result<Rule, regex::Error> {
    Ok(Rule {
        applies: paths::pypirc,
        value: Value::Password,
        ..Rule::new(
            "pypirc-password",
            "Password in .pypirc",
            Severity::High,
            Matcher::Pypirc,
        )
    })
}

/// Bulwark's own access tokens, exactly as `bulwark-auth` issues them: `bwk_`, then a
/// 12-character id and a 40-character secret, both base 62 and with no separator.
fn bulwark_token() -> Result<Rule, regex::Error> {
    Ok(Rule {
        keywords: &["bwk_"],
        min_entropy: Some(3.0),
        before: Some(check::is_word),
        after: Some(check::is_word),
        supersedes: PASSWORD_RULES,
        ..Rule::new(
            "bulwark-token",
            "Bulwark access token",
            Severity::Critical,
            Matcher::Pattern(compile(r"(?-u)bwk_[0-9A-Za-z]{52}")?),
        )
    })
}

/// `git credential-store`'s file: one `https://user:password@host` per line.
fn git_credentials() -> Result<Rule, regex::Error> {
    Ok(Rule {
        applies: paths::git_credentials,
        value: Value::Password,
        ..Rule::new(
            "git-credentials",
            "Password in .git-credentials",
            Severity::High,
            Matcher::Pattern(compile(
                r"(?m-u)^[ \t]*[A-Za-z][A-Za-z0-9+.-]{0,31}://[^:@/\s]*:(?P<secret>[^@\s]+)@[^@/\s]",
            )?),
        )
    })
}

/// `password` tokens of `.netrc` (curl, ftp, git over HTTP, pip all read it); the value
/// may follow on the next line.
fn netrc_password() -> Result<Rule, regex::Error> {
    Ok(Rule {
        applies: paths::netrc,
        value: Value::Password,
        before: Some(check::is_not_space),
        ..Rule::new(
            "netrc-password",
            "Password in .netrc",
            Severity::High,
            Matcher::Pattern(compile(r"(?-u)password[ \t\r\n]+(?P<secret>[^ \t\r\n]+)")?),
        )
    })
}

/// `docker login`'s stored credentials (`"auth"`: base64 of `user:password`) in Docker's
/// `config.json` and Podman's `auth.json`. Only values that decode to `user:password` count.
fn docker_config_auth() -> Result<Rule, regex::Error> {
    Ok(Rule {
        applies: paths::docker_config,
        value: Value::DockerAuth,
        ..Rule::new(
            "docker-config-auth",
            "Registry credential in Docker config.json",
            Severity::High,
            Matcher::Pattern(compile(
                r#"(?-u)"auth"[ \t\r\n]*:[ \t\r\n]*"(?P<secret>[A-Za-z0-9+/=]{4,})""#,
            )?),
        )
    })
}

/// PostgreSQL's password file: `host:port:database:user:password` per line.
fn pgpass_password() -> Result<Rule, regex::Error> {
    Ok(Rule {
        applies: paths::pgpass,
        value: Value::Password,
        ..Rule::new(
            "pgpass-password",
            "Password in .pgpass",
            Severity::High,
            Matcher::Pgpass,
        )
    })
}

/// `password=` in MySQL/MariaDB option files (`.my.cnf`, `my.cnf`, Debian's `debian.cnf`,
/// `*.cnf` under a `mysql/` directory).
fn mysql_config_password() -> Result<Rule, regex::Error> {
    Ok(Rule {
        applies: paths::mysql_config,
        value: Value::Password,
        ..Rule::new(
            "mysql-config-password",
            "Password in a MySQL option file",
            Severity::Medium,
            Matcher::Pattern(compile(
                r"(?m-u)^[ \t]*password[ \t]*=(?P<secret>[^\r\n]*)",
            )?),
        )
    })
}

/// The database password of a WordPress `wp-config.php` (`define('DB_PASSWORD', '…')`).
fn wordpress_db_password() -> Result<Rule, regex::Error> {
    Ok(Rule {
        applies: paths::wordpress_config,
        value: Value::Password,
        ..Rule::new(
            "wordpress-db-password",
            "Database password in wp-config.php",
            Severity::Medium,
            Matcher::Pattern(compile(
                r#"(?-u)define\([ \t]*['"]DB_PASSWORD['"][ \t]*,[ \t]*(?:'(?P<secret>[^'\r\n]*)'|"(?P<secret2>[^"\r\n]*)")"#,
            )?),
        )
    })
}

/// String-literal passwords in Django settings modules: `'PASSWORD': '…'` in `DATABASES`
/// and `…PASSWORD = '…'` (`EMAIL_HOST_PASSWORD`). Values read from the environment are
/// not literals and do not match; settings modules of installed packages are not checked.
fn django_settings_password() -> Result<Rule, regex::Error> {
    Ok(Rule {
        applies: paths::django_settings,
        value: Value::Password,
        ..Rule::new(
            "django-settings-password",
            "Password in Django settings",
            Severity::Medium,
            Matcher::Pattern(compile(
                r#"(?m-u)(?:['"]PASSWORD['"][ \t]*:|^[ \t]*[A-Z0-9_]*PASSWORD[ \t]*=)[ \t]*(?:'(?P<secret>[^'\r\n]*)'|"(?P<secret2>[^"\r\n]*)")"#,
            )?),
        )
    })
}

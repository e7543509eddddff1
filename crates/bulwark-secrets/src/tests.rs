#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::OnceLock;

use base64::Engine as _;
use proptest::prelude::*;

use super::*;

const BASE62: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const DIGITS: &str = "0123456789";
const HEX: &str = "0123456789abcdef";

/// Fake values of a real token's shape: deterministic pseudo-random characters of the
/// token's alphabet (xorshift64*), so their entropy is that of a real one. Never real.
fn fake(alphabet: &str, len: usize, seed: u64) -> String {
    let alphabet = alphabet.as_bytes();
    let mut state = seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let x = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
            char::from(alphabet[usize::try_from(x).unwrap() % alphabet.len()])
        })
        .collect()
}

/// `count` lines of 64 fake base64 characters, as PEM bodies are wrapped.
fn pem_lines(seed: u64, count: u64) -> Vec<String> {
    (0..count)
        .map(|i| fake(BASE64, 64, seed * 1000 + i))
        .collect()
}

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(Detector::new)
}

fn scan(path: &str, content: &str) -> Vec<SecretFinding> {
    detector().scan(path, content.as_bytes())
}

/// Fails if any field of any finding, its `Debug` output or its JSON holds `secret`.
fn assert_hidden(findings: &[SecretFinding], secret: &str) {
    for finding in findings {
        for field in [
            &finding.rule,
            &finding.title,
            &finding.path,
            &finding.redacted,
            &finding.fingerprint,
        ] {
            assert!(!field.contains(secret), "{field} gives {secret} away");
        }
        assert!(!format!("{finding:?}").contains(secret));
        assert!(!serde_json::to_string(finding).unwrap().contains(secret));
    }
}

/// The only finding, after checking that it is of `rule` and hides `secret`.
fn only(findings: &[SecretFinding], rule: &str, secret: &str) -> SecretFinding {
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].rule, rule, "{findings:#?}");
    assert_hidden(findings, secret);
    findings[0].clone()
}

fn assert_none(path: &str, content: &str) {
    let findings = scan(path, content);
    assert!(findings.is_empty(), "{path}: {findings:#?}");
}

// ---- Rules, detector, types ----

#[test]
fn every_builtin_rule_compiles_and_ids_are_unique() {
    let built = rules::builtin();
    let count = built.len();
    let mut ids = HashSet::new();
    for rule in built {
        let rule = rule.unwrap();
        assert!(ids.insert(rule.id), "duplicate id {}", rule.id);
        assert!(!rule.title.is_empty());
    }
    assert_eq!(detector().rules().len(), count);
    assert!(detector().keywords.is_some());
}

#[test]
fn superseded_rule_ids_exist() {
    let ids: HashSet<&str> = detector().rules().iter().map(|rule| rule.id).collect();
    for rule in detector().rules() {
        for id in rule.supersedes {
            assert!(ids.contains(id), "{} supersedes unknown {id}", rule.id);
        }
    }
}

#[test]
fn detector_is_send_sync_and_clone() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Detector>();
    let clone = detector().clone();
    assert_eq!(clone.rules().len(), detector().rules().len());
    assert!(format!("{clone:?}").contains("private-key"));
}

#[test]
fn severity_serializes_lowercase_and_orders() {
    assert_eq!(
        serde_json::to_string(&Severity::Critical).unwrap(),
        "\"critical\""
    );
    assert_eq!(
        serde_json::from_str::<Severity>("\"medium\"").unwrap(),
        Severity::Medium
    );
    assert!(Severity::Low < Severity::Medium);
    assert!(Severity::High < Severity::Critical);
    assert_eq!(Severity::High.to_string(), "high");
}

// ---- Private keys ----

#[test]
fn pem_private_keys_of_every_label_are_found_at_their_begin_line() {
    for (seed, label) in [
        "PRIVATE KEY",
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "DSA PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
    ]
    .into_iter()
    .enumerate()
    {
        let lines = pem_lines(seed as u64 + 1, 20);
        let content = format!(
            "# deploy key\n\n-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        );
        let findings = scan("root/.ssh/id_rsa", &content);
        let finding = only(&findings, "private-key", &lines[0]);
        for line in &lines {
            assert_hidden(&findings, line);
        }
        assert_eq!(finding.line, 3, "{label}");
        assert_eq!(finding.severity, Severity::Critical);
        assert_eq!(finding.path, "root/.ssh/id_rsa");
        assert!(finding.redacted.starts_with(&lines[0][..4]));
    }
}

#[test]
fn openssh_encrypted_and_pgp_keys_are_found() {
    let openssh = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        (0..6)
            .map(|i| fake(BASE64, 70, 40 + i))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let finding = only(
        &scan("home/app/.ssh/id_ed25519", &openssh),
        "private-key",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    );
    assert_eq!(finding.line, 1);

    let lines = pem_lines(50, 16);
    let encrypted = format!(
        "-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89B5A2A2CF5FC4A4B8\r\n\r\n{}\r\n-----END RSA PRIVATE KEY-----\r\n",
        lines.join("\r\n")
    );
    let findings = scan("etc/ssl/private/server.key", &encrypted);
    only(&findings, "private-key", &lines[3]);

    let lines = pem_lines(60, 12);
    let pgp = format!(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\nComment: release signing\n\n{}\n=Xq3v\n-----END PGP PRIVATE KEY BLOCK-----\n",
        lines.join("\n")
    );
    only(&scan("root/signing.asc", &pgp), "private-key", &lines[5]);
}

#[test]
fn indented_yaml_and_json_escaped_keys_are_found() {
    let lines = pem_lines(70, 10);
    let yaml = format!(
        "tls:\n  key: |\n    -----BEGIN EC PRIVATE KEY-----\n    {}\n    -----END EC PRIVATE KEY-----\n",
        lines.join("\n    ")
    );
    assert_eq!(
        only(&scan("app/values.yaml", &yaml), "private-key", &lines[0]).line,
        3
    );

    let json = format!(
        "{{\"key\": \"-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n\"}}\n",
        lines.join("\\n")
    );
    assert_eq!(
        only(&scan("app/key.json", &json), "private-key", &lines[1]).line,
        1
    );
}

#[test]
fn public_keys_certificates_and_mentions_of_markers_are_not_private_keys() {
    let body = pem_lines(80, 12).join("\n");
    for content in [
        format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"),
        format!("-----BEGIN RSA PUBLIC KEY-----\n{body}\n-----END RSA PUBLIC KEY-----\n"),
        format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"),
        format!("-----BEGIN OPENSSH PUBLIC KEY-----\n{body}\n-----END OPENSSH PUBLIC KEY-----\n"),
        // Documentation.
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n".to_owned(),
        "-----BEGIN PRIVATE KEY-----\n<your key here>\n-----END PRIVATE KEY-----\n".to_owned(),
        // Too short to be a key.
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            fake(BASE64, 40, 1)
        ),
        // No END line, or the END line of another label.
        format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n"),
        format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"),
        // Filler, not a key.
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            "A".repeat(64 * 4)
        ),
        // Code that handles keys.
        format!(
            "const BEGIN: &str = \"-----BEGIN PRIVATE KEY-----\";\nfn parse(s: &str) -> Key {{\n    let b64 = \"{}\";\n}}\nconst END: &str = \"-----END PRIVATE KEY-----\";\n",
            fake(BASE64, 80, 2)
        ),
    ] {
        assert_none("app/keys.txt", &content);
    }
}

#[test]
fn binary_content_is_not_scanned() {
    let lines = pem_lines(90, 10);
    let key = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let token = format!("ghp_{}", fake(BASE62, 36, 91));
    let binary = format!("\u{7f}ELF\u{2}\u{1}\u{1}\0\0\0{key}{token}\n");
    assert_none("usr/bin/tool", &binary);

    // A NUL byte past the first 8 KiB does not make a text file binary.
    let late_nul = format!("{}\n\0\n{token}\n", "#".repeat(BINARY_SNIFF_BYTES + 10));
    let findings = scan("app/data.txt", &late_nul);
    assert_eq!(only(&findings, "github-token", &token).line, 3);
}

// ---- AWS ----

#[test]
fn aws_credentials_file_yields_the_key_id_and_the_secret() {
    let id = format!("AKIA{}", fake(BASE32, 16, 11));
    let secret = fake(BASE64, 40, 12);
    let content = format!(
        "[default]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\nregion = eu-west-1\n"
    );
    let findings = scan("root/.aws/credentials", &content);
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert_hidden(&findings, &id);
    assert_hidden(&findings, &secret);
    assert_eq!(findings[0].rule, "aws-access-key-id");
    assert_eq!(findings[0].line, 2);
    assert_eq!(findings[0].severity, Severity::High);
    assert_eq!(
        findings[0].redacted,
        format!("AKIA************{}", &id[16..])
    );
    assert_eq!(findings[1].rule, "aws-secret-access-key");
    assert_eq!(findings[1].line, 3);
    assert_eq!(findings[1].severity, Severity::Critical);
}

#[test]
fn aws_secrets_in_environment_files_and_cli_json_are_found() {
    let secret = fake(BASE64, 40, 13);
    let env =
        format!("export AWS_DEFAULT_REGION=us-east-1\nexport AWS_SECRET_ACCESS_KEY=\"{secret}\"\n");
    assert_eq!(
        only(&scan("app/.env", &env), "aws-secret-access-key", &secret).line,
        2
    );

    let id = format!("ASIA{}", fake(BASE32, 16, 14));
    let json = format!(
        "{{\n    \"AccessKey\": {{\n        \"UserName\": \"ci\",\n        \"AccessKeyId\": \"{id}\",\n        \"Status\": \"Active\",\n        \"SecretAccessKey\": \"{secret}\"\n    }}\n}}\n"
    );
    let findings = scan("tmp/key.json", &json);
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert_hidden(&findings, &id);
    assert_hidden(&findings, &secret);
    assert_eq!(
        (findings[0].rule.as_str(), findings[0].line),
        ("aws-access-key-id", 4)
    );
    assert_eq!(
        (findings[1].rule.as_str(), findings[1].line),
        ("aws-secret-access-key", 6)
    );
}

#[test]
fn aws_documentation_examples_and_near_misses_do_not_fire() {
    assert_none(
        "usr/lib/python3/dist-packages/awscli/examples/configure.rst",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    );
    // Inside a longer word or blob, too long, too regular.
    let id = fake(BASE32, 16, 15);
    assert_none("app/a.txt", &format!("x{}AKIA{id}\n", fake(BASE62, 10, 16)));
    assert_none("app/a.txt", &format!("AKIA{id}Q\n"));
    assert_none(
        "app/a.txt",
        &format!("aws_secret_access_key = {}\n", fake(BASE64, 41, 17)),
    );
    assert_none(
        "app/a.txt",
        &format!("aws_secret_access_key = {}\n", "ab".repeat(20)),
    );
    assert_none("app/a.txt", "AKIAAAAAAAAAAAAAAAAA\n");
    // The 40 characters alone, without the name, are not enough.
    assert_none(
        "app/a.txt",
        &format!("checksum: {}\n", fake(BASE64, 40, 18)),
    );
}

// ---- Forges and chat ----

#[test]
fn github_tokens_of_every_kind_are_found() {
    for (seed, prefix) in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]
        .into_iter()
        .enumerate()
    {
        let token = format!("{prefix}{}", fake(BASE62, 36, 20 + seed as u64));
        let content = format!("#!/bin/sh\nGITHUB_TOKEN={token} gh release list\n");
        let finding = only(&scan("app/release.sh", &content), "github-token", &token);
        assert_eq!(finding.line, 2);
        assert_eq!(finding.severity, Severity::High);
        assert_eq!(
            finding.redacted,
            format!("{prefix}{}{}", "*".repeat(32), &token[36..])
        );
    }
    let pat = format!(
        "github_pat_{}_{}",
        fake(BASE62, 22, 30),
        fake(BASE62, 59, 31)
    );
    assert_eq!(pat.len(), "github_pat_".len() + 82);
    only(
        &scan("app/.env", &format!("GH_TOKEN='{pat}'\n")),
        "github-token",
        &pat,
    );
}

#[test]
fn github_near_misses_do_not_fire() {
    assert_none("app/a.txt", &format!("ghp_{}\n", fake(BASE62, 35, 32)));
    assert_none("app/a.txt", &format!("ghp_{}\n", fake(BASE62, 37, 33)));
    assert_none("app/a.txt", &format!("ghp_{}\n", "x".repeat(36)));
    assert_none("app/a.txt", &format!("my_ghp_{}\n", fake(BASE62, 36, 34)));
    assert_none(
        "app/a.txt",
        &format!("github_pat_{}\n", fake(BASE62, 81, 35)),
    );
}

#[test]
fn gitlab_tokens_are_found_and_short_ones_are_not() {
    let token = format!("glpat-{}", fake(BASE64URL, 20, 40));
    let content = format!("variables:\n  GITLAB_TOKEN: \"{token}\"\n");
    assert_eq!(
        only(
            &scan("app/.gitlab-ci.yml", &content),
            "gitlab-token",
            &token
        )
        .line,
        2
    );
    assert_none(
        "app/a.txt",
        &format!("GITLAB_TOKEN: {}\n", &token[..token.len() - 1]),
    );
    assert_none("app/a.txt", "GITLAB_TOKEN=glpat-xxxxxxxxxxxxxxxxxxxx\n");
}

#[test]
fn slack_tokens_and_webhooks_are_found() {
    let token = format!(
        "xoxb-{}-{}-{}",
        fake(DIGITS, 12, 50),
        fake(DIGITS, 13, 51),
        fake(BASE62, 24, 52)
    );
    let content = format!("slack:\n  bot_token: {token}\n");
    assert_eq!(
        only(&scan("app/config.yml", &content), "slack-token", &token).line,
        2
    );

    let user = format!(
        "xoxp-{}-{}-{}-{}",
        fake(DIGITS, 10, 53),
        fake(DIGITS, 10, 54),
        fake(DIGITS, 12, 55),
        fake(HEX, 32, 56)
    );
    only(
        &scan("app/a.txt", &format!("{user}\n")),
        "slack-token",
        &user,
    );

    let path = format!(
        "T{}/B{}/{}",
        fake(UPPER, 10, 57),
        fake(UPPER, 10, 58),
        fake(BASE62, 24, 59)
    );
    let url = format!("https://hooks.slack.com/services/{path}");
    let content = format!("{{\n  \"webhook\": \"{url}\"\n}}\n");
    let findings = scan("app/notify.json", &content);
    let finding = only(&findings, "slack-webhook", &path);
    assert_hidden(&findings, &url);
    assert_eq!(finding.line, 2);
}

#[test]
fn slack_placeholders_do_not_fire() {
    assert_none("app/a.txt", "SLACK_BOT_TOKEN=xoxb-your-bot-token\n");
    assert_none(
        "app/a.txt",
        "https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX\n",
    );
    assert_none(
        "app/a.txt",
        "xoxb-000000000000-0000000000000-XXXXXXXXXXXXXXXXXXXXXXXX\n",
    );
}

// ---- Google service accounts ----

fn service_account(lines: &[String], with_type: bool) -> String {
    let type_line = if with_type {
        "  \"type\": \"service_account\",\n"
    } else {
        ""
    };
    format!(
        "{{\n{type_line}  \"project_id\": \"demo-project\",\n  \"private_key_id\": \"{}\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n\",\n  \"client_email\": \"builder@demo-project.iam.gserviceaccount.com\",\n  \"client_id\": \"{}\",\n  \"token_uri\": \"https://oauth2.googleapis.com/token\"\n}}\n",
        fake(HEX, 40, 60),
        lines.join("\\n"),
        fake(DIGITS, 21, 61)
    )
}

#[test]
fn gcp_service_account_keys_are_reported_once_at_the_private_key_line() {
    let lines = pem_lines(62, 26);
    let findings = scan("app/credentials.json", &service_account(&lines, true));
    let finding = only(&findings, "gcp-service-account", &lines[0]);
    for line in &lines {
        assert_hidden(&findings, line);
    }
    assert_eq!(finding.line, 5);
    assert_eq!(finding.severity, Severity::Critical);

    // Without the type it is still a private key.
    let findings = scan("app/credentials.json", &service_account(&lines, false));
    assert_eq!(only(&findings, "private-key", &lines[0]).line, 4);
}

// ---- npm ----

#[test]
fn npm_tokens_are_found_anywhere_and_once_in_npmrc() {
    let token = format!("npm_{}", fake(BASE62, 36, 70));
    let js =
        format!("const registry = 'https://registry.npmjs.org/';\nconst token = \"{token}\";\n");
    assert_eq!(
        only(&scan("app/publish.js", &js), "npm-token", &token).line,
        2
    );

    let npmrc =
        format!("registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={token}\n");
    let finding = only(&scan("root/.npmrc", &npmrc), "npm-token", &token);
    assert_eq!(finding.line, 2);
}

#[test]
fn npmrc_credentials_of_other_registries_are_found_and_variables_are_not() {
    let legacy = format!(
        "{}-{}-{}-{}-{}",
        fake(HEX, 8, 71),
        fake(HEX, 4, 72),
        fake(HEX, 4, 73),
        fake(HEX, 4, 74),
        fake(HEX, 12, 75)
    );
    let npmrc = format!(
        "@corp:registry=https://npm.corp.example/\n//npm.corp.example/:_authToken=\"{legacy}\"\nalways-auth=true\n"
    );
    let finding = only(&scan("app/.npmrc", &npmrc), "npmrc-auth-token", &legacy);
    assert_eq!(finding.line, 2);
    assert_eq!(finding.severity, Severity::High);

    assert_none(
        "app/.npmrc",
        "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n",
    );
    assert_none("app/.npmrc", "//registry.npmjs.org/:_authToken=\n");
    // The same line outside an npmrc is not an npmrc credential.
    assert_none(
        "app/notes.txt",
        &format!("//npm.corp.example/:_authToken={legacy}\n"),
    );
}

// ---- PyPI ----

#[test]
fn pypi_tokens_are_found_and_once_in_pypirc() {
    let token = format!("pypi-AgEIcHlwaS5vcmc{}", fake(BASE64URL, 140, 80));
    let workflow = format!("env:\n  TWINE_PASSWORD: {token}\n");
    assert_eq!(
        only(
            &scan("app/.github/workflows/release.yml", &workflow),
            "pypi-token",
            &token
        )
        .line,
        2
    );

    let pypirc = format!(
        "[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = {token}\n"
    );
    assert_eq!(
        only(&scan("root/.pypirc", &pypirc), "pypi-token", &token).line,
        7
    );

    let short = format!("pypi-AgEIcHlwaS5vcmc{}", fake(BASE64URL, 49, 81));
    assert_none("app/a.txt", &format!("{short}\n"));
}

#[test]
fn pypirc_passwords_count_in_repository_sections_only() {
    let content = "[distutils]\nindex-servers = pypi internal\npassword = not-a-repository\n\n[internal]\nrepository = https://pypi.corp.example/\nusername = ci\npassword: Upl0ad-S3cret-42\n";
    let finding = only(
        &scan("home/ci/.pypirc", content),
        "pypirc-password",
        "Upl0ad-S3cret-42",
    );
    assert_eq!(finding.line, 8);
    assert_eq!(finding.redacted, "Upl0********t-42");
    assert_none(
        "home/ci/.pypirc",
        "[pypi]\nusername = ci\npassword = changeme\n",
    );
    assert_none("home/ci/.pypirc", "[pypi]\nusername = ci\npassword =\n");
}

// ---- Bulwark ----

#[test]
fn bulwark_tokens_are_found_in_their_exact_format() {
    let token = format!("bwk_{}{}", fake(BASE62, 12, 90), fake(BASE62, 40, 91));
    let content = format!("registry: bulwark.example\nauth:\n  token: {token}\n");
    let finding = only(&scan("app/.bulwark.yml", &content), "bulwark-token", &token);
    assert_eq!(finding.line, 3);
    assert_eq!(finding.severity, Severity::Critical);
    assert!(finding.redacted.starts_with("bwk_"));

    assert_none("app/a.txt", &format!("{}\n", &token[..token.len() - 1]));
    assert_none("app/a.txt", &format!("{token}x\n"));
    assert_none(
        "app/a.txt",
        &format!("bwk_{}_{}\n", fake(BASE62, 12, 92), fake(BASE62, 40, 93)),
    );
}

// ---- Configuration files ----

#[test]
fn git_credentials_yield_passwords_and_tokens_once() {
    let token = format!("ghp_{}", fake(BASE62, 36, 100));
    let content = format!(
        "https://alice:Zq7-pR2x9LmW@git.example.com\nhttps://bob:{token}@github.com\nhttps://carol:${{GIT_TOKEN}}@git.example.com\n"
    );
    let findings = scan("root/.git-credentials", &content);
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert_hidden(&findings, "Zq7-pR2x9LmW");
    assert_hidden(&findings, &token);
    assert_eq!(
        (findings[0].rule.as_str(), findings[0].line),
        ("git-credentials", 1)
    );
    assert_eq!(
        (findings[1].rule.as_str(), findings[1].line),
        ("github-token", 2)
    );

    // The XDG location counts; a URL with a password in some other file is not this rule.
    assert_eq!(scan("home/app/.config/git/credentials", &content).len(), 2);
    assert_none(
        "app/README.md",
        "https://alice:Zq7-pR2x9LmW@git.example.com\n",
    );
}

#[test]
fn netrc_passwords_are_found_on_their_line() {
    let content = "machine api.example.com\n  login alice\n  password Tr0ub4dor-and-3\nmachine other.example.com login bob password changeme\n";
    let finding = only(
        &scan("root/.netrc", content),
        "netrc-password",
        "Tr0ub4dor-and-3",
    );
    assert_eq!(finding.line, 3);
    assert_eq!(finding.severity, Severity::High);
    assert_none("root/.netrc", "machine h login u passwords\n");
}

#[test]
fn docker_config_auth_must_decode_to_user_and_password() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let auth = b64.encode("alice:W1nter-Is-C0ming");
    let content = format!(
        "{{\n  \"auths\": {{\n    \"registry.example.com\": {{\n      \"auth\": \"{auth}\"\n    }}\n  }}\n}}\n"
    );
    let findings = scan("root/.docker/config.json", &content);
    let finding = only(&findings, "docker-config-auth", &auth);
    assert_hidden(&findings, "W1nter-Is-C0ming");
    assert_eq!(finding.line, 4);
    only(
        &scan("run/containers/0/auth.json", &content),
        "docker-config-auth",
        &auth,
    );
    assert_none("app/config.json", &content);

    for decoded in ["alice", "alice:", ":password1", "alice:${PASSWORD}"] {
        let content = format!(
            "{{\"auths\": {{\"r\": {{\"auth\": \"{}\"}}}}}}",
            b64.encode(decoded)
        );
        assert_none("root/.docker/config.json", &content);
    }
    assert_none(
        "root/.docker/config.json",
        "{\"auths\": {\"r\": {\"auth\": \"\"}}}",
    );
}

#[test]
fn pgpass_passwords_are_unescaped_and_placeholders_skipped() {
    let content = "# host:port:db:user:password\ndb.example.com:5432:app:alice:N0t\\:so-secret\nlocalhost:5432:*:postgres:\n*:*:*:*:*\n";
    let finding = only(
        &scan("root/.pgpass", content),
        "pgpass-password",
        "N0t:so-secret",
    );
    assert_hidden(std::slice::from_ref(&finding), "N0t\\:so-secret");
    assert_eq!(finding.line, 2);
}

#[test]
fn mysql_option_files_yield_passwords() {
    let content = "[client]\nuser = root\npassword = \"r00t-Pa55word!\"\n";
    let finding = only(
        &scan("root/.my.cnf", content),
        "mysql-config-password",
        "r00t-Pa55word!",
    );
    assert_eq!(finding.line, 3);
    assert_eq!(finding.severity, Severity::Medium);
    let debian = "[client]\nhost     = localhost\nuser     = debian-sys-maint\npassword = hT4kWq9ZpX2mLs7v\n";
    assert_eq!(
        only(
            &scan("etc/mysql/debian.cnf", debian),
            "mysql-config-password",
            "hT4kWq9ZpX2mLs7v"
        )
        .line,
        4
    );
    assert_none("root/.my.cnf", "[client]\nuser = root\npassword =\n");
    assert_none("usr/lib/ssl/openssl.cnf", "password = hT4kWq9ZpX2mLs7v\n");
}

#[test]
fn wordpress_configs_yield_the_database_password() {
    let content = "<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', 'wp' );\ndefine( 'DB_PASSWORD', 'wp-S3cret-9x' );\n";
    let finding = only(
        &scan("var/www/html/wp-config.php", content),
        "wordpress-db-password",
        "wp-S3cret-9x",
    );
    assert_eq!(finding.line, 4);
    assert_none(
        "var/www/html/wp-config.php",
        "define( 'DB_PASSWORD', 'password_here' );\n",
    );
    assert_none(
        "var/www/html/wp-config.php",
        "define( 'DB_PASSWORD', getenv_docker('WORDPRESS_DB_PASSWORD', 'example password') );\n",
    );
}

#[test]
fn django_settings_yield_literal_passwords_only() {
    let content = "DATABASES = {\n    'default': {\n        'ENGINE': 'django.db.backends.postgresql',\n        'PASSWORD': 'dj4ngo-Pa55-xyz',\n    }\n}\nEMAIL_HOST_PASSWORD = ''\nAUTH_PASSWORD_VALIDATORS = []\n";
    let finding = only(
        &scan("app/mysite/settings.py", content),
        "django-settings-password",
        "dj4ngo-Pa55-xyz",
    );
    assert_eq!(finding.line, 4);
    assert_eq!(scan("app/mysite/settings/production.py", content).len(), 1);
    assert_none(
        "app/mysite/settings.py",
        "DATABASES = {'default': {'PASSWORD': os.environ[\"DB_PASSWORD\"]}}\nEMAIL_HOST_PASSWORD = os.getenv('SMTP_PASSWORD', '')\n",
    );
    assert_none("usr/lib/python3/dist-packages/demo/settings.py", content);
}

// ---- Findings, limits, redaction ----

#[test]
fn keyed_fingerprints_need_the_key() {
    // The unkeyed fingerprint is the hash of rule and value (what the registry's test
    // recomputes to show its reports never carry it).
    let found = Detector::new().scan(
        "root/.aws/credentials",
        b"[default]\naws_access_key_id = AKIAZ7Q3RT5WXY2M4BNP\n",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].rule, "aws-access-key-id");
    let raw = fingerprint("aws-access-key-id", b"AKIAZ7Q3RT5WXY2M4BNP");
    assert_eq!(found[0].fingerprint, raw);
    let a = keyed_fingerprint(&[1; 32], &raw);
    assert_eq!(a.len(), 16);
    assert_eq!(
        a,
        keyed_fingerprint(&[1; 32], &raw),
        "the same under the same key"
    );
    assert_ne!(a, keyed_fingerprint(&[2; 32], &raw));
    assert_ne!(a, raw);
}

#[test]
fn fingerprints_identify_the_secret_not_the_place() {
    let token = format!("ghp_{}", fake(BASE62, 36, 110));
    let other = format!("ghp_{}", fake(BASE62, 36, 111));
    let a = scan("app/a.sh", &format!("T={token}\n"));
    let b = scan("etc/b.conf", &format!("\n\n# x\ntoken = {token}\n"));
    let c = scan("app/a.sh", &format!("T={other}\n"));
    assert_eq!(a[0].fingerprint, b[0].fingerprint);
    assert_ne!(a[0].fingerprint, c[0].fingerprint);
    assert_eq!(a[0].fingerprint.len(), 16);
    assert!(
        a[0].fingerprint
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    // The rule id and the secret are separated, so ("a", "b…") and ("ab", "…") differ.
    assert_ne!(fingerprint("a", b"bc"), fingerprint("ab", b"c"));
}

#[test]
fn line_numbers_count_lf_and_crlf_lines() {
    let id = format!("AKIA{}", fake(BASE32, 16, 120));
    let content = format!("one\r\ntwo\r\n\r\nkey={id}\r\n");
    assert_eq!(
        only(&scan("app/a.txt", &content), "aws-access-key-id", &id).line,
        4
    );
    let content = format!("{id}\n");
    assert_eq!(
        only(&scan("app/a.txt", &content), "aws-access-key-id", &id).line,
        1
    );
}

#[test]
fn at_most_one_hundred_findings_per_file_first_lines_first() {
    let mut content = String::new();
    for i in 0..150 {
        content.push_str(&format!("token{i} = ghp_{}\n", fake(BASE62, 36, 1000 + i)));
    }
    let findings = scan("app/tokens.txt", &content);
    assert_eq!(findings.len(), MAX_FINDINGS_PER_FILE);
    for (i, finding) in findings.iter().enumerate() {
        assert_eq!(finding.line as usize, i + 1);
    }
}

#[test]
fn text_without_keywords_yields_nothing() {
    let paragraph =
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n";
    let content = paragraph.repeat((1 << 20) / paragraph.len());
    assert!(scan("app/lorem.txt", &content).is_empty());
    assert!(scan("app/empty.txt", "").is_empty());
}

#[test]
fn redaction_shows_little_and_never_everything() {
    assert_eq!(redact("AKIAIOSFODNN7EXAMPLE"), "AKIA************MPLE");
    assert_eq!(redact("abcdefghijklm"), "abcd*****jklm");
    assert_eq!(redact("abcdefghijkl"), "ab**********");
    assert_eq!(redact("abcdef"), "ab****");
    assert_eq!(redact("abcd"), "a***");
    assert_eq!(redact("abc"), "a**");
    assert_eq!(redact("ab"), "**");
    assert_eq!(redact(""), "");
    assert_eq!(redact("пароль-секрет"), "паро*****крет");
    let long = fake(BASE64, 2000, 130);
    let redacted = redact(&long);
    assert_eq!(redacted.chars().count(), 4 + 32 + 4);
    assert!(redacted.starts_with(&long[..4]) && redacted.ends_with(&long[1996..]));
    // Values that already look redacted still never come back unchanged.
    assert_eq!(redact("****"), "***");
    assert_eq!(redact("a***"), "***");
    assert_eq!(redact("abcd*****jklm"), "************");
}

// ---- wants ----

#[test]
fn wants_applies_the_size_cap() {
    let detector = detector();
    assert!(detector.wants("app/.env", 100));
    assert!(detector.wants("app/.env", DEFAULT_MAX_FILE_BYTES));
    assert!(!detector.wants("app/.env", DEFAULT_MAX_FILE_BYTES + 1));
    assert!(!detector.wants("app/.env", 0));
    let small = detector.clone().with_max_file_bytes(10);
    assert_eq!(small.max_file_bytes(), 10);
    assert!(!small.wants("app/.env", 11));
    assert!(small.wants("app/.env", 10));
}

#[test]
fn wants_skips_binaries_docs_and_packaged_test_fixtures() {
    let detector = detector();
    for path in [
        "root/.ssh/id_rsa",
        "etc/ssl/private/server.key",
        "app/.env",
        "./app/.env",
        "app/config/settings.py",
        "app/tests/fixtures/key.pem",
        "usr/local/lib/python3.12/site-packages/certifi/cacert.pem",
        "usr/lib/node_modules/npm/npmrc",
        "root/.docker/config.json",
        "etc/ld.conf",
    ] {
        assert!(detector.wants(path, 1000), "{path}");
    }
    for path in [
        "usr/lib/x86_64-linux-gnu/libssl.so.3",
        "usr/lib/libz.so",
        "app/static/logo.PNG",
        "app/static/photo.jpg",
        "app/bundle.tar.gz",
        "app/lib/app.jar",
        "app/__pycache__/x.cpython-312.pyc",
        "app/Main.class",
        "app/module.wasm",
        "usr/share/locale/de/LC_MESSAGES/apt.mo",
        "usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "app/static/font.woff2",
        "usr/share/doc/openssl/README",
        "usr/share/man/man1/ssh.1",
        "usr/lib/locale/C.utf8/LC_CTYPE",
        "usr/share/zoneinfo/UTC",
        "usr/lib/node_modules/npm/node_modules/agent-base/test/ssl-cert-snakeoil.key",
        "app/node_modules/jsonwebtoken/test/priv.pem",
        "usr/local/lib/python3.12/site-packages/tornado/test/test.key",
        "usr/lib/python3.11/test/certdata/keycert.pem",
        "root/go/pkg/mod/golang.org/x/crypto@v0.1.0/ssh/testdata/keys.go",
        "root/.cargo/registry/src/index.crates.io-6f17d22bba15001f/rustls-0.23.0/tests/data/key.pem",
        "usr/local/bundle/gems/net-ssh-7.2.0/test/keys/id_rsa",
        "app/vendor/github.com/some/lib/testdata/key.pem",
    ] {
        assert!(!detector.wants(path, 1000), "{path}");
    }
}

// ---- Properties ----

/// Pieces of every rule's syntax, so random concatenations get deep into the matchers.
const FRAGMENTS: &[&str] = &[
    "-----BEGIN ",
    "RSA ",
    "OPENSSH ",
    "PRIVATE KEY",
    "-----",
    "-----END ",
    "\n",
    "\\n",
    "\r\n",
    " ",
    ":",
    "=",
    "@",
    "\"",
    "'",
    "\\",
    "#",
    "[",
    "]",
    "AKIA",
    "ASIA",
    "ghp_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "12345-",
    "https://hooks.slack.com/services/",
    "T0123ABCD/",
    "B0123ABCD/",
    "\"type\": \"service_account\"",
    "\"private_key\": \"",
    "npm_",
    "pypi-AgEIcHlwaS5vcmc",
    "bwk_",
    "aws_secret_access_key = ",
    "password ",
    "password=",
    "password: ",
    "[pypi]\n",
    "[distutils]\n",
    "https://u:",
    "//registry.npmjs.org/:_authToken=",
    "\"auth\": \"",
    "YWxpY2U6cHc9",
    "define('DB_PASSWORD', '",
    "'PASSWORD': '",
    "MIIEpAIBAAKCAQEA",
    "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY",
    "${X}",
    "é",
    "\u{0}",
];

const PATHS: &[&str] = &[
    "a.txt",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".git-credentials",
    ".pgpass",
    ".my.cnf",
    "wp-config.php",
    "app/settings.py",
    "root/.docker/config.json",
    "",
];

fn check_findings(content: &[u8], findings: &[SecretFinding]) -> Result<(), TestCaseError> {
    let lines = content.iter().filter(|&&b| b == b'\n').count() + 1;
    prop_assert!(findings.len() <= MAX_FINDINGS_PER_FILE);
    for finding in findings {
        prop_assert!(finding.line >= 1 && finding.line as usize <= lines);
        prop_assert_eq!(finding.fingerprint.len(), 16);
    }
    Ok(())
}

proptest! {
    #[test]
    fn scan_never_panics_on_arbitrary_bytes(
        path in prop::sample::select(PATHS),
        content in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let findings = detector().scan(path, &content);
        check_findings(&content, &findings)?;
    }

    #[test]
    fn scan_never_panics_on_keyword_soup(
        path in prop::sample::select(PATHS),
        parts in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..200),
        filler in "[A-Za-z0-9+/]{0,80}",
    ) {
        let content: String = parts.iter().flat_map(|part| [*part, filler.as_str()]).collect();
        let findings = detector().scan(path, content.as_bytes());
        check_findings(content.as_bytes(), &findings)?;
    }

    #[test]
    fn found_tokens_never_appear_in_findings(
        prefix in "[ -~]{0,40}",
        body in "[0-9A-Za-z]{36}",
        suffix in "[ -~]{0,40}",
    ) {
        let token = format!("ghp_{body}");
        let content = format!("{prefix}\n{token}\n{suffix}");
        for finding in detector().scan("a.txt", content.as_bytes()) {
            let shown = format!("{finding:?}");
            prop_assert!(!shown.contains(&token));
            prop_assert!(!finding.redacted.contains(&body));
        }
    }

    #[test]
    fn redaction_never_returns_or_contains_the_secret(secret in any::<String>()) {
        let redacted = redact(&secret);
        if secret.len() >= 4 {
            prop_assert_ne!(&redacted, &secret);
        }
        if secret.len() >= 8 {
            prop_assert!(!redacted.contains(&secret));
        }
    }

    #[test]
    fn redaction_of_star_heavy_and_printable_strings(
        stars in "[a*]{0,48}",
        printable in "\\PC{0,48}",
    ) {
        for secret in [stars, printable] {
            let redacted = redact(&secret);
            if secret.len() >= 4 {
                prop_assert_ne!(&redacted, &secret);
            }
            if secret.len() >= 8 {
                prop_assert!(!redacted.contains(&secret));
            }
        }
    }
}

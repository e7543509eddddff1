//! `/etc/os-release` (or `/usr/lib/os-release`): which distribution and release a filesystem
//! is, so distribution packages are matched against that release's advisories.

/// The fields of os-release that identify a release.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OsRelease {
    /// `ID`, lower case (`debian`, `ubuntu`, `alpine`).
    pub id: String,
    /// `VERSION_ID` (`12`, `22.04`, `3.20.3`); absent on rolling releases (Debian sid).
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
}

pub(crate) fn wants(path: &str) -> bool {
    path == "etc/os-release" || path == "usr/lib/os-release"
}

impl OsRelease {
    /// Parses `KEY=value` lines, values optionally quoted; unknown keys are ignored.
    pub fn parse(text: &str) -> Self {
        let mut release = OsRelease {
            id: String::new(),
            version_id: None,
            pretty_name: None,
        };
        for line in text.lines() {
            let Some((key, value)) = line.trim().split_once('=') else {
                continue;
            };
            let value = value
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_owned();
            match key.trim() {
                "ID" => release.id = value.to_ascii_lowercase(),
                "VERSION_ID" if !value.is_empty() => release.version_id = Some(value),
                "PRETTY_NAME" => release.pretty_name = Some(value),
                _ => {}
            }
        }
        release
    }

    /// The OSV ecosystem of this release's packages (`Debian:12`, `Ubuntu:22.04`,
    /// `Alpine:3.20.3`, which advisory keys normalise to `Alpine:v3.20`); `None` for a
    /// distribution or release without one.
    pub fn osv_ecosystem(&self) -> Option<String> {
        let name = match self.id.as_str() {
            "debian" => "Debian",
            "ubuntu" => "Ubuntu",
            "alpine" => "Alpine",
            _ => return None,
        };
        let version = self.version_id.as_deref()?;
        Some(format!("{name}:{version}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_are_read_from_their_os_release() {
        let debian = OsRelease::parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
        );
        assert_eq!(debian.osv_ecosystem().as_deref(), Some("Debian:12"));
        let alpine = OsRelease::parse("ID=alpine\nVERSION_ID=3.20.3\n");
        assert_eq!(alpine.osv_ecosystem().as_deref(), Some("Alpine:3.20.3"));
        let sid = OsRelease::parse("ID=debian\n");
        assert_eq!(sid.osv_ecosystem(), None, "no release, no guess");
        assert_eq!(
            OsRelease::parse("ID=arch\nVERSION_ID=1").osv_ecosystem(),
            None
        );
    }
}

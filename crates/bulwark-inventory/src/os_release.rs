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
    ///
    /// RPM distributions, as OSV's `ecosystems.json` defines them:
    /// - AlmaLinux and Rocky Linux: `AlmaLinux:9`, `Rocky Linux:9`, the major release
    ///   (their advisories are per major release; `9.4` is `9`);
    /// - openSUSE and SUSE: the release is the os-release `PRETTY_NAME` after the vendor,
    ///   `openSUSE:Leap 15.5`, `openSUSE:Tumbleweed`,
    ///   `SUSE:Linux Enterprise Server 15 SP5`;
    /// - Red Hat Enterprise Linux: none. OSV's `Red Hat` ecosystem is per product stream
    ///   (`Red Hat:enterprise_linux:9::appstream`, a CPE), which neither os-release nor
    ///   rpm's database records for an installed package; CentOS, Fedora, Amazon Linux
    ///   and Oracle Linux have no OSV ecosystem.
    pub fn osv_ecosystem(&self) -> Option<String> {
        let version = self.version_id.as_deref();
        let major = || {
            let version = version?;
            let major = version.split('.').next().unwrap_or(version);
            (!major.is_empty()).then_some(major)
        };
        // `PRETTY_NAME` after the vendor's name, for the SUSE family.
        let product = |vendor: &str| {
            let rest = self.pretty_name.as_deref()?.strip_prefix(vendor)?.trim();
            (!rest.is_empty()).then(|| rest.to_owned())
        };
        let (name, release) = match self.id.as_str() {
            "debian" => ("Debian", version?.to_owned()),
            "ubuntu" => ("Ubuntu", version?.to_owned()),
            "alpine" => ("Alpine", version?.to_owned()),
            "almalinux" => ("AlmaLinux", major()?.to_owned()),
            "rocky" => ("Rocky Linux", major()?.to_owned()),
            id if id.starts_with("opensuse") => ("openSUSE", product("openSUSE")?),
            id if id.starts_with("sle") => ("SUSE", product("SUSE")?),
            _ => return None,
        };
        Some(format!("{name}:{release}"))
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

    #[test]
    fn rpm_distributions_name_their_osv_release() {
        let ecosystem = |text: &str| OsRelease::parse(text).osv_ecosystem();
        assert_eq!(
            ecosystem("ID=\"almalinux\"\nVERSION_ID=\"9.4\"\n").as_deref(),
            Some("AlmaLinux:9")
        );
        assert_eq!(
            ecosystem("ID=\"rocky\"\nVERSION_ID=\"8.10\"\n").as_deref(),
            Some("Rocky Linux:8")
        );
        assert_eq!(
            ecosystem(
                "NAME=\"openSUSE Leap\"\nID=\"opensuse-leap\"\nVERSION_ID=\"15.5\"\nPRETTY_NAME=\"openSUSE Leap 15.5\"\n"
            )
            .as_deref(),
            Some("openSUSE:Leap 15.5")
        );
        assert_eq!(
            ecosystem("ID=\"opensuse-tumbleweed\"\nPRETTY_NAME=\"openSUSE Tumbleweed\"\n")
                .as_deref(),
            Some("openSUSE:Tumbleweed")
        );
        assert_eq!(
            ecosystem(
                "ID=\"sles\"\nVERSION_ID=\"15.5\"\nPRETTY_NAME=\"SUSE Linux Enterprise Server 15 SP5\"\n"
            )
            .as_deref(),
            Some("SUSE:Linux Enterprise Server 15 SP5")
        );
        // Red Hat's ecosystem names a product stream os-release does not say.
        assert_eq!(ecosystem("ID=\"rhel\"\nVERSION_ID=\"9.4\"\n"), None);
        assert_eq!(ecosystem("ID=\"rocky\"\n"), None, "no release, no guess");
    }
}

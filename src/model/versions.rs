//! Version strings nodes report, read the way the Calico for Windows requirements need them:
//! the Windows Server build (`node.kubernetes.io/windows-build` plus the kernel revision) and
//! the container runtime (`containerd://1.7.20+azure`). Owns parsing and comparison only; what
//! counts as supported is decided by `findings`.

use k8s_openapi::api::core::v1::Node;

/// The label carrying `Major.Minor.Build` of a Windows node (`DOMAIN.md` §7).
pub const WINDOWS_BUILD_LABEL: &str = "node.kubernetes.io/windows-build";

/// A Windows Server build: `10.0.20348` with the revision from the kernel version
/// (`10.0.20348.2966`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct WindowsBuild {
    /// `10.0.20348`.
    pub build: String,
    /// The build number alone: 17763, 20348, 26100.
    pub number: Option<u32>,
    /// The update revision (`2966` of `10.0.20348.2966`), when the kernel version says.
    pub revision: Option<u32>,
}

impl WindowsBuild {
    /// Reads the build label and `status.nodeInfo.kernelVersion`; `None` when the node has no
    /// build label and its kernel version does not look like a Windows one either.
    pub fn of(node: &Node) -> Option<Self> {
        let kernel = node
            .status
            .as_ref()
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.kernel_version.as_str())
            .unwrap_or_default();
        let label = node
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(WINDOWS_BUILD_LABEL))
            .map(String::as_str);
        let build = match label {
            Some(build) if !build.is_empty() => build.to_string(),
            _ => {
                let parts: Vec<&str> = kernel.split('.').collect();
                if parts.len() == 4 && parts.iter().all(|p| p.parse::<u32>().is_ok()) {
                    parts[..3].join(".")
                } else {
                    return None;
                }
            }
        };
        let number = build.rsplit('.').next().and_then(|n| n.parse().ok());
        let revision = kernel
            .strip_prefix(build.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.parse().ok());
        Some(Self {
            build,
            number,
            revision,
        })
    }

    /// The marketing name: `2019`, `2022`, `2025`, when the build number is one of those.
    pub fn release(&self) -> Option<&'static str> {
        match self.number? {
            17763 => Some("2019"),
            20348 => Some("2022"),
            26100 => Some("2025"),
            _ => None,
        }
    }

    /// `2022 (10.0.20348.2966)`, or the build alone when the release is not known.
    pub fn display(&self) -> String {
        let full = match self.revision {
            Some(revision) => format!("{}.{revision}", self.build),
            None => self.build.clone(),
        };
        match self.release() {
            Some(release) => format!("{release} ({full})"),
            None => full,
        }
    }
}

/// A container runtime as the node reports it: `containerd://1.7.20+azure`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// `containerd`, `docker`, `cri-o`, ... (empty when the value had no scheme).
    pub name: String,
    /// `1.7.20+azure`.
    pub version: String,
}

impl Runtime {
    pub fn parse(value: &str) -> Self {
        match value.split_once("://") {
            Some((name, version)) => Self {
                name: name.to_string(),
                version: version.to_string(),
            },
            None => Self {
                name: String::new(),
                version: value.to_string(),
            },
        }
    }

    pub fn is_containerd(&self) -> bool {
        self.name == "containerd"
    }
}

/// The leading `major.minor.patch` numbers of a version (`v1.32.4`, `1.7.20+azure`,
/// `1.7.22-1`); missing parts read as 0. `None` when it does not start with a number.
pub fn semver_prefix(version: &str) -> Option<(u64, u64, u64)> {
    let version = version.trim().trim_start_matches('v');
    let mut numbers = version
        .split(['.', '-', '+', '~'])
        .map_while(|part| part.parse::<u64>().ok());
    let major = numbers.next()?;
    Some((
        major,
        numbers.next().unwrap_or(0),
        numbers.next().unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_versions_parse() {
        let runtime = Runtime::parse("containerd://1.7.20+azure");
        assert!(runtime.is_containerd());
        assert_eq!(semver_prefix(&runtime.version), Some((1, 7, 20)));
        assert_eq!(semver_prefix("1.5.18"), Some((1, 5, 18)));
        assert_eq!(semver_prefix("v1.32.4"), Some((1, 32, 4)));
        assert_eq!(semver_prefix("1.7.22-1"), Some((1, 7, 22)));
        assert_eq!(semver_prefix("banana"), None);
        assert_eq!(Runtime::parse("docker://20.10.7").name, "docker");
    }
}

//! The kubeconfig a simulator hands to its clients: one cluster, an admin, a viewer and a
//! restricted user (`auth` says what each may do) with bearer tokens, and a context for each, written the way kubectl writes its own files
//! (YAML, mode 0600, replaced atomically so a reader never sees half a file).

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use serde::Serialize;

/// The context names a simulator's kubeconfig defines.
pub const ADMIN_CONTEXT: &str = "pooltop-sim";
pub const VIEWER_CONTEXT: &str = "pooltop-sim-viewer";
/// Reads like the viewer but is forbidden Calico IPAM and TigeraStatus (`auth::RESTRICTED_RESOURCES`).
pub const RESTRICTED_CONTEXT: &str = "pooltop-sim-restricted";
const CLUSTER: &str = "pooltop-sim";

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("encoding the kubeconfig: {0}")]
    Encode(String),
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig<'a> {
    api_version: &'a str,
    kind: &'a str,
    clusters: Vec<Named<'a, Cluster<'a>>>,
    users: Vec<Named<'a, UserEntry<'a>>>,
    contexts: Vec<Named<'a, Context<'a>>>,
    current_context: &'a str,
    preferences: Preferences,
}

#[derive(Serialize)]
struct Preferences {}

#[derive(Serialize)]
struct Named<'a, T> {
    name: &'a str,
    #[serde(flatten)]
    value: T,
}

#[derive(Serialize)]
struct Cluster<'a> {
    cluster: ClusterSpec<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ClusterSpec<'a> {
    server: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_authority_data: Option<String>,
}

#[derive(Serialize)]
struct UserEntry<'a> {
    user: UserSpec<'a>,
}

#[derive(Serialize)]
struct UserSpec<'a> {
    token: &'a str,
}

#[derive(Serialize)]
struct Context<'a> {
    context: ContextSpec<'a>,
}

#[derive(Serialize)]
struct ContextSpec<'a> {
    cluster: &'a str,
    user: &'a str,
}

/// What goes into a simulator's kubeconfig.
#[derive(Debug, Clone)]
pub struct KubeconfigSpec<'a> {
    pub server_url: &'a str,
    pub ca_pem: Option<&'a str>,
    pub admin_token: &'a str,
    pub viewer_token: &'a str,
}

/// Renders the kubeconfig as YAML.
pub fn render(spec: &KubeconfigSpec<'_>) -> Result<String, KubeconfigError> {
    let restricted_token = super::auth::restricted_token(spec.viewer_token);
    let ca = spec
        .ca_pem
        .map(|pem| base64::engine::general_purpose::STANDARD.encode(pem));
    let config = Kubeconfig {
        api_version: "v1",
        kind: "Config",
        clusters: vec![Named {
            name: CLUSTER,
            value: Cluster {
                cluster: ClusterSpec {
                    server: spec.server_url,
                    certificate_authority_data: ca,
                },
            },
        }],
        users: vec![
            Named {
                name: "pooltop-sim-admin",
                value: UserEntry {
                    user: UserSpec {
                        token: spec.admin_token,
                    },
                },
            },
            Named {
                name: "pooltop-sim-viewer",
                value: UserEntry {
                    user: UserSpec {
                        token: spec.viewer_token,
                    },
                },
            },
            Named {
                name: RESTRICTED_CONTEXT,
                value: UserEntry {
                    user: UserSpec {
                        token: &restricted_token,
                    },
                },
            },
        ],
        contexts: vec![
            Named {
                name: ADMIN_CONTEXT,
                value: Context {
                    context: ContextSpec {
                        cluster: CLUSTER,
                        user: "pooltop-sim-admin",
                    },
                },
            },
            Named {
                name: VIEWER_CONTEXT,
                value: Context {
                    context: ContextSpec {
                        cluster: CLUSTER,
                        user: "pooltop-sim-viewer",
                    },
                },
            },
            Named {
                name: RESTRICTED_CONTEXT,
                value: Context {
                    context: ContextSpec {
                        cluster: CLUSTER,
                        user: RESTRICTED_CONTEXT,
                    },
                },
            },
        ],
        current_context: ADMIN_CONTEXT,
        preferences: Preferences {},
    };
    serde_saphyr::to_string(&config).map_err(|e| KubeconfigError::Encode(e.to_string()))
}

/// Writes the kubeconfig with owner-only permissions, replacing any previous file atomically.
pub fn write(path: &Path, yaml: &str) -> Result<(), KubeconfigError> {
    let fail = |source: std::io::Error| KubeconfigError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(yaml.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_user_and_context() {
        let yaml = render(&KubeconfigSpec {
            server_url: "https://127.0.0.1:6443",
            ca_pem: Some("PEM"),
            admin_token: "a1",
            viewer_token: "v1",
        })
        .unwrap();
        assert!(yaml.contains("current-context: pooltop-sim"), "{yaml}");
        assert!(yaml.contains("certificate-authority-data: UEVN"), "{yaml}");
        assert!(yaml.contains("token: v1"), "{yaml}");
        let parsed: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(
            parsed["contexts"][1]["context"]["user"],
            "pooltop-sim-viewer"
        );
        assert_eq!(parsed["contexts"][2]["name"], RESTRICTED_CONTEXT);
        assert_eq!(parsed["users"][2]["user"]["token"], "v1-restricted");
        assert_eq!(
            parsed["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
    }

    #[test]
    fn writes_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/kubeconfig");
        write(&path, "x: 1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x: 1\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}

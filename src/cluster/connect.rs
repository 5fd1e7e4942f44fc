//! Connecting to a cluster the way kubectl does: which kubeconfig files are read (`--kubeconfig`,
//! else every file in `KUBECONFIG` merged with the first file winning, else `~/.kube/config`),
//! which context is used, and a reachability check against `/version` so that a dead cluster is
//! reported in one line instead of as a hung console. Owns the client's construction (retries
//! off, the read-only guard layer); must not watch or write anything itself.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

use super::readonly::ReadOnlyLayer;
use super::status::deepest_cause;
use crate::model::{Source, SourceKind};

/// How long the `/version` reachability check may take before the cluster counts as unreachable.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(5);

/// What the user asked for on the command line (or what `pooltop demo` chose).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--kubeconfig PATH`: only this file is read, as kubectl does.
    pub kubeconfig: Option<PathBuf>,
    /// `--context NAME`; the kubeconfig's `current-context` otherwise.
    pub context: Option<String>,
    /// No write request may leave the process (enforced in the client's HTTP stack).
    pub readonly: bool,
    /// `Simulated` for `pooltop demo`, so the console shows its marker.
    pub source_kind: SourceKind,
    /// The value of `KUBECONFIG` to use instead of the process environment (tests; a config
    /// file's override). `None` reads the environment.
    pub kubeconfig_env: Option<OsString>,
    /// How long `/version` may take; [`REACH_TIMEOUT`] when `None`. `pooltop demo` may want
    /// longer: an in-process simulator loading the `large` scenario shares the runtime.
    pub reach_timeout: Option<Duration>,
}

/// A reachable cluster: the client and what the console shows about where it points.
#[derive(Clone)]
pub struct Connection {
    pub client: kube::Client,
    pub source: Source,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Why no connection was made; every message is one line and names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "no kubeconfig found (looked at {looked}); pass --kubeconfig PATH or try `pooltop demo` for a simulated cluster"
    )]
    NoKubeconfig { looked: String },
    #[error("cannot read kubeconfig {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("malformed kubeconfig {path}: {reason}")]
    Malformed { path: String, reason: String },
    #[error("the kubeconfig sets no current-context; pass --context (known contexts: {known})")]
    NoCurrentContext { known: String },
    #[error("context \"{context}\" is not in the kubeconfig; known contexts: {known}")]
    UnknownContext { context: String, known: String },
    #[error("cannot use context \"{context}\": {reason}")]
    Config { context: String, reason: String },
    #[error(
        "cannot reach the API server of context \"{context}\" at {server}: {reason} (try `pooltop demo` for a simulated cluster)"
    )]
    Unreachable {
        context: String,
        server: String,
        reason: String,
    },
    #[error("the API server of context \"{context}\" at {server} refused pooltop: {reason}")]
    Refused {
        context: String,
        server: String,
        reason: String,
    },
}

/// The contexts of the merged kubeconfig, for `:ctx`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeContexts {
    /// In file order (first file first), each name once.
    pub names: Vec<String>,
    /// `current-context` of the merged kubeconfig (the first file that sets it).
    pub current: Option<String>,
}

/// Lists the contexts the same kubeconfig resolution as [`connect`] would see.
/// (`context` and `readonly` of the options are ignored).
pub fn contexts(options: &ConnectOptions) -> Result<KubeContexts, ConnectError> {
    let (config, _) = load_kubeconfig(options)?;
    Ok(KubeContexts {
        names: config.contexts.iter().map(|c| c.name.clone()).collect(),
        current: config.current_context.clone(),
    })
}

/// Resolves the kubeconfig and context, builds the client, and checks `/version`.
pub async fn connect(options: &ConnectOptions) -> Result<Connection, ConnectError> {
    let (kubeconfig, _) = load_kubeconfig(options)?;
    let known = || known_contexts(&kubeconfig);
    let context = match options
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
    {
        Some(context) if !context.is_empty() => context,
        _ => return Err(ConnectError::NoCurrentContext { known: known() }),
    };
    let Some(named) = kubeconfig.contexts.iter().find(|c| c.name == context) else {
        return Err(ConnectError::UnknownContext {
            context,
            known: known(),
        });
    };
    let server = named
        .context
        .as_ref()
        .and_then(|ctx| kubeconfig.clusters.iter().find(|c| c.name == ctx.cluster))
        .and_then(|cluster| cluster.cluster.as_ref())
        .and_then(|cluster| cluster.server.clone())
        .unwrap_or_default();

    let config_error = |reason: String| ConnectError::Config {
        context: context.clone(),
        reason,
    };
    let kube_options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube_options)
        .await
        .map_err(|e| config_error(one_line(&e.to_string())))?;
    // kube retries 429 (and 503) with backoff by default: an eviction blocked by a
    // PodDisruptionBudget would silently wait instead of being reported to the user.
    config.default_retry = false;
    let builder =
        ClientBuilder::try_from(config).map_err(|e| config_error(one_line(&e.to_string())))?;
    let client = if options.readonly {
        builder.with_layer(&ReadOnlyLayer).build()
    } else {
        builder.build()
    };

    let timeout = options.reach_timeout.unwrap_or(REACH_TIMEOUT);
    let server_version = check_version(&client, &context, &server, timeout).await?;
    Ok(Connection {
        client,
        source: Source {
            context,
            server,
            kind: options.source_kind,
            readonly: options.readonly,
            server_version: Some(server_version),
        },
    })
}

/// `GET /version`, bounded by `timeout`; returns `gitVersion`.
async fn check_version(
    client: &kube::Client,
    context: &str,
    server: &str,
    timeout: Duration,
) -> Result<String, ConnectError> {
    let unreachable = |reason: String| ConnectError::Unreachable {
        context: context.to_owned(),
        server: server.to_owned(),
        reason,
    };
    match tokio::time::timeout(timeout, client.apiserver_version()).await {
        Err(_) => Err(unreachable(format!(
            "no answer within {} s",
            timeout.as_secs_f64()
        ))),
        Ok(Ok(info)) => Ok(info.git_version),
        Ok(Err(kube::Error::Api(status))) => Err(ConnectError::Refused {
            context: context.to_owned(),
            server: server.to_owned(),
            reason: one_line(&format!("{} {}", status.code, status.message)),
        }),
        Ok(Err(error)) => Err(unreachable(one_line(&deepest_cause(&error)))),
    }
}

fn known_contexts(config: &Kubeconfig) -> String {
    if config.contexts.is_empty() {
        "none".to_owned()
    } else {
        config
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Collapses a multi-line message (YAML parse errors quote the offending lines) into one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Reads the kubeconfig files kubectl would read, merged; returns the files actually read.
fn load_kubeconfig(options: &ConnectOptions) -> Result<(Kubeconfig, Vec<PathBuf>), ConnectError> {
    if let Some(path) = &options.kubeconfig {
        return Ok((read_file(path)?, vec![path.clone()]));
    }
    let env = options
        .kubeconfig_env
        .clone()
        .or_else(|| std::env::var_os("KUBECONFIG"));
    let candidates = kubeconfig_candidates(env);
    let mut merged: Option<Kubeconfig> = None;
    let mut read = Vec::new();
    for path in &candidates {
        // client-go skips files of the KUBECONFIG list that do not exist.
        if !path.exists() {
            continue;
        }
        let next = read_file(path)?;
        merged = Some(match merged {
            None => next,
            Some(base) => merge_first_wins(base, next),
        });
        read.push(path.clone());
    }
    match merged {
        Some(config) => Ok((config, read)),
        None => Err(ConnectError::NoKubeconfig {
            looked: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The files in `KUBECONFIG` (empty entries and repeats dropped), else `~/.kube/config`.
fn kubeconfig_candidates(env: Option<OsString>) -> Vec<PathBuf> {
    if let Some(value) = env {
        let mut paths: Vec<PathBuf> = Vec::new();
        for path in std::env::split_paths(&value) {
            if !path.as_os_str().is_empty() && !paths.contains(&path) {
                paths.push(path);
            }
        }
        if !paths.is_empty() {
            return paths;
        }
    }
    directories::BaseDirs::new()
        .map(|dirs| vec![dirs.home_dir().join(".kube").join("config")])
        .unwrap_or_default()
}

fn read_file(path: &Path) -> Result<Kubeconfig, ConnectError> {
    Kubeconfig::read_from(path).map_err(|error| match error {
        KubeconfigError::ReadConfig(source, _) => ConnectError::Unreadable {
            path: path.display().to_string(),
            reason: source.to_string(),
        },
        KubeconfigError::Parse(parse) => ConnectError::Malformed {
            path: path.display().to_string(),
            reason: one_line(&parse.to_string()),
        },
        other => ConnectError::Malformed {
            path: path.display().to_string(),
            reason: one_line(&other.to_string()),
        },
    })
}

/// kubectl's merge: the first file to define a context, cluster, user or `current-context`
/// wins, and later files never change it. kube's own `merge` also refuses files whose `kind` or
/// `apiVersion` differ, which kubectl tolerates, so those are aligned first.
fn merge_first_wins(base: Kubeconfig, mut next: Kubeconfig) -> Kubeconfig {
    if base.kind.is_some() {
        next.kind.clone_from(&base.kind);
    }
    if base.api_version.is_some() {
        next.api_version.clone_from(&base.api_version);
    }
    let fallback = base.clone();
    // With kind and apiVersion aligned the merge cannot fail; keep the first file if it did.
    base.merge(next).unwrap_or(fallback)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Kubeconfig {
        Kubeconfig::from_yaml(yaml).unwrap()
    }

    const FIRST: &str = "
apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: shared
  cluster: {server: 'https://first:6443'}
contexts:
- name: prod
  context: {cluster: shared, user: alice}
users:
- name: alice
  user: {token: a}
";
    const SECOND: &str = "
current-context: dev
clusters:
- name: shared
  cluster: {server: 'https://second:6443'}
- name: dev-cluster
  cluster: {server: 'https://dev:6443'}
contexts:
- name: prod
  context: {cluster: dev-cluster, user: bob}
- name: dev
  context: {cluster: dev-cluster, user: bob}
users:
- name: bob
  user: {token: b}
";

    #[test]
    fn the_first_file_wins_for_contexts_clusters_and_current_context() {
        let merged = merge_first_wins(config(FIRST), config(SECOND));
        assert_eq!(merged.current_context.as_deref(), Some("prod"));
        let names: Vec<_> = merged.contexts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["prod", "dev"]);
        let prod = merged.contexts[0].context.as_ref().unwrap();
        assert_eq!(prod.cluster, "shared");
        let shared = merged.clusters.iter().find(|c| c.name == "shared").unwrap();
        assert_eq!(
            shared.cluster.as_ref().unwrap().server.as_deref(),
            Some("https://first:6443")
        );
    }

    #[test]
    fn files_with_different_api_version_still_merge() {
        let other = "apiVersion: v2\nkind: Config\ncontexts:\n- name: x\n  context: {cluster: c}\n";
        let merged = merge_first_wins(config(FIRST), config(other));
        assert_eq!(merged.contexts.len(), 2);
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\n\nc"), "a | b | c");
    }
}

//! The user's settings in `$XDG_CONFIG_HOME/pooltop/config.toml`: theme, pool label rules, key
//! overrides, read-only contexts. Unknown keys are warned about, not fatal; a file that is not
//! TOML at all is a one-line error naming it.
//!
//! ```toml
//! theme = "dark"
//! mouse = false
//! readonly_contexts = ["prod-westeurope"]
//! [pools]
//! label = "example.com/pool"
//! [keys]
//! quit = "x"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::pools::PoolRules;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Config {
    pub theme: Option<String>,
    pub mouse: bool,
    pub readonly_contexts: Vec<String>,
    pub pools: PoolRules,
    pub keys: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
}

const KNOWN: [&str; 5] = ["theme", "mouse", "readonly_contexts", "pools", "keys"];

/// `$XDG_CONFIG_HOME/pooltop` (or the platform's equivalent).
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "pooltop").map(|dirs| dirs.config_dir().to_path_buf())
}

/// Reads the config file; a missing file is the default config. Returns warnings for keys it
/// does not know.
pub fn load(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Ok((Config::default(), Vec::new()))
        }
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

pub fn parse(text: &str) -> Result<(Config, Vec<String>), String> {
    let one_line = |err: &dyn std::fmt::Display| {
        err.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let table: toml::Table = toml::from_str(text).map_err(|err| one_line(&err))?;
    let warnings = table
        .keys()
        .filter(|key| !KNOWN.contains(&key.as_str()))
        .map(|key| format!("config: unknown key \"{key}\" ignored"))
        .collect();
    let config: Config = toml::Value::Table(table)
        .try_into()
        .map_err(|err: toml::de::Error| one_line(&err))?;
    Ok((config, warnings))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_and_warns_about_unknown_keys() {
        let (config, warnings) = parse(
            "theme = \"light\"\ncolour = 3\nreadonly_contexts = [\"prod\"]\n[pools]\nlabel = \"x/pool\"\n[keys]\nquit = \"x\"\n",
        )
        .unwrap();
        assert_eq!(config.theme.as_deref(), Some("light"));
        assert_eq!(config.readonly_contexts, vec!["prod"]);
        assert_eq!(config.pools.label.as_deref(), Some("x/pool"));
        assert_eq!(config.keys["quit"], "x");
        assert_eq!(warnings, vec!["config: unknown key \"colour\" ignored"]);
    }

    #[test]
    fn bad_files_are_one_line_errors() {
        let err = parse("theme = ").unwrap_err();
        assert!(!err.contains('\n'), "{err}");
        let err = parse("mouse = \"yes\"").unwrap_err();
        assert!(!err.contains('\n'), "{err}");
        let (config, _) = load(Path::new("/nonexistent/pooltop.toml")).unwrap();
        assert_eq!(config, Config::default());
    }
}

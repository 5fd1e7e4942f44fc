//! Tracing to a log file, never to the terminal: the console owns the terminal, and the
//! simulator's stdout is for the lines scripts read (its URL). The file lives in the XDG state
//! directory unless a path is given.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("cannot create the log directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the log file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("no home directory to keep state in; pass --log-file")]
    NoStateDir,
}

/// The XDG state directory for pooltop (`~/.local/state/pooltop`).
pub fn state_dir() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "pooltop")?;
    Some(
        dirs.state_dir()
            .map_or_else(|| dirs.data_local_dir().to_path_buf(), Path::to_path_buf),
    )
}

/// Installs the file logger; keep the guard alive until exit so buffered lines are flushed.
pub fn init(log_file: Option<&Path>) -> Result<(WorkerGuard, PathBuf), LoggingError> {
    let path = match log_file {
        Some(path) => path.to_path_buf(),
        None => state_dir()
            .ok_or(LoggingError::NoStateDir)?
            .join("pooltop.log"),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| LoggingError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|source| LoggingError::File {
            path: path.display().to_string(),
            source,
        })?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_from_env("POOLTOP_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
    Ok((guard, path))
}

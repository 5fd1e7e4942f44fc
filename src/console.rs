//! The composition of the console (part of the binary, beside `main.rs`): read the config and
//! themes, connect through kubeconfig, start the snapshot feed, enter the terminal and run the
//! app loop; reconnect on `:ctx`. Also the headless `pooltop ipam`, which takes one complete
//! snapshot through the same feed.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio_util::sync::CancellationToken;

use pooltop::app::keymap::Keymap;
use pooltop::app::runtime::{self, Exit, Themes};
use pooltop::app::state::State;
use pooltop::cli::{ConnectArgs, ConsoleArgs, OutputFormat};
use pooltop::cluster::{self, ConnectOptions};
use pooltop::config;
use pooltop::model::SourceKind;
use pooltop::report::{IpamReportOptions, render_ipam_report};
use pooltop::term::TerminalGuard;
use pooltop::ui::Theme;

/// What the console connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Kubeconfig,
    /// The in-process simulator of `pooltop demo`.
    Simulated,
}

pub async fn run(connect: &ConnectArgs, console: &ConsoleArgs, target: Target) -> Result<()> {
    let config_path = match &console.config {
        Some(path) => Some(path.clone()),
        None => config::config_dir().map(|dir| dir.join("config.toml")),
    };
    let (config, mut warnings) = match &config_path {
        Some(path) => config::load(path)?,
        None => (config::Config::default(), Vec::new()),
    };
    let themes = load_themes(config_path.as_deref().and_then(Path::parent), &mut warnings);
    let wanted = console
        .theme
        .clone()
        .or_else(|| config.theme.clone())
        .unwrap_or_else(|| "dark".to_string());
    let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let themes: Themes = if no_colour {
        vec![("monochrome".to_string(), Theme::monochrome())]
    } else {
        if !themes.iter().any(|(name, _)| *name == wanted) {
            return Err(eyre!(
                "no theme named \"{wanted}\" (known: {})",
                themes
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        themes
    };
    let (keymap, key_warnings) = Keymap::default().with_overrides(&config.keys);
    warnings.extend(key_warnings);
    for warning in &warnings {
        tracing::warn!("{warning}");
    }

    let mut context = connect.context.clone();
    let mut guard: Option<TerminalGuard> = None;
    loop {
        let mut options = ConnectOptions {
            kubeconfig: connect.kubeconfig.clone(),
            context: context.clone(),
            readonly: connect.readonly,
            source_kind: match target {
                Target::Kubeconfig => SourceKind::Live,
                Target::Simulated => SourceKind::Simulated,
            },
            reach_timeout: (target == Target::Simulated).then_some(Duration::from_secs(30)),
            ..ConnectOptions::default()
        };
        let known = cluster::contexts(&options)?;
        let chosen = context
            .clone()
            .or(known.current.clone())
            .unwrap_or_default();
        if config.readonly_contexts.contains(&chosen) {
            options.readonly = true;
        }
        let connection = cluster::connect(&options).await?;
        let cancel = CancellationToken::new();
        let feed = cluster::spawn_feed(&connection, cancel.clone());
        let snapshot = feed.rx.borrow().clone();
        let mut state = State::new(snapshot, config.pools.clone(), keymap.clone());
        state.themes = themes.iter().map(|(name, _)| name.clone()).collect();
        state.theme = state.themes.iter().position(|n| *n == wanted).unwrap_or(0);
        state.contexts = known.names.clone();
        if !warnings.is_empty() {
            state.message = Some(warnings.join("; "));
        }
        let guard = match &mut guard {
            Some(guard) => guard,
            None => guard.insert(
                TerminalGuard::enter(console.mouse || config.mouse)
                    .wrap_err("cannot set up the terminal")?,
            ),
        };
        let writer: std::sync::Arc<dyn pooltop::ops::ClusterWriter> = std::sync::Arc::new(
            cluster::KubeWriter::new(&connection, cluster::AuditLog::default_location()),
        );
        let exit = runtime::run(guard, &mut state, &themes, feed.rx.clone(), writer).await;
        cancel.cancel();
        match exit.wrap_err("terminal")? {
            Exit::Quit => return Ok(()),
            Exit::SwitchContext(name) => context = Some(name),
        }
    }
}

/// Built-in themes, then the user's `themes/*.toml` beside the config file. A user theme that
/// does not parse is skipped with a warning naming the file.
fn load_themes(config_dir: Option<&Path>, warnings: &mut Vec<String>) -> Themes {
    let mut themes: Themes = pooltop::ui::theme::BUILT_IN
        .iter()
        .filter_map(|(name, _)| Theme::built_in(name).ok().map(|t| ((*name).to_string(), t)))
        .collect();
    let Some(dir) = config_dir.map(|d| d.join("themes")) else {
        return themes;
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return themes;
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| Theme::parse(&text, &stem).map_err(|e| e.to_string()))
        {
            Ok(theme) => {
                themes.retain(|(name, _)| *name != theme.name);
                themes.push((theme.name.clone(), theme));
            }
            Err(err) => warnings.push(format!("theme {}: {err}", path.display())),
        }
    }
    themes
}

/// `pooltop ipam`: one complete snapshot, the calicoctl-style report, exit 1 on errors.
pub async fn ipam(
    connect: &ConnectArgs,
    options: &IpamReportOptions,
    output: OutputFormat,
) -> Result<ExitCode> {
    let connection = cluster::connect(&ConnectOptions {
        kubeconfig: connect.kubeconfig.clone(),
        context: connect.context.clone(),
        readonly: true,
        ..ConnectOptions::default()
    })
    .await?;
    let cancel = CancellationToken::new();
    let feed = cluster::spawn_feed(&connection, cancel.clone());
    let mut rx = feed.rx.clone();
    let snapshot = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let snapshot = rx.borrow_and_update().clone();
            if snapshot.is_complete() {
                return Ok(snapshot);
            }
            if rx.changed().await.is_err() {
                return Err(eyre!("the snapshot feed stopped"));
            }
        }
    })
    .await
    .map_err(|_| eyre!("no complete snapshot of the cluster within 60 s"))??;
    cancel.cancel();
    let report = render_ipam_report(&snapshot, options);
    let text = match output {
        OutputFormat::Text => {
            if !report.findings_text.is_empty() {
                eprint!("{}", report.findings_text);
            }
            report.text
        }
        OutputFormat::Json => {
            serde_json::to_string_pretty(&report.json).wrap_err("encoding the report")? + "\n"
        }
    };
    // `pooltop ipam | head` closes the pipe early: that is the reader's choice, not an error
    // (print! would panic on it).
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(eyre!("writing the report: {err}"));
        }
        _ => {}
    }
    Ok(if report.has_errors {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

//! Composition root: parse the command line, install logging and error reporting, run the
//! chosen subcommand. Errors reach the user as one line and a non-zero exit.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use color_eyre::eyre::{Result, WrapErr};

use pooltop::cli::{Cli, Command};
use pooltop::sim::{self, SimConfig};

mod console;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .install()
    {
        eprintln!("pooltop: {err}");
    }
    let log = match pooltop::logging::init(cli.log_file.as_deref()) {
        Ok(log) => log,
        Err(err) => {
            eprintln!("pooltop: {err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("pooltop: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // Watch tasks may still be parked on sockets; do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    drop(log);
    match result {
        Ok(code) => code,
        Err(err) => {
            // One line: the error and its causes, outermost first.
            let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
            eprintln!("pooltop: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        None => {
            console::run(&cli.connect, &cli.console, console::Target::Kubeconfig).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Ipam {
            connect,
            show_blocks,
            show_borrowed,
            show_configuration,
            output,
        }) => {
            let options = pooltop::report::IpamReportOptions {
                show_blocks,
                show_borrowed,
                show_configuration,
            };
            console::ipam(&connect, &options, output).await
        }
        Some(Command::Sim {
            scenario,
            listen,
            kubeconfig,
            tls,
            speed,
        }) => {
            let path = match kubeconfig {
                Some(path) => path,
                None => pooltop::logging::state_dir()
                    .ok_or_else(|| {
                        color_eyre::eyre::eyre!("no state directory; pass --kubeconfig")
                    })?
                    .join("sim-kubeconfig.yaml"),
            };
            let config = SimConfig {
                listen,
                tls,
                scenario,
                kubeconfig_path: Some(path.clone()),
                clock: scaled_clock(speed),
                ..SimConfig::default()
            };
            serve(config, &format!("kubeconfig: {}", path.display())).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo {
            scenario,
            speed,
            no_console,
        }) => {
            let path = pooltop::logging::state_dir()
                .ok_or_else(|| color_eyre::eyre::eyre!("no state directory"))?
                .join("demo-kubeconfig.yaml");
            let config = SimConfig {
                scenario,
                kubeconfig_path: Some(path.clone()),
                clock: scaled_clock(speed),
                ..SimConfig::default()
            };
            if !no_console {
                let handle = sim::start(config)
                    .await
                    .wrap_err("starting the simulated cluster")?;
                let connect = pooltop::cli::ConnectArgs {
                    kubeconfig: Some(path),
                    context: Some("pooltop-sim".to_string()),
                    readonly: cli.connect.readonly,
                };
                let result = console::run(&connect, &cli.console, console::Target::Simulated).await;
                handle.stop().await;
                result?;
                return Ok(ExitCode::SUCCESS);
            }
            serve(
                config,
                &format!(
                    "kubeconfig: {}\ntry:        kubectl --kubeconfig {} get nodes",
                    path.display(),
                    path.display()
                ),
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Simulated time starting now and running `speed` times faster.
fn scaled_clock(speed: f64) -> std::sync::Arc<dyn pooltop::sim::clock::Clock> {
    std::sync::Arc::new(pooltop::sim::clock::ScaledClock::new(
        jiff::Timestamp::now(),
        speed,
    ))
}

/// Serves a simulator until Ctrl-C, SIGTERM or SIGHUP.
async fn serve(config: SimConfig, banner: &str) -> Result<()> {
    let scenario = config.scenario;
    let handle = sim::start(config)
        .await
        .wrap_err("starting the simulated cluster")?;
    // Scripts read the first line: the URL, printed only once the server accepts connections.
    // A script may close the pipe once it has the URL (`pooltop sim | head -1`): the server
    // goes on serving, so a failed write of the lines after it is ignored (println! would
    // panic).
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", handle.url).and_then(|()| out.flush());
    let _ = writeln!(
        out,
        "scenario:   {} ({})\n{banner}",
        scenario.name(),
        scenario.description()
    )
    .and_then(|()| out.flush());
    drop(out);
    wait_for_signal().await?;
    handle.stop().await;
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).wrap_err("installing the SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).wrap_err("installing the SIGHUP handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.wrap_err("waiting for Ctrl-C")?,
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
    Ok(())
}

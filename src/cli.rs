//! Command-line arguments: the subcommands and their flags, parsed by clap. Values are
//! validated here (addresses, scenario names) so that a bad flag is a one-line error before
//! anything starts.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::sim::scenario::Scenario;

#[derive(Debug, Parser)]
#[command(
    name = "pooltop",
    version,
    about = "Node pools, Calico rollouts and IPAM on hybrid Windows/Linux Kubernetes clusters"
)]
pub struct Cli {
    /// Where to write the log file (default: pooltop.log in the XDG state directory).
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    #[command(flatten)]
    pub connect: ConnectArgs,

    #[command(flatten)]
    pub console: ConsoleArgs,

    /// Without a subcommand, pooltop opens the console on the current kubeconfig context.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How to reach a cluster, as kubectl takes it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current-context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Never send a write request to the cluster.
    #[arg(long)]
    pub readonly: bool,
}

/// How the console looks.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConsoleArgs {
    /// Colour theme: dark, light, high-contrast, 16-colour, or a theme file's name in the
    /// config directory's themes/ (NO_COLOR turns colour off).
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Enable mouse capture (off by default so the terminal's own selection works).
    #[arg(long)]
    pub mouse: bool,
    /// Config file (default: $XDG_CONFIG_HOME/pooltop/config.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the console on the built-in simulated hybrid cluster (started in-process).
    Demo {
        /// Starting state of the simulated cluster.
        #[arg(long, default_value = "fresh", value_parser = parse_scenario)]
        scenario: Scenario,
        /// How many times faster than real time the simulated cluster runs.
        #[arg(long, default_value = "5", value_parser = parse_speed)]
        speed: f64,
        /// Only serve the simulated cluster and print how to reach it, without the console.
        #[arg(long)]
        no_console: bool,
    },
    /// Print Calico IPAM usage as `calicoctl ipam show` does; exit 1 on error findings.
    Ipam {
        #[command(flatten)]
        connect: ConnectArgs,
        /// Also list every block.
        #[arg(long)]
        show_blocks: bool,
        /// List addresses borrowed from other nodes' blocks.
        #[arg(long)]
        show_borrowed: bool,
        /// Print the effective IPAM configuration.
        #[arg(long)]
        show_configuration: bool,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: OutputFormat,
    },
    /// Serve the simulated cluster on loopback until interrupted, writing a kubeconfig for it.
    Sim {
        /// Starting state of the simulated cluster.
        #[arg(long, default_value = "fresh", value_parser = parse_scenario)]
        scenario: Scenario,
        /// Loopback address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0", value_parser = parse_loopback)]
        listen: SocketAddr,
        /// Where to write the kubeconfig (default: sim-kubeconfig.yaml in the XDG state directory).
        #[arg(long, value_name = "PATH")]
        kubeconfig: Option<PathBuf>,
        /// Serve HTTPS with a fresh CA; the kubeconfig carries the CA and bearer tokens.
        #[arg(long)]
        tls: bool,
        /// How many times faster than real time the simulated cluster runs (image pulls,
        /// start-up delays, back-offs); 1 is real time.
        #[arg(long, default_value = "1", value_parser = parse_speed)]
        speed: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

fn parse_scenario(name: &str) -> Result<Scenario, String> {
    Scenario::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
        format!("unknown scenario \"{name}\" (known: {})", names.join(", "))
    })
}

fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(speed) if speed.is_finite() && (0.1..=1000.0).contains(&speed) => Ok(speed),
        _ => Err(format!("\"{text}\" is not a speed between 0.1 and 1000")),
    }
}

fn parse_loopback(text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| format!("\"{text}\" is not an address like 127.0.0.1:6443"))?;
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(format!(
            "{addr} is not a loopback address; the simulator only listens on 127.0.0.0/8 or ::1"
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sim_flags_parse() {
        let cli = Cli::try_parse_from([
            "pooltop",
            "sim",
            "--scenario",
            "large",
            "--listen",
            "127.0.0.1:6443",
            "--tls",
        ])
        .unwrap();
        let Command::Sim {
            scenario,
            listen,
            tls,
            ..
        } = cli.command.unwrap()
        else {
            panic!("not sim")
        };
        assert_eq!(scenario, Scenario::Large);
        assert_eq!(listen.port(), 6443);
        assert!(tls);
    }

    #[test]
    fn bad_values_are_one_line_errors() {
        let err = Cli::try_parse_from(["pooltop", "sim", "--listen", "10.0.0.1:80"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a loopback address"), "{err}");
        let err = Cli::try_parse_from(["pooltop", "demo", "--scenario", "nope"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown scenario \"nope\""), "{err}");
    }
}

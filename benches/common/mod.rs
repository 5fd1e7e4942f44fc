//! What the benchmarks share: a `pooltop sim` process of the release build serving a scenario
//! on loopback, the memory of a process from `/proc`, the real kubectl against it, and how a
//! list of samples is summarised.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// A simulator process; killed when dropped.
pub struct Sim {
    pub child: Child,
    pub url: String,
    pub kubeconfig: PathBuf,
    /// From spawning the process to its first stdout line (it prints its URL once the
    /// scenario is loaded and it accepts connections).
    pub startup: Duration,
    /// Kept open: the simulator prints more lines after its URL, and a closed pipe would
    /// make those writes fail.
    _stdout: BufReader<ChildStdout>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `pooltop sim --scenario SCENARIO` on 127.0.0.1 with its kubeconfig and log in `dir`.
pub fn start_sim(dir: &Path, scenario: &str, extra: &[&str]) -> Sim {
    let kubeconfig = dir.join("kubeconfig");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pooltop"))
        .args(["sim", "--scenario", scenario, "--listen", "127.0.0.1:0"])
        .args(extra)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--log-file")
        .arg(dir.join("sim.log"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("pooltop sim starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    stdout.read_line(&mut url).unwrap();
    assert!(
        !url.trim().is_empty(),
        "pooltop sim exited before serving; see {}",
        dir.join("sim.log").display()
    );
    Sim {
        child,
        url: url.trim().to_string(),
        kubeconfig,
        startup: started.elapsed(),
        _stdout: stdout,
    }
}

/// Peak (`VmHWM`) and current (`VmRSS`) resident memory of a process, in MiB.
pub fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// `kubectl get nodes -o json` against the simulator: wall time and the number of nodes.
/// `cache` names kubectl's discovery cache directory (a new name = a cold cache).
pub fn kubectl_get_nodes(kubeconfig: &Path, cache: &Path) -> (Duration, usize) {
    let started = Instant::now();
    let output = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .args(["get", "nodes", "-o", "json"])
        .output()
        .expect("kubectl runs");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    (elapsed, list["items"].as_array().map_or(0, Vec::len))
}

/// Median, 99th percentile, min and max of the samples, in milliseconds.
pub fn summary(samples: &[Duration]) -> String {
    if samples.is_empty() {
        return "no samples".to_string();
    }
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let p99 = ms[(ms.len() * 99 / 100).min(ms.len() - 1)];
    format!(
        "median {:>8.2} ms  p99 {:>8.2} ms  min {:>8.2} ms  max {:>8.2} ms  (n={})",
        ms[ms.len() / 2],
        p99,
        ms[0],
        ms[ms.len() - 1],
        ms.len()
    )
}

/// The console's connection to the simulator, through its kubeconfig as a user's would be.
pub async fn connect(kubeconfig: &Path) -> pooltop::cluster::Connection {
    pooltop::cluster::connect(&pooltop::cluster::ConnectOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        reach_timeout: Some(Duration::from_secs(60)),
        ..pooltop::cluster::ConnectOptions::default()
    })
    .await
    .unwrap()
}

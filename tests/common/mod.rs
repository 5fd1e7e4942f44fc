//! Shared test harness: a simulator on 127.0.0.1:0, a real `kube::Client` built from the
//! kubeconfig it writes (the same path a user's kubeconfig takes), and the real kubectl.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use pooltop::sim::controllers::Controllers;
use pooltop::sim::scenario::Scenario;
use pooltop::sim::store::StoreConfig;
use pooltop::sim::{self, SimConfig, SimHandle};

/// The longest any one kubectl run may take before the test fails (and kills it).
pub const KUBECTL_LIMIT: Duration = Duration::from_secs(60);

/// A running simulator plus where its kubeconfig lives.
pub struct TestCluster {
    pub handle: SimHandle,
    pub kubeconfig: PathBuf,
    pub dir: tempfile::TempDir,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub scenario: Scenario,
    pub tls: bool,
    pub controllers: Controllers,
    pub store: StoreConfig,
    pub bookmark_interval: Duration,
    /// Simulated time runs this many times faster than real time.
    pub speed: f64,
    /// Time stands still at `clock::FIXED_START` except while the scenario converges (and
    /// `speed` is ignored): objects come out byte for byte the same every run.
    pub frozen: bool,
    /// Where simulated time starts (with `frozen`, at `clock::FIXED_START` anyway).
    pub start_time: Option<jiff::Timestamp>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            scenario: Scenario::Fresh,
            tls: false,
            controllers: Controllers::All,
            store: StoreConfig::default(),
            bookmark_interval: Duration::from_millis(200),
            speed: 1.0,
            frozen: false,
            start_time: None,
        }
    }
}

impl Options {
    /// A cluster for tests of the API server itself: nothing but the node-side finishing of
    /// graceful pod deletions runs, so every status is the test's own.
    pub fn api_only() -> Self {
        Self {
            controllers: Controllers::TerminationsOnly,
            ..Self::default()
        }
    }
}

pub async fn start(options: Options) -> TestCluster {
    // POOLTOP_TEST_LOG=pooltop=debug shows the simulator's traces in a failing test's output.
    if let Ok(filter) = std::env::var("POOLTOP_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(filter)
            .try_init();
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let config = SimConfig {
        tls: options.tls,
        scenario: options.scenario,
        kubeconfig_path: Some(kubeconfig.clone()),
        store: options.store,
        bookmark_interval: options.bookmark_interval,
        controllers: options.controllers,
        clock: if options.frozen {
            std::sync::Arc::new(pooltop::sim::clock::ManualClock::new(
                pooltop::sim::clock::fixed_start(),
            ))
        } else {
            std::sync::Arc::new(pooltop::sim::clock::ScaledClock::new(
                jiff::Timestamp::now(),
                options.speed,
            ))
        },
        start_time: if options.frozen {
            Some(pooltop::sim::clock::fixed_start())
        } else {
            options.start_time
        },
        ..SimConfig::default()
    };
    let handle = sim::start(config).await.expect("simulator starts");
    TestCluster {
        handle,
        kubeconfig,
        dir,
    }
}

impl TestCluster {
    /// A client for a context of the written kubeconfig, built the way kube-rs reads any kubeconfig.
    pub async fn client_for(&self, context: &str) -> kube::Client {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).unwrap();
        let options = KubeConfigOptions {
            context: Some(context.to_string()),
            ..KubeConfigOptions::default()
        };
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .unwrap();
        // kube's default retry layer resends 429s with backoff for minutes; pooltop's client turns
        // it off so an eviction blocked by a budget is reported, not silently retried.
        config.default_retry = false;
        kube::Client::try_from(config).unwrap()
    }

    pub async fn client(&self) -> kube::Client {
        self.client_for(sim::kubeconfig::ADMIN_CONTEXT).await
    }

    /// Runs the machine's kubectl against this cluster with a private discovery cache.
    pub fn kubectl(&self, args: &[&str]) -> KubectlOutput {
        kubectl_at(&self.kubeconfig, &self.dir.path().join("kube-cache"), args)
    }

    /// kubectl as a child process with piped output, for commands that run until the test
    /// or the server ends them (`get -w`, `rollout status`). Killed if dropped while running.
    pub fn spawn_kubectl(&self, args: &[&str]) -> tokio::process::Child {
        let mut command = tokio::process::Command::from(kubectl_command(
            &self.kubeconfig,
            &self.dir.path().join("kube-cache"),
            args,
        ));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command.spawn().expect("kubectl starts")
    }

    /// Runs kubectl without blocking the runtime the simulator serves on (a blocking
    /// `kubectl` call on a current-thread runtime would wait for a server that cannot
    /// answer). Fails the test if kubectl is still running after `KUBECTL_LIMIT`.
    pub async fn run_kubectl(&self, args: &[&str]) -> KubectlOutput {
        let child = self.spawn_kubectl(args);
        let output = tokio::time::timeout(KUBECTL_LIMIT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} still running after {KUBECTL_LIMIT:?}"))
            .expect("kubectl runs");
        KubectlOutput::from(output)
    }

    pub async fn stop(self) {
        self.handle.stop().await;
    }
}

pub struct KubectlOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl KubectlOutput {
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "kubectl failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }
}

/// The machine's kubectl pointed at a kubeconfig, with a private discovery cache and a
/// per-request timeout; the caller adds the command's arguments.
pub fn kubectl_command(kubeconfig: &Path, cache: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("kubectl");
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .arg("--request-timeout=20s")
        .args(args)
        .env_remove("KUBECONFIG");
    command
}

pub fn kubectl_at(kubeconfig: &Path, cache: &Path, args: &[&str]) -> KubectlOutput {
    let output = kubectl_command(kubeconfig, cache, args)
        .output()
        .expect("kubectl runs");
    KubectlOutput::from(output)
}

impl From<std::process::Output> for KubectlOutput {
    fn from(output: std::process::Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Polls `check` until it returns `Some`, failing the test after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

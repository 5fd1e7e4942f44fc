//! Starting and stopping a simulated cluster: bind a loopback port (0 picks one), optionally
//! wrap connections in TLS, load a scenario into a fresh store, start the controllers and
//! serve until told to stop. The same API serves `pooltop sim`, `pooltop demo`, tests and
//! benchmarks; a stop ends every watch, closes connections and joins every task.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::auth::Authenticator;
use super::clock::{Clock, SystemClock};
use super::controllers::{self, Controllers};
use super::http::ApiServer;
use super::kubeconfig::{self, KubeconfigSpec};
use super::scenario::{self, Scenario};
use super::store::{Store, StoreConfig};
use super::tls;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the simulator only listens on loopback addresses, not {0}")]
    NotLoopback(SocketAddr),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Kubeconfig(#[from] kubeconfig::KubeconfigError),
    #[error("loading scenario {name}: {message}")]
    Scenario { name: String, message: String },
}

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    pub tls: bool,
    pub scenario: Scenario,
    /// Where to write the kubeconfig; `None` keeps it in memory only.
    pub kubeconfig_path: Option<PathBuf>,
    pub clock: Arc<dyn Clock>,
    pub store: StoreConfig,
    /// How often idle watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// Which controllers make the cluster behave.
    pub controllers: Controllers,
    /// Sets the clock to this instant before the scenario loads, so timestamps do not depend
    /// on the day (`clock::fixed_start()` suits snapshot tests). With a `ManualClock` time
    /// then moves only while the scenario converges and when the test says so.
    pub start_time: Option<jiff::Timestamp>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            scenario: Scenario::default(),
            kubeconfig_path: None,
            clock: Arc::new(SystemClock),
            store: StoreConfig::default(),
            bookmark_interval: Duration::from_secs(10),
            controllers: Controllers::All,
            start_time: None,
        }
    }
}

/// A running simulator.
#[derive(Debug)]
pub struct SimHandle {
    pub url: String,
    pub addr: SocketAddr,
    pub kubeconfig_yaml: String,
    pub kubeconfig_path: Option<PathBuf>,
    pub admin_token: String,
    pub viewer_token: String,
    /// The store, for tests and benchmarks that inspect state without going over HTTP.
    pub store: Arc<Store>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl SimHandle {
    /// Stops serving, ends watches and waits for every task.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {
            tracing::debug!(left = self.tasks.len(), "simulator task finished");
        }
    }

    /// Waits until the simulator stops for another reason (it does not on its own).
    pub async fn wait(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// A token that stops the simulator when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Starts a simulator and returns once it is ready to serve.
pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
    if !config.listen.ip().is_loopback() {
        return Err(SimError::NotLoopback(config.listen));
    }
    if let Some(at) = config.start_time {
        config.clock.start_at(at);
    }
    let store = Arc::new(Store::new(Arc::clone(&config.clock), config.store.clone()));
    scenario::load(&store, &config.scenario).map_err(|e| SimError::Scenario {
        name: config.scenario.name().to_string(),
        message: e.to_string(),
    })?;

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: config.listen,
        source,
    })?;
    let server_tls = if config.tls {
        Some(tls::generate()?)
    } else {
        None
    };
    let scheme = if server_tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{addr}");

    let admin_token = uuid::Uuid::new_v4().simple().to_string();
    let viewer_token = uuid::Uuid::new_v4().simple().to_string();
    let auth = Authenticator::new(&admin_token, &viewer_token, server_tls.is_some());
    let api = Arc::new(ApiServer::new(
        Arc::clone(&store),
        auth,
        addr.to_string(),
        config.bookmark_interval,
    ));

    let kubeconfig_yaml = kubeconfig::render(&KubeconfigSpec {
        server_url: &url,
        ca_pem: server_tls.as_ref().map(|t| t.ca_pem.as_str()),
        admin_token: &admin_token,
        viewer_token: &viewer_token,
    })?;
    if let Some(path) = &config.kubeconfig_path {
        kubeconfig::write(path, &kubeconfig_yaml)?;
    }

    let shutdown = store.shutdown.clone();
    let mut tasks = JoinSet::new();
    controllers::spawn(config.controllers, &store, &mut tasks);
    if config.controllers == Controllers::All {
        converge(&store, &config.scenario).await?;
    }
    let acceptor = server_tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
    tasks.spawn(serve(listener, api, acceptor, shutdown.clone()));
    tracing::info!(%url, scenario = config.scenario.name(), "simulated cluster serving");
    Ok(SimHandle {
        url,
        addr,
        kubeconfig_yaml,
        kubeconfig_path: config.kubeconfig_path,
        admin_token,
        viewer_token,
        store,
        shutdown,
        tasks,
    })
}

/// Simulated speed while a scenario converges before serving.
const CONVERGE_SPEED: f64 = 300.0;
/// Real time a scenario may take to converge.
const CONVERGE_LIMIT: Duration = Duration::from_secs(120);

/// Lets the controllers play a scenario's script, in fast simulated time, before anyone
/// connects; then time runs at the configured speed again. Clocks that only move when told
/// to are moved on as fast as a scaled clock would run.
async fn converge(store: &Store, scenario: &Scenario) -> Result<(), SimError> {
    let script = scenario.script();
    if script.is_empty() {
        return Ok(());
    }
    let speed = store.clock.speed();
    let fast = speed.max(CONVERGE_SPEED);
    store.clock.set_speed(fast);
    store.set_converging(true);
    let started = std::time::Instant::now();
    let last = script.len() - 1;
    let mut result = Ok(());
    'stages: for (index, stage) in script.into_iter().enumerate() {
        loop {
            if (stage.until)(store) {
                if index < last {
                    break;
                }
                // The check read what the controllers had written, up to a tick behind the
                // fast clock; at the normal speed, once they caught up, it must still hold,
                // so the first client sees the promised state.
                store.clock.set_speed(speed);
                tokio::time::sleep(CATCH_UP).await;
                if (stage.until)(store) {
                    break;
                }
                store.clock.set_speed(fast);
            }
            if started.elapsed() > CONVERGE_LIMIT {
                result = Err(SimError::Scenario {
                    name: scenario.name().to_string(),
                    message: format!("did not settle within {} s", CONVERGE_LIMIT.as_secs()),
                });
                break 'stages;
            }
            store.clock.nudge(converge_step());
            tokio::time::sleep(CONVERGE_POLL).await;
        }
        tracing::info!(
            scenario = scenario.name(),
            stage = index + 1,
            seconds = started.elapsed().as_secs_f64(),
            "scenario stage reached"
        );
        if let Some(then) = stage.then {
            then(store);
        }
    }
    store.set_converging(false);
    store.clock.set_speed(speed);
    tracing::info!(
        scenario = scenario.name(),
        seconds = started.elapsed().as_secs_f64(),
        "scenario settled"
    );
    result
}

/// How often a converging scenario checks its stage.
const CONVERGE_POLL: Duration = Duration::from_millis(100);
/// Real time the controllers get to catch up before the last stage is checked again.
const CATCH_UP: Duration = Duration::from_millis(250);

/// What a clock that only moves when told to is moved on by per poll: as far as a clock at
/// `CONVERGE_SPEED` runs meanwhile.
fn converge_step() -> jiff::SignedDuration {
    let step = CONVERGE_POLL.mul_f64(CONVERGE_SPEED);
    jiff::SignedDuration::try_from(step).unwrap_or(jiff::SignedDuration::from_secs(30))
}

async fn serve(
    listener: TcpListener,
    api: Arc<ApiServer>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let api = Arc::clone(&api);
        let acceptor = acceptor.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls_stream) => serve_connection(tls_stream, api, shutdown).await,
                    Err(err) => tracing::debug!(%err, "TLS handshake failed"),
                },
                None => serve_connection(stream, api, shutdown).await,
            }
        });
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
    tracing::debug!(
        open = connections.len(),
        "listener closed; waiting for connections"
    );
    while connections.join_next().await.is_some() {}
    tracing::debug!("all connections closed");
}

async fn serve_connection<S>(stream: S, api: Arc<ApiServer>, shutdown: CancellationToken)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = tower::service_fn(move |request: Request<hyper::body::Incoming>| {
        let api = Arc::clone(&api);
        async move { Ok::<_, std::convert::Infallible>(api.handle(request.map(Body::new)).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%err, "connection ended with an error");
            }
        }
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            // Watches end on the same token, so in-flight responses finish quickly.
            let _ = tokio::time::timeout(Duration::from_secs(2), connection.as_mut()).await;
        }
    }
}

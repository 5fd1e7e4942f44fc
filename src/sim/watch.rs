//! Watch streams: the store's change log turned into the newline-delimited JSON events a
//! kube-apiserver sends, with `resourceVersion` semantics, selector transitions (an object
//! leaving a selection is a DELETED to that watcher), bookmarks, `timeoutSeconds`, `410 Gone`
//! as an ERROR event, Table and metadata-only encodings, and a clean end on server shutdown.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::aggregated::{self, View};
use super::error::ApiError;
use super::resource::ResourceType;
use super::store::{EventType, ListOptions, Store, StoredObject, WatchEvent};
use super::table::TablePrinter;

/// How objects are written into events.
#[derive(Debug)]
pub enum Encoding {
    /// The whole object.
    Object,
    /// `meta.k8s.io/v1` Table with one row per event (`kubectl get -w`).
    Table(Box<TablePrinter>),
    /// `PartialObjectMetadata` (metadata-only watchers).
    Metadata,
    /// The aggregated v3 view of objects stored as v1.
    View(&'static View),
}

/// Everything a watch request asked for.
#[derive(Debug)]
pub struct WatchRequest {
    pub rt: Arc<ResourceType>,
    pub namespace: Option<String>,
    pub list: ListOptions,
    pub resource_version: Option<String>,
    pub allow_bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Option<Duration>,
    pub bookmark_interval: Duration,
    pub encoding: Encoding,
}

/// Where the stream starts.
enum Start {
    /// Synthetic ADDED events for the current state, then changes after `rv`.
    Initial {
        items: Vec<Arc<StoredObject>>,
        rv: u64,
        receiver: broadcast::Receiver<Arc<WatchEvent>>,
    },
    /// Logged changes after a client-given version, then live ones.
    From {
        backlog: Vec<Arc<WatchEvent>>,
        rv: u64,
        receiver: broadcast::Receiver<Arc<WatchEvent>>,
    },
    /// The requested version is gone: one ERROR event.
    Expired(ApiError),
}

/// Starts a watch; chunks arrive on the returned receiver until the stream ends.
pub fn start(store: Arc<Store>, req: WatchRequest) -> Result<mpsc::Receiver<Bytes>, ApiError> {
    let start = prepare(&store, &req)?;
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let mut stream = Stream {
            store,
            req,
            tx,
            last_rv: 0,
            first_table: true,
        };
        stream.run(start).await;
    });
    Ok(rx)
}

fn prepare(store: &Store, req: &WatchRequest) -> Result<Start, ApiError> {
    let requested = req
        .resource_version
        .as_deref()
        .filter(|rv| !rv.is_empty() && *rv != "0");
    let Some(requested) = requested.filter(|_| !req.send_initial_events) else {
        let (items, rv, receiver) =
            store.snapshot_and_follow(&req.rt, req.namespace.as_deref(), &req.list);
        return Ok(Start::Initial {
            items,
            rv,
            receiver,
        });
    };
    let from: u64 = requested.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "resourceVersion: Invalid value: \"{requested}\": must be a number"
        ))
    })?;
    match store.follow(&req.rt, from) {
        Ok((backlog, receiver)) => Ok(Start::From {
            backlog,
            rv: from,
            receiver,
        }),
        Err(e) if e.code == 410 => Ok(Start::Expired(e)),
        Err(e) => Err(e),
    }
}

struct Stream {
    store: Arc<Store>,
    req: WatchRequest,
    tx: mpsc::Sender<Bytes>,
    last_rv: u64,
    first_table: bool,
}

impl Stream {
    async fn run(&mut self, start: Start) {
        let mut receiver = match start {
            Start::Expired(err) => {
                let line = format!("{{\"type\":\"ERROR\",\"object\":{}}}\n", err.to_status());
                let _ = self.tx.send(Bytes::from(line)).await;
                return;
            }
            Start::Initial {
                items,
                rv,
                receiver,
            } => {
                self.last_rv = rv;
                for obj in items {
                    if !self.emit(EventType::Added, &obj).await {
                        return;
                    }
                }
                if self.req.send_initial_events
                    && self.req.allow_bookmarks
                    && !self.bookmark(rv, true).await
                {
                    return;
                }
                receiver
            }
            Start::From {
                backlog,
                rv,
                receiver,
            } => {
                self.last_rv = rv;
                for event in backlog {
                    if !self.deliver(&event).await {
                        return;
                    }
                }
                receiver
            }
        };
        self.follow(&mut receiver).await;
    }

    async fn follow(&mut self, receiver: &mut broadcast::Receiver<Arc<WatchEvent>>) {
        let deadline = self.req.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut ticker = tokio::time::interval(self.req.bookmark_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        let shutdown = self.store.shutdown.clone();
        loop {
            let timeout = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.tx.closed() => return,
                () = timeout => return,
                _ = ticker.tick(), if self.req.allow_bookmarks => {
                    if !self.progress_bookmark(receiver).await {
                        return;
                    }
                }
                next = receiver.recv() => match next {
                    Ok(event) => {
                        if !self.deliver(&event).await {
                            return;
                        }
                    }
                    // Lagged: a real apiserver drops watchers that fall this far behind; the client
                    // re-watches from its last version. Closed: the resource was unregistered.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    /// Sends a bookmark at the latest version, after delivering everything up to it.
    async fn progress_bookmark(
        &mut self,
        receiver: &mut broadcast::Receiver<Arc<WatchEvent>>,
    ) -> bool {
        let current = self.store.current_rv();
        loop {
            match receiver.try_recv() {
                Ok(event) => {
                    if !self.deliver(&event).await {
                        return false;
                    }
                }
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(_) => return false,
            }
        }
        let rv = current.max(self.last_rv);
        self.bookmark(rv, false).await
    }

    async fn bookmark(&mut self, rv: u64, initial_events_end: bool) -> bool {
        let (kind, api_version) = match self.req.encoding {
            Encoding::Metadata => (
                "PartialObjectMetadata".to_string(),
                "meta.k8s.io/v1".to_string(),
            ),
            Encoding::View(view) => (
                view.kind.to_string(),
                format!("{}/{}", aggregated::GROUP, aggregated::VERSION),
            ),
            _ => (self.req.rt.kind.clone(), self.req.rt.api_version()),
        };
        let mut metadata = json!({ "resourceVersion": rv.to_string() });
        if initial_events_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let object = json!({ "kind": kind, "apiVersion": api_version, "metadata": metadata });
        self.last_rv = self.last_rv.max(rv);
        self.send(format!("{{\"type\":\"BOOKMARK\",\"object\":{object}}}\n").into_bytes())
            .await
    }

    /// Filters one logged change for this watcher and sends what it sees of it.
    async fn deliver(&mut self, event: &WatchEvent) -> bool {
        if event.rv <= self.last_rv {
            return true;
        }
        self.last_rv = event.rv;
        let selected = |obj: &StoredObject| {
            self.req
                .namespace
                .as_deref()
                .is_none_or(|ns| obj.namespace == ns)
                && obj.matches(&self.req.list.labels, &self.req.list.fields)
        };
        let now = selected(&event.object);
        let before = event.previous.as_deref().is_some_and(selected);
        let kind = match (event.kind, before, now) {
            (EventType::Added, _, true) | (EventType::Modified, false, true) => EventType::Added,
            (EventType::Deleted, _, true)
            | (EventType::Modified | EventType::Deleted, true, false) => EventType::Deleted,
            (EventType::Modified, true, true) => EventType::Modified,
            _ => return true,
        };
        self.emit(kind, &event.object).await
    }

    async fn emit(&mut self, kind: EventType, obj: &StoredObject) -> bool {
        let mut line = Vec::with_capacity(obj.json.len() + 32);
        line.extend_from_slice(b"{\"type\":\"");
        line.extend_from_slice(kind.as_str().as_bytes());
        line.extend_from_slice(b"\",\"object\":");
        match &self.req.encoding {
            Encoding::Object => line.extend_from_slice(&obj.json),
            Encoding::Table(printer) => {
                let Ok(value) = obj.value() else { return true };
                let columns = if self.first_table {
                    printer.column_definitions()
                } else {
                    json!([])
                };
                self.first_table = false;
                let table = json!({
                    "kind": "Table",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": { "resourceVersion": obj.rv.to_string() },
                    "columnDefinitions": columns,
                    "rows": [printer.row(&value, self.store.clock.now())],
                });
                line.extend_from_slice(table.to_string().as_bytes());
            }
            Encoding::Metadata => {
                let Ok(value) = obj.value() else { return true };
                line.extend_from_slice(partial_metadata(&value).to_string().as_bytes());
            }
            Encoding::View(view) => {
                let Ok(value) = obj.value() else { return true };
                line.extend_from_slice(aggregated::to_v3(view, &value).to_string().as_bytes());
            }
        }
        line.extend_from_slice(b"}\n");
        self.send(line).await
    }

    async fn send(&mut self, chunk: Vec<u8>) -> bool {
        self.tx.send(Bytes::from(chunk)).await.is_ok()
    }
}

/// `PartialObjectMetadata` for an object: its metadata without managed fields.
pub fn partial_metadata(value: &Value) -> Value {
    let mut metadata = value.get("metadata").cloned().unwrap_or_else(|| json!({}));
    if let Some(map) = metadata.as_object_mut() {
        map.remove("managedFields");
    }
    json!({ "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata })
}

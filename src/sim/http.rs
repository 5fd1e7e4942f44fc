//! The HTTP face of the simulated cluster: Kubernetes API paths mapped onto the store, with
//! the content negotiation real clients rely on (aggregated discovery, Tables for kubectl,
//! metadata-only lists), query parameters, authentication and authorization, and every
//! failure answered as a `Status`. Routing is by hand because Kubernetes paths are ambiguous
//! (`/api/v1/namespaces/x/status` is the namespace's status, `/api/v1/namespaces/x/pods` a
//! collection) and only the registry can tell them apart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use super::auth::{self, Authenticator, User};
use super::discovery;
use super::error::{ApiError, ForbiddenRequest, success_status};
use super::openapi;
use super::protobuf;
use super::resource::{Origin, Registry, ResourceType};
use super::schema::FieldValidation;
use super::selector::{FieldSelector, LabelSelector, supported_fields};
use super::store::{ListOptions, Store, StoredObject};
use super::table::{TablePrinter, table};
use super::watch::{self, Encoding, WatchRequest, partial_metadata};
use super::write::{DeleteOptions, Deleted, Part, PatchType, Propagation, WriteOptions, Written};

mod aggregated;

const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Everything a request handler needs; shared by all connections.
#[derive(Debug)]
pub struct ApiServer {
    pub store: Arc<Store>,
    pub auth: Authenticator,
    /// `host:port`, for the legacy `/api` document.
    pub server_address: String,
    pub bookmark_interval: Duration,
    openapi_cache: Mutex<Option<OpenApiCache>>,
}

#[derive(Debug)]
struct OpenApiCache {
    generation: u64,
    index: Value,
    documents: HashMap<String, Value>,
}

/// What the `Accept` header asks objects to be rendered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Render {
    Object,
    Table,
    Metadata,
}

fn render_for(headers: &HeaderMap) -> Render {
    let accept = header_str(headers, header::ACCEPT);
    if accept.contains("as=Table") {
        Render::Table
    } else if accept.contains("as=PartialObjectMetadata") {
        Render::Metadata
    } else {
        Render::Object
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A parsed resource URL.
#[derive(Debug)]
struct Target {
    rt: Arc<ResourceType>,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

type Query = HashMap<String, String>;

impl ApiServer {
    pub fn new(
        store: Arc<Store>,
        auth: Authenticator,
        server_address: String,
        bookmark_interval: Duration,
    ) -> Self {
        Self {
            store,
            auth,
            server_address,
            bookmark_interval,
            openapi_cache: Mutex::new(None),
        }
    }

    /// Serves one request. Never fails: errors become `Status` responses.
    pub async fn handle(self: Arc<Self>, request: Request<Body>) -> Response<Body> {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let response = match self.route(request).await {
            Ok(response) => response,
            Err(err) => status_response(&err),
        };
        tracing::debug!(%method, %path, code = response.status().as_u16(), micros = started.elapsed().as_micros(), "api request");
        response
    }

    async fn route(&self, request: Request<Body>) -> Result<Response<Body>, ApiError> {
        let (parts, body) = request.into_parts();
        let user = self.auth.authenticate(
            parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        )?;
        let query: Query = parts
            .uri
            .query()
            .map(|q| {
                axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
                    .map(|axum::extract::Query(pairs)| pairs.into_iter().collect())
                    .map_err(|_| ApiError::bad_request(format!("invalid query string: {q}")))
            })
            .transpose()?
            .unwrap_or_default();
        let path = parts.uri.path().trim_end_matches('/');
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let registry = self.store.registry();
        let accept = header_str(&parts.headers, header::ACCEPT);
        match segments.as_slice() {
            ["version"] => Ok(json_response(StatusCode::OK, &discovery::version())),
            ["healthz" | "livez" | "readyz"] => Ok(text_response("ok")),
            ["api"] => Ok(match discovery::aggregated_version(accept) {
                Some(v) => aggregated_response(&discovery::aggregated(&registry, true, v), v),
                None => json_response(
                    StatusCode::OK,
                    &discovery::api_versions(&self.server_address),
                ),
            }),
            ["apis"] => Ok(match discovery::aggregated_version(accept) {
                Some(v) => aggregated_response(&discovery::aggregated(&registry, false, v), v),
                None => json_response(StatusCode::OK, &discovery::group_list(&registry)),
            }),
            ["api", version] => discovery::resource_list(&registry, "", version)
                .map(|doc| json_response(StatusCode::OK, &doc))
                .ok_or_else(ApiError::path_not_found),
            ["apis", group] => discovery::group(&registry, group)
                .map(|doc| json_response(StatusCode::OK, &doc))
                .ok_or_else(ApiError::path_not_found),
            ["apis", group, version] => discovery::resource_list(&registry, group, version)
                .map(|doc| json_response(StatusCode::OK, &doc))
                .ok_or_else(ApiError::path_not_found),
            ["openapi", "v3"] => Ok(json_response(
                StatusCode::OK,
                &self.openapi(&registry, None)?,
            )),
            ["openapi", "v3", rest @ ..] => Ok(json_response(
                StatusCode::OK,
                &self.openapi(&registry, Some(&rest.join("/")))?,
            )),
            ["api", version, rest @ ..] => {
                let target = resolve(&registry, "", version, rest)?;
                self.resource(parts.method, &parts.headers, &query, &user, target, body)
                    .await
            }
            ["apis", group, version, rest @ ..] => {
                let target = resolve(&registry, group, version, rest)?;
                self.resource(parts.method, &parts.headers, &query, &user, target, body)
                    .await
            }
            _ => Err(ApiError::path_not_found()),
        }
    }

    fn openapi(&self, registry: &Registry, gv_path: Option<&str>) -> Result<Value, ApiError> {
        let mut cache = self
            .openapi_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache
            .as_ref()
            .is_none_or(|c| c.generation != registry.generation)
        {
            *cache = Some(build_openapi(registry));
        }
        let Some(cache) = cache.as_ref() else {
            return Err(ApiError::internal("openapi cache missing"));
        };
        match gv_path {
            None => Ok(cache.index.clone()),
            Some(path) => cache
                .documents
                .get(path)
                .cloned()
                .ok_or_else(ApiError::path_not_found),
        }
    }

    async fn resource(
        &self,
        method: Method,
        headers: &HeaderMap,
        query: &Query,
        user: &User,
        target: Target,
        body: Body,
    ) -> Result<Response<Body>, ApiError> {
        let verb = verb_for(&method, &target, query)?;
        authorize(user, verb, &target)?;
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|e| ApiError::bad_request(format!("reading request body: {e}")))?;
        let render = render_for(headers);
        let body = decode_body(headers, body)?;
        if matches!(target.rt.origin, Origin::Aggregated { .. }) {
            let view = aggregated::ViewRequest {
                verb,
                rt: &target.rt,
                name: target.name.as_deref(),
                query,
                headers,
                body: &body,
                render,
            };
            return if verb == "watch" {
                self.watch_view(&target.rt, query)
            } else {
                self.aggregated(&view)
            };
        }
        let Target {
            rt,
            namespace,
            name,
            subresource,
        } = target;
        let ns = namespace.as_deref();
        let sub = subresource.as_deref();
        match (verb, name.as_deref()) {
            ("watch", _) => self.watch(rt, namespace.clone(), name.as_deref(), query, render),
            ("list", _) => self.list(&rt, ns, query, render),
            ("get", Some(name)) => {
                let stored = self.store.get(&rt, ns.unwrap_or_default(), name)?;
                Ok(self.object_response(StatusCode::OK, &rt, &stored, render, &[]))
            }
            ("create", Some(name)) if sub == Some("eviction") => {
                let eviction = parse_json(&body)?;
                let status = self.store.evict(
                    &rt,
                    ns.unwrap_or_default(),
                    name,
                    &eviction,
                    dry_run(query)?,
                )?;
                Ok(json_response(StatusCode::CREATED, &status))
            }
            ("create", None) => {
                let obj = parse_json(&body)?;
                let written = self
                    .store
                    .create(&rt, ns, obj, &write_options(query, headers)?)?;
                Ok(self.written_response(&rt, &written, render))
            }
            ("update", Some(name)) => {
                let obj = parse_json(&body)?;
                let written = self.store.update(
                    &rt,
                    ns.unwrap_or_default(),
                    name,
                    &obj,
                    part(sub),
                    &write_options(query, headers)?,
                )?;
                Ok(self.written_response(&rt, &written, render))
            }
            ("patch", Some(name)) => {
                let written = self.patch(
                    &rt,
                    ns.unwrap_or_default(),
                    name,
                    sub,
                    query,
                    headers,
                    &body,
                )?;
                Ok(self.written_response(&rt, &written, render))
            }
            ("delete", Some(name)) => {
                let opts = delete_options(query, &body)?;
                match self
                    .store
                    .delete(&rt, ns.unwrap_or_default(), name, &opts)?
                {
                    Deleted::Gone(obj) | Deleted::Pending(obj) => {
                        Ok(self.object_response(StatusCode::OK, &rt, &obj, Render::Object, &[]))
                    }
                }
            }
            ("deletecollection", None) => self.delete_collection(&rt, ns, query, &body),
            _ => Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource".to_string(),
            )),
        }
    }

    /// `DELETE` on a collection: answers with the list of what was deleted.
    fn delete_collection(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        query: &Query,
        body: &[u8],
    ) -> Result<Response<Body>, ApiError> {
        let opts = delete_options(query, body)?;
        let list = list_options(rt, query)?;
        let deleted = self.store.delete_collection(rt, namespace, &list, &opts)?;
        Ok(list_response(
            rt,
            &deleted,
            self.store.current_rv(),
            None,
            None,
        ))
    }

    /// `PATCH`: the content type names the patch type.
    #[allow(clippy::too_many_arguments)] // the parts of one request
    fn patch(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        subresource: Option<&str>,
        query: &Query,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Written, ApiError> {
        let content_type = header_str(headers, header::CONTENT_TYPE);
        let patch_type = PatchType::from_content_type(content_type).ok_or_else(|| {
            ApiError::unsupported_media_type(
                content_type,
                &[
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/apply-patch+yaml",
                    "application/strategic-merge-patch+json",
                ],
            )
        })?;
        let patch = if patch_type == PatchType::Apply {
            parse_yaml_or_json(body)?
        } else {
            parse_json(body)?
        };
        let opts = write_options(query, headers)?;
        self.store.patch(
            rt,
            namespace,
            name,
            patch_type,
            &patch,
            part(subresource),
            &opts,
        )
    }

    fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        query: &Query,
        render: Render,
    ) -> Result<Response<Body>, ApiError> {
        let opts = list_options(rt, query)?;
        check_list_resource_version(&self.store, query)?;
        let page = self.store.list(rt, namespace, &opts)?;
        match render {
            Render::Object => Ok(list_response(
                rt,
                &page.items,
                page.rv,
                page.continue_token.as_deref(),
                page.remaining,
            )),
            Render::Table => {
                let printer = printer_for(rt);
                let objects = page
                    .items
                    .iter()
                    .map(|o| o.value())
                    .collect::<Result<Vec<_>, _>>()?;
                let doc = table(
                    &printer,
                    &objects,
                    &page.rv.to_string(),
                    page.continue_token.as_deref(),
                    self.store.clock.now(),
                );
                Ok(typed_json_response(
                    StatusCode::OK,
                    &doc,
                    "application/json;as=Table;v=v1;g=meta.k8s.io",
                ))
            }
            Render::Metadata => {
                let items = page
                    .items
                    .iter()
                    .map(|o| o.value().map(|v| partial_metadata(&v)))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut metadata = json!({ "resourceVersion": page.rv.to_string() });
                if let Some(token) = &page.continue_token {
                    metadata["continue"] = json!(token);
                }
                if let Some(remaining) = page.remaining {
                    metadata["remainingItemCount"] = json!(remaining);
                }
                let doc = json!({ "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "items": items });
                Ok(typed_json_response(
                    StatusCode::OK,
                    &doc,
                    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
                ))
            }
        }
    }

    fn watch(
        &self,
        rt: Arc<ResourceType>,
        namespace: Option<String>,
        name: Option<&str>,
        query: &Query,
        render: Render,
    ) -> Result<Response<Body>, ApiError> {
        let content_type = match render {
            Render::Table => "application/json;as=Table;v=v1;g=meta.k8s.io",
            _ => "application/json",
        };
        let request = self.watch_request(rt, namespace, name, query, render)?;
        self.start_watch(request, content_type)
    }

    /// What a watch request's URL and query ask for.
    fn watch_request(
        &self,
        rt: Arc<ResourceType>,
        namespace: Option<String>,
        name: Option<&str>,
        query: &Query,
        render: Render,
    ) -> Result<WatchRequest, ApiError> {
        let mut list = list_options(&rt, query)?;
        if let Some(name) = name {
            // A watch on one object is a watch of the collection narrowed to its name.
            list.fields = FieldSelector::parse(&format!("metadata.name={name}"))
                .map_err(|e| ApiError::bad_request(e.0))?;
        }
        let timeout = query
            .get("timeoutSeconds")
            .map(|t| {
                t.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t}")))
            })
            .transpose()?
            .map(Duration::from_secs);
        let encoding = match render {
            Render::Object => Encoding::Object,
            Render::Table => Encoding::Table(Box::new(printer_for(&rt))),
            Render::Metadata => Encoding::Metadata,
        };
        Ok(WatchRequest {
            rt,
            namespace,
            list,
            resource_version: query.get("resourceVersion").cloned(),
            allow_bookmarks: flag(query, "allowWatchBookmarks"),
            send_initial_events: flag(query, "sendInitialEvents"),
            timeout,
            bookmark_interval: self.bookmark_interval,
            encoding,
        })
    }

    fn start_watch(
        &self,
        request: WatchRequest,
        content_type: &'static str,
    ) -> Result<Response<Body>, ApiError> {
        let mut receiver = watch::start(Arc::clone(&self.store), request)?;
        let stream = futures::stream::poll_fn(move |cx| {
            receiver
                .poll_recv(cx)
                .map(|chunk| chunk.map(Ok::<_, std::convert::Infallible>))
        });
        let mut response = Response::new(Body::from_stream(stream));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, private"),
        );
        Ok(response)
    }

    fn written_response(
        &self,
        rt: &ResourceType,
        written: &Written,
        render: Render,
    ) -> Response<Body> {
        let code = if written.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        self.object_response(code, rt, &written.object, render, &written.warnings)
    }

    fn object_response(
        &self,
        code: StatusCode,
        rt: &ResourceType,
        obj: &StoredObject,
        render: Render,
        warnings: &[String],
    ) -> Response<Body> {
        let mut response = match render {
            Render::Object => raw_json_response(code, obj.json.clone()),
            Render::Table | Render::Metadata => match obj.value() {
                Ok(value) if render == Render::Table => {
                    let printer = printer_for(rt);
                    let doc = table(
                        &printer,
                        &[value],
                        &obj.rv.to_string(),
                        None,
                        self.store.clock.now(),
                    );
                    typed_json_response(code, &doc, "application/json;as=Table;v=v1;g=meta.k8s.io")
                }
                Ok(value) => typed_json_response(
                    code,
                    &partial_metadata(&value),
                    "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
                ),
                Err(err) => status_response(&err),
            },
        };
        for warning in warnings {
            if let Ok(value) = HeaderValue::from_str(&format!("299 - {}", quote_warning(warning))) {
                response.headers_mut().append(header::WARNING, value);
            }
        }
        response
    }
}

/// The Table printer of a resource. A custom resource never borrows a builtin printer, even
/// when its kind is named like one.
fn printer_for(rt: &ResourceType) -> TablePrinter {
    if rt.is_builtin() {
        TablePrinter::for_kind(&rt.kind, None)
    } else {
        TablePrinter::for_kind(&rt.kind, Some(rt.printer_columns().unwrap_or(&Value::Null)))
    }
}

/// A Warning header's text is a quoted string; the helper may already have quoted it.
fn quote_warning(warning: &str) -> String {
    if warning.starts_with('"') {
        warning.to_string()
    } else {
        format!("\"{}\"", warning.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn build_openapi(registry: &Registry) -> OpenApiCache {
    let mut documents = HashMap::new();
    let mut entries = Vec::new();
    for (group, versions) in registry.groups() {
        for version in versions {
            let types = registry.group_version(&group, &version);
            let subresources: Vec<Vec<&str>> = types
                .iter()
                .map(|rt| {
                    let mut subs = Vec::new();
                    if rt.has_status {
                        subs.push("status");
                    }
                    if rt.has_eviction {
                        subs.push("eviction");
                    }
                    subs
                })
                .collect();
            let resources: Vec<openapi::GvResource<'_>> = types
                .iter()
                .zip(&subresources)
                .map(|(rt, subs)| openapi::GvResource {
                    group: &rt.group,
                    version: &rt.version,
                    kind: &rt.kind,
                    plural: &rt.plural,
                    namespaced: rt.namespaced,
                    subresources: subs,
                    schema: rt.schema(),
                })
                .collect();
            let doc = openapi::group_version_document(&group, &version, &resources);
            let path = if group.is_empty() {
                format!("api/{version}")
            } else {
                format!("apis/{group}/{version}")
            };
            entries.push((path.clone(), openapi::document_hash(&doc)));
            documents.insert(path, doc);
        }
    }
    OpenApiCache {
        generation: registry.generation,
        index: openapi::index(&entries),
        documents,
    }
}

/// Maps the segments after `/api/v1` or `/apis/G/V` onto a resource.
fn resolve(
    registry: &Registry,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Target, ApiError> {
    let lookup = |plural: &str| registry.get(group, version, plural);
    let namespaced_path = match rest {
        ["namespaces", _, plural, ..] => lookup(plural).filter(|rt| rt.namespaced),
        _ => None,
    };
    let (rt, namespace, tail) = if let Some(rt) = namespaced_path {
        (rt, Some(rest[1].to_string()), &rest[3..])
    } else {
        let plural = rest.first().ok_or_else(ApiError::path_not_found)?;
        let rt = lookup(plural).ok_or_else(ApiError::path_not_found)?;
        (rt, None, &rest[1..])
    };
    let (name, subresource) = match tail {
        [] => (None, None),
        [name] => (Some((*name).to_string()), None),
        [name, sub] => (Some((*name).to_string()), Some((*sub).to_string())),
        _ => return Err(ApiError::path_not_found()),
    };
    if let Some(sub) = subresource.as_deref() {
        let known = (sub == "status" && rt.has_status) || (sub == "eviction" && rt.has_eviction);
        if !known {
            return Err(ApiError::path_not_found());
        }
    }
    Ok(Target {
        rt,
        namespace,
        name,
        subresource,
    })
}

fn flag(query: &Query, key: &str) -> bool {
    query.get(key).is_some_and(|v| v == "true" || v == "1")
}

fn verb_for(method: &Method, target: &Target, query: &Query) -> Result<&'static str, ApiError> {
    let has_name = target.name.is_some();
    let verb = match *method {
        Method::GET if flag(query, "watch") => "watch",
        Method::GET if has_name => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if has_name => "delete",
        Method::DELETE => "deletecollection",
        _ => {
            return Err(ApiError::method_not_allowed(format!(
                "method {method} is not allowed"
            )));
        }
    };
    let allowed = match (verb, target.subresource.as_deref()) {
        ("create", Some("eviction")) => has_name,
        ("create", None) => !has_name,
        (_, Some("eviction")) => false,
        ("update" | "patch", _) => has_name,
        ("get" | "list" | "watch" | "delete" | "deletecollection", None)
        | ("get", Some("status")) => true,
        _ => false,
    };
    if allowed {
        Ok(verb)
    } else {
        Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ))
    }
}

fn authorize(user: &User, verb: &str, target: &Target) -> Result<(), ApiError> {
    if auth::allows(user.role, verb, &target.rt.group, &target.rt.plural) {
        return Ok(());
    }
    Err(ApiError::forbidden(&ForbiddenRequest {
        user: &user.name,
        verb,
        group: &target.rt.group,
        resource: &target.rt.plural,
        subresource: target.subresource.as_deref(),
        name: target.name.as_deref(),
        namespace: target.namespace.as_deref(),
    }))
}

fn part(subresource: Option<&str>) -> Part {
    if subresource == Some("status") {
        Part::Status
    } else {
        Part::Main
    }
}

/// The request body as JSON bytes. kubectl's typed clients send protobuf for imperative
/// creates; those kinds are decoded into the JSON a JSON client would have sent.
fn decode_body(headers: &HeaderMap, body: bytes::Bytes) -> Result<bytes::Bytes, ApiError> {
    if !header_str(headers, header::CONTENT_TYPE).starts_with(protobuf::CONTENT_TYPE) {
        return Ok(body);
    }
    let object = protobuf::decode(&body).map_err(|e| match e {
        protobuf::ProtobufError::Unsupported(message) => {
            let mut err = ApiError::bad_request(message);
            err.code = 415;
            err.reason = "UnsupportedMediaType";
            err
        }
        other => ApiError::bad_request(other.to_string()),
    })?;
    Ok(bytes::Bytes::from(object.to_string()))
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

fn parse_yaml_or_json(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return Ok(value);
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the apply body is not UTF-8"))?;
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

fn dry_run(query: &Query) -> Result<bool, ApiError> {
    match query.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
        ))),
    }
}

fn write_options(query: &Query, headers: &HeaderMap) -> Result<WriteOptions, ApiError> {
    let field_validation = match query.get("fieldValidation").map(String::as_str) {
        None | Some("" | "Warn") => FieldValidation::Warn,
        Some("Strict") => FieldValidation::Strict,
        Some("Ignore") => FieldValidation::Ignore,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            )));
        }
    };
    // Like the apiserver, name the writer after its user agent when it gives no manager.
    let field_manager = query.get("fieldManager").cloned().unwrap_or_else(|| {
        let agent = header_str(headers, header::USER_AGENT);
        agent
            .split('/')
            .next()
            .filter(|a| !a.is_empty())
            .unwrap_or("unknown")
            .to_string()
    });
    Ok(WriteOptions {
        dry_run: dry_run(query)?,
        field_manager,
        field_validation,
        force: flag(query, "force"),
    })
}

fn delete_options(query: &Query, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let from_body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_json(body)?
    };
    let grace = query
        .get("gracePeriodSeconds")
        .map(|g| {
            g.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds: {g}")))
        })
        .transpose()?
        .or_else(|| from_body.get("gracePeriodSeconds").and_then(Value::as_i64));
    let policy = query.get("propagationPolicy").cloned().or_else(|| {
        from_body
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let orphan = query
        .get("orphanDependents")
        .map(|v| v == "true")
        .or_else(|| from_body.get("orphanDependents").and_then(Value::as_bool));
    let propagation = match (policy.as_deref(), orphan) {
        (Some("Foreground"), _) => Propagation::Foreground,
        (Some("Orphan"), _) | (None, Some(true)) => Propagation::Orphan,
        (Some("Background") | None, _) => Propagation::Background,
        (Some(other), _) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let body_dry_run = from_body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        grace_period_seconds: grace,
        propagation,
        precondition_uid: from_body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        precondition_rv: from_body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        dry_run: dry_run(query)? || body_dry_run,
    })
}

fn list_options(rt: &ResourceType, query: &Query) -> Result<ListOptions, ApiError> {
    let labels = query
        .get("labelSelector")
        .map(|s| LabelSelector::parse(s))
        .transpose()
        .map_err(|e| ApiError::bad_request(e.0))?
        .unwrap_or_default();
    let fields = query
        .get("fieldSelector")
        .map(|s| FieldSelector::parse(s))
        .transpose()
        .map_err(|e| ApiError::bad_request(e.0))?
        .unwrap_or_default();
    let supported = if rt.is_builtin() {
        supported_fields(&rt.kind)
    } else {
        &[]
    };
    if let Some(bad) = fields
        .fields()
        .find(|f| !matches!(*f, "metadata.name" | "metadata.namespace") && !supported.contains(f))
    {
        return Err(ApiError::bad_request(format!(
            "field label not supported: {bad}"
        )));
    }
    let limit = query
        .get("limit")
        .map(|l| {
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))
        })
        .transpose()?;
    let continue_token = query.get("continue").filter(|c| !c.is_empty()).cloned();
    Ok(ListOptions {
        labels,
        fields,
        limit,
        continue_token,
    })
}

/// A list at a version the server cannot serve: 410 for an exact old version, 504 for the future.
fn check_list_resource_version(store: &Store, query: &Query) -> Result<(), ApiError> {
    let Some(rv) = query
        .get("resourceVersion")
        .filter(|rv| !rv.is_empty() && *rv != "0")
    else {
        return Ok(());
    };
    let requested: u64 = rv.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "resourceVersion: Invalid value: \"{rv}\": must be a number"
        ))
    })?;
    let current = store.current_rv();
    if requested > current {
        let mut err = ApiError::internal(format!(
            "Timeout: Too large resource version: {requested}, current: {current}"
        ));
        err.code = 504;
        err.reason = "Timeout";
        return Err(err);
    }
    if query.get("resourceVersionMatch").map(String::as_str) == Some("Exact")
        && requested != current
    {
        return Err(ApiError::expired(format!(
            "too old resource version: {requested} ({current})"
        )));
    }
    Ok(())
}

fn list_response(
    rt: &ResourceType,
    items: &[Arc<StoredObject>],
    rv: u64,
    continue_token: Option<&str>,
    remaining: Option<usize>,
) -> Response<Body> {
    let mut metadata = json!({ "resourceVersion": rv.to_string() });
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
    }
    if let Some(remaining) = remaining {
        metadata["remainingItemCount"] = json!(remaining);
    }
    let head = format!(
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{metadata},\"items\":[",
        rt.list_kind(),
        rt.api_version()
    );
    let size = head.len() + items.iter().map(|o| o.json.len() + 1).sum::<usize>() + 2;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(head.as_bytes());
    for (i, obj) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&obj.json);
    }
    out.extend_from_slice(b"]}");
    raw_json_response(StatusCode::OK, out.into())
}

fn raw_json_response(code: StatusCode, body: bytes::Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn typed_json_response(
    code: StatusCode,
    doc: &Value,
    content_type: &'static str,
) -> Response<Body> {
    let mut response = raw_json_response(code, doc.to_string().into());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json_response(code: StatusCode, doc: &Value) -> Response<Body> {
    raw_json_response(code, doc.to_string().into())
}

fn aggregated_response(doc: &Value, version: &str) -> Response<Body> {
    let content_type = if version == "v2" {
        discovery::AGGREGATED_V2
    } else {
        discovery::AGGREGATED_V2BETA1
    };
    typed_json_response(StatusCode::OK, doc, content_type)
}

fn text_response(text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The `Status` answer for an error.
pub fn status_response(err: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(code, &err.to_status());
    if let Some(seconds) = err.retry_after_seconds
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    if err.code == 401 {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"pooltop-sim\""),
        );
    }
    response
}

/// A success `Status` response (used by callers that answer with one).
pub fn success_response(code: u16) -> Response<Body> {
    json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        &success_status(code, None),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sim::auth::Role;

    fn target(registry: &Registry, group: &str, version: &str, rest: &[&str]) -> Target {
        resolve(registry, group, version, rest).unwrap()
    }

    #[test]
    fn namespace_paths_are_told_apart_by_the_registry() {
        let registry = Registry::with_builtins();
        let pods = target(
            &registry,
            "",
            "v1",
            &["namespaces", "default", "pods", "web-1", "eviction"],
        );
        assert_eq!(
            (
                pods.rt.plural.as_str(),
                pods.namespace.as_deref(),
                pods.subresource.as_deref()
            ),
            ("pods", Some("default"), Some("eviction"))
        );
        let ns_status = target(
            &registry,
            "",
            "v1",
            &["namespaces", "calico-system", "status"],
        );
        assert_eq!(
            (
                ns_status.rt.plural.as_str(),
                ns_status.name.as_deref(),
                ns_status.subresource.as_deref()
            ),
            ("namespaces", Some("calico-system"), Some("status"))
        );
        let all_pods = target(&registry, "", "v1", &["pods"]);
        assert!(all_pods.namespace.is_none() && all_pods.name.is_none());
        assert_eq!(
            resolve(&registry, "", "v1", &["nodes", "n1", "eviction"])
                .unwrap_err()
                .code,
            404
        );
        assert_eq!(
            resolve(&registry, "", "v1", &["widgets"]).unwrap_err().code,
            404
        );
    }

    #[test]
    fn verbs_follow_method_and_shape() {
        let registry = Registry::with_builtins();
        let coll = target(&registry, "", "v1", &["nodes"]);
        let mut query = Query::new();
        assert_eq!(verb_for(&Method::GET, &coll, &query).unwrap(), "list");
        query.insert("watch".into(), "true".into());
        assert_eq!(verb_for(&Method::GET, &coll, &query).unwrap(), "watch");
        assert_eq!(
            verb_for(&Method::DELETE, &coll, &Query::new()).unwrap(),
            "deletecollection"
        );
        assert_eq!(
            verb_for(&Method::PATCH, &coll, &Query::new())
                .unwrap_err()
                .code,
            405
        );
        let evict = target(
            &registry,
            "",
            "v1",
            &["namespaces", "default", "pods", "p", "eviction"],
        );
        assert_eq!(
            verb_for(&Method::POST, &evict, &Query::new()).unwrap(),
            "create"
        );
        assert_eq!(
            verb_for(&Method::GET, &evict, &Query::new())
                .unwrap_err()
                .code,
            405
        );
    }

    #[test]
    fn viewer_may_read_but_not_write() {
        let registry = Registry::with_builtins();
        let node = target(&registry, "", "v1", &["nodes", "n1"]);
        let viewer = User {
            name: "viewer".into(),
            role: Role::Viewer,
        };
        assert!(authorize(&viewer, "get", &node).is_ok());
        let err = authorize(&viewer, "patch", &node).unwrap_err();
        assert_eq!(err.code, 403);
        assert!(err.message.contains("cannot patch resource \"nodes\""));
    }

    #[test]
    fn delete_options_come_from_query_or_body() {
        let mut query = Query::new();
        query.insert("gracePeriodSeconds".into(), "0".into());
        let opts = delete_options(
            &query,
            br#"{"propagationPolicy":"Foreground","preconditions":{"uid":"u1"}}"#,
        )
        .unwrap();
        assert_eq!(opts.grace_period_seconds, Some(0));
        assert_eq!(opts.propagation, Propagation::Foreground);
        assert_eq!(opts.precondition_uid.as_deref(), Some("u1"));
        assert_eq!(
            delete_options(&Query::new(), b"{nope").unwrap_err().code,
            400
        );
    }
}

//! Requests on the aggregated `projectcalico.org/v3` views: every verb is carried out on the
//! `crd.projectcalico.org/v1` object that stores the view, converting on the way in and out,
//! as the Calico API server does through libcalico-go.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Response, StatusCode};
use serde_json::{Value, json};

use super::{
    ApiServer, Query, Render, header_str, json_response, list_options, parse_json,
    parse_yaml_or_json, write_options,
};
use crate::sim::aggregated::{self, View};
use crate::sim::error::ApiError;
use crate::sim::patch;
use crate::sim::resource::ResourceType;
use crate::sim::table::{TablePrinter, table};
use crate::sim::watch::Encoding;
use crate::sim::write::{DeleteOptions, Deleted, Part, PatchType, patch_error};

/// One request on a view.
pub(super) struct ViewRequest<'a> {
    pub verb: &'static str,
    pub rt: &'a ResourceType,
    pub name: Option<&'a str>,
    pub query: &'a Query,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub render: Render,
}

impl ApiServer {
    pub(super) fn aggregated(&self, req: &ViewRequest<'_>) -> Result<Response<Body>, ApiError> {
        let view = aggregated::view(&req.rt.plural).ok_or_else(ApiError::path_not_found)?;
        let storage = self
            .store
            .registry()
            .get(aggregated::STORAGE_GROUP, "v1", view.storage_plural)
            .ok_or_else(|| {
                ApiError::service_unavailable("the Calico API server's storage is not available")
            })?;
        if aggregated::is_write(req.verb) && view.read_only {
            return Err(ApiError::method_not_allowed(
                "Block affinity resources are read-only",
            ));
        }
        match (req.verb, req.name) {
            ("get", Some(name)) => {
                let v3 = aggregated::to_v3(view, &self.store.get(&storage, "", name)?.value()?);
                Ok(self.view_response(StatusCode::OK, view, &[v3], req.render, false))
            }
            ("list", _) => {
                let page = self
                    .store
                    .list(&storage, None, &list_options(&storage, req.query)?)?;
                let items = page
                    .items
                    .iter()
                    .map(|o| o.value().map(|v| aggregated::to_v3(view, &v)))
                    .collect::<Result<Vec<_>, _>>()?;
                if req.render == Render::Table {
                    return Ok(self.view_response(
                        StatusCode::OK,
                        view,
                        &items,
                        Render::Table,
                        true,
                    ));
                }
                let mut metadata = json!({"resourceVersion": page.rv.to_string()});
                if let Some(token) = page.continue_token {
                    metadata["continue"] = json!(token);
                }
                let list = json!({"kind": format!("{}List", view.kind), "apiVersion": v3_api_version(), "metadata": metadata, "items": items});
                Ok(json_response(StatusCode::OK, &list))
            }
            ("create", None) => {
                let v1 = aggregated::to_v1(view, &parse_json(req.body)?)?;
                let written = self.store.create(
                    &storage,
                    None,
                    v1,
                    &write_options(req.query, req.headers)?,
                )?;
                let v3 = aggregated::to_v3(view, &written.object.value()?);
                Ok(self.view_response(StatusCode::CREATED, view, &[v3], Render::Object, false))
            }
            ("update", Some(name)) => {
                let v1 = aggregated::to_v1(view, &parse_json(req.body)?)?;
                let written = self.store.update(
                    &storage,
                    "",
                    name,
                    &v1,
                    Part::Main,
                    &write_options(req.query, req.headers)?,
                )?;
                let v3 = aggregated::to_v3(view, &written.object.value()?);
                Ok(self.view_response(StatusCode::OK, view, &[v3], Render::Object, false))
            }
            ("patch", Some(name)) => self.patch_view(req, view, &storage, name),
            ("delete", Some(name)) => {
                let (Deleted::Gone(obj) | Deleted::Pending(obj)) =
                    self.store
                        .delete(&storage, "", name, &DeleteOptions::default())?;
                let v3 = aggregated::to_v3(view, &obj.value()?);
                Ok(self.view_response(StatusCode::OK, view, &[v3], Render::Object, false))
            }
            _ => Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            )),
        }
    }

    /// A patch is applied to the v3 form of the stored object, then written back as v1 with the
    /// version read as precondition, so concurrent writers conflict instead of overwriting.
    fn patch_view(
        &self,
        req: &ViewRequest<'_>,
        view: &'static View,
        storage: &Arc<ResourceType>,
        name: &str,
    ) -> Result<Response<Body>, ApiError> {
        let content_type = header_str(req.headers, axum::http::header::CONTENT_TYPE);
        let patch_type = PatchType::from_content_type(content_type).ok_or_else(|| {
            ApiError::unsupported_media_type(
                content_type,
                &[
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/apply-patch+yaml",
                ],
            )
        })?;
        let opts = write_options(req.query, req.headers)?;
        let body = if patch_type == PatchType::Apply {
            parse_yaml_or_json(req.body)?
        } else {
            parse_json(req.body)?
        };
        let current = match self.store.get(storage, "", name) {
            Ok(stored) => Some(aggregated::to_v3(view, &stored.value()?)),
            Err(e) if e.code == 404 && patch_type == PatchType::Apply => None,
            Err(e) => return Err(e),
        };
        let now = crate::sim::clock::rfc3339(self.store.clock.now());
        let mut target = current.clone().unwrap_or(Value::Null);
        let result = match patch_type {
            PatchType::Json => patch::json_patch(&mut target, &body),
            PatchType::Merge => patch::merge_patch(&mut target, &body),
            PatchType::Strategic => {
                return Err(ApiError::unsupported_media_type(
                    content_type,
                    &[
                        "application/json-patch+json",
                        "application/merge-patch+json",
                        "application/apply-patch+yaml",
                    ],
                ));
            }
            PatchType::Apply => patch::server_side_apply(
                current.as_ref(),
                &body,
                &opts.field_manager,
                opts.force,
                view.kind,
                false,
                &now,
            )
            .map(|applied| target = applied),
        };
        result.map_err(|e| patch_error(req.rt, name, e))?;
        target["metadata"]["name"] = json!(name);
        let v1 = aggregated::to_v1(view, &target)?;
        let written = if current.is_some() {
            self.store
                .update(storage, "", name, &v1, Part::Main, &opts)?
        } else {
            self.store.create(storage, None, v1, &opts)?
        };
        let v3 = aggregated::to_v3(view, &written.object.value()?);
        let code = if written.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(self.view_response(code, view, &[v3], Render::Object, false))
    }

    pub(super) fn watch_view(
        &self,
        rt: &ResourceType,
        query: &Query,
    ) -> Result<Response<Body>, ApiError> {
        let view = aggregated::view(&rt.plural).ok_or_else(ApiError::path_not_found)?;
        let storage = self
            .store
            .registry()
            .get(aggregated::STORAGE_GROUP, "v1", view.storage_plural)
            .ok_or_else(|| {
                ApiError::service_unavailable("the Calico API server's storage is not available")
            })?;
        let mut request = self.watch_request(storage, None, None, query, Render::Object)?;
        request.encoding = Encoding::View(view);
        self.start_watch(request, "application/json")
    }

    fn view_response(
        &self,
        code: StatusCode,
        view: &View,
        items: &[Value],
        render: Render,
        list: bool,
    ) -> Response<Body> {
        match render {
            Render::Table => {
                let printer = TablePrinter::for_kind(view.kind, Some(&Value::Null));
                let rv = items
                    .first()
                    .and_then(|v| v.pointer("/metadata/resourceVersion"))
                    .and_then(Value::as_str)
                    .unwrap_or("0")
                    .to_string();
                let doc = table(&printer, items, &rv, None, self.store.clock.now());
                super::typed_json_response(
                    code,
                    &doc,
                    "application/json;as=Table;v=v1;g=meta.k8s.io",
                )
            }
            _ if list => json_response(
                code,
                &json!({"kind": format!("{}List", view.kind), "apiVersion": v3_api_version(), "metadata": {}, "items": items}),
            ),
            _ => json_response(code, items.first().unwrap_or(&Value::Null)),
        }
    }
}

fn v3_api_version() -> String {
    format!("{}/{}", aggregated::GROUP, aggregated::VERSION)
}

//! Errors of the simulated API server, shaped as the Kubernetes `Status` objects a real
//! kube-apiserver sends: the HTTP code, the machine-readable `reason`, the human `message`
//! and `details`. Every failure inside `sim` ends up here; nothing else writes a Status.

use serde_json::{Value, json};

/// A failed API request, ready to be sent as a `Status` body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// Seconds the client should wait, for 429 and some 5xx answers.
    pub retry_after_seconds: Option<u32>,
}

/// Names a resource the way API error messages do: `nodes`, `ipamblocks.crd.projectcalico.org`.
#[derive(Debug, Clone, Copy)]
pub struct GroupResource<'a> {
    pub group: &'a str,
    pub resource: &'a str,
}

impl std::fmt::Display for GroupResource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after_seconds: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    fn named_details(gr: GroupResource<'_>, name: &str) -> Value {
        let mut details = json!({ "name": name, "kind": gr.resource });
        if !gr.group.is_empty() {
            details["group"] = json!(gr.group);
        }
        details
    }

    pub fn not_found(gr: GroupResource<'_>, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{gr} \"{name}\" not found"))
            .with_details(Self::named_details(gr, name))
    }

    /// The answer for a URL the server does not serve at all.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn already_exists(gr: GroupResource<'_>, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{gr} \"{name}\" already exists"),
        )
        .with_details(Self::named_details(gr, name))
    }

    /// Optimistic-concurrency failure: the client wrote from a stale `resourceVersion`.
    pub fn conflict(gr: GroupResource<'_>, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {gr} \"{name}\": {why}"),
        )
        .with_details(Self::named_details(gr, name))
    }

    pub fn stale_write(gr: GroupResource<'_>, name: &str) -> Self {
        Self::conflict(
            gr,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// Server-side apply conflicts, one cause per (manager, field). The manager is already
    /// named the way the apiserver prints it (`"hpa" using apps/v1`); `message` is the
    /// summary `patch::describe_conflicts` words from the same list.
    pub fn apply_conflicts(conflicts: &[(String, String)], message: String) -> Self {
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(manager, field)| {
                json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with {manager}"),
                    "field": field,
                })
            })
            .collect();
        Self::new(409, "Conflict", message).with_details(json!({ "causes": causes }))
    }

    /// 422 for a JSON patch whose operations cannot be applied (a failed `test`, a missing
    /// path). The apiserver keeps the reason to itself: it answers with its generic wording
    /// and empty details, which kubectl prints as "The request is invalid: …".
    pub fn json_patch_not_applicable() -> Self {
        Self::new(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
        )
        .with_details(json!({}))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 422 for an object that decoded but breaks the kind's rules.
    pub fn invalid(kind_group: &str, name: &str, message: String, causes: &Value) -> Self {
        Self::new(422, "Invalid", message).with_details(json!({
            "name": name,
            "kind": kind_group,
            "causes": causes,
        }))
    }

    /// 422 with a single field error, worded as the apiserver's field-error list.
    pub fn invalid_field(
        kind_group: &str,
        name: &str,
        field: &str,
        reason: &str,
        detail: &str,
    ) -> Self {
        let message = format!("{kind_group} \"{name}\" is invalid: {field}: {detail}");
        Self::invalid(
            kind_group,
            name,
            message,
            &json!([{ "reason": reason, "message": detail, "field": field }]),
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// RBAC denial, worded as the apiserver's authorizer does.
    pub fn forbidden(request: &ForbiddenRequest<'_>) -> Self {
        let ForbiddenRequest {
            user,
            verb,
            group,
            resource,
            subresource,
            name,
            namespace,
        } = *request;
        let gr = GroupResource { group, resource };
        let target = match name {
            Some(name) => format!("{gr} \"{name}\""),
            None => gr.to_string(),
        };
        let full_resource = match subresource {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.to_string(),
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        let message = format!(
            "{target} is forbidden: User \"{user}\" cannot {verb} resource \"{full_resource}\" in API group \"{group}\" {scope}"
        );
        let mut details = json!({ "kind": resource });
        if let Some(name) = name {
            details["name"] = json!(name);
        }
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        Self::new(403, "Forbidden", message).with_details(details)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Self {
        let _ = content_type;
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 410 for a resource version older than the server keeps.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_many_requests(
        message: impl Into<String>,
        causes: &Value,
        retry_after_seconds: u32,
    ) -> Self {
        let mut err = Self::new(429, "TooManyRequests", message)
            .with_details(json!({ "causes": causes, "retryAfterSeconds": retry_after_seconds }));
        err.retry_after_seconds = Some(retry_after_seconds);
        err
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// The `Status` object as it goes on the wire.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// Everything the authorizer's denial message names.
#[derive(Debug, Clone, Copy)]
pub struct ForbiddenRequest<'a> {
    pub user: &'a str,
    pub verb: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub subresource: Option<&'a str>,
    pub name: Option<&'a str>,
    pub namespace: Option<&'a str>,
}

/// A successful `Status` (deletes of some kinds, evictions).
pub fn success_status(code: u16, details: Option<Value>) -> Value {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": code,
    });
    if let Some(details) = details {
        status["details"] = details;
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: GroupResource<'static> = GroupResource {
        group: "",
        resource: "nodes",
    };

    #[test]
    fn not_found_reads_like_kubectl_prints_it() {
        let err = ApiError::not_found(NODES, "n9");
        assert_eq!(err.message, "nodes \"n9\" not found");
        let status = err.to_status();
        assert_eq!(status["code"], 404);
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["details"]["kind"], "nodes");
        let blocks = GroupResource {
            group: "crd.projectcalico.org",
            resource: "ipamblocks",
        };
        assert_eq!(
            ApiError::not_found(blocks, "b").message,
            "ipamblocks.crd.projectcalico.org \"b\" not found"
        );
    }

    #[test]
    fn forbidden_names_user_verb_and_scope() {
        let err = ApiError::forbidden(&ForbiddenRequest {
            user: "viewer",
            verb: "patch",
            group: "",
            resource: "nodes",
            subresource: None,
            name: Some("n1"),
            namespace: None,
        });
        assert_eq!(
            err.message,
            "nodes \"n1\" is forbidden: User \"viewer\" cannot patch resource \"nodes\" in API group \"\" at the cluster scope"
        );
        assert_eq!(err.code, 403);
        let evict = ApiError::forbidden(&ForbiddenRequest {
            user: "viewer",
            verb: "create",
            group: "",
            resource: "pods",
            subresource: Some("eviction"),
            name: Some("web-1"),
            namespace: Some("default"),
        });
        assert!(evict.message.ends_with(
            "cannot create resource \"pods/eviction\" in API group \"\" in the namespace \"default\""
        ));
    }

    #[test]
    fn apply_conflicts_list_every_field() {
        let err = ApiError::apply_conflicts(
            &[
                ("\"ctl\"".into(), ".spec.paused".into()),
                ("\"kubectl\" using apps/v1".into(), ".spec.replicas".into()),
            ],
            "Apply failed with 2 conflicts: …".into(),
        );
        assert_eq!(err.code, 409);
        assert_eq!(err.message, "Apply failed with 2 conflicts: …");
        let status = err.to_status();
        assert_eq!(status["details"]["causes"][1]["field"], ".spec.replicas");
        assert_eq!(
            status["details"]["causes"][1]["message"],
            "conflict with \"kubectl\" using apps/v1"
        );
    }

    #[test]
    fn json_patch_failures_get_the_generic_invalid_wording() {
        let status = ApiError::json_patch_not_applicable().to_status();
        assert_eq!(status["code"], 422);
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(
            status["message"],
            "the server rejected our request due to an error in our request"
        );
        assert_eq!(status["details"], json!({}));
    }
}

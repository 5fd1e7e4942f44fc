//! The `pods/eviction` subresource with PodDisruptionBudget rules, as kube-apiserver's
//! eviction REST handler applies them (DOMAIN.md §6.4): pods that are pending, finished or
//! already terminating go without a budget check; otherwise exactly one matching budget must
//! allow a disruption, which the eviction consumes before deleting the pod.

use serde_json::{Value, json};

use super::clock::rfc3339;
use super::error::{ApiError, success_status};
use super::resource::ResourceType;
use super::selector::LabelSelector;
use super::store::{ListOptions, Store};
use super::write::{DeleteOptions, Part, PatchType, WriteOptions};

const DISRUPTED_PODS_LIMIT: usize = 2000;

impl Store {
    /// Evicts a pod. Returns the success `Status` (201) or the error a real server gives.
    pub fn evict(
        &self,
        pods: &ResourceType,
        namespace: &str,
        name: &str,
        eviction: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        if let Some(body_name) = eviction.pointer("/metadata/name").and_then(Value::as_str)
            && body_name != name
        {
            return Err(ApiError::bad_request(format!(
                "name in URL does not match name in Eviction object: {name} != {body_name}"
            )));
        }
        let pod = self.get(pods, namespace, name)?.value()?;
        let delete = delete_options(eviction, dry_run);
        if !needs_budget_check(&pod) {
            self.delete(pods, namespace, name, &delete)?;
            return Ok(success_status(201, None));
        }
        if let Some((pdb_rt, pdb)) = self.matching_budget(namespace, &pod)? {
            self.consume_disruption(&pdb_rt, &pdb, &pod, name, dry_run)?;
        }
        self.delete(pods, namespace, name, &delete)?;
        Ok(success_status(201, None))
    }

    fn matching_budget(
        &self,
        namespace: &str,
        pod: &Value,
    ) -> Result<Option<(std::sync::Arc<ResourceType>, Value)>, ApiError> {
        let registry = self.registry();
        let Some(pdb_rt) = registry.get("policy", "v1", "poddisruptionbudgets") else {
            return Ok(None);
        };
        let page = self.list(&pdb_rt, Some(namespace), &ListOptions::default())?;
        let labels = pod.pointer("/metadata/labels");
        let mut matching = Vec::new();
        for stored in page.items {
            let pdb = stored.value()?;
            let selector = pdb.pointer("/spec/selector").filter(|s| !s.is_null());
            // A nil or empty budget selector matches nothing, never everything.
            let Some(selector) = selector
                .and_then(|s| LabelSelector::from_json(s).ok())
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            if selector.matches_json(labels) {
                matching.push(pdb);
            }
        }
        match matching.len() {
            0 => Ok(None),
            1 => Ok(matching.pop().map(|pdb| (pdb_rt, pdb))),
            _ => Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            )),
        }
    }

    fn consume_disruption(
        &self,
        pdb_rt: &ResourceType,
        pdb: &Value,
        pod: &Value,
        pod_name: &str,
        dry_run: bool,
    ) -> Result<(), ApiError> {
        let pdb_name = pdb
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let namespace = pdb
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let status = |key: &str| {
            pdb.pointer(&format!("/status/{key}"))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        let generation = pdb
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if status("observedGeneration") < generation {
            return Err(budget_refusal(
                &format!(
                    "The disruption budget {pdb_name} is still being processed by the server."
                ),
                10,
            ));
        }
        let allowed = status("disruptionsAllowed");
        if allowed < 0 {
            return Err(ApiError::forbidden_message(
                "pdb disruptions allowed is negative".to_string(),
            ));
        }
        let disrupted = pdb
            .pointer("/status/disruptedPods")
            .and_then(Value::as_object)
            .map_or(0, serde_json::Map::len);
        if disrupted > DISRUPTED_PODS_LIMIT {
            return Err(ApiError::forbidden_message(
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller"
                    .to_string(),
            ));
        }
        let (current, desired) = (status("currentHealthy"), status("desiredHealthy"));
        // An unready pod does not count towards health, so removing it costs the budget nothing.
        if !pod_ready(pod) && current >= desired && desired > 0 {
            return Ok(());
        }
        if allowed == 0 {
            return Err(budget_refusal(
                &format!(
                    "The disruption budget {pdb_name} needs {desired} healthy pods and has {current} currently"
                ),
                0,
            ));
        }
        if dry_run {
            return Ok(());
        }
        let now = rfc3339(self.clock.now());
        let patch = json!({
            "metadata": { "resourceVersion": pdb.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null) },
            "status": { "disruptionsAllowed": allowed - 1, "disruptedPods": { pod_name: now } },
        });
        self.patch(
            pdb_rt,
            namespace,
            pdb_name,
            PatchType::Merge,
            &patch,
            Part::Status,
            &WriteOptions::manager("kube-apiserver"),
        )
        .map_err(|e| {
            if e.code == 409 {
                budget_refusal(
                    &format!("The disruption budget {pdb_name} was modified concurrently"),
                    1,
                )
            } else {
                e
            }
        })?;
        Ok(())
    }
}

fn budget_refusal(cause: &str, retry_after_seconds: u32) -> ApiError {
    ApiError::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        &json!([{ "reason": "DisruptionBudget", "message": cause }]),
        retry_after_seconds,
    )
}

/// Pods that are not running yet, have finished, or are already going skip the budget.
fn needs_budget_check(pod: &Value) -> bool {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    let terminating = pod.pointer("/metadata/deletionTimestamp").is_some();
    !terminating && !matches!(phase, "Pending" | "Succeeded" | "Failed")
}

fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn delete_options(eviction: &Value, dry_run: bool) -> DeleteOptions {
    let opts = eviction.get("deleteOptions");
    let field = |path: &str| opts.and_then(|o| o.pointer(path));
    DeleteOptions {
        grace_period_seconds: field("/gracePeriodSeconds").and_then(Value::as_i64),
        precondition_uid: field("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        precondition_rv: field("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        dry_run: dry_run
            || field("/dryRun")
                .and_then(Value::as_array)
                .is_some_and(|d| d.iter().any(|v| v == "All")),
        ..DeleteOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_running_pods_are_checked_against_budgets() {
        assert!(needs_budget_check(&json!({"status": {"phase": "Running"}})));
        assert!(!needs_budget_check(
            &json!({"status": {"phase": "Pending"}})
        ));
        assert!(!needs_budget_check(
            &json!({"status": {"phase": "Succeeded"}})
        ));
        assert!(!needs_budget_check(
            &json!({"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Running"}})
        ));
    }

    #[test]
    fn refusal_carries_the_budget_cause() {
        let status = budget_refusal(
            "The disruption budget web needs 2 healthy pods and has 2 currently",
            0,
        )
        .to_status();
        assert_eq!(status["code"], 429);
        assert_eq!(status["details"]["causes"][0]["reason"], "DisruptionBudget");
    }

    #[test]
    fn eviction_delete_options_are_carried_over() {
        let eviction = json!({"deleteOptions": {"gracePeriodSeconds": 5, "dryRun": ["All"]}});
        let opts = delete_options(&eviction, false);
        assert_eq!(opts.grace_period_seconds, Some(5));
        assert!(opts.dry_run);
    }
}

//! Defaulting of built-in kinds on create, as kube-apiserver's defaulters do for the fields
//! clients, kubectl and our controllers read back: pod restart policy, grace period and
//! scheduler; workload update strategies and history limits; namespace phase. Only the
//! defaults something observes are filled; the rest stay absent as the client sent them.

use serde_json::{Map, Value, json};

fn set_default(obj: &mut Value, key: &str, default: Value) {
    if let Value::Object(map) = obj {
        map.entry(key.to_string()).or_insert(default);
    }
}

fn object_at<'a>(obj: &'a mut Value, key: &str) -> &'a mut Value {
    if !obj.get(key).is_some_and(Value::is_object) {
        obj[key] = Value::Object(Map::new());
    }
    &mut obj[key]
}

/// Pod-spec defaults, shared by pods and every pod template.
pub fn pod_spec(spec: &mut Value) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "enableServiceLinks", json!(true));
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for container in containers {
                let latest = container
                    .get("image")
                    .and_then(Value::as_str)
                    .is_some_and(|image| {
                        !image.rsplit('/').next().unwrap_or(image).contains(':')
                            || image.ends_with(":latest")
                    });
                set_default(
                    container,
                    "imagePullPolicy",
                    json!(if latest { "Always" } else { "IfNotPresent" }),
                );
                set_default(
                    container,
                    "terminationMessagePath",
                    json!("/dev/termination-log"),
                );
                set_default(container, "terminationMessagePolicy", json!("File"));
                set_default(container, "resources", json!({}));
            }
        }
    }
}

/// Defaults applied when an object of `kind` is created.
pub fn on_create(kind: &str, obj: &mut Value) {
    match kind {
        "Pod" => {
            pod_spec(object_at(obj, "spec"));
            // The apiserver resets a new pod's status: only the kubelet reports on a pod.
            obj["status"] = json!({ "phase": "Pending", "qosClass": qos_class(&obj["spec"]) });
        }
        "DaemonSet" => {
            let spec = object_at(obj, "spec");
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            );
            workload_template(spec);
        }
        "Deployment" => {
            let spec = object_at(obj, "spec");
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            set_default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
            );
            workload_template(spec);
        }
        "ReplicaSet" => {
            let spec = object_at(obj, "spec");
            set_default(spec, "replicas", json!(1));
            workload_template(spec);
        }
        "Namespace" => {
            obj["spec"] = json!({ "finalizers": ["kubernetes"] });
            obj["status"] = json!({ "phase": "Active" });
        }
        "Service" => {
            let spec = object_at(obj, "spec");
            set_default(spec, "type", json!("ClusterIP"));
            set_default(spec, "sessionAffinity", json!("None"));
        }
        _ => {}
    }
}

fn workload_template(spec: &mut Value) {
    if let Some(template_spec) = spec.pointer_mut("/template/spec") {
        pod_spec(template_spec);
    }
}

/// Kubernetes' QoS class from container requests and limits.
fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any_set = false;
    let mut all_guaranteed = true;
    for container in &containers {
        let requests = container
            .pointer("/resources/requests")
            .and_then(Value::as_object);
        let limits = container
            .pointer("/resources/limits")
            .and_then(Value::as_object);
        any_set |= requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty());
        let guaranteed = ["cpu", "memory"].iter().all(|res| {
            let limit = limits.and_then(|l| l.get(*res));
            let request = requests.and_then(|r| r.get(*res)).or(limit);
            limit.is_some() && request == limit
        });
        all_guaranteed &= guaranteed;
    }
    if !any_set {
        "BestEffort"
    } else if all_guaranteed && !containers.is_empty() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_scheduler_defaults_and_a_pending_status() {
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}, "status": {"phase": "Running"}});
        on_create("Pod", &mut pod);
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
        assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(
            pod["status"],
            json!({"phase": "Pending", "qosClass": "BestEffort"})
        );
    }

    #[test]
    fn tagged_images_pull_if_not_present() {
        let mut spec =
            json!({"containers": [{"name": "c", "image": "quay.io/calico/node:v3.27.0"}]});
        pod_spec(&mut spec);
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "IfNotPresent");
    }

    #[test]
    fn qos_follows_requests_and_limits() {
        let guaranteed =
            json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]});
        assert_eq!(qos_class(&guaranteed), "Guaranteed");
        let burstable = json!({"containers": [{"resources": {"requests": {"cpu": "100m"}}}]});
        assert_eq!(qos_class(&burstable), "Burstable");
    }

    #[test]
    fn daemonsets_roll_one_node_at_a_time_by_default() {
        let mut ds = json!({"spec": {"template": {"spec": {"containers": []}}}});
        on_create("DaemonSet", &mut ds);
        assert_eq!(
            ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
            1
        );
        assert_eq!(ds["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
    }
}

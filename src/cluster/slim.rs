//! What the feed keeps of each object: `managedFields` never, and of pods outside
//! `calico-system` / `kube-system` only what the model reads (identity, owners, node, emptyDir
//! volumes, phase, conditions, container states, addresses) — at 50,000 pods the rest is most of
//! the memory. Lists are trimmed to their length: serde grows a `Vec` of small items to a
//! capacity of 4 and then doubles, and on a pod with one container status (about 1 KB each in
//! k8s-openapi) that is 3 KB of spare room per pod. Also which events are kept and in what
//! order. Pure functions on objects; must not decide what is watched.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerStatus, EmptyDirVolumeSource, Event, Node, Pod, PodSpec, PodStatus, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The annotation that marks a static (mirror) pod; drain skips those, so it is kept.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Namespaces whose pods are kept whole: Calico's own and the system pods.
pub const FULL_POD_NAMESPACES: [&str; 2] = ["calico-system", "kube-system"];

/// Drops `managedFields`, which no view reads and which can be most of an object's size.
pub fn drop_managed_fields(metadata: &mut ObjectMeta) {
    metadata.managed_fields = None;
}

/// A node as the feed stores it: no `managedFields`, and none of `status.images` (every image
/// on the node with its size; on a real node often 50+ entries and most of the object) or the
/// attached-volume lists, which no view reads.
pub fn node(mut node: Node) -> Node {
    drop_managed_fields(&mut node.metadata);
    if let Some(status) = node.status.as_mut() {
        status.images = None;
        status.volumes_attached = None;
        status.volumes_in_use = None;
    }
    node
}

/// A pod as the feed stores it.
pub fn pod(mut pod: Pod) -> Pod {
    drop_managed_fields(&mut pod.metadata);
    let keep_whole = pod
        .metadata
        .namespace
        .as_deref()
        .is_some_and(|ns| FULL_POD_NAMESPACES.contains(&ns));
    if keep_whole {
        return trimmed_whole(pod);
    }
    let Pod {
        metadata,
        spec,
        status,
    } = pod;
    Pod {
        metadata: slim_metadata(metadata),
        spec: spec.map(slim_spec),
        status: status.map(slim_status),
    }
}

/// `list` without spare capacity.
fn trimmed<T>(mut list: Vec<T>) -> Vec<T> {
    list.shrink_to_fit();
    list
}

/// A pod kept whole: every field stays, its largest lists lose their spare capacity.
fn trimmed_whole(mut pod: Pod) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.containers.shrink_to_fit();
        if let Some(volumes) = spec.volumes.as_mut() {
            volumes.shrink_to_fit();
        }
        if let Some(tolerations) = spec.tolerations.as_mut() {
            tolerations.shrink_to_fit();
        }
    }
    if let Some(status) = pod.status.as_mut() {
        trim_status_lists(status);
    }
    if let Some(owners) = pod.metadata.owner_references.as_mut() {
        owners.shrink_to_fit();
    }
    pod
}

fn trim_status_lists(status: &mut PodStatus) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.shrink_to_fit();
    }
    for list in [
        &mut status.container_statuses,
        &mut status.init_container_statuses,
    ]
    .into_iter()
    .flatten()
    {
        list.shrink_to_fit();
    }
    if let Some(ips) = status.pod_ips.as_mut() {
        ips.shrink_to_fit();
    }
}

fn slim_metadata(metadata: ObjectMeta) -> ObjectMeta {
    let annotations = metadata.annotations.and_then(|annotations| {
        let kept: BTreeMap<String, String> = annotations
            .into_iter()
            .filter(|(key, _)| key == MIRROR_ANNOTATION)
            .collect();
        (!kept.is_empty()).then_some(kept)
    });
    ObjectMeta {
        name: metadata.name,
        namespace: metadata.namespace,
        uid: metadata.uid,
        labels: metadata.labels,
        annotations,
        owner_references: metadata.owner_references.map(trimmed),
        creation_timestamp: metadata.creation_timestamp,
        deletion_timestamp: metadata.deletion_timestamp,
        deletion_grace_period_seconds: metadata.deletion_grace_period_seconds,
        ..ObjectMeta::default()
    }
}

fn slim_spec(spec: PodSpec) -> PodSpec {
    PodSpec {
        node_name: spec.node_name,
        node_selector: spec.node_selector,
        host_network: spec.host_network,
        // Only whether a volume is an emptyDir matters (drain's local-storage rule).
        volumes: spec
            .volumes
            .map(|volumes| {
                volumes
                    .into_iter()
                    .map(|volume| Volume {
                        empty_dir: volume.empty_dir.map(|_| EmptyDirVolumeSource::default()),
                        name: volume.name,
                        ..Volume::default()
                    })
                    .collect::<Vec<_>>()
            })
            .map(trimmed),
        containers: trimmed(
            spec.containers
                .into_iter()
                .map(|container| Container {
                    name: container.name,
                    ..Container::default()
                })
                .collect(),
        ),
        ..PodSpec::default()
    }
}

fn slim_status(status: PodStatus) -> PodStatus {
    let statuses = |list: Option<Vec<ContainerStatus>>| {
        list.map(|l| trimmed(l.into_iter().map(slim_container_status).collect()))
    };
    let mut slim = PodStatus {
        phase: status.phase,
        conditions: status.conditions,
        container_statuses: statuses(status.container_statuses),
        init_container_statuses: statuses(status.init_container_statuses),
        pod_ip: status.pod_ip,
        pod_ips: status.pod_ips,
        host_ip: status.host_ip,
        reason: status.reason,
        message: status.message,
        start_time: status.start_time,
        ..PodStatus::default()
    };
    trim_status_lists(&mut slim);
    slim
}

/// What the pod columns and the diagnosis read of a container: its state, readiness, restarts
/// and image. The runtime's ids, resources and mounts are dropped.
fn slim_container_status(status: ContainerStatus) -> ContainerStatus {
    ContainerStatus {
        name: status.name,
        image: status.image,
        ready: status.ready,
        restart_count: status.restart_count,
        started: status.started,
        state: status.state,
        last_state: status.last_state,
        ..ContainerStatus::default()
    }
}

/// An event of the cluster-wide Warning watch: kept as is, minus managed fields.
pub fn warning_event(mut event: Event) -> Option<Event> {
    drop_managed_fields(&mut event.metadata);
    Some(event)
}

/// An event of the `calico-system` watch: kept when it is about a pod (Normal ones included,
/// so a calico-node-windows start-up can be followed step by step).
pub fn calico_pod_event(mut event: Event) -> Option<Event> {
    if event.involved_object.kind.as_deref() != Some("Pod") {
        return None;
    }
    drop_managed_fields(&mut event.metadata);
    Some(event)
}

/// When an event last happened: `lastTimestamp`, else `eventTime`, else `firstTimestamp`, else
/// its creation.
pub fn event_time(event: &Event) -> Option<Timestamp> {
    event
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// Orders events oldest first and keeps the newest `limit`.
pub fn newest_events(events: &mut Vec<Arc<Event>>, limit: usize) {
    events.sort_by_key(|event| event_time(event));
    if events.len() > limit {
        events.drain(..events.len() - limit);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStatus, EnvVar, ObjectReference};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, Time};
    use serde_json::json;

    fn workload(namespace: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {
                "name": "web-1", "namespace": namespace, "uid": "u1",
                "labels": {"app": "web"},
                "annotations": {"kubernetes.io/config.mirror": "x", "big": "y"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-rs", "uid": "r1", "controller": true}],
                "managedFields": [{"manager": "kubectl"}],
            },
            "spec": {
                "nodeName": "n1",
                "containers": [{"name": "web", "image": "nginx", "env": [{"name": "A", "value": "B"}]}],
                "volumes": [{"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}, {"name": "cfg", "configMap": {"name": "c"}}],
                "tolerations": [{"operator": "Exists"}],
            },
            "status": {"phase": "Running", "podIP": "192.168.0.5", "qosClass": "BestEffort",
                       "containerStatuses": [{"name": "web", "ready": true, "restartCount": 2, "image": "nginx", "imageID": ""}]},
        }))
        .unwrap()
    }

    #[test]
    fn workload_pods_keep_only_what_the_model_reads() {
        let slim = pod(workload("default"));
        let meta = &slim.metadata;
        assert_eq!(meta.managed_fields, None);
        assert_eq!(meta.owner_references.as_ref().unwrap()[0].name, "web-rs");
        let annotations = meta.annotations.as_ref().unwrap();
        assert_eq!(annotations.keys().collect::<Vec<_>>(), [MIRROR_ANNOTATION]);
        let spec = slim.spec.as_ref().unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("n1"));
        assert_eq!(spec.containers[0].name, "web");
        assert_eq!(spec.containers[0].env, None::<Vec<EnvVar>>);
        assert_eq!(spec.tolerations, None);
        let volumes = spec.volumes.as_ref().unwrap();
        assert!(volumes[0].empty_dir.is_some());
        assert!(volumes[1].empty_dir.is_none() && volumes[1].config_map.is_none());
        let status = slim.status.as_ref().unwrap();
        assert_eq!(status.pod_ip.as_deref(), Some("192.168.0.5"));
        assert_eq!(status.qos_class, None);
        let statuses: &Vec<ContainerStatus> = status.container_statuses.as_ref().unwrap();
        assert_eq!(statuses[0].restart_count, 2);
    }

    #[test]
    fn calico_and_system_pods_are_kept_whole_minus_managed_fields() {
        for namespace in FULL_POD_NAMESPACES {
            let mut expected = workload(namespace);
            let kept = pod(expected.clone());
            assert!(
                expected
                    .metadata
                    .managed_fields
                    .take()
                    .is_some_and(|m: Vec<ManagedFieldsEntry>| !m.is_empty())
            );
            assert_eq!(kept, expected);
        }
    }

    #[test]
    fn workload_container_statuses_keep_state_and_lose_runtime_ids() {
        let mut source = workload("default");
        let status = source.status.as_mut().unwrap();
        let statuses = status.container_statuses.as_mut().unwrap();
        statuses[0].container_id = Some("containerd://abc".into());
        statuses[0].started = Some(true);
        // As serde leaves a list grown by pushes: room for more than it holds.
        statuses.reserve(8);
        let conditions = vec![k8s_openapi::api::core::v1::PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            ..Default::default()
        }];
        let mut roomy = Vec::with_capacity(8);
        roomy.extend(conditions.clone());
        status.conditions = Some(roomy);

        let slim = pod(source);
        let status = slim.status.as_ref().unwrap();
        let kept = &status.container_statuses.as_ref().unwrap()[0];
        assert_eq!(
            (
                kept.name.as_str(),
                kept.ready,
                kept.restart_count,
                kept.started
            ),
            ("web", true, 2, Some(true))
        );
        assert_eq!(kept.image, "nginx");
        assert_eq!(
            (kept.container_id.as_deref(), kept.image_id.as_str()),
            (None, "")
        );
        assert_eq!(status.conditions.as_ref(), Some(&conditions));
        let lists = status.container_statuses.as_ref().unwrap();
        assert_eq!(lists.capacity(), lists.len());
        assert_eq!(status.conditions.as_ref().unwrap().capacity(), 1);
    }

    fn event(name: &str, kind: &str, minute: i64) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                kind: Some(kind.into()),
                ..ObjectReference::default()
            },
            last_timestamp: Some(Time(
                Timestamp::from_second(1_700_000_000 + minute * 60).unwrap(),
            )),
            ..Event::default()
        }
    }

    #[test]
    fn only_pod_events_of_calico_system_are_kept() {
        assert!(calico_pod_event(event("a", "Pod", 0)).is_some());
        assert!(calico_pod_event(event("b", "DaemonSet", 0)).is_none());
    }

    #[test]
    fn the_newest_events_are_kept_oldest_first() {
        let mut events: Vec<Arc<Event>> = [("c", 3), ("a", 1), ("d", 4), ("b", 2)]
            .into_iter()
            .map(|(name, minute)| Arc::new(event(name, "Pod", minute)))
            .collect();
        newest_events(&mut events, 3);
        let names: Vec<_> = events
            .iter()
            .map(|e| e.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["b", "c", "d"]);
    }

    #[test]
    fn nodes_keep_what_the_views_read_and_lose_their_image_lists() {
        let original: Node = serde_json::from_value(json!({
            "metadata": {"name": "aks-np-0", "labels": {"kubernetes.io/os": "windows"},
                         "managedFields": [{"manager": "kubelet"}]},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"containerRuntimeVersion": "containerd://1.7.20", "kubeletVersion": "v1.32.4",
                             "architecture": "amd64", "bootID": "", "kernelVersion": "", "kubeProxyVersion": "",
                             "machineID": "", "operatingSystem": "windows", "osImage": "Windows Server 2022", "systemUUID": ""},
                "addresses": [{"type": "InternalIP", "address": "10.224.0.9"}],
                "images": [{"names": ["mcr.microsoft.com/windows/nanoserver:ltsc2022"], "sizeBytes": 123}],
                "volumesInUse": ["kubernetes.io/csi/disk^x"],
                "volumesAttached": [{"name": "kubernetes.io/csi/disk^x", "devicePath": ""}],
            },
        }))
        .unwrap();
        let slim = node(original.clone());
        assert!(slim.metadata.managed_fields.is_none());
        let status = slim.status.unwrap();
        assert!(status.images.is_none());
        assert!(status.volumes_in_use.is_none() && status.volumes_attached.is_none());
        let kept = original.status.clone().unwrap();
        assert_eq!(status.conditions, kept.conditions);
        assert_eq!(status.node_info, kept.node_info);
        assert_eq!(status.addresses, kept.addresses);
        assert_eq!(slim.spec, original.spec);
        assert_eq!(slim.metadata.labels, original.metadata.labels);
    }
}

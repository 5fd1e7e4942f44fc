//! Faults injected into the simulated cluster, per node: what a test or a scenario uses to
//! make a rollout get stuck the way real ones do. The kubelet consults them when it pulls
//! images and starts containers; nothing else changes behaviour because of them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// One way a node misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Pulling an image whose reference starts with the prefix fails (registry unreachable,
    /// tag missing): `ErrImagePull`, then `ImagePullBackOff`.
    ImagePull {
        image_prefix: String,
        message: String,
    },
    /// A container of that name exits with the code shortly after starting: `CrashLoopBackOff`.
    CrashLoop {
        container: String,
        exit_code: i32,
        message: String,
    },
    /// Every container on the node takes this much longer to start.
    SlowStart { extra: Duration },
}

/// Faults by node name.
#[derive(Debug, Default)]
pub struct Faults {
    by_node: Mutex<BTreeMap<String, Vec<Fault>>>,
}

impl Faults {
    pub fn inject(&self, node: &str, fault: Fault) {
        self.lock().entry(node.to_string()).or_default().push(fault);
    }

    pub fn clear(&self, node: &str) {
        self.lock().remove(node);
    }

    pub fn for_node(&self, node: &str) -> Vec<Fault> {
        self.lock().get(node).cloned().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<Fault>>> {
        // Each operation is a single map update, so a poisoned lock still holds a valid map.
        self.by_node
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_per_node() {
        let faults = Faults::default();
        faults.inject(
            "win-1",
            Fault::SlowStart {
                extra: Duration::from_secs(5),
            },
        );
        assert_eq!(faults.for_node("win-1").len(), 1);
        assert!(faults.for_node("win-2").is_empty());
        faults.clear("win-1");
        assert!(faults.for_node("win-1").is_empty());
    }
}

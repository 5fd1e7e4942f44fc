//! Plan tests on fixture snapshots and run tests against a fake writer that keeps one object,
//! records every call and can be told to change the object behind the plan's back.
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::*;
use crate::model::calico::IpamConfigSpec;
use crate::model::ipam::fixtures::{BlockFixture, CONTEXT, ClusterFixture};
use crate::model::snapshot::{FeedState, Kind};

fn spec(strict: bool, auto: bool, max: u32) -> IpamConfigSpec {
    IpamConfigSpec {
        strict_affinity: strict,
        auto_allocate_blocks: auto,
        max_blocks_per_host: max,
    }
}

fn on() -> StrictAffinityInput {
    StrictAffinityInput {
        target: true,
        override_confirmation: None,
    }
}

fn off(typed: Option<&str>) -> StrictAffinityInput {
    StrictAffinityInput {
        target: false,
        override_confirmation: typed.map(str::to_string),
    }
}

fn linux_cluster() -> ClusterFixture {
    ClusterFixture::new().node("lin-1", OsFamily::Linux, "nplinux")
}

#[test]
fn refusals() {
    let base = || linux_cluster().strict(true);
    assert_eq!(
        plan(&base().readonly().build(), off(None)),
        Err(PlanRefusal::ReadOnly)
    );
    assert_eq!(
        plan(&base().mode(CalicoApiMode::NotInstalled).build(), off(None)),
        Err(PlanRefusal::CalicoNotInstalled)
    );
    assert_eq!(
        plan(&base().mode(CalicoApiMode::Unknown).build(), off(None)),
        Err(PlanRefusal::ApiUnknown)
    );
    // No config in the snapshot and its feed still loading: absence proves nothing.
    let loading = linux_cluster()
        .feed(Kind::IpamConfigs, FeedState::Loading)
        .build();
    assert!(matches!(
        plan(&loading, on()),
        Err(PlanRefusal::ConfigUnknown(_))
    ));
    assert_eq!(
        plan(&base().build(), on()),
        Err(PlanRefusal::NoChange(true))
    );
    let capped = linux_cluster().config("projectcalico.org/v3", "5", spec(true, true, 4));
    let refusal = plan(&capped.build(), off(None)).unwrap_err();
    assert_eq!(refusal, PlanRefusal::MaxBlocksRequiresStrictAffinity(4));
    assert!(
        refusal
            .to_string()
            .contains("MaxBlocksPerHost requires StrictAffinity to be enabled")
    );
    let manual = linux_cluster().config("projectcalico.org/v3", "5", spec(true, false, 0));
    assert_eq!(
        plan(&manual.build(), off(None)),
        Err(PlanRefusal::AutoAllocateOff)
    );
}

#[test]
fn windows_nodes_refuse_turning_it_off_unless_the_context_is_typed() {
    let cluster = || {
        linux_cluster()
            .node("win-1", OsFamily::Windows, "npwin")
            .node("win-2", OsFamily::Windows, "npwin")
            .strict(true)
            .build()
    };
    let refusal = plan(&cluster(), off(None)).unwrap_err();
    assert_eq!(
        refusal,
        PlanRefusal::WindowsNodes {
            count: 2,
            nodes: "win-1, win-2".to_string(),
            context: CONTEXT.to_string(),
        }
    );
    let message = refusal.to_string();
    assert!(message.contains("global strict affinity should not be false for Windows node"));
    assert!(message.contains("calico-node-windows restart fails"));
    assert!(message.contains(&format!("Type the context name \"{CONTEXT}\"")));
    assert!(matches!(
        plan(&cluster(), off(Some("prod"))),
        Err(PlanRefusal::OverrideMismatch { .. })
    ));
    let overridden = plan(&cluster(), off(Some(CONTEXT))).unwrap();
    assert_eq!(overridden.overridden_windows_nodes, vec!["win-1", "win-2"]);
    assert!(
        overridden
            .preview
            .iter()
            .any(|l| l.contains("OVERRIDDEN: 2 Windows node(s)"))
    );
    assert!(!overridden.after.strict_affinity);
}

#[test]
fn object_and_write_per_mode() {
    // Mode A, default exists: merge patch of the v1 IPAMConfig.
    let a = plan(
        &linux_cluster()
            .mode(CalicoApiMode::V1Crds)
            .config("crd.projectcalico.org/v1", "12", spec(false, true, 0))
            .build(),
        on(),
    )
    .unwrap();
    assert_eq!(a.object.api_version(), "crd.projectcalico.org/v1");
    assert_eq!(
        (a.object.kind.as_str(), a.object.plural.as_str()),
        ("IPAMConfig", "ipamconfigs")
    );
    assert_eq!(
        a.write,
        Write::MergePatch {
            target: a.object.clone(),
            patch: json!({"spec": {"strictAffinity": true}})
        }
    );
    assert_eq!(a.before, Some(spec(false, true, 0)));
    assert_eq!(a.after, spec(true, true, 0));
    // Mode A, default missing: create with both fields the v1 schema requires.
    let a_missing = plan(&linux_cluster().mode(CalicoApiMode::V1Crds).build(), on()).unwrap();
    assert_eq!(
        a_missing.write,
        Write::Create {
            target: a_missing.object.clone(),
            body: json!({
                "apiVersion": "crd.projectcalico.org/v1", "kind": "IPAMConfig",
                "metadata": {"name": "default"},
                "spec": {"strictAffinity": true, "autoAllocateBlocks": true},
            })
        }
    );
    assert_eq!(a_missing.before, None);
    // Modes B and C write the v3 IPAMConfiguration, patch or create.
    for mode in [CalicoApiMode::V1WithAggregatedV3, CalicoApiMode::NativeV3] {
        let exists = plan(&linux_cluster().mode(mode).strict(false).build(), on()).unwrap();
        assert_eq!(
            exists.object.display(),
            "ipamconfigurations.projectcalico.org/default"
        );
        assert!(matches!(exists.write, Write::MergePatch { .. }));
        let missing = plan(&linux_cluster().mode(mode).build(), on()).unwrap();
        let Write::Create { body, .. } = &missing.write else {
            panic!("expected a create, got {:?}", missing.write);
        };
        assert_eq!(body["apiVersion"], "projectcalico.org/v3");
        assert_eq!(body["kind"], "IPAMConfiguration");
    }
    // The preview names the object and each field change.
    assert_eq!(
        a.preview[..5],
        [
            "crd.projectcalico.org/v1 IPAMConfig default (ipamconfigs.crd.projectcalico.org/default)",
            "  merge patch {\"spec\":{\"strictAffinity\":true}}",
            "  strictAffinity: false -> true",
            "  autoAllocateBlocks: true (unchanged)",
            "  maxBlocksPerHost: 0 (default 20) (unchanged)",
        ]
    );
}

#[test]
fn turning_it_on_lists_borrowed_addresses_and_nodes_at_risk() {
    // A /25 of /26 blocks: both slots claimed, so nothing is left to claim.
    let snapshot = ClusterFixture::new()
        .node("lin-1", OsFamily::Linux, "np")
        .node("lin-2", OsFamily::Linux, "np")
        .node("lin-3", OsFamily::Linux, "np")
        .pool("small", "10.1.0.0/25", 26)
        // lin-1: 60 of 64 used = 93.75% >= 90%: at risk.
        .block(
            BlockFixture::new("10.1.0.0/26")
                .owner("lin-1")
                .pods(0, 60, "lin-1", "a"),
        )
        // lin-2: 10 used, plus one address lent to lin-3.
        .block(
            BlockFixture::new("10.1.0.64/26")
                .owner("lin-2")
                .pods(0, 10, "lin-2", "b")
                .pod(20, "lin-3", "default", "c"),
        )
        .strict(false)
        .build();
    let plan = plan(&snapshot, on()).unwrap();
    assert_eq!(plan.borrowed_staying.len(), 1);
    assert_eq!(plan.borrowed_staying[0].ip, "10.1.0.84");
    let at_risk: Vec<&str> = plan.nodes_at_risk.iter().map(|n| n.node.as_str()).collect();
    // lin-1 nearly full; lin-3 borrows already (and owns nothing); lin-2 has room.
    assert_eq!(at_risk, vec!["lin-1", "lin-3"]);
    assert!(
        plan.preview
            .iter()
            .any(|l| l.contains("1 borrowed address(es) stay where they are"))
    );
    assert!(
        plan.preview
            .iter()
            .any(|l| l.contains("2 node(s) could fail to get addresses"))
    );
}

/// Keeps one object; counts calls; optionally changes the object right after the dry run or
/// answers the real write with an error.
#[derive(Default)]
struct FakeWriter {
    object: Mutex<Option<Value>>,
    calls: Mutex<Vec<String>>,
    change_after_dry_run: Option<Value>,
    real_write_error: Option<WriteError>,
}

impl FakeWriter {
    fn holding(object: Option<Value>) -> Self {
        Self {
            object: Mutex::new(object),
            ..Self::default()
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl ClusterWriter for FakeWriter {
    fn get<'a>(&'a self, _: &'a ObjectRef) -> BoxFuture<'a, Result<Option<Value>, WriteError>> {
        self.calls.lock().unwrap().push("get".to_string());
        let object = self.object.lock().unwrap().clone();
        Box::pin(async move { Ok(object) })
    }

    fn write<'a>(
        &'a self,
        write: &'a Write,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Value, WriteError>> {
        let label = format!("{}{}", if dry_run { "dry-run " } else { "" }, write.verb());
        self.calls.lock().unwrap().push(label);
        let mut object = self.object.lock().unwrap();
        let result = match (write, object.clone()) {
            (_, _) if !dry_run && self.real_write_error.is_some() => {
                Err(self.real_write_error.clone().unwrap())
            }
            (Write::MergePatch { .. }, None) => Err(WriteError::NotFound("default".to_string())),
            (Write::Create { .. }, Some(_)) => {
                Err(WriteError::AlreadyExists("default".to_string()))
            }
            (Write::MergePatch { patch, .. }, Some(mut current)) => {
                json_patch::merge(&mut current, patch);
                current["metadata"]["resourceVersion"] = json!("200");
                Ok(current)
            }
            (Write::Create { body, .. }, None) => {
                let mut created = body.clone();
                created["metadata"]["resourceVersion"] = json!("1");
                Ok(created)
            }
            (other, _) => Err(WriteError::Other(format!("unexpected {other:?}"))),
        };
        if dry_run {
            if let Some(changed) = &self.change_after_dry_run {
                *object = Some(changed.clone());
            }
        } else if let Ok(value) = &result {
            *object = Some(value.clone());
        }
        Box::pin(async move { result })
    }
}

fn v3_object(strict: bool, rv: &str) -> Value {
    json!({"apiVersion": "projectcalico.org/v3", "kind": "IPAMConfiguration",
           "metadata": {"name": "default", "resourceVersion": rv},
           "spec": {"strictAffinity": strict, "autoAllocateBlocks": true}})
}

fn run_now(
    plan: &StrictAffinityPlan,
    writer: &FakeWriter,
) -> (
    Result<StrictAffinityOutcome, RunError>,
    Vec<StrictAffinityProgress>,
) {
    let mut seen = Vec::new();
    let outcome = futures::executor::block_on(run(plan, writer, &mut |p| seen.push(p)));
    (outcome, seen)
}

#[test]
fn run_dry_runs_verifies_then_writes() {
    let plan = plan(&linux_cluster().strict(false).build(), on()).unwrap();
    let writer = FakeWriter::holding(Some(v3_object(false, "100")));
    let (outcome, progress) = run_now(&plan, &writer);
    let Ok(StrictAffinityOutcome::Applied { after }) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(after["spec"]["strictAffinity"], true);
    assert_eq!(writer.calls(), vec!["dry-run patch", "get", "patch"]);
    assert_eq!(progress.len(), 6);
    assert_eq!(
        progress[5],
        StrictAffinityProgress::Done(StrictAffinityStep::Apply)
    );
}

#[test]
fn a_change_between_plan_and_run_is_a_conflict_and_nothing_is_written() {
    let plan = plan(&linux_cluster().strict(false).build(), on()).unwrap();
    // Someone sets maxBlocksPerHost while the user reads the preview.
    let mut changed = v3_object(false, "150");
    changed["spec"]["maxBlocksPerHost"] = json!(3);
    let writer = FakeWriter {
        change_after_dry_run: Some(changed.clone()),
        ..FakeWriter::holding(Some(v3_object(false, "100")))
    };
    let (outcome, _) = run_now(&plan, &writer);
    let Ok(StrictAffinityOutcome::Conflict { current, changes }) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(current, Some(changed));
    assert_eq!(
        changes,
        vec!["maxBlocksPerHost: 0 -> 3", "resourceVersion: 100 -> 150"]
    );
    assert_eq!(writer.calls(), vec!["dry-run patch", "get"]);
}

#[test]
fn a_409_on_the_write_is_reread_and_reported() {
    let plan = plan(&linux_cluster().strict(false).build(), on()).unwrap();
    let writer = FakeWriter {
        real_write_error: Some(WriteError::Conflict(
            "the object has been modified".to_string(),
        )),
        ..FakeWriter::holding(Some(v3_object(false, "100")))
    };
    let (outcome, _) = run_now(&plan, &writer);
    let Ok(StrictAffinityOutcome::Conflict { current, changes }) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(current.is_some());
    assert_eq!(changes.len(), 1);
    assert!(changes[0].contains("conflict"));
    assert_eq!(writer.calls(), vec!["dry-run patch", "get", "patch", "get"]);
}

#[test]
fn a_vanished_object_is_not_found_and_a_created_one_is_a_conflict() {
    let plan_patch = plan(&linux_cluster().strict(false).build(), on()).unwrap();
    let (outcome, _) = run_now(&plan_patch, &FakeWriter::holding(None));
    assert_eq!(outcome, Ok(StrictAffinityOutcome::NotFound));

    let plan_create = plan(&linux_cluster().build(), on()).unwrap();
    let writer = FakeWriter::holding(Some(v3_object(false, "9")));
    let (outcome, _) = run_now(&plan_create, &writer);
    let Ok(StrictAffinityOutcome::Conflict { changes, .. }) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        changes,
        vec!["IPAMConfiguration default was created by someone else (strictAffinity false)"]
    );

    let writer = FakeWriter::holding(None);
    let (outcome, _) = run_now(&plan_create, &writer);
    assert!(matches!(outcome, Ok(StrictAffinityOutcome::Applied { .. })));
    assert_eq!(writer.calls(), vec!["dry-run create", "get", "create"]);
}

#[test]
fn other_dry_run_errors_stop_the_run() {
    struct Refusing;
    impl ClusterWriter for Refusing {
        fn get<'a>(&'a self, _: &'a ObjectRef) -> BoxFuture<'a, Result<Option<Value>, WriteError>> {
            Box::pin(async { Ok(None) })
        }
        fn write<'a>(&'a self, _: &'a Write, _: bool) -> BoxFuture<'a, Result<Value, WriteError>> {
            Box::pin(async {
                Err(WriteError::Forbidden(
                    "patch ipamconfigurations".to_string(),
                ))
            })
        }
    }
    let plan = plan(&linux_cluster().strict(false).build(), on()).unwrap();
    let mut progress = |_| {};
    let outcome = futures::executor::block_on(run(&plan, &Refusing, &mut progress));
    assert!(matches!(outcome, Err(RunError::DryRun { .. })));
}

//! `pooltop ipam [--show-blocks] [--show-borrowed] [--show-configuration] [-o json]`: the
//! tables `calicoctl ipam show` prints with the same flags (`DOMAIN.md` §2.5) — same rows, same
//! `%.5g (NN%)` numbers, blocks under the first overlapping pool, orphaned blocks only with
//! `--show-blocks` — then the IPAM findings, and the same data as JSON. calicoctl takes one
//! flag at a time; given several, this prints each requested section in the order blocks,
//! borrowed, configuration. Owns the report only; the CLI connects, takes the snapshot and
//! chooses text or JSON and the exit code from [`IpamReport::has_errors`].

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::table::TextTable;
use crate::model::ClusterSnapshot;
use crate::model::ipam::go_format::{count_with_percent, go_g5};
use crate::model::ipam::{BlockUsage, IpamModel, OsFamily, Severity};

/// Which calicoctl sections to print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpamReportOptions {
    pub show_blocks: bool,
    pub show_borrowed: bool,
    pub show_configuration: bool,
}

/// The rendered report.
#[derive(Debug, Clone, PartialEq)]
pub struct IpamReport {
    /// The calicoctl-style tables (stdout).
    pub text: String,
    /// The findings, one per line, errors first (empty when there are none); print after the
    /// tables or to stderr.
    pub findings_text: String,
    /// Everything as JSON (`-o json`): pools, blocks, borrowed rows, configuration, findings.
    pub json: Value,
    /// Error-severity findings exist: exit non-zero.
    pub has_errors: bool,
}

pub fn render_ipam_report(snapshot: &ClusterSnapshot, options: &IpamReportOptions) -> IpamReport {
    render_model(&IpamModel::from_snapshot(snapshot), options)
}

/// The same report from an already computed model (the console caches one per revision).
pub fn render_model(model: &IpamModel, options: &IpamReportOptions) -> IpamReport {
    let mut sections = Vec::new();
    let any = options.show_blocks || options.show_borrowed || options.show_configuration;
    if !any || options.show_blocks {
        sections.push(utilization_table(model, options.show_blocks));
    }
    if options.show_borrowed {
        sections.push(borrowed_table(model));
    }
    if options.show_configuration {
        sections.push(configuration_table(model));
    }
    IpamReport {
        text: sections.join("\n"),
        findings_text: findings_text(model),
        json: report_json(model),
        has_errors: model.has_errors(),
    }
}

fn utilization_row(kind: &str, cidr: &str, in_use: f64, capacity: f64) -> Vec<String> {
    vec![
        kind.to_string(),
        cidr.to_string(),
        go_g5(capacity),
        count_with_percent(in_use, capacity),
        count_with_percent(capacity - in_use, capacity),
    ]
}

fn block_row(block: &BlockUsage) -> Vec<String> {
    utilization_row(
        "Block",
        &block.cidr,
        block.in_use as f64,
        block.capacity as f64,
    )
}

fn utilization_table(model: &IpamModel, show_blocks: bool) -> String {
    let mut table = TextTable::new(&["GROUPING", "CIDR", "IPS TOTAL", "IPS IN USE", "IPS FREE"]);
    for pool in &model.pools {
        let Some(network) = pool.network else {
            continue;
        };
        table.row(utilization_row(
            "IP Pool",
            &network.to_string(),
            pool.in_use as f64,
            pool.total,
        ));
        if show_blocks {
            for &index in &pool.blocks {
                table.row(block_row(&model.blocks[index]));
            }
        }
    }
    if show_blocks {
        // calicoctl's orphan group is 0.0.0.0/0: IPv6 blocks outside every pool overlap nothing
        // and are not listed at all.
        for &index in &model.orphaned_blocks {
            let block = &model.blocks[index];
            if block.is_ipv4() {
                table.row(block_row(block));
            }
        }
    }
    table.render()
}

fn borrowed_table(model: &IpamModel) -> String {
    let mut table = TextTable::new(&[
        "IP",
        "BORROWING-NODE",
        "BLOCK",
        "BLOCK OWNER",
        "TYPE",
        "ALLOCATED-TO",
    ]);
    for row in &model.borrowed {
        table.row(vec![
            row.ip.clone(),
            row.borrowing_node.clone(),
            row.block.clone(),
            row.block_owner.clone(),
            row.kind.clone(),
            row.allocated_to.clone(),
        ]);
    }
    let mut out = table.render();
    if model.allocations_without_node != 0 {
        let _ = writeln!(
            out,
            "\nNote: found {} IP allocations without an explicit node association. Unable to determine if they are borrowed.",
            model.allocations_without_node
        );
    }
    out
}

fn configuration_table(model: &IpamModel) -> String {
    let spec = &model.config.spec;
    let mut table = TextTable::new(&["PROPERTY", "VALUE"]);
    // Go's %#v of a bool and an int.
    table.row(vec![
        "StrictAffinity".into(),
        spec.strict_affinity.to_string(),
    ]);
    table.row(vec![
        "AutoAllocateBlocks".into(),
        spec.auto_allocate_blocks.to_string(),
    ]);
    table.row(vec![
        "MaxBlocksPerHost".into(),
        spec.max_blocks_per_host.to_string(),
    ]);
    table.render()
}

fn findings_text(model: &IpamModel) -> String {
    if model.findings.is_empty() {
        return String::new();
    }
    let mut out = String::from("Findings:\n");
    for finding in &model.findings {
        let _ = writeln!(
            out,
            "  {:<7}  {}",
            finding.severity.as_str(),
            finding.message
        );
    }
    let errors = model
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let _ = writeln!(
        out,
        "{} finding(s), {errors} error(s). IPAM configuration {} (maxBlocksPerHost {}).",
        model.findings.len(),
        model.config.source_label(),
        model.config.max_blocks_label()
    );
    out
}

fn block_json(block: &BlockUsage) -> Value {
    json!({
        "cidr": block.cidr,
        "name": block.name,
        "affinity": block.owner_label,
        "ownerOs": block.owner_os.map(OsFamily::as_str),
        "ownerPool": block.owner_pool,
        "capacity": block.capacity,
        "inUse": block.in_use,
        "free": block.free(),
        "windowsReserved": block.windows_reserved,
        "tunnelAddresses": block.tunnel_addresses,
        "borrowed": block.borrowed,
    })
}

fn report_json(model: &IpamModel) -> Value {
    let pools: Vec<Value> = model
        .pools
        .iter()
        .map(|pool| {
            json!({
                "name": pool.name,
                "cidr": pool.network.map_or_else(|| pool.cidr.clone(), |n| n.to_string()),
                "blockSize": pool.block_size,
                "encapsulation": pool.encapsulation.label(),
                "nodeSelector": pool.node_selector,
                "disabled": pool.disabled,
                "total": pool.total,
                "inUse": pool.in_use,
                "free": pool.free(),
                "blockSlots": u64::try_from(pool.block_slots).ok(),
                "blocksClaimed": pool.blocks.len(),
                "blocks": pool.blocks.iter().map(|&i| block_json(&model.blocks[i])).collect::<Vec<_>>(),
            })
        })
        .collect();
    let config = &model.config;
    json!({
        "pools": pools,
        "orphanedBlocks": model.orphaned_blocks.iter().map(|&i| block_json(&model.blocks[i])).collect::<Vec<_>>(),
        "borrowed": model.borrowed.iter().map(|row| json!({
            "ip": row.ip, "borrowingNode": row.borrowing_node, "block": row.block,
            "blockOwner": row.block_owner, "type": row.kind, "allocatedTo": row.allocated_to,
            "windowsInvolved": row.windows_involved,
        })).collect::<Vec<_>>(),
        "allocationsWithoutNode": model.allocations_without_node,
        "deletedBlocksIgnored": model.deleted_blocks_ignored,
        "configuration": {
            "strictAffinity": config.spec.strict_affinity,
            "autoAllocateBlocks": config.spec.auto_allocate_blocks,
            "maxBlocksPerHost": config.spec.max_blocks_per_host,
            "effectiveMaxBlocksPerHost": config.block_cap(),
            "source": config.source_label(),
        },
        "findings": model.findings.iter().map(|f| json!({
            "severity": f.severity.as_str(), "code": f.code, "subject": f.subject, "message": f.message,
        })).collect::<Vec<_>>(),
        "hasErrors": model.has_errors(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::ipam::fixtures::{BlockFixture, ClusterFixture};

    fn cluster() -> ClusterSnapshot {
        ClusterFixture::new()
            .node("win-1", OsFamily::Windows, "npwin")
            .node("lin-1", OsFamily::Linux, "nplinux")
            .pool("default-ipv4-ippool", "10.0.0.0/24", 26)
            .pool_spec("v6", json!({"cidr": "fd00:10::/48"}))
            .block(
                BlockFixture::new("10.0.0.0/26")
                    .owner("win-1")
                    .windows_reserved()
                    .pods(3, 10, "win-1", "iis"),
            )
            .block(
                BlockFixture::new("10.0.0.64/26")
                    .owner("lin-1")
                    .tunnel(0, "lin-1", "vxlanTunnelAddress")
                    .pods(1, 3, "lin-1", "web")
                    .pod(10, "lin-2", "shop", "cart"),
            )
            .block(BlockFixture::new("172.16.0.0/26").pods(0, 2, "lin-1", "old"))
            .strict(true)
            .build()
    }

    #[test]
    fn pool_summary_matches_calicoctl() {
        let report = render_ipam_report(&cluster(), &IpamReportOptions::default());
        // Pool in use: Windows block 4 reserved + 10 pods = 14, Linux block 1 + 3 + 1 = 5:
        // 19 of 256 = 7.42% -> 7%; free 237 = 92.58% -> 93%. IPv6 /48: 2^80, nothing used.
        let expected = "\
+----------+--------------+------------+------------+-------------------+
| GROUPING |     CIDR     | IPS TOTAL  | IPS IN USE |     IPS FREE      |
+----------+--------------+------------+------------+-------------------+
| IP Pool  | 10.0.0.0/24  |        256 | 19 (7%)    | 237 (93%)         |
| IP Pool  | fd00:10::/48 | 1.2089e+24 | 0 (0%)     | 1.2089e+24 (100%) |
+----------+--------------+------------+------------+-------------------+
";
        assert_eq!(report.text, expected);
    }

    #[test]
    fn show_blocks_adds_block_rows_and_the_orphans() {
        let options = IpamReportOptions {
            show_blocks: true,
            ..IpamReportOptions::default()
        };
        let report = render_ipam_report(&cluster(), &options);
        // Windows block: 14 of 64 = 21.875% -> 22%, free 50 = 78.125% -> 78%.
        // Linux block: 5 of 64 = 7.8125% -> 8%, free 59 -> 92%. Orphan: 2 of 64 = 3.125% -> 3%.
        let rows: Vec<&str> = report.text.lines().skip(3).collect();
        assert_eq!(
            rows,
            vec![
                "| IP Pool  | 10.0.0.0/24   |        256 | 19 (7%)    | 237 (93%)         |",
                "| Block    | 10.0.0.0/26   |         64 | 14 (22%)   | 50 (78%)          |",
                "| Block    | 10.0.0.64/26  |         64 | 5 (8%)     | 59 (92%)          |",
                "| IP Pool  | fd00:10::/48  | 1.2089e+24 | 0 (0%)     | 1.2089e+24 (100%) |",
                "| Block    | 172.16.0.0/26 |         64 | 2 (3%)     | 62 (97%)          |",
                "+----------+---------------+------------+------------+-------------------+",
            ]
        );
    }

    #[test]
    fn show_borrowed_and_configuration() {
        let options = IpamReportOptions {
            show_borrowed: true,
            show_configuration: true,
            ..IpamReportOptions::default()
        };
        let report = render_ipam_report(&cluster(), &options);
        // lin-2's pod in lin-1's block, and lin-1's two pods in the unowned orphan block.
        // Reserved Windows ordinals have no node key: 4 unclassified.
        // The widths depend on the longest cell; check the rows rather than the rules.
        assert!(report.text.contains("| 10.0.0.74  | lin-2          | 10.0.0.64/26  | lin-1       | pod  | shop/cart     |"), "{}", report.text);
        assert!(report.text.contains(
            "| 172.16.0.1 | lin-1          | 172.16.0.0/26 |             | pod  | default/old-1 |"
        ));
        assert!(report.text.contains(
            "\nNote: found 4 IP allocations without an explicit node association. Unable to determine if they are borrowed.\n"
        ));
        assert!(report.text.ends_with(
            "\
+--------------------+-------+
|      PROPERTY      | VALUE |
+--------------------+-------+
| StrictAffinity     | true  |
| AutoAllocateBlocks | true  |
| MaxBlocksPerHost   |     0 |
+--------------------+-------+
"
        ));
    }

    #[test]
    fn json_and_exit_status() {
        let report = render_ipam_report(&cluster(), &IpamReportOptions::default());
        assert_eq!(report.json["pools"][0]["inUse"], 19);
        assert_eq!(report.json["pools"][0]["blocks"][0]["windowsReserved"], 4);
        assert_eq!(
            report.json["configuration"]["effectiveMaxBlocksPerHost"],
            20
        );
        assert_eq!(report.json["borrowed"].as_array().unwrap().len(), 3);
        // Borrowing without a Windows node is a warning; no errors: exit 0.
        assert!(!report.has_errors);
        assert!(report.findings_text.contains("warning"));

        let windows_off = ClusterFixture::new()
            .node("win-1", OsFamily::Windows, "npwin")
            .strict(false)
            .build();
        let report = render_ipam_report(&windows_off, &IpamReportOptions::default());
        assert!(report.has_errors);
        assert!(
            report
                .findings_text
                .contains("global strict affinity should not be false")
        );
        assert_eq!(report.json["hasErrors"], true);
    }
}

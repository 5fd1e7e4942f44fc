//! The IPAM view on `TestBackend` at 120x40 and 80x24, as insta snapshots, from fixture
//! snapshots; plus the glyph rules and the zoom/cursor state.
#![allow(clippy::unwrap_used)]

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;
use crate::model::ipam::fixtures::{BlockFixture, ClusterFixture, aks_hybrid};

/// The AKS-like hybrid fixture (`fixtures::aks_hybrid`): a /22 pool of /26 blocks (16
/// slots), two Windows blocks, two Linux blocks (one lending an address to the other Linux
/// node), an unowned block; strictAffinity off with Windows nodes.
fn hybrid_view() -> IpamView {
    IpamView::from_snapshot(&aks_hybrid().build())
}

fn draw(
    width: u16,
    height: u16,
    state: &IpamViewState,
    view: &IpamView,
    theme: &IpamTheme,
) -> String {
    let rows = state
        .mode
        .table()
        .map(|table| state.rows(view, table).into_owned())
        .unwrap_or_default();
    let list = ListRows {
        rows: &rows,
        selected: 0,
    };
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| render(frame, frame.area(), state, view, theme, list))
        .unwrap();
    format!("{}", terminal.backend())
}

#[test]
fn map_120x40_with_a_windows_block_selected() {
    let view = hybrid_view();
    let state = IpamViewState {
        zoom: Some(0),
        cursor: 0,
        ..IpamViewState::default()
    };
    insta::assert_snapshot!(draw(120, 40, &state, &view, &IpamTheme::default()));
}

#[test]
fn map_80x24_with_the_lending_linux_block_selected() {
    let view = hybrid_view();
    // 10.244.1.0/26 is slot 4 of the /22.
    let state = IpamViewState {
        zoom: Some(0),
        cursor: 4,
        ..IpamViewState::default()
    };
    insta::assert_snapshot!(draw(80, 24, &state, &view, &IpamTheme::plain()));
}

#[test]
fn lists_at_both_sizes() {
    let view = hybrid_view();
    let nodes = IpamViewState {
        mode: IpamMode::Nodes,
        ..IpamViewState::default()
    };
    insta::assert_snapshot!(
        "nodes_120x40",
        draw(120, 40, &nodes, &view, &IpamTheme::plain())
    );
    let borrowed = IpamViewState {
        mode: IpamMode::Borrowed,
        ..IpamViewState::default()
    };
    insta::assert_snapshot!(
        "borrowed_80x24",
        draw(80, 24, &borrowed, &view, &IpamTheme::plain())
    );
}

#[test]
fn a_slash_12_pool_zooms_out_to_fit() {
    let snapshot = ClusterFixture::new()
        .node("lin-1", OsFamily::Linux, "np")
        .pool("big", "10.16.0.0/12", 26)
        .block(
            BlockFixture::new("10.16.0.0/26")
                .owner("lin-1")
                .pods(0, 40, "lin-1", "a"),
        )
        .block(
            BlockFixture::new("10.31.255.192/26")
                .owner("lin-1")
                .pods(0, 64, "lin-1", "b"),
        )
        .strict(true)
        .build();
    let view = IpamView::from_snapshot(&snapshot);
    let screen = draw(
        80,
        24,
        &IpamViewState::default(),
        &view,
        &IpamTheme::plain(),
    );
    insta::assert_snapshot!("slash12_80x24", screen);
}

#[test]
fn glyphs_carry_meaning_without_colour() {
    let cell = |usage: f32, borrowed: bool, orphaned: bool| GridCell {
        claimed: 1,
        usage,
        borrowed,
        orphaned,
        ..GridCell::default()
    };
    assert_eq!(cell_glyph(&GridCell::default()), "·");
    assert_eq!(cell_glyph(&cell(0.1, false, false)), "░");
    assert_eq!(cell_glyph(&cell(0.3, false, false)), "▒");
    assert_eq!(cell_glyph(&cell(0.6, false, false)), "▓");
    assert_eq!(cell_glyph(&cell(1.0, false, false)), "█");
    assert_eq!(cell_glyph(&cell(0.5, true, false)), "*");
    assert_eq!(cell_glyph(&cell(0.5, true, true)), "?");
}

#[test]
fn zoom_keeps_the_selection_and_stops_at_the_ends() {
    let view = hybrid_view();
    let mut state = IpamViewState {
        zoom: Some(0),
        cursor: 5,
        ..IpamViewState::default()
    };
    state.zoom_out(&view, 0);
    assert_eq!((state.zoom, state.cursor), (Some(1), 2));
    state.zoom_in(0);
    assert_eq!((state.zoom, state.cursor), (Some(0), 4));
    state.zoom_in(0);
    assert_eq!(state.zoom, Some(0));
    // 16 slots: levels 0..=4.
    for _ in 0..10 {
        state.zoom_out(&view, 0);
    }
    assert_eq!((state.zoom, state.cursor), (Some(4), 0));
    state.move_cursor(-3, 16);
    assert_eq!(state.cursor, 0);
    state.move_cursor(40, 16);
    assert_eq!(state.cursor, 15);
    state.move_rows(-1, 8, 16);
    assert_eq!(state.cursor, 7);
}

#[test]
fn rows_are_aligned_power_of_two_ranges() {
    // 16 cells: 8 columns x 2 rows (8 * 8 >= 32); 16,384 cells in 78 columns: 64 per row.
    assert_eq!(grid_columns(16, 78), 8);
    assert_eq!(grid_columns(16_384, 78), 64);
    assert_eq!(grid_columns(1, 78), 2);
    assert_eq!(grid_columns(8, 3), 2);
    assert_eq!(
        row_address("10.244.0.0/22".parse().unwrap(), 1, 8 * 64),
        "10.244.2.0"
    );
}

#[test]
fn geometry_matches_what_render_draws() {
    let view = hybrid_view();
    let area = ratatui::layout::Rect::new(0, 0, 120, 40);
    let geometry = map_geometry(area, &IpamViewState::default(), &view).unwrap();
    // 16 slots fit at one block per cell, 8 per row (the snapshot above shows two rows of 8).
    assert_eq!(
        (
            geometry.fitted,
            geometry.level,
            geometry.columns,
            geometry.cells,
            geometry.first_row
        ),
        (0, 0, 8, 16, 0)
    );
    // The map panel is the left part (120 - 40 side), bordered, with a status line and a
    // 16-column address gutter: cells start at x = 1 + 16, y = 1 + 1.
    assert_eq!((geometry.cells_area.x, geometry.cells_area.y), (17, 2));
    // Cell 9 is row 1, column 1; past the eighth column there is no cell.
    assert_eq!(geometry.cell_at(18, 3), Some(9));
    assert_eq!(geometry.cell_at(17 + 8, 2), None);
    assert_eq!(geometry.cell_at(17, 4), None);
}

#[test]
fn node_table_sorted_by_in_use_descending_marks_the_header() {
    let view = hybrid_view();
    let mut state = IpamViewState {
        mode: IpamMode::Nodes,
        ..IpamViewState::default()
    };
    // NODE -> OS -> POOL -> BLOCKS -> CAPACITY -> IN USE, then reversed.
    for _ in 0..5 {
        state.sort_next_column();
    }
    state.reverse_sort();
    state.refresh_order(&view);
    // In use of each node's own block, worked out from the fixture: npwin-0 reserves
    // ordinals 0, 1, 2 and 63 (4) and holds 52 pods: 56; npwin-1 4 + 6 = 10; nplinux-0 a
    // tunnel, 30 pods and the address it lends: 32; nplinux-1 a tunnel and 12 pods: 13. The
    // unowned block counts for nobody.
    let names: Vec<&str> = state
        .order
        .rows
        .iter()
        .map(|&row| view.model.nodes[row].node.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "aks-npwin-00000000",
            "aks-nplinux-00000000",
            "aks-nplinux-00000001",
            "aks-npwin-00000001"
        ]
    );
    let screen = draw(120, 40, &state, &view, &IpamTheme::plain());
    assert!(screen.contains("IN USE ▼"), "{screen}");
    assert!(screen.contains("sorted by IN USE ▼"), "{screen}");
    insta::assert_snapshot!("nodes_by_in_use_120x40", screen);
    let narrow = draw(80, 24, &state, &view, &IpamTheme::plain());
    assert!(narrow.contains("USED ▼"), "{narrow}");
    insta::assert_snapshot!("nodes_by_in_use_80x24", narrow);
}

#[test]
fn pool_table_at_both_sizes() {
    let view = hybrid_view();
    let state = IpamViewState {
        mode: IpamMode::Pools,
        ..IpamViewState::default()
    };
    insta::assert_snapshot!(
        "pools_120x40",
        draw(120, 40, &state, &view, &IpamTheme::plain())
    );
    insta::assert_snapshot!(
        "pools_80x24",
        draw(80, 24, &state, &view, &IpamTheme::plain())
    );
}

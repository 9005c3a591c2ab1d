//! The comparison's own logic, on hand-made cells: which rows differ,
//! what a cell says in Markdown and HTML, and that text is escaped.

use std::time::Duration;

use super::*;

fn cell(dialect: DialectId, state: CellState, outcome: Option<&str>, conforms: bool) -> Cell {
    Cell {
        column: format!("emulator::{dialect}"),
        target: "emulator".into(),
        dialect,
        address: format!("emulator::{dialect}::portable.t::s"),
        state,
        expected: "ip-in-use".into(),
        why: None,
        reason: (state == CellState::NotApplicable).then(|| "no list <here>".into()),
        observed: outcome.map(|o| Observed {
            outcome: o.into(),
            kind: o.parse().ok(),
            code: (o != "ok").then(|| "Code|X".into()),
            http_status: Some(if o == "ok" { 200 } else { 403 }),
            call: "Assign".into(),
            latency: Duration::from_micros(2500),
        }),
        conforms,
        elapsed: Duration::from_millis(3),
        result: None,
    }
}

fn plan() -> ScenarioPlan {
    ScenarioPlan {
        file: "cases/portable/t.yaml".into(),
        group: "portable.t".into(),
        id: "s".into(),
        title: "a <title> | with a pipe".into(),
        source: None,
        line: 3,
        cells: Default::default(),
    }
}

fn doc(rows: Vec<Row>) -> Comparison {
    let summary = summarize(&rows, 2);
    Comparison {
        schema_version: SCHEMA_VERSION,
        kind: DOCUMENT_KIND,
        run: RunHead {
            run_id: "r1".into(),
            started_at: "now".into(),
            version: "0",
            elapsed_ms: 1,
        },
        columns: [DialectId::AlibabaEcs, DialectId::NaverVpc]
            .iter()
            .map(|d| ColumnHead {
                id: format!("emulator::{d}"),
                target: "emulator".into(),
                dialect: *d,
            })
            .collect(),
        legend: LEGEND.to_vec(),
        summary,
        rows,
    }
}

#[test]
fn a_row_differs_only_by_the_outcomes_of_cells_that_ran() {
    let same = row(
        &plan(),
        vec![
            cell(
                DialectId::AlibabaEcs,
                CellState::Ran,
                Some("ip-in-use"),
                true,
            ),
            cell(DialectId::AlibabaEns, CellState::NotApplicable, None, true),
            cell(
                DialectId::TencentVpcV2,
                CellState::Ran,
                Some("ip-in-use"),
                true,
            ),
        ],
    );
    assert!(!same.differs, "n/a is not an outcome");
    let differs = row(
        &plan(),
        vec![
            cell(
                DialectId::AlibabaEcs,
                CellState::Ran,
                Some("ip-in-use"),
                true,
            ),
            cell(DialectId::NaverVpc, CellState::Ran, Some("ok"), true),
        ],
    );
    assert!(differs.differs);
    assert_eq!(differs.outcomes, ["ip-in-use", "ok"]);
}

#[test]
fn the_summary_counts_failures_and_not_applicable_apart() {
    let d = doc(vec![row(
        &plan(),
        vec![
            cell(DialectId::AlibabaEcs, CellState::Ran, Some("ok"), false),
            cell(DialectId::NaverVpc, CellState::NotApplicable, None, true),
        ],
    )]);
    assert_eq!((d.summary.failing, d.summary.not_applicable), (1, 1));
    assert!(!d.summary.all_conform());
}

#[test]
fn markdown_cells_say_verdict_outcome_code_status_and_latency() {
    let c = cell(
        DialectId::AlibabaEcs,
        CellState::Ran,
        Some("ip-in-use"),
        true,
    );
    assert_eq!(
        markdown::cell_text(&c),
        "✓ ip-in-use · `Code|X` · 403 · 2.5 ms"
    );
    let mut wrong = cell(DialectId::NaverVpc, CellState::Ran, Some("ok"), false);
    wrong.why = Some("seed 004".into());
    assert_eq!(
        markdown::cell_text(&wrong),
        "✗ ok* · 200 · 2.5 ms (documented: ip-in-use)"
    );
    let na = cell(DialectId::AlibabaEns, CellState::NotApplicable, None, true);
    assert_eq!(markdown::cell_text(&na), "n/a");
    let text = markdown::render(&doc(vec![row(&plan(), vec![c, wrong])]));
    // A pipe in a title or a code would end the table cell.
    assert!(text.contains("a <title> \\| with a pipe"), "{text}");
    assert!(text.contains("`Code\\|X`"), "{text}");
    assert!(text.contains("**s** ⚠ differs"), "{text}");
    assert!(
        text.contains("`naver-vpc` documents **ip-in-use**: seed 004"),
        "{text}"
    );
}

#[test]
fn html_has_stable_ids_classes_and_escapes_everything() {
    let d = doc(vec![row(
        &plan(),
        vec![
            cell(
                DialectId::AlibabaEcs,
                CellState::Ran,
                Some("ip-in-use"),
                true,
            ),
            cell(DialectId::NaverVpc, CellState::NotApplicable, None, true),
        ],
    )]);
    let page = html::render(&d, &html::ReportDetail);
    assert!(page.contains("<table id=\"matrix\">"));
    assert!(page.contains("<section id=\"legend\">"));
    assert!(
        page.contains("class=\"cell outcome-ip-in-use conforms\""),
        "{page}"
    );
    assert!(page.contains("class=\"cell outcome-na na\""), "{page}");
    assert!(page.contains("href=\"#d-s--emulator--alibaba-ecs\""));
    assert!(page.contains("id=\"d-s--emulator--alibaba-ecs\""));
    assert!(page.contains("a &lt;title&gt; | with a pipe"));
    assert!(page.contains("no list &lt;here&gt;"));
    assert!(!page.contains("<title>") || page.matches("<title>").count() == 1);
    // Self-contained: no external stylesheet, script or image.
    for external in ["<link", "<script", "src=\"http", "href=\"http"] {
        assert!(!page.contains(external), "{external}");
    }
}

#[test]
fn latencies_read_as_people_write_them() {
    assert_eq!(latency(Duration::from_micros(850)), "850 µs");
    assert_eq!(latency(Duration::from_micros(2500)), "2.5 ms");
    assert_eq!(latency(Duration::from_millis(42)), "42 ms");
}

#[test]
fn agreeing_outcomes_with_a_documented_difference_differ_in_state() {
    let mut tencent = cell(DialectId::TencentVpcV2, CellState::Ran, Some("ok"), true);
    tencent.why = Some("a running task is not listed yet".into());
    let r = row(
        &plan(),
        vec![
            cell(DialectId::AlibabaEcs, CellState::Ran, Some("ok"), true),
            tencent,
        ],
    );
    assert!(!r.differs);
    assert!(r.documented_difference);
    let text = markdown::matrix(&doc(vec![r]));
    assert!(text.contains("**s** ⚠ differs in state"), "{text}");
}

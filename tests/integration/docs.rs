//! Docs that cannot drift: README's help block is `scan --help`, README's
//! finding-code table (the contract, in the project's own words) is
//! `FindingCode::ALL`, and `fixtures/README.md` names a scenario for every
//! code. Everything checked lives in this repository.

use std::process::Command;

use beian_audit::rules::FindingCode;

const README: &str = include_str!("../../README.md");

fn scan_help() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_beian-audit"))
        .args(["scan", "--help"])
        .env_remove("CHROME")
        .env("COLUMNS", "100")
        .output()
        .expect("run beian-audit scan --help");
    assert!(out.status.success(), "scan --help failed: {out:?}");
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

#[test]
fn readme_help_block_is_scan_help() {
    let start = "<!-- help:scan:start -->\n```text\n";
    let end = "```\n<!-- help:scan:end -->";
    let from = README
        .find(start)
        .expect("README has the help:scan:start marker")
        + start.len();
    let to = README
        .find(end)
        .expect("README has the help:scan:end marker");
    let help = scan_help();
    pretty_assertions::assert_eq!(
        &README[from..to],
        help.as_str(),
        "README's help block is stale; paste `beian-audit scan --help` (COLUMNS=100) between the markers"
    );
}

/// The codes of a Markdown table whose rows start "| `code` | rule | severity".
fn table_codes(doc: &str) -> Vec<String> {
    doc.lines()
        .filter_map(|line| {
            let mut cells = line.split('|').map(str::trim).skip(1);
            let code = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            let _rule = cells.next()?;
            matches!(cells.next()?, "error" | "warning").then(|| code.to_owned())
        })
        .collect()
}

#[test]
fn readme_code_table_is_finding_code_all() {
    let ours: Vec<String> = FindingCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    pretty_assertions::assert_eq!(table_codes(README), ours, "README vs FindingCode::ALL");
}

#[test]
fn readme_code_table_agrees_on_rule_and_severity() {
    for code in FindingCode::ALL {
        let row = format!(
            "| `{}` | {} | {}",
            code.as_str(),
            serde_json::to_value(code.rule()).unwrap().as_str().unwrap(),
            serde_json::to_value(code.severity())
                .unwrap()
                .as_str()
                .unwrap()
        );
        assert!(README.contains(&row), "README has no row starting {row:?}");
    }
}

/// Every finding code is produced end to end by some fixture scenario
/// (issue #3): `fixtures/README.md` names each one in a table row saying
/// which site or record file, and which test, produces it.
#[test]
fn every_finding_code_has_a_fixture_scenario() {
    let fixtures = include_str!("../../fixtures/README.md");
    let rows: Vec<&str> = fixtures
        .lines()
        .filter(|line| line.starts_with("| `"))
        .collect();
    let missing: Vec<&str> = FindingCode::ALL
        .iter()
        .map(|code| code.as_str())
        .filter(|code| !rows.iter().any(|row| row.contains(&format!("`{code}`"))))
        .collect();
    assert!(
        missing.is_empty(),
        "fixtures/README.md names no scenario for {missing:?}"
    );
}

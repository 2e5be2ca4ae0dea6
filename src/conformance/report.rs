//! The report of a run: one row per case (expected per our table, observed, verdict), the
//! node's version, and what each difference means for the daemon. A table for people,
//! the same as JSON for bug reports.

use serde::Serialize;
use serde_json::Value;

use super::catalog::CaseInfo;
use super::checks::{Outcome, Verdict};

/// One case's row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub case: &'static str,
    /// The docs/loxilb-compat.md row the case checks.
    pub compat_row: &'static str,
    pub expected: Vec<String>,
    pub observed: Vec<String>,
    pub verdict: Outcome,
    /// For a difference: what the daemon will get wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consequence: Option<&'static str>,
}

impl Row {
    pub fn new(info: &CaseInfo, v: Verdict) -> Row {
        Row {
            case: info.name,
            compat_row: info.row,
            consequence: (v.outcome == Outcome::Diff).then_some(info.consequence),
            expected: v.expected,
            observed: v.observed,
            verdict: v.outcome,
        }
    }
}

/// Counts per verdict.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub diff: usize,
    pub skip: usize,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run_id: String,
    pub node: String,
    /// `version` of LoxiLB's /version (None in a dry run).
    pub loxilb_version: Option<String>,
    pub build_info: Option<String>,
    /// The release whose behaviour was expected.
    pub expected_release: String,
    /// Why the expected release is not the reported one, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub cases: Vec<Row>,
    pub summary: Summary,
    /// Objects of the run still on the node after clean-up (should be empty).
    pub left_behind: Vec<String>,
}

impl Report {
    /// Count the verdicts into `summary`.
    pub fn tally(&mut self) {
        let mut s = Summary::default();
        for r in &self.cases {
            match r.verdict {
                Outcome::Pass => s.pass += 1,
                Outcome::Diff => s.diff += 1,
                Outcome::Skip => s.skip += 1,
            }
        }
        self.summary = s;
    }

    pub fn differences(&self) -> usize {
        self.cases
            .iter()
            .filter(|r| r.verdict == Outcome::Diff)
            .count()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The human form: header, table, differences, summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let version = self.loxilb_version.as_deref().unwrap_or("not read");
        let build = self.build_info.as_deref().unwrap_or("-");
        out.push_str(&format!(
            "LoxiLB {}: version {version} (build {build}); expecting v{} behaviour\n",
            self.node, self.expected_release
        ));
        if let Some(n) = &self.note {
            out.push_str(&format!("note: {n}\n"));
        }
        let rows: Vec<Value> = self
            .cases
            .iter()
            .map(|r| {
                // One line per check inside a cell keeps the table narrow.
                serde_json::json!({"case": r.case, "expected": r.expected.join("\n"),
                    "observed": r.observed.join("\n"), "verdict": r.verdict.as_str()})
            })
            .collect();
        out.push_str(&crate::cli::table::render(
            &rows,
            Some(&["case", "expected", "observed", "verdict"]),
        ));
        out.push('\n');
        let diffs: Vec<&Row> = self
            .cases
            .iter()
            .filter(|r| r.verdict == Outcome::Diff)
            .collect();
        if !diffs.is_empty() {
            out.push_str("\nDifferences from docs/loxilb-compat.md:\n");
            for r in diffs {
                out.push_str(&format!(
                    "- {} (row \"{}\"): {}\n",
                    r.case,
                    r.compat_row,
                    r.consequence.unwrap_or_default()
                ));
            }
        }
        let s = self.summary;
        out.push_str(&format!(
            "\n{} passed, {} differ, {} skipped (run id {})\n",
            s.pass, s.diff, s.skip, self.run_id
        ));
        if !self.left_behind.is_empty() {
            out.push_str(&format!(
                "left on the node: {} (remove with --cleanup {})\n",
                self.left_behind.join(", "),
                self.run_id
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::catalog::CASES;

    #[test]
    fn a_difference_names_its_row_and_consequence() {
        let mut report = Report {
            run_id: "ab12cd34".into(),
            node: "http://127.0.0.1:1".into(),
            loxilb_version: Some("0.9.8.8".into()),
            build_info: None,
            expected_release: "0.9.8.8".into(),
            note: None,
            cases: vec![
                Row::new(
                    &CASES[0],
                    Verdict {
                        outcome: Outcome::Pass,
                        expected: vec!["a".into()],
                        observed: vec!["a".into()],
                    },
                ),
                Row::new(
                    &CASES[1],
                    Verdict {
                        outcome: Outcome::Diff,
                        expected: vec!["b".into()],
                        observed: vec!["c".into()],
                    },
                ),
            ],
            summary: Summary::default(),
            left_behind: vec![],
        };
        report.tally();
        assert_eq!(report.differences(), 1);
        let text = report.render();
        assert!(text.contains("DIFF") && text.contains("PASS"), "{text}");
        assert!(text.contains(CASES[1].consequence), "{text}");
        assert!(text.contains("1 passed, 1 differ, 0 skipped"), "{text}");
        let json: Value = serde_json::from_str(&report.to_json()).unwrap_or_default();
        assert_eq!(json["cases"][1]["verdict"], "DIFF");
        assert_eq!(json["cases"][1]["compat_row"], CASES[1].row);
        assert!(json["cases"][0].get("consequence").is_none());
        assert_eq!(json["summary"]["diff"], 1);
    }
}

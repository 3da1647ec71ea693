//! Reports: per-suite counts, failures by name, the known-failures list,
//! and the table/JSON/summary renderings.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::script::{Case, Outcome};

/// The outcome of one script.
#[derive(Clone, Debug)]
pub struct ScriptReport {
    /// The suite the script belongs to.
    pub suite: String,
    /// The file name.
    pub file: String,
    /// One entry per directive.
    pub cases: Vec<Case>,
}

/// Failures expected for now, each with its reason, from
/// `spec-tests/known-failures.txt`. A pattern is `suite/file.wast:line`,
/// `suite/file.wast:*` or `suite/*`.
#[derive(Clone, Debug, Default)]
pub struct KnownFailures {
    entries: Vec<(String, String)>,
}

impl KnownFailures {
    /// The list that applies to the embedded official suites.
    pub fn official() -> KnownFailures {
        KnownFailures::parse(include_str!("../known-failures.txt"))
    }

    /// Parses `pattern  # reason` lines; `#`-only lines are comments.
    pub fn parse(text: &str) -> KnownFailures {
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| match l.split_once('#') {
                Some((p, r)) => (p.trim().to_string(), r.trim().to_string()),
                None => (l.to_string(), String::new()),
            })
            .collect();
        KnownFailures { entries }
    }

    /// The reason a case is known to fail, if it is.
    pub fn reason(&self, id: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(pattern, _)| pattern_matches(pattern, id))
            .map(|(_, reason)| reason.as_str())
    }

    /// Entries that match none of `failed_ids`: fixed cases that should
    /// leave the list.
    pub fn stale<'a>(&'a self, failed_ids: &[&str]) -> Vec<&'a str> {
        self.entries
            .iter()
            .filter(|(pattern, _)| !failed_ids.iter().any(|id| pattern_matches(pattern, id)))
            .map(|(pattern, _)| pattern.as_str())
            .collect()
    }
}

fn pattern_matches(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => id == pattern,
    }
}

#[derive(Clone, Debug, Default)]
struct SuiteCounts {
    passed: usize,
    failed: usize,
    known: usize,
    skipped: usize,
}

/// A failed case.
#[derive(Clone, Debug)]
struct Failure {
    id: String,
    directive: &'static str,
    message: String,
    known_reason: Option<String>,
}

/// The whole run.
#[derive(Clone, Debug)]
pub struct Report {
    suites: BTreeMap<String, SuiteCounts>,
    stale: Vec<String>,
    failures: Vec<Failure>,
    skips: BTreeMap<String, usize>,
}

impl Report {
    /// Classifies every case against the known-failures list.
    pub fn new(scripts: Vec<ScriptReport>, known: &KnownFailures) -> Report {
        let mut suites: BTreeMap<String, SuiteCounts> = BTreeMap::new();
        let mut failures = Vec::new();
        let mut skips = BTreeMap::new();
        for s in scripts {
            let counts = suites.entry(s.suite.clone()).or_default();
            for c in s.cases {
                let id = format!("{}/{}:{}", s.suite, s.file, c.line);
                match c.outcome {
                    Outcome::Pass => counts.passed += 1,
                    Outcome::Skip(reason) => {
                        counts.skipped += 1;
                        *skips.entry(reason).or_insert(0) += 1;
                    }
                    Outcome::Fail(message) => {
                        counts.failed += 1;
                        let known_reason = known.reason(&id).map(str::to_string);
                        if known_reason.is_some() {
                            counts.known += 1;
                        }
                        failures.push(Failure {
                            id,
                            directive: c.directive,
                            message,
                            known_reason,
                        });
                    }
                }
            }
        }
        let failed: Vec<&str> = failures.iter().map(|f: &Failure| f.id.as_str()).collect();
        let stale = known
            .stale(&failed)
            .into_iter()
            .map(str::to_string)
            .collect();
        Report {
            suites,
            stale,
            failures,
            skips,
        }
    }

    fn total(&self) -> SuiteCounts {
        let mut t = SuiteCounts::default();
        for c in self.suites.values() {
            t.passed += c.passed;
            t.failed += c.failed;
            t.known += c.known;
            t.skipped += c.skipped;
        }
        t
    }

    /// Failures not on the known-failures list.
    pub fn unexpected_failures(&self) -> usize {
        self.failures
            .iter()
            .filter(|f| f.known_reason.is_none())
            .count()
    }

    /// Known-failure entries that matched no failing case.
    pub fn stale_known_failures(&self) -> &[String] {
        &self.stale
    }

    /// The last line: `spec: N passed, N failed, N skipped`.
    pub fn summary_line(&self) -> String {
        let t = self.total();
        format!(
            "spec: {} passed, {} failed, {} skipped",
            t.passed, t.failed, t.skipped
        )
    }

    /// A per-suite table, then every unexpected failure by name, the known
    /// failures grouped by reason, and the skips by reason.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<48} {:>7} {:>7} {:>7} {:>7}",
            "suite", "passed", "failed", "known", "skipped"
        );
        for (name, c) in &self.suites {
            let _ = writeln!(
                out,
                "{:<48} {:>7} {:>7} {:>7} {:>7}",
                name, c.passed, c.failed, c.known, c.skipped
            );
        }
        let unexpected: Vec<&Failure> = self
            .failures
            .iter()
            .filter(|f| f.known_reason.is_none())
            .collect();
        if !unexpected.is_empty() {
            let _ = writeln!(out, "\nunexpected failures ({}):", unexpected.len());
            for f in unexpected {
                let _ = writeln!(out, "  {} {}: {}", f.id, f.directive, f.message);
            }
        }
        let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &self.failures {
            if let Some(r) = &f.known_reason {
                *by_reason.entry(r.as_str()).or_insert(0) += 1;
            }
        }
        if !by_reason.is_empty() {
            let _ = writeln!(
                out,
                "\nknown failures by reason (spec-tests/known-failures.txt):"
            );
            for (reason, n) in by_reason {
                let _ = writeln!(out, "  {n:>6}  {reason}");
            }
        }
        if !self.stale.is_empty() {
            let _ = writeln!(out, "\nknown-failure entries that now pass (remove them):");
            for p in &self.stale {
                let _ = writeln!(out, "  {p}");
            }
        }
        if !self.skips.is_empty() {
            let _ = writeln!(out, "\nskipped by reason:");
            for (reason, n) in &self.skips {
                let _ = writeln!(out, "  {n:>6}  {reason}");
            }
        }
        let t = self.total();
        let _ = writeln!(
            out,
            "\n{} of {} failures are known; {} unexpected",
            t.known,
            t.failed,
            self.unexpected_failures()
        );
        out
    }

    /// The report as a JSON document.
    pub fn to_json(&self) -> String {
        let t = self.total();
        let mut out = String::from("{\"suites\":[");
        for (i, (name, c)) in self.suites.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"name\":{},\"passed\":{},\"failed\":{},\"known\":{},\"skipped\":{}}}",
                json_str(name),
                c.passed,
                c.failed,
                c.known,
                c.skipped
            );
        }
        out.push_str("],\"failures\":[");
        for (i, f) in self.failures.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"id\":{},\"directive\":{},\"message\":{},\"known\":{}}}",
                json_str(&f.id),
                json_str(f.directive),
                json_str(&f.message),
                f.known_reason
                    .as_deref()
                    .map(json_str)
                    .unwrap_or_else(|| "null".into())
            );
        }
        let _ = write!(
            out,
            "],\"passed\":{},\"failed\":{},\"known\":{},\"unexpected\":{},\"skipped\":{}}}",
            t.passed,
            t.failed,
            t.known,
            self.unexpected_failures(),
            t.skipped
        );
        out
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_lines_files_and_suites() {
        let k = KnownFailures::parse(
            "# comment\nwasm-v3/a.wast:3  # one line\nproposals/gc/*  # no GC yet\nx/b.wast:*  # file\n",
        );
        assert_eq!(k.reason("wasm-v3/a.wast:3"), Some("one line"));
        assert_eq!(k.reason("wasm-v3/a.wast:30"), None);
        assert_eq!(k.reason("proposals/gc/array.wast:9"), Some("no GC yet"));
        assert_eq!(k.reason("x/b.wast:1"), Some("file"));
        assert_eq!(k.reason("x/c.wast:1"), None);
    }

    #[test]
    fn a_failing_script_is_counted_and_named() {
        let cases = crate::run_script(
            "(module (func (export \"f\") (result i32) (i32.const 1)))\n\
             (assert_return (invoke \"f\") (i32.const 1))\n\
             (assert_return (invoke \"f\") (i32.const 2))\n",
            &wrun_runtime::Config::default(),
        );
        let report = Report::new(
            vec![ScriptReport {
                suite: "t".into(),
                file: "x.wast".into(),
                cases,
            }],
            &KnownFailures::default(),
        );
        assert_eq!(report.summary_line(), "spec: 2 passed, 1 failed, 0 skipped");
        assert_eq!(report.unexpected_failures(), 1);
        assert!(report.to_table().contains("t/x.wast:3"));
    }
}

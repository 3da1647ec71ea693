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
/// `spec-tests/known-failures.txt`.
///
/// Every entry names cases one by one: `suite/file.wast:LINES  # reason`,
/// where LINES is a comma-separated list of directive lines and inclusive
/// ranges (`12,40-57`). There are no wildcards: a case of a listed file
/// that passes while an entry covers it is an error ("now passes"), and so
/// is an entry that covers no failing case, so a regression can never hide
/// behind a broad pattern and a fixed case must leave the list.
#[derive(Clone, Debug, Default)]
pub struct KnownFailures {
    entries: Vec<KnownEntry>,
}

/// One line of the known-failures list.
#[derive(Clone, Debug)]
struct KnownEntry {
    /// `suite/file.wast`.
    file: String,
    /// Inclusive line ranges.
    lines: Vec<(usize, usize)>,
    /// Why these cases fail.
    reason: String,
    /// The entry's line in the list, for messages.
    list_line: usize,
}

impl KnownEntry {
    fn covers(&self, file: &str, line: usize) -> bool {
        self.file == file && self.lines.iter().any(|&(a, b)| a <= line && line <= b)
    }

    /// The entry as written in the list (without its reason).
    fn pattern(&self) -> String {
        format!("{}:{}", self.file, format_ranges(&self.lines))
    }
}

impl KnownFailures {
    /// The list that applies to the embedded official suites.
    pub fn official() -> Result<KnownFailures, String> {
        KnownFailures::parse(include_str!("../known-failures.txt"))
            .map_err(|e| format!("spec-tests/known-failures.txt: {e}"))
    }

    /// Parses `suite/file.wast:LINES  # reason` lines; blank lines and
    /// lines starting with `#` are comments. A malformed line is an error
    /// naming its line number.
    pub fn parse(text: &str) -> Result<KnownFailures, String> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let list_line = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (pattern, reason) = match line.split_once('#') {
                Some((p, r)) => (p.trim(), r.trim()),
                None => (line, ""),
            };
            if reason.is_empty() {
                return Err(format!("line {list_line}: an entry needs a `# reason`"));
            }
            let (file, lines) = pattern
                .rsplit_once(':')
                .ok_or_else(|| format!("line {list_line}: expected `suite/file.wast:LINES`"))?;
            let lines = parse_ranges(lines)
                .ok_or_else(|| format!("line {list_line}: bad line list `{lines}` (wildcards are not allowed; name each case's line or a range `a-b`)"))?;
            entries.push(KnownEntry {
                file: file.to_string(),
                lines,
                reason: reason.to_string(),
                list_line,
            });
        }
        Ok(KnownFailures { entries })
    }

    /// The entry covering case `line` of `file` (`suite/file.wast`).
    fn entry(&self, file: &str, line: usize) -> Option<usize> {
        self.entries.iter().position(|e| e.covers(file, line))
    }

    /// The reason case `suite/file.wast:line` is known to fail, if listed.
    pub fn reason(&self, id: &str) -> Option<&str> {
        let (file, line) = id.rsplit_once(':')?;
        let line = line.parse().ok()?;
        self.entry(file, line)
            .map(|i| self.entries[i].reason.as_str())
    }
}

/// Parses `12,40-57` into inclusive ranges; `None` if malformed or empty.
fn parse_ranges(text: &str) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let n = part.parse().ok()?;
                (n, n)
            }
        };
        if a == 0 || a > b {
            return None;
        }
        out.push((a, b));
    }
    (!out.is_empty()).then_some(out)
}

fn format_ranges(ranges: &[(usize, usize)]) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    parts.join(",")
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

/// A case a known-failures entry covers that passed.
#[derive(Clone, Debug)]
struct NowPassing {
    id: String,
    entry: String,
}

/// The whole run.
#[derive(Clone, Debug)]
pub struct Report {
    suites: BTreeMap<String, SuiteCounts>,
    stale: Vec<String>,
    now_passing: Vec<NowPassing>,
    failures: Vec<Failure>,
    skips: BTreeMap<String, usize>,
    /// The known-failures list this run implies, for `--write-known-failures`.
    implied_list: String,
}

impl Report {
    /// Classifies every case against the known-failures list: a failure
    /// the list does not cover is unexpected, a covered case that passes
    /// "now passes", and an entry of a file that ran but covers no failing
    /// case is stale. Each of the three fails the run.
    pub fn new(scripts: Vec<ScriptReport>, known: &KnownFailures) -> Report {
        let mut suites: BTreeMap<String, SuiteCounts> = BTreeMap::new();
        let mut failures = Vec::new();
        let mut now_passing = Vec::new();
        let mut skips = BTreeMap::new();
        let mut entry_hits = vec![0usize; known.entries.len()];
        let mut files_run = std::collections::BTreeSet::new();
        let mut implied = ImpliedList::default();
        for s in scripts {
            let counts = suites.entry(s.suite.clone()).or_default();
            let file = format!("{}/{}", s.suite, s.file);
            let mut cases = s.cases;
            cases.sort_by_key(|c| c.line);
            for c in cases {
                let id = format!("{file}:{}", c.line);
                let entry = known.entry(&file, c.line);
                match c.outcome {
                    Outcome::Pass => {
                        counts.passed += 1;
                        implied.case(&file, c.line, None);
                        if let Some(e) = entry {
                            now_passing.push(NowPassing {
                                id,
                                entry: format!(
                                    "line {}: {}",
                                    known.entries[e].list_line,
                                    known.entries[e].pattern()
                                ),
                            });
                        }
                    }
                    Outcome::Skip(reason) => {
                        counts.skipped += 1;
                        implied.case(&file, c.line, None);
                        *skips.entry(reason).or_insert(0) += 1;
                    }
                    Outcome::Fail(message) => {
                        counts.failed += 1;
                        let known_reason = entry.map(|e| known.entries[e].reason.clone());
                        if let Some(e) = entry {
                            counts.known += 1;
                            entry_hits[e] += 1;
                        }
                        let listed_as = known_reason
                            .clone()
                            .unwrap_or_else(|| UNEXPLAINED.to_string());
                        implied.case(&file, c.line, Some(listed_as));
                        failures.push(Failure {
                            id,
                            directive: c.directive,
                            message,
                            known_reason,
                        });
                    }
                }
            }
            implied.end_file();
            files_run.insert(file);
        }
        let stale = known
            .entries
            .iter()
            .zip(&entry_hits)
            .filter(|(e, hits)| **hits == 0 && files_run.contains(&e.file))
            .map(|(e, _)| format!("line {}: {}", e.list_line, e.pattern()))
            .collect();
        Report {
            suites,
            stale,
            now_passing,
            failures,
            skips,
            implied_list: implied.finish(),
        }
    }

    /// The known-failures list that matches this run exactly: the current
    /// reasons kept, new failures marked `UNEXPLAINED` with their message
    /// (replace it with the real reason before committing).
    pub fn implied_known_failures(&self) -> &str {
        &self.implied_list
    }

    /// No unexpected failure, no listed case that now passes, no stale entry.
    pub fn is_clean(&self) -> bool {
        self.unexpected_failures() == 0 && self.now_passing.is_empty() && self.stale.is_empty()
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

    /// Known-failure entries of files that ran that matched no failing case.
    pub fn stale_known_failures(&self) -> &[String] {
        &self.stale
    }

    /// Cases a known-failures entry covers that passed, with the entry.
    pub fn now_passing(&self) -> Vec<String> {
        self.now_passing
            .iter()
            .map(|n| format!("{} (entry {})", n.id, n.entry))
            .collect()
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
        if !self.now_passing.is_empty() {
            let _ = writeln!(
                out,
                "\nlisted as known failures but passed ({}; take them off the list):",
                self.now_passing.len()
            );
            for n in &self.now_passing {
                let _ = writeln!(out, "  {} (entry {})", n.id, n.entry);
            }
        }
        if !self.stale.is_empty() {
            let _ = writeln!(
                out,
                "\nknown-failure entries that cover no failing case ({}; remove them):",
                self.stale.len()
            );
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
            "\n{} of {} failures are known; {} unexpected; {} listed cases now pass; {} stale entries",
            t.known,
            t.failed,
            self.unexpected_failures(),
            self.now_passing.len(),
            self.stale.len()
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
            "],\"passed\":{},\"failed\":{},\"known\":{},\"unexpected\":{},\"now_passing\":{},\"stale\":{},\"skipped\":{}}}",
            t.passed,
            t.failed,
            t.known,
            self.unexpected_failures(),
            self.now_passing.len(),
            self.stale.len(),
            t.skipped
        );
        out
    }
}

/// One entry of an implied list: a file, a reason and the line ranges.
struct ImpliedEntry {
    file: String,
    reason: String,
    ranges: Vec<(usize, usize)>,
}

/// Builds the known-failures list a run implies: per file, maximal runs of
/// consecutive failing cases with one reason become line ranges.
#[derive(Default)]
struct ImpliedList {
    entries: Vec<ImpliedEntry>,
    /// The open run: (reason, first line, last line).
    run: Option<(String, usize, usize)>,
    file: String,
}

impl ImpliedList {
    /// Adds the next case of `file` (in line order): `reason` is `None`
    /// when it did not fail.
    fn case(&mut self, file: &str, line: usize, reason: Option<String>) {
        if self.file != file {
            self.end_file();
            self.file = file.to_string();
        }
        match (&mut self.run, reason) {
            (Some((r, _, last)), Some(reason)) if *r == reason => *last = line,
            (_, reason) => {
                self.close_run();
                self.run = reason.map(|r| (r, line, line));
            }
        }
    }

    fn close_run(&mut self) {
        let Some((reason, a, b)) = self.run.take() else {
            return;
        };
        match self
            .entries
            .iter_mut()
            .find(|e| e.file == self.file && e.reason == reason)
        {
            Some(e) => e.ranges.push((a, b)),
            None => self.entries.push(ImpliedEntry {
                file: self.file.clone(),
                reason,
                ranges: vec![(a, b)],
            }),
        }
    }

    fn end_file(&mut self) {
        self.close_run();
    }

    fn finish(mut self) -> String {
        self.end_file();
        self.entries
            .sort_by(|a, b| (&a.file, a.ranges[0]).cmp(&(&b.file, b.ranges[0])));
        let mut out = String::from(KNOWN_FAILURES_HEADER);
        for e in &self.entries {
            let ranges = format_ranges(&e.ranges);
            let _ = writeln!(out, "{}:{ranges}  # {}", e.file, e.reason);
        }
        out
    }
}

/// The reason written for a failure the list did not cover (each case's
/// message is in the report).
const UNEXPLAINED: &str =
    "UNEXPLAINED: see this case's message in the report, then write the reason";

/// The comment that opens a written known-failures list.
const KNOWN_FAILURES_HEADER: &str = "\
# Cases of the embedded official suites that wrun does not pass yet, one
# entry per file and reason: `suite/file.wast:LINES  # reason`, LINES being
# directive lines and inclusive ranges of consecutive failing cases. No
# wildcards: `wrun spec` fails when a failure is not listed, when a listed
# case passes and when an entry covers no failing case. Regenerate with
# `wrun spec --write-known-failures spec-tests/known-failures.txt` (reasons
# are kept; new failures are marked UNEXPLAINED and must be explained).

";

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
    fn entries_name_lines_and_ranges() {
        let k = KnownFailures::parse(
            "# comment\nwasm-v3/a.wast:3  # one line\nproposals/gc/b.wast:5,10-12  # no GC yet\n",
        )
        .unwrap();
        assert_eq!(k.reason("wasm-v3/a.wast:3"), Some("one line"));
        assert_eq!(k.reason("wasm-v3/a.wast:30"), None);
        assert_eq!(k.reason("proposals/gc/b.wast:5"), Some("no GC yet"));
        assert_eq!(k.reason("proposals/gc/b.wast:11"), Some("no GC yet"));
        assert_eq!(k.reason("proposals/gc/b.wast:9"), None);
        assert_eq!(k.reason("proposals/gc/c.wast:5"), None);
    }

    #[test]
    fn wildcards_and_missing_reasons_are_rejected() {
        for bad in [
            "proposals/gc/*  # no GC",
            "x/a.wast:*  # file",
            "x/a.wast:3",
            "x/a.wast:9-3  # backwards",
            "x/a.wast  # no lines",
        ] {
            assert!(KnownFailures::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    fn report_of(text: &str, list: &str) -> Report {
        let cases = crate::run_script(text, &wrun_runtime::Config::default());
        let known = KnownFailures::parse(list).unwrap();
        Report::new(
            vec![ScriptReport {
                suite: "t".into(),
                file: "x.wast".into(),
                cases,
            }],
            &known,
        )
    }

    const TWO_FAILURES: &str = "(module (func (export \"f\") (result i32) (i32.const 1)))\n\
        (assert_return (invoke \"f\") (i32.const 2))\n\
        (assert_return (invoke \"f\") (i32.const 3))\n\
        (assert_return (invoke \"f\") (i32.const 1))\n\
        (assert_return (invoke \"f\") (i32.const 4))\n";

    #[test]
    fn a_listed_case_that_passes_and_a_stale_entry_fail_the_run() {
        let exact = report_of(TWO_FAILURES, "t/x.wast:2-3,5  # wrong on purpose\n");
        assert!(exact.is_clean(), "{}", exact.to_table());
        let too_wide = report_of(TWO_FAILURES, "t/x.wast:2-5  # wrong on purpose\n");
        assert!(!too_wide.is_clean());
        assert_eq!(too_wide.now_passing().len(), 1);
        assert!(too_wide.now_passing()[0].starts_with("t/x.wast:4 "));
        let stale = report_of(
            TWO_FAILURES,
            "t/x.wast:2-3,5  # wrong\nt/x.wast:1  # the module line never fails\n",
        );
        assert!(!stale.is_clean());
        assert_eq!(stale.now_passing().len(), 1);
        assert_eq!(stale.stale_known_failures(), ["line 2: t/x.wast:1"]);
        // An entry for a file that did not run is not judged.
        let other = report_of(
            TWO_FAILURES,
            "t/x.wast:2-3,5  # wrong\nt/y.wast:1  # not run\n",
        );
        assert!(other.is_clean());
    }

    #[test]
    fn the_implied_list_is_exact_and_keeps_reasons() {
        let r = report_of(TWO_FAILURES, "t/x.wast:2  # kept reason\n");
        let implied = r.implied_known_failures();
        assert!(implied.contains("t/x.wast:2  # kept reason\n"), "{implied}");
        assert!(
            implied.contains("t/x.wast:3,5  # UNEXPLAINED: "),
            "{implied}"
        );
        // Read back, it describes the run exactly.
        let again = report_of(TWO_FAILURES, implied);
        assert!(again.is_clean(), "{}", again.to_table());
    }

    #[test]
    fn every_script_reports_all_its_cases() {
        let script = crate::Script {
            config: wrun_runtime::Config::default(),
            suite: "t".into(),
            file: "x.wast".into(),
            text: TWO_FAILURES.into(),
        };
        let reports = crate::run_scripts(std::slice::from_ref(&script), &|_, _, _| {});
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].cases.len(), 5);
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
        assert!(!report.is_clean());
        assert_eq!(report.summary_line(), "spec: 2 passed, 1 failed, 0 skipped");
        assert_eq!(report.unexpected_failures(), 1);
        assert!(report.to_table().contains("t/x.wast:3"));
    }
}

//! The official suites, run as a test: every failure must be on the
//! known-failures list, every case the list covers must still fail, and
//! every entry must cover a failing case.

use wrun_spec::{KnownFailures, Report, embedded_scripts, run_scripts};

#[test]
fn official_suites_have_no_unexpected_failures() {
    let scripts = embedded_scripts();
    assert!(scripts.len() > 300, "the embedded suites went missing");
    let reports = run_scripts(&scripts, &|_, _, _| {});
    assert_eq!(reports.len(), scripts.len(), "a script went unreported");
    let known = KnownFailures::official().unwrap_or_else(|e| panic!("{e}"));
    let report = Report::new(reports, &known);
    println!("{}", report.to_table());
    println!("{}", report.summary_line());
    assert_eq!(
        report.unexpected_failures(),
        0,
        "unexpected spec failures (see table above)"
    );
    assert!(
        report.now_passing().is_empty(),
        "known-failures.txt covers cases that now pass: {:?}",
        report.now_passing()
    );
    assert!(
        report.stale_known_failures().is_empty(),
        "known-failures.txt has entries that cover no failing case: {:?}",
        report.stale_known_failures()
    );
}

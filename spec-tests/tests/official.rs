//! The official suites, run as a test: every failure must be on the
//! known-failures list, and every entry of the list must still fail.

use wrun_spec::{KnownFailures, Report, embedded_scripts, run_scripts};

#[test]
fn official_suites_have_no_unexpected_failures() {
    let scripts = embedded_scripts();
    assert!(scripts.len() > 300, "the embedded suites went missing");
    let reports = run_scripts(&scripts, &|_, _, _| {});
    let report = Report::new(reports, &KnownFailures::official());
    println!("{}", report.to_table());
    println!("{}", report.summary_line());
    assert_eq!(
        report.unexpected_failures(),
        0,
        "unexpected spec failures (see table above)"
    );
    assert!(
        report.stale_known_failures().is_empty(),
        "known-failures.txt lists cases that now pass: {:?}",
        report.stale_known_failures()
    );
}

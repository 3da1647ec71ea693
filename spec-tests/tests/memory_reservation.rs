//! A capped memory reservation (`Config::memory_reservation`, used under
//! qemu-user) changes where memories live, never what programs see: every
//! embedded script about memories gives the same outcome per case with a
//! one-page cap, which makes each growing memory move.

use wrun_spec::{embedded_scripts, run_script};

#[test]
fn memory_scripts_give_the_same_outcomes_with_a_one_page_reservation() {
    let scripts: Vec<_> = embedded_scripts()
        .into_iter()
        .filter(|s| s.file.contains("memory"))
        .collect();
    assert!(scripts.len() > 20, "the memory scripts went missing");
    for script in &scripts {
        let mut capped = script.config.clone();
        capped.memory_reservation(1 << 16);
        let expected = run_script(&script.text, &script.config);
        let got = run_script(&script.text, &capped);
        assert_eq!(
            expected.len(),
            got.len(),
            "{}/{}",
            script.suite,
            script.file
        );
        for (e, g) in expected.iter().zip(&got) {
            assert_eq!(
                e.outcome, g.outcome,
                "{}/{}:{} with a capped reservation",
                script.suite, script.file, e.line
            );
        }
    }
}

//! The legacy exception proposal's folded `try` form (`(try (do …) (catch
//! $t …) (catch_all …))`, `(delegate $l)`), which the upstream
//! `test/legacy/exceptions` scripts use and the `wast` crate does not parse,
//! runs in both tiers; line numbers stay those of the script.

use wrun_runtime::{Config, Strategy};
use wrun_spec::{Outcome, run_script};

const SCRIPT: &str = r#"
(module
  (tag $e (param i32))
  (tag $other)
  (func $throw (param i32) (throw $e (local.get 0)))
  (func (export "caught") (param i32) (result i32)
    (try (result i32)
      (do (call $throw (local.get 0)) (i32.const -1))
      (catch $e (i32.add (i32.const 100)))
      (catch_all (i32.const -2))))
  (func (export "catch-all") (result i32)
    (try (result i32)
      (do (throw $other))
      (catch $e)
      (catch_all (i32.const 7))))
  (func (export "no-throw") (result i32)
    (try (result i32) (do (i32.const 5)) (catch_all (i32.const 6))))
  (func (export "delegated") (param i32) (result i32)
    (try $outer (result i32)
      (do
        (try (result i32)
          (do (call $throw (local.get 0)) (i32.const -1))
          (delegate $outer)))
      (catch $e)))
  (func (export "rethrown") (param i32) (result i32)
    (try (result i32)
      (do
        (try (result i32)
          (do (call $throw (local.get 0)) (i32.const -1))
          (catch $e (drop) (rethrow 0))))
      (catch $e (i32.mul (i32.const 2)))))
  (func (export "empty") (try (do) (catch $other)))
  (func (export "escapes") (param i32)
    (try (do (call $throw (local.get 0))) (catch $other)))
)
(assert_return (invoke "caught" (i32.const 1)) (i32.const 101))
(assert_return (invoke "catch-all") (i32.const 7))
(assert_return (invoke "no-throw") (i32.const 5))
(assert_return (invoke "delegated" (i32.const 9)) (i32.const 9))
(assert_return (invoke "rethrown" (i32.const 21)) (i32.const 42))
(assert_return (invoke "empty"))
(assert_exception (invoke "escapes" (i32.const 3)))
;; (try (do)) in a comment and "(try (do))" in a string stay as they are.
(assert_malformed (module quote "(func (try (do)))") "unexpected token")
"#;

#[test]
fn folded_legacy_try_runs_in_both_tiers() {
    for strategy in [Strategy::Interp, Strategy::Jit] {
        let mut config = Config::default();
        config.strategy(strategy);
        let cases = run_script(SCRIPT, &config);
        assert_eq!(cases.len(), 9, "{strategy:?}: one case per directive");
        for case in &cases {
            assert_eq!(
                case.outcome,
                Outcome::Pass,
                "{strategy:?}: line {} ({})",
                case.line,
                case.directive
            );
        }
        // Line numbers are the script's own.
        assert_eq!(cases[1].line, 36, "{strategy:?}");
    }
}

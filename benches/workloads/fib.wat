;; Recursive Fibonacci: call-heavy, almost no work per call.
;; run(n) = fib(n) with fib(0) = 0, fib(1) = 1.
(module $fib
  (func $fib (param $n i32) (result i64)
    local.get $n
    i32.const 2
    i32.lt_u
    if (result i64)
      local.get $n
      i64.extend_i32_u
    else
      local.get $n
      i32.const 1
      i32.sub
      call $fib
      local.get $n
      i32.const 2
      i32.sub
      call $fib
      i64.add
    end)
  (func (export "run") (param $n i32) (result i64)
    local.get $n
    call $fib))

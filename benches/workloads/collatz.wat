;; Collatz walks: a loop-heavy integer kernel (i32 counters, i64 values,
;; data-dependent branches). For every start value in [1, n] it counts the
;; steps down to 1 and tracks the highest value reached.
;; run(n) = (total steps << 32) xor peak.
(module $collatz
  (func (export "run") (param $n i32) (result i64)
    (local $i i32) (local $x i64) (local $steps i64) (local $peak i64)
    i32.const 1
    local.set $i
    block $done
      loop $next_start
        local.get $i
        local.get $n
        i32.gt_u
        br_if $done
        local.get $i
        i64.extend_i32_u
        local.set $x
        block $at_one
          loop $step
            local.get $x
            i64.const 1
            i64.le_u
            br_if $at_one
            local.get $x
            i64.const 1
            i64.and
            i64.eqz
            if (result i64)
              local.get $x
              i64.const 1
              i64.shr_u
            else
              local.get $x
              i64.const 3
              i64.mul
              i64.const 1
              i64.add
            end
            local.tee $x
            local.get $peak
            i64.gt_u
            if
              local.get $x
              local.set $peak
            end
            local.get $steps
            i64.const 1
            i64.add
            local.set $steps
            br $step
          end
        end
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $next_start
      end
    end
    local.get $steps
    i64.const 32
    i64.shl
    local.get $peak
    i64.xor))

;; A memory-heavy kernel over n bytes of linear memory, one byte at a time:
;; fill [0, n) from a linear congruential generator, copy it to [n, 2n),
;; then take an Adler-32 style checksum of the copy.
;; run(n) = (b << 32) | a of that checksum. Grows memory to 2n bytes on the
;; first call; later calls reuse it.
(module $memory
  (memory 1)
  (func (export "run") (param $n i32) (result i64)
    (local $i i32) (local $seed i32) (local $pages i32) (local $a i64) (local $b i64)
    ;; room for 2n bytes
    local.get $n
    i32.const 1
    i32.shl
    i32.const 65535
    i32.add
    i32.const 16
    i32.shr_u
    local.tee $pages
    memory.size
    i32.gt_u
    if
      local.get $pages
      memory.size
      i32.sub
      memory.grow
      i32.const -1
      i32.eq
      if
        unreachable
      end
    end
    ;; fill
    i32.const 12345
    local.set $seed
    i32.const 0
    local.set $i
    block $filled
      loop $fill
        local.get $i
        local.get $n
        i32.ge_u
        br_if $filled
        local.get $i
        local.get $seed
        i32.const 1103515245
        i32.mul
        i32.const 12345
        i32.add
        local.tee $seed
        i32.const 16
        i32.shr_u
        i32.store8
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $fill
      end
    end
    ;; copy
    i32.const 0
    local.set $i
    block $copied
      loop $copy
        local.get $i
        local.get $n
        i32.ge_u
        br_if $copied
        local.get $i
        local.get $n
        i32.add
        local.get $i
        i32.load8_u
        i32.store8
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $copy
      end
    end
    ;; checksum
    i64.const 1
    local.set $a
    i32.const 0
    local.set $i
    block $summed
      loop $sum
        local.get $i
        local.get $n
        i32.ge_u
        br_if $summed
        local.get $a
        local.get $i
        local.get $n
        i32.add
        i32.load8_u
        i64.extend_i32_u
        i64.add
        i64.const 65521
        i64.rem_u
        local.tee $a
        local.get $b
        i64.add
        i64.const 65521
        i64.rem_u
        local.set $b
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $sum
      end
    end
    local.get $b
    i64.const 32
    i64.shl
    local.get $a
    i64.or))

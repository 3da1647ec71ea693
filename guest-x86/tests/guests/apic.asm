; A flat binary for 1 MiB (and a multiboot kernel for QEMU -kernel) in
; 32-bit protected mode, paging off, that checks the local APIC and the
; I/O APIC on the 0xE9 debug console:
; - CPUID.1:EDX.APIC, IA32_APIC_BASE, the version register;
; - the spurious-vector register, TPR and PPR;
; - self-IPIs through the ICR: delivery, the ISR while in service, EOI;
;   a TPR above the vector's class holds it in the IRR; two pending
;   vectors arrive highest first;
; - the LVT timer: one-shot (fires once, then reads 0), periodic with
;   divide-by-16, masked (counts down, no interrupt);
; - the I/O APIC: 24 redirection entries, the PIT (ISA IRQ 0) arriving on pin 2
;   as the programmed vector with the 8259 fully masked, the redirection
;   entry read back.
; Ends by writing 0x10 (all passed) or 0x11 to port 0xF4.
; Build: nasm -f bin apic.asm -o apic.bin
bits 32
org 0x100000

KERNEL_CS equ 0x08
KERNEL_DS equ 0x10
KERNEL_STACK equ 0x80000
APIC      equ 0xfee00000
IOAPIC    equ 0xfec00000
; Local APIC registers (SDM Vol.3A Table 10-1).
A_ID      equ 0x20
A_VERSION equ 0x30
A_TPR     equ 0x80
A_PPR     equ 0xa0
A_EOI     equ 0xb0
A_SVR     equ 0xf0
A_ISR2    equ 0x120                   ; ISR bits 0x40-0x5f
A_IRR2    equ 0x220                   ; IRR bits 0x40-0x5f
A_ICR_LO  equ 0x300
A_LVT_TMR equ 0x320
A_INITIAL equ 0x380
A_CURRENT equ 0x390
A_DIVIDE  equ 0x3e0
SELF_IPI  equ 1 << 18                 ; destination shorthand: self
PERIODIC  equ 1 << 17
MASKED    equ 1 << 16
WAIT_LOOPS equ 20000000

%include "flat32_entry.inc"

    ; IDT: exceptions are unexpected; vectors 0x20-0xff go to `counted`.
    xor ebx, ebx
.exceptions:
    mov eax, unexpected
    call set_gate
    inc ebx
    cmp ebx, 0x20
    jb .exceptions
.vectors:
    mov eax, ebx
    sub eax, 0x20
    shl eax, STUB_SHIFT
    add eax, stubs
    call set_gate
    inc ebx
    cmp ebx, 0x100
    jb .vectors
    lidt [idt_descriptor]
    ; The 8259s stay fully masked: only the APICs interrupt.
    mov al, 0xff
    out 0x21, al
    out 0xa1, al

    ; 1. Discovery.
    mov eax, 1
    cpuid
    shr edx, 9
    and edx, 1
    mov eax, edx
    mov esi, msg_cpuid
    mov edx, 1
    call check
    mov ecx, 0x1b
    rdmsr
    and eax, 0xfffff900               ; base, EN, BSP
    mov esi, msg_msr
    mov edx, APIC | 0x900
    call check
    mov eax, [APIC + A_VERSION]
    and eax, 0xff
    mov esi, msg_version
    mov edx, 0x14
    call check

    ; 2. Software enable (spurious vector 0xff), TPR and PPR.
    mov dword [APIC + A_SVR], 0x1ff
    mov eax, [APIC + A_SVR]
    and eax, 0x1ff
    mov esi, msg_svr
    mov edx, 0x1ff
    call check
    mov dword [APIC + A_TPR], 0x20
    mov eax, [APIC + A_PPR]
    mov esi, msg_ppr
    mov edx, 0x20
    call check
    mov dword [APIC + A_TPR], 0

    ; 3. A self-IPI: delivered at once, in service in its handler.
    sti
    mov dword [APIC + A_ICR_LO], SELF_IPI | 0x41
    nop
    nop
    cli
    movzx eax, byte [counts + 0x41]
    mov esi, msg_ipi
    mov edx, 1
    call check
    mov eax, [isr_seen]
    and eax, 1 << 1                   ; vector 0x41 in ISR word 2
    mov esi, msg_isr
    mov edx, 2
    call check
    mov eax, [APIC + A_ISR2]
    mov esi, msg_isr_after
    xor edx, edx
    call check

    ; 4. TPR class 5 holds vector 0x42 in the IRR until it drops.
    mov dword [APIC + A_TPR], 0x50
    sti
    mov dword [APIC + A_ICR_LO], SELF_IPI | 0x42
    nop
    nop
    cli
    movzx eax, byte [counts + 0x42]
    mov esi, msg_tpr_held
    xor edx, edx
    call check
    mov eax, [APIC + A_IRR2]
    and eax, 1 << 2
    mov esi, msg_irr
    mov edx, 4
    call check
    sti
    mov dword [APIC + A_TPR], 0
    nop
    nop
    cli
    movzx eax, byte [counts + 0x42]
    mov esi, msg_tpr_released
    mov edx, 1
    call check

    ; 5. Two pending vectors: the higher one first.
    mov dword [log], 0
    mov dword [log_count], 0
    mov dword [APIC + A_ICR_LO], SELF_IPI | 0x45
    mov dword [APIC + A_ICR_LO], SELF_IPI | 0x61
    sti
    nop
    nop
    cli
    mov eax, [log]
    mov esi, msg_order
    mov edx, 0x6145
    call check

    ; 6. One-shot timer, divide by 1: a long count reads back in
    ; (0, initial]; a short one fires once, then reads 0.
    mov dword [APIC + A_DIVIDE], 0xb
    mov dword [APIC + A_LVT_TMR], 0x50
    mov dword [APIC + A_INITIAL], 0x7fffffff
    mov ebx, [APIC + A_CURRENT]
    mov dword [APIC + A_INITIAL], 0
    xor eax, eax
    cmp ebx, 0x7fffffff
    ja .count_checked
    test ebx, ebx
    setnz al
.count_checked:
    mov esi, msg_counting
    mov edx, 1
    call check
    mov dword [APIC + A_INITIAL], 100000
    sti
    mov ebx, 0x50
    mov edi, 1
    call wait_count
    mov ecx, 2000000                  ; long past a second expiry
.linger:
    loop .linger
    cli
    movzx eax, byte [counts + 0x50]
    mov esi, msg_one_shot
    mov edx, 1
    call check
    mov eax, [APIC + A_CURRENT]
    mov esi, msg_one_shot_zero
    xor edx, edx
    call check

    ; 7. Periodic timer, divide by 16: three expiries, then stopped.
    mov dword [APIC + A_DIVIDE], 0x3
    mov dword [APIC + A_LVT_TMR], PERIODIC | 0x51
    mov dword [APIC + A_INITIAL], 20000
    sti
    mov ebx, 0x51
    mov edi, 3
    call wait_count
    cli
    mov dword [APIC + A_INITIAL], 0
    mov esi, msg_periodic
    mov eax, [wait_result]
    mov edx, 3
    call check
    mov eax, [APIC + A_LVT_TMR]
    mov esi, msg_lvt
    mov edx, PERIODIC | 0x51
    call check
    mov eax, [APIC + A_DIVIDE]
    mov esi, msg_divide
    mov edx, 3
    call check

    ; 8. A masked timer counts to 0 and interrupts nobody.
    mov dword [APIC + A_DIVIDE], 0xb
    mov dword [APIC + A_LVT_TMR], MASKED | 0x52
    mov dword [APIC + A_INITIAL], 1000
    sti
    mov ecx, 2000000
.masked_wait:
    loop .masked_wait
    cli
    movzx eax, byte [counts + 0x52]
    mov esi, msg_masked
    xor edx, edx
    call check
    mov eax, [APIC + A_CURRENT]
    mov esi, msg_masked_zero
    xor edx, edx
    call check

    ; 9. The I/O APIC: version, then the PIT on pin 2 as vector 0x60 to
    ; this processor (physical destination = its APIC ID).
    mov dword [IOAPIC], 1
    mov eax, [IOAPIC + 0x10]
    shr eax, 16                       ; the version differs (KVM 0x11, QEMU 0x20)
    and eax, 0xff
    mov esi, msg_io_version
    mov edx, 0x17
    call check
    mov dword [IOAPIC], 0x10 + 2 * 2 + 1
    mov eax, [APIC + A_ID]
    and eax, 0xff000000
    mov [IOAPIC + 0x10], eax
    mov dword [IOAPIC], 0x10 + 2 * 2
    mov dword [IOAPIC + 0x10], 0x60   ; fixed, edge, active high, unmasked
    mov al, 0x34                      ; PIT channel 0, LSB/MSB, mode 2
    out 0x43, al
    mov al, 1193 & 0xff               ; 1 ms
    out 0x40, al
    mov al, 1193 >> 8
    out 0x40, al
    sti
    mov ebx, 0x60
    mov edi, 3
    call wait_count
    cli
    mov dword [IOAPIC + 0x10], MASKED | 0x60
    mov esi, msg_pit_pin2
    mov eax, [wait_result]
    mov edx, 3
    call check
    mov eax, [IOAPIC + 0x10]
    and eax, ~((1 << 12) | (1 << 14)) ; delivery status, remote IRR
    mov esi, msg_redirection
    mov edx, MASKED | 0x60
    call check

    mov esi, msg_done
    call print
    mov al, 0x10
    add al, [failed]
    out 0xf4, al
    cli
    hlt

; wait_count: waits (interrupts on) until counts[ebx] reaches edi or the
; loop gives up; wait_result = counts[ebx] when done.
wait_count:
    mov ecx, WAIT_LOOPS
.spin:
    movzx eax, byte [counts + ebx]
    cmp eax, edi
    jae .done
    loop .spin
.done:
    movzx eax, byte [counts + ebx]
    mov [wait_result], eax
    ret

; Every vector 0x20-0xff: push its number and count it.
STUB_SHIFT equ 4                      ; 16 bytes a stub
align 16
stubs:
%assign v 0x20
%rep 0xe0
    push dword v
    jmp near counted
    align 16
%assign v v + 1
%endrep

counted:
    push eax
    push ebx
    mov ebx, [esp + 8]                ; the vector
    inc byte [counts + ebx]
    mov eax, [log_count]
    cmp eax, 8
    jae .logged
    shl dword [log], 8
    or [log], bl
    inc dword [log_count]
.logged:
    mov eax, [APIC + A_ISR2]
    mov [isr_seen], eax
    cmp ebx, 0xff                     ; the spurious vector takes no EOI
    je .no_eoi
    mov dword [APIC + A_EOI], 0
.no_eoi:
    pop ebx
    pop eax
    add esp, 4
    iret

unexpected:
    mov esi, msg_unexpected
    call print
    mov al, 0x7f
    out 0xf4, al
    cli
    hlt

; set_gate: ebx = vector, eax = handler (32-bit interrupt gate, DPL 0).
set_gate:
    mov [idt + ebx * 8], ax
    mov word [idt + ebx * 8 + 2], KERNEL_CS
    mov word [idt + ebx * 8 + 4], 0x8e00
    shr eax, 16
    mov [idt + ebx * 8 + 6], ax
    ret

; check: esi = label, eax = observed, edx = expected; prints
; "label=XXXXXXXX ok" (or FAIL).
check:
    pushad
    call print
    mov ecx, 8
    call hex
    popad
    mov esi, msg_ok
    cmp eax, edx
    je .print
    mov esi, msg_fail
    mov byte [failed], 1
.print:
    jmp print

align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff             ; 0x08 code
    dq 0x00cf92000000ffff             ; 0x10 data
gdt_end:
gdt_descriptor:
    dw gdt_end - gdt - 1
    dd gdt

failed:      db 0
align 4
log:         dd 0
log_count:   dd 0
isr_seen:    dd 0
wait_result: dd 0
counts:      times 256 db 0

msg_start:         db "apic: flat entry ok", 10, 0
msg_ok:            db " ok", 10, 0
msg_fail:          db " FAIL", 10, 0
msg_unexpected:    db "unexpected exception", 10, 0
msg_cpuid:         db "CPUID.1:EDX.APIC=", 0
msg_msr:           db "IA32_APIC_BASE base|EN|BSP=", 0
msg_version:       db "local APIC version=", 0
msg_svr:           db "spurious vector register=", 0
msg_ppr:           db "PPR with TPR 0x20=", 0
msg_ipi:           db "self-IPI 0x41 delivered=", 0
msg_isr:           db "ISR bit of 0x41 in its handler=", 0
msg_isr_after:     db "ISR after EOI=", 0
msg_tpr_held:      db "self-IPI 0x42 under TPR 0x50 delivered=", 0
msg_irr:           db "IRR bit of 0x42 while held=", 0
msg_tpr_released:  db "0x42 delivered once TPR drops=", 0
msg_order:         db "pending 0x45 and 0x61 arrive as=", 0
msg_counting:      db "one-shot current count in (0, initial]=", 0
msg_one_shot:      db "one-shot timer interrupts=", 0
msg_one_shot_zero: db "one-shot current count after expiry=", 0
msg_periodic:      db "periodic timer interrupts seen=", 0
msg_lvt:           db "LVT timer=", 0
msg_divide:        db "divide configuration=", 0
msg_masked:        db "masked timer interrupts=", 0
msg_masked_zero:   db "masked timer current count after expiry=", 0
msg_io_version:    db "I/O APIC highest redirection entry=", 0
msg_pit_pin2:      db "PIT interrupts through I/O APIC pin 2=", 0
msg_redirection:   db "redirection entry 2=", 0
msg_done:          db "apic: done", 10, 0

align 8
idt:
    times 256 * 8 db 0
idt_end:
idt_descriptor:
    dw idt_end - idt - 1
    dd idt

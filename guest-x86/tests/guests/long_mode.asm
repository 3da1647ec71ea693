; A flat binary for 1 MiB (also a multiboot kernel, so QEMU's -kernel runs
; it unchanged): 32-bit protected mode -> long mode with 4-level paging,
; then checks, each printed on the 0xE9 debug console:
; - #PF error codes and CR2: not present, supervisor write to read-only
;   (CR0.WP), NX fetch, user access to a supervisor page, user write to a
;   read-only page; accessed/dirty bits; INVLPG;
; - #GP from a non-canonical address and from CLI at CPL 3;
; - an exception on an IST stack; SWAPGS; SYSCALL/SYSRET between CPL 3
;   and CPL 0; faults from CPL 3 (ring switch to the TSS's RSP0);
; - compatibility mode (a 32-bit code segment in long mode) and back;
; - at the end, down again: compatibility mode, paging off, 16-bit
;   protected mode, real mode with an interrupt through the IVT;
; - PIT channel 0 through the i8259 PIC waking HLT.
; Ends by writing 0x10 (all passed) or 0x11 to port 0xF4.
; Build: nasm -f bin [-DKVM] long_mode.asm -o long_mode.bin — the KVM
; build is the one this machine's KVM can run (see test 9 and test 6).
bits 32
org 0x100000

KERNEL_CS32 equ 0x08
KERNEL_CS   equ 0x10
KERNEL_DS   equ 0x18
USER_CS32   equ 0x20
USER_DS     equ 0x28
USER_CS     equ 0x30
TSS_SEL     equ 0x38

PML4 equ 0x10000
PDPT equ 0x11000
PD   equ 0x12000
PT   equ 0x13000              ; maps 0x200000-0x3fffff in 4 KiB pages
KERNEL_STACK equ 0x80000
IST1_STACK   equ 0x70000
USER_STACK   equ 0x1f0000
EXIT_USER    equ 0xe417
CODE16       equ 0x48             ; 16-bit code and data for the way down
DATA16       equ 0x50
REAL_STUB    equ 0x8000
LOW_FAILED   equ 0x7ff0

start:
    jmp entry32

align 4
multiboot_header:
    dd 0x1badb002
    dd 0x00010000                 ; addresses below are valid
    dd -(0x1badb002 + 0x00010000)
    dd multiboot_header
    dd start                      ; load address
    dd 0                          ; load the whole file
    dd 0                          ; no bss
    dd start                      ; entry

entry32:
    cli
    mov ebp, eax
    lgdt [gdt_descriptor]
    jmp KERNEL_CS32:protected32

protected32:
    mov ax, KERNEL_DS
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov esp, KERNEL_STACK
    mov esi, msg_magic_ok
    cmp ebp, 0x2badb002
    je .magic
    mov esi, msg_magic_bad
    mov byte [failed], 1
.magic:
    call print32
    ; Page tables: PML4[0] -> PDPT[0] -> PD; PD[0] is a 2 MiB user page at
    ; 0 (code, data, stacks), PD[1] a page table for the test pages.
    mov edi, PML4
    mov ecx, 4 * 1024
    xor eax, eax
    rep stosd
    mov dword [PML4], PDPT | 7
    mov dword [PDPT], PD | 7
    mov dword [PD], 0x87
    mov dword [PD + 8], PT | 7
    mov dword [PT + 1 * 8], 0x50000 | 1          ; 0x201000: read-only, supervisor
    mov dword [PT + 2 * 8], 0x51000 | 3          ; 0x202000: read/write, supervisor
    mov dword [PT + 3 * 8], 0x52000 | 3          ; 0x203000: no-execute
    mov dword [PT + 3 * 8 + 4], 0x80000000
    mov dword [PT + 4 * 8], 0x53000 | 5          ; 0x204000: read-only, user
    mov eax, PML4
    mov cr3, eax
    mov eax, cr4
    or eax, (1 << 5) | (1 << 7)                  ; PAE, PGE
    mov cr4, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, (1 << 0) | (1 << 8) | (1 << 11)      ; SCE, LME, NXE
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16)                ; PG, WP
    mov cr0, eax
    jmp KERNEL_CS:long64

print32:
    lodsb
    test al, al
    jz .done
    out 0xe9, al
    jmp print32
.done:
    ret

bits 64

; print: rsi = zero-terminated string.
; SELECTOR_QUERY instruction, selector, label, ZF[, mask, value]: runs
; LAR/LSL (destination EAX, preloaded with 0xdead) or VERR/VERW on the
; selector and prints one line: ZF, and for LAR/LSL the masked EAX.
%macro SELECTOR_QUERY 4-6
    mov rsi, %3
    call print
    mov eax, 0xdead
    mov ebx, %2
%if %0 == 6
    %1 eax, bx
%else
    %1 bx
%endif
    mov edx, %4
    call report_selector_query
%if %0 == 6
    mov eax, ebx
    and eax, %5
    mov rsi, msg_value
    mov edx, %6
    mov ecx, 8
    call field
%endif
    call verdict
%endmacro

; report_selector_query: prints " zf=" and ZF (EDX = the expected ZF) and
; keeps RAX in RBX.
report_selector_query:
    mov rbx, rax
    setz al
    movzx eax, al
    mov rsi, msg_zf
    mov ecx, 1
    call field
    ret

print:
    push rax
.next:
    lodsb
    test al, al
    jz .done
    out 0xe9, al
    jmp .next
.done:
    pop rax
    ret

; hex: prints rax as rcx hex digits (from the top), keeps rax.
hex:
    push rax
    push rbx
    push rcx
    push rdx
    mov rbx, rax
    mov rdx, rcx
    shl rdx, 2
    mov cl, 64
    sub cl, dl
    shl rbx, cl
    mov rcx, rdx
    shr rcx, 2
.digit:
    rol rbx, 4
    mov al, bl
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 'a' - '0' - 10
.out:
    out 0xe9, al
    loop .digit
    pop rdx
    pop rcx
    pop rbx
    pop rax
    ret

; field: prints " <rsi label><rax as rcx hex digits>"; a value other
; than rdx marks the line as failed.
field:
    call print
    call hex
    cmp rax, rdx
    je .same
    mov byte [line_bad], 1
.same:
    ret

; verdict: ends the line with " ok" or " FAIL".
verdict:
    mov rsi, msg_ok
    cmp byte [line_bad], 0
    je .print
    mov rsi, msg_fail
    mov byte [failed], 1
.print:
    mov byte [line_bad], 0
    jmp print

; check: rsi = label, rax = observed, rdx = expected: one line.
check:
    push rcx
    mov ecx, 16
    call field
    pop rcx
    jmp verdict

; expect_fault: rbx = fault-log index, rsi = name, rdi = expected vector,
; rdx = expected error code, r8 = expected CR2 (or -1: not a #PF).
expect_fault:
    call print
    imul rbx, rbx, 24
    push rdx
    mov rsi, msg_vector
    mov rax, [fault_log + rbx]
    mov rdx, rdi
    mov ecx, 2
    call field
    pop rdx
    mov rsi, msg_code
    mov rax, [fault_log + rbx + 8]
    mov ecx, 4
    call field
    cmp r8, -1
    je .done
    mov rsi, msg_cr2
    mov rax, [fault_log + rbx + 16]
    mov rdx, r8
    mov ecx, 8
    call field
.done:
    jmp verdict

; set_gate: rdi = vector, rax = handler, ecx = IST, edx = type|DPL byte.
set_gate:
    shl rdi, 4
    add rdi, idt
    mov [rdi], ax
    mov word [rdi + 2], KERNEL_CS
    mov [rdi + 4], cl
    mov [rdi + 5], dl
    shr rax, 16
    mov [rdi + 6], ax
    shr rax, 16
    mov [rdi + 8], eax
    mov dword [rdi + 12], 0
    ret

long64:
    mov rsp, KERNEL_STACK
    mov ecx, 0xc0000080
    rdmsr
    and eax, 1 << 10
    mov rsi, msg_lma
    mov edx, 1 << 10
    call check

    ; TSS descriptor (base below 16 MiB), then LTR.
    mov rax, tss
    shl rax, 16
    or rax, tss_end - tss - 1
    mov rcx, 0x89
    shl rcx, 40
    or rax, rcx
    mov [gdt + TSS_SEL], rax
    mov qword [gdt + TSS_SEL + 8], 0
    mov ax, TSS_SEL
    ltr ax

    ; IDT: every exception is unexpected unless a test installs it.
    xor ebx, ebx
.unexpected_gates:
    mov rdi, rbx
    mov rax, unexpected
    xor ecx, ecx
    mov edx, 0x8e
    call set_gate
    inc ebx
    cmp ebx, 32
    jb .unexpected_gates
    mov edi, 13
    mov rax, gp_entry
    call set_gate
    mov edi, 14
    mov rax, pf_entry
    call set_gate
    mov edi, 0x20
    mov rax, timer_entry
    call set_gate
    mov edi, 0x27
    mov rax, spurious_entry
    call set_gate
    mov edi, 6
    mov rax, ud_on_ist_entry
    mov ecx, 1
    call set_gate
    lidt [idt_descriptor]

    ; 1. Not-present read at CPL 0: error code 0.
    mov qword [recover], .after_not_present
    mov rax, [0x200000]
.after_not_present:
    xor ebx, ebx
    mov rsi, msg_pf_not_present
    mov edi, 14
    mov edx, 0
    mov r8d, 0x200000
    call expect_fault

    ; 2. Supervisor write to a read-only page with CR0.WP: P|W.
    mov qword [recover], .after_wp
    mov byte [0x201000], 1
.after_wp:
    mov ebx, 1
    mov rsi, msg_pf_wp
    mov edi, 14
    mov edx, 3
    mov r8d, 0x201000
    call expect_fault

    ; 3. Fetch from a no-execute page: P|I.
    mov qword [recover], .after_nx
    mov eax, 0x203000
    jmp rax
.after_nx:
    mov ebx, 2
    mov rsi, msg_pf_nx
    mov edi, 14
    mov edx, 0x11
    mov r8d, 0x203000
    call expect_fault

    ; 4. Accessed and dirty bits after a write through 0x202000.
    mov qword [0x202000], 5
    mov rax, [PT + 2 * 8]
    and eax, 0x60
    mov rsi, msg_accessed_dirty
    mov edx, 0x60
    call check

    ; 5. INVLPG: remap 0x200000 from frame 0x54000 to 0x55000.
    mov qword [0x54000], 0xaaaa
    mov qword [0x55000], 0xbbbb
    mov qword [PT], 0x54000 | 3
    mov rax, [0x200000]
    mov qword [PT], 0x55000 | 3
    invlpg [0x200000]
    mov rax, [0x200000]
    mov rsi, msg_invlpg
    mov edx, 0xbbbb
    call check
    mov qword [PT], 0
    invlpg [0x200000]

    ; 6. A non-canonical address: #GP(0).
    mov qword [recover], .after_noncanonical
    mov rax, 0x8000000000000000
    mov rax, [rax]
.after_noncanonical:
    mov ebx, 3
    mov rsi, msg_gp_noncanonical
    mov edi, 13
    xor edx, edx
    mov r8, -1
    call expect_fault
%ifdef KVM
    ; The RFLAGS image of a fault has RF set (hardware does; QEMU TCG
    ; does not model it, so only the KVM build checks it).
    mov rax, [gp_frame_rflags]
    and eax, 1 << 16
    mov rsi, msg_rf
    mov edx, 1 << 16
    call check
%endif

    ; 7. #UD is delivered on the IST1 stack (16-byte aligned, five pushes).
    ; (An exception rather than INT n: nested KVM on this kind of host
    ; cannot re-inject a software interrupt in long mode.)
    ud2
    mov rax, [ist_rsp]
    mov rsi, msg_ist
    mov edx, IST1_STACK - 40
    call check

    ; 8. SWAPGS exchanges GS.base and KERNEL_GS_BASE.
    mov ecx, 0xc0000102
    mov eax, 0x1234
    xor edx, edx
    wrmsr
    swapgs
    mov ecx, 0xc0000101
    rdmsr
    mov rsi, msg_swapgs
    mov edx, 0x1234
    call check
    swapgs

%ifndef KVM
    ; 8b. LAR, LSL, VERR, VERW at CPL 0 (SDM Vol.2A LAR, LSL; Vol.2B
    ; VERR/VERW): each line shows ZF and the destination, which holds
    ; 0xdead before and keeps it when ZF = 0. LAR's bits 19:16 are
    ; undefined, so they are masked out. (Not in the KVM build: this
    ; machine's nested KVM stops with an emulation failure on LAR.)
    SELECTOR_QUERY lar, 0x18, msg_lar_kernel_data, 1, 0x00f0ff00, 0x00c09300
    SELECTOR_QUERY lsl, 0x18, msg_lsl_kernel_data, 1, 0xffffffff, 0xffffffff
    SELECTOR_QUERY lsl, CODE16, msg_lsl_code16, 1, 0xffffffff, 0xffff
    SELECTOR_QUERY lar, USER_DS, msg_lar_user_data, 1, 0x00f0ff00, 0x00c0f200
    SELECTOR_QUERY lar, TSS_SEL, msg_lar_tss, 1, 0x00f0ff00, 0x8b00
    SELECTOR_QUERY lsl, TSS_SEL, msg_lsl_tss, 1, 0xffffffff, tss_end - tss - 1
    SELECTOR_QUERY lar, TSS_SEL + 8, msg_lar_tss_high, 0, 0xffffffff, 0xdead
    SELECTOR_QUERY lsl, 0, msg_lsl_null, 0, 0xffffffff, 0xdead
    SELECTOR_QUERY lar, gdt_end - gdt, msg_lar_past_limit, 0, 0xffffffff, 0xdead
    SELECTOR_QUERY lar, KERNEL_DS | 3, msg_lar_rpl3, 0, 0xffffffff, 0xdead
    SELECTOR_QUERY verr, KERNEL_CS, msg_verr_code, 1
    SELECTOR_QUERY verw, KERNEL_CS, msg_verw_code, 0
    SELECTOR_QUERY verw, KERNEL_DS, msg_verw_data, 1
    SELECTOR_QUERY verr, TSS_SEL, msg_verr_tss, 0
    SELECTOR_QUERY verw, KERNEL_DS | 3, msg_verw_rpl3, 0
    ; A word in memory as the source, a 16-bit destination (bits 63:16 kept).
    mov rsi, msg_lar_memory16
    call print
    mov rax, 0x123456789abcdead
    lar ax, [kernel_ds_word]
    mov edx, 1
    call report_selector_query
    mov rax, rbx
    mov rsi, msg_value
    mov rdx, 0x123456789abc9300
    mov ecx, 16
    call field
    call verdict
%endif

%ifndef KVM
    ; 9. Ring 3 through IRETQ; SYSCALL/SYSRET; user faults; SYSCALL with
    ; RAX = EXIT_USER back to the kernel for good. (Left out of the KVM
    ; build, -DKVM: on this machine's nested KVM SYSCALL from CPL 3
    ; triple-faults; QEMU TCG checks this part.)
    mov ecx, 0xc0000081           ; STAR
    xor eax, eax
    mov edx, (USER_CS32 << 16) | KERNEL_CS
    wrmsr
    mov ecx, 0xc0000082           ; LSTAR
    mov rax, syscall_entry
    mov rdx, rax
    shr rdx, 32
    wrmsr
    mov ecx, 0xc0000084           ; FMASK
    mov eax, 0x200
    xor edx, edx
    wrmsr
    push USER_DS | 3
    push USER_STACK
    push 0x2
    push USER_CS | 3
    push user_code
    iretq

after_user:
    mov rax, [user_cpl]
    mov rsi, msg_user_cpl
    mov edx, 3
    call check
    mov rax, [syscall_cpl]
    mov rsi, msg_syscall_cpl
    xor edx, edx
    call check
    mov rax, [syscall_result]
    mov rsi, msg_sysret
    mov edx, 0x78
    call check
    mov rax, [cpl_after_sysret]
    mov rsi, msg_sysret_cpl
    mov edx, 3
    call check
    mov ebx, 4
    mov rsi, msg_pf_user_super
    mov edi, 14
    mov edx, 5
    mov r8d, 0x202000
    call expect_fault
    mov ebx, 5
    mov rsi, msg_pf_user_ro
    mov edi, 14
    mov edx, 7
    mov r8d, 0x204000
    call expect_fault
    mov ebx, 6
    mov rsi, msg_gp_user_cli
    mov edi, 13
    xor edx, edx
    mov r8, -1
    call expect_fault
%endif

    ; 11. Compatibility mode and back: a far jump through memory to the
    ; 32-bit code segment (long mode stays active with CS.L = 0), then a
    ; direct far jump, which only exists outside 64-bit mode, back.
    jmp far dword [compat_pointer]
back_from_compat:
    mov rax, [compat_eax]
    mov rsi, msg_compat_dec
    mov edx, 0xffffffff
    call check
    mov rax, [compat_efer]
    and eax, 1 << 10
    mov rsi, msg_compat_lma
    mov edx, 1 << 10
    call check

    ; 10. The PIT through the PIC wakes HLT three times.
    mov al, 0x11                  ; ICW1: edge, cascade, ICW4
    out 0x20, al
    out 0xa0, al
    mov al, 0x20                  ; ICW2: vectors 0x20 and 0x28
    out 0x21, al
    mov al, 0x28
    out 0xa1, al
    mov al, 4                     ; ICW3
    out 0x21, al
    mov al, 2
    out 0xa1, al
    mov al, 1                     ; ICW4: 8086 mode
    out 0x21, al
    out 0xa1, al
    mov al, 0xfe                  ; only IRQ 0
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    mov al, 0x34                  ; channel 0, LSB then MSB, mode 2
    out 0x43, al
    mov ax, 1193                  ; about 1 ms
    out 0x40, al
    mov al, ah
    out 0x40, al
    sti
.wait:
    hlt
    cmp qword [ticks], 3
    jb .wait
    cli
    mov al, 0xff
    out 0x21, al
    mov rax, [ticks]
    cmp rax, 3
    setae al
    movzx eax, al
    mov rsi, msg_timer
    mov edx, 1
    call check

    ; 12. And back down: compatibility mode, paging off (long mode ends),
    ; 16-bit protected mode, real mode, an interrupt through the IVT there;
    ; the real-mode part runs from a copy below 1 MiB and reports the end.
    mov al, [failed]
    mov [LOW_FAILED], al
    jmp far dword [down_pointer]

bits 32
going_down:
    mov eax, cr0
    and eax, ~(1 << 31)
    mov cr0, eax                  ; paging off in compatibility mode: LMA clears
    mov ecx, 0xc0000080
    rdmsr
    mov esi, msg_lma_off_ok
    test eax, 1 << 10
    jz .lma_off
    mov esi, msg_lma_off_bad
    mov byte [LOW_FAILED], 1
.lma_off:
    call print32
    mov esi, real_stub_source
    mov edi, REAL_STUB
    mov ecx, real_stub_end - real_stub
    rep movsb
    jmp CODE16:REAL_STUB
bits 64

bits 32
compat_mode:
    xor eax, eax
    dec eax                       ; 0x48: DEC EAX here, a REX.W prefix in 64-bit code
    nop
    mov [compat_eax], eax
    mov ecx, 0xc0000080
    rdmsr
    mov [compat_efer], eax
    jmp KERNEL_CS:back_from_compat
bits 64

%ifndef KVM
; The CPL-3 part of test 9.
user_code:
    mov eax, cs
    and eax, 3
    mov [user_cpl], rax
    mov eax, 0x77
    syscall
    mov [syscall_result], rax
    mov ecx, cs
    and ecx, 3
    mov [cpl_after_sysret], rcx
    mov qword [recover], .after_super
    mov rax, [0x202000]
.after_super:
    mov qword [recover], .after_ro
    mov byte [0x204000], 1
.after_ro:
    mov qword [recover], .after_cli
    cli
.after_cli:
    mov eax, EXIT_USER
    syscall

syscall_entry:
    cmp rax, EXIT_USER
    je back_to_kernel
    mov [syscall_rax], rax
    mov eax, cs
    and eax, 3
    mov [syscall_cpl], rax
    mov rax, [syscall_rax]
    inc rax
    o64 sysret

back_to_kernel:
    mov rsp, KERNEL_STACK
    jmp after_user
%endif

gp_entry:
    mov qword [fault_vector], 13
    push rax
    mov rax, [rsp + 32]           ; RFLAGS image: error code, RIP, CS, RFLAGS
    mov [gp_frame_rflags], rax
    pop rax
    jmp fault_common
pf_entry:
    mov qword [fault_vector], 14
fault_common:
    ; Log (vector, error code, CR2), resume at [recover].
    push rax
    push rbx
    mov rbx, [fault_count]
    imul rbx, rbx, 24
    mov rax, [fault_vector]
    mov [fault_log + rbx], rax
    mov rax, [rsp + 16]
    mov [fault_log + rbx + 8], rax
    mov rax, cr2
    mov [fault_log + rbx + 16], rax
    inc qword [fault_count]
    mov rax, [recover]
    mov [rsp + 24], rax
    pop rbx
    pop rax
    add rsp, 8
    iretq

ud_on_ist_entry:
    mov [ist_rsp], rsp
    add qword [rsp], 2            ; past the UD2
    iretq

timer_entry:
    push rax
    inc qword [ticks]
    mov al, 0x20
    out 0x20, al
    pop rax
    iretq

spurious_entry:
    iretq

unexpected:
    mov rsi, msg_unexpected
    call print
    mov al, 0x7f
    out 0xf4, al
    cli
    hlt

align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff         ; 0x08 kernel code, 32-bit
    dq 0x00af9a000000ffff         ; 0x10 kernel code, 64-bit
    dq 0x00cf92000000ffff         ; 0x18 kernel data
    dq 0x00cffa000000ffff         ; 0x20 user code, 32-bit
    dq 0x00cff2000000ffff         ; 0x28 user data
    dq 0x00affa000000ffff         ; 0x30 user code, 64-bit
    dq 0, 0                       ; 0x38 TSS (16 bytes, filled in)
    dq 0x00009a000000ffff         ; 0x48 16-bit code
    dq 0x000092000000ffff         ; 0x50 16-bit data
gdt_end:
gdt_descriptor:
    dw gdt_end - gdt - 1
    dq gdt

align 16
tss:
    dd 0
    dq KERNEL_STACK               ; RSP0
    dq 0, 0                       ; RSP1, RSP2
    dq 0
    dq IST1_STACK                 ; IST1
    times 6 dq 0
    dq 0
    dw 0
    dw 104                        ; no I/O permission bitmap
tss_end:

align 16
idt:
    times 0x42 * 16 db 0
idt_end:
idt_descriptor:
    dw idt_end - idt - 1
    dq idt

align 8
compat_pointer:   dd compat_mode
                  dw KERNEL_CS32
down_pointer:     dd going_down
                  dw KERNEL_CS32
align 8
compat_eax:       dq 0
compat_efer:      dq 0
failed:           dq 0
line_bad:         dq 0
recover:          dq 0
fault_vector:     dq 0
fault_count:      dq 0
fault_log:        times 3 * 16 dq 0
ist_rsp:          dq 0
gp_frame_rflags:  dq 0
ticks:            dq 0
user_cpl:         dq 0
syscall_rax:      dq 0
syscall_cpl:      dq 0
syscall_result:   dq 0
cpl_after_sysret: dq 0

msg_magic_ok:        db "entry: 32-bit protected mode, multiboot magic ok", 10, 0
msg_magic_bad:       db "entry: multiboot magic FAIL", 10, 0
msg_ok:              db " ok", 10, 0
msg_fail:            db " FAIL", 10, 0
msg_zf:              db " zf=", 0
msg_value:           db " value=", 0
msg_lar_kernel_data: db "lar kernel data:", 0
msg_lsl_kernel_data: db "lsl kernel data:", 0
msg_lsl_code16:      db "lsl 16-bit code:", 0
msg_lar_user_data:   db "lar user data from CPL 0:", 0
msg_lar_tss:         db "lar busy 64-bit TSS:", 0
msg_lsl_tss:         db "lsl busy 64-bit TSS:", 0
msg_lar_tss_high:    db "lar upper half of the TSS descriptor:", 0
msg_lsl_null:        db "lsl null selector:", 0
msg_lar_past_limit:  db "lar past the GDT limit:", 0
msg_lar_rpl3:        db "lar RPL 3 selector of a DPL 0 segment:", 0
msg_verr_code:       db "verr readable code:", 0
msg_verw_code:       db "verw code:", 0
msg_verw_data:       db "verw writable data:", 0
msg_verr_tss:        db "verr TSS:", 0
msg_verw_rpl3:       db "verw RPL 3 selector of a DPL 0 segment:", 0
msg_lar_memory16:    db "lar 16-bit from a word in memory:", 0
kernel_ds_word:      dw KERNEL_DS
msg_vector:          db " vector=", 0
msg_code:            db " code=", 0
msg_cr2:             db " cr2=", 0
msg_lma:             db "long mode: EFER.LMA=", 0
msg_pf_not_present:  db "#PF not present:", 0
msg_pf_wp:           db "#PF supervisor write, read-only page:", 0
msg_pf_nx:           db "#PF no-execute fetch:", 0
msg_accessed_dirty:  db "accessed+dirty bits=", 0
msg_invlpg:          db "invlpg sees new mapping=", 0
msg_gp_noncanonical: db "#GP non-canonical:", 0
msg_rf:              db "#GP frame has RFLAGS.RF=", 0
msg_ist:             db "#UD on IST1, stack pointer in handler=", 0
msg_swapgs:          db "swapgs GS.base=", 0
msg_user_cpl:        db "iretq to ring 3, CPL=", 0
msg_syscall_cpl:     db "syscall handler CPL=", 0
msg_sysret:          db "sysret result=", 0
msg_sysret_cpl:      db "CPL after sysret=", 0
msg_pf_user_super:   db "#PF user read of supervisor page:", 0
msg_pf_user_ro:      db "#PF user write to read-only page:", 0
msg_gp_user_cli:     db "#GP cli at CPL 3:", 0
msg_timer:           db "PIT IRQ 0 via PIC woke HLT 3 times=", 0
msg_compat_dec:      db "compatibility mode: 48 is DEC EAX, EAX=", 0
msg_compat_lma:      db "compatibility mode: EFER.LMA=", 0
msg_lma_off_ok:      db "paging off in compatibility mode: EFER.LMA=0 ok", 10, 0
msg_lma_off_bad:     db "paging off in compatibility mode: EFER.LMA=0 FAIL", 10, 0
msg_unexpected:      db "unexpected exception", 10, 0

; The real-mode end of test 12, copied to REAL_STUB (below 1 MiB) and
; entered in 16-bit protected mode.
align 16
real_stub_source:
section real_stub_section align=16 vstart=REAL_STUB follows=.text
bits 16
real_stub:
    mov ax, DATA16
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr0
    and al, 0xfe                  ; PE off
    mov cr0, eax
    jmp 0:real_again
real_again:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, REAL_STUB
    lidt [real_ivt]
    mov word [0x42 * 4], real_int42
    mov word [0x42 * 4 + 2], 0
    mov ax, 0x1234
    int 0x42
    mov si, real_msg_ok
    cmp ax, 0x1235
    je .checked
    mov si, real_msg_bad
    mov byte [LOW_FAILED], 1
.checked:
    call real_print
    mov si, real_msg_done
    call real_print
    mov al, 0x10
    add al, [LOW_FAILED]
    out 0xf4, al
    cli
    hlt
real_int42:
    inc ax
    iret
real_print:
    lodsb
    test al, al
    jz .done
    out 0xe9, al
    jmp real_print
.done:
    ret
real_ivt:
    dw 0x3ff
    dd 0
real_msg_ok:   db "real mode again: int 42 via IVT ok", 10, 0
real_msg_bad:  db "real mode again: int 42 via IVT FAIL", 10, 0
real_msg_done: db "done", 10, 0
real_stub_end:

; A flat binary for 1 MiB (and a multiboot kernel for QEMU -kernel) that
; stays in 32-bit protected mode and checks, on the 0xE9 debug console:
; - 32-bit paging: a 4 MiB PSE page, a page table, #PF error codes and CR2;
; - segment loads: #GP(selector) past the GDT limit and for an execute-only
;   code segment, #NP(selector) for a not-present segment;
; - far CALL/RETF and far JMP through the GDT;
; - ring 3 through IRET; INT 0x80 from ring 3 through a DPL-3 trap gate,
;   with the ring switch to the 32-bit TSS's SS0:ESP0 and IRET back out;
;   #GP for HLT and IN at CPL 3; #PF for a user write to a read-only page.
; Ends by writing 0x10 (all passed) or 0x11 to port 0xF4.
; Build: nasm -f bin protected_mode.asm -o protected_mode.bin
bits 32
org 0x100000

KERNEL_CS equ 0x08
KERNEL_DS equ 0x10
USER_CS   equ 0x18
USER_DS   equ 0x20
TSS_SEL   equ 0x28
EXEC_ONLY equ 0x30
ABSENT    equ 0x38
PAGE_DIR   equ 0x10000
PAGE_TABLE equ 0x11000               ; maps 0x400000-0x7fffff
KERNEL_STACK equ 0x80000
USER_STACK   equ 0x3f0000

%include "flat32_entry.inc"

    ; IDT: everything unexpected, then the gates the tests use.
    xor ebx, ebx
.unexpected:
    mov eax, unexpected
    mov dl, 0x8e
    call set_gate
    inc ebx
    cmp ebx, 0x82
    jb .unexpected
    mov ebx, 11
    mov eax, np_entry
    call set_gate
    mov ebx, 13
    mov eax, gp_entry
    call set_gate
    mov ebx, 14
    mov eax, pf_entry
    call set_gate
    mov ebx, 0x80
    mov eax, int80_entry
    mov dl, 0xef                      ; trap gate, DPL 3
    call set_gate
    mov ebx, 0x81
    mov eax, back_to_kernel
    mov dl, 0xee                      ; interrupt gate, DPL 3
    call set_gate
    lidt [idt_descriptor]

    ; TSS descriptor (32-bit available TSS), then LTR.
    mov eax, tss
    mov [gdt + TSS_SEL + 2], ax
    shr eax, 16
    mov [gdt + TSS_SEL + 4], al
    mov [gdt + TSS_SEL + 7], ah
    mov ax, TSS_SEL
    ltr ax

    ; 32-bit paging: PDE 0 a 4 MiB user page (identity), PDE 1 a table
    ; whose entry 0 is absent and entry 1 read-only for the user.
    mov edi, PAGE_DIR
    mov ecx, 2 * 1024
    xor eax, eax
    rep stosd
    mov dword [PAGE_DIR], 0x87
    mov dword [PAGE_DIR + 4], PAGE_TABLE | 7
    mov dword [PAGE_TABLE + 4], 0x50000 | 5
    mov eax, PAGE_DIR
    mov cr3, eax
    mov eax, cr4
    or eax, 1 << 4                    ; PSE
    mov cr4, eax
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16)     ; PG, WP
    mov cr0, eax

    ; 1. Not-present read: #PF(0), CR2.
    mov dword [recover], .after_absent
    mov eax, [0x400000]
.after_absent:
    mov esi, msg_pf_absent
    mov edi, 14
    xor edx, edx
    mov ebp, 0x400000
    call expect_fault

    ; 2. A selector past the GDT limit: #GP(0x40).
    mov dword [recover], .after_limit
    mov ax, 0x40
    mov ds, ax
.after_limit:
    mov ax, KERNEL_DS
    mov ds, ax
    mov esi, msg_gp_limit
    mov edi, 13
    mov edx, 0x40
    mov ebp, -1
    call expect_fault

    ; 3. An execute-only code segment in DS: #GP(0x30).
    mov dword [recover], .after_exec_only
    mov ax, EXEC_ONLY
    mov es, ax
.after_exec_only:
    mov ax, KERNEL_DS
    mov es, ax
    mov esi, msg_gp_exec_only
    mov edi, 13
    mov edx, EXEC_ONLY
    mov ebp, -1
    call expect_fault

    ; 4. A not-present data segment: #NP(0x38).
    mov dword [recover], .after_absent_segment
    mov ax, ABSENT
    mov fs, ax
.after_absent_segment:
    mov ax, KERNEL_DS
    mov fs, ax
    mov esi, msg_np
    mov edi, 11
    mov edx, ABSENT
    mov ebp, -1
    call expect_fault

    ; 5. Far CALL and RETF, far JMP.
    call KERNEL_CS:far_target
    mov esi, msg_far_call
    mov edx, 0x5a
    call check
    jmp KERNEL_CS:.after_far_jump
.after_far_jump:
    mov eax, 1
    mov esi, msg_far_jump
    mov edx, 1
    call check

    ; 6. Ring 3 through IRET.
    push USER_DS | 3
    push USER_STACK
    push 0x2
    push USER_CS | 3
    push user_code
    iret

after_user:
    mov eax, [user_cpl]
    mov esi, msg_user_cpl
    mov edx, 3
    call check
    mov eax, [int80_cpl]
    mov esi, msg_int80_cpl
    xor edx, edx
    call check
    mov eax, [int80_esp]
    mov esi, msg_int80_esp
    mov edx, KERNEL_STACK - 20
    call check
    mov eax, [int80_ss]
    mov esi, msg_int80_ss
    mov edx, KERNEL_DS
    call check
    mov eax, [int80_result]
    mov esi, msg_int80_back
    mov edx, 0x81
    call check
    mov eax, [cpl_after_iret]
    mov esi, msg_iret_cpl
    mov edx, 3
    call check
    mov ebx, 4
    mov esi, msg_gp_hlt
    mov edi, 13
    xor edx, edx
    mov ebp, -1
    call expect_fault_at
    mov ebx, 5
    mov esi, msg_gp_in
    mov edi, 13
    xor edx, edx
    mov ebp, -1
    call expect_fault_at
    mov ebx, 6
    mov esi, msg_pf_user_ro
    mov edi, 14
    mov edx, 7
    mov ebp, 0x401000
    call expect_fault_at

    mov esi, msg_done
    call print
    mov al, 0x10
    add al, [failed]
    out 0xf4, al
    cli
    hlt

far_target:
    mov eax, 0x5a
    retf

; The CPL-3 part.
user_code:
    mov eax, cs
    and eax, 3
    mov [user_cpl], eax
    mov eax, 0x80
    int 0x80
    mov [int80_result], eax
    mov eax, cs
    and eax, 3
    mov [cpl_after_iret], eax
    mov dword [recover], .after_hlt
    hlt
.after_hlt:
    mov dword [recover], .after_in
    in al, 0x80
.after_in:
    mov dword [recover], .after_ro
    mov byte [0x401000], 1
.after_ro:
    int 0x81

int80_entry:
    mov [int80_esp], esp
    mov ecx, ss
    mov [int80_ss], ecx
    mov ecx, cs
    and ecx, 3
    mov [int80_cpl], ecx
    inc eax
    iret

back_to_kernel:
    mov esp, KERNEL_STACK
    jmp after_user

np_entry:
    mov dword [fault_vector], 11
    jmp fault_common
gp_entry:
    mov dword [fault_vector], 13
    jmp fault_common
pf_entry:
    mov dword [fault_vector], 14
fault_common:
    ; Log (vector, error code, CR2), resume at [recover].
    push eax
    push ebx
    mov ebx, [fault_count]
    imul ebx, ebx, 12
    mov eax, [fault_vector]
    mov [fault_log + ebx], eax
    mov eax, [esp + 8]
    mov [fault_log + ebx + 4], eax
    mov eax, cr2
    mov [fault_log + ebx + 8], eax
    inc dword [fault_count]
    mov eax, [recover]
    mov [esp + 12], eax
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

; set_gate: ebx = vector, eax = handler, dl = type/DPL byte.
set_gate:
    mov [idt + ebx * 8], ax
    mov word [idt + ebx * 8 + 2], KERNEL_CS
    mov byte [idt + ebx * 8 + 4], 0
    mov [idt + ebx * 8 + 5], dl
    shr eax, 16
    mov [idt + ebx * 8 + 6], ax
    ret

field:
    call print
    call hex
    cmp eax, edx
    je .same
    mov byte [line_bad], 1
.same:
    ret

verdict:
    mov esi, msg_ok
    cmp byte [line_bad], 0
    je .print
    mov esi, msg_fail
    mov byte [failed], 1
.print:
    mov byte [line_bad], 0
    jmp print

; check: esi = label, eax = observed, edx = expected.
check:
    mov ecx, 8
    call field
    jmp verdict

; expect_fault: the most recent fault; expect_fault_at: fault number ebx.
; esi = name, edi = vector, edx = error code, ebp = CR2 (or -1).
expect_fault:
    mov ebx, [fault_count]
    dec ebx
expect_fault_at:
    call print
    imul ebx, ebx, 12
    push edx
    mov esi, msg_vector
    mov eax, [fault_log + ebx]
    mov edx, edi
    mov ecx, 2
    call field
    pop edx
    mov esi, msg_code
    mov eax, [fault_log + ebx + 4]
    mov ecx, 4
    call field
    cmp ebp, -1
    je .done
    mov esi, msg_cr2
    mov eax, [fault_log + ebx + 8]
    mov edx, ebp
    mov ecx, 8
    call field
.done:
    jmp verdict

align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff             ; 0x08 kernel code
    dq 0x00cf92000000ffff             ; 0x10 kernel data
    dq 0x00cffa000000ffff             ; 0x18 user code
    dq 0x00cff2000000ffff             ; 0x20 user data
    dq 0x0000890000000067             ; 0x28 TSS (base filled in)
    dq 0x00cf98000000ffff             ; 0x30 execute-only code
    dq 0x00cf12000000ffff             ; 0x38 data, not present
gdt_end:
gdt_descriptor:
    dw gdt_end - gdt - 1
    dd gdt

align 16
tss:
    dd 0
    dd KERNEL_STACK                   ; ESP0
    dd KERNEL_DS                      ; SS0
    times 22 dd 0
    dw 0
    dw 104                            ; no I/O permission bitmap

align 8
idt:
    times 0x82 * 8 db 0
idt_end:
idt_descriptor:
    dw idt_end - idt - 1
    dd idt

align 4
failed:         dd 0
line_bad:       dd 0
recover:        dd 0
fault_vector:   dd 0
fault_count:    dd 0
fault_log:      times 3 * 16 dd 0
user_cpl:       dd 0
int80_esp:      dd 0
int80_ss:       dd 0
int80_cpl:      dd 0
int80_result:   dd 0
cpl_after_iret: dd 0

msg_start:        db "protected mode: flat entry ok", 10, 0
msg_ok:           db " ok", 10, 0
msg_fail:         db " FAIL", 10, 0
msg_vector:       db " vector=", 0
msg_code:         db " code=", 0
msg_cr2:          db " cr2=", 0
msg_pf_absent:    db "#PF not present (32-bit paging):", 0
msg_gp_limit:     db "#GP selector past the GDT limit:", 0
msg_gp_exec_only: db "#GP execute-only segment in ES:", 0
msg_np:           db "#NP not-present segment:", 0
msg_far_call:     db "far call and retf=", 0
msg_far_jump:     db "far jmp=", 0
msg_user_cpl:     db "iret to ring 3, CPL=", 0
msg_int80_cpl:    db "int 0x80 handler CPL=", 0
msg_int80_esp:    db "int 0x80 handler ESP (TSS ESP0 - 20)=", 0
msg_int80_ss:     db "int 0x80 handler SS (TSS SS0)=", 0
msg_int80_back:   db "iret back to ring 3 with EAX=", 0
msg_iret_cpl:     db "CPL after iret=", 0
msg_gp_hlt:       db "#GP hlt at CPL 3:", 0
msg_gp_in:        db "#GP in at CPL 3:", 0
msg_pf_user_ro:   db "#PF user write to read-only page:", 0
msg_done:         db "done", 10, 0
msg_unexpected:   db "unexpected exception", 10, 0

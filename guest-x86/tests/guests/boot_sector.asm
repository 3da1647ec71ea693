; A 512-byte boot sector: real mode (boot drive in DL, an interrupt through
; the IVT) -> 32-bit protected mode -> long mode with identity paging.
; Reports one line per step on the 0xE9 debug console, then writes 0x10 to
; the isa-debug-exit port 0xF4 (exit status 33 under QEMU and x86emu).
; Build: nasm -f bin boot_sector.asm -o boot_sector.bin
bits 16
org 0x7c00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    mov si, msg_dl_ok
    cmp dl, 0x80
    je .dl_checked
    mov si, msg_dl_bad
.dl_checked:
    call print16
    ; A real-mode interrupt through the IVT entry we install.
    mov word [0x42 * 4], int42
    mov word [0x42 * 4 + 2], 0
    mov ax, 0x1234
    int 0x42
    mov si, msg_int_ok
    cmp ax, 0x1235
    je .int_checked
    mov si, msg_int_bad
.int_checked:
    call print16
    lgdt [gdt_descriptor]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:protected32

int42:
    inc ax
    iret

print16:
    lodsb
    test al, al
    jz .done
    out 0xe9, al
    jmp print16
.done:
    ret

bits 32
protected32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7c00
    mov esi, msg_pm32
    call print32
    ; PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000: one 2 MiB identity page.
    mov edi, 0x1000
    mov ecx, 3 * 1024
    xor eax, eax
    rep stosd
    mov dword [0x1000], 0x2003
    mov dword [0x2000], 0x3003
    mov dword [0x3000], 0x83
    mov eax, 0x1000
    mov cr3, eax
    mov eax, cr4
    or eax, 1 << 5                 ; PAE
    mov cr4, eax
    mov ecx, 0xc0000080            ; EFER
    rdmsr
    or eax, 1 << 8                 ; LME
    wrmsr
    mov eax, cr0
    or eax, 1 << 31                ; PG: long mode becomes active
    mov cr0, eax
    jmp 0x18:long64

print32:
    lodsb
    test al, al
    jz .done
    out 0xe9, al
    jmp print32
.done:
    ret

bits 64
long64:
    mov ecx, 0xc0000080
    rdmsr
    mov esi, msg_long_ok
    test eax, 1 << 10              ; EFER.LMA
    jnz .checked
    mov esi, msg_long_bad
.checked:
.print:
    lodsb
    test al, al
    jz .exit
    out 0xe9, al
    jmp .print
.exit:
    mov al, 0x10
    out 0xf4, al
    cli
    hlt

align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff          ; 0x08: 32-bit code
    dq 0x00cf92000000ffff          ; 0x10: data
    dq 0x00af9a000000ffff          ; 0x18: 64-bit code
gdt_descriptor:
    dw gdt_descriptor - gdt - 1
    dd gdt

msg_dl_ok:    db "real mode: boot drive 80 ok", 10, 0
msg_dl_bad:   db "real mode: boot drive FAIL", 10, 0
msg_int_ok:   db "real mode: int 42 via IVT ok", 10, 0
msg_int_bad:  db "real mode: int 42 via IVT FAIL", 10, 0
msg_pm32:     db "protected mode: 32-bit ok", 10, 0
msg_long_ok:  db "long mode: EFER.LMA ok", 10, 0
msg_long_bad: db "long mode: EFER.LMA FAIL", 10, 0

times 510 - ($ - $$) db 0
dw 0xaa55

; The built-in guest of guest-x86 (`x86emu --demo`, `emu.wasm` with no
; arguments): a disk image whose boot sector loads the rest of it from the
; ATA disk (PIO, no BIOS needed), walks real -> protected -> long mode,
; prints a banner and a self-test report on COM1 and powers off through
; the isa-debug-exit port (0x10: every check passed, 0x11: one failed).
; `boot/demo.rs` holds these bytes; its test assembles this file with nasm
; (`nasm -f bin demo.asm`) and checks they are equal, and runs the image
; under QEMU (`-drive format=raw,file=IMAGE -serial stdio -device
; isa-debug-exit,iobase=0xf4,iosize=4`).

COM1    equ 0x3f8
EXIT    equ 0xf4                ; isa-debug-exit
PML4    equ 0x1000              ; page tables and IDT, zeroed at start
PDPT    equ 0x2000
PD      equ 0x3000
IDT     equ 0x4000
SCRATCH equ 0x5000

        bits 16
        org 0x7c00
start:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        mov es, ax
        ; ATA-6 §8.27 READ SECTORS (LBA 1 on, the primary master) into
        ; 0x7E00, one DRQ block of 256 words per sector.
        mov dx, 0x1f2
        mov al, (image_end - stage2) / 512
        out dx, al              ; sector count
        inc dx
        mov al, 1
        out dx, al              ; LBA 7:0
        inc dx
        xor al, al
        out dx, al              ; LBA 15:8
        inc dx
        out dx, al              ; LBA 23:16
        inc dx
        mov al, 0xe0
        out dx, al              ; LBA mode, master
        inc dx
        mov al, 0x20
        out dx, al              ; the command
        mov di, stage2
        mov bl, (image_end - stage2) / 512
.sector:
        in al, dx               ; status: wait for BSY clear, DRQ set
        test al, 0x80
        jnz .sector
        test al, 0x08
        jz .sector
        mov cx, 256
        mov dx, 0x1f0
        rep insw
        mov dx, 0x1f7
        dec bl
        jnz .sector
        ; Real mode: segment * 16 + offset, two ways to name 0x10000.
        mov ax, 0x1000
        mov es, ax
        mov word [es:0], 0x5a17
        mov ax, 0x0fff
        mov es, ax
        cmp word [es:0x10], 0x5a17
        sete [ok_real]
        ; SDM Vol.3A §9.9.1: GDT, CR0.PE, a far jump.
        lgdt [gdt_ptr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pmode

        times 510 - ($ - $$) db 0
        dw 0xaa55

stage2:
        bits 32
pmode:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        ; SS is now a 32-bit (B = 1) segment: PUSH moves ESP by 4.
        mov ebx, esp
        push eax
        sub ebx, esp
        pop eax
        cmp ebx, 4
        sete [ok_prot]
        ; Page tables: 0-2 MiB identity-mapped by one 2 MiB page, and the
        ; same page directory again at 1 GiB (PDPT[1]).
        mov edi, PML4
        xor eax, eax
        mov ecx, (SCRATCH - PML4) / 4
        rep stosd
        mov dword [PML4], PDPT | 3
        mov dword [PDPT], PD | 3
        mov dword [PDPT + 8], PD | 3
        mov dword [PD], 0x83    ; present, writable, 2 MiB (PS)
        ; SDM Vol.3A §10.8.5: PAE, CR3, EFER.LME, then CR0.PG.
        mov eax, cr4
        or al, 1 << 5
        mov cr4, eax
        mov eax, PML4
        mov cr3, eax
        mov ecx, 0xc0000080
        rdmsr
        or ah, 1                ; LME (bit 8)
        wrmsr
        mov eax, cr0
        or eax, 1 << 31
        mov cr0, eax
        jmp 0x18:lmode

        bits 64
lmode:
        ; EFER.LMA (bit 10) says long mode is active.
        rdmsr
        bt eax, 10
        setc [ok_lma]
        mov eax, 0x80000001
        cpuid
        bt edx, 29
        setc [ok_cpuid]
        ; A write through 0x5000 reads back through its 1 GiB alias.
        mov rax, 0x1122334455667788
        mov [SCRATCH], rax
        cmp [SCRATCH + 0x40000000], rax
        sete [ok_alias]
        ; #DE through a 64-bit interrupt gate (SDM Vol.3A §6.14.1).
        mov word [IDT], de_handler
        mov word [IDT + 2], 0x18
        mov word [IDT + 4], 0x8e00
        lidt [idt_ptr]
        xor ecx, ecx
        div ecx                 ; 2 bytes; the handler skips them
        ; MUL then DIV gives the number back.
        mov rax, 0xfedcba9876543210
        mov rbx, rax
        mov rcx, 0x123456789
        mul rcx
        div rcx
        cmp rax, rbx
        sete [ok_muldiv]
        ; The report: one line per check, in the order of `checks`.
        mov dx, COM1
        mov rsi, banner
        call print
        mov rbx, ok_real
        xor ebp, ebp            ; failures
.line:
        call print              ; rsi: the check's name
        mov r8, rsi
        cmp byte [rbx], 1
        mov rsi, pass
        je .passed
        mov rsi, fail
        inc ebp
.passed:
        call print
        mov rsi, r8
        inc rbx
        cmp rbx, ok_muldiv + 1
        jne .line
        mov rsi, bye
        call print
        lea eax, [rbp + 0x10]
        mov dx, EXIT
        out dx, eax
        hlt

de_handler:
        inc byte [ok_de]
        add qword [rsp], 2      ; past the DIV
        iretq

; Prints the NUL-terminated string at rsi on port dx; rsi ends past the NUL.
print:
        lodsb
        test al, al
        jz .done
        out dx, al
        jmp print
.done:
        ret

gdt:    dq 0
        dq 0x00cf9a000000ffff   ; 0x08: 32-bit code, flat
        dq 0x00cf92000000ffff   ; 0x10: data, flat
        dq 0x00af9a000000ffff   ; 0x18: 64-bit code
gdt_ptr:
        dw $ - gdt - 1
        dd gdt
idt_ptr:
        dw 15
        dq IDT

; One byte per check, 1 when it passed, in the order of the names below.
ok_real:   db 0
ok_prot:   db 0
ok_lma:    db 0
ok_cpuid:  db 0
ok_alias:  db 0
ok_de:     db 0
ok_muldiv: db 0

banner: db "guest-x86 built-in guest: real -> protected -> long mode", 10, 0
checks: db "real mode: 1000:0000 is 0FFF:0010", 0
        db "protected mode: 32-bit stack", 0
        db "long mode: EFER.LMA", 0
        db "long mode: CPUID LM", 0
        db "paging: 2 MiB page seen at 1 GiB", 0
        db "IDT: #DE handled", 0
        db "64-bit MUL/DIV", 0
pass:   db " ... ok", 10, 0
fail:   db " ... FAIL", 10, 0
bye:    db "powering off", 10, 0

        times (512 - ($ - $$) % 512) % 512 db 0
image_end:

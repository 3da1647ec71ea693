; A six-sector disk image whose first sector boots (real mode, as a BIOS
; leaves it), loads sectors 1-2 (the rest of the code) with an ATA PIO
; read and checks the primary ATA disk on the 0xE9 console: IDENTIFY
; (capacity, LBA support), READ SECTORS of sector 0 (equal to the code at
; 0x7C00) and of two sectors of known data, WRITE SECTORS then FLUSH CACHE
; and a read back, READ SECTORS EXT (LBA48), a read past the end and an
; unknown command (both aborted). Ends by writing 0x10 (all passed) or
; 0x11 to port 0xF4.
; Build: nasm -f bin ide.asm -o ide.img
bits 16
org 0x7c00

ATA_DATA    equ 0x1f0
ATA_ERROR   equ 0x1f1
ATA_COUNT   equ 0x1f2
ATA_LBA0    equ 0x1f3
ATA_DEVICE  equ 0x1f6
ATA_STATUS  equ 0x1f7
ATA_CONTROL equ 0x3f6
BUFFER      equ 0x9000
STAGE2_SECTORS equ 2
ST_ERR      equ 0x01
ST_DRQ      equ 0x08
ST_BSY      equ 0x80

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    cld
    mov dx, ATA_CONTROL
    mov al, 0x02                      ; nIEN: poll, no interrupts
    out dx, al
    ; Stage 1: READ SECTORS 1-2 to 0x7E00, right after this sector.
    mov al, 0x20
    mov ebx, 1
    mov cl, STAGE2_SECTORS
    call command_lba
    mov di, stage2
    mov bp, STAGE2_SECTORS
.load:
    call read_block
    dec bp
    jnz .load
    jmp stage2

; command_lba: al = command, ebx = LBA28, cl = count.
command_lba:
    push ax
    mov dx, ATA_COUNT
    mov al, cl
    out dx, al
    mov eax, ebx
    inc dx
    out dx, al                        ; LBA 7:0
    shr eax, 8
    inc dx
    out dx, al
    shr eax, 8
    inc dx
    out dx, al
    shr eax, 8
    and al, 0x0f
    or al, 0xe0                       ; LBA, master
    inc dx
    out dx, al
    pop ax
; command: al = command to the master.
command:
    push ax
    call wait_ready
    mov dx, ATA_STATUS
    pop ax
    out dx, al
    ret

; wait_ready: until BSY clears; wait_drq: then until DRQ or ERR.
wait_ready:
    mov dx, ATA_STATUS
.busy:
    in al, dx
    test al, ST_BSY
    jnz .busy
    ret
wait_drq:
    call wait_ready
    test al, ST_DRQ | ST_ERR
    jz wait_drq
    ret

; read_sector: one block into BUFFER; read_sector_2: into BUFFER + 512;
; read_block: into di.
read_sector:
    mov di, BUFFER
    jmp read_block
read_sector_2:
    mov di, BUFFER + 512
read_block:
    call wait_drq
    mov cx, 256
    mov dx, ATA_DATA
    rep insw
    ret

    times 510 - ($ - $$) db 0
    dw 0xaa55

stage2:
    ; 1. IDENTIFY: capacity (words 60-61) and LBA support (word 49 bit 9).
    mov al, 0xec
    xor ebx, ebx
    call command
    call read_sector
    mov si, m_sectors
    mov ax, [BUFFER + 60 * 2]
    mov dx, 6
    call check
    mov si, m_lba
    mov ax, [BUFFER + 49 * 2]
    and ax, 1 << 9
    mov dx, 1 << 9
    call check

    ; 2. Sector 0 is this code.
    mov al, 0x20                      ; READ SECTORS
    xor ebx, ebx                      ; LBA 0
    mov cl, 1
    call command_lba
    call read_sector
    mov si, 0x7c00
    call same_as_buffer
    mov si, m_self
    mov dx, 1
    call check

    ; 3. Sectors 3 and 4: known data, two blocks of one command.
    mov al, 0x20
    mov ebx, 3
    mov cl, 2
    call command_lba
    call read_sector
    call read_sector_2
    mov si, m_data
    mov ax, [BUFFER + 512 - 2]        ; last word of sector 3
    add ax, [BUFFER + 1024 - 2]       ; last word of sector 4
    mov dx, 0x03fe + 0x04fe
    call check

    ; 4. WRITE SECTORS to sector 5 (the boot sector), FLUSH CACHE, read back.
    mov al, 0x30
    mov ebx, 5
    mov cl, 1
    call command_lba
    call wait_drq
    mov si, 0x7c00
    mov cx, 256
    mov dx, ATA_DATA
    rep outsw
    call wait_ready
    mov al, 0xe7
    call command
    call wait_ready
    mov al, 0x20
    mov ebx, 5
    mov cl, 1
    call command_lba
    call read_sector
    mov si, 0x7c00
    call same_as_buffer
    mov si, m_write
    mov dx, 1
    call check

    ; 5. READ SECTORS EXT of sector 4: high-order bytes written first.
    mov dx, ATA_COUNT
    xor al, al
    out dx, al                        ; count 15:8
    inc dx
    out dx, al                        ; LBA 31:24
    inc dx
    out dx, al                        ; LBA 39:32
    inc dx
    out dx, al                        ; LBA 47:40
    mov dx, ATA_COUNT
    mov al, 1
    out dx, al                        ; count 7:0
    inc dx
    mov al, 4
    out dx, al                        ; LBA 7:0
    inc dx
    xor al, al
    out dx, al
    inc dx
    out dx, al
    mov dx, ATA_DEVICE
    mov al, 0x40
    out dx, al
    mov dx, ATA_STATUS
    mov al, 0x24
    out dx, al
    call read_sector
    mov si, m_ext
    mov ax, [BUFFER + 512 - 2]
    mov dx, 0x04fe
    call check

    ; 6. A read past the end, then an unknown command: ERR, ABRT.
    mov al, 0x20
    mov ebx, 100
    mov cl, 1
    call command_lba
    call wait_ready
    call status_error
    mov si, m_range
    mov dx, 0x0104
    call check
    mov al, 0xff
    call command
    call wait_ready
    call status_error
    mov si, m_unknown
    mov dx, 0x0104
    call check

    mov al, 0x10
    add al, [failed]
    out 0xf4, al
    hlt

; status_error: ax = (status & ERR) << 8 | error register.
status_error:
    mov dx, ATA_STATUS
    in al, dx
    and al, ST_ERR
    mov ah, al
    mov dx, ATA_ERROR
    in al, dx
    ret

; same_as_buffer: ax = 1 if the 512 bytes at si equal BUFFER.
same_as_buffer:
    mov di, BUFFER
    mov cx, 256
    repe cmpsw
    setz al
    movzx ax, al
    ret

; check: si = label, ax = observed, dx = expected; prints label=XXXX ok.
check:
    push ax
.label:
    lodsb
    test al, al
    jz .value
    out 0xe9, al
    jmp .label
.value:
    pop bx
    mov cx, 4
.digit:
    rol bx, 4
    mov al, bl
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 'a' - '0' - 10
.out:
    out 0xe9, al
    loop .digit
    mov si, m_ok
    cmp bx, dx
    je .print
    mov si, m_fail
    mov byte [failed], 1
.print:
    lodsb
    test al, al
    jz .done
    out 0xe9, al
    jmp .print
.done:
    ret

failed:    db 0
m_ok:      db " ok", 10, 0
m_fail:    db " FAIL", 10, 0
m_sectors: db "IDENTIFY sectors=", 0
m_lba:     db "IDENTIFY LBA=", 0
m_self:    db "sector 0 is the boot sector=", 0
m_data:    db "sectors 3-4 last words=", 0
m_write:   db "write, flush, read back=", 0
m_ext:     db "READ EXT sector 4=", 0
m_range:   db "past the end: ERR, error=", 0
m_unknown: db "unknown command: ERR, error=", 0

    times 3 * 512 - ($ - $$) db 0

; Sectors 3 and 4: each word is (sector << 8) | word index * 2 (low byte).
%assign s 3
%rep 2
%assign i 0
%rep 256
    dw (s << 8) | ((i * 2) & 0xff)
%assign i i + 1
%endrep
%assign s s + 1
%endrep
; Sector 5: written by the test.
    times 512 db 0

; A boot sector that writes a screen in VGA text mode (mode 3, as the
; BIOS leaves it) and halts: every cell cleared to blank on blue, a banner
; in two colours, a box-drawing line (characters outside ASCII), the
; cursor moved through the CRT controller (a 16-bit OUT and two 8-bit
; ones), then reports on the 0xE9 console what the registers read back:
; the cursor location, miscellaneous output, and the attribute
; controller's mode register after the 0x3DA flip-flop reset. Ends with
; "done" and CLI; HLT, so the screen can be read from memory afterwards.
; Build: nasm -f bin vga.asm -o vga.bin
bits 16
org 0x7c00

TEXT        equ 0xb800                ; segment of the colour text page
CRTC_INDEX  equ 0x3d4
CRTC_DATA   equ 0x3d5
ATTR        equ 0x3c0
ATTR_READ   equ 0x3c1
MISC_READ   equ 0x3cc
STATUS_1    equ 0x3da
CELLS       equ 80 * 25

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    cld
    mov ax, TEXT
    mov es, ax

    ; Clear: blank on blue (attribute 0x17).
    xor di, di
    mov ax, 0x1720
    mov cx, CELLS
    rep stosw
    ; Row 0: the banner, yellow on blue.
    xor di, di
    mov si, banner
    mov ah, 0x1e
    call put
    ; Row 1, column 4: a second line, black on cyan.
    mov di, (1 * 80 + 4) * 2
    mov si, second
    mov ah, 0x30
    call put
    ; Row 3: a double box-drawing line (CP437 0xC9, 0xCD ... 0xBB).
    mov di, 3 * 80 * 2
    mov ax, 0x1fc9
    stosw
    mov al, 0xcd
    mov cx, 78
    rep stosw
    mov al, 0xbb
    stosw
    ; Row 24, last column: a blinking character (attribute bit 7).
    mov word [es:(CELLS - 1) * 2], 0x9f21

    ; Cursor to row 2, column 5 (cell 165): high byte with a 16-bit OUT
    ; (index in AL, data in AH), low byte with two 8-bit OUTs.
    mov dx, CRTC_INDEX
    mov ax, 0x000e | ((165 >> 8) << 8)
    out dx, ax
    mov al, 0x0f
    out dx, al
    inc dx
    mov al, 165 & 0xff
    out dx, al

    ; Read back: cursor high and low.
    mov si, m_cursor
    call print
    mov dx, CRTC_INDEX
    mov al, 0x0e
    out dx, al
    inc dx
    in al, dx
    call hex
    dec dx
    mov al, 0x0f
    out dx, al
    inc dx
    in al, dx
    call hex
    mov si, m_misc
    call print
    mov dx, MISC_READ
    in al, dx
    call hex
    ; Attribute mode control (index 0x10, palette source bit kept set).
    mov si, m_attr
    call print
    mov dx, STATUS_1
    in al, dx
    mov dx, ATTR
    mov al, 0x30
    out dx, al
    mov dx, ATTR_READ
    in al, dx
    call hex
    mov si, m_done
    call print
    hlt

; put: the NUL-terminated string at si with attribute ah at es:di.
put:
    lodsb
    test al, al
    jz .done
    stosw
    jmp put
.done:
    ret

print:
    lodsb
    test al, al
    jz .done
    out 0xe9, al
    jmp print
.done:
    ret

; hex: al as two hex digits.
hex:
    push ax
    shr al, 4
    call .nibble
    pop ax
.nibble:
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 'a' - '0' - 10
.out:
    out 0xe9, al
    ret

banner:   db "wrun guest-x86: VGA text mode", 0
second:   db "80x25, 16 colours, written at 0xB8000", 0
m_cursor: db "cursor=", 0
m_misc:   db 10, "misc output=", 0
m_attr:   db 10, "attribute mode control=", 0
m_done:   db 10, "done", 10, 0

    times 510 - ($ - $$) db 0
    dw 0xaa55

//! Every fixed guest-physical address and port of the emulated PC, named and
//! documented in one place (like Firecracker's `arch/x86_64/layout.rs`).
//! Code elsewhere uses these names, never the bare numbers.

/// Real-mode interrupt vector table: 256 far pointers at physical 0.
pub const REAL_MODE_IVT: u64 = 0x0;
/// Size of the real-mode IVT (its IDTR limit after reset is 0x3FF).
pub const REAL_MODE_IVT_LIMIT: u16 = 0x3ff;
/// Where a PC BIOS loads a boot sector and jumps to it (CS:IP = 0:7C00).
pub const BOOT_SECTOR_LOAD: u64 = 0x7c00;
/// Size of a boot sector.
pub const BOOT_SECTOR_SIZE: usize = 512;
/// Boot-sector signature at offset 510 (0x55, 0xAA).
pub const BOOT_SIGNATURE: [u8; 2] = [0x55, 0xaa];
/// Boot drive number passed in DL: the first hard disk.
pub const BOOT_DRIVE_FIRST_HDD: u8 = 0x80;
/// Stack a BIOS leaves for the boot sector: SS:SP = 0:7C00, growing down.
pub const BOOT_SECTOR_STACK: u64 = 0x7c00;
/// Start of the legacy VGA window (MMIO, not RAM).
pub const VGA_WINDOW_START: u64 = 0xa_0000;
/// End (exclusive) of the legacy VGA window.
pub const VGA_WINDOW_END: u64 = 0xc_0000;
/// The colour text page (mode 3: 80×25 cells of character, attribute).
pub const VGA_TEXT_BUFFER: u64 = 0xb_8000;
/// Start of the option-ROM and BIOS area (ROM: guest writes are dropped).
pub const BIOS_AREA_START: u64 = 0xc_0000;
/// End (exclusive) of the BIOS area: the 1 MiB line.
pub const BIOS_AREA_END: u64 = 0x10_0000;
/// Where a flat binary is loaded and entered (the 1 MiB line, as a
/// multiboot kernel with load_addr = entry_addr = 1 MiB is under QEMU).
pub const FLAT_LOAD: u64 = 0x10_0000;
/// Stack pointer handed to a flat binary (grows down below the image).
pub const FLAT_STACK: u64 = 0x9_0000;
/// Code selector a flat binary starts with (multiboot convention).
pub const FLAT_CODE_SELECTOR: u16 = 0x08;
/// Data selector of a flat binary's DS/ES/SS/FS/GS.
pub const FLAT_DATA_SELECTOR: u16 = 0x10;
/// An IRET in the BIOS area that every real-mode vector points at (there
/// are no BIOS services); F000:FF53 as on the IBM PC.
pub const BIOS_IRET_STUB: u64 = 0xf_ff53;
/// EAX value a multiboot loader passes (Multiboot spec 0.6.96 §3.2); the
/// flat entry uses it too so one guest runs under QEMU `-kernel` and here.
pub const MULTIBOOT_MAGIC: u32 = 0x2bad_b002;
/// Start of the 32-bit PCI hole: RAM stops here (I/O APIC, local APIC,
/// firmware above).
pub const PCI_HOLE_START: u64 = 0xc000_0000;
/// I/O APIC registers (MMIO).
pub const IO_APIC_BASE: u64 = 0xfec0_0000;
/// The I/O APIC's APIC ID (the processor's local APIC is 0), as the MP
/// table and the MADT declare it.
pub const IO_APIC_ID: u8 = 1;
/// Local APIC registers (MMIO), also the reset value of IA32_APIC_BASE.
pub const LOCAL_APIC_BASE: u64 = 0xfee0_0000;
/// Default RAM size of the PC.
pub const DEFAULT_RAM: u64 = 128 << 20;

/// Where the firmware tables describing the interrupt controllers sit in
/// the BIOS area (`boot/firmware.rs`), all below the IRET stub at 0xFFF53.
pub mod firmware {
    /// MP floating pointer: 16-byte aligned in 0xF0000–0xFFFFF, where the
    /// MP spec 1.4 §4 lets an OS search for it.
    pub const MP_FLOATING_POINTER: u64 = 0xf_0000;
    /// MP configuration table (the floating pointer's target).
    pub const MP_CONFIGURATION_TABLE: u64 = 0xf_0010;
    /// ACPI RSDP: 16-byte aligned in 0xE0000–0xFFFFF (ACPI 6.4 §5.2.5.1).
    pub const ACPI_RSDP: u64 = 0xf_0400;
    /// ACPI RSDT.
    pub const ACPI_RSDT: u64 = 0xf_0440;
    /// ACPI MADT.
    pub const ACPI_MADT: u64 = 0xf_0480;
    /// End (exclusive) of the tables' area.
    pub const END: u64 = 0xf_0800;
}

/// Fixed I/O ports of the PC.
pub mod port {
    /// i8259 master PIC command/data.
    pub const PIC_MASTER: u16 = 0x20;
    /// i8259 slave PIC command/data.
    pub const PIC_SLAVE: u16 = 0xa0;
    /// i8254 PIT channels 0–2 and the mode/command register (0x40–0x43).
    pub const PIT: u16 = 0x40;
    /// i8042 data port (keyboard controller).
    pub const I8042_DATA: u16 = 0x60;
    /// NMI status and control: PIT channel 2 gate (bit 0) and speaker (bit 1).
    pub const SYSTEM_CONTROL_B: u16 = 0x61;
    /// i8042 status/command port; command 0xFE pulses the reset line.
    pub const I8042_COMMAND: u16 = 0x64;
    /// CMOS/RTC register index (bit 7 masks NMI).
    pub const RTC_INDEX: u16 = 0x70;
    /// CMOS/RTC data.
    pub const RTC_DATA: u16 = 0x71;
    /// POST code port: a write-only sink also used for I/O delays.
    pub const POST_CODE: u16 = 0x80;
    /// System control port A: bit 0 = fast reset, bit 1 = A20 gate.
    pub const SYSTEM_CONTROL_A: u16 = 0x92;
    /// Another delay port Linux writes to (`io_delay=0xed`): a sink.
    pub const DELAY: u16 = 0xed;
    /// Bochs/QEMU debug console: each byte written is printed.
    pub const DEBUG_CONSOLE: u16 = 0xe9;
    /// QEMU `isa-debug-exit,iobase=0xf4,iosize=4`: writing V ends the run
    /// with exit status (V << 1) | 1.
    pub const DEBUG_EXIT: u16 = 0xf4;
    /// Primary ATA channel's command block (data, error/features, count,
    /// LBA low/mid/high, device, status/command).
    pub const ATA_PRIMARY: u16 = 0x1f0;
    /// Number of command block ports.
    pub const ATA_COMMAND_BLOCK_PORTS: u16 = 8;
    /// Primary ATA channel's alternate status / device control.
    pub const ATA_PRIMARY_CONTROL: u16 = 0x3f6;
    /// First serial port (16550A), eight registers.
    pub const COM1: u16 = 0x3f8;
    /// VGA attribute controller: index/data written alternately.
    pub const VGA_ATTRIBUTE: u16 = 0x3c0;
    /// VGA attribute controller data read.
    pub const VGA_ATTRIBUTE_READ: u16 = 0x3c1;
    /// VGA miscellaneous output write (reads: input status 0).
    pub const VGA_MISC_WRITE: u16 = 0x3c2;
    /// VGA sequencer index.
    pub const VGA_SEQUENCER_INDEX: u16 = 0x3c4;
    /// VGA sequencer data.
    pub const VGA_SEQUENCER_DATA: u16 = 0x3c5;
    /// VGA DAC pixel mask.
    pub const VGA_DAC_MASK: u16 = 0x3c6;
    /// VGA DAC read index.
    pub const VGA_DAC_READ_INDEX: u16 = 0x3c7;
    /// VGA DAC write index.
    pub const VGA_DAC_WRITE_INDEX: u16 = 0x3c8;
    /// VGA DAC data (red, green, blue in turn).
    pub const VGA_DAC_DATA: u16 = 0x3c9;
    /// VGA miscellaneous output read.
    pub const VGA_MISC_READ: u16 = 0x3cc;
    /// VGA graphics controller index.
    pub const VGA_GRAPHICS_INDEX: u16 = 0x3ce;
    /// VGA graphics controller data.
    pub const VGA_GRAPHICS_DATA: u16 = 0x3cf;
    /// VGA CRT controller index (colour I/O address).
    pub const VGA_CRTC_INDEX: u16 = 0x3d4;
    /// VGA CRT controller data.
    pub const VGA_CRTC_DATA: u16 = 0x3d5;
    /// VGA input status 1 (retrace; resets the attribute flip-flop).
    pub const VGA_INPUT_STATUS_1: u16 = 0x3da;
    /// PCI configuration address register (mechanism #1).
    pub const PCI_CONFIG_ADDRESS: u16 = 0xcf8;
    /// PCI configuration data window (0xCFC–0xCFF).
    pub const PCI_CONFIG_DATA: u16 = 0xcfc;
}

/// Legacy IRQ lines on the PIC pair.
pub mod irq {
    /// PIT channel 0.
    pub const PIT: u8 = 0;
    /// The I/O APIC pin the PIT drives (ISA IRQ 0 is overridden to pin 2,
    /// as on PC chipsets; the MP table and the MADT say so).
    pub const PIT_IO_APIC_PIN: u8 = 2;
    /// The slave PIC cascades into this line of the master.
    pub const CASCADE: u8 = 2;
    /// COM1.
    pub const COM1: u8 = 4;
    /// The primary ATA channel.
    pub const ATA_PRIMARY: u8 = 14;
}

/// Linux boot protocol (kernel `Documentation/x86/boot.rst`): where this
/// loader puts what it hands the kernel, all below the 1 MiB line except the
/// kernel and the initrd.
pub mod linux {
    /// Offset of the setup header in a bzImage and in the zero page.
    pub const SETUP_HEADER_OFFSET: usize = 0x1f1;
    /// Offset of the byte giving the setup header's length past 0x202.
    pub const SETUP_HEADER_LENGTH_BYTE: usize = 0x201;
    /// Offset where the setup header's variable part starts (after the jump).
    pub const SETUP_HEADER_JUMP_END: usize = 0x202;
    /// Size of the zero page (`struct boot_params`).
    pub const ZERO_PAGE_SIZE: usize = 0x1000;
    /// The GDT the kernel is entered with (boot.rst §"32-bit BOOT PROTOCOL":
    /// __BOOT_CS = 0x10, __BOOT_DS = 0x18).
    pub const BOOT_GDT: u64 = 0x1000;
    /// The zero page (`struct boot_params`) handed in RSI/ESI.
    pub const ZERO_PAGE: u64 = 0x7000;
    /// Top of the stack the kernel is entered with (below the zero page).
    pub const BOOT_STACK: u64 = 0x7000;
    /// Identity page tables: PML4, one PDPT, four page directories of
    /// 2 MiB pages mapping the first 4 GiB (boot.rst §"64-bit BOOT PROTOCOL").
    pub const BOOT_PML4: u64 = 0x9000;
    /// The page-directory-pointer table.
    pub const BOOT_PDPT: u64 = 0xa000;
    /// The first of four page directories (0xB000–0xEFFF).
    pub const BOOT_PAGE_DIRECTORIES: u64 = 0xb000;
    /// The kernel command line (NUL-terminated).
    pub const COMMAND_LINE: u64 = 0x2_0000;
    /// Largest command line this loader passes (the buffer up to 0x9F000).
    pub const COMMAND_LINE_MAX: usize = 0x7_f000;
    /// End of usable low memory in the e820 map; 0x9F000–1 MiB (EBDA, VGA,
    /// BIOS) is reserved.
    pub const LOW_RAM_END: u64 = 0x9_f000;
    /// Where the protected-mode part of a bzImage is loaded.
    pub const PROTECTED_MODE_LOAD: u64 = 0x10_0000;
    /// Offset of the 64-bit entry from the start of the protected-mode part
    /// (boot.rst §"64-bit BOOT PROTOCOL": startup_64 = code32_start + 0x200).
    pub const ENTRY_64_OFFSET: u64 = 0x200;
    /// Initrd placement alignment.
    pub const INITRD_ALIGN: u64 = 0x1000;
}

//! Hostile guests never panic the PC: random code at CPL 0 in real,
//! 32-bit protected and long mode over random descriptor tables and page
//! tables; page tables pointing outside RAM; a sweep of every I/O port;
//! a triple fault; a HLT nothing can wake. Each ends in a `RunExit`.

mod rng;
use rng::{Rng, env_u64};

use guest_x86::boot::flat::{load_boot_sector, load_flat};
use guest_x86::cpu::SegReg;
use guest_x86::cpu::state::{FlatKind, Segment, cr};
use guest_x86::pc::{Pc, RunExit};

const RAM: u64 = 16 << 20;
const CODE: u64 = 0x10_0000;

/// A boot sector: `code` at 0x7C00, padded, with the signature.
fn boot_sector(code: &[u8]) -> Vec<u8> {
    let mut image = vec![0u8; 512];
    image[..code.len()].copy_from_slice(code);
    image[510] = 0x55;
    image[511] = 0xaa;
    image
}

/// A PC in 64-bit mode at CPL 0: PML4 0x1000 → PDPT 0x2000 → PD 0x3000
/// mapping the first 16 MiB with supervisor-only 2 MiB pages; RIP = CODE.
fn long_mode_pc(cr3: u64) -> Pc {
    long_mode_pc_with(cr3, 0)
}

/// The same with `user_bit` (0 or 4) in every paging entry.
fn long_mode_pc_with(cr3: u64, user_bit: u64) -> Pc {
    let mut pc = Pc::new(RAM).expect("RAM");
    let mut tables = vec![0u8; 0x3000];
    tables[..8].copy_from_slice(&(0x2003u64 | user_bit).to_le_bytes());
    tables[0x1000..0x1008].copy_from_slice(&(0x3003u64 | user_bit).to_le_bytes());
    for i in 0..8u64 {
        let entry = (i << 21) | 0x83 | user_bit;
        let at = 0x2000 + i as usize * 8;
        tables[at..at + 8].copy_from_slice(&entry.to_le_bytes());
    }
    pc.mem.ram.load(0x1000, &tables).expect("tables fit");
    let cpu = &mut pc.cpu;
    cpu.cr0 |= cr::CR0_PE | cr::CR0_PG;
    cpu.cr4 = cr::CR4_PAE;
    cpu.cr3 = cr3;
    cpu.efer = cr::EFER_LME | cr::EFER_LMA | cr::EFER_NXE | cr::EFER_SCE;
    cpu.segs[SegReg::Cs as usize] = Segment::flat(0x08, 0, FlatKind::Code64);
    for seg in [SegReg::Ds, SegReg::Es, SegReg::Ss] {
        cpu.segs[seg as usize] = Segment::flat(0x10, 0, FlatKind::Data);
    }
    cpu.rip = CODE;
    cpu.gpr[4] = 0x8_0000;
    pc.cpu_state_changed();
    pc
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next() as u8).collect()
}

#[test]
fn random_code_at_cpl0_never_panics() {
    let runs = env_u64("PC_FUZZ_RUNS", 1000);
    let mut rng = Rng(env_u64("PC_FUZZ_SEED", 0x5eed_0fc0));
    let mut outcomes = std::collections::BTreeMap::<&str, u64>::new();
    for run in 0..runs {
        let mut pc = match run % 3 {
            0 => {
                let mut pc = Pc::new(RAM).expect("RAM");
                let code = random_bytes(&mut rng, 510);
                load_boot_sector(&mut pc, &boot_sector(&code)).expect("boot sector");
                pc
            }
            1 => {
                let mut pc = Pc::new(RAM).expect("RAM");
                load_flat(&mut pc, &random_bytes(&mut rng, 4096)).expect("flat");
                pc
            }
            _ => {
                let mut pc = long_mode_pc(0x1000);
                pc.mem
                    .ram
                    .load(CODE, &random_bytes(&mut rng, 4096))
                    .expect("code");
                pc
            }
        };
        // Hostile descriptor tables and data where the random code looks.
        let noise = random_bytes(&mut rng, 0x4000);
        pc.mem.ram.load(0x20_0000, &noise).expect("noise");
        pc.cpu.gdtr.base = 0x20_0000;
        pc.cpu.gdtr.limit = 0xffff;
        pc.cpu.idtr.base = 0x20_1000 + (rng.next() % 0x1000);
        for r in pc.cpu.gpr.iter_mut().skip(5) {
            *r = if rng.chance(50) {
                0x20_0000 + rng.below(0x4000)
            } else {
                rng.next()
            };
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pc.run(5_000)));
        match result {
            Ok(exit) => {
                let name = match exit {
                    RunExit::Budget => "still running",
                    RunExit::DebugExit(_) => "debug exit",
                    RunExit::Reset => "reset",
                    RunExit::TripleFault(_) => "triple fault",
                    RunExit::HaltedForever(_) => "halted",
                    RunExit::Idle => "idle",
                    RunExit::Waiting(_) => "waiting",
                };
                *outcomes.entry(name).or_default() += 1;
            }
            Err(_) => panic!("panic in run {run} (PC_FUZZ_SEED selects the sequence)"),
        }
    }
    eprintln!("outcomes: {outcomes:?}");
}

#[test]
fn page_tables_outside_ram_end_in_a_triple_fault() {
    let mut pc = long_mode_pc(0x8000_0000);
    assert!(matches!(pc.run(1000), RunExit::TripleFault(_)));
}

#[test]
fn a_fault_with_no_idt_is_a_triple_fault() {
    // lidt [empty]; int3 — in real mode past the IVT limit: #GP, #DF, shutdown.
    let code = [0x0f, 0x01, 0x1e, 0x10, 0x7c, 0xcc, 0xf4];
    let mut pc = Pc::new(RAM).expect("RAM");
    load_boot_sector(&mut pc, &boot_sector(&code)).expect("boot sector");
    assert!(matches!(pc.run(1000), RunExit::TripleFault(_)));
}

#[test]
fn hlt_with_interrupts_off_ends_the_run() {
    let mut pc = Pc::new(RAM).expect("RAM");
    load_boot_sector(&mut pc, &boot_sector(&[0xfa, 0xf4])).expect("boot sector");
    assert_eq!(pc.run(1000), RunExit::HaltedForever(0x7c02));
}

#[test]
fn a_sweep_of_every_port_ends_cleanly() {
    // xor dx,dx; l: in al,dx; out dx,al; inc dx; jnz l; cli; hlt
    let code = [0x31, 0xd2, 0xec, 0xee, 0x42, 0x75, 0xfb, 0xfa, 0xf4];
    let mut pc = Pc::new(RAM).expect("RAM");
    load_boot_sector(&mut pc, &boot_sector(&code)).expect("boot sector");
    // Port 0xF4 (isa-debug-exit) reads as open bus and ends the sweep there.
    assert_eq!(pc.run(1_000_000), RunExit::DebugExit(0xff));
}

#[test]
fn corrupt_images_are_refused_before_running() {
    let mut pc = Pc::new(RAM).expect("RAM");
    assert!(load_boot_sector(&mut pc, &[0u8; 100]).is_err());
    assert!(load_boot_sector(&mut pc, &[0u8; 512]).is_err());
    assert!(load_flat(&mut pc, &vec![0u8; RAM as usize]).is_err());
    assert!(Pc::new(1 << 40).is_err());
}

/// Polls COM1's line status, echoes each received byte to port 0xE9 and
/// exits through port 0xF4 with the byte after a `q`.
const SERIAL_ECHO: [u8; 20] = [
    0xba, 0xfd, 0x03, // mov dx, 0x3fd (line status)
    0xec, // in al, dx
    0xa8, 0x01, // test al, 1 (data ready)
    0x74, 0xf8, // jz back to the start
    0xba, 0xf8, 0x03, // mov dx, 0x3f8 (receiver buffer)
    0xec, // in al, dx
    0xe6, 0xe9, // out 0xe9, al
    0x3c, 0x71, // cmp al, 'q'
    0x75, 0xee, // jne back to the start
    0xe6, 0xf4, // out 0xf4, al
];

#[test]
fn serial_input_reaches_the_guest() {
    let mut pc = Pc::new(RAM).expect("RAM");
    load_boot_sector(&mut pc, &boot_sector(&SERIAL_ECHO)).expect("boot sector");
    assert_eq!(
        pc.run(10_000),
        RunExit::Budget,
        "no input yet: the guest polls"
    );
    pc.mem.bus.com1.receive(b"hi q");
    assert_eq!(pc.run(10_000), RunExit::DebugExit(b'q' as u32));
    assert_eq!(pc.mem.bus.debug_console, b"hi q");
}

#[test]
fn x86emu_feeds_stdin_to_the_serial_port() {
    use std::io::Write;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serial_echo.bin");
    std::fs::write(&path, boot_sector(&SERIAL_ECHO)).expect("write the boot sector");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_x86emu"))
        .arg("--boot-sector")
        .arg(&path)
        .args(["--max-instructions", "100000000"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run x86emu");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"abq")
        .expect("write stdin");
    let out = child.wait_with_output().expect("x86emu output");
    assert_eq!(out.stdout, b"abq");
    assert_eq!(out.status.code(), Some(((b'q' as i32) << 1 | 1) & 0xff));
}

#[test]
fn hlt_with_interrupts_on_and_no_timer_is_idle() {
    let mut pc = Pc::new(RAM).expect("RAM");
    load_boot_sector(&mut pc, &boot_sector(&[0xfb, 0xf4])).expect("boot sector");
    assert_eq!(pc.run(1000), RunExit::Idle);
}

#[test]
fn code_the_kernel_ran_is_not_reused_for_a_user_fetch() {
    // The first 16 MiB are supervisor-only 2 MiB pages: `inc eax` at CODE
    // runs at CPL 0, then the same bytes fetched at CPL 3 must fault.
    let mut pc = long_mode_pc(0x1000);
    pc.mem
        .ram
        .load(CODE, &[0xff, 0xc0, 0xff, 0xc0])
        .expect("code");
    assert_eq!(pc.run(1), RunExit::Budget);
    assert_eq!(pc.cpu.gpr[0], 1);
    pc.cpu.rip = CODE;
    // As SYSRET or IRET would: a new CS and CPL, no TLB flush.
    pc.cpu.segs[SegReg::Cs as usize] = Segment::flat(0x33, 3, FlatKind::Code64);
    pc.cpu.sync_mode(&mut pc.mem);
    pc.run(1);
    assert_eq!(pc.cpu.gpr[0], 1, "a user fetch from a supervisor page ran");
}

#[test]
fn sysexit_and_sysenter_switch_rings() {
    let mut pc = long_mode_pc_with(0x1000, 4);
    let user_rip = CODE + 0x80;
    let kernel_rip = CODE + 0x100;
    pc.mem
        .ram
        .load(CODE, &[0x48, 0x0f, 0x35])
        .expect("sysexit (64-bit)");
    pc.mem.ram.load(user_rip, &[0x0f, 0x34]).expect("sysenter");
    pc.mem.ram.load(kernel_rip, &[0xf4]).expect("hlt");
    pc.cpu.msr.sysenter_cs = 0x10;
    pc.cpu.msr.sysenter_eip = kernel_rip;
    pc.cpu.msr.sysenter_esp = 0x9000;
    pc.cpu.gpr[2] = user_rip; // RDX: where SYSEXIT goes
    pc.cpu.gpr[1] = 0x7000; // RCX: the user stack
    assert_eq!(pc.run(1), RunExit::Budget);
    // SDM Vol.2B SYSEXIT: 64-bit CS = SYSENTER_CS + 32, SS = + 40, RPL 3.
    let cs = pc.cpu.segs[SegReg::Cs as usize].selector;
    assert_eq!(
        (cs, pc.cpu.cpl(), pc.cpu.rip, pc.cpu.gpr[4]),
        (0x33, 3, user_rip, 0x7000)
    );
    assert_eq!(pc.cpu.segs[SegReg::Ss as usize].selector, 0x3b);
    assert_eq!(pc.run(1), RunExit::Budget);
    let cs = pc.cpu.segs[SegReg::Cs as usize].selector;
    assert_eq!(
        (cs, pc.cpu.cpl(), pc.cpu.rip, pc.cpu.gpr[4]),
        (0x10, 0, kernel_rip, 0x9000)
    );
    assert_eq!(pc.run(10), RunExit::HaltedForever(kernel_rip + 1));
}

/// Random reads and writes of every width over the local APIC page and the
/// I/O APIC window (self-IPIs with any vector, timers with any count,
/// redirection entries with any bits), then a guest with interrupts on and
/// a random IDT: the PC ends in some `RunExit`, never a panic.
#[test]
fn apic_mmio_storms_never_panic() {
    use guest_x86::boot::layout::{IO_APIC_BASE, LOCAL_APIC_BASE};
    use guest_x86::devices::bus::Bus;
    let mut rng = Rng(env_u64("PC_FUZZ_SEED", 0xa91c));
    for run in 0..200 {
        let mut pc = Pc::new(RAM).expect("RAM");
        // sti; l: hlt; jmp l
        load_boot_sector(&mut pc, &boot_sector(&[0xfb, 0xf4, 0xeb, 0xfd])).expect("boot sector");
        let noise = random_bytes(&mut rng, 0x400);
        pc.mem.ram.load(0, &noise).expect("a random IVT");
        for _ in 0..500 {
            let size = [1u8, 2, 4, 8][rng.below(4) as usize];
            let addr = if rng.chance(70) {
                LOCAL_APIC_BASE + rng.below(0x1000)
            } else {
                IO_APIC_BASE + rng.below(0x40)
            };
            if rng.chance(50) {
                pc.mem.bus.mmio_write(addr, size, rng.next());
            } else {
                pc.mem.bus.mmio_read(addr, size);
            }
            pc.mem.bus.now += rng.below(10_000);
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pc.run(20_000)));
        assert!(
            result.is_ok(),
            "panic in run {run} (PC_FUZZ_SEED selects the sequence)"
        );
    }
}

/// CR8 is the local APIC's TPR[7:4]; IA32_APIC_BASE refuses the x2APIC
/// enable bit (#GP, no x2APIC) and moves the register page.
#[test]
fn cr8_and_the_apic_base_msr_reach_the_local_apic() {
    use guest_x86::boot::layout::LOCAL_APIC_BASE;
    use guest_x86::devices::bus::Bus;
    let mut pc = long_mode_pc(0x1000);
    let code = [
        0xb8, 0x07, 0, 0, 0, // mov eax, 7
        0x44, 0x0f, 0x22, 0xc0, // mov cr8, rax
        0x44, 0x0f, 0x20, 0xc3, // mov rbx, cr8
    ];
    pc.mem.ram.load(CODE, &code).expect("code");
    assert_eq!(pc.run(3), RunExit::Budget);
    assert_eq!(pc.cpu.gpr[3], 7);
    assert_eq!(pc.mem.bus.mmio_read(LOCAL_APIC_BASE + 0x80, 4), 0x70);
    // wrmsr IA32_APIC_BASE: x2APIC enable is #GP; a new base moves the page.
    let apic = pc.mem.bus.local_apic().expect("the PC has a local APIC");
    assert!(apic.write_base_msr(LOCAL_APIC_BASE | 0xd00).is_err());
    apic.write_base_msr(0xfed0_0000 | 0x900).expect("relocate");
    assert_eq!(pc.mem.bus.mmio_read(0xfed0_0080, 4), 0x70);
    assert_eq!(pc.mem.bus.mmio_read(LOCAL_APIC_BASE + 0x80, 4), 0xffff_ffff);
}

/// Random IN/OUT of every width on the ATA ports (0x1F0–0x1F7, 0x3F6) of a
/// small in-memory disk: random commands, counts, addresses past the end,
/// data-port traffic with nothing to transfer. Never a panic, and the
/// image never changes size.
#[test]
fn ata_port_storms_never_panic() {
    use guest_x86::devices::bus::Bus;
    use guest_x86::devices::ide::{Ide, MemoryStorage, SECTOR};
    let mut rng = Rng(env_u64("PC_FUZZ_SEED", 0x1de));
    for _ in 0..50 {
        let mut pc = Pc::new(RAM).expect("RAM");
        let image = random_bytes(&mut rng, 8 * SECTOR);
        pc.mem.bus.ide = Ide::new(Some(Box::new(MemoryStorage(image))));
        for _ in 0..5000 {
            let size = [1u8, 2, 4][rng.below(3) as usize];
            let port = if rng.chance(10) {
                0x3f6
            } else {
                0x1f0 + rng.below(8) as u16
            };
            if rng.chance(50) {
                pc.mem.bus.port_write(port, size, rng.next() as u32);
            } else {
                pc.mem.bus.port_read(port, size);
            }
            pc.mem.bus.update_interrupts();
        }
    }
}

/// Random accesses of every width to the VGA ports (0x3B0–0x3DF) and the
/// whole VGA window, the last bytes included: never a panic, and the
/// screen still renders as 25 lines.
#[test]
fn vga_port_and_window_storms_never_panic() {
    use guest_x86::boot::layout::{VGA_WINDOW_END, VGA_WINDOW_START};
    use guest_x86::devices::bus::Bus;
    let mut rng = Rng(env_u64("PC_FUZZ_SEED", 0x76a));
    let mut pc = Pc::new(RAM).expect("RAM");
    for _ in 0..100_000 {
        if rng.chance(50) {
            let size = [1u8, 2, 4][rng.below(3) as usize];
            let port = 0x3b0 + rng.below(0x30) as u16;
            if rng.chance(50) {
                pc.mem.bus.port_write(port, size, rng.next() as u32);
            } else {
                pc.mem.bus.port_read(port, size);
            }
        } else {
            let size = [1u8, 2, 4, 8][rng.below(4) as usize];
            let addr = VGA_WINDOW_START + rng.below(VGA_WINDOW_END - VGA_WINDOW_START);
            if rng.chance(50) {
                pc.mem.bus.mmio_write(addr, size, rng.next());
            } else {
                pc.mem.bus.mmio_read(addr, size);
            }
        }
    }
    assert_eq!(pc.mem.bus.vga.screen_text().lines().count(), 25);
    let _ = pc.mem.bus.vga.cursor();
}

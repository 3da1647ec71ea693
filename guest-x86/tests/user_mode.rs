//! User mode without a real host: a hand-made static ELF runs on the
//! in-memory `MemHost`; corrupt ELF files give errors that name the
//! problem; random system calls never panic the emulator.

mod common;

mod rng;
use rng::Rng;

use common::{BASE, ET_DYN, HEADERS, MemHost, elf_image, minimal_elf};
use guest_x86::user::loader::LoadError;
use guest_x86::user::{Exit, Process};

/// write(1, "hi\n", 3); exit_group(7)
const HELLO: &[u8] = &[
    0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1
    0xbf, 0x01, 0x00, 0x00, 0x00, // mov edi, 1
    0x48, 0x8d, 0x35, 0x13, 0x00, 0x00, 0x00, // lea rsi, [rip + 19]
    0xba, 0x03, 0x00, 0x00, 0x00, // mov edx, 3
    0x0f, 0x05, // syscall
    0xb8, 0xe7, 0x00, 0x00, 0x00, // mov eax, 231
    0xbf, 0x07, 0x00, 0x00, 0x00, // mov edi, 7
    0x0f, 0x05, // syscall
    b'h', b'i', b'\n',
];

fn load(image: &[u8]) -> Result<Process<MemHost>, LoadError> {
    Process::new(
        MemHost::default(),
        image,
        &[b"prog".to_vec()],
        &[b"HOME=/".to_vec()],
    )
}

#[test]
fn hello_world_runs_on_an_in_memory_host() {
    let mut p = load(&minimal_elf(HELLO)).expect("load");
    assert_eq!(p.run(), Exit::Code(7));
    assert_eq!(p.host.stdout, b"hi\n");
}

#[test]
fn stack_holds_argc_argv_envp_and_auxv() {
    let p = load(&minimal_elf(HELLO)).expect("load");
    let mut mem = p.memory().expect("a task");
    let rsp = p.cpu().expect("a task").gpr[4];
    assert_eq!(rsp % 16, 0, "SysV ABI: RSP 16-byte aligned at entry");
    let word = |mem: &mut guest_x86::mmu::space::AddressSpace, a: u64| {
        let mut b = [0u8; 8];
        mem.peek(a, &mut b).unwrap();
        u64::from_le_bytes(b)
    };
    assert_eq!(word(&mut mem, rsp), 1, "argc");
    let argv0 = word(&mut mem, rsp + 8);
    let mut name = [0u8; 5];
    mem.peek(argv0, &mut name).unwrap();
    assert_eq!(&name, b"prog\0");
    assert_eq!(word(&mut mem, rsp + 16), 0, "argv terminator");
    assert_ne!(word(&mut mem, rsp + 24), 0, "envp[0]");
    assert_eq!(word(&mut mem, rsp + 32), 0, "envp terminator");
    let mut aux = std::collections::BTreeMap::new();
    let mut at = rsp + 40;
    loop {
        let (k, v) = (word(&mut mem, at), word(&mut mem, at + 8));
        if k == 0 {
            break;
        }
        aux.insert(k, v);
        at += 16;
    }
    assert_eq!(aux[&9], BASE + HEADERS, "AT_ENTRY");
    assert_eq!(aux[&6], 4096, "AT_PAGESZ");
    assert_eq!(aux[&3], BASE + 64, "AT_PHDR");
    assert!(
        aux.contains_key(&25) && aux.contains_key(&16),
        "AT_RANDOM and AT_HWCAP"
    );
}

#[test]
fn corrupt_elf_files_are_named_errors() {
    let good = minimal_elf(HELLO);
    let err = |image: &[u8]| load(image).err().expect("must fail");

    assert!(matches!(err(b""), LoadError::Malformed(_)));
    assert!(matches!(err(b"\x7fELF garbage"), LoadError::Malformed(_)));
    assert!(
        matches!(err(&good[..100]), LoadError::Malformed(_)),
        "truncated program headers"
    );

    let mut wrong_machine = good.clone();
    wrong_machine[18] = 3;
    assert_eq!(err(&wrong_machine), LoadError::WrongMachine(3));

    let e = err(&elf_image(2, BASE, HELLO, Some(b"/lib/missing-ld.so")));
    assert!(
        matches!(&e, LoadError::Interpreter(why) if why.contains("missing-ld.so")),
        "{e}"
    );

    let mut no_load = good.clone();
    no_load[64] = 6; // PT_PHDR instead of PT_LOAD
    assert!(matches!(err(&no_load), LoadError::Malformed(_)));

    let mut file_larger_than_memory = good.clone();
    file_larger_than_memory[64 + 40] = 0; // p_memsz low byte
    file_larger_than_memory[64 + 41] = 0;
    let e = err(&file_larger_than_memory);
    assert!(e.to_string().contains("p_filesz > p_memsz"), "{e}");

    let mut past_end = good.clone();
    past_end[64 + 32] = 0xff; // p_filesz
    past_end[64 + 40] = 0xff; // p_memsz
    let e = err(&past_end);
    assert!(e.to_string().contains("past the end of the file"), "{e}");

    let mut at_zero = good.clone();
    at_zero[64 + 16..64 + 24].copy_from_slice(&0u64.to_le_bytes()); // p_vaddr
    assert!(matches!(err(&at_zero), LoadError::SegmentOutOfRange { .. }));

    let mut huge = good;
    huge[64 + 40..64 + 48].copy_from_slice(&(1u64 << 45).to_le_bytes()); // p_memsz
    assert!(matches!(
        err(&huge),
        LoadError::OutOfMemory | LoadError::SegmentOutOfRange { .. }
    ));
}

/// Reads the auxiliary vector from an initial stack.
fn auxv(p: &mut Process<MemHost>) -> std::collections::BTreeMap<u64, u64> {
    let rsp = p.cpu().expect("a task").gpr[4];
    let mut mem = p.memory().expect("a task");
    let mut word = |a: u64| {
        let mut b = [0u8; 8];
        mem.peek(a, &mut b).unwrap();
        u64::from_le_bytes(b)
    };
    let argc = word(rsp);
    let mut at = rsp + 8 * (argc + 2);
    while word(at) != 0 {
        at += 8; // envp
    }
    at += 8;
    let mut aux = std::collections::BTreeMap::new();
    while word(at) != 0 {
        aux.insert(word(at), word(at + 8));
        at += 16;
    }
    aux
}

/// A dynamically linked program starts in its interpreter (mapped as
/// Linux does, wherever it fits), which finds the program through
/// AT_PHDR / AT_ENTRY and itself through AT_BASE.
#[test]
fn dynamic_program_starts_in_its_interpreter() {
    // The "interpreter" writes "hi\n" and exits 7; the program would exit 1.
    let interp = elf_image(ET_DYN, 0, HELLO, None);
    let program = elf_image(
        2,
        BASE,
        &[0xb8, 0xe7, 0, 0, 0, 0xbf, 1, 0, 0, 0, 0x0f, 0x05],
        Some(b"/lib/ld.so"),
    );
    let mut host = MemHost::default();
    host.files.insert(b"/lib/ld.so".to_vec(), interp);
    let mut p = Process::new(host, &program, &[b"prog".to_vec()], &[]).expect("load");
    let aux = auxv(&mut p);
    let base = aux[&7];
    assert!(
        base >= 0x7000_0000_0000 && base.is_multiple_of(4096),
        "AT_BASE {base:#x}"
    );
    assert_eq!(
        p.cpu().unwrap().rip,
        base + 64 + 56,
        "starts at the interpreter's entry"
    );
    assert_eq!(aux[&9], BASE + 64 + 2 * 56, "AT_ENTRY is the program's");
    assert_eq!(aux[&3], BASE + 64, "AT_PHDR");
    assert_eq!(aux[&5], 2, "AT_PHNUM");
    assert_eq!(p.run(), Exit::Code(7));
    assert_eq!(p.host.stdout, b"hi\n");
}

/// An interpreter reached through symbolic links the host will not follow
/// itself (as WASI refuses links to absolute paths): a relative link in
/// the middle of the path, an absolute one at the end.
#[test]
fn interpreter_behind_symbolic_links() {
    let interp = elf_image(ET_DYN, 0, HELLO, None);
    let program = elf_image(2, BASE, &[0x0f, 0x0b], Some(b"/lib64/ld.so"));
    let mut host = MemHost::default();
    host.files.insert(b"/usr/lib/real-ld.so".to_vec(), interp);
    host.links.insert(b"/lib64".to_vec(), b"usr/lib64".to_vec());
    host.links.insert(
        b"/usr/lib64/ld.so".to_vec(),
        b"/usr/lib/../lib/real-ld.so".to_vec(),
    );
    let mut p = Process::new(host, &program, &[b"prog".to_vec()], &[]).expect("load");
    assert_eq!(p.run(), Exit::Code(7));
    assert_eq!(p.host.stdout, b"hi\n");
}

/// A position-independent static program is placed at Linux's ET_DYN base.
#[test]
fn pie_program_is_placed_at_the_linux_base() {
    let mut p = load(&elf_image(ET_DYN, 0, HELLO, None)).expect("load");
    assert_eq!(p.cpu().unwrap().rip, 0x5555_5555_4000 + 64 + 56);
    assert_eq!(auxv(&mut p)[&7], 0, "AT_BASE is 0 without an interpreter");
    assert_eq!(p.run(), Exit::Code(7));
}

/// A task reading its own empty pipe (it holds the write end) can never
/// be woken: the run ends with a deadlock report instead of hanging.
#[test]
fn deadlock_is_reported_not_a_hang() {
    let code = [
        0x48, 0x83, 0xec, 0x10, // sub rsp, 16
        0x48, 0x89, 0xe7, // mov rdi, rsp
        0x31, 0xf6, // xor esi, esi
        0xb8, 0x25, 0x01, 0, 0, // mov eax, pipe2
        0x0f, 0x05, // syscall
        0x8b, 0x3c, 0x24, // mov edi, [rsp]: the read end
        0x48, 0x8d, 0x74, 0x24, 0x08, // lea rsi, [rsp + 8]
        0xba, 1, 0, 0, 0, // mov edx, 1
        0x31, 0xc0, // xor eax, eax: read
        0x0f, 0x05, // syscall
        0x0f, 0x0b, // ud2: not reached
    ];
    let mut p = load(&minimal_elf(&code)).expect("load");
    match p.run() {
        Exit::Signal(9, why) => assert!(
            why.contains("deadlock") && why.contains("read from an empty pipe"),
            "{why}"
        ),
        other => panic!("expected a deadlock report, got {other:?}"),
    }
}

/// Calls the random test favours: files, memory, and the ones that create
/// tasks, block, or signal (clone, wait4, futex, pipes, poll, kill…).
const CALLS: &[u64] = &[
    0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 20, 21, 22, 23, 32, 33, 35, 56, 57,
    61, 62, 72, 79, 89, 127, 128, 130, 131, 158, 200, 202, 217, 218, 228, 230, 234, 257, 262, 270,
    271, 273, 293, 302, 318, 435, 36, 37, 38, 222, 223, 224, 226,
];

/// How many random calls to make (`RANDOM_SYSCALLS` overrides, and
/// `RANDOM_SEED` the seed, for long runs).
fn random_calls() -> u64 {
    std::env::var("RANDOM_SYSCALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// Random syscall numbers and arguments (valid and invalid pointers, huge
/// sizes) must produce results or errors, never a panic or a hang.
#[test]
fn random_system_calls_never_panic() {
    // syscall; jmp back to it
    let image = minimal_elf(&[0x0f, 0x05, 0xeb, 0xfc]);
    let seed = std::env::var("RANDOM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5ca1_ab1e);
    let mut rng = Rng(seed);
    let mut p = load(&image).expect("load");
    let stack = p.cpu().expect("a task").gpr[4];
    for i in 0..random_calls() {
        let arg = |rng: &mut Rng| match rng.next() % 6 {
            0 => stack - (rng.next() % 4096),
            1 => BASE + rng.next() % 8192,
            2 => rng.next() % 64,
            3 => u64::MAX - rng.next() % 16,
            4 => rng.next() & 0xffff_ffff,
            _ => rng.next(),
        };
        let nr = match rng.next() % 4 {
            0 => rng.next() % 512,
            _ => CALLS[(rng.next() % CALLS.len() as u64) as usize],
        };
        let args = [
            arg(&mut rng),
            arg(&mut rng),
            arg(&mut rng),
            arg(&mut rng),
            arg(&mut rng),
            arg(&mut rng),
        ];
        // The task that runs next: the first one, or a child it forked
        // while the first is blocked (in wait4, a futex, a pipe…).
        let Some(cpu) = p.cpu_mut() else {
            if p.step().is_some() {
                p = load(&image).expect("reload");
            }
            continue;
        };
        cpu.rip = BASE + HEADERS;
        cpu.gpr[0] = nr;
        cpu.gpr[4] = stack;
        for (reg, v) in [7, 6, 2, 10, 8, 9].into_iter().zip(args) {
            cpu.gpr[reg] = v;
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.step()));
        match outcome {
            Ok(None) => {}
            // A call may legitimately kill the process (e.g. munmap of its own
            // code): start a fresh one.
            Ok(Some(_)) => p = load(&image).expect("reload"),
            Err(_) => panic!("call {i}: syscall {nr} with {args:x?} panicked"),
        }
    }
}

/// A SIGSEGV handler that skips the faulting instruction: exercises
/// rt_sigaction, fault delivery (rt_sigframe) and rt_sigreturn.
#[test]
fn segv_handler_can_resume_after_the_fault() {
    let c = BASE + HEADERS;
    let mut code: Vec<u8> = Vec::new();
    code.extend_from_slice(&[0x48, 0x8d, 0x35, 0x4d, 0, 0, 0]); // lea rsi, [rip + act]
    code.extend_from_slice(&[0xbf, 11, 0, 0, 0]); // mov edi, SIGSEGV
    code.extend_from_slice(&[0x31, 0xd2]); // xor edx, edx
    code.extend_from_slice(&[0x41, 0xba, 8, 0, 0, 0]); // mov r10d, 8
    code.extend_from_slice(&[0xb8, 13, 0, 0, 0]); // mov eax, rt_sigaction
    code.extend_from_slice(&[0x0f, 0x05]); // syscall
    code.extend_from_slice(&[0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0]); // mov rax, [0]: faults
    code.extend_from_slice(&[0xb8, 1, 0, 0, 0]); // mov eax, write
    code.extend_from_slice(&[0xbf, 1, 0, 0, 0]); // mov edi, 1
    code.extend_from_slice(&[0x48, 0x8d, 0x35, 0x40, 0, 0, 0]); // lea rsi, [rip + msg]
    code.extend_from_slice(&[0xba, 3, 0, 0, 0]); // mov edx, 3
    code.extend_from_slice(&[0x0f, 0x05]); // syscall
    code.extend_from_slice(&[0xb8, 231, 0, 0, 0]); // mov eax, exit_group
    code.extend_from_slice(&[0x31, 0xff]); // xor edi, edi
    code.extend_from_slice(&[0x0f, 0x05]); // syscall
    assert_eq!(code.len(), 68);
    code.extend_from_slice(&[0x48, 0x83, 0x82, 0xa8, 0, 0, 0, 8]); // handler: add qword [rdx + uc.rip], 8
    code.push(0xc3); // ret (into the restorer)
    assert_eq!(code.len(), 77);
    code.extend_from_slice(&[0xb8, 15, 0, 0, 0, 0x0f, 0x05]); // restorer: rt_sigreturn
    assert_eq!(code.len(), 84);
    for word in [c + 68, 0x0400_0000, c + 77, 0] {
        code.extend_from_slice(&word.to_le_bytes()); // struct sigaction: handler, SA_RESTORER, restorer, mask
    }
    code.extend_from_slice(b"ok\n");
    let mut p = load(&minimal_elf(&code)).expect("load");
    assert_eq!(p.run(), Exit::Code(0));
    assert_eq!(p.host.stdout, b"ok\n");
}

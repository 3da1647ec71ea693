//! Guest-controlled input never panics the CPU: random byte strings are
//! executed in 16-, 32- and 64-bit code with random registers, over a
//! mix of mapped and unmapped memory. Every outcome must be a completed
//! instruction or an architectural exception.

mod rng;
use rng::Rng;

use guest_x86::cpu::{Cpu, CpuMode};
use guest_x86::mmu::space::{AddressSpace, PROT_EXEC, PROT_READ, PROT_WRITE};

const CODE: u64 = 0x1000;
const DATA: u64 = 0x10_0000;

#[test]
fn random_instructions_never_panic() {
    let mut rng = Rng(0xfeed_beef);
    let mut space = AddressSpace::new(16 << 20);
    space.map(CODE, 4096, PROT_READ | PROT_EXEC).unwrap();
    space.map(DATA, 64 * 4096, PROT_READ | PROT_WRITE).unwrap();
    let mut executed = 0u64;
    for i in 0..300_000u64 {
        let mut code = [0u8; 32];
        for b in code.iter_mut() {
            *b = rng.next() as u8;
        }
        // Bias toward real instructions: escape bytes and prefixes up front.
        match rng.next() % 4 {
            0 => code[0] = 0x0f,
            1 => code[0] = [0x66, 0xf2, 0xf3, 0x48, 0xf0, 0x67][(rng.next() % 6) as usize],
            _ => {}
        }
        space.poke(CODE, &code).unwrap();
        let mut cpu = Cpu::new_long_mode_user();
        cpu.mode = [CpuMode::Bits64, CpuMode::Bits32, CpuMode::Bits16][(i % 3) as usize];
        for r in cpu.gpr.iter_mut() {
            *r = match rng.next() % 3 {
                0 => DATA + rng.next() % (64 * 4096),
                1 => rng.next() % 64,
                _ => rng.next(),
            };
        }
        cpu.rflags = 0x202 | (rng.next() & 0xcd5);
        cpu.xmm = [rng.next() as u128 | ((rng.next() as u128) << 64); 16];
        cpu.rip = CODE;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut n = 0;
            for _ in 0..4 {
                if cpu.step(&mut space).is_err() {
                    break;
                }
                n += 1;
            }
            n
        }));
        match result {
            Ok(n) => executed += n,
            Err(_) => panic!("panic executing {:02x?} in {:?}", &code[..16], cpu.mode),
        }
    }
    assert!(
        executed > 50_000,
        "too few instructions completed: {executed}"
    );
}

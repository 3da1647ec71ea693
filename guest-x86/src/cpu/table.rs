//! Opcode tables: for each opcode of the one-byte, 0F, 0F38 and 0F3A maps,
//! whether a ModRM byte follows, which immediate, and which instruction
//! family executes it (SDM Vol.2D Appendix A, "Opcode Map"). The decoder
//! reads lengths from here and the differential harness generates its
//! instruction sequences from here.

/// Opcode map an instruction's opcode byte belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Map {
    /// One-byte opcodes.
    OneByte,
    /// Two-byte opcodes `0F xx`.
    Map0F,
    /// Three-byte opcodes `0F 38 xx`.
    Map0F38,
    /// Three-byte opcodes `0F 3A xx`.
    Map0F3A,
}

/// Kind of immediate operand that follows ModRM/SIB/displacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Imm {
    /// No immediate.
    None,
    /// 8-bit immediate.
    Byte,
    /// 16-bit immediate.
    Word,
    /// 16- or 32-bit by operand size (sign-extended to 64 for 64-bit operands).
    Z,
    /// 16-, 32- or 64-bit by operand size (`MOV r, imm64`).
    V,
    /// Memory offset of address-size width (`MOV AL, moffs`).
    Moffs,
    /// 16-bit then 8-bit (`ENTER`).
    WordByte,
    /// Far pointer: offset of operand size then a 16-bit selector.
    FarPtr,
    /// 8-bit relative branch displacement.
    RelByte,
    /// 16/32-bit relative branch displacement.
    RelZ,
}

/// The instruction family that executes an opcode (one file each in `cpu/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// ADD/OR/ADC/SBB/AND/SUB/XOR/CMP, INC/DEC, NEG/NOT, TEST.
    Alu,
    /// MOV forms, MOVZX/MOVSX, LEA, XCHG, CMOVcc, SETcc, BSWAP, CBW/CWD family.
    Move,
    /// Shifts and rotates, SHLD/SHRD.
    Shift,
    /// MUL/IMUL/DIV/IDIV.
    MulDiv,
    /// BT/BTS/BTR/BTC, BSF/BSR, POPCNT/LZCNT/TZCNT, CMPXCHG, XADD.
    Bits,
    /// MOVS/CMPS/STOS/LODS/SCAS/INS/OUTS.
    String,
    /// Jumps, calls, returns, loops.
    Control,
    /// PUSH/POP, ENTER/LEAVE, PUSHF/POPF.
    Stack,
    /// Flag instructions, CPUID, RDTSC, SYSCALL, fences, HLT, INT.
    System,
    /// SSE … SSE4.2.
    Sse,
    /// x87 floating point.
    X87,
    /// A prefix or escape byte, not an instruction by itself.
    Prefix,
    /// Not an instruction in any mode the emulator implements: #UD.
    Invalid,
}

/// What the decoder needs to know about one opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpInfo {
    /// A ModRM byte follows the opcode.
    pub modrm: bool,
    /// Immediate kind.
    pub imm: Imm,
    /// Executing family.
    pub family: Family,
    /// Operand size defaults to 64 bits in 64-bit mode (SDM Vol.2A §2.2.1.7).
    pub default64: bool,
    /// Invalid (#UD) in 64-bit mode.
    pub invalid64: bool,
}

const fn op(modrm: bool, imm: Imm, family: Family) -> OpInfo {
    OpInfo {
        modrm,
        imm,
        family,
        default64: false,
        invalid64: false,
    }
}

const fn d64(info: OpInfo) -> OpInfo {
    OpInfo {
        default64: true,
        ..info
    }
}

const fn i64(info: OpInfo) -> OpInfo {
    OpInfo {
        invalid64: true,
        ..info
    }
}

const INVALID: OpInfo = op(false, Imm::None, Family::Invalid);
const PREFIX: OpInfo = op(false, Imm::None, Family::Prefix);

/// The one-byte opcode map (SDM Vol.2D Table A-2).
pub fn one_byte(opcode: u8) -> OpInfo {
    use Family::*;
    use Imm::None as N;
    match opcode {
        // ALU block: Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / rAX,Iz.
        0x00..=0x3f if opcode & 7 < 6 => match opcode & 7 {
            0..=3 => op(true, N, Alu),
            4 => op(false, Imm::Byte, Alu),
            _ => op(false, Imm::Z, Alu),
        },
        0x06 | 0x07 | 0x0e | 0x16 | 0x17 | 0x1e | 0x1f => i64(op(false, N, Stack)),
        0x0f => PREFIX,
        0x26 | 0x2e | 0x36 | 0x3e => PREFIX,
        0x27 | 0x2f | 0x37 | 0x3f => i64(op(false, N, Alu)),
        0x40..=0x4f => op(false, N, Alu), // INC/DEC outside 64-bit mode; REX inside
        0x50..=0x5f => d64(op(false, N, Stack)),
        0x60 | 0x61 => i64(op(false, N, Stack)),
        0x62 => i64(op(true, N, Invalid)), // BOUND (EVEX in 64-bit mode)
        0x63 => op(true, N, Move),         // MOVSXD (ARPL outside 64-bit mode)
        0x64..=0x67 => PREFIX,
        0x68 => d64(op(false, Imm::Z, Stack)),
        0x69 => op(true, Imm::Z, MulDiv),
        0x6a => d64(op(false, Imm::Byte, Stack)),
        0x6b => op(true, Imm::Byte, MulDiv),
        0x6c..=0x6f => op(false, N, String),
        0x70..=0x7f => d64(op(false, Imm::RelByte, Control)),
        0x80 | 0x82 | 0x83 => {
            let info = op(true, Imm::Byte, Alu);
            if opcode == 0x82 { i64(info) } else { info }
        }
        0x81 => op(true, Imm::Z, Alu),
        0x84 | 0x85 => op(true, N, Alu),
        0x86..=0x8b | 0x8d => op(true, N, Move),
        0x8c | 0x8e => op(true, N, Move),
        0x8f => d64(op(true, N, Stack)),
        0x90..=0x99 => op(false, N, Move),
        0x9a => i64(op(false, Imm::FarPtr, Control)),
        0x9b => op(false, N, X87),
        0x9c | 0x9d => d64(op(false, N, Stack)),
        0x9e | 0x9f => op(false, N, System),
        0xa0..=0xa3 => op(false, Imm::Moffs, Move),
        0xa4..=0xa7 | 0xaa..=0xaf => op(false, N, String),
        0xa8 => op(false, Imm::Byte, Alu),
        0xa9 => op(false, Imm::Z, Alu),
        0xb0..=0xb7 => op(false, Imm::Byte, Move),
        0xb8..=0xbf => op(false, Imm::V, Move),
        0xc0 | 0xc1 => op(true, Imm::Byte, Shift),
        0xc2 => d64(op(false, Imm::Word, Control)),
        0xc3 => d64(op(false, N, Control)),
        0xc4 | 0xc5 => i64(op(true, N, Move)), // LES/LDS; VEX when ModRM.mod = 3 or in 64-bit mode
        0xc6 => op(true, Imm::Byte, Move),
        0xc7 => op(true, Imm::Z, Move),
        0xc8 => d64(op(false, Imm::WordByte, Stack)),
        0xc9 => d64(op(false, N, Stack)),
        0xca => op(false, Imm::Word, Control),
        0xcb | 0xcf => op(false, N, Control),
        0xcc => op(false, N, System),
        0xcd => op(false, Imm::Byte, System),
        0xce => i64(op(false, N, System)),
        0xd0..=0xd3 => op(true, N, Shift),
        0xd4 | 0xd5 => i64(op(false, Imm::Byte, Alu)),
        0xd6 => i64(op(false, N, Alu)),
        0xd7 => op(false, N, Move),
        0xd8..=0xdf => op(true, N, X87),
        0xe0..=0xe3 => d64(op(false, Imm::RelByte, Control)),
        0xe4..=0xe7 => op(false, Imm::Byte, System),
        0xe8 | 0xe9 => d64(op(false, Imm::RelZ, Control)),
        0xea => i64(op(false, Imm::FarPtr, Control)),
        0xeb => d64(op(false, Imm::RelByte, Control)),
        0xec..=0xef => op(false, N, System),
        0xf0 | 0xf2 | 0xf3 => PREFIX,
        0xf1 | 0xf4 | 0xf5 | 0xf8..=0xfd => op(false, N, System),
        // F6/F7 /0 and /1 (TEST) carry an immediate: the decoder adds it.
        0xf6 | 0xf7 => op(true, N, Alu),
        0xfe | 0xff => op(true, N, Alu),
        _ => INVALID,
    }
}

/// The two-byte opcode map `0F xx` (SDM Vol.2D Table A-3).
pub fn map_0f(opcode: u8) -> OpInfo {
    use Family::*;
    use Imm::None as N;
    match opcode {
        0x00..=0x03 => op(true, N, System),
        0x05 | 0x06 | 0x07 | 0x08 | 0x09 | 0x0b | 0x30..=0x35 | 0x37 => op(false, N, System),
        0x0d | 0x18..=0x1f => op(true, N, System), // prefetch and hint NOPs
        0x10..=0x17 | 0x28..=0x2f | 0x50..=0x6f | 0x74..=0x76 | 0x7c..=0x7f => op(true, N, Sse),
        // 0F 78/79: VMREAD/VMWRITE or AMD's SSE4a EXTRQ/INSERTQ, none offered.
        0x20..=0x23 => op(true, N, System),
        0x38 | 0x3a => PREFIX,
        0x40..=0x4f => op(true, N, Move),
        0x70..=0x73 => op(true, Imm::Byte, Sse),
        0x77 => op(false, N, Sse),
        0x80..=0x8f => d64(op(false, Imm::RelZ, Control)),
        0x90..=0x9f => op(true, N, Move),
        0xa0 | 0xa1 | 0xa8 | 0xa9 => d64(op(false, N, Stack)),
        0xa2 => op(false, N, System),
        0xa3 | 0xab | 0xb3 | 0xbb | 0xbc | 0xbd | 0xb8 => op(true, N, Bits),
        0xb0 | 0xb1 | 0xc0 | 0xc1 => op(true, N, Bits),
        0xba => op(true, Imm::Byte, Bits),
        0xa4 | 0xac => op(true, Imm::Byte, Shift),
        0xa5 | 0xad => op(true, N, Shift),
        0xae => op(true, N, System),
        0xaf => op(true, N, MulDiv),
        0xb2 | 0xb4 | 0xb5 => op(true, N, Move),
        0xb6 | 0xb7 | 0xbe | 0xbf => op(true, N, Move),
        0xb9 | 0xff => op(true, N, Invalid), // UD1, UD0
        0xc2 | 0xc4 | 0xc5 | 0xc6 => op(true, Imm::Byte, Sse),
        0xc3 => op(true, N, Move),
        0xc7 => op(true, N, Bits),
        0xc8..=0xcf => op(false, N, Move),
        0xd0..=0xfe => op(true, N, Sse),
        _ => INVALID,
    }
}

/// The three-byte map `0F 38 xx`: every opcode takes ModRM, no immediate.
pub fn map_0f38(opcode: u8) -> OpInfo {
    match opcode {
        0x00..=0x0b
        | 0x10
        | 0x14
        | 0x15
        | 0x17
        | 0x1c..=0x1e
        | 0x20..=0x25
        | 0x28..=0x2b
        | 0x30..=0x35
        | 0x37..=0x41 => op(true, Imm::None, Family::Sse),
        0xf0 | 0xf1 => op(true, Imm::None, Family::Move), // MOVBE / CRC32
        _ => op(true, Imm::None, Family::Invalid),
    }
}

/// The three-byte map `0F 3A xx`: every opcode takes ModRM and an 8-bit immediate.
pub fn map_0f3a(opcode: u8) -> OpInfo {
    match opcode {
        0x08..=0x0f | 0x14..=0x17 | 0x20..=0x22 | 0x40..=0x42 | 0x60..=0x63 => {
            op(true, Imm::Byte, Family::Sse)
        }
        _ => op(true, Imm::Byte, Family::Invalid),
    }
}

/// Looks up an opcode in its map.
pub fn lookup(map: Map, opcode: u8) -> OpInfo {
    match map {
        Map::OneByte => one_byte(opcode),
        Map::Map0F => map_0f(opcode),
        Map::Map0F38 => map_0f38(opcode),
        Map::Map0F3A => map_0f3a(opcode),
    }
}

//! Instruction decoder: legacy and REX prefixes, the four opcode maps,
//! ModRM/SIB/displacement (16-bit and 32/64-bit forms, RIP-relative) and
//! immediates, in 16-, 32- and 64-bit code (SDM Vol.2A chapter 2).

use super::state::{CpuMode, SegReg};
use super::table::{self, Family, Imm, Map, OpInfo};

/// Longest legal instruction (SDM Vol.2A §2.3.11).
pub const MAX_INSN_LEN: usize = 15;

/// A memory operand before register values are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemOperand {
    /// Base register number, if any.
    pub base: Option<u8>,
    /// Index register number, if any.
    pub index: Option<u8>,
    /// Scale factor 1, 2, 4 or 8.
    pub scale: u8,
    /// Sign-extended displacement.
    pub disp: i64,
    /// Displacement is relative to the next instruction's RIP.
    pub rip_relative: bool,
    /// Segment after overrides.
    pub seg: SegReg,
}

/// Why a byte sequence is not a complete instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end before the instruction does.
    Truncated,
    /// More than 15 bytes (SDM Vol.2A §2.3.11: #GP(0)).
    TooLong,
    /// Not a valid encoding (#UD).
    Invalid,
}

/// A decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Length in bytes.
    pub len: u8,
    /// Opcode map.
    pub map: Map,
    /// Opcode byte within its map.
    pub opcode: u8,
    /// Table entry of the opcode.
    pub info: OpInfo,
    /// 0x66 present.
    pub opsize_prefix: bool,
    /// 0x67 present.
    pub addrsize_prefix: bool,
    /// LOCK present.
    pub lock: bool,
    /// Last of 0xF2/0xF3 seen, or 0.
    pub rep: u8,
    /// Segment override prefix.
    pub seg_override: Option<SegReg>,
    /// REX byte (0 if none).
    pub rex: u8,
    /// ModRM.mod (3 = register operand, also when no ModRM).
    pub md: u8,
    /// ModRM.reg extended by REX.R (the group sub-opcode for groups).
    pub reg: u8,
    /// ModRM.rm extended by REX.B when it names a register; for opcodes
    /// with the register in the low 3 bits, that register.
    pub rm: u8,
    /// Memory operand when `md != 3`.
    pub mem: Option<MemOperand>,
    /// First immediate (sign-extended for Z/Rel kinds, zero-extended otherwise).
    pub imm: u64,
    /// Second immediate (ENTER's level, a far pointer's selector).
    pub imm2: u64,
    /// Effective operand size in bytes for non-byte forms: 2, 4 or 8.
    pub op_size: u8,
    /// Effective address size in bytes: 2, 4 or 8.
    pub addr_size: u8,
    /// How it runs: a fast form or the general family dispatch.
    pub fast: super::fast::FastForm,
}

impl Insn {
    /// REX.W.
    pub fn rex_w(&self) -> bool {
        self.rex & 8 != 0
    }

    /// Byte registers 4–7 mean AH/CH/DH/BH (no REX prefix present).
    pub fn high_bytes(&self) -> bool {
        self.rex == 0
    }

    /// Mandatory SSE prefix: 0xF2/0xF3 win over 0x66 (SDM Vol.2A §2.1.2).
    pub fn sse_prefix(&self) -> u8 {
        if self.rep != 0 {
            self.rep
        } else if self.opsize_prefix {
            0x66
        } else {
            0
        }
    }

    /// Operand size of the instruction: 1 for byte forms (low opcode bit
    /// clear in the classic ALU/MOV/string layouts), otherwise `op_size`.
    pub fn size_by_low_bit(&self) -> u8 {
        if self.opcode & 1 == 0 {
            1
        } else {
            self.op_size
        }
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        if self.pos >= MAX_INSN_LEN {
            return Err(DecodeError::TooLong);
        }
        let b = *self.bytes.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// Little-endian value of `n` bytes.
    fn le(&mut self, n: u8) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..n {
            v |= (self.byte()? as u64) << (8 * i);
        }
        Ok(v)
    }

    fn signed(&mut self, n: u8) -> Result<u64, DecodeError> {
        let v = self.le(n)?;
        Ok(super::state::sign_extend(v, n))
    }
}

/// Decodes one instruction from `bytes` in `mode`.
pub fn decode(bytes: &[u8], mode: CpuMode) -> Result<Insn, DecodeError> {
    let mut c = Cursor { bytes, pos: 0 };
    let long = mode == CpuMode::Bits64;
    let (mut opsize_prefix, mut addrsize_prefix, mut lock) = (false, false, false);
    let mut rep = 0u8;
    let mut seg_override = None;
    let mut rex = 0u8;
    let mut b;
    loop {
        b = c.byte()?;
        match b {
            0x66 => opsize_prefix = true,
            0x67 => addrsize_prefix = true,
            0xf0 => lock = true,
            0xf2 | 0xf3 => rep = b,
            0x26 => seg_override = Some(SegReg::Es),
            0x2e => seg_override = Some(SegReg::Cs),
            0x36 => seg_override = Some(SegReg::Ss),
            0x3e => seg_override = Some(SegReg::Ds),
            0x64 => seg_override = Some(SegReg::Fs),
            0x65 => seg_override = Some(SegReg::Gs),
            0x40..=0x4f if long => {
                rex = b;
                continue;
            }
            _ => break,
        }
        // SDM Vol.2A §2.2.1: a REX prefix followed by a legacy prefix is ignored.
        rex = 0;
    }
    // In 64-bit mode CS/SS/DS/ES overrides are ignored (SDM Vol.3A §3.2.4).
    if long && !matches!(seg_override, Some(SegReg::Fs | SegReg::Gs)) {
        seg_override = None;
    }

    let (map, opcode) = if b == 0x0f {
        match c.byte()? {
            0x38 => (Map::Map0F38, c.byte()?),
            0x3a => (Map::Map0F3A, c.byte()?),
            second => (Map::Map0F, second),
        }
    } else {
        (Map::OneByte, b)
    };
    let mut info = table::lookup(map, opcode);
    if long && info.invalid64 {
        return Err(DecodeError::Invalid);
    }
    if map == Map::OneByte && matches!(opcode, 0xc4 | 0xc5) {
        // LES/LDS outside 64-bit mode need a memory operand; ModRM.mod = 3
        // there (and every form in 64-bit mode) is a VEX prefix, not offered.
        let modrm = *bytes.get(c.pos).ok_or(DecodeError::Truncated)?;
        if modrm >> 6 == 3 {
            return Err(DecodeError::Invalid);
        }
    }
    if map == Map::OneByte && opcode == 0x62 {
        // EVEX in 64-bit mode; BOUND elsewhere, not implemented.
        return Err(DecodeError::Invalid);
    }
    if matches!(info.family, Family::Prefix | Family::Invalid) {
        return Err(DecodeError::Invalid);
    }

    let op_size = match mode {
        CpuMode::Bits64 => {
            if rex & 8 != 0 {
                8
            } else if opsize_prefix {
                2
            } else if info.default64 {
                8
            } else {
                4
            }
        }
        CpuMode::Bits32 => {
            if opsize_prefix {
                2
            } else {
                4
            }
        }
        CpuMode::Bits16 => {
            if opsize_prefix {
                4
            } else {
                2
            }
        }
    };
    let addr_size = match (mode, addrsize_prefix) {
        (CpuMode::Bits64, false) => 8,
        (CpuMode::Bits64, true) | (CpuMode::Bits32, false) | (CpuMode::Bits16, true) => 4,
        _ => 2,
    };

    let mut insn = Insn {
        len: 0,
        map,
        opcode,
        info,
        opsize_prefix,
        addrsize_prefix,
        lock,
        rep,
        seg_override,
        rex,
        md: 3,
        reg: 0,
        rm: (opcode & 7) | ((rex & 1) << 3),
        mem: None,
        imm: 0,
        imm2: 0,
        op_size,
        addr_size,
        fast: super::fast::FastForm::General,
    };

    if info.modrm {
        let modrm = c.byte()?;
        insn.md = modrm >> 6;
        insn.reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
        insn.rm = (modrm & 7) | ((rex & 1) << 3);
        // MOV to/from control and debug registers ignore ModRM.mod (SDM Vol.2B MOV—Control Registers).
        if map == Map::Map0F && (0x20..=0x23).contains(&opcode) {
            insn.md = 3;
        }
        if insn.md != 3 {
            insn.mem = Some(decode_memory(
                &mut c,
                modrm,
                rex,
                addr_size,
                long,
                seg_override,
            )?);
        }
        // FF /2, /4, /6 (near CALL, JMP, PUSH) default to 64-bit operands (SDM Vol.2A §2.2.1.7).
        if long
            && map == Map::OneByte
            && opcode == 0xff
            && matches!(insn.reg & 7, 2 | 4 | 6)
            && rex & 8 == 0
        {
            insn.op_size = if opsize_prefix { 2 } else { 8 };
        }
        // Group 3 TEST carries an immediate (SDM Vol.2D Table A-6).
        if map == Map::OneByte && (opcode == 0xf6 || opcode == 0xf7) && insn.reg & 7 < 2 {
            info.imm = if opcode == 0xf6 { Imm::Byte } else { Imm::Z };
            insn.info = info;
        }
    }

    match info.imm {
        Imm::None => {}
        Imm::Byte => insn.imm = c.le(1)?,
        Imm::Word => insn.imm = c.le(2)?,
        Imm::Z => insn.imm = c.signed(op_size.min(4))?,
        Imm::V => insn.imm = c.le(op_size)?,
        Imm::Moffs => insn.imm = c.le(addr_size)?,
        Imm::WordByte => {
            insn.imm = c.le(2)?;
            insn.imm2 = c.le(1)?;
        }
        Imm::FarPtr => {
            insn.imm = c.le(op_size.min(4))?;
            insn.imm2 = c.le(2)?;
        }
        Imm::RelByte => insn.imm = c.signed(1)?,
        Imm::RelZ => insn.imm = c.signed(op_size.min(4))?,
    }
    insn.len = c.pos as u8;
    insn.fast = super::fast::FastForm::of(&insn);
    Ok(insn)
}

fn decode_memory(
    c: &mut Cursor<'_>,
    modrm: u8,
    rex: u8,
    addr_size: u8,
    long: bool,
    seg_override: Option<SegReg>,
) -> Result<MemOperand, DecodeError> {
    let md = modrm >> 6;
    let rm = modrm & 7;
    let mut m = MemOperand {
        base: None,
        index: None,
        scale: 1,
        disp: 0,
        rip_relative: false,
        seg: SegReg::Ds,
    };
    if addr_size == 2 {
        // SDM Vol.2A Table 2-1: 16-bit addressing forms.
        const BASE: [Option<u8>; 8] = [
            Some(3),
            Some(3),
            Some(5),
            Some(5),
            None,
            None,
            Some(5),
            Some(3),
        ];
        const INDEX: [Option<u8>; 8] = [
            Some(6),
            Some(7),
            Some(6),
            Some(7),
            Some(6),
            Some(7),
            None,
            None,
        ];
        m.base = BASE[rm as usize];
        m.index = INDEX[rm as usize];
        if rm == 4 || rm == 5 {
            m.base = m.index.take();
        }
        match md {
            0 if rm == 6 => {
                m.base = None;
                m.disp = c.signed(2)? as i64 & 0xffff;
            }
            1 => m.disp = c.signed(1)? as i64,
            2 => m.disp = c.signed(2)? as i64,
            _ => {}
        }
        if m.base == Some(5) {
            m.seg = SegReg::Ss;
        }
    } else {
        let mut base_low = rm;
        if rm == 4 {
            // SDM Vol.2A Table 2-3: SIB byte.
            let sib = c.byte()?;
            m.scale = 1 << (sib >> 6);
            let index = ((sib >> 3) & 7) | ((rex & 2) << 2);
            if index != 4 {
                m.index = Some(index);
            }
            base_low = sib & 7;
            if base_low == 5 && md == 0 {
                m.disp = c.signed(4)? as i64;
            } else {
                m.base = Some(base_low | ((rex & 1) << 3));
            }
        } else if rm == 5 && md == 0 {
            m.disp = c.signed(4)? as i64;
            m.rip_relative = long;
        } else {
            m.base = Some(rm | ((rex & 1) << 3));
        }
        match md {
            1 => m.disp = c.signed(1)? as i64,
            2 => m.disp = c.signed(4)? as i64,
            _ => {}
        }
        if m.base.is_some() && (base_low == 4 || base_low == 5) && rex & 1 == 0 {
            m.seg = SegReg::Ss;
        }
    }
    if let Some(seg) = seg_override {
        m.seg = seg;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d64(bytes: &[u8]) -> Insn {
        decode(bytes, CpuMode::Bits64).expect("valid encoding")
    }

    #[test]
    fn rex_and_operand_size() {
        let i = d64(&[0x48, 0x01, 0xd8]); // add rax, rbx
        assert_eq!((i.len, i.op_size, i.reg, i.rm), (3, 8, 3, 0));
        let i = d64(&[0x66, 0x41, 0x01, 0xd8]); // add r8w, bx
        assert_eq!((i.len, i.op_size, i.rm), (4, 2, 8));
        // A REX before a legacy prefix is ignored (SDM Vol.2A §2.2.1).
        let i = d64(&[0x48, 0x66, 0x01, 0xd8]);
        assert_eq!((i.rex, i.op_size), (0, 2));
        let i = d64(&[0x50]); // push rax: 64-bit by default
        assert_eq!(i.op_size, 8);
    }

    #[test]
    fn modrm_sib_and_rip_relative() {
        // mov eax, [rip + 0x10]
        let i = d64(&[0x8b, 0x05, 0x10, 0, 0, 0]);
        let m = i.mem.unwrap();
        assert!(m.rip_relative && m.disp == 0x10 && m.base.is_none());
        // lea rax, [r12 + r13*4 - 8]
        let i = d64(&[0x4b, 0x8d, 0x44, 0xac, 0xf8]);
        let m = i.mem.unwrap();
        assert_eq!(
            (m.base, m.index, m.scale, m.disp),
            (Some(12), Some(13), 4, -8)
        );
        // [disp32] through SIB without base or index
        let i = d64(&[0x8b, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12]);
        let m = i.mem.unwrap();
        assert_eq!(
            (m.base, m.index, m.disp, m.rip_relative),
            (None, None, 0x1234_5678, false)
        );
    }

    #[test]
    fn sixteen_bit_addressing() {
        // mov ax, [bp+si+4] in 16-bit code
        let i = decode(&[0x8b, 0x42, 0x04], CpuMode::Bits16).unwrap();
        let m = i.mem.unwrap();
        assert_eq!(
            (m.base, m.index, m.disp, m.seg),
            (Some(5), Some(6), 4, SegReg::Ss)
        );
        assert_eq!((i.op_size, i.addr_size), (2, 2));
        // inc eax is 0x40 outside 64-bit mode
        assert_eq!(decode(&[0x40], CpuMode::Bits32).unwrap().len, 1);
    }

    #[test]
    fn invalid_truncated_and_too_long() {
        assert_eq!(decode(&[0x06], CpuMode::Bits64), Err(DecodeError::Invalid)); // push es
        assert_eq!(
            decode(&[0xc4, 0xe2, 0x79], CpuMode::Bits64),
            Err(DecodeError::Invalid)
        ); // VEX
        assert_eq!(
            decode(&[0x0f], CpuMode::Bits64),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode(&[0x8b, 0x05, 0x10], CpuMode::Bits64),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode(&[0x66; 15], CpuMode::Bits64),
            Err(DecodeError::TooLong)
        );
    }

    #[test]
    fn immediates() {
        let i = d64(&[0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8]); // mov rax, imm64
        assert_eq!((i.len, i.imm), (10, 0x0807_0605_0403_0201));
        let i = d64(&[0x48, 0x05, 0xff, 0xff, 0xff, 0xff]); // add rax, -1 (imm32 sign-extended)
        assert_eq!(i.imm, u64::MAX);
        let i = d64(&[0xf6, 0xc1, 0x80]); // test cl, 0x80: group 3 /0 has an immediate
        assert_eq!((i.len, i.imm), (3, 0x80));
        let i = d64(&[0xf6, 0xd9]); // neg cl: no immediate
        assert_eq!(i.len, 2);
    }
}

//! The page walker: linear → physical for 32-bit paging (4 KiB and 4 MiB
//! pages), PAE paging and 4-level paging (2 MiB and 1 GiB pages), with the
//! U/S, R/W, NX and WP rules, accessed/dirty updates and #PF error codes
//! (SDM Vol.3A chapter 4).

use crate::cpu::fault::pf;
use crate::cpu::state::cr;

/// The processor state that decides how linear addresses translate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PagingControl {
    /// CR0 (PG, WP).
    pub cr0: u64,
    /// CR3 (the root table).
    pub cr3: u64,
    /// CR4 (PSE, PAE, PGE).
    pub cr4: u64,
    /// IA32_EFER (LMA, NXE).
    pub efer: u64,
    /// Current privilege level: 3 makes ordinary accesses user accesses.
    pub cpl: u8,
}

/// The paging mode those controls select (SDM Vol.3A §4.1.1, Table 4-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingMode {
    /// CR0.PG = 0: linear = physical.
    Off,
    /// 32-bit paging: two levels of 4-byte entries.
    Bits32,
    /// PAE paging: four PDPTEs, then two levels of 8-byte entries.
    Pae,
    /// 4-level paging (IA-32e).
    Level4,
}

impl PagingControl {
    /// Which paging mode is active.
    pub fn mode(&self) -> PagingMode {
        if self.cr0 & cr::CR0_PG == 0 {
            PagingMode::Off
        } else if self.cr4 & cr::CR4_PAE == 0 {
            PagingMode::Bits32
        } else if self.efer & cr::EFER_LMA != 0 {
            PagingMode::Level4
        } else {
            PagingMode::Pae
        }
    }

    fn nx_enabled(&self) -> bool {
        self.efer & cr::EFER_NXE != 0 && self.cr4 & cr::CR4_PAE != 0
    }
}

/// Kind of access being translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A data read.
    Read,
    /// A data write.
    Write,
    /// An instruction fetch.
    Fetch,
}

/// Who makes the access (SDM Vol.3A §4.6: implicit supervisor accesses to
/// the GDT/LDT/IDT/TSS are supervisor accesses whatever the CPL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privilege {
    /// An ordinary access at the current CPL.
    Current,
    /// An implicit supervisor access by the processor itself.
    Supervisor,
}

/// The paging structures live in physical memory; the walker reads entries
/// and sets accessed/dirty bits through this.
pub trait TableMemory {
    /// Reads a 4- or 8-byte paging entry at physical `addr`.
    fn read_entry(&mut self, addr: u64, size: u8) -> u64;
    /// Writes a 4- or 8-byte paging entry back (A/D updates).
    fn write_entry(&mut self, addr: u64, size: u8, value: u64);
}

/// A successful translation: what a TLB entry caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the 4 KiB frame holding the linear address.
    pub frame: u64,
    /// Writable at every level (supervisor writes ignore this unless CR0.WP).
    pub writable: bool,
    /// User-accessible at every level.
    pub user: bool,
    /// Execute-disable at some level (with NX enabled).
    pub no_execute: bool,
    /// The final entry is global (and CR4.PGE is set).
    pub global: bool,
    /// The final entry's dirty bit is set (a write needs no walk).
    pub dirty: bool,
    /// log2 of the page size (12, 21, 22 or 30).
    pub page_shift: u8,
}

const P: u64 = 1 << 0;
const RW: u64 = 1 << 1;
const US: u64 = 1 << 2;
const ACCESSED: u64 = 1 << 5;
const DIRTY: u64 = 1 << 6;
const PS: u64 = 1 << 7;
const GLOBAL: u64 = 1 << 8;
const XD: u64 = 1 << 63;

/// Physical-address width the CPU reports (CPUID 0x80000008 EAX[7:0]).
pub const MAX_PHYS_BITS: u32 = 40;
/// Address bits 51:MAXPHYADDR of an 8-byte entry must be zero.
const HIGH_RESERVED: u64 = ((1 << 52) - 1) & !((1 << MAX_PHYS_BITS) - 1);
/// Frame address bits of an 8-byte entry.
const ADDR_MASK: u64 = ((1 << MAX_PHYS_BITS) - 1) & !0xfff;

/// Walks the paging structures for `linear`. On failure returns the #PF
/// error code (SDM Vol.3A §4.7).
pub fn walk(
    ctl: &PagingControl,
    tables: &mut dyn TableMemory,
    linear: u64,
    access: Access,
    privilege: Privilege,
) -> Result<Translation, u32> {
    let user_access = privilege == Privilege::Current && ctl.cpl == 3;
    let mut code = match access {
        Access::Write => pf::WRITE,
        _ => 0,
    };
    if user_access {
        code |= pf::USER;
    }
    // SDM Vol.3A §4.7: I is reported for fetches when NX (or SMEP) is in use.
    if access == Access::Fetch && ctl.nx_enabled() {
        code |= pf::FETCH;
    }
    let mode = ctl.mode();
    if mode == PagingMode::Off {
        return Ok(Translation {
            frame: linear & !0xfff & 0xffff_ffff,
            writable: true,
            user: true,
            no_execute: false,
            global: false,
            dirty: true,
            page_shift: 12,
        });
    }
    let entry_size: u8 = if mode == PagingMode::Bits32 { 4 } else { 8 };
    let nx = ctl.nx_enabled();
    // Reserved bits of 8-byte entries: the high address bits, and XD when NX is off.
    let reserved = HIGH_RESERVED | if nx { 0 } else { XD };

    // The list of (entry address, entry) visited, for A/D updates.
    let mut visited: [(u64, u64); 4] = [(0, 0); 4];
    let mut levels = 0usize;
    let (mut writable, mut user, mut no_execute) = (true, true, false);
    let mut table;
    let mut shift: u32;
    let mut remaining;

    match mode {
        PagingMode::Bits32 => {
            table = ctl.cr3 & 0xffff_f000;
            shift = 22;
            remaining = 2;
        }
        PagingMode::Pae => {
            // SDM Vol.3A §4.4.1: the PDPTE for bits 31:30. (Hardware loads the
            // four PDPTEs when CR3 is written; reading them here is simpler
            // and only differs for guests that change them without a reload.)
            let addr = (ctl.cr3 & 0xffff_ffe0) + ((linear >> 30) & 3) * 8;
            let pdpte = tables.read_entry(addr, 8);
            if pdpte & P == 0 {
                return Err(code);
            }
            if pdpte & (HIGH_RESERVED | XD | 0x1e6) != 0 {
                return Err(code | pf::PRESENT | pf::RESERVED);
            }
            table = pdpte & ADDR_MASK;
            shift = 21;
            remaining = 2;
        }
        _ => {
            table = ctl.cr3 & ADDR_MASK;
            shift = 39;
            remaining = 4;
        }
    }

    loop {
        let index = if entry_size == 4 {
            (linear >> shift) & 0x3ff
        } else {
            (linear >> shift) & 0x1ff
        };
        let addr = table + index * entry_size as u64;
        let entry = tables.read_entry(addr, entry_size);
        if entry & P == 0 {
            return Err(code);
        }
        let leaf_level = remaining == 1;
        let large = !leaf_level && entry & PS != 0;
        // Reserved-bit checks (SDM Vol.3A §4.3, §4.4.2, §4.5.4).
        let mut bad = entry_size == 8 && entry & reserved != 0;
        if large {
            bad |= match (mode, shift) {
                // PS in a PML4E is reserved; 1 GiB pages need bits 29:13 clear.
                (PagingMode::Level4, 39) => true,
                (PagingMode::Level4, 30) => entry & 0x3fff_e000 != 0,
                (PagingMode::Bits32, _) => ctl.cr4 & cr::CR4_PSE != 0 && entry & (1 << 21) != 0,
                _ => entry & 0x1f_e000 != 0,
            };
        }
        if bad {
            return Err(code | pf::PRESENT | pf::RESERVED);
        }
        writable &= entry & RW != 0;
        user &= entry & US != 0;
        no_execute |= nx && entry & XD != 0;
        visited[levels] = (addr, entry);
        levels += 1;

        let leaf =
            leaf_level || (large && (mode != PagingMode::Bits32 || ctl.cr4 & cr::CR4_PSE != 0));
        if leaf {
            let page_shift = if leaf_level { 12 } else { shift };
            let frame_base = if entry_size == 4 && page_shift == 22 {
                // 4 MiB page: bits 31:22, and PSE-36 bits 20:13 → 39:32.
                (entry & 0xffc0_0000) | (((entry >> 13) & 0xff) << 32)
            } else if entry_size == 4 {
                entry & 0xffff_f000
            } else {
                entry & ADDR_MASK & !((1u64 << page_shift) - 1)
            };
            let frame = frame_base | (linear & ((1u64 << page_shift) - 1) & !0xfff);
            // Permission checks (SDM Vol.3A §4.6).
            let denied = match access {
                Access::Read => user_access && !user,
                // User writes need U and R/W; supervisor writes need R/W only with CR0.WP.
                Access::Write if user_access => !user || !writable,
                Access::Write => !writable && ctl.cr0 & cr::CR0_WP != 0,
                Access::Fetch => (user_access && !user) || no_execute,
            };
            if denied {
                return Err(code | pf::PRESENT);
            }
            // Accessed on every entry used, dirty on the leaf for writes (§4.8).
            for (i, &(a, e)) in visited[..levels].iter().enumerate() {
                let mut new = e | ACCESSED;
                if i == levels - 1 && access == Access::Write {
                    new |= DIRTY;
                }
                if new != e {
                    tables.write_entry(a, entry_size, new);
                }
            }
            let dirty = access == Access::Write || entry & DIRTY != 0;
            return Ok(Translation {
                frame,
                writable,
                user,
                no_execute,
                global: entry & GLOBAL != 0 && ctl.cr4 & cr::CR4_PGE != 0,
                dirty,
                page_shift: page_shift as u8,
            });
        }
        table = if entry_size == 4 {
            entry & 0xffff_f000
        } else {
            entry & ADDR_MASK
        };
        shift -= if entry_size == 4 { 10 } else { 9 };
        remaining -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    struct Tables(Vec<u8>);

    impl TableMemory for Tables {
        fn read_entry(&mut self, addr: u64, size: u8) -> u64 {
            let mut b = [0u8; 8];
            let a = addr as usize;
            if a + size as usize > self.0.len() {
                return u64::MAX;
            }
            b[..size as usize].copy_from_slice(&self.0[a..a + size as usize]);
            u64::from_le_bytes(b)
        }
        fn write_entry(&mut self, addr: u64, size: u8, value: u64) {
            let a = addr as usize;
            self.0[a..a + size as usize].copy_from_slice(&value.to_le_bytes()[..size as usize]);
        }
    }

    fn set(t: &mut Tables, addr: u64, value: u64) {
        t.write_entry(addr, 8, value);
    }

    fn long_mode(cpl: u8) -> PagingControl {
        PagingControl {
            cr0: cr::CR0_PE | cr::CR0_PG | cr::CR0_WP,
            cr3: 0x1000,
            cr4: cr::CR4_PAE | cr::CR4_PGE,
            efer: cr::EFER_LME | cr::EFER_LMA | cr::EFER_NXE,
            cpl,
        }
    }

    /// PML4 at 0x1000 → PDPT 0x2000 → PD 0x3000 → PT 0x4000; linear 0x40_0000
    /// (PD index 2) is a 4 KiB user page at 0x9000, read-only, NX;
    /// linear 0 is a 2 MiB supervisor page at 0x20_0000.
    fn tables() -> Tables {
        let mut t = Tables(vec![0; 0x10000]);
        set(&mut t, 0x1000, 0x2000 | 7);
        set(&mut t, 0x2000, 0x3000 | 7);
        set(&mut t, 0x3000, 0x20_0000 | P | RW | PS);
        set(&mut t, 0x3010, 0x4000 | 7);
        set(&mut t, 0x4000, 0x9000 | P | US | XD);
        t
    }

    #[test]
    fn four_level_translation_and_accessed_dirty() {
        let mut t = tables();
        let ctl = long_mode(0);
        let tr = walk(&ctl, &mut t, 0x40_0123, Access::Read, Privilege::Current).unwrap();
        assert_eq!(
            (tr.frame, tr.user, tr.writable, tr.no_execute),
            (0x9000, true, false, true)
        );
        assert_ne!(t.read_entry(0x4000, 8) & ACCESSED, 0);
        assert_eq!(t.read_entry(0x4000, 8) & DIRTY, 0);
        let tr = walk(&ctl, &mut t, 0x1f_5000, Access::Write, Privilege::Current).unwrap();
        assert_eq!((tr.frame, tr.page_shift), (0x3f_5000, 21));
        assert_ne!(t.read_entry(0x3000, 8) & DIRTY, 0);
    }

    #[test]
    fn fault_error_codes() {
        let mut t = tables();
        let user = long_mode(3);
        // Not present, user read: U only.
        assert_eq!(
            walk(&user, &mut t, 0x80_0000, Access::Read, Privilege::Current),
            Err(pf::USER)
        );
        // Read-only page written by the user: P|W|U.
        assert_eq!(
            walk(&user, &mut t, 0x40_0000, Access::Write, Privilege::Current),
            Err(pf::PRESENT | pf::WRITE | pf::USER)
        );
        // Supervisor write with WP=1 to a read-only page: P|W.
        assert_eq!(
            walk(
                &long_mode(0),
                &mut t,
                0x40_0000,
                Access::Write,
                Privilege::Current
            ),
            Err(pf::PRESENT | pf::WRITE)
        );
        // NX page fetched: P|I (and U for the user).
        assert_eq!(
            walk(&user, &mut t, 0x40_0000, Access::Fetch, Privilege::Current),
            Err(pf::PRESENT | pf::USER | pf::FETCH)
        );
        // Supervisor page touched by the user; not by an implicit access.
        assert_eq!(
            walk(&user, &mut t, 0x1000, Access::Read, Privilege::Current),
            Err(pf::PRESENT | pf::USER)
        );
        assert!(walk(&user, &mut t, 0x1000, Access::Read, Privilege::Supervisor).is_ok());
        // A reserved bit (bit 45) in the PT entry: P|RSVD.
        set(&mut t, 0x4000, 0x9000 | P | US | (1 << 45));
        assert_eq!(
            walk(
                &long_mode(0),
                &mut t,
                0x40_0000,
                Access::Read,
                Privilege::Current
            ),
            Err(pf::PRESENT | pf::RESERVED)
        );
    }

    #[test]
    fn thirty_two_bit_and_pae() {
        let mut t = Tables(vec![0; 0x10000]);
        // 32-bit: PDE 0 → PT 0x2000; PDE 1 a 4 MiB page at 0xc00000.
        t.write_entry(0x1000, 4, 0x2000 | 7);
        t.write_entry(0x1004, 4, 0xc0_0000 | P | RW | PS);
        t.write_entry(0x2000 + 5 * 4, 4, 0x7000 | 3);
        let mut ctl = PagingControl {
            cr0: cr::CR0_PE | cr::CR0_PG,
            cr3: 0x1000,
            cr4: cr::CR4_PSE,
            efer: 0,
            cpl: 0,
        };
        let tr = walk(&ctl, &mut t, 0x5abc, Access::Write, Privilege::Current).unwrap();
        assert_eq!(tr.frame, 0x7000);
        let tr = walk(&ctl, &mut t, 0x40_1234, Access::Read, Privilege::Current).unwrap();
        assert_eq!((tr.frame, tr.page_shift), (0xc0_1000, 22));
        // PAE: PDPTE 1 (for 0x4000_0000) → PD 0x3000 → 2 MiB page at 0x60_0000.
        let mut t = Tables(vec![0; 0x10000]);
        set(&mut t, 0x1008, 0x3000 | P);
        set(&mut t, 0x3000, 0x60_0000 | P | RW | PS);
        ctl.cr4 = cr::CR4_PAE;
        let tr = walk(&ctl, &mut t, 0x4001_2345, Access::Read, Privilege::Current).unwrap();
        assert_eq!(tr.frame, 0x61_2000);
        assert_eq!(
            walk(&ctl, &mut t, 0x1000, Access::Read, Privilege::Current),
            Err(0)
        );
    }
}

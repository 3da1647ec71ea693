//! RDMSR/WRMSR: the model-specific registers a kernel touches (SDM Vol.4
//! Table 2-2). Any other index is #GP(0), as on hardware without it.

use super::fault::Exception;
use super::state::{Cpu, SegReg, cr};
use crate::mmu::Memory;

/// MSR indices.
pub mod index {
    /// IA32_TIME_STAMP_COUNTER.
    pub const TSC: u32 = 0x10;
    /// IA32_APIC_BASE.
    pub const APIC_BASE: u32 = 0x1b;
    /// IA32_MTRRCAP (reads 0: no MTRRs).
    pub const MTRR_CAP: u32 = 0xfe;
    /// IA32_SYSENTER_CS.
    pub const SYSENTER_CS: u32 = 0x174;
    /// IA32_SYSENTER_ESP.
    pub const SYSENTER_ESP: u32 = 0x175;
    /// IA32_SYSENTER_EIP.
    pub const SYSENTER_EIP: u32 = 0x176;
    /// IA32_MISC_ENABLE.
    pub const MISC_ENABLE: u32 = 0x1a0;
    /// IA32_PAT.
    pub const PAT: u32 = 0x277;
    /// IA32_EFER.
    pub const EFER: u32 = 0xc000_0080;
    /// IA32_STAR.
    pub const STAR: u32 = 0xc000_0081;
    /// IA32_LSTAR.
    pub const LSTAR: u32 = 0xc000_0082;
    /// IA32_CSTAR.
    pub const CSTAR: u32 = 0xc000_0083;
    /// IA32_FMASK.
    pub const SFMASK: u32 = 0xc000_0084;
    /// IA32_FS_BASE.
    pub const FS_BASE: u32 = 0xc000_0100;
    /// IA32_GS_BASE.
    pub const GS_BASE: u32 = 0xc000_0101;
    /// IA32_KERNEL_GS_BASE.
    pub const KERNEL_GS_BASE: u32 = 0xc000_0102;
    /// IA32_TSC_AUX.
    pub const TSC_AUX: u32 = 0xc000_0103;
    /// AMD family 0Fh Interrupt Pending Message register (MSRC001_0055 in
    /// the BKDG for AMD NPT Family 0Fh Processors): its C1E bits are clear,
    /// as on a CPU whose firmware did not enable C1E. Linux reads it on family 0Fh
    /// CPUs (erratum 400 check) without a fault handler.
    pub const INT_PENDING_MSG: u32 = 0xc001_0055;
}

/// EFER bits software may set: SCE, LME, NXE (LMA is read-only).
const EFER_WRITABLE: u64 = cr::EFER_SCE | cr::EFER_LME | cr::EFER_NXE;

impl Cpu {
    /// RDMSR.
    pub fn read_msr<M: Memory>(&self, mem: &mut M, msr: u32) -> Result<u64, Exception> {
        use index::*;
        Ok(match msr {
            TSC => self.tsc,
            // The local APIC owns its base register when the machine has one.
            APIC_BASE => match mem.bus().and_then(|b| b.local_apic()) {
                Some(apic) => apic.base_msr(),
                None => self.msr.apic_base,
            },
            MTRR_CAP => 0,
            SYSENTER_CS => self.msr.sysenter_cs,
            SYSENTER_ESP => self.msr.sysenter_esp,
            SYSENTER_EIP => self.msr.sysenter_eip,
            MISC_ENABLE => self.msr.misc_enable,
            PAT => self.msr.pat,
            EFER => self.efer,
            STAR => self.msr.star,
            LSTAR => self.msr.lstar,
            CSTAR => self.msr.cstar,
            SFMASK => self.msr.sfmask,
            FS_BASE => self.segs[SegReg::Fs as usize].base,
            GS_BASE => self.segs[SegReg::Gs as usize].base,
            KERNEL_GS_BASE => self.kernel_gs_base,
            TSC_AUX => self.tsc_aux,
            INT_PENDING_MSG => 0,
            _ => return Err(Exception::GeneralProtection(0)),
        })
    }

    /// WRMSR. Reserved bits and non-canonical addresses are #GP(0).
    pub fn write_msr<M: Memory>(
        &mut self,
        mem: &mut M,
        msr: u32,
        value: u64,
    ) -> Result<(), Exception> {
        use index::*;
        let gp = Err(Exception::GeneralProtection(0));
        let canonical = super::operand::is_canonical(value);
        match msr {
            TSC => self.tsc = value,
            APIC_BASE => match mem.bus().and_then(|b| b.local_apic()) {
                // SDM Vol.3A §10.4.4: reserved bits (x2APIC enable included,
                // as there is no x2APIC) are #GP.
                Some(apic) => apic.write_base_msr(value).or(gp)?,
                None => self.msr.apic_base = value,
            },
            MTRR_CAP => return gp,
            SYSENTER_CS => self.msr.sysenter_cs = value & 0xffff,
            SYSENTER_ESP if canonical => self.msr.sysenter_esp = value,
            SYSENTER_EIP if canonical => self.msr.sysenter_eip = value,
            MISC_ENABLE => self.msr.misc_enable = value,
            // Each PAT byte must name a valid memory type (0, 1, 4–7).
            PAT if (0..8).all(|i| !matches!((value >> (i * 8)) & 0xff, 2 | 3 | 8..)) => {
                self.msr.pat = value
            }
            EFER => {
                if value & !(EFER_WRITABLE | cr::EFER_LMA) != 0 {
                    return gp;
                }
                // LME cannot change while paging is on (SDM Vol.3A §10.8.5).
                if (value ^ self.efer) & cr::EFER_LME != 0 && self.cr0 & cr::CR0_PG != 0 {
                    return gp;
                }
                self.efer = (self.efer & cr::EFER_LMA) | (value & EFER_WRITABLE);
                self.sync_mode(mem);
            }
            STAR => self.msr.star = value,
            LSTAR if canonical => self.msr.lstar = value,
            CSTAR if canonical => self.msr.cstar = value,
            SFMASK => self.msr.sfmask = value & 0xffff_ffff,
            FS_BASE if canonical => self.segs[SegReg::Fs as usize].base = value,
            GS_BASE if canonical => self.segs[SegReg::Gs as usize].base = value,
            KERNEL_GS_BASE if canonical => self.kernel_gs_base = value,
            TSC_AUX => self.tsc_aux = value & 0xffff_ffff,
            // Writable on hardware; with C1E off nothing here depends on it.
            INT_PENDING_MSG => {}
            _ => return gp,
        }
        Ok(())
    }
}

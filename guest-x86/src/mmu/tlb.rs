//! A software TLB in front of the page walker: direct-mapped by linear page
//! number. Flushed on CR3 writes (global pages kept when CR4.PGE, SDM
//! Vol.3A §4.10.4.1), on paging-mode changes, and per page by INVLPG.

use super::paging::{Access, PagingControl, Privilege, Translation};
use crate::cpu::state::cr;

const ENTRIES: usize = 512;

#[derive(Clone, Copy)]
struct Entry {
    /// Linear page number (linear >> 12), `u64::MAX` when empty.
    vpn: u64,
    translation: Translation,
}

const EMPTY: Entry = Entry {
    vpn: u64::MAX,
    translation: Translation {
        frame: 0,
        writable: false,
        user: false,
        no_execute: false,
        global: false,
        dirty: false,
        page_shift: 12,
    },
};

/// The TLB.
#[derive(Clone)]
pub struct Tlb {
    entries: [Entry; ENTRIES],
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            entries: [EMPTY; ENTRIES],
        }
    }
}

impl Tlb {
    /// The cached frame for `linear` if the entry allows this access; a
    /// miss or a denied access goes to the walker (which then reports the
    /// exact fault, or sets the dirty bit).
    #[inline]
    pub fn lookup(
        &self,
        ctl: &PagingControl,
        linear: u64,
        access: Access,
        privilege: Privilege,
    ) -> Option<u64> {
        let vpn = linear >> 12;
        let e = &self.entries[(vpn as usize) % ENTRIES];
        if e.vpn != vpn {
            return None;
        }
        let t = &e.translation;
        let user_access = privilege == Privilege::Current && ctl.cpl == 3;
        let allowed = match access {
            Access::Read => !user_access || t.user,
            Access::Write => {
                t.dirty
                    && if user_access {
                        t.user && t.writable
                    } else {
                        t.writable || ctl.cr0 & cr::CR0_WP == 0
                    }
            }
            Access::Fetch => !t.no_execute && (!user_access || t.user),
        };
        allowed.then_some(t.frame)
    }

    /// Caches a walk's result for `linear`.
    #[inline]
    pub fn insert(&mut self, linear: u64, translation: Translation) {
        let vpn = linear >> 12;
        self.entries[(vpn as usize) % ENTRIES] = Entry { vpn, translation };
    }

    /// Drops every entry, or every non-global one.
    pub fn flush(&mut self, keep_global: bool) {
        for e in &mut self.entries {
            if !(keep_global && e.translation.global) {
                *e = EMPTY;
            }
        }
    }

    /// INVLPG: drops the entries of the page holding `linear`, whatever its
    /// size, global or not (SDM Vol.3A §4.10.4.1).
    pub fn invalidate(&mut self, linear: u64) {
        for e in &mut self.entries {
            if e.vpn == u64::MAX {
                continue;
            }
            let shift = e.translation.page_shift as u32;
            if (e.vpn << 12) >> shift == linear >> shift {
                *e = EMPTY;
            }
        }
    }
}

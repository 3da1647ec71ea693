//! The local APIC of the one processor, xAPIC mode (SDM Vol.3A ch.10):
//! memory-mapped registers at the IA32_APIC_BASE address, interrupt
//! acceptance into the IRR, priority against the TPR and the ISR, EOI,
//! self-IPIs through the ICR, the error status register and the LVT timer
//! (one-shot and periodic, with its divide configuration) counting on the
//! PC's virtual clock. LINT0 in ExtINT mode passes the 8259's INTR through
//! (virtual-wire mode, MP spec 1.4 §3.6.2.2). There is no other processor:
//! INIT, SIPI and IPIs to other destinations go nowhere. No x2APIC and no
//! TSC-deadline mode (CPUID does not advertise them).

use crate::boot::layout::LOCAL_APIC_BASE;

/// IA32_APIC_BASE bits (SDM Vol.3A §10.4.4, Figure 10-5).
pub mod base_msr {
    /// This processor is the bootstrap processor (read-only).
    pub const BSP: u64 = 1 << 8;
    /// APIC global enable.
    pub const ENABLE: u64 = 1 << 11;
    /// The 4 KiB-aligned physical base of the register page.
    pub const ADDRESS_MASK: u64 =
        ((1 << crate::mmu::paging::MAX_PHYS_BITS) - 1) & !(super::PAGE_MASK);
    /// Everything software may write (x2APIC enable, bit 10, is reserved
    /// here: the CPU has no x2APIC).
    pub const WRITABLE: u64 = ENABLE | ADDRESS_MASK;
    /// The value after reset: the default base, BSP, enabled.
    pub const RESET: u64 = super::LOCAL_APIC_BASE | BSP | ENABLE;
}

/// Offset bits inside the 4 KiB register page.
const PAGE_MASK: u64 = 0xfff;

/// Register offsets in the APIC page (SDM Vol.3A Table 10-1).
pub mod reg {
    /// Local APIC ID.
    pub const ID: u64 = 0x20;
    /// Local APIC version (read-only).
    pub const VERSION: u64 = 0x30;
    /// Task priority.
    pub const TPR: u64 = 0x80;
    /// Arbitration priority (reads 0: no bus arbitration here).
    pub const APR: u64 = 0x90;
    /// Processor priority (read-only).
    pub const PPR: u64 = 0xa0;
    /// End of interrupt (write-only).
    pub const EOI: u64 = 0xb0;
    /// Remote read (reads 0).
    pub const RRD: u64 = 0xc0;
    /// Logical destination.
    pub const LDR: u64 = 0xd0;
    /// Destination format.
    pub const DFR: u64 = 0xe0;
    /// Spurious interrupt vector.
    pub const SVR: u64 = 0xf0;
    /// In-service register, 8 × 32 bits (read-only).
    pub const ISR: u64 = 0x100;
    /// Trigger mode register, 8 × 32 bits (read-only).
    pub const TMR: u64 = 0x180;
    /// Interrupt request register, 8 × 32 bits (read-only).
    pub const IRR: u64 = 0x200;
    /// Error status.
    pub const ESR: u64 = 0x280;
    /// Interrupt command, low half (writing it sends).
    pub const ICR_LOW: u64 = 0x300;
    /// Interrupt command, high half (destination).
    pub const ICR_HIGH: u64 = 0x310;
    /// LVT timer.
    pub const LVT_TIMER: u64 = 0x320;
    /// LVT thermal sensor.
    pub const LVT_THERMAL: u64 = 0x330;
    /// LVT performance-monitoring counters.
    pub const LVT_PERF: u64 = 0x340;
    /// LVT LINT0.
    pub const LVT_LINT0: u64 = 0x350;
    /// LVT LINT1.
    pub const LVT_LINT1: u64 = 0x360;
    /// LVT error.
    pub const LVT_ERROR: u64 = 0x370;
    /// Timer initial count.
    pub const TIMER_INITIAL: u64 = 0x380;
    /// Timer current count (read-only).
    pub const TIMER_CURRENT: u64 = 0x390;
    /// Timer divide configuration.
    pub const TIMER_DIVIDE: u64 = 0x3e0;
}

/// Version register: integrated APIC version 0x14, six LVT entries
/// (max LVT entry 5), no EOI-broadcast suppression (SDM Vol.3A §10.4.8).
const VERSION: u32 = 0x14 | (5 << 16);

/// LVT fields (SDM Vol.3A §10.5.1, Figure 10-8).
mod lvt {
    pub const VECTOR: u32 = 0xff;
    pub const DELIVERY_MODE: u32 = 7 << 8;
    pub const POLARITY: u32 = 1 << 13;
    pub const REMOTE_IRR: u32 = 1 << 14;
    pub const LEVEL: u32 = 1 << 15;
    pub const MASKED: u32 = 1 << 16;
    /// Timer mode bit 17: periodic (bit 18, TSC-deadline, is reserved here).
    pub const PERIODIC: u32 = 1 << 17;
    /// Writable bits of each entry, in `Lvt` order.
    pub const WRITABLE: [u32; 6] = [
        VECTOR | MASKED | PERIODIC,                         // timer
        VECTOR | DELIVERY_MODE | MASKED,                    // thermal
        VECTOR | DELIVERY_MODE | MASKED,                    // performance
        VECTOR | DELIVERY_MODE | POLARITY | LEVEL | MASKED, // LINT0
        VECTOR | DELIVERY_MODE | POLARITY | LEVEL | MASKED, // LINT1
        VECTOR | MASKED,                                    // error
    ];
    /// Reset value: masked (SDM Vol.3A §10.4.7.1).
    pub const RESET: u32 = MASKED;
}

/// Indices into the LVT (in register order).
#[derive(Clone, Copy)]
enum Lvt {
    Timer = 0,
    Lint0 = 3,
    Lint1 = 4,
    Error = 5,
}

/// Delivery modes of LVT entries, the ICR and I/O APIC redirection
/// entries (SDM Vol.3A §10.5.1, §10.6.1).
pub mod delivery {
    /// Fixed: the vector.
    pub const FIXED: u32 = 0;
    /// Lowest priority (one processor: the same as fixed).
    pub const LOWEST_PRIORITY: u32 = 1;
    /// Non-maskable interrupt.
    pub const NMI: u32 = 4;
    /// INIT.
    pub const INIT: u32 = 5;
    /// Start-up IPI.
    pub const STARTUP: u32 = 6;
    /// The 8259's vector, fetched by an INTA cycle.
    pub const EXTINT: u32 = 7;
}

/// Spurious-interrupt vector register bits (SDM Vol.3A §10.9).
mod svr {
    /// APIC software enable.
    pub const ENABLE: u32 = 1 << 8;
    /// Focus processor checking disabled.
    pub const FOCUS_DISABLED: u32 = 1 << 9;
    /// Writable bits: vector, enable, focus.
    pub const WRITABLE: u32 = 0xff | ENABLE | FOCUS_DISABLED;
    /// Reset value: vector 0xFF, software-disabled.
    pub const RESET: u32 = 0xff;
}

/// Error status bits (SDM Vol.3A §10.5.3).
mod esr {
    /// A vector below 16 was sent.
    pub const SEND_ILLEGAL_VECTOR: u32 = 1 << 5;
    /// A vector below 16 was received.
    pub const RECEIVE_ILLEGAL_VECTOR: u32 = 1 << 6;
}

/// Interrupt command register fields (SDM Vol.3A §10.6.1, Figure 10-12).
mod icr {
    pub const VECTOR: u32 = 0xff;
    pub const DELIVERY_MODE_SHIFT: u32 = 8;
    pub const LOGICAL: u32 = 1 << 11;
    pub const LEVEL_TRIGGERED: u32 = 1 << 15;
    pub const SHORTHAND_SHIFT: u32 = 18;
    /// Writable bits of the low half (delivery status is read-only).
    pub const WRITABLE_LOW: u32 = 0x000c_cfff;
    /// Destination field of the high half.
    pub const DESTINATION: u32 = 0xff00_0000;
    /// Shorthands.
    pub const NO_SHORTHAND: u32 = 0;
    pub const SELF: u32 = 1;
    pub const ALL_INCLUDING_SELF: u32 = 2;
}

/// Destination format register: flat model in bits 31:28 (all ones), the
/// rest reads as ones (SDM Vol.3A §10.6.2.2).
const DFR_RESET: u32 = 0xffff_ffff;
const DFR_MODEL: u32 = 0xf000_0000;
const DFR_CLUSTER: u32 = 0x0000_0000;

/// Vectors 0–15 are reserved for exceptions and illegal as interrupts.
const FIRST_LEGAL_VECTOR: u8 = 16;

/// The APIC timer counts on a 1 GHz bus clock (one tick per virtual
/// nanosecond) divided by the divide configuration, as QEMU's does.
const TIMER_NS_PER_TICK: u64 = 1;

/// A 256-bit vector register (IRR, ISR, TMR), with a summary of its
/// non-zero words so the highest vector is found without a scan (the
/// machine asks before every instruction while interrupts are enabled).
#[derive(Clone, Copy, Debug, Default)]
struct VectorSet {
    words: [u32; 8],
    /// Bit w set: `words[w]` is not zero.
    summary: u8,
}

impl VectorSet {
    fn set(&mut self, v: u8, on: bool) {
        let (word, bit) = ((v >> 5) as usize, v & 31);
        if on {
            self.words[word] |= 1 << bit;
        } else {
            self.words[word] &= !(1 << bit);
        }
        if self.words[word] == 0 {
            self.summary &= !(1 << word);
        } else {
            self.summary |= 1 << word;
        }
    }
    fn get(&self, v: u8) -> bool {
        self.words[(v >> 5) as usize] & (1 << (v & 31)) != 0
    }
    #[inline]
    fn highest(&self) -> Option<u8> {
        if self.summary == 0 {
            return None;
        }
        let w = 7 - self.summary.leading_zeros() as usize;
        Some((w as u8) * 32 + (31 - self.words[w].leading_zeros() as u8))
    }
}

/// The LVT timer's count (SDM Vol.3A §10.5.4).
#[derive(Clone, Debug, Default)]
struct Timer {
    initial: u32,
    /// Divide configuration register as written (bits 0, 1, 3).
    divide_config: u32,
    /// Virtual time the count was (re)loaded.
    start: u64,
    /// Next virtual time the timer reaches zero, while it runs.
    next_fire: Option<u64>,
}

impl Timer {
    /// log2 of the divider: bits 3,1:0 = 000 → 2 … 110 → 128, 111 → 1.
    fn divide_shift(&self) -> u32 {
        let code = (self.divide_config & 3) | ((self.divide_config >> 1) & 4);
        (code + 1) & 7
    }

    fn ns_per_count(&self) -> u64 {
        TIMER_NS_PER_TICK << self.divide_shift()
    }

    fn counts_since_start(&self, now: u64) -> u64 {
        now.saturating_sub(self.start) / self.ns_per_count()
    }

    fn current(&self, now: u64, periodic: bool) -> u32 {
        if self.initial == 0 {
            return 0;
        }
        let elapsed = self.counts_since_start(now);
        let initial = self.initial as u64;
        if periodic {
            (initial - elapsed % initial) as u32
        } else if self.next_fire.is_none() || elapsed >= initial {
            0
        } else {
            (initial - elapsed) as u32
        }
    }

    fn load(&mut self, initial: u32, now: u64) {
        self.initial = initial;
        self.start = now;
        self.next_fire =
            (initial != 0).then(|| now.saturating_add(initial as u64 * self.ns_per_count()));
    }

    /// A new divider keeps the count where it is and changes its pace.
    fn set_divide(&mut self, config: u32, now: u64, periodic: bool) {
        let remaining = self.current(now, periodic) as u64;
        let running = self.next_fire.is_some();
        let elapsed = (self.initial as u64).saturating_sub(remaining);
        self.divide_config = config & 0xb;
        let per = self.ns_per_count();
        self.start = now.saturating_sub(elapsed * per);
        if running {
            self.next_fire = Some(now.saturating_add(remaining.max(1) * per));
        }
    }

    /// True once per expiry at `now`; a periodic timer reloads.
    fn expired(&mut self, now: u64, periodic: bool) -> bool {
        match self.next_fire {
            Some(t) if now >= t => {
                self.next_fire = if periodic {
                    // Coalesce missed periods: the next expiry after `now`.
                    let period = (self.initial as u64 * self.ns_per_count()).max(1);
                    Some(t + ((now - t) / period + 1) * period)
                } else {
                    None
                };
                true
            }
            _ => false,
        }
    }
}

/// A write to IA32_APIC_BASE set reserved bits (the value written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReservedBits(pub u64);

/// The local APIC.
#[derive(Clone, Debug)]
pub struct LocalApic {
    /// IA32_APIC_BASE.
    base_msr: u64,
    id: u32,
    tpr: u32,
    ldr: u32,
    dfr: u32,
    svr: u32,
    isr: VectorSet,
    tmr: VectorSet,
    irr: VectorSet,
    /// Errors seen since the last ESR write.
    pending_errors: u32,
    /// ESR as last latched by a write.
    esr: u32,
    icr_low: u32,
    icr_high: u32,
    lvt: [u32; 6],
    timer: Timer,
    /// Vectors whose EOI the I/O APIC must hear (level-triggered ones),
    /// collected until the bus passes them on.
    pub eoi_broadcasts: alloc::vec::Vec<u8>,
}

impl Default for LocalApic {
    fn default() -> Self {
        LocalApic::new()
    }
}

impl LocalApic {
    /// The APIC after power-on, left in virtual-wire mode as a PC BIOS
    /// leaves it (LINT0 = ExtINT, LINT1 = NMI; MP spec 1.4 §3.6.2.2), so
    /// the 8259's interrupts reach the processor.
    pub fn new() -> LocalApic {
        let mut apic = LocalApic {
            base_msr: base_msr::RESET,
            id: 0,
            tpr: 0,
            ldr: 0,
            dfr: DFR_RESET,
            svr: svr::RESET,
            isr: VectorSet::default(),
            tmr: VectorSet::default(),
            irr: VectorSet::default(),
            pending_errors: 0,
            esr: 0,
            icr_low: 0,
            icr_high: 0,
            lvt: [lvt::RESET; 6],
            timer: Timer::default(),
            eoi_broadcasts: alloc::vec::Vec::new(),
        };
        apic.lvt[Lvt::Lint0 as usize] = delivery::EXTINT << 8;
        apic.lvt[Lvt::Lint1 as usize] = delivery::NMI << 8;
        apic
    }

    /// Resets the registers (SDM Vol.3A §10.4.7.1), keeping the MSR.
    fn reset_registers(&mut self) {
        let msr = self.base_msr;
        *self = LocalApic::new();
        self.lvt = [lvt::RESET; 6];
        self.base_msr = msr;
    }

    /// RDMSR IA32_APIC_BASE.
    pub fn base_msr(&self) -> u64 {
        self.base_msr
    }

    /// WRMSR IA32_APIC_BASE; reserved bits are an error (#GP). Clearing
    /// the global enable resets the APIC and hides its page (SDM Vol.3A §10.4.3).
    pub fn write_base_msr(&mut self, value: u64) -> Result<(), ReservedBits> {
        if value & !(base_msr::WRITABLE | base_msr::BSP) != 0 {
            return Err(ReservedBits(value));
        }
        let was_enabled = self.hardware_enabled();
        self.base_msr = (value & base_msr::WRITABLE) | (self.base_msr & base_msr::BSP);
        if was_enabled && !self.hardware_enabled() {
            self.reset_registers();
        }
        Ok(())
    }

    /// IA32_APIC_BASE.EN: the APIC exists for software.
    pub fn hardware_enabled(&self) -> bool {
        self.base_msr & base_msr::ENABLE != 0
    }

    /// Physical address of the register page.
    pub fn page(&self) -> u64 {
        self.base_msr & base_msr::ADDRESS_MASK
    }

    /// True if `addr` falls in the (enabled) register page.
    pub fn decodes(&self, addr: u64) -> bool {
        self.hardware_enabled() && addr & !PAGE_MASK == self.page()
    }

    fn software_enabled(&self) -> bool {
        self.svr & svr::ENABLE != 0
    }

    /// CR8 reads TPR[7:4] (SDM Vol.3A §10.8.6.1).
    pub fn cr8(&self) -> u64 {
        (self.tpr >> 4) as u64
    }

    /// CR8 writes TPR[7:4] and clears TPR[3:0].
    pub fn set_cr8(&mut self, value: u64) {
        self.tpr = ((value & 0xf) << 4) as u32;
    }

    /// Processor priority: the higher of the TPR and the class of the
    /// highest in-service vector (SDM Vol.3A §10.8.3.1).
    fn ppr(&self) -> u32 {
        let isrv = self.isr.highest().unwrap_or(0) as u32;
        if self.tpr >> 4 >= isrv >> 4 {
            self.tpr
        } else {
            isrv & 0xf0
        }
    }

    fn error(&mut self, bits: u32) {
        self.pending_errors |= bits;
        let entry = self.lvt[Lvt::Error as usize];
        if entry & lvt::MASKED == 0 {
            self.accept((entry & lvt::VECTOR) as u8, false);
        }
    }

    /// A fixed interrupt arrives (from the I/O APIC, an LVT entry or an
    /// IPI): it waits in the IRR (SDM Vol.3A §10.8.2, §10.8.4).
    pub fn accept(&mut self, vector: u8, level_triggered: bool) {
        if !self.hardware_enabled() {
            return;
        }
        if vector < FIRST_LEGAL_VECTOR {
            // Recursion ends: a vector < 16 in the error LVT is not re-raised.
            if self.pending_errors & esr::RECEIVE_ILLEGAL_VECTOR == 0 {
                self.error(esr::RECEIVE_ILLEGAL_VECTOR);
            }
            return;
        }
        self.irr.set(vector, true);
        self.tmr.set(vector, level_triggered);
    }

    /// The highest pending vector if it outranks the processor priority
    /// (SDM Vol.3A §10.8.3.1: compared by priority class).
    fn deliverable(&self) -> Option<u8> {
        if !self.hardware_enabled() || !self.software_enabled() {
            return None;
        }
        let v = self.irr.highest()?;
        ((v as u32 & 0xf0) > (self.ppr() & 0xf0)).then_some(v)
    }

    /// True if an interrupt would be delivered to a CPU with IF set.
    #[inline]
    pub fn has_pending(&self) -> bool {
        if self.irr.summary == 0 {
            return false;
        }
        self.deliverable().is_some()
    }

    /// The INTA cycle: the vector moves from the IRR to the ISR.
    pub fn acknowledge(&mut self) -> Option<u8> {
        let v = self.deliverable()?;
        self.irr.set(v, false);
        self.isr.set(v, true);
        Some(v)
    }

    /// True if LINT0 passes the 8259's INTR through (ExtINT, unmasked), or
    /// the APIC is globally disabled and the 8259 reaches the CPU directly.
    pub fn passes_extint(&self) -> bool {
        let lint0 = self.lvt[Lvt::Lint0 as usize];
        !self.hardware_enabled()
            || (lint0 & lvt::MASKED == 0 && (lint0 & lvt::DELIVERY_MODE) >> 8 == delivery::EXTINT)
    }

    /// True if this APIC is a destination of a message with `destination`
    /// in physical or logical mode (SDM Vol.3A §10.6.2).
    pub fn is_destination(&self, destination: u8, logical: bool) -> bool {
        let id = (self.id >> 24) as u8;
        if !logical {
            return destination == id || destination == 0xff;
        }
        let ldr = (self.ldr >> 24) as u8;
        if destination == 0xff {
            return true;
        }
        if self.dfr & DFR_MODEL == DFR_CLUSTER {
            // Cluster model: high nibble is the cluster, low nibble a bitmap.
            destination >> 4 == ldr >> 4 && destination & ldr & 0xf != 0
        } else {
            destination & ldr != 0
        }
    }

    fn end_of_interrupt(&mut self) {
        if let Some(v) = self.isr.highest() {
            self.isr.set(v, false);
            if self.tmr.get(v) {
                // A level-triggered interrupt: the I/O APIC clears Remote IRR.
                self.eoi_broadcasts.push(v);
            }
        }
    }

    fn send_ipi(&mut self) {
        let low = self.icr_low;
        let vector = (low & icr::VECTOR) as u8;
        let mode = (low >> icr::DELIVERY_MODE_SHIFT) & 7;
        let to_self = match (low >> icr::SHORTHAND_SHIFT) & 3 {
            icr::NO_SHORTHAND => {
                self.is_destination((self.icr_high >> 24) as u8, low & icr::LOGICAL != 0)
            }
            icr::SELF | icr::ALL_INCLUDING_SELF => true,
            _ => false, // all excluding self: there is nobody else
        };
        match mode {
            delivery::FIXED | delivery::LOWEST_PRIORITY => {
                if vector < FIRST_LEGAL_VECTOR {
                    self.error(esr::SEND_ILLEGAL_VECTOR);
                    return;
                }
                if to_self {
                    self.accept(vector, low & icr::LEVEL_TRIGGERED != 0);
                }
            }
            // INIT (assert or de-assert) and start-up IPIs go to absent
            // processors; NMI, SMI and ExtINT IPIs are not modelled.
            _ => {}
        }
    }

    fn timer_periodic(&self) -> bool {
        self.lvt[Lvt::Timer as usize] & lvt::PERIODIC != 0
    }

    /// Virtual time of the timer's next expiry, for HLT to skip ahead to.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.hardware_enabled() {
            self.timer.next_fire
        } else {
            None
        }
    }

    /// When the timer next expires, whether or not the APIC is enabled
    /// (`update_timer` fires it either way).
    pub fn timer_next_fire(&self) -> Option<u64> {
        self.timer.next_fire
    }

    /// Raises the timer's interrupt if it expired by `now`.
    #[inline]
    pub fn update_timer(&mut self, now: u64) {
        if self.timer.next_fire.is_none_or(|t| now < t) {
            return;
        }
        let periodic = self.timer_periodic();
        if self.timer.expired(now, periodic) {
            let entry = self.lvt[Lvt::Timer as usize];
            if entry & lvt::MASKED == 0 {
                self.accept((entry & lvt::VECTOR) as u8, false);
            }
        }
    }

    fn read_register(&self, offset: u64, now: u64) -> u32 {
        let lvt_index = |o: u64| ((o - reg::LVT_TIMER) >> 4) as usize;
        let word = |o: u64, base: u64| ((o - base) >> 4) as usize;
        match offset {
            reg::ID => self.id,
            reg::VERSION => VERSION,
            reg::TPR => self.tpr,
            reg::PPR => self.ppr(),
            reg::LDR => self.ldr,
            reg::DFR => self.dfr,
            reg::SVR => self.svr,
            reg::ISR..=0x170 => self.isr.words[word(offset, reg::ISR)],
            reg::TMR..=0x1f0 => self.tmr.words[word(offset, reg::TMR)],
            reg::IRR..=0x270 => self.irr.words[word(offset, reg::IRR)],
            reg::ESR => self.esr,
            reg::ICR_LOW => self.icr_low,
            reg::ICR_HIGH => self.icr_high,
            reg::LVT_TIMER..=reg::LVT_ERROR => self.lvt[lvt_index(offset)],
            reg::TIMER_INITIAL => self.timer.initial,
            reg::TIMER_CURRENT => self.timer.current(now, self.timer_periodic()),
            reg::TIMER_DIVIDE => self.timer.divide_config,
            // APR, RRD, EOI and the reserved offsets read 0.
            _ => 0,
        }
    }

    fn write_register(&mut self, offset: u64, value: u32, now: u64) {
        match offset {
            reg::ID => self.id = value & 0xff00_0000,
            reg::TPR => self.tpr = value & 0xff,
            reg::EOI => self.end_of_interrupt(),
            reg::LDR => self.ldr = value & 0xff00_0000,
            reg::DFR => self.dfr = (value & DFR_MODEL) | !DFR_MODEL,
            reg::SVR => {
                self.svr = value & svr::WRITABLE;
                if !self.software_enabled() {
                    // SDM Vol.3A §10.4.7.2: software disable masks every LVT entry.
                    for entry in &mut self.lvt {
                        *entry |= lvt::MASKED;
                    }
                }
            }
            reg::ESR => {
                // SDM Vol.3A §10.5.3: a write latches the errors seen since.
                self.esr = core::mem::take(&mut self.pending_errors);
            }
            reg::ICR_LOW => {
                self.icr_low = value & icr::WRITABLE_LOW;
                self.send_ipi();
            }
            reg::ICR_HIGH => self.icr_high = value & icr::DESTINATION,
            reg::LVT_TIMER..=reg::LVT_ERROR => {
                let i = ((offset - reg::LVT_TIMER) >> 4) as usize;
                let mut entry = value & lvt::WRITABLE[i];
                if !self.software_enabled() {
                    entry |= lvt::MASKED;
                }
                // Remote IRR is read-only; delivery status always reads
                // idle (delivery is immediate). A timer mode change restarts
                // nothing.
                self.lvt[i] = entry | (self.lvt[i] & lvt::REMOTE_IRR);
            }
            reg::TIMER_INITIAL => self.timer.load(value, now),
            reg::TIMER_DIVIDE => {
                let periodic = self.timer_periodic();
                self.timer.set_divide(value, now, periodic);
            }
            // Read-only and reserved registers ignore writes.
            _ => {}
        }
    }

    /// An MMIO read of `size` bytes at `addr` in the register page.
    /// Registers are 32 bits wide on 16-byte boundaries; a narrower read
    /// sees its bytes of the register, bytes 4–15 of each slot read 0.
    pub fn mmio_read(&self, addr: u64, size: u8, now: u64) -> u64 {
        let offset = addr & PAGE_MASK;
        let value = self.read_register(offset & !0xf, now) as u64;
        let byte = offset & 0xf;
        if byte >= 4 {
            return 0;
        }
        let shifted = value >> (byte * 8);
        shifted & crate::cpu::state::size_mask(size)
    }

    /// An MMIO write. Only aligned 32-bit writes reach a register (SDM
    /// Vol.3A §10.4.1: other accesses are undefined); others are dropped.
    pub fn mmio_write(&mut self, addr: u64, size: u8, value: u64, now: u64) {
        let offset = addr & PAGE_MASK;
        if offset & 0xf != 0 || size < 4 {
            return;
        }
        self.write_register(offset, value as u32, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(apic: &mut LocalApic, r: u64, v: u32, now: u64) {
        apic.mmio_write(LOCAL_APIC_BASE + r, 4, v as u64, now);
    }
    fn read(apic: &LocalApic, r: u64, now: u64) -> u32 {
        apic.mmio_read(LOCAL_APIC_BASE + r, 4, now) as u32
    }

    #[test]
    fn one_shot_timer_counts_down_and_fires_once() {
        let mut apic = LocalApic::new();
        write(&mut apic, reg::SVR, 0x1ff, 0);
        write(&mut apic, reg::TIMER_DIVIDE, 0b1011, 0); // divide by 1
        write(&mut apic, reg::LVT_TIMER, 0x40, 0);
        write(&mut apic, reg::TIMER_INITIAL, 1000, 0);
        assert_eq!(read(&apic, reg::TIMER_CURRENT, 400), 600);
        apic.update_timer(999);
        assert!(!apic.has_pending());
        apic.update_timer(1000);
        assert_eq!(apic.acknowledge(), Some(0x40));
        assert_eq!(read(&apic, reg::TIMER_CURRENT, 1500), 0);
        apic.update_timer(5000);
        assert_eq!(apic.next_deadline(), None);
        // The ISR blocks its own class until EOI.
        assert_eq!(read(&apic, reg::PPR, 0), 0x40);
        write(&mut apic, reg::EOI, 0, 0);
        assert_eq!(read(&apic, reg::ISR + 0x20, 0), 0);
    }

    #[test]
    fn periodic_timer_with_divider_and_tpr() {
        let mut apic = LocalApic::new();
        write(&mut apic, reg::SVR, 0x1ff, 0);
        write(&mut apic, reg::TIMER_DIVIDE, 0b0011, 0); // divide by 16
        write(&mut apic, reg::LVT_TIMER, 0x2_0050, 0);
        write(&mut apic, reg::TIMER_INITIAL, 100, 0);
        assert_eq!(apic.next_deadline(), Some(1600));
        assert_eq!(read(&apic, reg::TIMER_CURRENT, 1600 + 160), 90);
        apic.set_cr8(5);
        apic.update_timer(1600);
        assert!(!apic.has_pending(), "TPR class 5 holds vector 0x50");
        assert_eq!(read(&apic, reg::TPR, 0), 0x50);
        apic.set_cr8(4);
        assert_eq!(apic.acknowledge(), Some(0x50));
        assert_eq!(apic.next_deadline(), Some(3200));
    }

    #[test]
    fn self_ipi_illegal_vectors_and_bad_accesses() {
        let mut apic = LocalApic::new();
        write(&mut apic, reg::SVR, 0x1ff, 0);
        write(
            &mut apic,
            reg::ICR_LOW,
            (icr::SELF << icr::SHORTHAND_SHIFT) | 0x61,
            0,
        );
        assert_eq!(apic.acknowledge(), Some(0x61));
        write(
            &mut apic,
            reg::ICR_LOW,
            (icr::SELF << icr::SHORTHAND_SHIFT) | 0x05,
            0,
        );
        write(&mut apic, reg::ESR, 0, 0);
        assert_eq!(read(&apic, reg::ESR, 0), esr::SEND_ILLEGAL_VECTOR);
        // Odd widths and offsets, writes to read-only registers.
        apic.mmio_write(LOCAL_APIC_BASE + 0x81, 1, 0xff, 0);
        apic.mmio_write(LOCAL_APIC_BASE + reg::VERSION, 4, 0, 0);
        write(&mut apic, reg::IRR, u32::MAX, 0);
        assert_eq!(read(&apic, reg::VERSION, 0), VERSION);
        assert_eq!(read(&apic, reg::TPR, 0), 0);
        assert_eq!(apic.mmio_read(LOCAL_APIC_BASE + reg::VERSION + 2, 1, 0), 5);
        assert_eq!(apic.mmio_read(LOCAL_APIC_BASE + 0xffc, 8, 0), 0);
        // The MSR: reserved bits fault, disabling hides the page.
        assert!(apic.write_base_msr(1 << 10 | base_msr::RESET).is_err());
        apic.write_base_msr(LOCAL_APIC_BASE).unwrap();
        assert!(!apic.decodes(LOCAL_APIC_BASE) && apic.passes_extint());
    }
}

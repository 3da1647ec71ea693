//! The machine: one CPU, RAM, the device bus and a virtual clock. `run`
//! executes instructions, fires timers, checks the interrupt line between
//! instructions (honouring the STI/MOV SS shadow), delivers exceptions
//! through the guest's IDT and lets HLT skip ahead to the next timer.
//!
//! Virtual time: one nanosecond per instruction (a 1 GHz TSC), so runs
//! are reproducible; the PIT, the APIC timer and the TSC read the same clock.

use crate::cpu::{Cpu, DecodeCache, RunLimits, Stop, flags};
use crate::devices::{MachineRequest, PcBus};
use crate::mmu::Memory;
use crate::mmu::ram::{BadRamSize, Ram};
use crate::mmu::system::SystemMemory;

/// Why `Pc::run` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// The instruction budget was used up; call `run` again.
    Budget,
    /// The guest wrote `value` to the isa-debug-exit port.
    DebugExit(u32),
    /// The guest reset the machine (i8042 0xFE, port 0x92).
    Reset,
    /// A fault while delivering a double fault, at this RIP.
    TripleFault(u64),
    /// HLT with interrupts disabled: nothing can ever wake it.
    HaltedForever(u64),
    /// HLT with interrupts enabled and no timer armed: only outside input
    /// (the serial port) can wake it; call `run` again once there is some.
    Idle,
    /// HLT with interrupts enabled until the timer deadline `t` (virtual
    /// ns), returned only when [`Pc::set_idle_exits`] is on: the caller
    /// lets host time pass, moves the clock with [`Pc::advance_clock`]
    /// and calls `run` again.
    Waiting(u64),
}

/// The PC.
pub struct Pc {
    /// The processor.
    pub cpu: Cpu,
    /// RAM, MMU and devices.
    pub mem: SystemMemory<PcBus>,
    cache: DecodeCache,
    halted: bool,
    /// Return `RunExit::Waiting` instead of skipping ahead to a deadline.
    idle_exits: bool,
    /// Turns of `run`'s loop so far (instructions, deliveries, HLT skips).
    steps: u64,
}

impl Pc {
    /// A PC with `ram_bytes` of RAM and its CPU just out of reset.
    pub fn new(ram_bytes: u64) -> Result<Pc, BadRamSize> {
        let mut ram = Ram::new(ram_bytes)?;
        // The BIOS ROM's tables describing the APICs (MP table, ACPI MADT).
        crate::boot::firmware::install(&mut ram);
        let mut pc = Pc {
            cpu: Cpu::reset(),
            mem: SystemMemory::new(ram, PcBus::default()),
            cache: DecodeCache::default(),
            halted: false,
            idle_exits: false,
            steps: 0,
        };
        pc.cpu.sync_mode(&mut pc.mem);
        pc.set_wall_clock(0);
        Ok(pc)
    }

    /// Sets the RTC's time of day at virtual time 0 (Unix seconds); the
    /// default is 1970-01-01, so runs are reproducible unless a caller
    /// passes the host's time.
    pub fn set_wall_clock(&mut self, unix_seconds: u64) {
        let ram = self.mem.ram.size();
        self.mem.bus.rtc = crate::devices::rtc::Rtc::new(unix_seconds, ram);
    }

    /// Tells the memory about CPU state a loader changed directly.
    pub fn cpu_state_changed(&mut self) {
        self.cpu.sync_mode(&mut self.mem);
        self.mem.flush_tlb(false);
    }

    /// With `on`, a guest halted until a timer makes `run` return
    /// `RunExit::Waiting` instead of skipping virtual time ahead, so a
    /// host can sleep meanwhile (QEMU's `-icount sleep=on` idea).
    pub fn set_idle_exits(&mut self, on: bool) {
        self.idle_exits = on;
    }

    /// Moves the virtual clock forward to `t` (never back), as the time a
    /// halted guest slept; the next `run` fires what is due by then.
    pub fn advance_clock(&mut self, t: u64) {
        self.cpu.tsc = self.cpu.tsc.max(t);
    }

    /// Turns of `run`'s loop so far: what `budget` counts.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Runs up to `budget` instructions (HLT periods count as none).
    ///
    /// Device lines are re-evaluated only when something can have changed
    /// them: a port, MMIO or local APIC access (`PcBus::touched`), a timer
    /// falling due, an interrupt waiting for IF, HLT, or the host having
    /// changed a device between calls. Between those events instructions
    /// run back to back (QEMU's "next event" idea).
    pub fn run(&mut self, budget: u64) -> RunExit {
        // The host may have fed a device (serial input) since the last call.
        self.mem.bus.touched = true;
        // Virtual time when a timer next needs a look, and whether an
        // interrupt is only waiting for the CPU to set IF.
        let mut next_timer = 0u64;
        let mut waiting_for_if = false;
        let mut left = budget;
        while left > 0 {
            left -= 1;
            self.steps += 1;
            let bus = &mut self.mem.bus;
            bus.now = self.cpu.tsc;
            // SDM Vol.3A §6.8.3: after STI or MOV SS the next instruction
            // runs before any interrupt.
            let shadowed = core::mem::take(&mut self.cpu.interrupt_shadow);
            let quiet = !bus.touched
                && self.cpu.tsc < next_timer
                && !self.halted
                && (!waiting_for_if || !self.cpu.flag(flags::IF));
            if !quiet {
                if let Some(request) = bus.request.take() {
                    return match request {
                        MachineRequest::DebugExit(v) => RunExit::DebugExit(v),
                        MachineRequest::Reset => RunExit::Reset,
                    };
                }
                bus.update_interrupts();
                next_timer = bus.next_timer_event().unwrap_or(u64::MAX);
                waiting_for_if = bus.interrupt_pending();
                if waiting_for_if
                    && !shadowed
                    && self.cpu.flag(flags::IF)
                    && let Some(vector) = bus.acknowledge_interrupt()
                {
                    // Acknowledging changed the controllers: look again
                    // before the handler's first instruction.
                    bus.touched = true;
                    self.halted = false;
                    if self.cpu.deliver_interrupt(&mut self.mem, vector).is_err() {
                        return RunExit::TripleFault(self.cpu.rip);
                    }
                    continue;
                }
                if self.halted {
                    // Sleep until the next timer: skip virtual time ahead.
                    if !self.cpu.flag(flags::IF) {
                        return RunExit::HaltedForever(self.cpu.rip);
                    }
                    match bus.next_deadline() {
                        Some(t) if t > self.cpu.tsc && self.idle_exits => {
                            return RunExit::Waiting(t);
                        }
                        Some(t) => {
                            self.cpu.tsc = self.cpu.tsc.max(t);
                            continue;
                        }
                        None => return RunExit::Idle,
                    }
                }
            }
            let result = if quiet {
                // Nothing to look at until a device is accessed, a timer is
                // due or IF opens for a waiting interrupt: run on.
                let limits = RunLimits {
                    instructions: left + 1,
                    until_tsc: next_timer,
                    stop_when_if_set: waiting_for_if,
                };
                let (done, result) = self.cpu.run_quiet(&mut self.mem, &mut self.cache, limits);
                left -= done - 1;
                self.steps += done - 1;
                result
            } else {
                self.cpu.step_cached(&mut self.mem, &mut self.cache)
            };
            match result {
                Ok(()) => {}
                Err(Stop::Halt) => self.halted = true,
                Err(Stop::Exception(e)) => {
                    if self.cpu.deliver_exception(&mut self.mem, e).is_err() {
                        return RunExit::TripleFault(self.cpu.rip);
                    }
                }
                Err(Stop::TripleFault) => return RunExit::TripleFault(self.cpu.rip),
                // SYSCALL and INT n stop the CPU only in Linux user mode.
                Err(Stop::Syscall | Stop::SoftwareInterrupt(_)) => {
                    return RunExit::TripleFault(self.cpu.rip);
                }
            }
        }
        RunExit::Budget
    }
}

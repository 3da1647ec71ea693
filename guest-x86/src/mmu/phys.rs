//! Bounded physical memory: a pool of 4 KiB frames with a hard ceiling.
//! Frames are addressed by index; no pointer into guest memory escapes.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::PAGE_SIZE;

/// Index of a physical frame.
pub type FrameId = u32;

/// The frame pool.
#[derive(Clone)]
pub struct PhysMem {
    frames: Vec<Box<[u8; PAGE_SIZE as usize]>>,
    free: Vec<FrameId>,
    max_frames: usize,
}

/// The pool has reached its ceiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory;

impl PhysMem {
    /// A pool that will hold at most `max_bytes` of guest RAM.
    pub fn new(max_bytes: u64) -> PhysMem {
        PhysMem {
            frames: Vec::new(),
            free: Vec::new(),
            max_frames: (max_bytes / PAGE_SIZE) as usize,
        }
    }

    /// Allocates a zeroed frame.
    pub fn alloc(&mut self) -> Result<FrameId, OutOfMemory> {
        if let Some(id) = self.free.pop() {
            self.frames[id as usize].fill(0);
            return Ok(id);
        }
        if self.frames.len() >= self.max_frames {
            return Err(OutOfMemory);
        }
        self.frames.push(Box::new([0; PAGE_SIZE as usize]));
        Ok((self.frames.len() - 1) as FrameId)
    }

    /// Returns a frame to the pool.
    pub fn release(&mut self, id: FrameId) {
        self.free.push(id);
    }

    /// Frames that can still be allocated.
    pub fn frames_left(&self) -> usize {
        self.max_frames - self.frames.len() + self.free.len()
    }

    /// Frames currently allocated.
    pub fn frames_in_use(&self) -> usize {
        self.frames.len() - self.free.len()
    }

    /// Reads from one frame; `offset + buf.len()` must stay inside it.
    #[inline]
    pub fn read(&self, id: FrameId, offset: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.frames[id as usize][offset..offset + buf.len()]);
    }

    /// Writes into one frame; `offset + data.len()` must stay inside it.
    #[inline]
    pub fn write(&mut self, id: FrameId, offset: usize, data: &[u8]) {
        self.frames[id as usize][offset..offset + data.len()].copy_from_slice(data);
    }
}

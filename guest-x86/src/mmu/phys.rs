//! User mode's physical memory: one pool of 4 KiB frames with a hard
//! ceiling, shared by every address space of a run (so `--mem` bounds the
//! total across all processes), with a reference count per frame so that
//! fork can share frames copy-on-write. Frames are addressed by index; no
//! pointer into guest memory escapes.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::PAGE_SIZE;

/// Index of a physical frame.
pub type FrameId = u32;

/// The pool, as the address spaces of one run share it.
pub type SharedFrames = Rc<RefCell<FramePool>>;

/// The frame pool.
pub struct FramePool {
    frames: Vec<Box<[u8; PAGE_SIZE as usize]>>,
    /// Address spaces holding each frame; 0 for a free frame.
    refs: Vec<u32>,
    free: Vec<FrameId>,
    max_frames: usize,
}

/// The pool has reached its ceiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory;

impl FramePool {
    /// A pool that will hold at most `max_bytes` of guest RAM.
    pub fn new(max_bytes: u64) -> FramePool {
        FramePool {
            frames: Vec::new(),
            refs: Vec::new(),
            free: Vec::new(),
            max_frames: (max_bytes / PAGE_SIZE).min(FrameId::MAX as u64 - 1) as usize,
        }
    }

    /// A pool behind the shared handle address spaces keep.
    pub fn shared(max_bytes: u64) -> SharedFrames {
        Rc::new(RefCell::new(FramePool::new(max_bytes)))
    }

    /// The ceiling in bytes.
    pub fn limit_bytes(&self) -> u64 {
        self.max_frames as u64 * PAGE_SIZE
    }

    /// Allocates a zeroed frame held once.
    pub fn alloc(&mut self) -> Result<FrameId, OutOfMemory> {
        if let Some(id) = self.free.pop() {
            self.frames[id as usize].fill(0);
            self.refs[id as usize] = 1;
            return Ok(id);
        }
        if self.frames.len() >= self.max_frames {
            return Err(OutOfMemory);
        }
        self.frames.push(Box::new([0; PAGE_SIZE as usize]));
        self.refs.push(1);
        Ok((self.frames.len() - 1) as FrameId)
    }

    /// Allocates a frame holding a copy of `source` (breaking copy-on-write).
    pub fn alloc_copy(&mut self, source: FrameId) -> Result<FrameId, OutOfMemory> {
        let id = self.alloc()?;
        let bytes = *self.frames[source as usize];
        *self.frames[id as usize] = bytes;
        Ok(id)
    }

    /// One more address space holds `id`.
    pub fn retain(&mut self, id: FrameId) {
        self.refs[id as usize] += 1;
    }

    /// How many address spaces hold `id`.
    pub fn holders(&self, id: FrameId) -> u32 {
        self.refs[id as usize]
    }

    /// One address space lets go of `id`; the last one frees it.
    pub fn release(&mut self, id: FrameId) {
        let refs = &mut self.refs[id as usize];
        *refs -= 1;
        if *refs == 0 {
            self.free.push(id);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_holds_and_freed_frames_come_back_zeroed() {
        let mut pool = FramePool::new(2 * PAGE_SIZE);
        let a = pool.alloc().unwrap();
        let b = pool.alloc().unwrap();
        assert_eq!(pool.alloc(), Err(OutOfMemory));
        pool.write(a, 0, &[7; 8]);
        pool.release(a);
        assert_eq!(pool.frames_left(), 1);
        let c = pool.alloc().unwrap();
        let mut buf = [1u8; 8];
        pool.read(c, 0, &mut buf);
        assert_eq!(buf, [0; 8]);
        assert_ne!(b, c);
    }

    #[test]
    fn a_shared_frame_is_freed_by_its_last_holder() {
        let mut pool = FramePool::new(PAGE_SIZE);
        let a = pool.alloc().unwrap();
        pool.retain(a);
        pool.release(a);
        assert_eq!(pool.frames_in_use(), 1);
        pool.release(a);
        assert_eq!(pool.frames_in_use(), 0);
    }
}

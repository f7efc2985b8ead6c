//! An allocator for programs using the library: the system's, with every
//! block from 4 KiB to 64 MiB starting on a 64-byte cache line. The `rnn`
//! binary declares it; a program of its own does the same with
//!
//! ```
//! #[global_allocator]
//! static ALLOC: rnn::kernels::LineAligned = rnn::kernels::LineAligned;
//! # fn main() { let v = vec![0f32; 4096]; assert_eq!(v.as_ptr() as usize % 64, 0); }
//! ```
//!
//! glibc starts a block 16 bytes past a line or on one, depending on what
//! was allocated before it, and a buffer read or written in 64-byte vectors
//! (the AVX-512 kernels) off a line touches two lines per vector. The
//! library aligns the layouts it prepares once (`kernels/aligned.rs`); the
//! per-call buffers (states, gate caches, gradients) come from plain
//! `Vec`s, whose alignment only the program's allocator can set. Blocks
//! above 64 MiB keep the system's behaviour (a zeroed one is then left to
//! the kernel's lazily zeroed pages, not written).
use std::alloc::{GlobalAlloc, Layout, System};

/// The smallest block started on a line.
const SMALL: usize = 4 << 10;
/// The largest block started on a line.
const LARGE: usize = 64 << 20;
/// A cache line.
const LINE: usize = 64;

/// [`System`], blocks of 4 KiB to 64 MiB on a 64-byte line (for
/// `#[global_allocator]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct LineAligned;

/// The layout asked of the system for `layout`: a pure function of it, so
/// that a block is freed with the layout it was allocated with.
fn widen(layout: Layout) -> Layout {
    if (SMALL..=LARGE).contains(&layout.size()) && layout.align() < LINE {
        Layout::from_size_align(layout.size(), LINE).unwrap_or(layout)
    } else {
        layout
    }
}

// SAFETY: every block is the system's, allocated and freed with the same
// (widened) layout; realloc keeps the contents up to the smaller size.
unsafe impl GlobalAlloc for LineAligned {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(widen(layout))
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        System.alloc_zeroed(widen(layout))
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, widen(layout))
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees new_size, rounded up to the
        // alignment, does not overflow isize
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        if widen(layout).align() == widen(new).align() {
            return System.realloc(ptr, widen(layout), new_size);
        }
        // the block changes alignment class: a new one, the contents copied
        let p = self.alloc(new);
        if !p.is_null() {
            std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks in the range start on a line, others keep the system's
    /// alignment; growing a block across 4 KiB and shrinking it back keeps
    /// its contents (the realloc that changes alignment class copies).
    #[test]
    fn large_blocks_start_on_a_line_and_realloc_keeps_the_contents() {
        let a = LineAligned;
        // SAFETY: every block is freed with the layout (and size) it has.
        unsafe {
            for size in [4096usize, 5000, 1 << 20] {
                let l = Layout::from_size_align(size, 8).unwrap();
                let p = a.alloc(l);
                assert!(!p.is_null());
                assert_eq!(p as usize % LINE, 0, "{size} bytes");
                a.dealloc(p, l);
                let z = a.alloc_zeroed(l);
                assert_eq!(z as usize % LINE, 0, "{size} bytes, zeroed");
                assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                a.dealloc(z, l);
            }
            let small = Layout::from_size_align(100, 4).unwrap();
            let p = a.alloc(small);
            for i in 0..100 {
                *p.add(i) = i as u8;
            }
            let big = a.realloc(p, small, 10_000);
            assert_eq!(big as usize % LINE, 0);
            assert!((0..100).all(|i| *big.add(i) == i as u8));
            let big_l = Layout::from_size_align(10_000, 4).unwrap();
            let back = a.realloc(big, big_l, 50);
            assert!((0..50).all(|i| *back.add(i) == i as u8));
            a.dealloc(back, Layout::from_size_align(50, 4).unwrap());
        }
    }
}

//! The binary's allocator: the system's, with every block from 4 KiB to
//! 64 MiB starting on a 64-byte cache line.
//!
//! glibc starts a block 16 bytes past a line or on one, depending on what
//! was allocated before it, and a buffer read or written in 64-byte vectors
//! (the AVX-512 kernels) off a line touches two lines per vector. The
//! library aligns the layouts it prepares once (`kernels/aligned.rs`); the
//! per-call buffers (states, gate caches, gradients) come from plain
//! `Vec`s, so the binary asks for the alignment of all of them here. Blocks
//! above 64 MiB keep the system's behaviour (a zeroed one is then left to
//! the kernel's lazily zeroed pages, not written).
use std::alloc::{GlobalAlloc, Layout, System};

/// The smallest block started on a line.
const SMALL: usize = 4 << 10;
/// The largest block started on a line.
const LARGE: usize = 64 << 20;
/// A cache line.
const LINE: usize = 64;

/// [`System`], blocks of [`SMALL`] to [`LARGE`] bytes on a [`LINE`].
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

//! Buffers whose contents start on a 64-byte cache line.
//!
//! A `Vec`'s buffer is only as aligned as the allocator makes it: glibc puts
//! a block 16 bytes past a line, or on one, depending on what was allocated
//! before it. A kernel reading such a buffer in 64-byte loads (AVX-512) then
//! splits every load over two lines, or none, and runs at one speed or the
//! other by chance: `rnn bench --cell lstm --config S` inference on the Intel
//! Xeon ran at 513k or 705k tok/s depending on how many arguments the command
//! had (which moved the later blocks), with `W_hh^T`'s panels for the
//! batch-1 product on or off a line.

use std::ops::Deref;

/// Bytes the contents start on: a cache line.
pub(crate) const ALIGN: usize = 64;

/// Grows `v` to hold `len` elements from an offset at which they start on
/// an [`ALIGN`]-byte boundary and returns that offset (in elements). Elements
/// already there stay (new ones are `zero`); the offset can change when `v`
/// is reallocated, so it is asked for again after every growth.
pub(crate) fn align_to_line<T: Clone>(v: &mut Vec<T>, len: usize, zero: T) -> usize {
    let pad = ALIGN / std::mem::size_of::<T>().max(1);
    if v.len() < len + pad {
        v.resize(len + pad, zero);
    }
    // `align_offset` may answer "cannot" (usize::MAX): then unaligned, still correct
    let off = v.as_ptr().align_offset(ALIGN);
    if off < pad {
        off
    } else {
        0
    }
}

/// A slice of `T` held in a buffer of its own, its first element on a cache
/// line; reads as `&[T]`.
#[derive(Debug)]
pub(crate) struct LineVec<T> {
    /// The elements from `off`, then padding.
    data: Vec<T>,
    /// Where the elements start in `data`.
    off: usize,
    /// How many there are.
    len: usize,
}

impl<T> Default for LineVec<T> {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            off: 0,
            len: 0,
        }
    }
}

/// A copy of `s` in a new buffer, from the offset it returns (in elements),
/// which is on a cache line.
pub(crate) fn copy_to_line<T: Clone>(s: &[T]) -> (Vec<T>, usize) {
    let mut data = Vec::new();
    let off = match s.first() {
        // the padding takes any value: it is never read
        Some(fill) => align_to_line(&mut data, s.len(), fill.clone()),
        None => 0,
    };
    data[off..off + s.len()].clone_from_slice(s);
    (data, off)
}

impl<T: Clone> LineVec<T> {
    /// A copy of `s` starting on a cache line.
    pub(crate) fn from_slice(s: &[T]) -> Self {
        let (data, off) = copy_to_line(s);
        Self {
            data,
            off,
            len: s.len(),
        }
    }
}

impl<T> LineVec<T> {
    /// The elements.
    pub(crate) fn as_slice(&self) -> &[T] {
        &self.data[self.off..self.off + self.len]
    }
}

impl<T: Clone> Clone for LineVec<T> {
    /// A copy on a cache line of its own buffer (a derived clone would keep
    /// the offset of the original's).
    fn clone(&self) -> Self {
        Self::from_slice(self.as_slice())
    }
}

impl<T> Deref for LineVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The elements start on a line whatever the length and the allocations
    /// before, read back as given, and a clone starts on a line of its own.
    #[test]
    fn elements_start_on_a_line_and_read_back_as_given() {
        let mut keep = Vec::new();
        for len in [0usize, 1, 3, 17, 100, 4000, 40_000] {
            // shift the heap by an odd amount between the buffers
            keep.push(vec![0u8; len % 37 + 1]);
            let s: Vec<f32> = (0..len).map(|i| i as f32 * 0.5).collect();
            let v = LineVec::from_slice(&s);
            assert_eq!(v.as_slice(), s.as_slice());
            assert_eq!(&*v, s.as_slice());
            if len > 0 {
                assert_eq!(v.as_ptr() as usize % ALIGN, 0, "len {len}");
                let c = v.clone();
                assert_eq!(c.as_slice(), s.as_slice());
                assert_eq!(c.as_ptr() as usize % ALIGN, 0, "clone, len {len}");
            }
        }
        let empty = LineVec::<f64>::default();
        assert!(empty.is_empty());
    }
}

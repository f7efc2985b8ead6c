//! Large buffers kept by each thread between training iterations.
//!
//! A training iteration allocates its caches afresh: at the bench's L shape
//! (LSTM, `B` = 64, `H` = 1024, `T` = 100) the gate values kept for BPTT are
//! 131 MB and `dE/dxi` 105 MB. glibc serves anything above 32 MiB with a
//! fresh `mmap` and unmaps it on free, so every iteration paid a page fault
//! and the kernel's zeroing per 4 KiB page again (3 % of L's training time
//! in `perf`). Here the forward and backward passes take such buffers from
//! the calling thread's free list ([`zeroed`]) and give them back when the
//! iteration is done ([`give_back`]), so from the second iteration on they
//! only cost a `memset`.
//!
//! Each thread keeps at most [`KEEP`] buffers, each at least [`MIN_BYTES`]:
//! smaller ones go back to the allocator, which reuses them itself. Below
//! 32 MiB glibc does reuse them, but it returns the top of its heap to the
//! kernel once more than a few hundred KiB lie free there, so buffers of a
//! few hundred KiB freed at the end of an iteration were faulted in afresh
//! at the next (110,000 page faults in 9 s of the GRU's training at M,
//! `perf record -e page-faults`); hence the floor of 128 KiB. Structures
//! holding such buffers (a layer's forward scratch, a packed `W_hh`) are
//! kept whole the same way ([`take`], [`keep`]).

use crate::Float;
use std::any::Any;
use std::cell::RefCell;

/// Buffers smaller than this (128 KiB) are not kept.
pub(crate) const MIN_BYTES: usize = 128 << 10;
/// Buffers one thread keeps at most (the largest ones).
pub(crate) const KEEP: usize = 16;
/// Structures of one type one thread keeps at most ([`keep`]).
const KEEP_EACH: usize = 4;

thread_local! {
    /// This thread's free buffers, each a `Vec<T>` for some [`Float`] `T`,
    /// with its capacity in bytes.
    static FREE: RefCell<Vec<(usize, Box<dyn Any>)>> = const { RefCell::new(Vec::new()) };
    /// This thread's kept structures ([`keep`]), of any types.
    static KEPT: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// A structure of type `X` this thread kept ([`keep`]), as it was left, or a
/// new one: for a structure of buffers its callers resize and overwrite.
pub(crate) fn take<X: Default + 'static>() -> X {
    KEPT.with_borrow_mut(|kept| {
        let at = kept.iter().rposition(|b| b.is::<X>())?;
        kept.swap_remove(at).downcast::<X>().ok()
    })
    .map_or_else(X::default, |b| *b)
}

/// Keeps `x` for this thread's next [`take`] of its type (at most
/// `KEEP_EACH` of one type: more are dropped).
pub(crate) fn keep<X: 'static>(x: X) {
    KEPT.with_borrow_mut(|kept| {
        if kept.iter().filter(|b| b.is::<X>()).count() < KEEP_EACH {
            kept.push(Box::new(x));
        }
    });
}

/// `len` zeros: the smallest buffer this thread gave back that holds them,
/// or a new one.
pub(crate) fn zeroed<T: Float>(len: usize) -> Vec<T> {
    let mut v = reused::<T>(len);
    v.fill(T::zero());
    v
}

/// `len` values for a caller that writes every one of them before reading
/// any: a buffer this thread gave back keeps its old values (no `memset`:
/// at the bench's M shape the zeroing of the forward caches and `dE/dxi`
/// took 4 % of the LSTM's training time), a new one is zeros.
pub(crate) fn reused<T: Float>(len: usize) -> Vec<T> {
    if len * size_of::<T>() >= MIN_BYTES {
        let kept = FREE.with_borrow_mut(|free| {
            let (_, at) = free
                .iter()
                .enumerate()
                .filter_map(|(i, (_, b))| {
                    let v = b.downcast_ref::<Vec<T>>()?;
                    (v.capacity() >= len).then_some((v.capacity(), i))
                })
                .min()?;
            free.swap_remove(at).1.downcast::<Vec<T>>().ok()
        });
        if let Some(mut v) = kept.map(|b| *b) {
            v.truncate(len);
            v.resize(len, T::zero());
            return v;
        }
    }
    vec![T::zero(); len]
}

/// Keeps `v` for this thread's next [`zeroed`] when it is at least
/// [`MIN_BYTES`] (dropping the smallest kept buffer past [`KEEP`]).
pub(crate) fn give_back<T: Float>(v: Vec<T>) {
    let bytes = v.capacity() * size_of::<T>();
    if bytes < MIN_BYTES {
        return;
    }
    FREE.with_borrow_mut(|free| {
        free.push((bytes, Box::new(v)));
        if free.len() > KEEP {
            if let Some((at, _)) = free.iter().enumerate().min_by_key(|(_, e)| e.0) {
                free.swap_remove(at);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer given back is handed out again (same allocation), zeroed,
    /// for a request it can hold; a smaller one is not kept.
    #[test]
    fn buffers_come_back_zeroed_and_small_ones_are_not_kept() {
        let n = MIN_BYTES / 4 + 10;
        let mut v = zeroed::<f32>(n);
        v.iter_mut().for_each(|x| *x = 3.0);
        let at = v.as_ptr();
        give_back(v);
        let w = zeroed::<f32>(n - 5);
        assert_eq!(w.as_ptr(), at, "the kept buffer is reused");
        assert_eq!(w.len(), n - 5);
        assert!(w.iter().all(|&x| x == 0.0));
        // an f64 request does not get the f32 buffer
        give_back(w);
        let d = zeroed::<f64>(n);
        assert_ne!(d.as_ptr() as usize, at as usize);
        assert!(d.iter().all(|&x| x == 0.0));
        let small = vec![1f32; 16];
        give_back(small);
        let again = zeroed::<f32>(n);
        assert_eq!(again.as_ptr(), at);
        FREE.with_borrow(|free| assert!(free.is_empty()));
    }

    /// A structure kept is taken back as it was left (its buffer's
    /// allocation too), by its own type only; past `KEEP_EACH` of a type
    /// more are dropped.
    #[test]
    fn structures_come_back_whole_by_type() {
        let v = vec![7u8; 100];
        let at = v.as_ptr();
        keep(v);
        assert!(
            take::<Vec<u16>>().is_empty(),
            "another type is not handed out"
        );
        let w = take::<Vec<u8>>();
        assert_eq!((w.as_ptr(), w.len(), w[99]), (at, 100, 7));
        assert!(take::<Vec<u8>>().is_empty(), "taken once");
        for _ in 0..KEEP_EACH + 3 {
            keep(vec![1u8]);
        }
        let n = KEPT.with_borrow(|kept| kept.iter().filter(|b| b.is::<Vec<u8>>()).count());
        assert_eq!(n, KEEP_EACH);
    }
}

//! Right-hand matrices packed once for every thread of a split batch.
//!
//! When a batch is split across threads (`split_batch`), every part runs
//! the same step products with the same `W_hh`. Packed by each thread for
//! itself, the L shape's 16 MiB `W_hh^T` was there twice, 32 MiB, the
//! whole L3 of the Zen 3 machine, and each step read its own copy from
//! memory. Packed once by the splitting thread ([`Prepacked`]) and made
//! visible to each part's thread for the duration of its work
//! ([`Prepacked::scope`]), the parts read one copy, shared in L3; the layer
//! asks for it with [`find`] and packs its own when there is none.

use crate::kernels::PackedRhs;
use crate::Float;
use std::any::TypeId;
use std::cell::Cell;

/// Matrices packed once, each under the address, length and orientation of
/// the slice it was packed from.
#[derive(Default)]
pub(crate) struct Prepacked<T> {
    /// `(address, length, transposed, packed)`.
    entries: Vec<(usize, usize, bool, PackedRhs<T>)>,
}

thread_local! {
    /// The [`Prepacked`] of the scope this thread runs in, with its scalar type.
    static CURRENT: Cell<(usize, Option<TypeId>)> = const { Cell::new((0, None)) };
}

impl<T: Float> Prepacked<T> {
    /// Packs `b` (`[K, N]` row-major, or when `trans` its transpose stored
    /// `[N, K]`; see [`PackedRhs::pack`]) for [`find`].
    pub(crate) fn add(&mut self, b: &[T], k: usize, n: usize, trans: bool) {
        let mut packed = PackedRhs::default();
        packed.pack(b, k, n, trans);
        self.entries
            .push((b.as_ptr() as usize, b.len(), trans, packed));
    }

    /// Runs `f` with these matrices visible to [`find`] on this thread
    /// (the previous scope, if any, restored after, also on unwinding).
    pub(crate) fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore((usize, Option<TypeId>));
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.set(self.0);
            }
        }
        let _restore =
            Restore(CURRENT.replace((self as *const Self as usize, Some(TypeId::of::<T>()))));
        f()
    }
}

/// `b` packed as [`PackedRhs::pack`]`(b, .., trans)` would pack it, when the
/// [`Prepacked::scope`] this thread runs in holds it.
pub(crate) fn find<T: Float>(b: &[T], trans: bool) -> Option<&PackedRhs<T>> {
    let (at, ty) = CURRENT.get();
    if at == 0 || ty != Some(TypeId::of::<T>()) {
        return None;
    }
    // SAFETY: `at` is the address of a `Prepacked<T>` (the type checked just
    // above) set by `scope`, which is still running on this thread: the
    // value outlives every call made inside it, and `b`, borrowed here, is a
    // borrow taken inside that call (the parameters the scope's work reads).
    let pre = unsafe { &*(at as *const Prepacked<T>) };
    pre.entries
        .iter()
        .find(|e| e.0 == b.as_ptr() as usize && e.1 == b.len() && e.2 == trans)
        .map(|e| &e.3)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found inside the scope (the same packing as packing it here), not
    /// outside it, not for the other orientation, another slice or type.
    #[test]
    fn found_only_inside_the_scope_for_the_same_slice_and_orientation() {
        let w: Vec<f32> = (0..12).map(|i| i as f32).collect(); // [3, 4]
        let other = w.clone();
        let mut pre = Prepacked::default();
        pre.add(&w, 3, 4, false);
        assert!(find(&w, false).is_none());
        pre.scope(|| {
            let got = find(&w, false).expect("packed in the scope");
            let (a, mut c, mut want) = (vec![1f32; 3], vec![0f32; 4], vec![0f32; 4]);
            got.gemm_acc(1, &a, &mut c);
            let mut own = PackedRhs::default();
            own.pack(&w, 3, 4, false);
            own.gemm_acc(1, &a, &mut want);
            assert_eq!(c, want);
            assert!(find(&w, true).is_none());
            assert!(find(&other, false).is_none());
            assert!(find(&[0f64; 12], false).is_none());
        });
        assert!(find(&w, false).is_none());
    }
}

//! Ranks as threads of one process: a [`Collective`] for tests and for
//! trying data parallelism without MPI.

use super::Collective;
use std::sync::{Arc, Barrier, Mutex};

/// One of `n` ranks that are threads of this process ([`Local::group`]);
/// each thread uses its own. Sums are taken in rank order, so every rank
/// gets the same bits and a run is reproducible.
#[derive(Clone, Debug)]
pub struct Local {
    rank: usize,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    barrier: Barrier,
    /// Each rank's contribution to the collective under way.
    slots: Mutex<Vec<Vec<u8>>>,
}

impl Local {
    /// `n` ranks (at least 1), to be moved to `n` threads.
    pub fn group(n: usize) -> Vec<Local> {
        let n = n.max(1);
        let shared = Arc::new(Shared {
            barrier: Barrier::new(n),
            slots: Mutex::new(vec![Vec::new(); n]),
        });
        (0..n)
            .map(|rank| Local {
                rank,
                shared: shared.clone(),
            })
            .collect()
    }

    /// Posts this rank's bytes, then (once all have) returns every rank's.
    fn exchange(&self, mine: Vec<u8>) -> Vec<Vec<u8>> {
        self.lock()[self.rank] = mine;
        self.shared.barrier.wait();
        let all = self.lock().clone();
        self.shared.barrier.wait(); // nobody posts the next call's bytes before all have read
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        self.shared
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Sums every rank's values (little-endian, `W` bytes each) into `buf`, in rank order.
///
/// # Panics
///
/// On every rank, naming the lengths, when the ranks passed buffers of
/// different lengths (the contract of [`Collective::all_reduce_sum`]):
/// before, the rank with the longer buffer indexed past the others' and
/// the rest went on with a wrong sum (the library sweep of session 53).
fn sum_into<const W: usize, V: Copy + std::ops::Add<Output = V>>(
    buf: &mut [V],
    all: &[Vec<u8>],
    read: fn([u8; W]) -> V,
) {
    if all.iter().any(|r| r.len() != all[0].len()) {
        let lens: Vec<usize> = all.iter().map(|r| r.len() / W).collect();
        panic!("all_reduce_sum: every rank must pass the same number of values; ranks 0.. passed {lens:?}");
    }
    for (i, out) in buf.iter_mut().enumerate() {
        let at = |r: &Vec<u8>| {
            let mut b = [0u8; W];
            b.copy_from_slice(&r[i * W..(i + 1) * W]);
            read(b)
        };
        let mut acc = at(&all[0]);
        for r in &all[1..] {
            acc = acc + at(r);
        }
        *out = acc;
    }
}

impl Collective for Local {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.lock().len()
    }
    fn all_reduce_sum(&self, buf: &mut [f32]) {
        let all = self.exchange(buf.iter().flat_map(|v| v.to_le_bytes()).collect());
        sum_into(buf, &all, f32::from_le_bytes);
    }
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) {
        let all = self.exchange(buf.iter().flat_map(|v| v.to_le_bytes()).collect());
        sum_into(buf, &all, f64::from_le_bytes);
    }
    fn broadcast(&self, bytes: &mut Vec<u8>) {
        let all = self.exchange(std::mem::take(bytes));
        *bytes = all[0].clone();
    }
    fn barrier(&self) {
        self.shared.barrier.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buffers of different lengths stop every rank with the lengths named,
    /// where the longer one's rank indexed past the other's and the other
    /// rank returned a sum of its own length.
    #[test]
    fn buffers_of_different_lengths_stop_every_rank() {
        let msgs: Vec<String> = std::thread::scope(|s| {
            let hs: Vec<_> = Local::group(2)
                .into_iter()
                .map(|c| {
                    s.spawn(move || {
                        let mut a = vec![1.0f32; 4 * (c.rank() + 1)];
                        c.all_reduce_sum(&mut a);
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    let e = h.join().expect_err("a mismatch must not return");
                    e.downcast_ref::<String>().cloned().unwrap_or_default()
                })
                .collect()
        });
        for m in msgs {
            assert_eq!(
                m,
                "all_reduce_sum: every rank must pass the same number of values; ranks 0.. passed [4, 8]"
            );
        }
    }

    #[test]
    fn three_threads_sum_in_rank_order_and_hear_rank_0() {
        let out: Vec<(Vec<f32>, Vec<f64>, Vec<u8>)> = std::thread::scope(|s| {
            let hs: Vec<_> = Local::group(3)
                .into_iter()
                .map(|c| {
                    s.spawn(move || {
                        let r = c.rank();
                        let mut a = vec![r as f32, 1.0, 0.1];
                        c.all_reduce_sum(&mut a);
                        let mut b = vec![0.5 * r as f64, 1.0];
                        c.all_reduce_sum_f64(&mut b);
                        let mut bytes = if r == 0 {
                            b"rank 0".to_vec()
                        } else {
                            vec![r as u8]
                        };
                        c.broadcast(&mut bytes);
                        c.barrier();
                        (a, b, bytes)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (a, b, bytes) in &out {
            assert_eq!(a, &[3.0, 3.0, 0.1f32 + 0.1 + 0.1]);
            assert_eq!(b, &[1.5, 3.0]);
            assert_eq!(bytes, b"rank 0");
        }
    }
}

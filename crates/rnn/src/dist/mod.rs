//! Data-parallel training across processes: the few collective operations
//! a trainer needs ([`Collective`]), one process on its own ([`Single`]),
//! and, with the cargo feature `mpi`, the processes of an MPI job
//! (`Mpi`, Open MPI through the `mpi` crate).
//!
//! Under `mpirun -np N` every rank runs the same trainer on the same data:
//! rank `r` takes its contiguous share of each batch ([`shard`]), computes
//! its part of the gradient of the batch's mean loss, one all-reduce (sum)
//! of the flat gradient buffer makes the whole batch's gradient on every
//! rank, and every rank applies the same optimizer step. Rank 0 alone
//! writes files and reports progress; checks that decide whether a run may
//! start are made by rank 0 and shared ([`root_verdict`]).
//!
//! ```
//! use rnn::dist::{shard, Collective, Single};
//! let one = Single;
//! assert_eq!((one.rank(), one.size()), (0, 1));
//! let mut g = [1.0f32, 2.0];
//! one.all_reduce_sum(&mut g); // the sum over one process: itself
//! assert_eq!(g, [1.0, 2.0]);
//! assert_eq!(shard(&one, 16).unwrap(), (0, 16));
//! ```

mod local;
#[cfg(feature = "mpi")]
mod mpi;

pub use local::Local;
#[cfg(feature = "mpi")]
pub use mpi::Mpi;

use crate::io::{prepare_run_dir, OutMode};
use crate::tasks::Clock;
use crate::{Error, Result};
use std::path::Path;

/// The collective operations of data-parallel training. Every rank of a
/// job must make the same calls in the same order (each call waits for all
/// ranks); rank 0 is the one that writes files.
pub trait Collective: Sync {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;
    /// The number of processes in the job.
    fn size(&self) -> usize;
    /// Replaces `buf` on every rank by the element-wise sum of every rank's
    /// `buf` (all ranks pass the same length: [`Local`] panics on every rank
    /// otherwise, naming the lengths; under MPI the standard calls it erroneous).
    fn all_reduce_sum(&self, buf: &mut [f32]);
    /// [`Collective::all_reduce_sum`] in f64.
    fn all_reduce_sum_f64(&self, buf: &mut [f64]);
    /// Replaces `bytes` on every rank by rank 0's (any length).
    fn broadcast(&self, bytes: &mut Vec<u8>);
    /// Waits until every rank has called it.
    fn barrier(&self);
}

/// One process on its own: every collective is the identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Single;

impl Collective for Single {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _: &mut [f32]) {}
    fn all_reduce_sum_f64(&self, _: &mut [f64]) {}
    fn broadcast(&self, _: &mut Vec<u8>) {}
    fn barrier(&self) {}
}

/// The processes of this job: with the feature `mpi`, MPI's world
/// (MPI is initialised by the first call; a program started without
/// `mpirun` is a world of one), else [`Single`].
///
/// In a world of several ranks, the ranks other than 0 write nothing to
/// stdout and stderr (both go to `/dev/null` from the first call on), so
/// that a job prints what one process would; set `RNN_MPI_VERBOSE=1` to
/// keep every rank's output. Call [`finish`] once a program's work is done.
pub fn world() -> &'static dyn Collective {
    #[cfg(feature = "mpi")]
    if let Some(w) = mpi::world() {
        return w;
    }
    &Single
}

/// Ends MPI (`MPI_Finalize`, which waits for every rank) after a program's
/// last collective; nothing without MPI or when [`world`] was never called.
/// A process that exits without it (an error on one rank) makes `mpirun`
/// end the whole job.
pub fn finish() {
    #[cfg(feature = "mpi")]
    mpi::finish();
}

/// The environment variables a launcher sets for each process of a job:
/// (size, rank) of Open MPI's `mpirun` and of MPICH's or Slurm's PMI.
const LAUNCHERS: [(&str, &str); 2] = [
    ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
    ("PMI_SIZE", "PMI_RANK"),
];

/// `(size, rank)` of the job a launcher started this process in, when it
/// has more than one process, read through `var` (the environment:
/// `std::env::var(name).ok()`); `None` otherwise.
///
/// ```
/// let env = |k: &str| match k {
///     "OMPI_COMM_WORLD_SIZE" => Some("3".to_string()),
///     "OMPI_COMM_WORLD_RANK" => Some("1".to_string()),
///     _ => None,
/// };
/// assert_eq!(rnn::dist::launched(env), Some((3, 1)));
/// assert_eq!(rnn::dist::launched(|_| None), None);
/// ```
pub fn launched(var: impl Fn(&str) -> Option<String>) -> Option<(usize, usize)> {
    LAUNCHERS.iter().find_map(|(size, rank)| {
        let n: usize = var(size)?.trim().parse().ok()?;
        let r = var(rank).and_then(|r| r.trim().parse().ok()).unwrap_or(0);
        (n > 1).then_some((n, r))
    })
}

/// Refuses to run as one of several processes a launcher (`mpirun`)
/// started when this build has no MPI (the `mpi` feature): each would run
/// the whole command alone, into the same files (the ranks' runs took each
/// other's locks and a cut-short rank replaced a finished model). With the
/// feature, `Ok` (the ranks are [`world`]'s).
///
/// # Errors
///
/// [`Error::Config`] with the job's size, its rank and how to build with
/// MPI, when the environment says the job has more than one process.
pub fn refuse_launch_without_mpi() -> Result<()> {
    if cfg!(feature = "mpi") {
        return Ok(());
    }
    match launched(|k| std::env::var(k).ok()) {
        None => Ok(()),
        Some((n, r)) => Err(Error::Config(format!(
            "started as rank {r} of {n} by mpirun, but this rnn was built without MPI, so every rank would run the whole command alone: build it with `cargo build --release --features mpi` (docs/scale-out.md), or run it without mpirun"
        ))),
    }
}

/// Refuses `what` (a command that runs as one process) in a job of
/// several ranks, where each would repeat the same run and write the same
/// files.
///
/// # Errors
///
/// [`Error::Config`] naming `what`, on every rank, when `comm` has more
/// than one.
pub fn single_only(comm: &dyn Collective, what: &str) -> Result<()> {
    match comm.size() {
        1 => Ok(()),
        n => Err(Error::Config(format!(
            "{what}: one process only, not {n} MPI ranks (`rnn train lm`, `tag` and `forecast` are data-parallel)"
        ))),
    }
}

/// This rank's contiguous share `b0..b1` of a batch of `batch` sequences:
/// rank `r` of `N` takes `r*B/N .. (r+1)*B/N`.
///
/// # Errors
///
/// [`Error::Value`] when `batch` is not a multiple of the number of ranks.
///
/// ```
/// use rnn::dist::{shard, Local};
/// let ranks = Local::group(2);
/// assert_eq!(shard(&ranks[1], 16).unwrap(), (8, 16));
/// assert_eq!(shard(&ranks[0], 15).unwrap_err().to_string(),
///     "--batch: 15 is out of range (a multiple of the 2 MPI ranks, which share each batch equally)");
/// ```
pub fn shard(comm: &dyn Collective, batch: usize) -> Result<(usize, usize)> {
    let n = comm.size();
    if !batch.is_multiple_of(n) || batch == 0 {
        return Err(Error::Value {
            what: "--batch".into(),
            value: batch.to_string(),
            expected: match n {
                1 => "at least 1".into(),
                n => format!("a multiple of the {n} MPI ranks, which share each batch equally"),
            },
        });
    }
    Ok(share(comm, batch))
}

/// This rank's contiguous share `b0..b1` of `items` sequences, whatever
/// their number: rank `r` of `N` takes `r*items/N .. (r+1)*items/N`, which
/// is [`shard`]'s split when `N` divides `items` and may be empty when
/// `items < N` (the short last batch of an epoch: the ranks with nothing
/// to run add zeros to the all-reduce).
///
/// ```
/// use rnn::dist::{share, Local};
/// let ranks = Local::group(2);
/// assert_eq!([share(&ranks[0], 5), share(&ranks[1], 5)], [(0, 2), (2, 5)]);
/// assert_eq!(share(&ranks[0], 1), (0, 0));
/// assert_eq!(share(&ranks[1], usize::MAX), (usize::MAX / 2, usize::MAX));
/// ```
pub fn share(comm: &dyn Collective, items: usize) -> (usize, usize) {
    let (r, n) = (comm.rank() as u128, comm.size().max(1) as u128);
    // in 128 bits: (r + 1) * items overflowed for large counts (rank 1 of 2
    // got nothing of usize::MAX); each bound is at most `items`
    let at = |r: u128| (r * items as u128 / n) as usize;
    (at(r), at(r + 1))
}

/// Sums `parts` (gradient buffers, a loss) over the ranks with one
/// all-reduce: concatenated, summed, put back. Nothing with one process.
///
/// ```
/// use rnn::dist::{all_reduce_parts, Single};
/// let (mut g, mut loss) = (vec![1.0f32, 2.0], [0.5f32]);
/// all_reduce_parts(&Single, &mut [&mut g, &mut loss]);
/// assert_eq!((g, loss), (vec![1.0, 2.0], [0.5]));
/// ```
pub fn all_reduce_parts(comm: &dyn Collective, parts: &mut [&mut [f32]]) {
    if comm.size() == 1 {
        return;
    }
    let mut flat: Vec<f32> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    comm.all_reduce_sum(&mut flat);
    let mut at = 0;
    for p in parts.iter_mut() {
        p.copy_from_slice(&flat[at..at + p.len()]);
        at += p.len();
    }
}

/// Opens a run directory for every rank of `comm` alike: a `batch` (when
/// given) that the ranks cannot share equally is refused first on every
/// rank ([`shard`]); then rank 0 alone checks and prepares `dir` as `mode`
/// says ([`prepare_run_dir`]: `--out`, `--force`, `--resume`) and its
/// verdict is shared ([`root_verdict`]), so nothing is written unless every
/// rank goes on. With one process this is `prepare_run_dir`.
///
/// # Errors
///
/// [`Error::Value`] for the batch; `prepare_run_dir`'s errors on rank 0,
/// [`Error::OnRank0`] with its message on the others.
pub fn open_run_dir(
    comm: &dyn Collective,
    dir: &Path,
    mode: OutMode,
    batch: Option<usize>,
) -> Result<()> {
    if let Some(b) = batch {
        shard(comm, b)?;
    }
    root_verdict(comm, || prepare_run_dir(dir, mode))
}

/// Runs `check` on rank 0 alone and shares its verdict, so that a run is
/// refused by all ranks or by none (before any of them writes): rank 0 gets
/// `check`'s own result, the others `Ok` or [`Error::OnRank0`] with rank 0's
/// message. With one process this is `check()`.
pub fn root_verdict(comm: &dyn Collective, check: impl FnOnce() -> Result<()>) -> Result<()> {
    if comm.size() == 1 {
        return check();
    }
    let (mine, mut verdict) = if comm.rank() == 0 {
        let r = check();
        let v = match &r {
            Ok(()) => vec![0],
            Err(e) => {
                let mut v = vec![if e.is_bad_input() { 2 } else { 1 }];
                v.extend_from_slice(e.to_string().as_bytes());
                v
            }
        };
        (Some(r), v)
    } else {
        (None, Vec::new())
    };
    comm.broadcast(&mut verdict);
    if let Some(r) = mine {
        return r;
    }
    match verdict.split_first() {
        Some((0, _)) => Ok(()),
        Some((&code, msg)) => Err(Error::OnRank0 {
            reason: String::from_utf8_lossy(msg).into_owned(),
            bad_input: code == 2,
        }),
        None => Err(Error::OnRank0 {
            reason: "no verdict".into(),
            bad_input: false,
        }),
    }
}

/// Rank 0's value of `f` on every rank (`f` runs on rank 0 alone; when it
/// fails, rank 0 gets its error and the others [`Error::OnRank0`]).
pub fn from_root(comm: &dyn Collective, f: impl FnOnce() -> Result<f64>) -> Result<f64> {
    if comm.size() == 1 {
        return f();
    }
    let mine = (comm.rank() == 0).then(f);
    let mut bytes = match &mine {
        Some(Ok(v)) => [&[0u8][..], &v.to_le_bytes()].concat(),
        _ => vec![1],
    };
    comm.broadcast(&mut bytes);
    if let Some(r) = mine {
        return r;
    }
    match bytes.split_first() {
        Some((0, v)) if v.len() == 8 => Ok(f64::from_le_bytes(v.try_into().unwrap_or([0; 8]))),
        _ => Err(Error::OnRank0 {
            reason: "failed (its error ends the job)".into(),
            bad_input: false,
        }),
    }
}

/// Rank 0's reading of a run's clock, the same on every rank: whether a
/// minutes budget ran out or a stop was requested ([`crate::tasks::stop`]),
/// and the share of a minutes budget used (`None` for the other budgets).
/// Ranks read their own clocks differently, and each sees an interrupt
/// when it comes; they must agree on when to stop and on a cosine
/// schedule's learning rate.
pub fn shared_time(comm: &dyn Collective, clock: &Clock) -> (bool, Option<f64>) {
    let (late, frac) = (clock.out_of_time(), clock.time_fraction());
    if comm.size() == 1 {
        return (late, frac);
    }
    let mut v = [if late { 1.0 } else { 0.0 }, frac.unwrap_or(0.0)];
    let mut bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    comm.broadcast(&mut bytes);
    for (x, b) in v.iter_mut().zip(bytes.chunks_exact(8)) {
        *x = b.try_into().map(f64::from_le_bytes).unwrap_or(0.0);
    }
    (v[0] > 0.5, frac.map(|_| v[1]))
}

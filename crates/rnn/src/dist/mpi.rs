//! [`Collective`] over MPI (Open MPI, through the `mpi` crate): the world
//! of an `mpirun` job.

use super::Collective;
use ::mpi::collective::SystemOperation;
use ::mpi::topology::SimpleCommunicator;
use ::mpi::traits::{Communicator, CommunicatorCollectives, Root};
use ::mpi::Threading;
use std::sync::{Mutex, OnceLock};

/// MPI's world communicator (`MPI_COMM_WORLD`). MPI is initialised with
/// [`Threading::Funneled`]: only the thread that initialised it (the main
/// thread) makes MPI calls; the compute threads never do.
#[derive(Debug)]
pub struct Mpi {
    rank: usize,
    size: usize,
}

/// The MPI universe (its drop is `MPI_Finalize`), until [`finish`].
static UNIVERSE: Mutex<Option<::mpi::environment::Universe>> = Mutex::new(None);
/// The world, once MPI is initialised (`None`: it could not be, or MPI was
/// already initialised by someone else).
static WORLD: OnceLock<Option<Mpi>> = OnceLock::new();

fn comm() -> SimpleCommunicator {
    SimpleCommunicator::world()
}

/// The world, MPI initialised by the first call.
pub(super) fn world() -> Option<&'static Mpi> {
    WORLD
        .get_or_init(|| {
            let (universe, _) = ::mpi::initialize_with_threading(Threading::Funneled)?;
            let w = universe.world();
            let (rank, size) = (w.rank() as usize, w.size() as usize);
            if let Ok(mut u) = UNIVERSE.lock() {
                *u = Some(universe);
            }
            if rank > 0 && std::env::var_os("RNN_MPI_VERBOSE").is_none_or(|v| v != "1") {
                silence();
            }
            Some(Mpi { rank, size })
        })
        .as_ref()
}

/// Points stdout and stderr at /dev/null (ranks other than 0).
fn silence() {
    // SAFETY: plain POSIX calls on this process's own descriptors.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        if null >= 0 {
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            libc::close(null);
        }
    }
}

/// Finalizes MPI if it was initialised.
pub(super) fn finish() {
    if let Ok(mut u) = UNIVERSE.lock() {
        drop(u.take());
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn all_reduce_sum(&self, buf: &mut [f32]) {
        let send = buf.to_vec();
        comm().all_reduce_into(&send[..], buf, SystemOperation::sum());
    }
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) {
        let send = buf.to_vec();
        comm().all_reduce_into(&send[..], buf, SystemOperation::sum());
    }
    fn broadcast(&self, bytes: &mut Vec<u8>) {
        let world = comm();
        let root = world.process_at_rank(0);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        root.broadcast_into(&mut bytes[..]);
    }
    fn barrier(&self) {
        comm().barrier();
    }
}

//! A partner thread for work one thread splits in two halves that meet at a
//! barrier many times a microsecond apart.
//!
//! Batch-1 inference has no batch to split across threads, and each of its
//! steps is a few microseconds: the fork/join of a thread pool per step costs
//! as much as the step. Split by hidden units instead (`nn::layer::split`),
//! the two halves run the whole time loop side by side and only meet once
//! per step at a spin barrier ([`Meet`]). That needs a second thread that is
//! surely running at the same time (a pool task queued behind the caller
//! would never start while the caller spins at the barrier): one thread of
//! the library's own, started on first use, which spins for a short while
//! after each job (so back-to-back calls pay no wake-up) and then parks.
//!
//! One caller at a time: [`run_pair`] returns `false` without running
//! anything when the partner is busy with another caller's job, and the
//! caller runs the work alone.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long the partner keeps spinning for the next job before it parks.
const SPIN_FOR: Duration = Duration::from_micros(200);

/// A barrier for the two halves of one [`run_pair`] job.
pub(crate) struct Meet {
    /// Arrivals so far, of both sides.
    arrived: AtomicUsize,
    /// Set when one side panicked: the other stops waiting.
    aborted: AtomicBool,
}

/// One side's count of the barriers it passed.
#[derive(Default)]
pub(crate) struct Round(usize);

impl Meet {
    fn new() -> Self {
        Self {
            arrived: AtomicUsize::new(0),
            aborted: AtomicBool::new(false),
        }
    }

    /// Waits until the other side has arrived here as often as this one:
    /// everything either side wrote before its call is visible to both after
    /// it. Panics when the other side panicked (so no one waits forever).
    pub(crate) fn wait(&self, round: &mut Round) {
        round.0 += 1;
        self.arrived.fetch_add(1, Ordering::AcqRel);
        let target = 2 * round.0;
        let mut spins = 0u32;
        while self.arrived.load(Ordering::Acquire) < target {
            if self.aborted.load(Ordering::Relaxed) {
                panic!("the other half of a split step panicked");
            }
            spins = spins.wrapping_add(1);
            if spins > 1 << 16 {
                // the other side is not running (more threads than cores):
                // give it the core
                std::thread::yield_now();
            } else if spins > 64 {
                std::hint::spin_loop();
            }
        }
    }
}

/// A slice shared by the two halves, each writing only its own parts of it
/// and reading the other's only after a [`Meet`].
pub(crate) struct Shared<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: the halves write disjoint ranges and read what the other wrote only
// after a barrier ([`Meet`]; see `nn::layer::split` and `split_bptt`).
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    pub(crate) fn new(s: &mut [T]) -> Self {
        Self {
            ptr: s.as_mut_ptr(),
            len: s.len(),
        }
    }

    /// `len` values from `at`, to read.
    ///
    /// # Safety
    /// No one writes them while the slice lives.
    pub(crate) unsafe fn get(&self, at: usize, len: usize) -> &[T] {
        assert!(at + len <= self.len);
        unsafe { std::slice::from_raw_parts(self.ptr.add(at), len) }
    }

    /// `len` values from `at`, to write.
    ///
    /// # Safety
    /// No one else reads or writes them while the slice lives.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn get_mut(&self, at: usize, len: usize) -> &mut [T] {
        assert!(at + len <= self.len);
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(at), len) }
    }
}

/// The partner's job slot: no job, a job posted, the job done.
const IDLE: u8 = 0;
const POSTED: u8 = 1;
const DONE: u8 = 2;

/// A job as the partner sees it: the closure's address, the function that
/// calls it, and the barrier.
#[derive(Clone, Copy)]
struct Job {
    data: *const (),
    call: unsafe fn(*const (), &Meet),
    meet: *const Meet,
}

struct Partner {
    /// Taken by the caller whose job is posted.
    busy: AtomicBool,
    /// [`IDLE`], [`POSTED`] or [`DONE`].
    state: AtomicU8,
    /// Written by the caller holding `busy` before it posts, read by the
    /// partner after it sees [`POSTED`].
    job: UnsafeCell<Option<Job>>,
    /// Whether the job's half panicked on the partner.
    panicked: AtomicBool,
    thread: OnceLock<Thread>,
}

// SAFETY: `job` is written only by the caller that holds `busy`, before the
// release store of POSTED, and read only by the partner after its acquire
// load of POSTED; the pointers in it stay valid until the caller has seen
// DONE.
unsafe impl Sync for Partner {}

static PARTNER: OnceLock<Option<&'static Partner>> = OnceLock::new();

/// Jobs run by both halves so far (see [`pair_jobs`]).
static JOBS: AtomicUsize = AtomicUsize::new(0);

/// How many times work was split between the calling thread and the partner
/// thread since the process started: each is one batch-1 layer call of
/// inference split by hidden units. For reports and tests that want to know
/// whether the split ran (it runs with `set_threads(2)` or more, one
/// sequence, and `W_hh` larger than L1).
pub fn pair_jobs() -> usize {
    JOBS.load(Ordering::Relaxed)
}

fn partner() -> Option<&'static Partner> {
    *PARTNER.get_or_init(|| {
        // two halves spinning on one core would wait a time slice at every
        // barrier
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            return None;
        }
        let p: &'static Partner = Box::leak(Box::new(Partner {
            busy: AtomicBool::new(false),
            state: AtomicU8::new(IDLE),
            job: UnsafeCell::new(None),
            panicked: AtomicBool::new(false),
            thread: OnceLock::new(),
        }));
        let handle = std::thread::Builder::new()
            .name("rnn-partner".into())
            .spawn(move || serve(p))
            .ok()?;
        p.thread.set(handle.thread().clone()).ok()?;
        Some(p)
    })
}

/// The partner's loop: wait for a job (spinning, then parked), run its half.
fn serve(p: &'static Partner) {
    loop {
        let since = Instant::now();
        let mut spins = 0u32;
        while p.state.load(Ordering::Acquire) != POSTED {
            spins += 1;
            if !spins.is_multiple_of(64) || since.elapsed() < SPIN_FOR {
                std::hint::spin_loop();
            } else {
                // a poster unparks after posting: a token left by an earlier
                // unpark only makes this return early, and the loop looks again
                std::thread::park();
            }
        }
        // SAFETY: POSTED was stored (release) after the job was written.
        let job = unsafe { *p.job.get() };
        if let Some(job) = job {
            // SAFETY: `job` points into the caller's frame, which waits for
            // DONE before it returns or unwinds.
            let meet = unsafe { &*job.meet };
            let r = catch_unwind(AssertUnwindSafe(|| unsafe { (job.call)(job.data, meet) }));
            if r.is_err() {
                p.panicked.store(true, Ordering::Relaxed);
                meet.aborted.store(true, Ordering::Relaxed);
            }
        }
        p.state.store(DONE, Ordering::Release);
    }
}

/// Calls the closure behind `data` as the second half (`1`).
///
/// # Safety
/// `data` must point to an `F`.
unsafe fn call_half<F: Fn(usize, &Meet, &mut Round) + Sync>(data: *const (), meet: &Meet) {
    let f = unsafe { &*(data as *const F) };
    f(1, meet, &mut Round::default());
}

/// Runs `f(0, ..)` on this thread and `f(1, ..)` on the partner thread at
/// the same time, both with the same [`Meet`], and returns when both are
/// done: `true`. Returns `false` without calling `f` when the partner is
/// busy with another caller, could not be started or would share one core
/// with this thread (fewer than two available). A panic in either half
/// is raised here once both have stopped.
pub(crate) fn run_pair<F: Fn(usize, &Meet, &mut Round) + Sync>(f: F) -> bool {
    let Some(p) = partner() else {
        return false;
    };
    if p.busy
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    let meet = Meet::new();
    // SAFETY: this caller holds `busy`; the partner reads the slot only
    // after the release store of POSTED below.
    unsafe {
        *p.job.get() = Some(Job {
            data: &f as *const F as *const (),
            call: call_half::<F>,
            meet: &meet,
        });
    }
    p.panicked.store(false, Ordering::Relaxed);
    p.state.store(POSTED, Ordering::Release);
    if let Some(t) = p.thread.get() {
        t.unpark();
    }
    let mine = catch_unwind(AssertUnwindSafe(|| f(0, &meet, &mut Round::default())));
    if mine.is_err() {
        meet.aborted.store(true, Ordering::Relaxed);
    }
    // the partner's half borrows `f` and `meet`: wait for it in any case
    let mut spins = 0u32;
    while p.state.load(Ordering::Acquire) != DONE {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    // SAFETY: the partner is done with the job; this caller still holds `busy`.
    unsafe { *p.job.get() = None };
    let theirs_panicked = p.panicked.load(Ordering::Relaxed);
    p.state.store(IDLE, Ordering::Relaxed);
    p.busy.store(false, Ordering::Release);
    JOBS.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = mine {
        resume_unwind(e);
    }
    assert!(
        !theirs_panicked,
        "the partner's half of a split step panicked"
    );
    true
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The tests that need the partner take turns (another test holding it
    /// would make `run_pair` return false).
    pub(crate) static TURN: Mutex<()> = Mutex::new(());

    /// Whether this machine has the two cores the partner needs (with one,
    /// `run_pair` declines and callers run alone).
    pub(crate) fn two_cores() -> bool {
        std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2
    }

    /// Two halves exchange values through a shared buffer at a barrier, as
    /// the split step does: after each meeting each side reads what the
    /// other wrote before it. 10,000 rounds: a missing barrier or a wrong
    /// ordering would show as a stale value.
    #[test]
    fn halves_see_each_others_writes_after_each_meeting() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        if !two_cores() {
            assert!(!run_pair(|_, _, _| {}), "one core: no partner");
            return;
        }
        let cells: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
        let bad = AtomicUsize::new(0);
        let ran = run_pair(|half, meet, round| {
            for k in 1..=10_000usize {
                cells[half].store(k, Ordering::Relaxed);
                meet.wait(round);
                if cells[1 - half].load(Ordering::Relaxed) != k {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
                meet.wait(round); // no one writes k+1 before both have read k
            }
        });
        assert!(ran, "the partner thread ran the second half");
        assert_eq!(bad.load(Ordering::Relaxed), 0);
        // and again (the partner serves one job after another)
        let count = AtomicUsize::new(0);
        assert!(run_pair(|_, _, _| {
            count.fetch_add(1, Ordering::Relaxed);
        }));
        assert_eq!(count.load(Ordering::Relaxed), 2);
    }

    /// A panic in the partner's half reaches the caller, the caller's own
    /// half stops waiting at the barrier, and the partner serves the next
    /// job.
    #[test]
    fn a_panic_in_either_half_reaches_the_caller_and_the_partner_lives_on() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        if !two_cores() {
            return; // no partner (the test above checks that)
        }
        for panicking in [0, 1] {
            let r = catch_unwind(AssertUnwindSafe(|| {
                run_pair(|half, meet, round| {
                    if half == panicking {
                        panic!("half {half} fails");
                    }
                    meet.wait(round);
                })
            }));
            assert!(r.is_err(), "half {panicking}'s panic is raised");
        }
        let count = AtomicUsize::new(0);
        assert!(run_pair(|_, _, _| {
            count.fetch_add(1, Ordering::Relaxed);
        }));
        assert_eq!(count.load(Ordering::Relaxed), 2);
    }
}

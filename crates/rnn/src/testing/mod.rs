//! Benchmark workloads and oracles: finite-difference gradient checks, PyTorch reference cases and
//! optimizer trajectories.

pub mod bench;
pub mod compare;
pub mod gradcheck;
pub mod reference;
pub mod trajectory;

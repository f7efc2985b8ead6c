//! Every public reference case, recomputed from weights and inputs only, must
//! match PyTorch's float64 results within 1e-9 relative error per tensor.

use rnn::io::TensorFile;
use rnn::testing::reference::{relative_error, Case};
use std::path::PathBuf;

const TOL_F64: f64 = 1e-9;
const TOL_F32: f64 = 1e-4;

fn fixture_dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reference")
        .join(sub)
}

/// The case files of a fixture folder; panics (fails the test) if there are none.
fn cases(sub: &str, prefix: &str) -> Vec<PathBuf> {
    let dir = fixture_dir(sub);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixture folder {} missing: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "safetensors")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixtures in {}", dir.display());
    v
}

/// Checks every output tensor of `got` against the tensor of the same name in the file.
fn check(path: &PathBuf, tol: f64, scalar: &str) -> usize {
    let f = TensorFile::read(path).expect("read fixture");
    let case = Case::parse(&f).expect("parse fixture");
    let got = if scalar == "f64" {
        case.evaluate::<f64>()
    } else {
        case.evaluate::<f32>()
    };
    let mut checked = 0;
    for (name, t) in &got {
        let want = f
            .f64(name)
            .unwrap_or_else(|e| panic!("{}: expected tensor {name}: {e}", path.display()));
        assert_eq!(t.shape, want.shape, "{}: shape of {name}", path.display());
        let err = relative_error(&t.data, &want.data);
        assert!(
            err < tol,
            "{} [{scalar}]: {name} relative error {err:e} >= {tol:e}",
            path.display()
        );
        checked += 1;
    }
    checked
}

#[test]
fn elman_reference_cases_match_pytorch_f64() {
    for p in cases("", "elman_") {
        // s, o, p, loss, dU, dW, db, dV, dc, dh0
        assert_eq!(check(&p, TOL_F64, "f64"), 10, "{}", p.display());
    }
}

#[test]
fn elman_reference_cases_f32_agree() {
    for p in cases("", "elman_") {
        check(&p, TOL_F32, "f32");
    }
}

#[test]
fn stack_elman_cases_match_pytorch_f64() {
    for p in cases("stack", "") {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("lstm") || name.starts_with("gru") {
            continue; // covered by the test below, named by cell
        }
        assert!(check(&p, TOL_F64, "f64") >= 9, "{name}");
    }
}

#[test]
fn stack_lstm_gru_cases_match_pytorch_f64() {
    let mut n = 0;
    for prefix in ["lstm", "gru"] {
        for p in cases("stack", prefix) {
            check(&p, TOL_F64, "f64");
            check(&p, TOL_F32, "f32");
            n += 1;
        }
    }
    assert!(n >= 4);
}

#[test]
fn optimizer_trajectories_match_torch_optim_f64() {
    use rnn::testing::trajectory::Trajectory;
    let files = cases("trajectories", "traj_");
    assert!(files.len() >= 6);
    for p in files {
        let f = TensorFile::read(&p).expect("read fixture");
        let r = Trajectory::parse(&f)
            .expect("parse trajectory")
            .run::<f64>()
            .expect("run trajectory");
        let want = f.f64("losses").expect("losses");
        let err = relative_error(&r.losses, &want.data);
        assert!(
            err < TOL_F64,
            "{}: losses relative error {err:e}",
            p.display()
        );
        for (name, shape, data) in &r.finals {
            let want = f.f64(&format!("{name}_final")).expect("final tensor");
            assert_eq!(&want.shape, shape);
            let err = relative_error(data, &want.data);
            assert!(
                err < TOL_F64,
                "{}: {name}_final relative error {err:e}",
                p.display()
            );
        }
    }
}

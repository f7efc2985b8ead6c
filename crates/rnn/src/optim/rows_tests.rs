//! [`RowOptimizer`] against the dense [`Optimizer`]: the same weights and
//! state, to the bit, over thousands of steps of sparse gradients.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// Sets Adam's and AdamW's `β2` (other optimizers have none).
fn set_beta2(c: &mut OptimizerConfig, b2: f64) {
    if let OptimizerConfig::Adam { betas, .. } | OptimizerConfig::AdamW { betas, .. } = c {
        betas.1 = b2;
    }
}

/// Runs `steps` steps of gradients that touch each row with probability
/// `p_row` (and, one step in 2,000, every row), the learning rate halved at
/// the middle and `β2` lowered at three quarters, through a
/// [`RowOptimizer`] and a dense [`Optimizer`]; asserts equal weights at every step and equal state after `sync`, and
/// returns the most rows seen idle at once after step 1,500.
fn run<T: Float>(name: &str, args: &serde_json::Value, steps: usize, p_row: f64) -> usize {
    let cfg = OptimizerConfig::from_args(name, args).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // tables of unequal widths, as a tagger's features are
    let layout = RowLayout::new(&[(20, 3), (1, 5), (12, 8)]).unwrap();
    let n = layout.len();
    let mut rows = RowOptimizer::new(Optimizer::<T>::new(cfg.clone(), n), layout.clone()).unwrap();
    let mut dense = Optimizer::<T>::new(cfg, n);
    let mut p: Vec<T> = (0..n).map(|i| T::of((i as f64 * 0.37).sin())).collect();
    let mut q = p.clone();
    let mut most_idle = 0;
    for step in 0..steps {
        if step == steps / 2 {
            let lr = dense.config.lr() / 2.0;
            dense.config.set_lr(lr);
            rows.set_lr(lr);
        }
        if step == steps * 3 / 4 {
            // new betas while rows idle: their replay so far used the old β2
            set_beta2(&mut dense.config, 0.99);
            set_beta2(rows.config_mut(), 0.99);
        }
        let all = step % 2000 == 1999;
        let touched: Vec<usize> = (0..layout.rows())
            .filter(|_| all || rng.random::<f64>() < p_row)
            .collect();
        let mut g = vec![T::zero(); n];
        for &r in &touched {
            for i in layout.range(r) {
                g[i] = T::of(rng.random::<f64>() - 0.5);
            }
        }
        let t = if all {
            Touched::All
        } else {
            Touched::Rows(&touched)
        };
        rows.step(&mut p, &g, t).unwrap();
        dense.step(&mut q, &g).unwrap();
        assert!(p == q, "{name} {args}: weights differ at step {step}");
        if step > 1500 {
            // not the rows idle since the start (their v is 0 too)
            most_idle = most_idle.max(rows.idle_rows());
        }
    }
    rows.sync();
    let s = &rows.optimizer().state;
    assert!(*s == dense.state, "{name} {args}: state differs after sync");
    assert_eq!(rows.optimizer().steps, dense.steps);
    most_idle
}

#[test]
fn sparse_steps_equal_dense_ones_to_the_bit() {
    let skipping = [
        ("adam", json!({"lr": 1e-2})),
        ("adam", json!({"lr": 1e-2, "amsgrad": true})),
        ("adamw", json!({"lr": 1e-2, "weight_decay": 0.0})),
    ];
    for (name, args) in &skipping {
        // rows used one step in 900 sit idle most of the time
        let idle32 = run::<f32>(name, args, 5000, 1.0 / 900.0);
        assert!(idle32 >= 10, "{name} {args}: {idle32} rows idle in f32");
        // f64 (its flush lies at 3.7e-301: m takes ~6,500 steps to reach
        // it, so rows idle only from the start, until first used)
        run::<f64>(name, args, 5000, 1.0 / 900.0);
        // and rows used every few steps, woken often
        run::<f32>(name, args, 3000, 0.2);
    }
    let dense = [
        ("adam", json!({"lr": 1e-2, "weight_decay": 1e-3})),
        ("adamw", json!({"lr": 1e-2})),
        ("sgd", json!({"lr": 0.1, "momentum": 0.9})),
        ("rmsprop", json!({"lr": 1e-3})),
        ("adagrad", json!({"lr": 1e-2})),
    ];
    for (name, args) in &dense {
        // a zero gradient moves these weights: no row may idle
        assert_eq!(
            run::<f32>(name, args, 2000, 1.0 / 900.0),
            0,
            "{name} {args}"
        );
    }
}

#[test]
fn bad_rows_and_layouts_are_refused_before_any_change() {
    let adam = OptimizerConfig::from_args("adam", &json!({})).unwrap();
    let layout = RowLayout::new(&[(4, 2)]).unwrap();
    let e = RowOptimizer::new(Optimizer::<f32>::new(adam.clone(), 9), layout.clone()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "layout: expected 9 values, as the optimizer's state, got 8 values"
    );
    let mut rows = RowOptimizer::new(Optimizer::<f32>::new(adam, 8), layout).unwrap();
    let mut p = vec![1.0f32; 8];
    let g = vec![0.5f32; 8];
    let e = rows.step(&mut p, &g, Touched::Rows(&[2, 1])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "touched: expected increasing rows, got row 1 after row 2"
    );
    let e = rows.step(&mut p, &g, Touched::Rows(&[0, 4])).unwrap_err();
    assert_eq!(e.to_string(), "touched: expected rows below 4, got 4");
    let e = rows.step(&mut p, &g[..7], Touched::All).unwrap_err();
    assert!(e.to_string().starts_with("grads: "), "{e}");
    assert_eq!(p, [1.0; 8]);
    assert_eq!(rows.optimizer().steps, 0);
}

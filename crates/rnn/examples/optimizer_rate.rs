//! Milliseconds an Adam step takes over a tagger-sized parameter buffer
//! (3,163,416 f32 values: the Brown tagger's embeddings), with dense
//! gradients and with the sparse ones of an embedding (each 64-value row
//! gets a gradient one step in 900, as a rare word's row does, so the
//! others' momentum decays toward the subnormal numbers between); then a
//! batch's rows drawn from a Zipf law (400 draws a step over 49,428 rows of
//! 64, as a tagger's batch uses its words), by `Optimizer` over the whole
//! buffer and by `RowOptimizer` told the rows (the same weights, to the bit):
//! `cargo run --release -p rnn --example optimizer_rate`. Wall time of the
//! `step` calls only, mean over 1,000 steps after 1,000 of warm-up.
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rnn::optim::{Optimizer, OptimizerName, RowLayout, RowOptimizer, Touched};
use std::time::Instant;

const STEPS: usize = 2000;
const WARM: usize = 1000;

fn start(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 1000) as f32 * 1e-3 - 0.5).collect()
}

fn adam(n: usize) -> Optimizer<f32> {
    let config = OptimizerName::Adam
        .config(2e-3, None)
        .expect("a valid rate");
    Optimizer::new(config, n)
}

/// Mean milliseconds of `Optimizer::step` over the steps after the first
/// 1,000, gradients from `grad(step, index)`.
fn rate(n: usize, grad: impl Fn(usize, usize) -> f32) -> f64 {
    let mut params = start(n);
    let mut opt = adam(n);
    let mut grads = vec![0.0f32; n];
    let mut spent = 0.0;
    for step in 0..STEPS {
        grads
            .iter_mut()
            .enumerate()
            .for_each(|(i, g)| *g = grad(step, i));
        let t0 = Instant::now();
        opt.step(&mut params, &grads).expect("shapes agree");
        if step >= WARM {
            spent += t0.elapsed().as_secs_f64();
        }
    }
    spent * 1e3 / (STEPS - WARM) as f64
}

/// The rows each step uses: 400 draws of a Zipf law over `rows`, sorted,
/// each once.
fn zipf_batches(rows: usize) -> Vec<Vec<usize>> {
    let mut cum = Vec::with_capacity(rows);
    let mut s = 0.0f64;
    for r in 0..rows {
        s += 1.0 / (r + 1) as f64;
        cum.push(s);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    (0..STEPS)
        .map(|_| {
            let mut b: Vec<usize> = (0..400)
                .map(|_| cum.partition_point(|&c| c < rng.random::<f64>() * s))
                .map(|r| r.min(rows - 1))
                .collect();
            b.sort_unstable();
            b.dedup();
            b
        })
        .collect()
}

/// Mean milliseconds a step over the Zipf batches, dense or by rows; the
/// weights at the end.
fn zipf_rate(dim: usize, batches: &[Vec<usize>], by_rows: bool) -> (f64, Vec<f32>) {
    let rows = batches
        .iter()
        .flatten()
        .max()
        .map_or(0, |&r| r + 1)
        .max(49_428);
    let n = rows * dim;
    let mut params = start(n);
    let layout = RowLayout::new(&[(rows, dim)]).expect("a small layout");
    let mut opt = RowOptimizer::new(adam(n), layout).expect("the layout fits");
    let mut dense = adam(n);
    let mut grads = vec![0.0f32; n];
    let mut spent = 0.0;
    for (step, b) in batches.iter().enumerate() {
        for &r in b {
            grads[r * dim..(r + 1) * dim]
                .iter_mut()
                .enumerate()
                .for_each(|(j, g)| *g = ((r + j + step) % 13) as f32 * 1e-4 - 6e-4);
        }
        let t0 = Instant::now();
        if by_rows {
            opt.step(&mut params, &grads, Touched::Rows(b))
                .expect("shapes agree");
        } else {
            dense.step(&mut params, &grads).expect("shapes agree");
        }
        if step >= WARM {
            spent += t0.elapsed().as_secs_f64();
        }
        for &r in b {
            grads[r * dim..(r + 1) * dim].fill(0.0);
        }
    }
    (spent * 1e3 / (STEPS - WARM) as f64, params)
}

fn main() {
    let n = 3_163_416;
    let dense = rate(n, |s, i| ((i + s) % 13) as f32 * 1e-4 - 6e-4);
    println!("dense gradients:  {dense:.2} ms a step");
    let sparse = rate(n, |s, i| if (i / 64 + s) % 900 == 0 { 1e-3 } else { 0.0 });
    println!("sparse gradients: {sparse:.2} ms a step");
    let batches = zipf_batches(n / 64);
    let (all, p_all) = zipf_rate(64, &batches, false);
    let (rows, p_rows) = zipf_rate(64, &batches, true);
    assert!(p_all == p_rows, "the same weights");
    println!("Zipf rows, every row:   {all:.2} ms a step");
    println!("Zipf rows, by rows:     {rows:.2} ms a step (the same weights)");
}

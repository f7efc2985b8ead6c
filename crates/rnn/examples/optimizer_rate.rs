//! Milliseconds an Adam step takes over a tagger-sized parameter buffer
//! (3,163,416 f32 values: the Brown tagger's embeddings), with dense
//! gradients and with the sparse ones of an embedding (each 64-value row
//! gets a gradient one step in 900, as a rare word's row does, so the
//! others' momentum decays toward the subnormal numbers between):
//! `cargo run --release -p rnn --example optimizer_rate`. Wall time of the
//! `step` calls only, mean over 1,000 steps after 1,000 of warm-up.
use rnn::optim::{Optimizer, OptimizerName};
use std::time::Instant;

/// Mean milliseconds of `Optimizer::step` over the steps after the first
/// 1,000, gradients from `grad(step, index)`.
fn rate(n: usize, grad: impl Fn(usize, usize) -> f32) -> f64 {
    let mut params: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 1e-3 - 0.5).collect();
    let config = OptimizerName::Adam
        .config(2e-3, None)
        .expect("a valid rate");
    let mut opt = Optimizer::new(config, n);
    let mut grads = vec![0.0f32; n];
    let mut spent = 0.0;
    for step in 0..2000 {
        grads
            .iter_mut()
            .enumerate()
            .for_each(|(i, g)| *g = grad(step, i));
        let t0 = Instant::now();
        opt.step(&mut params, &grads).expect("shapes agree");
        if step >= 1000 {
            spent += t0.elapsed().as_secs_f64();
        }
    }
    spent * 1e3 / 1000.0
}

fn main() {
    let n = 3_163_416;
    let dense = rate(n, |s, i| ((i + s) % 13) as f32 * 1e-4 - 6e-4);
    println!("dense gradients:  {dense:.2} ms a step");
    let sparse = rate(n, |s, i| if (i / 64 + s) % 900 == 0 { 1e-3 } else { 0.0 });
    println!("sparse gradients: {sparse:.2} ms a step");
}

//! One training step of a [`Trainer`]'s network (forward, loss, BPTT over a
//! minibatch split between threads) and the validation score.

use super::Trainer;
use crate::nn::layer::Input;
use crate::nn::loss::{log_sum_exp, Reduction, Targets};
use crate::nn::many_to_one::ManyToOne;
use crate::tasks::classify::augment::{augment, standard_normal};
use crate::tasks::classify::batch::{length_groups, Encoded, Window};
use crate::tasks::classify::classifier::argmax_rows;
use crate::{Batch, Model, Result};
use rand::Rng;
use rayon::prelude::*;

/// Loss sum and outputs of a batch: what one training step computed.
pub(super) struct StepResult {
    pub(super) loss: f64,
    pub(super) correct: usize,
}

impl Trainer {
    /// Forward, loss and BPTT of the sequences `chunk` with fresh dropout
    /// masks: writes the mean gradient into `grads`, returns the summed loss
    /// and the number of correct predictions. The batch is split into one
    /// contiguous part per thread; the masks are drawn per sequence, so the
    /// result does not depend on the split.
    pub(super) fn batch_grads(
        &self,
        model: &Model<f32>,
        chunk: &[usize],
        rng: &mut rand_chacha::ChaCha8Rng,
        grads: &mut [f32],
    ) -> Result<StepResult> {
        let c = &self.config;
        let width = model.config.directions() * model.config.hidden_size;
        // per sequence, per layer: [T_b, W] of 0 or 1/(1-p)
        let keep = (1.0 / (1.0 - c.dropout)) as f32;
        let seq_masks: Vec<Vec<Vec<f32>>> = chunk
            .iter()
            .map(|&i| {
                (0..model.config.num_layers)
                    .map(|_| {
                        (0..self.enc.steps[i] * width)
                            .map(|_| {
                                if rng.random::<f64>() < c.dropout {
                                    0.0
                                } else {
                                    keep
                                }
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        // per sequence: Gaussian noise on its inputs (Box-Muller)
        let noise: Vec<Vec<f32>> = chunk
            .iter()
            .map(|&i| {
                (0..self.enc.inputs[i].len())
                    .map(|_| {
                        if c.noise <= 0.0 {
                            return 0.0;
                        }
                        (c.noise * standard_normal(rng)) as f32
                    })
                    .collect()
            })
            .collect();
        // per sequence: the steps read and the gain (augmentation; whole and
        // 1 without it, and then nothing is drawn)
        let views: Vec<(Window, f32)> = chunk
            .iter()
            .map(|&i| augment(c, i, self.enc.steps[i], rng))
            .collect();
        // one part per thread, or one when this network is one of several
        // training at once (each on its own thread)
        let threads = if crate::kernels::in_sequential() {
            1
        } else {
            crate::kernels::threads()
        };
        let n = threads.min(chunk.len()).max(1);
        let parts: Vec<(usize, usize)> = (0..n)
            .map(|p| (p * chunk.len() / n, (p + 1) * chunk.len() / n))
            .collect();
        let head = ManyToOne::with_pool(model, self.classifier.meta.pool);
        let results = parts
            .par_iter()
            .map(|&(a, b)| {
                crate::kernels::sequential(|| {
                    let idx = &chunk[a..b];
                    let windows: Vec<Window> = views[a..b].iter().map(|v| v.0).collect();
                    let mut p = self.enc.batch_windows(&windows)?;
                    let w = self.enc.width;
                    for (j, (nz, &(_, gain))) in noise[a..b].iter().zip(&views[a..b]).enumerate() {
                        for (t, row) in nz.chunks_exact(w).take(p.lengths[j]).enumerate() {
                            let r = t * idx.len() + j;
                            for (x, e) in p.x[r * w..(r + 1) * w].iter_mut().zip(row) {
                                *x = *x * gain + e;
                            }
                        }
                    }
                    let y: Vec<usize> = idx.iter().map(|&i| self.labels[i]).collect();
                    let masks = (c.dropout > 0.0).then(|| {
                        (0..model.config.num_layers)
                            .map(|k| {
                                let mut m = vec![0f32; p.steps * idx.len() * width];
                                for (j, sm) in seq_masks[a..b].iter().enumerate() {
                                    let rows = sm[k].chunks_exact(width).take(p.lengths[j]);
                                    for (t, row) in rows.enumerate() {
                                        let r = t * idx.len() + j;
                                        m[r * width..(r + 1) * width].copy_from_slice(row);
                                    }
                                }
                                m
                            })
                            .collect::<Vec<_>>()
                    });
                    let mut g = vec![0f32; grads.len()];
                    let data = Batch {
                        masks: masks.as_deref(),
                        ..Batch::new(Input::Dense(&p.x), p.steps, idx.len())
                            .with_lengths(&p.lengths)
                    };
                    let (loss, out) = head.loss_and_grads_batch(
                        data,
                        Targets::Classes(&y),
                        Reduction::Sum,
                        &mut g,
                    )?;
                    let pred = argmax_rows(
                        &out.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
                        model.config.output_size,
                    );
                    let correct = pred.iter().zip(&y).filter(|(a, b)| a == b).count();
                    Ok((f64::from(loss), correct, g))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        grads.fill(0.0);
        let scale = 1.0 / chunk.len() as f32;
        let (mut loss, mut correct) = (0.0, 0);
        for (l, k, g) in results {
            loss += l;
            correct += k;
            for (acc, v) in grads.iter_mut().zip(g) {
                *acc += scale * v;
            }
        }
        Ok(StepResult { loss, correct })
    }
}

/// Mean cross-entropy and accuracy of `model` on the sequences `idx` of `enc`.
pub(super) fn score(
    model: &Model<f32>,
    pool: crate::nn::pool::Pool,
    enc: &Encoded,
    labels: &[usize],
    idx: &[usize],
) -> Result<(f64, f64)> {
    let head = ManyToOne::with_pool(model, pool);
    let o = model.config.output_size;
    // per position in idx: the sequence's cross-entropy, and whether it was right
    let mut each = vec![(0.0, false); idx.len()];
    let lengths: Vec<usize> = idx.iter().map(|&i| enc.steps[i]).collect();
    for chunk in &length_groups(&lengths, 64) {
        let seqs: Vec<usize> = chunk.iter().map(|&j| idx[j]).collect();
        let b = enc.batch(&seqs)?;
        let logits = head.predict(Input::Dense(&b.x), b.steps, seqs.len(), Some(&b.lengths))?;
        let rows: Vec<f64> = logits.iter().map(|&v| f64::from(v)).collect();
        for ((row, &j), k) in rows.chunks_exact(o).zip(chunk).zip(argmax_rows(&rows, o)) {
            let y = labels[idx[j]];
            each[j] = (log_sum_exp(row) - row[y], k == y);
        }
    }
    // summed in idx's order, whatever the grouping
    let loss: f64 = each.iter().map(|e| e.0).sum();
    let correct = each.iter().filter(|e| e.1).count();
    let n = idx.len().max(1) as f64;
    Ok((loss / n, correct as f64 / n))
}

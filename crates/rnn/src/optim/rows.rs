//! An optimizer over embedding tables whose gradients are zero outside the
//! few rows a batch used, that does only those rows' work and gives the bits
//! of the dense update.
//!
//! `torch.optim.Adam` over an `nn.Embedding` updates every row at every step:
//! a row absent from the batch has a zero gradient, its `m` decays and still
//! moves its weights, its `v` decays. A tagger's tables hold millions of
//! values, and that dense pass was more than half of a training step
//! (`perf` over a Brown epoch: 35 % in Adam, 9 % clearing the gradient, 10 %
//! in its norm). But once a row's `m` is below [`super::flush_below`] it is
//! read as 0, and from then on, until the row is used again, a step moves
//! none of its weights: it only multiplies its `v` by `β2` (and AMSGrad's
//! `v̂` follows `v`). [`RowOptimizer`] leaves such a row *idle*: it skips it,
//! and when a batch next uses it first replays the skipped steps' decay of
//! `v` ([`super::update::Adam::idle`], the same operations in the same order),
//! then updates it with the others. Weights and state are therefore equal,
//! to the bit, to the dense optimizer's at every step (`sync` brings the
//! idle rows' `v` up to date, for reading the state).
//!
//! Rows are idle only under Adam and AdamW without weight decay (with it, a
//! zero gradient still moves the weights); any other optimizer runs dense.

use super::update::Adam;
use super::{adam_at, flush_below, Optimizer, OptimizerConfig};
use crate::{Error, Float, Result};
use std::ops::Range;

/// A parameter buffer seen as rows: tables laid end to end, each of `rows`
/// rows of `dim` values (an embedding layer's tables, one per feature).
#[derive(Clone, Debug, PartialEq)]
pub struct RowLayout {
    /// Row `r` is values `starts[r]..starts[r + 1]`; `rows + 1` entries.
    starts: Vec<usize>,
}

impl RowLayout {
    /// The layout of tables `(rows, dim)` laid end to end.
    ///
    /// # Errors
    ///
    /// [`Error::Argument`] naming `tables` when their size overflows.
    ///
    /// ```
    /// use rnn::optim::RowLayout;
    /// let l = RowLayout::new(&[(3, 2), (2, 4)]).unwrap(); // 3 rows of 2, 2 rows of 4
    /// assert_eq!((l.rows(), l.len()), (5, 14));
    /// assert_eq!(l.range(3), 6..10);
    /// ```
    pub fn new(tables: &[(usize, usize)]) -> Result<Self> {
        let mut starts = vec![0usize];
        let mut end = 0usize;
        for &(rows, dim) in tables {
            for _ in 0..rows {
                end = end.checked_add(dim).ok_or_else(|| {
                    Error::argument("tables", "a size that fits usize", "an overflow")
                })?;
                starts.push(end);
            }
        }
        Ok(RowLayout { starts })
    }

    /// One row spanning all `n` values (a dense buffer).
    pub fn whole(n: usize) -> Self {
        RowLayout { starts: vec![0, n] }
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.starts[self.starts.len() - 1]
    }

    /// Whether the layout holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values of row `r` (`r < rows()`).
    pub fn range(&self, r: usize) -> Range<usize> {
        self.starts[r]..self.starts[r + 1]
    }
}

/// Which rows a step's gradient may be non-zero in.
#[derive(Clone, Copy, Debug)]
pub enum Touched<'a> {
    /// Every row (a dense gradient).
    All,
    /// These rows, in increasing order, each once; the gradient is zero in
    /// every other row.
    Rows(&'a [usize]),
}

/// An [`Optimizer`] over a buffer cut into rows ([`RowLayout`]) that skips
/// the rows where its step would only decay state, and replays that decay
/// when a row is next used: the dense optimizer's weights and state to the
/// bit (see the module's documentation).
///
/// ```
/// use rnn::optim::{Optimizer, OptimizerName, RowLayout, RowOptimizer, Touched};
/// let adam = OptimizerName::Adam.config(1e-2, None).unwrap();
/// let layout = RowLayout::new(&[(4, 2)]).unwrap(); // 4 rows of 2 values
/// let mut rows = RowOptimizer::new(Optimizer::<f32>::new(adam.clone(), 8), layout).unwrap();
/// let mut dense = Optimizer::<f32>::new(adam, 8);
/// let (mut p, mut q) = (vec![1.0f32; 8], vec![1.0f32; 8]);
/// for step in 0..2000 {
///     let r = if step % 700 == 0 { 2 } else { 0 }; // row 2 used now and then
///     let mut g = vec![0.0f32; 8];
///     g[2 * r] = 0.5;
///     rows.step(&mut p, &g, Touched::Rows(&[r])).unwrap();
///     dense.step(&mut q, &g).unwrap();
/// }
/// assert_eq!(p, q);
/// rows.sync();
/// assert_eq!(rows.optimizer().state, dense.state);
/// ```
#[derive(Clone, Debug)]
pub struct RowOptimizer<T> {
    opt: Optimizer<T>,
    layout: RowLayout,
    /// Per row: skipped by the steps since `synced[r]` (its `m` reads as 0).
    idle: Vec<bool>,
    /// Per row: the number of steps its state has seen.
    synced: Vec<u64>,
    /// The runs of rows a step updates, `(first, end)` (kept to reuse).
    runs: Vec<(usize, usize)>,
}

impl<T: Float> RowOptimizer<T> {
    /// `opt` over a buffer laid out as `layout`; rows whose state shows
    /// they would only decay start idle (all of a fresh Adam's).
    ///
    /// # Errors
    ///
    /// [`Error::Argument`] naming `layout` when it does not cover the
    /// optimizer's state buffers exactly.
    pub fn new(opt: Optimizer<T>, layout: RowLayout) -> Result<Self> {
        if let Some(b) = opt.state.iter().find(|b| b.len() != layout.len()) {
            return Err(Error::argument(
                "layout",
                format!("{} values, as the optimizer's state", b.len()),
                format!("{} values", layout.len()),
            ));
        }
        let rows = layout.rows();
        let mut r = RowOptimizer {
            synced: vec![opt.steps; rows],
            idle: vec![false; rows],
            runs: Vec::new(),
            opt,
            layout,
        };
        if r.skips() {
            for row in 0..rows {
                r.idle[row] = r.m_is_zero(row);
            }
        }
        Ok(r)
    }

    /// The optimizer (its state is current for idle rows after
    /// [`RowOptimizer::sync`]).
    pub fn optimizer(&self) -> &Optimizer<T> {
        &self.opt
    }

    /// The rows the optimizer sees.
    pub fn layout(&self) -> &RowLayout {
        &self.layout
    }

    /// Sets the learning rate. Idle rows need nothing: their weights do
    /// not move whatever the rate, and the replay of their `v` reads only
    /// `β2`.
    pub fn set_lr(&mut self, lr: f64) {
        self.opt.config.set_lr(lr);
    }

    /// The optimizer's hyper-parameters, to change. Idle rows are first
    /// brought up to date ([`RowOptimizer::sync`]), so that new betas or a
    /// weight decay act from the next step on, as in the dense optimizer
    /// (for the learning rate alone, [`RowOptimizer::set_lr`] does less).
    pub fn config_mut(&mut self) -> &mut OptimizerConfig {
        self.sync();
        &mut self.opt.config
    }

    /// The number of rows the last step skipped.
    pub fn idle_rows(&self) -> usize {
        self.idle.iter().filter(|&&i| i).count()
    }

    /// Whether this optimizer's rows can idle: Adam or AdamW without
    /// weight decay.
    fn skips(&self) -> bool {
        match self.opt.config {
            OptimizerConfig::Adam { weight_decay, .. }
            | OptimizerConfig::AdamW { weight_decay, .. } => weight_decay == 0.0,
            _ => false,
        }
    }

    /// Whether every `m` of `row` reads as 0 at the next step.
    fn m_is_zero(&self, row: usize) -> bool {
        let tiny = flush_below::<T>();
        self.opt.state[0][self.layout.range(row)]
            .iter()
            .all(|m| m.abs() < tiny)
    }

    /// Brings `row`'s state through the steps it skipped: `m` as the first
    /// of them stored it (flushed to 0), `v` decayed by each.
    fn wake(&mut self, adam: &Adam, row: usize) {
        let k = self.opt.steps - self.synced[row];
        let r = self.layout.range(row);
        let (m, rest) = self.opt.state.split_at_mut(1);
        if k > 0 {
            m[0][r.clone()].fill(T::zero());
        }
        let (v, vmax) = rest.split_at_mut(1);
        adam.idle(k, &mut v[0][r.clone()], vmax.first_mut().map(|b| &mut b[r]));
        self.synced[row] = self.opt.steps;
    }

    /// Brings every idle row's state up to date (they stay idle).
    pub fn sync(&mut self) {
        let Some((adam, _)) = adam_at(&self.opt.config, self.opt.steps) else {
            return;
        };
        for row in 0..self.layout.rows() {
            if self.idle[row] && self.synced[row] < self.opt.steps {
                self.wake(&adam, row);
            }
        }
    }

    /// One step of the optimizer ([`Optimizer::step`]) from `grads`, zero
    /// outside the rows `touched` names.
    ///
    /// # Errors
    ///
    /// What [`Optimizer::step`] refuses, and [`Error::Argument`] naming
    /// `touched` when its rows are not increasing or not below the layout's
    /// number of rows; nothing changes then.
    pub fn step(&mut self, params: &mut [T], grads: &[T], touched: Touched<'_>) -> Result<()> {
        self.opt.check_step(params, grads)?;
        if params.len() != self.layout.len() {
            return Err(Error::argument(
                "params",
                format!("{} values, as the row layout", self.layout.len()),
                format!("{} values", params.len()),
            ));
        }
        if let Touched::Rows(t) = touched {
            let n = self.layout.rows();
            if let Some(w) = t.windows(2).find(|w| w[0] >= w[1]) {
                let got = format!("row {} after row {}", w[1], w[0]);
                return Err(Error::argument("touched", "increasing rows", got));
            }
            if let Some(&r) = t.last().filter(|&&r| r >= n) {
                return Err(Error::argument("touched", format!("rows below {n}"), r));
            }
        }
        if !self.skips() {
            // a zero gradient moves the weights: every row, every step
            self.sync();
            self.idle.fill(false);
            self.opt.step_unchecked(params, grads);
            self.synced.fill(self.opt.steps);
            return Ok(());
        }
        let (before, _) = adam_at(&self.opt.config, self.opt.steps).expect("Adam");
        match touched {
            Touched::All => self.sync(),
            Touched::Rows(t) => {
                for &row in t {
                    if self.idle[row] && self.synced[row] < self.opt.steps {
                        self.wake(&before, row);
                    }
                }
            }
        }
        match touched {
            Touched::All => self.idle.fill(false),
            Touched::Rows(t) => t.iter().for_each(|&r| self.idle[r] = false),
        }
        self.opt.steps += 1;
        let (adam, decoupled) = adam_at(&self.opt.config, self.opt.steps).expect("Adam");
        // runs of rows that are not idle, each one call of the dense update
        let rows = self.layout.rows();
        let mut runs = std::mem::take(&mut self.runs);
        runs.clear();
        let mut row = 0;
        while row < rows {
            if self.idle[row] {
                row += 1;
                continue;
            }
            let first = row;
            while row < rows && !self.idle[row] {
                row += 1;
            }
            runs.push((first, row));
        }
        for &(first, end) in &runs {
            let r = self.layout.starts[first]..self.layout.starts[end];
            adam.step_range(decoupled, params, grads, &mut self.opt.state, r);
            for done in first..end {
                self.synced[done] = self.opt.steps;
                // from the next step on it only decays (its m reads as 0)
                self.idle[done] = self.m_is_zero(done);
            }
        }
        self.runs = runs;
        Ok(())
    }
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;

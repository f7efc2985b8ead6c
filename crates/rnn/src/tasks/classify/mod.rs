//! Sequence classification: a sequence of frames in, one class out (a
//! gesture tracked in video, a speaker, an activity).
//!
//! Data are `.ts` files of the UEA/UCR archive ([`Dataset::parse_ts`]) or a
//! long CSV layout ([`Dataset::parse_csv`]), univariate or multivariate, of
//! equal or varying lengths, missing values filled inside each series
//! ([`Fill`]).

mod csv;
mod data;
mod fill;
mod ts;

pub use data::{sorted_labels, Dataset, Sequence};
pub use fill::{fill_series, is_missing, Fill};

//! Sequence labelling (part-of-speech tagging, named-entity recognition):
//! data readers, metrics and the RNN tagger.

pub mod chars;
pub mod crf;
pub mod data;
pub mod lexicon;
pub mod metrics;
pub mod tagger;

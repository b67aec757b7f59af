//! Codecs for Neuroglancer "precomputed" volume chunks, and the sharded format's indexes.
//!
//! The codec modules are plain Rust over slices and `ndarray` views; `python` is the only module
//! that knows about Python, and builds the `ngcodec._native` extension.

pub mod batch;
pub mod compressed_segmentation;
pub mod compresso;
pub mod downsample;
pub mod element;
pub mod error;
pub mod gzip;
pub mod interleave;
pub mod jpeg;
#[cfg(test)]
mod mutations;
pub mod png;
pub mod raw;
pub mod sharding;

mod python;

pub use error::{Error, Result};

//! The two ways a codec call can fail.

use std::fmt;

/// Why a codec call failed; the binding layer maps each kind to one Python exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The encoded buffer is malformed or does not match the requested chunk.
    InvalidFormat(String),
    /// The caller asked for something the format cannot express.
    InvalidArgument(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidFormat(message) | Error::InvalidArgument(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// Result of a codec call.
pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for an `Err(Error::InvalidFormat(..))` built with `format!` arguments.
macro_rules! invalid_format {
    ($($arg:tt)*) => { Err($crate::error::Error::InvalidFormat(format!($($arg)*))) };
}

/// Shorthand for an `Err(Error::InvalidArgument(..))` built with `format!` arguments.
macro_rules! invalid_argument {
    ($($arg:tt)*) => { Err($crate::error::Error::InvalidArgument(format!($($arg)*))) };
}

pub(crate) use {invalid_argument, invalid_format};

//! The error type of the `gc` API.

use core::fmt;

/// What went wrong in a `gc` call. Nothing is changed when an error is returned.
///
/// ```
/// use gencollect::{Error, collect_generation};
/// let err = collect_generation(3).unwrap_err();
/// assert_eq!(err, Error::InvalidGeneration(3));
/// assert_eq!(err.to_string(), "invalid generation 3: generations are 0, 1 and 2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A generation number above 2.
    InvalidGeneration(usize),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidGeneration(g) => {
                write!(f, "invalid generation {g}: generations are 0, 1 and 2")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Checks a generation number.
pub(crate) fn check_generation(generation: usize) -> Result<(), Error> {
    if generation > 2 {
        Err(Error::InvalidGeneration(generation))
    } else {
        Ok(())
    }
}

//! The rotation Lambda's library: the events and requests it accepts, routed onto
//! kmsrot-core. The `bootstrap` binary (`main.rs`) and `kmsrot event` both run [`handle`].
//!
//! - [`settings`]: the environment variables, with safe defaults.
//! - [`route`]: pure routing, with the checks of source, account and region.
//! - [`handler`]: the handler itself, and the mapping of errors to `Diagnostic`. What an
//!   outcome is worth telling is `kmsrot_core::observe`'s to decide.

#![warn(missing_docs)]

pub mod handler;
pub mod route;
pub mod settings;

pub use handler::{HandlerError, State, account_of_function_arn, handle, handler};
pub use settings::{MetricsMode, Settings};

//! The rotation Lambda against the local emulator: the handler for every event source, and
//! the real `bootstrap` binary under a local Lambda Runtime API. Run with `cargo xtask test`.

mod bootstrap;
mod handler;

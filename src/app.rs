//! The console's state machine: messages (keys, snapshots, resizes) go through
//! [`update::update`], which changes [`state::State`] and returns [`update::Effect`]s for the
//! runtime to carry out (quit, suspend, switch context). Keys become [`keymap::Action`]s through
//! a keymap keyed by mode; the help screen and footer hints are generated from it. `runtime` is
//! the one impure part: the select loop over terminal events, snapshots and signals, drawing at
//! a capped rate and only when something changed.
//!
//! Must not use: sim internals, `kube::Client` (the runtime talks to `cluster` only).

pub mod keymap;
pub mod runtime;
pub mod state;
pub mod update;

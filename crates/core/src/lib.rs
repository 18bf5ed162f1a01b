//! tether's domain: identifiers, secrets, connection states, expiry maths and failure
//! classification.
//!
//! Nothing in this crate performs I/O. Time enters only through [`clock::Clock`], randomness
//! only through the id constructors, so every rule here can be tested with fixed inputs.

pub mod backoff;
pub mod cause;
pub mod clock;
pub mod decide;
pub mod diagnosis;
pub mod event;
pub mod expiry;
pub mod ids;
pub mod instance;
pub mod keepalive;
pub mod refresh;
pub mod secret;
pub mod status;
pub mod webhook;
mod wire;

//! tether's domain: identifiers, secrets, connection states, expiry maths and diagnosis.
//!
//! Nothing in this crate performs I/O. Time enters only through [`clock::Clock`], randomness
//! only through the id constructors, so every rule here can be tested with fixed inputs.

pub mod clock;

//! `tether demo`'s controls on the connectors page: simulate time on the clock tether and the
//! in-process sandbox share, change the sandbox Connected App's refresh token policy, and the
//! one-time sign-in link the demo prints. A crate of its own, so that none of it is part of
//! the server: `tether demo` merges [`routes`] into tether's router and hands the page its
//! [`layout_hook`]; the browser tests do the same.

mod controls;
mod routes;

pub use controls::DemoControls;
pub use routes::{layout_hook, routes};

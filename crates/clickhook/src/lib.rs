//! The clickhook node: wires config, store, enrichment and the three roles together.
//!
//! `main` only parses the command line and calls into here, so that tests can start a
//! whole node in-process on listeners bound to `127.0.0.1:0` ([`Node::start`]), exactly as
//! the binary does.

pub mod cli;
pub mod node;
pub mod ops;
pub mod test_webhook;

pub use node::{Listeners, Node, Roles};

//! The test kit: real parts for tests to talk to.

pub mod mmdb;

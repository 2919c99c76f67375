//! The Handbill node: the IO shell around the protocol engine.
//!
//! `handbilld` (in `main.rs`) wires these together; they are a library so end-to-end tests and
//! measurement tools can build real peers from the same parts.

pub mod address_limits;
pub mod api;
pub mod config;
pub mod daemon;
pub mod home;
pub mod nat;
pub mod network;
pub mod store;
pub mod web;

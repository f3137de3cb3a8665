//! Integration tests of the durable store: the 2PC protocol against a model with a
//! crash or I/O error injected at every step, a real `kill -9` loop, WAL corruption,
//! history queries and staging.

mod corruption;
mod crash_model;
mod disk_full;
mod history;
mod kill9;
mod staging;
mod support;

//! Data for the CRM that the library itself does not need: the demo's queues, operators and
//! customers ([`demo`], loaded by `centralino serve` with the demo configuration) and
//! synthetic Service Requests ([`synth`], for benchmarks, tests and `centralino
//! gen-tickets`). Everything here is invented: names, `example.org` addresses, numbers.
//! Both go through the store's public functions only.

#![warn(missing_docs)]

pub mod demo;
pub mod synth;

pub use demo::{DemoOptions, DemoReport, load_demo_data};
pub use synth::{SynthReport, generate_tickets};

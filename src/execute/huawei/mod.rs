//! Huawei Cloud: the AK/SK signer, a client for Auto Scaling (AS v1) and ECS, and the
//! executor that scales an AS group or resizes a server through them.

pub mod autoscaling;
pub mod client;
pub mod credentials;
pub mod ecs;
pub mod errors;
pub mod executor;
pub mod signer;

pub use executor::{HuaweiExecutor, Operation, Progress, Started};
pub mod cli;

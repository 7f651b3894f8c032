//! plan: findings, forecasts and fleet state → proposals. Pure and deterministic: the
//! same inputs give the same decision, live or in a backtest.

pub mod cost;
pub mod proposal;
pub mod scaling;

//! sim: trace replay and backtests through the same forecast code that runs live.

pub mod backtest;
pub mod replay;
pub mod trace;

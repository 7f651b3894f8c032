//! sim: trace replay and backtests through the same forecast code that runs live.

pub mod backtest;
pub mod detect_backtest;
pub mod fleet;
pub mod replay;
pub mod trace;

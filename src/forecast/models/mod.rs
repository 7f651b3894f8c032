//! The models vigil chooses among.

mod ets;
mod forest;
mod gbm;
mod linear;
mod naive;

pub use ets::Ets;
pub use gbm::Gbm;
pub use linear::Linear;
pub use naive::{Naive, Season, SeasonalNaive};

use super::Model;

/// Every model by its name, for `--model`.
pub const NAMES: &[&str] = &[
    "naive",
    "seasonal-daily",
    "seasonal-weekly",
    "linear",
    "gbm",
    "ets",
];

pub fn by_name(name: &str) -> Option<Box<dyn Model>> {
    Some(match name {
        "naive" => Box::new(Naive),
        "seasonal-daily" => Box::new(SeasonalNaive(Season::Daily)),
        "seasonal-weekly" => Box::new(SeasonalNaive(Season::Weekly)),
        "linear" => Box::new(Linear::default()),
        "gbm" => Box::new(Gbm::default()),
        "ets" => Box::new(Ets::default()),
        _ => return None,
    })
}

/// The set that runs when no model is forced.
pub fn default_set() -> Vec<Box<dyn Model>> {
    vec![
        Box::new(Naive),
        Box::new(SeasonalNaive(Season::Daily)),
        Box::new(SeasonalNaive(Season::Weekly)),
        Box::new(Linear::default()),
        Box::new(Gbm::default()),
    ]
}

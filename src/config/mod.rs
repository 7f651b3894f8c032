//! Configuration: the TOML schema, its defaults, validation with file:line:key, and the
//! XDG paths vigil reads and writes.

pub mod bounds;
pub mod duration;
pub mod host_checks;
mod load;
mod overrides;
pub mod paths;
mod schema;

pub(crate) use load::line_of;
pub use load::{Loaded, Problem, load_file, load_str, render};
pub use overrides::Overrides;
pub use schema::{
    ACTION_CLASSES, ApproveConfig, AuditConfig, Config, ConsoleConfig, DiskWatch, DockerConfig,
    Flavor, HealConfig, HuaweiConfig, HuaweiFlavor, HuaweiTarget, LogConfig, Mode, NotifyTarget,
    Probe, ScaleTarget, StoreConfig, TargetKind, Template,
};

/// The annotated example shipped with vigil; `vigil config example` prints it.
pub const EXAMPLE: &str = include_str!("../../config.example.toml");

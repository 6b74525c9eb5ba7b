//! The simulated population: synthetic people (the physical truth the simulator knows) and their
//! import into the registry (what the state knows).

pub mod generator;
pub mod import;
mod names;
pub mod personas;

pub use generator::{PersonTruth, generate, generate_to_file};
pub use import::{ImportReport, import_file};
pub use personas::Persona;

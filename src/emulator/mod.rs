//! The emulator. To be filled.

pub mod world;

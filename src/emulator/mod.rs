//! The emulator. To be filled.

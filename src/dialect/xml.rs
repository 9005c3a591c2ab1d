//! XML <-> JSON conversion for vendor bodies. To be filled.

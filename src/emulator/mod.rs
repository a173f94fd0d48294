//! Emulator (helper)

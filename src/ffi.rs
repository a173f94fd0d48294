//! The C ABI (helper).

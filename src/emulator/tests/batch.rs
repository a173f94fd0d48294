//! Batch realism: time pace, concurrency, the task list, credits.

use super::*;


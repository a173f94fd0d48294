//! Bounds on hostile clients (issue 9 defect 9).

use super::*;


//! The command-safety policy's decisions and their audit trail (`GET /api/audit`).

use serde::{Deserialize, Serialize};

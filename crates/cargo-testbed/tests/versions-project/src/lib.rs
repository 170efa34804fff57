//! An event this project sends to other services as JSON.

use serde::{Deserialize, Serialize};

/// A payment was taken.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(
    test,
    derive(testbed::versioned::Versioned),
    versioned(version = "1.0")
)]
#[serde(rename_all = "camelCase")]
pub struct PaymentTaken {
    /// The order paid for.
    pub order_id: u64,
    /// The amount, in cents.
    pub amount_cents: u64,
}

#[cfg(test)]
mod wire_versions {
    #[test]
    fn events_match_their_versions() {
        testbed::versioned::check!();
    }
}

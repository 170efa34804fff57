//! [`OlderPeer`]: an in-memory stand-in for a service that still speaks an older version
//! of a type (oslo's fake indirection API), so a test proves a value survives the trip:
//! serialized, backported to the peer's version, read by the peer, and sent back.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::record::Backport;
use crate::version::{BadVersion, Version};

/// A value could not make the trip to or from an older peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerTripError {
    /// The value did not serialize to JSON.
    #[error("serialize `{type_name}` for the peer")]
    Serialize {
        /// The type sent.
        type_name: &'static str,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// The type's backport routine refused the value.
    #[error("backport `{type_name}` to {version}: {reason}")]
    Backport {
        /// The type sent.
        type_name: &'static str,
        /// The peer's version.
        version: Version,
        /// The routine's words.
        reason: String,
    },
    /// The peer could not read what it was sent (or the sender what came back).
    #[error("read `{type_name}` as the {version} peer sent or received it")]
    Read {
        /// The type read.
        type_name: &'static str,
        /// The peer's version.
        version: Version,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
}

/// A peer at an older version of the wire types, in memory.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use testbed::versioned::{Backport, OlderPeer, Version, Versioned};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize, Versioned)]
/// #[versioned(version = "1.1", backport)]
/// struct Ping {
///     seq: u64,
///     #[serde(default)]
///     sent_by: String, // added in 1.1
/// }
///
/// impl Backport for Ping {
///     fn samples() -> Vec<Self> {
///         vec![Ping { seq: 1, sent_by: "a".into() }]
///     }
///     fn backport(mut value: serde_json::Value, version: Version) -> Result<serde_json::Value, String> {
///         if version < (Version { major: 1, minor: 1 }) {
///             value.as_object_mut().ok_or("not an object")?.remove("sent_by");
///         }
///         Ok(value)
///     }
/// }
///
/// let peer = OlderPeer::at("1.0")?;
/// let back: Ping = peer.round_trip(&Ping { seq: 7, sent_by: "a".into() })?;
/// assert_eq!(back, Ping { seq: 7, sent_by: String::new() }, "what 1.0 does not know is lost");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OlderPeer {
    version: Version,
}

impl OlderPeer {
    /// A peer speaking `version` (`"1.0"`).
    pub fn at(version: &str) -> Result<Self, BadVersion> {
        Ok(OlderPeer {
            version: version.parse()?,
        })
    }

    /// The peer's version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// What the peer receives of `value`: serialized, backported to the peer's version,
    /// and read as `R` (the peer's form of the type).
    pub fn send<T: Backport, R: DeserializeOwned>(&self, value: &T) -> Result<R, PeerTripError> {
        let json = self.backported(value)?;
        serde_json::from_value(json).map_err(|source| PeerTripError::Read {
            type_name: std::any::type_name::<R>(),
            version: self.version,
            source,
        })
    }

    /// `value` sent to the peer and sent back as the peer has it: what a newer service
    /// gets from an older one that stored or echoed it (fields the peer does not know
    /// come back as their defaults).
    pub fn round_trip<T: Backport + DeserializeOwned>(
        &self,
        value: &T,
    ) -> Result<T, PeerTripError> {
        let json = self.backported(value)?;
        serde_json::from_value(json).map_err(|source| PeerTripError::Read {
            type_name: std::any::type_name::<T>(),
            version: self.version,
            source,
        })
    }

    /// Runs a remote method through the peer: its argument makes the trip to the peer,
    /// `method` runs on what arrived, and its result comes back through JSON.
    pub fn call<A, R>(&self, argument: &A, method: impl FnOnce(A) -> R) -> Result<R, PeerTripError>
    where
        A: Backport + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        let arrived: A = self.round_trip(argument)?;
        let result = method(arrived);
        let json = serde_json::to_value(&result).map_err(|source| PeerTripError::Serialize {
            type_name: std::any::type_name::<R>(),
            source,
        })?;
        serde_json::from_value(json).map_err(|source| PeerTripError::Read {
            type_name: std::any::type_name::<R>(),
            version: self.version,
            source,
        })
    }

    fn backported<T: Backport>(&self, value: &T) -> Result<serde_json::Value, PeerTripError> {
        let type_name = std::any::type_name::<T>();
        let json = serde_json::to_value(value)
            .map_err(|source| PeerTripError::Serialize { type_name, source })?;
        T::backport(json, self.version).map_err(|reason| PeerTripError::Backport {
            type_name,
            version: self.version,
            reason,
        })
    }
}

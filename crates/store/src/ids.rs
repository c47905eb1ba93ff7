//! Random identifiers and bearer tokens.
//!
//! Ids are 128 bits from the operating system's CSPRNG, as 32 lowercase hex characters: unguessable, so knowing
//! one organisation's ids says nothing about another's. Each kind of id is its own type so a run id can't be
//! passed where a model id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digest::{hex, is_lower_hex};

/// Why a string is not a well-formed id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id (32 lowercase hex characters): {value:?}")]
pub struct IdError {
    /// What kind of id was expected (`run`, `case`, ...), for the message.
    pub kind: &'static str,
    /// The start of the text that was given, capped so a hostile value cannot flood a log.
    pub value: String,
}

pub(crate) fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    // The OS RNG failing is not recoverable and not caused by input; ids must never fall back to weak randomness.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    hex(&bytes)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn generate() -> Self {
                Self(random_hex::<16>())
            }

            /// Reads an id from text (a URL segment, a form field), refusing anything that is not one.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                if is_lower_hex(s, 32) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(IdError { kind: $kind, value: s.chars().take(80).collect() })
                }
            }

            /// The id as stored and shown.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// A string of 32 lowercase hex characters, so a generated client (and a fuzzer) sends well-formed ids.
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": "^[0-9a-f]{32}$",
                    "description": concat!("The id of a ", $kind, ": 32 lowercase hex characters."),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

id_type!(
    /// An organisation.
    OrgId,
    "organisation"
);
id_type!(
    /// A user.
    UserId,
    "user"
);
id_type!(
    /// A case (a sandbox project).
    CaseId,
    "case"
);
id_type!(
    /// An uploaded model.
    ModelId,
    "model"
);
id_type!(
    /// An evaluation run.
    RunId,
    "run"
);
id_type!(
    /// A finding or note on a case, a model or a run.
    FindingId,
    "finding"
);

/// A bearer token: 32 random bytes as 64 hex characters.
///
/// It exists only in memory between [`crate::Store::create_user`] and the moment it is shown to the user; the
/// store keeps only its SHA-256. `Debug` does not print it, so it can't leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub(crate) fn generate() -> Self {
        Self(random_hex::<32>())
    }

    /// The secret itself, to be shown once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps: the SHA-256 of the token's text.
    pub(crate) fn hash_of(presented: &str) -> String {
        crate::Digest::of(presented.as_bytes()).as_str().to_owned()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_validated() {
        let a = RunId::generate();
        assert_ne!(a, RunId::generate());
        assert_eq!(RunId::parse(a.as_str()).unwrap(), a);
        assert!(RunId::parse("nope").is_err());
        assert!(OrgId::parse(&"F".repeat(32)).is_err());
        let t = Token::generate();
        assert_eq!(t.expose().len(), 64);
        assert!(!format!("{t:?}").contains(t.expose()));
    }
}

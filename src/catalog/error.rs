//! The one error type of the catalog's rules.

/// Why a rule refused an input. Each variant carries a message meant for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A field's value is malformed; `field` names it as the forms and REST bodies do.
    #[error("{field}: {message}")]
    Invalid {
        /// The field, e.g. `context`.
        field: &'static str,
        /// What is wrong and what would be right.
        message: String,
    },
    /// The request is well formed but clashes with the current state.
    #[error("{message}")]
    Conflict {
        /// WSO2's error code for this conflict (e.g. 900351 for the revision limit).
        code: u32,
        /// What clashed and what may be done instead.
        message: String,
    },
}

impl RuleError {
    /// A malformed field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    /// A clash with the current state, with WSO2's code.
    pub fn conflict(code: u32, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}

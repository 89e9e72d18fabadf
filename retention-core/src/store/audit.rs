//! The audit log and the one list of what it records.

use serde::{Deserialize, Serialize};

use super::sql::{DbError, Session};
use super::{Store, args, now_rfc3339, parse_json};
use crate::error::Result;

/// What an audit entry records. Each is stored as its [`AuditAction::as_str`] text, the names
/// earlier releases wrote, so existing databases read the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditAction {
    /// A model version was registered.
    ModelRegister,
    /// A model version was validated on a holdout.
    ModelValidate,
    /// A version became the champion through the gate (or forced).
    ModelPromote,
    /// The previous champion was restored.
    ModelRollback,
    /// An A/B test started or changed.
    ModelAbStart,
    /// The A/B test stopped.
    ModelAbStop,
    /// A served model could not be loaded from the registry.
    ModelLoadFailed,
    /// `db optimize` ran.
    DbOptimize,
    /// `db cleanup` removed old predictions.
    DbCleanup,
    /// A backup was taken.
    Backup,
    /// The database was restored from a backup.
    Restore,
    /// A GDPR access request was answered.
    GdprExport,
    /// A GDPR erasure request was carried out.
    GdprDelete,
    /// An API key was created.
    AuthCreateKey,
    /// An API key was revoked.
    AuthRevokeKey,
    /// An API key replaced by a new one of the same name, the old one kept for a grace period.
    AuthRotateKey,
    /// A request to the HTTP service was refused for its credentials.
    AuthFailure,
}

impl AuditAction {
    /// Every action, in declaration order.
    pub const ALL: [AuditAction; 17] = [
        AuditAction::ModelRegister,
        AuditAction::ModelValidate,
        AuditAction::ModelPromote,
        AuditAction::ModelRollback,
        AuditAction::ModelAbStart,
        AuditAction::ModelAbStop,
        AuditAction::ModelLoadFailed,
        AuditAction::DbOptimize,
        AuditAction::DbCleanup,
        AuditAction::Backup,
        AuditAction::Restore,
        AuditAction::GdprExport,
        AuditAction::GdprDelete,
        AuditAction::AuthCreateKey,
        AuditAction::AuthRevokeKey,
        AuditAction::AuthRotateKey,
        AuditAction::AuthFailure,
    ];

    /// The text stored in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ModelRegister => "model_register",
            AuditAction::ModelValidate => "model_validate",
            AuditAction::ModelPromote => "model_promote",
            AuditAction::ModelRollback => "model_rollback",
            AuditAction::ModelAbStart => "model_ab_start",
            AuditAction::ModelAbStop => "model_ab_stop",
            AuditAction::ModelLoadFailed => "model.load_failed",
            AuditAction::DbOptimize => "db_optimize",
            AuditAction::DbCleanup => "db_cleanup",
            AuditAction::Backup => "backup",
            AuditAction::Restore => "restore",
            AuditAction::GdprExport => "gdpr_export",
            AuditAction::GdprDelete => "gdpr_delete",
            AuditAction::AuthCreateKey => "auth.create_key",
            AuditAction::AuthRevokeKey => "auth.revoke_key",
            AuditAction::AuthRotateKey => "auth.rotate_key",
            AuditAction::AuthFailure => "auth.failure",
        }
    }

    /// The action a stored text names, if it is one of this release's.
    pub fn parse(text: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// Whether this is a GDPR request (access or erasure).
    pub fn is_gdpr(self) -> bool {
        matches!(self, AuditAction::GdprExport | AuditAction::GdprDelete)
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What, as stored ([`AuditEntry::kind`] reads it as an [`AuditAction`]).
    pub action: String,
    /// On what (for GDPR, a salted hash of the customer id, never the id).
    pub subject: String,
    /// Details (JSON).
    pub details: serde_json::Value,
}

impl AuditEntry {
    /// The entry's action, when it is one this release knows.
    pub fn kind(&self) -> Option<AuditAction> {
        AuditAction::parse(&self.action)
    }
}

impl Store {
    /// Appends an audit entry.
    ///
    /// # Errors
    /// [`crate::Error::Store`] on a database error.
    pub fn audit(
        &self,
        actor: &str,
        action: AuditAction,
        subject: &str,
        details: &serde_json::Value,
    ) -> Result<()> {
        self.with(|s| insert_audit(s, actor, action, subject, details).map_err(|e| self.err(e)))
    }

    /// Audit entries whose time starts with `prefix` (e.g. `2026-11`), oldest first.
    ///
    /// # Errors
    /// [`crate::Error::Store`] on a database error.
    pub fn audit_entries(&self, prefix: &str) -> Result<Vec<AuditEntry>> {
        self.all(
            "SELECT at, actor, action, subject, details FROM audit_log
             WHERE substr(at, 1, length(CAST(?1 AS TEXT))) = CAST(?1 AS TEXT) ORDER BY id",
            args![prefix],
            |mut r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    subject: r.get(3)?,
                    details: parse_json(&r.get::<String>(4)?),
                })
            },
        )
    }
}

/// Appends an audit entry on `session` (inside a transaction, it commits with what it records).
pub(super) fn insert_audit(
    session: &mut Session<'_>,
    actor: &str,
    action: AuditAction,
    subject: &str,
    details: &serde_json::Value,
) -> std::result::Result<(), DbError> {
    session.execute(
        "INSERT INTO audit_log (at, actor, action, subject, details) VALUES (?1, ?2, ?3, ?4, ?5)",
        args![
            &now_rfc3339(),
            actor,
            action.as_str(),
            subject,
            &details.to_string()
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_read_back_as_their_action() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(AuditAction::parse("model_promote_v2"), None);
    }
}

//! API keys for `retention serve`: only their SHA-256 is stored.

use serde::{Deserialize, Serialize};

use super::sql::{DbError, Row, Session};
use super::{AuditAction, Store, args, db_error, insert_audit, now_rfc3339, store_error};
use crate::error::{Error, Result, mention};

/// Longest grace period of a rotated key: a year (dates stay four-digit, so they compare as text).
pub const MAX_GRACE: std::time::Duration = std::time::Duration::from_secs(366 * 86_400);

/// Start of every API key, so that a leaked key is recognisable (e.g. by secret scanners).
pub const API_KEY_PREFIX: &str = "rai_";

/// An API key as listed (never the key itself: only its hash is stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    /// The name given at creation (unique among active keys).
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// Who created it.
    pub created_by: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

impl Store {
    /// Creates an API key named `name` and returns it with its listing. The key is shown only
    /// here: the store keeps its SHA-256 (a key is 256 random bits, so a plain hash cannot be
    /// reversed by guessing).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a blank name or one an active key already has,
    /// [`Error::Store`] on a database error or when the system's random source fails.
    pub fn create_api_key(&mut self, name: &str, actor: &str) -> Result<(ApiKeyInfo, String)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(Error::param(
                "name",
                "give a name of 1 to 100 printable characters",
            ));
        }
        let (key, info) = new_key(name, actor)?;
        let e = |e: DbError| db_error(&self.db, e);
        self.transaction(|s| {
            let taken: i64 = s
                .query_one(
                    "SELECT count(*) FROM api_keys WHERE name = ?1 AND revoked_at IS NULL",
                    args![name],
                )
                .and_then(|mut r| r.get(0))
                .map_err(e)?;
            if taken > 0 {
                return Err(Error::param(
                    "name",
                    format!(
                        "an active key is already named '{name}'; revoke it first or pick another name"
                    ),
                ));
            }
            insert_key(s, &key, &info).map_err(e)?;
            insert_audit(
                s,
                actor,
                AuditAction::AuthCreateKey,
                name,
                &serde_json::json!({ "prefix": info.prefix }),
            )
            .map_err(e)
        })?;
        Ok((info, key))
    }

    /// Replaces the active key named `name` with a new one of the same name (returned, with its
    /// listing, as [`Store::create_api_key`] does) and keeps the old one working for `grace`, so
    /// that its users can switch without an outage; then servers refuse it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when no active key has that name, [`Error::Store`] on a
    /// database error or when the system's random source fails.
    pub fn rotate_api_key(
        &mut self,
        name: &str,
        grace: std::time::Duration,
        actor: &str,
    ) -> Result<(ApiKeyInfo, String, ApiKeyInfo)> {
        let name = name.trim();
        if grace > MAX_GRACE {
            return Err(Error::param(
                "grace",
                format!("at most {} days", MAX_GRACE.as_secs() / 86_400),
            ));
        }
        let (key, info) = new_key(name, actor)?;
        let until = chrono::Duration::from_std(grace)
            .ok()
            .and_then(|g| chrono::Utc::now().checked_add_signed(g))
            .ok_or_else(|| Error::param("grace", "too long"))?
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let e = |e: DbError| db_error(&self.db, e);
        let old = self.transaction(|s| {
            let changed = s
                .execute(
                    "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                    args![name, &until],
                )
                .map_err(e)?;
            if changed == 0 {
                return Err(no_active_key(name));
            }
            let old = s
                .query_one(
                    "SELECT name, prefix, created_at, created_by, revoked_at FROM api_keys
                     WHERE name = ?1 AND revoked_at = ?2 ORDER BY id DESC LIMIT 1",
                    args![name, &until],
                )
                .and_then(row_to_api_key)
                .map_err(e)?;
            insert_key(s, &key, &info).map_err(e)?;
            insert_audit(
                s,
                actor,
                AuditAction::AuthRotateKey,
                name,
                &serde_json::json!({
                    "prefix": info.prefix,
                    "old_prefix": old.prefix,
                    "old_key_works_until": until,
                }),
            )
            .map_err(e)?;
            Ok(old)
        })?;
        Ok((info, key, old))
    }

    /// Revokes the key named `name` at once: the active one and any still in its rotation's
    /// grace period.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when no active key has that name, [`Error::Store`] on a
    /// database error.
    pub fn revoke_api_key(&mut self, name: &str, actor: &str) -> Result<ApiKeyInfo> {
        let e = |e: DbError| db_error(&self.db, e);
        let at = now_rfc3339();
        self.transaction(|s| {
            let changed = s
                .execute(
                    "UPDATE api_keys SET revoked_at = ?2
                     WHERE name = ?1 AND (revoked_at IS NULL OR revoked_at > ?2)",
                    args![name, &at],
                )
                .map_err(e)?;
            if changed == 0 {
                return Err(no_active_key(name));
            }
            insert_audit(
                s,
                actor,
                AuditAction::AuthRevokeKey,
                name,
                &serde_json::json!({}),
            )
            .map_err(e)?;
            s.query_one(
                "SELECT name, prefix, created_at, created_by, revoked_at FROM api_keys
                 WHERE name = ?1 AND revoked_at = ?2 ORDER BY id DESC LIMIT 1",
                args![name, &at],
            )
            .and_then(row_to_api_key)
            .map_err(e)
        })
    }

    /// Every API key ever created, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn api_keys(&self) -> Result<Vec<ApiKeyInfo>> {
        self.all(
            "SELECT name, prefix, created_at, created_by, revoked_at FROM api_keys ORDER BY id",
            &[],
            row_to_api_key,
        )
    }

    /// The name of `key` when a server would accept it now (active, or in a rotation's grace
    /// period); `None` for an unknown or revoked key. For front ends that act for a key's
    /// holder (the app records the name in the audit log).
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn api_key_name(&self, key: &str) -> Result<Option<String>> {
        let names: Vec<String> = self.all(
            "SELECT name FROM api_keys
             WHERE key_sha256 = ?1 AND (revoked_at IS NULL OR revoked_at > ?2)",
            args![&api_key_hash(key.trim()), &now_rfc3339()],
            |mut r| r.get(0),
        )?;
        Ok(names.into_iter().next())
    }

    /// SHA-256 (hex) and name of every key a server accepts now: the active ones and those
    /// still in a rotation's grace period.
    ///
    /// # Errors
    /// [`Error::Store`] on a database error.
    pub fn active_api_key_hashes(&self) -> Result<Vec<(String, String)>> {
        self.all(
            "SELECT key_sha256, name FROM api_keys
             WHERE revoked_at IS NULL OR revoked_at > ?1 ORDER BY id",
            args![&now_rfc3339()],
            |mut r| Ok((r.get(0)?, r.get(1)?)),
        )
    }
}

fn no_active_key(name: &str) -> Error {
    Error::param(
        "name",
        format!(
            "no active API key is named '{name}' (see {})",
            mention("auth list")
        ),
    )
}

/// A new key named `name` and its listing.
fn new_key(name: &str, actor: &str) -> Result<(String, ApiKeyInfo)> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| store_error(format!("the system's random source failed: {e}")))?;
    let key = format!(
        "{API_KEY_PREFIX}{}",
        secret
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let info = ApiKeyInfo {
        name: name.to_string(),
        prefix: key[..API_KEY_PREFIX.len() + 8].to_string(),
        created_at: now_rfc3339(),
        created_by: actor.to_string(),
        revoked_at: None,
    };
    Ok((key, info))
}

fn insert_key(
    s: &mut Session<'_>,
    key: &str,
    info: &ApiKeyInfo,
) -> std::result::Result<(), DbError> {
    s.execute(
        "INSERT INTO api_keys (name, prefix, key_sha256, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        args![
            &info.name,
            &info.prefix,
            &api_key_hash(key),
            &info.created_at,
            &info.created_by
        ],
    )
    .map(|_| ())
}

/// SHA-256 (hex) of an API key, as stored and as looked up.
pub fn api_key_hash(key: &str) -> String {
    crate::sha256_hex(key.as_bytes())
}

fn row_to_api_key(mut r: Row) -> std::result::Result<ApiKeyInfo, DbError> {
    Ok(ApiKeyInfo {
        name: r.get(0)?,
        prefix: r.get(1)?,
        created_at: r.get(2)?,
        created_by: r.get(3)?,
        revoked_at: r.get(4)?,
    })
}

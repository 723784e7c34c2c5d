//! Provisioned users: digest credentials (HA1 only) and role.

use super::{StateDb, StateError};
use crate::auth::StoredCredentials;
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A contact-center agent or any registering phone.
    Agent,
    /// A PSTN gateway or SBC that sends calls in with credentials.
    Gateway,
    /// An administrator (admin console / CLI over the network).
    Admin,
}

impl Role {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Gateway => "gateway",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "agent" => Ok(Role::Agent),
            "gateway" => Ok(Role::Gateway),
            "admin" => Ok(Role::Admin),
            other => Err(StateError::Corrupt(format!("role {other:?}"))),
        }
    }
}

/// A user as listed: no credential material at all, so neither `Debug` nor serde output can
/// leak it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRow {
    /// The user name (SIP user part).
    pub name: String,
    /// The role.
    pub role: Role,
    /// The realm the HA1s were computed for.
    pub realm: String,
    /// Unix seconds of creation.
    pub created_at: Option<i64>,
}

/// Checks a user name: 1 to 64 bytes of letters, digits and the RFC 3261 `unreserved` marks
/// plus `& = + $`. The other `user-unreserved` characters (`, ; ? /`) are legal in a user part
/// but are delimiters in Contact lists, URI parameters and our CLI, so they are refused here
/// to keep every name usable unescaped everywhere.
pub fn validate_user_name(name: &str) -> Result<(), StateError> {
    let ok = (1..=64).contains(&name.len()) && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.!~*'()&=+$".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidUserName(name.to_owned()))
    }
}

/// A realm goes into a quoted-string in challenges: printable ASCII without `"` or `\`.
fn validate_realm(realm: &str) -> Result<(), StateError> {
    let ok = !realm.is_empty() && realm.bytes().all(|c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\');
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidRealm(realm.to_owned()))
    }
}

/// The current time for `created_at`/`updated_at`, computed by SQLite so that every writer
/// (daemon, CLI) uses the same clock source.
const NOW_SQL: &str = "CAST(strftime('%s','now') AS INTEGER)";

impl StateDb {
    /// Creates a user with HA1s for `realm` computed from `password` (which is not stored).
    pub async fn add_user(&self, name: &str, realm: &str, password: &str, role: Role) -> Result<(), StateError> {
        validate_user_name(name)?;
        validate_realm(realm)?;
        if password.is_empty() {
            return Err(StateError::EmptyPassword);
        }
        let creds = StoredCredentials::from_password(name, realm, password);
        let sql = format!(
            "INSERT INTO users (name, ha1_md5, ha1_sha256, realm, role, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, {NOW_SQL}, {NOW_SQL}) ON CONFLICT (name) DO NOTHING"
        );
        let done = sqlx::query(&sql)
            .bind(name)
            .bind(&creds.ha1_md5)
            .bind(&creds.ha1_sha256)
            .bind(realm)
            .bind(role.as_str())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StateError::UserExists(name.to_owned()));
        }
        Ok(())
    }

    /// Replaces a user's HA1s (and realm) from a new password.
    pub async fn set_password(&self, name: &str, realm: &str, password: &str) -> Result<(), StateError> {
        validate_user_name(name)?;
        validate_realm(realm)?;
        if password.is_empty() {
            return Err(StateError::EmptyPassword);
        }
        let creds = StoredCredentials::from_password(name, realm, password);
        let sql = format!("UPDATE users SET ha1_md5 = ?, ha1_sha256 = ?, realm = ?, updated_at = {NOW_SQL} WHERE name = ?");
        let done = sqlx::query(&sql).bind(&creds.ha1_md5).bind(&creds.ha1_sha256).bind(realm).bind(name).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StateError::NoSuchUser(name.to_owned()));
        }
        Ok(())
    }

    /// Deletes a user. Their registrations are not touched: they lapse on their own, and the
    /// daemon refuses the next refresh because the credentials are gone.
    pub async fn remove_user(&self, name: &str) -> Result<(), StateError> {
        let done = sqlx::query("DELETE FROM users WHERE name = ?").bind(name).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StateError::NoSuchUser(name.to_owned()));
        }
        Ok(())
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<UserRow>, StateError> {
        let rows = sqlx::query("SELECT name, role, realm, created_at FROM users ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(UserRow {
                    name: r.try_get("name")?,
                    role: r.try_get::<String, _>("role")?.parse()?,
                    realm: r.try_get("realm")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// One user's credentials and role, `None` if there is no such user.
    pub async fn get_credentials(&self, name: &str) -> Result<Option<(StoredCredentials, Role)>, StateError> {
        let row = sqlx::query("SELECT ha1_md5, ha1_sha256, role FROM users WHERE name = ?").bind(name).fetch_optional(&self.pool).await?;
        row.map(|r| credentials_from_row(&r)).transpose()
    }

    /// All users' credentials and roles, keyed by name, for the daemon's in-memory cache.
    pub async fn load_all_credentials(&self) -> Result<HashMap<String, (StoredCredentials, Role)>, StateError> {
        let rows = sqlx::query("SELECT name, ha1_md5, ha1_sha256, role FROM users").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get::<String, _>("name")?, credentials_from_row(r)?))).collect()
    }
}

fn credentials_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<(StoredCredentials, Role), StateError> {
    let creds = StoredCredentials { ha1_md5: r.try_get("ha1_md5")?, ha1_sha256: r.try_get("ha1_sha256")? };
    let role = r.try_get::<String, _>("role")?.parse()?;
    Ok((creds, role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for ok in ["1001", "mario.rossi", "a", "x-y_z!~*'()&=+$", &"a".repeat(64)] {
            assert!(validate_user_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a@b", "a;b", "a,b", "a/b", "a?b", "à", "a\"b", &"a".repeat(65)] {
            assert!(matches!(validate_user_name(bad), Err(StateError::InvalidUserName(_))), "{bad}");
        }
    }

    #[test]
    fn roles_round_trip() {
        for r in [Role::Agent, Role::Gateway, Role::Admin] {
            assert_eq!(r.as_str().parse::<Role>().ok(), Some(r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}

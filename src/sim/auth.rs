//! Who is calling the simulated API server and what they may do. Bearer tokens map to two
//! users: an admin who may do anything and a viewer who may only read, so read-only and RBAC
//! paths can be exercised. Over plain HTTP kubectl sends no credentials at all, so there an
//! anonymous caller is the admin; over TLS a valid token is required.

use std::collections::HashMap;

use super::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
}

pub const ADMIN_USER: &str = "admin";
pub const VIEWER_USER: &str = "viewer";

#[derive(Debug, Clone)]
pub struct Authenticator {
    tokens: HashMap<String, User>,
    require_token: bool,
}

impl Authenticator {
    pub fn new(admin_token: &str, viewer_token: &str, require_token: bool) -> Self {
        let mut tokens = HashMap::new();
        tokens.insert(
            admin_token.to_string(),
            User {
                name: ADMIN_USER.to_string(),
                role: Role::Admin,
            },
        );
        tokens.insert(
            viewer_token.to_string(),
            User {
                name: VIEWER_USER.to_string(),
                role: Role::Viewer,
            },
        );
        Self {
            tokens,
            require_token,
        }
    }

    /// Resolves the `Authorization` header to a user; 401 for a bad or (over TLS) missing token.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<User, ApiError> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim);
        match token {
            Some(token) => self
                .tokens
                .get(token)
                .cloned()
                .ok_or_else(ApiError::unauthorized),
            None if self.require_token => Err(ApiError::unauthorized()),
            None => Ok(User {
                name: ADMIN_USER.to_string(),
                role: Role::Admin,
            }),
        }
    }
}

/// Whether a verb changes state (and so is denied to the viewer).
pub fn is_write(verb: &str) -> bool {
    !matches!(verb, "get" | "list" | "watch")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_users() {
        let auth = Authenticator::new("a-token", "v-token", true);
        assert_eq!(
            auth.authenticate(Some("Bearer a-token")).unwrap().role,
            Role::Admin
        );
        assert_eq!(
            auth.authenticate(Some("Bearer v-token")).unwrap().name,
            VIEWER_USER
        );
        assert_eq!(
            auth.authenticate(Some("Bearer nope")).unwrap_err().code,
            401
        );
        assert_eq!(auth.authenticate(None).unwrap_err().code, 401);
    }

    #[test]
    fn plain_http_callers_without_a_token_are_admin() {
        let auth = Authenticator::new("a", "v", false);
        assert_eq!(auth.authenticate(None).unwrap().role, Role::Admin);
        assert_eq!(
            auth.authenticate(Some("Bearer v")).unwrap().role,
            Role::Viewer
        );
    }

    #[test]
    fn only_reads_are_reads() {
        assert!(!is_write("watch"));
        assert!(is_write("patch") && is_write("deletecollection") && is_write("create"));
    }
}

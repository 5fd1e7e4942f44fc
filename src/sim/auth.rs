//! Who is calling the simulated API server and what they may do. Bearer tokens map to three
//! users: an admin who may do anything, a viewer who may only read, and a restricted user who
//! reads like the viewer but may not read Calico IPAM or the operator's TigeraStatus (as a
//! namespace-admin role without the Calico cluster roles would), so read-only and forbidden
//! paths can be exercised end to end. Over plain HTTP kubectl sends no credentials at all, so
//! there an anonymous caller is the admin; over TLS a valid token is required. It decides;
//! the wording of a refusal is `error`'s and the HTTP side is `http`'s.

use std::collections::HashMap;

use super::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
    /// A viewer that may not read the resources in `RESTRICTED_RESOURCES`.
    Restricted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
}

pub const ADMIN_USER: &str = "admin";
pub const VIEWER_USER: &str = "viewer";
pub const RESTRICTED_USER: &str = "restricted";

/// (API group, resource) the restricted user may not get, list or watch: Calico IPAM in both
/// API groups (DOMAIN.md §0.3) and the operator's TigeraStatus.
pub const RESTRICTED_RESOURCES: [(&str, &str); 7] = [
    ("crd.projectcalico.org", "ipamblocks"),
    ("crd.projectcalico.org", "blockaffinities"),
    ("crd.projectcalico.org", "ipamhandles"),
    ("crd.projectcalico.org", "ipamconfigs"),
    ("projectcalico.org", "ipamconfigurations"),
    ("projectcalico.org", "blockaffinities"),
    ("operator.tigera.io", "tigerastatuses"),
];

/// The restricted user's token, derived from the viewer's so the simulator's start-up needs no
/// third secret. Knowing it grants less than the viewer token itself does.
pub fn restricted_token(viewer_token: &str) -> String {
    format!("{viewer_token}-restricted")
}

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
        tokens.insert(
            restricted_token(viewer_token),
            User {
                name: RESTRICTED_USER.to_string(),
                role: Role::Restricted,
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

/// Whether a role may use a verb on a resource (`group` empty for the core group).
pub fn allows(role: Role, verb: &str, group: &str, resource: &str) -> bool {
    match role {
        Role::Admin => true,
        Role::Viewer => !is_write(verb),
        Role::Restricted => {
            !is_write(verb)
                && !RESTRICTED_RESOURCES
                    .iter()
                    .any(|(g, r)| *g == group && *r == resource)
        }
    }
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
    fn the_restricted_user_reads_everything_but_ipam_and_tigera_status() {
        let auth = Authenticator::new("a", "v", true);
        let user = auth
            .authenticate(Some(&format!("Bearer {}", restricted_token("v"))))
            .unwrap();
        assert_eq!(user.name, RESTRICTED_USER);
        assert_eq!(user.role, Role::Restricted);
        for verb in ["get", "list", "watch"] {
            assert!(allows(Role::Restricted, verb, "", "nodes"));
            assert!(allows(
                Role::Restricted,
                verb,
                "crd.projectcalico.org",
                "ippools"
            ));
            assert!(allows(
                Role::Restricted,
                verb,
                "operator.tigera.io",
                "installations"
            ));
            assert!(!allows(
                Role::Restricted,
                verb,
                "crd.projectcalico.org",
                "ipamblocks"
            ));
            assert!(!allows(
                Role::Restricted,
                verb,
                "projectcalico.org",
                "ipamconfigurations"
            ));
            assert!(!allows(
                Role::Restricted,
                verb,
                "projectcalico.org",
                "blockaffinities"
            ));
            assert!(!allows(
                Role::Restricted,
                verb,
                "operator.tigera.io",
                "tigerastatuses"
            ));
            assert!(allows(
                Role::Viewer,
                verb,
                "crd.projectcalico.org",
                "ipamblocks"
            ));
        }
        // Same plural in another group is someone else's resource.
        assert!(allows(
            Role::Restricted,
            "list",
            "example.com",
            "ipamblocks"
        ));
        assert!(!allows(Role::Restricted, "patch", "", "nodes"));
    }

    #[test]
    fn only_reads_are_reads() {
        assert!(!is_write("watch"));
        assert!(is_write("patch") && is_write("deletecollection") && is_write("create"));
    }
}

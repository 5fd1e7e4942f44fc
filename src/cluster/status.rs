//! How the API server's answers become pooltop's words: a Kubernetes `Status` becomes a
//! `WriteError` for ops, a watcher failure becomes a `FeedState` for the console, and a transport
//! failure becomes one readable line. Pure mapping; must not send requests.

use jiff::Timestamp;
use kube::core::Status;
use kube::runtime::watcher;

use super::connect::one_line;
use super::readonly::is_write_refused;
use crate::model::{FeedState, Kind};
use crate::ops::{ObjectRef, WriteError};

/// The innermost cause of an error chain, worded for a person: `connection refused` rather than
/// `ServiceError: client error (Connect)`.
pub fn deepest_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    loop {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".to_owned(),
                std::io::ErrorKind::TimedOut => return "timed out".to_owned(),
                _ => {}
            }
        }
        match current.source() {
            Some(next) => current = next,
            None => return one_line(&current.to_string()),
        }
    }
}

/// The message a failed request should show: the first cause of a Status when it has one
/// (an eviction's "The disruption budget … needs 2 healthy pods"), its message otherwise.
pub fn status_message(status: &Status) -> String {
    let cause = status
        .details
        .as_ref()
        .and_then(|details| details.causes.iter().find(|c| !c.message.is_empty()));
    let text = match cause {
        Some(cause) if status.code == 429 => cause.message.clone(),
        Some(cause) if !status.message.contains(&cause.message) => {
            format!("{}: {}", status.message, cause.message)
        }
        _ => status.message.clone(),
    };
    one_line(&text)
}

/// Maps a failed write (or get) to what an op can act on.
pub fn write_error(error: &kube::Error, target: &ObjectRef) -> WriteError {
    if is_write_refused(error) {
        return WriteError::ReadOnly;
    }
    let kube::Error::Api(status) = error else {
        return WriteError::Unavailable(deepest_cause(error));
    };
    let message = status_message(status);
    match status.code {
        404 => WriteError::NotFound(if message.is_empty() {
            target.display()
        } else {
            message
        }),
        409 if status.reason == "AlreadyExists" => WriteError::AlreadyExists(message),
        409 => WriteError::Conflict(message),
        401 | 403 => WriteError::Forbidden(message),
        400 | 415 | 422 => WriteError::Invalid(message),
        429 => WriteError::TooManyRequests(message),
        500..=599 => WriteError::Unavailable(message),
        _ => WriteError::Other(format!("{} {message}", status.code)),
    }
}

/// What a watcher error means for the kind's feed; `None` keeps the current state (a `410 Gone`
/// is routine: the watcher lists again by itself).
pub fn feed_state(error: &watcher::Error, kind: Kind, now: Timestamp) -> Option<FeedState> {
    let (verb, status) = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status)) => ("list", status.as_ref()),
        watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status))
        | watcher::Error::WatchError(status) => ("watch", status.as_ref()),
        other => {
            return Some(FeedState::Reconnecting {
                since: now,
                error: one_line(&watcher_error_line(other)),
            });
        }
    };
    Some(match status.code {
        410 => return None,
        404 => FeedState::NotInstalled,
        403 => FeedState::Forbidden {
            verb: verb.to_owned(),
            resource: forbidden_resource(status, kind),
        },
        // The watcher keeps retrying (an exec plugin may hand out a fresh token), but the
        // line says what the user must do if it does not.
        401 => FeedState::Reconnecting {
            since: now,
            error: format!(
                "credentials rejected (401 {}): log in again or refresh the token",
                status_message(status)
            ),
        },
        _ => FeedState::Reconnecting {
            since: now,
            error: format!("{} {}", status.code, status_message(status)),
        },
    })
}

fn watcher_error_line(error: &watcher::Error) -> String {
    match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => deepest_cause(e),
        other => other.to_string(),
    }
}

/// `pods`, or `daemonsets.apps`, from a Forbidden Status's details (the resource the
/// credentials lack), falling back to the kind's own name.
fn forbidden_resource(status: &Status, kind: Kind) -> String {
    match status.details.as_ref() {
        Some(details) if !details.kind.is_empty() && details.group.is_empty() => {
            details.kind.clone()
        }
        Some(details) if !details.kind.is_empty() => format!("{}.{}", details.kind, details.group),
        _ => kind.resource().to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use kube::core::response::{StatusCause, StatusDetails};

    fn details() -> StatusDetails {
        StatusDetails {
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes: Vec::new(),
            retry_after_seconds: 0,
        }
    }

    fn status(code: u16, reason: &str, message: &str) -> Status {
        Status {
            code,
            reason: reason.to_owned(),
            message: message.to_owned(),
            ..Status::default()
        }
    }

    fn pod() -> ObjectRef {
        ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "Pod".into(),
            plural: "pods".into(),
            namespace: Some("default".into()),
            name: "web-1".into(),
        }
    }

    #[test]
    fn a_blocked_eviction_carries_the_budget_cause() {
        let mut blocked = status(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
        );
        blocked.details = Some(StatusDetails {
            causes: vec![StatusCause {
                reason: "DisruptionBudget".into(),
                message: "The disruption budget web needs 2 healthy pods and has 2 currently"
                    .into(),
                field: String::new(),
            }],
            ..details()
        });
        let error = write_error(&kube::Error::Api(Box::new(blocked)), &pod());
        assert_eq!(
            error,
            WriteError::TooManyRequests(
                "The disruption budget web needs 2 healthy pods and has 2 currently".into()
            )
        );
    }

    #[test]
    fn codes_map_to_write_errors() {
        let cases = [
            (
                status(404, "NotFound", "pods \"web-1\" not found"),
                "NotFound",
            ),
            (status(409, "AlreadyExists", "exists"), "AlreadyExists"),
            (status(409, "Conflict", "modified"), "Conflict"),
            (status(403, "Forbidden", "no"), "Forbidden"),
            (status(422, "Invalid", "bad"), "Invalid"),
            (status(503, "ServiceUnavailable", "down"), "Unavailable"),
        ];
        for (status, expected) in cases {
            let error = write_error(&kube::Error::Api(Box::new(status)), &pod());
            assert!(format!("{error:?}").starts_with(expected), "{error:?}");
        }
    }

    #[test]
    fn forbidden_lists_and_watches_name_the_verb_and_resource() {
        let mut denied = status(403, "Forbidden", "daemonsets.apps is forbidden");
        denied.details = Some(StatusDetails {
            kind: "daemonsets".into(),
            group: "apps".into(),
            ..details()
        });
        let now = Timestamp::UNIX_EPOCH;
        let list = watcher::Error::InitialListFailed(kube::Error::Api(Box::new(denied.clone())));
        assert_eq!(
            feed_state(&list, Kind::DaemonSets, now),
            Some(FeedState::Forbidden {
                verb: "list".into(),
                resource: "daemonsets.apps".into()
            })
        );
        let watch = watcher::Error::WatchError(Box::new(status(403, "Forbidden", "no")));
        assert_eq!(
            feed_state(&watch, Kind::Pods, now),
            Some(FeedState::Forbidden {
                verb: "watch".into(),
                resource: "pods".into()
            })
        );
    }

    #[test]
    fn absent_resources_are_not_installed_and_gone_is_routine() {
        let now = Timestamp::UNIX_EPOCH;
        let missing =
            watcher::Error::InitialListFailed(kube::Error::Api(Box::new(status(404, "", ""))));
        assert_eq!(
            feed_state(&missing, Kind::IpamBlocks, now),
            Some(FeedState::NotInstalled)
        );
        let gone = watcher::Error::WatchError(Box::new(status(410, "Expired", "too old")));
        assert_eq!(feed_state(&gone, Kind::Pods, now), None);
    }

    #[test]
    fn rejected_credentials_say_what_to_do() {
        let now = Timestamp::UNIX_EPOCH;
        let rejected = watcher::Error::InitialListFailed(kube::Error::Api(Box::new(status(
            401,
            "Unauthorized",
            "Unauthorized",
        ))));
        let Some(FeedState::Reconnecting { error, since }) =
            feed_state(&rejected, Kind::Nodes, now)
        else {
            panic!("a 401 keeps the watcher retrying");
        };
        assert_eq!(since, now);
        assert_eq!(
            error,
            "credentials rejected (401 Unauthorized): log in again or refresh the token"
        );
    }
}

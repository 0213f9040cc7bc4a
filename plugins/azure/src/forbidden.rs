//! What an HTTP 403 from the Logs Ingestion API means, and what is done about it:
//! the one place that decides. A 403 there says the identity has no Monitoring
//! Metrics Publisher role on the data collection rule, or that a new assignment
//! has not applied yet, which takes up to 30 minutes. So 403s are waited out for
//! a while (records kept, offered again every `forbidden_retry_interval_secs`)
//! and only once they have lasted `forbidden_dead_letter_after_secs` do records
//! go to the dead-letter file. The heartbeat's 403s count toward that period,
//! `check-config` explains the same, and `syslane setup`, which has just assigned
//! the role, waits a 403 out as [`while_role_applies`] says.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The explanation every 403 message gives.
const WHY: &str = "the identity lacks the Monitoring Metrics Publisher role on the rule, or a new assignment has not applied yet (up to 30 minutes)";

/// Since when the endpoint has answered 403 (reset by any accepted request).
#[derive(Debug, Default)]
pub struct ForbiddenPeriod {
    since: Mutex<Option<Instant>>,
    /// How long the last 403 period lasted, once it is over (for one log line).
    ended: Mutex<Option<Duration>>,
}

impl ForbiddenPeriod {
    /// Notes a 403; returns how long 403s have been answered.
    pub fn note(&self) -> Duration {
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        since.get_or_insert_with(Instant::now).elapsed()
    }

    /// Notes an accepted request: a 403 period, if any, is over.
    pub(crate) fn clear(&self) {
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(start) = since.take() {
            *self.ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(start.elapsed());
        }
    }

    /// The length of a 403 period that has just ended, once.
    pub fn take_ended(&self) -> Option<Duration> {
        self.ended.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What to do with the records of a request answered 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnForbidden {
    /// Keep them and offer them again after `after`: the role may still be applying.
    Wait { after: Duration, reason: String },
    /// The 403s have lasted the whole window: refuse them for good (dead-letter).
    DeadLetter { reason: String },
}

/// How 403 answers are treated: retried every `retry` until they have lasted
/// `window`, then refused for good.
#[derive(Debug, Clone)]
pub struct ForbiddenPolicy {
    pub retry: Duration,
    pub window: Duration,
    /// The data collection rule's immutable id, for the messages.
    pub rule: String,
}

impl ForbiddenPolicy {
    /// Decides for records sent to `stream` and answered 403 with the service's
    /// `text`, the 403s having lasted `lasted` (see [`ForbiddenPeriod::note`]).
    pub fn decide(&self, lasted: Duration, stream: &str, text: &str) -> OnForbidden {
        if lasted < self.window {
            OnForbidden::Wait {
                after: self.retry,
                reason: format!(
                    "HTTP 403 for {} s: {text}; the identity lacks the Monitoring Metrics Publisher role on data collection rule {}, or a new role assignment has not applied yet (that takes up to 30 minutes); retrying every {} s, records are kept and go to the dead-letter file only if the 403s last {} s",
                    lasted.as_secs(),
                    self.rule,
                    self.retry.as_secs(),
                    self.window.as_secs()
                ),
            }
        } else {
            OnForbidden::DeadLetter {
                reason: format!(
                    "the Logs Ingestion API answered HTTP 403 to stream {stream} for {} s: {text}; assign the Monitoring Metrics Publisher role on data collection rule {} to the agent's identity, then `syslane dead-letter replay`",
                    lasted.as_secs(),
                    self.rule
                ),
            }
        }
    }

    /// `check-config`'s error for a 403 to its probe of `key` (`stream`).
    pub fn check_error(&self, key: &str, stream: &str, text: &str) -> String {
        format!(
            "the endpoint answered HTTP 403 for {key} {stream}: {text}; the identity needs the Monitoring Metrics Publisher role on data collection rule {}; a role assigned in the last 30 minutes may not have applied yet (the agent retries 403s for {} s before it dead-letters records)",
            self.rule,
            self.window.as_secs()
        )
    }

    /// The line logged once when a 403 period of `lasted` ends.
    pub fn ended(&self, lasted: Duration) -> String {
        format!(
            "azure: the endpoint accepts records again after {} s of HTTP 403: the Monitoring Metrics Publisher role on {} has applied",
            lasted.as_secs(),
            self.rule
        )
    }
}

/// The warning for a heartbeat to `stream` answered 403 with `text` (the
/// heartbeat is not retried: the next one comes at its time).
pub fn heartbeat_warning(stream: &str, text: &str) -> String {
    format!("heartbeat to {stream} not delivered: HTTP 403: {text}; {WHY}")
}

/// What a 403 means to `syslane setup` while it waits for the role it has just
/// assigned: not applied yet, keep waiting (within setup's own time limit).
pub fn while_role_applies() -> &'static str {
    "role assignment not applied yet (403)"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ForbiddenPolicy {
        ForbiddenPolicy {
            retry: Duration::from_secs(60),
            window: Duration::from_secs(3600),
            rule: "dcr-1".into(),
        }
    }

    #[test]
    fn a_403_is_waited_out_until_the_window_ends() {
        let p = policy();
        match p.decide(Duration::from_secs(120), "Custom-Syslog", "no role") {
            OnForbidden::Wait { after, reason } => {
                assert_eq!(after, Duration::from_secs(60));
                assert!(
                    reason.starts_with("HTTP 403 for 120 s: no role;"),
                    "{reason}"
                );
                assert!(
                    reason.contains("dcr-1") && reason.contains("last 3600 s"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        match p.decide(Duration::from_secs(3600), "Custom-Syslog", "no role") {
            OnForbidden::DeadLetter { reason } => {
                assert!(
                    reason.contains("stream Custom-Syslog for 3600 s"),
                    "{reason}"
                );
                assert!(reason.contains("syslane dead-letter replay"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_zero_window_dead_letters_at_the_first_403() {
        let p = ForbiddenPolicy {
            window: Duration::ZERO,
            ..policy()
        };
        assert!(matches!(
            p.decide(Duration::ZERO, "s", "t"),
            OnForbidden::DeadLetter { .. }
        ));
    }

    #[test]
    fn a_period_lasts_until_a_request_is_accepted() {
        let period = ForbiddenPeriod::default();
        assert_eq!(period.take_ended(), None);
        let first = period.note();
        assert!(period.note() >= first);
        period.clear();
        assert!(period.take_ended().is_some());
        assert_eq!(period.take_ended(), None, "reported once");
        period.clear();
        assert_eq!(period.take_ended(), None, "no period, nothing ended");
    }

    #[test]
    fn every_message_says_why() {
        let p = policy();
        assert!(heartbeat_warning("s", "t").ends_with(WHY));
        assert!(p
            .check_error("stream", "Custom-Syslog", "t")
            .contains("3600 s"));
        assert!(p
            .ended(Duration::from_secs(5))
            .contains("after 5 s of HTTP 403"));
        assert!(while_role_applies().contains("403"));
    }
}

//! Two network rules every part of Concierge shares, kept once:
//!
//! - [`Backoff`]: how long to wait before retrying something unreachable
//!   (the inbox poller, the backend client, the reference backend's link
//!   emails, the screen's export retries);
//! - [`is_loopback`]: the only hosts plaintext (IMAP, SMTP, HTTP) may go to.

use std::time::Duration;

/// Capped exponential backoff with "equal jitter": the wait before retry
/// `n` is `d = min(cap, base · 2^(n-1))`, half of it fixed and half random
/// (uniform in `[d/2, d]`). Half fixed so that a retry never comes at once;
/// half random so that many clients that failed together (a backend
/// restart) do not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The exponential's start: the first retry waits `base/2 ..= base`.
    pub base: Duration,
    /// No wait exceeds this.
    pub cap: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap }
    }

    /// The wait before retry `attempt` (counting from 1), with fresh
    /// randomness.
    pub fn delay(&self, attempt: u32) -> Duration {
        use rand::Rng;
        self.delay_at(attempt, rand::thread_rng().gen_range(0.0..=1.0))
    }

    /// The wait before retry `attempt` for a random draw `unit` in `[0, 1]`
    /// (0: the shortest wait, 1: the longest). Pure, for tests.
    pub fn delay_at(&self, attempt: u32, unit: f64) -> Duration {
        // NOTE: 2^20 × any sensible base is past every cap; bounding the
        // shift keeps `1 << n` and the multiplication from overflowing.
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let d = exp.min(self.cap);
        let half = d / 2;
        half + (d - half).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// True for a loopback host name or address (`localhost`, `127.0.0.0/8`,
/// `::1`, with or without IPv6 brackets): the only place plaintext may go.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_wait_doubles_from_base_up_to_the_cap() {
        let b = Backoff::new(100 * MS, 800 * MS);
        let longest: Vec<Duration> = (1..=6).map(|n| b.delay_at(n, 1.0)).collect();
        assert_eq!(
            longest,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 800 * MS, 800 * MS]
        );
    }

    #[test]
    fn half_the_wait_is_fixed_and_half_is_random() {
        let b = Backoff::new(100 * MS, 800 * MS);
        assert_eq!(b.delay_at(3, 0.0), 200 * MS);
        assert_eq!(b.delay_at(3, 0.5), 300 * MS);
        assert_eq!(b.delay_at(3, 1.0), 400 * MS);
        // A draw outside [0, 1] is clamped.
        assert_eq!(b.delay_at(3, 7.0), 400 * MS);
        for n in 1..40 {
            let d = b.delay(n);
            let full = b.delay_at(n, 1.0);
            assert!(d >= full / 2 && d <= full, "{n}: {d:?}");
        }
        let samples: std::collections::HashSet<Duration> = (0..50).map(|_| b.delay(4)).collect();
        assert!(samples.len() > 1, "no jitter");
    }

    #[test]
    fn attempt_zero_and_huge_attempts_neither_panic_nor_exceed_the_cap() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        assert_eq!(b.delay_at(0, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay_at(u32::MAX, 1.0), Duration::from_secs(300));
        let huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(huge.delay_at(30, 1.0), Duration::MAX);
    }

    #[test]
    fn only_loopback_hosts_are_loopback() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "imap.example.com",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "::ffff:10.0.0.1",
            "",
            "[",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}

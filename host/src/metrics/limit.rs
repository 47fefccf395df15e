//! The `max_memory_mb` rule, pure: a service whose tree's RSS is above its limit in `needed`
//! consecutive samples of one run is restarted once for that run. Time and figures come in as
//! arguments; the sampler carries out the restart.

use std::collections::HashMap;

#[derive(Debug, Default)]
struct Over {
    /// `TEND_INSTANCE` of the run the count belongs to: a new run starts from zero.
    instance: String,
    /// RSS of the consecutive samples over the limit, MiB.
    samples: Vec<f64>,
    fired: bool,
}

#[derive(Debug, Default)]
pub struct MemoryLimits {
    services: HashMap<String, Over>,
}

impl MemoryLimits {
    /// Feeds one sample of a service's run. Returns the restart reason when this sample is the
    /// `needed`-th in a row over `limit_mb`.
    pub fn observe(
        &mut self,
        service: &str,
        instance: &str,
        rss_mb: f64,
        limit_mb: Option<u64>,
        needed: u32,
    ) -> Option<String> {
        let Some(limit) = limit_mb else {
            self.services.remove(service);
            return None;
        };
        let over = self.services.entry(service.to_string()).or_default();
        if over.instance != instance {
            *over = Over {
                instance: instance.to_string(),
                ..Default::default()
            };
        }
        if over.fired {
            return None;
        }
        if rss_mb <= limit as f64 {
            over.samples.clear();
            return None;
        }
        over.samples.push(rss_mb);
        if over.samples.len() < needed.max(1) as usize {
            return None;
        }
        over.fired = true;
        let shown: Vec<String> = over.samples.iter().map(|m| format!("{m:.1}")).collect();
        Some(format!(
            "memory limit exceeded: RSS of the process tree {} MiB > max_memory_mb {limit} in {} consecutive samples",
            shown.join(", "),
            over.samples.len()
        ))
    }

    /// Forgets services that are no longer sampled.
    pub fn retain(&mut self, live: impl Fn(&str) -> bool) {
        self.services.retain(|name, _| live(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_after_n_consecutive_samples() {
        let mut m = MemoryLimits::default();
        assert_eq!(m.observe("web", "a.web.1", 120.0, Some(100), 3), None);
        assert_eq!(m.observe("web", "a.web.1", 130.0, Some(100), 3), None);
        let reason = m.observe("web", "a.web.1", 140.0, Some(100), 3).unwrap();
        assert!(reason.contains("120.0, 130.0, 140.0 MiB"), "{reason}");
        assert!(reason.contains("max_memory_mb 100"), "{reason}");
        assert_eq!(m.observe("web", "a.web.1", 150.0, Some(100), 3), None);
        // The next run starts counting afresh.
        assert_eq!(m.observe("web", "a.web.2", 150.0, Some(100), 3), None);
    }

    #[test]
    fn a_sample_under_the_limit_resets_the_count() {
        let mut m = MemoryLimits::default();
        for rss in [120.0, 130.0, 90.0, 120.0, 130.0] {
            assert_eq!(m.observe("web", "i", rss, Some(100), 3), None);
        }
        assert!(m.observe("web", "i", 101.0, Some(100), 3).is_some());
        assert_eq!(m.observe("db", "j", 1e6, None, 1), None);
    }
}

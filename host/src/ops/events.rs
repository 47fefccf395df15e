//! The event bus for front ends: a validated subscription (`?topics=`, `?service=`, and where to
//! resume from) to the daemon-wide `events::Bus`.

use super::{Error, Ops, Result};
use crate::events::{Filter, Follow};
use crate::spec;
use crate::wire::{EventStreamParams, Topic};

impl Ops {
    /// A subscription to the bus: `topics` (comma-separated; default all but `metrics`), `service`;
    /// stored events after `last_event_id` (the `Last-Event-ID` a reconnecting client sends; it wins
    /// over `after`) are replayed first, then it goes live, each event once.
    pub fn follow_events(
        &self,
        p: &EventStreamParams,
        last_event_id: Option<&[u8]>,
    ) -> Result<Follow> {
        let topics = match p.topics.as_deref() {
            None => Topic::default_set(),
            Some(list) => parse_topics(list)?,
        };
        if let Some(s) = &p.service {
            spec::validate_name(s).map_err(|e| Error::invalid("service", e.message))?;
        }
        let not_an_id = "must be an event id (an integer >= 0)";
        let resume = match last_event_id {
            None => None,
            Some(v) => Some(
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .filter(|id| *id >= 0)
                    .ok_or_else(|| Error::invalid("Last-Event-ID", not_an_id))?,
            ),
        };
        if p.after.is_some_and(|a| a < 0) {
            return Err(Error::invalid("after", not_an_id));
        }
        let filter = Filter {
            topics,
            service: p.service.clone(),
        };
        Ok(self.bus.follow(filter, resume.or(p.after)))
    }
}

fn parse_topics(list: &str) -> Result<Vec<Topic>> {
    let mut topics = Vec::new();
    for name in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let topic = Topic::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Topic::ALL.iter().map(|t| t.as_str()).collect();
            Error::invalid(
                "topics",
                format!("unknown topic {name:?}; known: {}", known.join(", ")),
            )
        })?;
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    if topics.is_empty() {
        return Err(Error::invalid("topics", "name at least one topic"));
    }
    Ok(topics)
}

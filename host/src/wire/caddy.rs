//! The Caddy integration (`/api/caddy/*`, `tend caddy`).


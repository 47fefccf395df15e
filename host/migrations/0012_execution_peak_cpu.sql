-- The peak CPU use of a cron execution's process tree over one sampling interval (% of one core), next
-- to its peak memory (`max_rss_bytes`) and CPU time; NULL for executions recorded before, or too short
-- for two samples.
ALTER TABLE cron_executions ADD COLUMN peak_cpu_percent REAL;

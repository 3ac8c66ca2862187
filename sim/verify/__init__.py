"""Stage 4, verify: properties over logs and over many schedules of one scenario."""

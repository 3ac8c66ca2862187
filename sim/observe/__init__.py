"""Stage 3, observe: a run with its sinks and observers, and what they make of it."""

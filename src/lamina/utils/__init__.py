"""Reports built on the trainability resolution: summary and explain."""

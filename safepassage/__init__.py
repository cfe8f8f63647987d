"""safepassage: secure case management for humanitarian rescue networks."""

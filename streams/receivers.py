"""Socket event handlers (filled in by the gateway work)."""

"""GPU workers: one process per render slot, consuming its own partition of the dispatch topic."""

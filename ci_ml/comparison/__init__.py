"""Statistics behind a trustworthy gate: metrics from stored predictions,
paired bootstrap, significance tests and slices."""

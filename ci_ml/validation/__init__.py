"""Data validation (schema rules) and drift against the champion's training profile."""

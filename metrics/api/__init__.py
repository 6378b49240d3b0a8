"""REST endpoint for the metrics: the reports' numbers for one period and subject."""

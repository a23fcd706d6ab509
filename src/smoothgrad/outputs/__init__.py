"""What a reader sees: the figures, the gallery and the report, drawn from stored arrays only."""

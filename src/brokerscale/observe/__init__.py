"""observe: metric sources -> Snapshot; lag evaluation; trigger evaluation -> Findings."""

"""forecast: storage and load trends and projections (pure: samples and limits in, projections out)."""

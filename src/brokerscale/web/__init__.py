"""`brokerscale web`: the dashboard and its JSON API. Every asset ships in this package (air-gapped networks)."""

"""`brokerscale doctor`: what this principal can do on a cluster, and what it lacks."""

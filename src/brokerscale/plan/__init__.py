"""Capacity planning: pure sizing math from a workload and a limits profile, plus renderers."""

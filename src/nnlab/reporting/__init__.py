"""Figures and reports. Everything renders with matplotlib's Agg backend (no screen needed)."""

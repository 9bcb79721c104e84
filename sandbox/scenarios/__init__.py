"""Scripted scenarios: the YAML format, its loader and schema, the runner and reports."""

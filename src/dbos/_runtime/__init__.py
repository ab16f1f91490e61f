"""Runs user code durably: registry, context, step and workflow flows, waits, handles, recovery."""

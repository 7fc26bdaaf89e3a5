"""Blocks of workers: the scaling strategy and the poller that applies it."""

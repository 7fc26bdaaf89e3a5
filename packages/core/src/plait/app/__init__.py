"""Parsl-shaped ``plait.app`` package: apps, app errors and app futures."""

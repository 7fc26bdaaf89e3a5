"""The stand-in Kubernetes cluster (one per xdist worker) and helpers for these tests.

``k8s_apps.py`` beside this file holds the apps HTEX workers run in pods; workers
import it by name, so this directory goes on ``sys.path`` here and on the pods'
``PYTHONPATH`` through their ``pod_template``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from plait_provider_kubernetes.testing.fixtures import kube, kube_cluster

__all__ = ["kube", "kube_cluster"]

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

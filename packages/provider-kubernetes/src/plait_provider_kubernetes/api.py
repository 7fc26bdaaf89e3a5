"""The few Kubernetes API calls the provider makes, through the official client.

Each call has a request timeout, so nothing waits on a silent server; connection
errors and the answers that mean "try again" (429, 500, 502, 503, 504) are retried
a bounded number of times with a short back-off; every other error is raised at
once as :class:`KubernetesAPIError`, quoting the API's own status message. Pods are
sent as dicts and read back as parsed JSON, not as the client's models: a status
poll of a hundred pods then costs one HTTP request and one ``json.loads``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import urllib3

from plait.errors import ExecutionProviderException
from plait_provider_kubernetes.template import WORKER_CONTAINER

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: HTTP statuses that mean the same request may succeed a moment later.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
#: The ``reason`` of an error loading the configuration (before any request).
CONFIG = "configuration"
#: Where a pod finds its service account (so the provider runs inside a cluster).
SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


class KubernetesAPIError(ExecutionProviderException):
    """The Kubernetes API refused a request, or could not be reached.

    :param action: what was asked (``"create pod plait-htex-block-0-1a2b3c4d"``).
    :param status: the HTTP status (0: no answer, or no configuration to ask with).
    :param reason: the API's reason (``"Forbidden"``), the connection error's type, or
        :data:`CONFIG`.
    :param message: the API's status message, quoted as it came.
    """

    def __init__(self, action: str, status: int, reason: str, message: str) -> None:
        self.action = action
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(action, status, reason, message)

    def __str__(self) -> str:
        if self.status == 0 and self.reason == CONFIG:
            return f"cannot {self.action}: {self.message}"
        if self.status == 0:
            return f"cannot {self.action}: the Kubernetes API did not answer ({self.message})"
        return (
            f"cannot {self.action}: the Kubernetes API answered {self.status} {self.reason}: "
            f"{self.message}"
        )


def load_api(kubeconfig: str | None, context: str | None) -> CoreV1Api:
    """A client for the cluster, configured the standard way: ``kubeconfig`` if given;
    else the pod's service account when running inside a cluster (and no ``context``
    is asked for); else ``KUBECONFIG`` or ``~/.kube/config``. The kubeconfig file is
    never written back (token refreshes stay in memory).

    :raises KubernetesAPIError: no usable configuration (status 0, naming the file).
    """
    from kubernetes import client, config

    configuration = client.Configuration()
    in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(
        SERVICE_ACCOUNT_TOKEN
    )
    try:
        if kubeconfig is None and context is None and in_cluster:
            config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        else:
            # read KUBECONFIG now: the client reads it once, when first imported
            path = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
    except Exception as exc:  # the loaders raise many kinds (yaml, KeyError, ConfigException)
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        source = "the in-cluster service account" if in_cluster and not kubeconfig else where
        raise KubernetesAPIError(
            "load the Kubernetes configuration", 0, CONFIG, f"{source}: {exc}"
        ) from exc
    configuration.retries = False  # retried here, a bounded number of times
    return client.CoreV1Api(client.ApiClient(configuration))


class PodAPI:
    """Pod calls in one namespace, with bounded retries and quoted errors.

    :param api_factory: builds the client on first use (so constructing a provider
        reads no configuration and opens no connection).
    :param timeout: seconds one request may take (connect and read each).
    :param retries: extra attempts after a connection error or a retryable status.
    :param backoff: seconds before the first retry; doubled for each further one.
    """

    def __init__(
        self,
        namespace: str,
        api_factory: Callable[[], CoreV1Api],
        timeout: float,
        retries: int,
        backoff: float = 0.2,
    ) -> None:
        self.namespace = namespace
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._factory = api_factory
        self._api: CoreV1Api | None = None

    @property
    def api(self) -> CoreV1Api:
        """The client, built on first use."""
        if self._api is None:
            self._api = self._factory()
        return self._api

    def create(self, manifest: dict[str, Any]) -> None:
        """Create the pod. A retried create that finds the pod already there succeeds:
        the first attempt reached the API and only its answer was lost (pod names are
        unique per block).

        :raises KubernetesAPIError: the API refused the pod (403, 422, 409...).
        """
        name = manifest["metadata"]["name"]
        attempts = [0]

        def create() -> None:
            attempts[0] += 1
            try:
                # the client's validate_call turns the dict into its V1Pod model
                body: Any = manifest
                self._read(self.api.create_namespaced_pod(self.namespace, body, **self._options()))
            except Exception as exc:
                if attempts[0] > 1 and getattr(exc, "status", None) == 409:
                    return
                raise

        self._call(f"create pod {name} in namespace {self.namespace}", create)

    def list(self, selector: str) -> list[dict[str, Any]]:
        """The pods whose labels match ``selector``, as dicts."""
        data = self._call(
            f"list pods with label {selector} in namespace {self.namespace}",
            lambda: self._read(
                self.api.list_namespaced_pod(
                    self.namespace, label_selector=selector, **self._options()
                )
            ),
        )
        items = data.get("items") or []
        return [item for item in items if isinstance(item, dict)]

    def delete(self, name: str) -> bool:
        """Delete the pod (the kubelet stops it gracefully); False if it was already gone."""
        try:
            self._call(
                f"delete pod {name} in namespace {self.namespace}",
                lambda: self._read(
                    self.api.delete_namespaced_pod(name, self.namespace, **self._options())
                ),
            )
        except KubernetesAPIError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def log_tail(self, name: str, lines: int, limit_bytes: int) -> str:
        """The last ``lines`` lines of the pod's log (its worker container's)."""
        response = self._call(
            f"read the log of pod {name} in namespace {self.namespace}",
            lambda: self._raw(
                self.api.read_namespaced_pod_log(
                    name,
                    self.namespace,
                    container=WORKER_CONTAINER,
                    tail_lines=lines,
                    limit_bytes=limit_bytes,
                    **self._options(),
                )
            ),
        )
        return response.decode("utf-8", errors="replace")

    # -- plumbing ----------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        return {"_preload_content": False, "_request_timeout": (self.timeout, self.timeout)}

    @staticmethod
    def _raw(response: Any) -> bytes:
        try:
            data: bytes = response.data
        finally:
            response.release_conn()
        return data

    def _read(self, response: Any) -> dict[str, Any]:
        data = json.loads(self._raw(response) or b"{}")
        return data if isinstance(data, dict) else {}

    def _call(self, action: str, call: Callable[[], T]) -> T:
        """``call()``, retried on transient errors; raises :class:`KubernetesAPIError`."""
        from kubernetes.client.exceptions import ApiException

        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return call()
            except ApiException as exc:
                error = _api_error(action, exc)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                error = KubernetesAPIError(action, 0, type(exc).__name__, _connection_text(exc))
            if attempt == self.retries or not (
                error.status == 0 or error.status in RETRIED_STATUSES
            ):
                raise error
            logger.warning(
                "cannot %s (%s); retrying in %.1f s (%d of %d retries)",
                action,
                error.message if error.status == 0 else f"{error.status} {error.reason}",
                delay,
                attempt + 1,
                self.retries,
            )
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def _api_error(action: str, exc: Any) -> KubernetesAPIError:
    """The API's answer, its Status ``message`` quoted as it came."""
    status = int(getattr(exc, "status", 0) or 0)
    reason = str(getattr(exc, "reason", "") or "")
    body = getattr(exc, "body", None)
    message = ""
    if body:
        try:
            parsed = json.loads(body)
        except (TypeError, ValueError):
            message = str(body).strip()[:500]
        else:
            if isinstance(parsed, dict):
                message = str(parsed.get("message") or "")
                reason = str(parsed.get("reason") or reason)
    if status == 0:
        return KubernetesAPIError(action, 0, reason, reason or str(exc))
    return KubernetesAPIError(action, status, reason, message or reason or "(no message)")


def _connection_text(exc: BaseException) -> str:
    """A connection error's text without urllib3's ``<...Connection object at 0x...>:``."""
    return re.sub(r"^<[^>]*>: ", "", str(exc))

"""An in-memory Kubernetes API server for pods, served over real HTTP (needs ``kmock``).

No registry ships kube-apiserver, so the tests talk to kmock's ``KubernetesEmulator``
made to answer like the real one where a client can tell the difference:

* objects get ``namespace``, ``uid``, ``creationTimestamp`` and a ``resourceVersion``
  that grows with every change; a new pod is ``Pending``; ``generateName`` works;
* a pod is validated as kube-apiserver does for the fields plait and its users set
  (names, labels, containers, images, env, volumes and their mounts, resource
  quantities and requests above limits, ``restartPolicy``, tolerations): 422
  ``Invalid`` with the same wording;
* a namespace must exist (404 ``namespaces "x" not found``); namespaces given as
  forbidden answer 403 as RBAC would (``pods is forbidden: User "..." cannot create
  resource "pods" ...``); a second pod of one name is 409 ``AlreadyExists``;
* ``labelSelector`` and ``fieldSelector`` filter lists and watches; a watch ends after
  ``timeoutSeconds``; ``/version`` answers every field the client requires;
* a pod bound to a node (the pod runner sets ``spec.nodeName`` and a finalizer) is
  deleted gracefully: DELETE marks it with ``deletionTimestamp`` and
  ``deletionGracePeriodSeconds``, the pod runner stops its processes and removes the
  finalizer, and only then is it gone; ``gracePeriodSeconds=0`` deletes at once;
* ``pods/NAME/log`` is the text the pod runner wrote (``tailLines``, ``limitBytes``),
  400 while the container waits to start.

Not emulated (plait does not use them): PUT, deletecollection, other resources,
admission webhooks, quotas. Run it as ``python -m
plait_provider_kubernetes.testing.apiserver --log-dir DIR``: it prints ``PORT <n>``
once it listens on 127.0.0.1 and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import random
import re
import signal
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, cast

import aiohttp.web
import attrs
import kmock

from plait_provider_kubernetes.testing.selectors import SelectorError, field_matcher, label_matcher
from plait_provider_kubernetes.testing.validation import validate_pod

PODS = kmock.resource("", "v1", "pods")
_NAMESPACE_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)$")
#: ``/version``: every field the client's ``VersionInfo`` model requires.
VERSION = {
    "major": "1",
    "minor": "31",
    "emulationMajor": "1",
    "emulationMinor": "31",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "30",
    "gitVersion": "v1.31.0-plait-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22",
    "compiler": "gc",
    "platform": "linux/amd64",
}
#: The user a forbidden request is refused for, as RBAC words it.
USER = "system:serviceaccount:default:plait-test"
#: Requests kept for debugging; older ones are dropped so a long session stays small.
_KEEP_REQUESTS = 1000
_VERBS = {
    kmock.action.CREATE: "create",
    kmock.action.LIST: "list",
    kmock.action.WATCH: "watch",
    kmock.action.FETCH: "get",
    kmock.action.UPDATE: "patch",
    kmock.action.DELETE: "delete",
}
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # what kube-apiserver's generateName uses


def status_error(code: int, reason: str, message: str, **details: Any) -> kmock.KubernetesError:
    """An error kmock renders as a Kubernetes ``Status`` with this code and message."""
    return kmock.KubernetesError(status=code, reason=reason, message=message, details=details)


def now() -> str:
    """The current time as Kubernetes writes timestamps."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define(kw_only=True)
class PodAPIServer(kmock.KubernetesEmulator):
    """kmock's emulator, answering for pods and namespaces as kube-apiserver does.

    :param namespaces: namespaces that exist (``default`` always does).
    :param forbidden: namespaces where every pod request is refused with 403.
    :param log_dir: where the pod runner writes ``NAMESPACE/NAME.log``.
    """

    namespaces: tuple[str, ...] = ()
    forbidden: frozenset[str] = frozenset()
    log_dir: str = "."
    _version: int = attrs.field(default=0, init=False)
    _namespace_objects: dict[str, dict[str, Any]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.resources["v1/pods"] = kmock.ResourceInfo(
            kind="Pod",
            singular="pod",
            namespaced=True,
            verbs={"create", "delete", "get", "list", "patch", "watch"},
            subresources={"status", "log"},
        )
        for name in sorted({"default", *self.namespaces, *self.forbidden}):
            self._namespace_objects[name] = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": self._new_metadata({"name": name}),
                "status": {"phase": "Active"},
            }

    def _next_version(self) -> str:
        """A new ``resourceVersion``: it grows with every change, as etcd's revision does."""
        self._version += 1
        return str(self._version)

    def _new_metadata(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **metadata,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": now(),
            "resourceVersion": self._next_version(),
        }

    # -- requests ----------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """Answer what kmock's URL parsing cannot (``/version/``, ``/api/v1/namespaces``)
        before it tries."""
        path = raw_request.path.rstrip("/")
        if raw_request.method == "GET" and path == "/version":
            return aiohttp.web.json_response(VERSION)
        if raw_request.method == "GET" and path == "/api/v1/namespaces":
            items = list(self._namespace_objects.values())
            metadata = {"resourceVersion": str(self._version)}
            body = {"apiVersion": "v1", "kind": "NamespaceList", "metadata": metadata}
            return aiohttp.web.json_response({**body, "items": items})
        if raw_request.method == "GET" and (found := _NAMESPACE_PATH.match(path)):
            namespace = self._namespace_objects.get(found[1])
            if namespace is not None:
                return aiohttp.web.json_response(namespace)
            return await self._render_error(
                status_error(404, "NotFound", f'namespaces "{found[1]}" not found')
            )
        return await super().__call__(raw_request)

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        """Pod requests are checked and completed here; lists and reads of pods are
        answered from kmock's store directly (kmock's matching of every request against
        its reactions costs ~10 ms, more than a poll should); the rest goes to kmock."""
        if len(self._requests) > 2 * _KEEP_REQUESTS:
            del self._requests[:-_KEEP_REQUESTS]
        if request.resource == PODS:
            response = self._pod_request(request)
            if response is not None:
                return response
        return await super()._handle(request)

    def _pod_request(self, request: kmock.Request) -> aiohttp.web.StreamResponse | None:
        """Check and complete a pod request before kmock stores it; a response returned
        here (a list, a pod, a log) is the answer."""
        namespace, name, action = request.namespace, request.name, request.action
        if namespace in self.forbidden and action is not None:
            subject = f'pods "{name}"' if name else "pods"
            raise status_error(
                403,
                "Forbidden",
                f'{subject} is forbidden: User "{USER}" cannot {_VERBS[action]} resource "pods" '
                f'in API group "" in the namespace "{namespace}"',
                kind="pods",
            )
        if action == kmock.action.CREATE:
            self._admit(request)
            return None
        if action == kmock.action.LIST:
            return self._pod_list(request)
        if name is None or action not in (
            kmock.action.FETCH,
            kmock.action.UPDATE,
            kmock.action.DELETE,
        ):
            return None
        stored = self._stored(namespace, name)
        if stored is None:
            raise status_error(404, "NotFound", f'pods "{name}" not found', name=name, kind="pods")
        if action == kmock.action.FETCH and request.subresource == "log":
            return self._log(request, stored)
        if action == kmock.action.FETCH:
            return aiohttp.web.json_response(stored.raw)
        if action == kmock.action.UPDATE and isinstance(request.data, dict):
            metadata = request.data.setdefault("metadata", {})
            if isinstance(metadata, dict):
                metadata["resourceVersion"] = self._next_version()
        elif action == kmock.action.DELETE:
            self._prepare_delete(request, stored)
        return None

    def _stored(self, namespace: str | None, name: str) -> kmock.Object | None:
        key = (PODS, namespace, name)
        if key not in self.objects:
            return None
        stored = self.objects[key]
        return None if stored.deleted else stored

    def _admit(self, request: kmock.Request) -> None:
        """Validate a new pod and fill in what the API server adds."""
        pod = request.data
        if not isinstance(pod, dict):
            raise status_error(400, "BadRequest", "the body of the request is not a pod")
        metadata = pod.setdefault("metadata", {})
        namespace = request.namespace or metadata.get("namespace") or "default"
        if metadata.get("namespace", namespace) != namespace:
            raise status_error(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on "
                "the request",
            )
        if namespace not in self._namespace_objects:
            raise status_error(
                404, "NotFound", f'namespaces "{namespace}" not found', name=namespace
            )
        if not metadata.get("name") and metadata.get("generateName"):
            suffix = "".join(random.choices(_NAME_CHARS, k=5))
            metadata["name"] = f"{metadata['generateName']}{suffix}"
        causes = validate_pod(pod)
        name = metadata.get("name") or ""
        if causes:
            joined = causes[0] if len(causes) == 1 else f"[{', '.join(causes)}]"
            raise status_error(
                422, "Invalid", f'Pod "{name}" is invalid: {joined}', name=name, kind="Pod"
            )
        if self._stored(namespace, name) is not None:
            raise status_error(
                409, "AlreadyExists", f'pods "{name}" already exists', name=name, kind="pods"
            )
        pod.update(apiVersion="v1", kind="Pod")
        pod["metadata"] = self._new_metadata({**metadata, "namespace": namespace})
        spec = pod["spec"]
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("schedulerName", "default-scheduler")
        pod["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}

    def _prepare_delete(self, request: kmock.Request, stored: kmock.Object) -> None:
        """Graceful deletion: a pod on a node keeps its finalizer until the pod runner has
        stopped it; ``gracePeriodSeconds=0`` (force) removes it at once."""
        grace = request.params.get("gracePeriodSeconds")
        if isinstance(request.data, dict) and request.data.get("gracePeriodSeconds") is not None:
            grace = request.data["gracePeriodSeconds"]
        metadata = stored.get("metadata", {})
        if metadata.get("deletionTimestamp"):
            return
        if grace is not None and int(grace) == 0:
            stored.patch({"metadata": {"finalizers": None}})
        elif metadata.get("finalizers"):
            seconds = stored.get("spec", {}).get("terminationGracePeriodSeconds", 30)
            stored.patch(
                {
                    "metadata": {
                        "deletionGracePeriodSeconds": int(grace if grace is not None else seconds),
                        "resourceVersion": self._next_version(),
                    }
                }
            )

    def _log(self, request: kmock.Request, stored: kmock.Object) -> aiohttp.web.StreamResponse:
        """The container's output as the pod runner wrote it, as plain text."""
        name = stored["metadata"]["name"]
        containers = [c.get("name") for c in stored.get("spec", {}).get("containers", [])]
        container = request.params.get("container") or (containers[0] if containers else "")
        if container not in containers:
            raise status_error(
                400, "BadRequest", f"container {container} is not valid for pod {name}"
            )
        started = any(
            s.get("name") == container and ("running" in s["state"] or "terminated" in s["state"])
            for s in stored.get("status", {}).get("containerStatuses", [])
        )
        if not started:
            raise status_error(
                400,
                "BadRequest",
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating',
            )
        path = os.path.join(self.log_dir, request.namespace or "default", f"{name}.log")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        if request.params.get("tailLines"):
            keep = int(request.params["tailLines"])
            data = b"".join(data.splitlines(keepends=True)[-keep:]) if keep > 0 else b""
        if request.params.get("limitBytes"):
            data = data[: int(request.params["limitBytes"])]
        return aiohttp.web.Response(body=data, content_type="text/plain", charset="utf-8")

    # -- serving lists, watches and the version -----------------------------

    def _matcher(self, request: kmock.Request) -> Callable[[Mapping[str, Any]], bool]:
        try:
            by_label = label_matcher(request.params.get("labelSelector", ""))
            by_field = field_matcher(request.params.get("fieldSelector", ""))
        except SelectorError as exc:
            raise status_error(400, "BadRequest", str(exc)) from None
        return lambda obj: by_label(obj) and by_field(obj)

    def _pod_list(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        matches = self._matcher(request)
        items = [
            obj.raw
            for (resource, namespace, _), obj in self.objects.items()
            if resource == PODS
            and not obj.deleted
            and (request.namespace is None or namespace == request.namespace)
            and matches(obj.raw)
        ]
        metadata = {"resourceVersion": str(self._version)}
        body = {"apiVersion": "v1", "kind": "PodList", "metadata": metadata, "items": items}
        return aiohttp.web.json_response(body)

    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[Any]:
        matches = self._matcher(request)
        timeout = float(request.params.get("timeoutSeconds") or 0) or None
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        stream = cast(AsyncGenerator[Any, None], super()._serve_watch(request))
        try:
            while True:
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return
                try:
                    event = await asyncio.wait_for(anext(stream), remaining)
                except (TimeoutError, StopAsyncIteration):
                    return
                if not isinstance(event, dict) or matches(event.get("object") or {}):
                    yield event
        finally:
            await stream.aclose()


def _qos_class(spec: Mapping[str, Any]) -> str:
    """Kubernetes' QoS class: Guaranteed when every container's requests equal its limits
    for CPU and memory, BestEffort when none sets any, else Burstable."""
    containers = spec.get("containers") or []
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).get(kind) is not None
        and (r.get("requests") or r.get("limits") or {}).get(kind) == r["limits"][kind]
        for r in resources
        for kind in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


async def serve(server: PodAPIServer, port: int, ready: Callable[[int], None]) -> None:
    """Serve ``server`` on 127.0.0.1:``port`` (0: any free port) until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server, kmock.Server(server, host="127.0.0.1", port=port or None) as http:
        ready(http.port)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--log-dir", required=True, help="where the pod runner writes logs")
    parser.add_argument("--namespace", action="append", default=[], help="a namespace")
    parser.add_argument("--forbid", action="append", default=[], help="a 403 namespace")
    args = parser.parse_args(argv)
    server = PodAPIServer(
        namespaces=tuple(args.namespace), forbidden=frozenset(args.forbid), log_dir=args.log_dir
    )
    asyncio.run(serve(server, args.port, lambda port: print(f"PORT {port}", flush=True)))


if __name__ == "__main__":
    main()

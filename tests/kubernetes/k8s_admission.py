"""Mutating admission webhooks, as the API server calls them: every
MutatingWebhookConfiguration's webhooks (configurations in name order) whose
rules, namespaceSelector and objectSelector match are sent an
AdmissionReview (admission.k8s.io/v1) over HTTPS verified with the
caBundle; a JSONPatch answer is applied; a denial or (with failurePolicy
Fail) a failed call refuses the request with the API server's messages.
reinvocationPolicy IfNeeded calls a webhook once more when a later one
changed the object. Services in clientConfig are reached through
--service-endpoint NAMESPACE/NAME=HOST:PORT (no cluster network here),
with the TLS name NAME.NAMESPACE.svc as the real API server uses."""
import base64
import copy
import http.client
import json
import socket
import ssl
import urllib.parse
import uuid


class AdmissionError(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def _matches_rule(rule, operation, resource):
    def has(values, value):
        return "*" in values or value in values
    return (has(rule.get("operations", []), operation)
            and has(rule.get("apiGroups", []), resource.group)
            and has(rule.get("apiVersions", []), resource.version)
            and has(rule.get("resources", []), resource.plural))


def selector_matches(selector, labels):
    """A LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists,
    DoesNotExist). An empty or absent selector matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def json_patch(document, patch):
    """RFC 6902 add, remove, replace, test (what webhooks send)."""
    doc = copy.deepcopy(document)
    for op in patch:
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in op["path"].split("/")[1:]]
        parent = doc
        for token in tokens[:-1]:
            parent = parent[int(token)] if isinstance(parent, list) else parent[token]
        last = tokens[-1]
        kind = op["op"]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(index, op["value"])
            elif kind == "remove":
                del parent[index]
            elif kind == "replace":
                parent[index] = op["value"]
            elif kind == "test" and parent[index] != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
        else:
            if kind == "add" or kind == "replace":
                if kind == "replace" and last not in parent:
                    raise KeyError(op["path"])
                parent[last] = op["value"]
            elif kind == "remove":
                del parent[last]
            elif kind == "test" and parent.get(last) != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
    return doc


class Admission:
    def __init__(self, store, service_endpoints):
        self.store = store
        self.services = dict(e.split("=", 1) for e in service_endpoints)

    def webhooks(self):
        configs = [obj for (group, plural, _, _), obj in sorted(self.store.objects.items())
                   if plural == "mutatingwebhookconfigurations"]
        return [hook for config in configs for hook in config.get("webhooks") or []]

    def mutate(self, resource, ns, obj, operation, dry_run=False):
        """The object after every matching webhook, or AdmissionError."""
        ns_labels = {}
        if ns:
            namespace = self.store.get(("", "namespaces", None, ns)) or {}
            ns_labels = namespace.get("metadata", {}).get("labels") or {}
        hooks = [h for h in self.webhooks() if self._applies(h, resource, ns_labels, obj, operation)]
        changed_by = {}
        for index, hook in enumerate(hooks):
            before = obj
            obj = self._call(hook, resource, ns, obj, operation, dry_run)
            if obj != before:
                changed_by[index] = True
        for index, hook in enumerate(hooks):  # reinvocation: once, if a later webhook changed it
            later_changed = any(i > index for i in changed_by)
            if hook.get("reinvocationPolicy") == "IfNeeded" and later_changed:
                obj = self._call(hook, resource, ns, obj, operation, dry_run)
        return obj

    def _applies(self, hook, resource, ns_labels, obj, operation):
        if not any(_matches_rule(r, operation, resource) for r in hook.get("rules") or []):
            return False
        if resource.namespaced and not selector_matches(hook.get("namespaceSelector"), ns_labels):
            return False
        labels = obj.get("metadata", {}).get("labels") or {}
        return selector_matches(hook.get("objectSelector"), labels)

    def _target(self, hook):
        config = hook.get("clientConfig") or {}
        if "url" in config:
            return config["url"], None
        service = config["service"]
        key = f"{service['namespace']}/{service['name']}"
        port = service.get("port", 443)
        url = f"https://{service['name']}.{service['namespace']}.svc:{port}{service.get('path', '/')}"
        if key not in self.services:
            return url, f"service \"{service['name']}\" not found"
        return url, None

    def _call(self, hook, resource, ns, obj, operation, dry_run):
        name = hook["name"]
        if dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise AdmissionError(400, "BadRequest", f'admission webhook "{name}" does not support '
                                                    "dry run")
        url, problem = self._target(hook)
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
            "resource": {"group": resource.group, "version": resource.version,
                         "resource": resource.plural},
            "namespace": ns or "", "name": obj.get("metadata", {}).get("name", ""),
            "operation": operation, "object": obj, "dryRun": dry_run,
            "userInfo": {"username": "weft-test"}}}
        try:
            if problem:
                raise OSError(problem)
            answer = self._post(hook, url, review)
        except (OSError, ValueError, http.client.HTTPException) as e:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return obj
            raise AdmissionError(500, "InternalError",
                                 f'Internal error occurred: failed calling webhook "{name}": '
                                 f'failed to call webhook: Post "{url}": {e}')
        response = answer.get("response") or {}
        if response.get("uid") != review["request"]["uid"]:
            raise AdmissionError(500, "InternalError", f'Internal error occurred: failed calling '
                                                       f'webhook "{name}": expected response.uid')
        if not response.get("allowed"):
            status = response.get("status") or {}
            raise AdmissionError(status.get("code", 400), status.get("reason", "BadRequest"),
                                 f'admission webhook "{name}" denied the request: '
                                 f'{status.get("message", "")}')
        if response.get("patch"):
            if response.get("patchType") != "JSONPatch":
                raise AdmissionError(500, "InternalError", f'webhook "{name}": unsupported patchType')
            obj = json_patch(obj, json.loads(base64.b64decode(response["patch"])))
        return obj

    def _post(self, hook, url, review):
        """POSTs the review; TLS is verified against the caBundle and the
        URL's host (for a service, NAME.NAMESPACE.svc) while the connection
        goes to the mapped address."""
        config = hook.get("clientConfig") or {}
        context = ssl.create_default_context(
            cadata=base64.b64decode(config["caBundle"]).decode() if config.get("caBundle") else None)
        parts = urllib.parse.urlsplit(url)
        address = f"{parts.hostname}:{parts.port or 443}"
        if "service" in config:
            service = config["service"]
            address = self.services[f"{service['namespace']}/{service['name']}"]
        host, port = address.rsplit(":", 1)
        timeout = hook.get("timeoutSeconds", 10)
        try:
            sock = socket.create_connection((host, int(port)), timeout=timeout)
        except ConnectionRefusedError:
            raise OSError(f"dial tcp {address}: connect: connection refused")
        connection = http.client.HTTPSConnection(parts.hostname, timeout=timeout, context=context)
        connection.sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        try:
            connection.request("POST", parts.path or "/", body=json.dumps(review),
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise OSError(f"the server responded with {response.status}: {body[:200]!r}")
            return json.loads(body)
        finally:
            connection.close()

#!/usr/bin/python3
"""A test double of the Kubernetes API server, in the Python standard
library, faithful in the parts Weft and kubectl use (see
docs/kubernetes-test-apiserver.md for what it implements and what not).

  /usr/bin/python3 tests/kubernetes/apiserver.py --port 0 [--tls-cert C --tls-key K]
      [--token T]... [--history N] [--bookmark-seconds S] [--state FILE]

Prints "listening on PORT" once it serves. Test hooks under /_test/ (not
Kubernetes API): POST /_test/compact (forget the watch history: the next
watch from an older version gets 410), POST /_test/end-watches (close every
open watch stream), POST /_test/gone-as-http (410 as an HTTP status instead
of an ERROR event). Mutating admission webhooks are called on create
(k8s_admission.py); --service-endpoint maps a webhook's Service to an
address here."""
import argparse
import base64
import json
import re
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, __import__("os").path.dirname(__file__))
from k8s_admission import Admission, AdmissionError  # noqa: E402
from k8s_patch import merge_patch, server_side_apply, strategic_merge_patch  # noqa: E402
from k8s_resources import Registry  # noqa: E402
from k8s_schema import apply_schema  # noqa: E402
from k8s_store import Gone, Store  # noqa: E402
from k8s_tokens import TokenError, Tokens  # noqa: E402

VERSION = {"major": "1", "minor": "29", "gitVersion": "v1.29.0", "gitCommit": "weft-test",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.21",
           "compiler": "gc", "platform": "linux/amd64"}
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "details": self.details,
                "code": self.code}


class State:
    def __init__(self, args):
        self.registry = Registry()
        self.store = Store(history=args.history, state_file=args.state)
        self.tokens = set(args.token)
        # TokenRequest and TokenReview; their signing key kept with the state
        self.service_tokens = Tokens(self.store, args.state + ".token-key" if args.state else None)
        self.bookmark_seconds = args.bookmark_seconds
        self.gone_as_http = False
        self.next_cluster_ip = 10
        self.admission = Admission(self.store, args.service_endpoint)
        if self.store.load():  # a restart: CRDs are served again, nothing is re-created
            for (group, plural, _, _), obj in list(self.store.objects.items()):
                if plural == "customresourcedefinitions":
                    self.registry.register_crd(obj)
                if plural == "services":
                    self.next_cluster_ip += 1
            return
        for ns in ("default", "kube-system", "kube-public"):
            self.store.create(("", "namespaces", None, ns),
                              {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                               "status": {"phase": "Active"}})


TOKEN_REQUEST = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/serviceaccounts/(?P<name>[^/]+)/token$")
TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
PATH = re.compile(r"^/(?:api/(?P<cv>v1)|apis/(?P<g>[^/]+)/(?P<v>[^/]+))"
                  r"(?:/namespaces/(?P<ns>[^/]+)(?=/[^/]+))?"
                  r"(?:/(?P<plural>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>status))?)?)?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set by main

    def log_message(self, fmt, *args):  # quiet; errors go to stderr anyway
        pass

    # Plumbing.
    def send_json(self, code, body, content_type="application/json"):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        try:
            return json.loads(self.raw_body or b"{}")
        except ValueError:
            raise ApiError(400, "BadRequest", "the body is not JSON (this test server reads JSON, "
                                              "which is also YAML)")

    def dispatch(self, method):
        # The body is read before anything is answered. One answered unread
        # (a DELETE's DeleteOptions, a POST refused as unauthorized) stayed
        # on the keep-alive connection and was taken for the head of the
        # next request on it, which got a 400.
        length = int(self.headers.get("Content-Length") or 0)
        self.raw_body = self.rfile.read(length) if length else b""
        try:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if not url.path.startswith("/_test/") and not self.authorized():
                raise ApiError(401, "Unauthorized", "Unauthorized")
            self.route(method, url.path, query)
        except ApiError as e:
            self.send_json(e.code, e.status())
        except (BrokenPipeError, ConnectionResetError):
            pass

    def authorized(self):
        if not self.state.tokens:
            return True
        header = self.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.state.tokens

    do_GET = lambda self: self.dispatch("GET")  # noqa: E731
    do_POST = lambda self: self.dispatch("POST")  # noqa: E731
    do_PUT = lambda self: self.dispatch("PUT")  # noqa: E731
    do_PATCH = lambda self: self.dispatch("PATCH")  # noqa: E731
    do_DELETE = lambda self: self.dispatch("DELETE")  # noqa: E731

    # Routing.
    def route(self, method, path, query):
        s = self.state
        if path.startswith("/_test/") and method == "POST":
            return self.test_hook(path)
        if method == "GET":
            if path == "/version":
                return self.send_json(200, VERSION)
            if path in ("/healthz", "/readyz", "/livez"):
                return self.send_text(200, "ok")
            if path in ("/api", "/apis"):
                if "as=APIGroupDiscoveryList" in self.headers.get("Accept", "") and \
                        "v=v2;" in self.headers.get("Accept", ""):
                    return self.send_json(200, s.registry.aggregated(core=path == "/api"),
                                          AGGREGATED)
                body = s.registry.api_versions() if path == "/api" else s.registry.api_group_list()
                return self.send_json(200, body)
            if path == "/openapi/v3":
                return self.send_json(200, s.registry.openapi_root())
            if path.startswith("/openapi/v3/"):
                parts = path[len("/openapi/v3/"):].split("/")
                group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
                if not s.registry.in_group_version(group, version):
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return self.send_json(200, s.registry.openapi_document(group, version))
        if method == "POST" and (path == TOKEN_REVIEWS or TOKEN_REQUEST.match(path)):
            return self.tokens_api(path)
        match = PATH.match(path)
        if not match:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group, version = ("", "v1") if match["cv"] else (match["g"], match["v"])
        if not match["plural"]:
            if method != "GET" or not s.registry.in_group_version(group, version):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self.send_json(200, s.registry.api_resource_list(group, version))
        resource = s.registry.find(group, version, match["plural"])
        if resource is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ns = match["ns"] if resource.namespaced else None
        if resource.namespaced and ns is None and (method != "GET" or match["name"]):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name, sub = match["name"], match["sub"]
        if method == "GET" and name:
            return self.send_json(200, self.get_or_404(resource, ns, name))
        if method == "GET" and query.get("watch") in ("1", "true"):
            return self.watch(resource, ns, query)
        if method == "GET":
            return self.list(resource, ns, query)
        if method == "POST" and not name:
            return self.send_json(201, self.create(resource, ns, self.body(), query))
        if method == "PUT" and name:
            return self.send_json(200, self.update(resource, ns, name, self.body(), sub, query))
        if method == "PATCH" and name:
            return self.patch(resource, ns, name, sub, query)
        if method == "DELETE" and name:
            return self.send_json(200, self.delete(resource, ns, name))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")

    def tokens_api(self, path):
        """TokenReview, and TokenRequest (a service account's `token` subresource)."""
        if path == TOKEN_REVIEWS:
            return self.send_json(201, self.state.service_tokens.review(self.body()))
        match = TOKEN_REQUEST.match(path)
        try:
            issued = self.state.service_tokens.request(match["ns"], match["name"], self.body())
        except TokenError as e:
            raise ApiError(e.code, e.reason, e.message)
        self.send_json(201, issued)

    def send_text(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def test_hook(self, path):
        s = self.state
        if path == "/_test/compact":
            s.store.compact()
        elif path == "/_test/end-watches":
            s.store.end_watches()
        elif path == "/_test/gone-as-http":
            s.gone_as_http = True
        else:
            raise ApiError(404, "NotFound", f"no test hook {path}")
        self.send_json(200, {"hook": path, "done": True})

    # Reads.
    def get_or_404(self, resource, ns, name):
        obj = self.state.store.get((resource.group, resource.plural, ns, name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{resource.plural}{self.group_suffix(resource)} '
                                            f'"{name}" not found',
                           {"name": name, "group": resource.group, "kind": resource.plural})
        return obj

    @staticmethod
    def group_suffix(resource):
        return f".{resource.group}" if resource.group else ""

    def list(self, resource, ns, query):
        items, rv = self.state.store.list(resource.group, resource.plural, ns)
        items = [o for o in items if selected(o, query)]
        start = 0
        if query.get("continue"):
            token = json.loads(base64.b64decode(query["continue"]))
            if int(token["rv"]) < self.state.store.compacted:
                raise ApiError(410, "Expired", "The provided continue parameter is too old to "
                                               "display a consistent list result.")
            start, rv = token["start"], token["rv"]
        limit = int(query.get("limit") or 0)
        page = items[start:start + limit] if limit else items[start:]
        meta = {"resourceVersion": rv}
        if limit and start + limit < len(items):
            meta["continue"] = base64.b64encode(json.dumps(
                {"rv": rv, "start": start + limit}).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        self.send_json(200, {"kind": f"{resource.kind}List", "apiVersion": resource.group_version,
                             "metadata": meta, "items": page})

    def watch(self, resource, ns, query):
        s = self.state
        timeout = int(query.get("timeoutSeconds") or 1800)
        since = query.get("resourceVersion")
        bookmarks = s.bookmark_seconds if query.get("allowWatchBookmarks") == "true" else None
        initial = []
        if not since or since == "0":  # "start at most recent": current objects first
            initial, since = s.store.list(resource.group, resource.plural, ns)
        events = s.store.watch(resource.group, resource.plural, ns, int(since),
                               time.monotonic() + timeout, bookmarks)
        try:
            first = next(events, None)
        except Gone as e:
            error = ApiError(410, "Expired", str(e))
            if s.gone_as_http:
                raise error
            first, events = ("error", error.status()), iter(())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for obj in initial:
            if selected(obj, query):
                self.chunk({"type": "ADDED", "object": obj})
        try:
            item = first
            while item is not None:
                if item[0] == "event" and selected(item[2], query):
                    self.chunk({"type": item[1], "object": item[2]})
                elif item[0] == "bookmark":
                    self.chunk({"type": "BOOKMARK", "object": {
                        "kind": resource.kind, "apiVersion": resource.group_version,
                        "metadata": {"resourceVersion": item[1],
                                     "annotations": {"k8s.io/initial-events-end": "true"}}}})
                elif item[0] == "error":
                    self.chunk({"type": "ERROR", "object": item[1]})
                item = next(events, None)
        except Gone as e:
            self.chunk({"type": "ERROR", "object": ApiError(410, "Expired", str(e)).status()})
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def chunk(self, event):
        data = (json.dumps(event) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    # Writes.
    def admit(self, resource, ns, obj, query, old=None):
        """Checks and completes an object before it is stored."""
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + format(int(time.time() * 1e6) % 100000, "05d")
        if not meta.get("name"):
            raise ApiError(422, "Invalid", f"{resource.kind} \"\" is invalid: metadata.name: "
                                           "Required value: name or generateName is required")
        obj["apiVersion"], obj["kind"] = resource.group_version, resource.kind
        if resource.namespaced:
            if meta.setdefault("namespace", ns) != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not "
                                                  "match the namespace sent on the request")
            if self.state.store.get(("", "namespaces", None, ns)) is None:
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                               {"name": ns, "kind": "namespaces"})
        else:
            meta.pop("namespace", None)
        if resource.status_subresource:  # status is written through /status only
            obj.pop("status", None)
            if old is not None and "status" in old:
                obj["status"] = old["status"]
        if resource.schema is not None:
            self.validate(resource, obj, query)
        if resource.kind == "Service" and old is None:
            spec = obj.setdefault("spec", {})
            if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
                self.state.next_cluster_ip += 1
                n = self.state.next_cluster_ip
                spec["clusterIP"] = f"10.96.{n // 250}.{n % 250 + 1}"
                spec["clusterIPs"] = [spec["clusterIP"]]
        if resource.kind == "CustomResourceDefinition":
            obj["status"] = {"conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
                "acceptedNames": obj.get("spec", {}).get("names", {}),
                "storedVersions": [v["name"] for v in obj.get("spec", {}).get("versions", [])
                                   if v.get("storage")]}
        return obj

    def validate(self, resource, obj, query):
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        schema = {k: v for k, v in resource.schema.items() if k != "x-kubernetes-group-version-kind"}
        props = dict(schema.get("properties", {}))
        for k in ("apiVersion", "kind", "metadata"):
            props.pop(k, None)
        schema["properties"] = props
        schema["required"] = [r for r in schema.get("required", []) if r in props]
        strict = query.get("fieldValidation", "Strict") == "Strict"
        result, errors, unknown = apply_schema(body, schema, strict=strict)
        name = obj["metadata"]["name"]
        if unknown and strict:
            fields = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise ApiError(400, "BadRequest", f"{resource.kind} in version \"{resource.version}\" "
                                              f"cannot be handled as a {resource.kind}: strict "
                                              f"decoding error: {fields}")
        if errors:
            text = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
            causes = [dict(zip(("field", "message"), e.split(": ", 1)), reason="FieldValueInvalid")
                      for e in errors]
            raise ApiError(422, "Invalid", f'{resource.kind}.{resource.group} "{name}" is '
                                           f"invalid: {text}",
                           {"name": name, "group": resource.group, "kind": resource.kind,
                            "causes": causes})
        obj.update(result)

    def create(self, resource, ns, obj, query):
        try:
            obj = self.state.admission.mutate(resource, ns, obj, "CREATE",
                                              dry_run="dryRun" in query)
        except AdmissionError as e:
            raise ApiError(e.code, e.reason, e.message)
        obj = self.admit(resource, ns, obj, query)
        key = (resource.group, resource.plural, ns, obj["metadata"]["name"])
        if self.state.store.get(key) is not None:
            raise ApiError(409, "AlreadyExists", f'{resource.plural}{self.group_suffix(resource)} '
                                                 f'"{key[3]}" already exists',
                           {"name": key[3], "group": resource.group, "kind": resource.plural})
        created = self.state.store.create(key, obj)
        if resource.kind == "CustomResourceDefinition":
            self.state.registry.register_crd(created)
        return created

    def update(self, resource, ns, name, obj, sub, query):
        old = self.get_or_404(resource, ns, name)
        sent = obj.get("metadata", {}).get("resourceVersion")
        if sent and sent != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {resource.plural}'
                                            f'{self.group_suffix(resource)} "{name}": the object '
                                            "has been modified; please apply your changes to the "
                                            "latest version and try again",
                           {"name": name, "group": resource.group, "kind": resource.plural})
        if sub == "status":
            new = dict(old)
            new["status"] = obj.get("status")
            new["metadata"] = old["metadata"]
            return self.state.store.update((resource.group, resource.plural, ns, name), new)
        obj.setdefault("metadata", {})["name"] = name
        obj = self.admit(resource, ns, obj, query, old=old)
        updated = self.state.store.update((resource.group, resource.plural, ns, name), obj)
        if resource.kind == "CustomResourceDefinition":
            self.state.registry.register_crd(updated)
        return updated

    def patch(self, resource, ns, name, sub, query):
        kind = self.headers.get("Content-Type", "").split(";")[0]
        patch = self.body()
        key = (resource.group, resource.plural, ns, name)
        old = self.state.store.get(key)
        if kind == "application/apply-patch+yaml":
            manager = query.get("fieldManager", "")
            previous = self.state.store.applied.get((key, manager))
            self.state.store.applied[(key, manager)] = patch
            if old is None:
                return self.send_json(201, self.create(resource, ns, patch, query))
            new = server_side_apply(old, patch, previous)
        elif old is None:
            raise ApiError(404, "NotFound", f'{resource.plural}{self.group_suffix(resource)} '
                                            f'"{name}" not found',
                           {"name": name, "group": resource.group, "kind": resource.plural})
        elif kind == "application/merge-patch+json":
            new = merge_patch(old, patch)
        elif kind == "application/strategic-merge-patch+json":
            if resource.schema is not None:
                raise ApiError(415, "UnsupportedMediaType", "strategic merge patch is not "
                                                            "supported for custom resources")
            new = strategic_merge_patch(old, patch)
        else:
            raise ApiError(415, "UnsupportedMediaType", f"the media type {kind!r} is not supported")
        new.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
        self.send_json(200, self.update(resource, ns, name, new, sub, query))

    def delete(self, resource, ns, name):
        s = self.state
        obj = self.get_or_404(resource, ns, name)
        if resource.kind == "Namespace":
            for key in [k for k in s.store.objects if k[2] == name]:
                s.store.delete(key)
        if resource.kind == "CustomResourceDefinition":
            group, plural = obj["spec"]["group"], obj["spec"]["names"]["plural"]
            for key in [k for k in s.store.objects if k[:2] == (group, plural)]:
                s.store.delete(key)
            s.registry.remove_crd(obj)
        return s.store.delete((resource.group, resource.plural, ns, name))


def selected(obj, query):
    """labelSelector (a=b, a!=b, a, !a, a in (x,y), a notin (x)) and
    fieldSelector (metadata.name, metadata.namespace)."""
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in split_terms(query.get("labelSelector", "")):
        if not label_term(term, labels):
            return False
    for term in split_terms(query.get("fieldSelector", "")):
        field, op, value = re.match(r"^([\w.]+)\s*(!=|==|=)\s*(.*)$", term).groups()
        actual = obj.get("metadata", {}).get(field.split(".", 1)[1], "") \
            if field.startswith("metadata.") else ""
        if (actual == value) != (op != "!="):
            return False
    return True


def split_terms(selector):
    return [t.strip() for t in re.split(r",(?![^()]*\))", selector) if t.strip()]


def label_term(term, labels):
    m = re.match(r"^(\S+)\s+(in|notin)\s+\((.*)\)$", term)
    if m:
        values = {v.strip() for v in m.group(3).split(",")}
        return (labels.get(m.group(1)) in values) == (m.group(2) == "in")
    m = re.match(r"^([^!=\s]+)\s*(!=|==|=)\s*(.*)$", term)
    if m:
        return (labels.get(m.group(1)) == m.group(3)) != (m.group(2) == "!=")
    if term.startswith("!"):
        return term[1:] not in labels
    return term in labels


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--token", action="append", default=[], help="accepted bearer token")
    parser.add_argument("--history", type=int, default=1000, help="watch events kept")
    parser.add_argument("--bookmark-seconds", type=float, default=1.0)
    parser.add_argument("--state", help="keep objects in this file across restarts")
    parser.add_argument("--service-endpoint", action="append", default=[],
                        help="NAMESPACE/NAME=HOST:PORT: where a webhook's Service is reached")
    args = parser.parse_args()
    Handler.state = State(args)
    server = ThreadingHTTPServer((args.address, args.port), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening on {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

"""The resource types the test API server serves (the built-in kinds the mesh
and its deploy/ manifests use, plus every CRD applied to it) and the
documents clients discover them with: legacy discovery (/api, /apis,
/api/v1, /apis/G/V), aggregated discovery (apidiscovery.k8s.io/v2, what
kubectl 1.29+ asks for first) and OpenAPI v3 (/openapi/v3 and one document
per group-version, with the `fieldValidation` parameter on PATCH so kubectl
leaves validation to the server)."""
import hashlib
import json
from dataclasses import dataclass, field


@dataclass
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    schema: dict = None          # CRDs: structural schema of the object
    status_subresource: bool = False
    short_names: list = field(default_factory=list)

    @property
    def group_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_root(self):
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def singular(self):
        return self.kind.lower()


BUILTIN = [
    Resource("", "v1", "Namespace", "namespaces", False, short_names=["ns"]),
    Resource("", "v1", "Node", "nodes", False, status_subresource=True, short_names=["no"]),
    Resource("", "v1", "Service", "services", True, status_subresource=True, short_names=["svc"]),
    Resource("", "v1", "Pod", "pods", True, status_subresource=True, short_names=["po"]),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, short_names=["sa"]),
    Resource("", "v1", "ConfigMap", "configmaps", True, short_names=["cm"]),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    Resource("apps", "v1", "Deployment", "deployments", True, status_subresource=True,
             short_names=["deploy"]),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True),
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True,
             status_subresource=True, short_names=["pdb"]),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    Resource("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
             "mutatingwebhookconfigurations", False),
    Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
             "customresourcedefinitions", False, status_subresource=True, short_names=["crd"]),
]

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


class Registry:
    def __init__(self):
        self.resources = list(BUILTIN)

    def find(self, group, version, plural):
        for r in self.resources:
            if (r.group, r.version, r.plural) == (group, version, plural):
                return r
        return None

    def by_kind(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        for r in self.resources:
            if (r.group, r.version, r.kind) == (group, version, kind):
                return r
        return None

    def register_crd(self, crd):
        """Serves every version of a CRD; returns the Resources added."""
        spec = crd["spec"]
        self.remove_crd(crd)
        added = []
        for v in spec.get("versions", []):
            if not v.get("served", True):
                continue
            schema = (v.get("schema") or {}).get("openAPIV3Schema") or {}
            r = Resource(spec["group"], v["name"], spec["names"]["kind"], spec["names"]["plural"],
                         spec.get("scope", "Namespaced") == "Namespaced", schema=schema,
                         status_subresource="status" in (v.get("subresources") or {}),
                         short_names=spec["names"].get("shortNames", []))
            self.resources.append(r)
            added.append(r)
        return added

    def remove_crd(self, crd):
        spec = crd["spec"]
        self.resources = [r for r in self.resources
                          if not (r.schema is not None and r.group == spec["group"]
                                  and r.plural == spec["names"]["plural"])]

    def groups(self):
        """{group: [versions]} in registration order, core ("") first."""
        out = {}
        for r in self.resources:
            out.setdefault(r.group, [])
            if r.version not in out[r.group]:
                out[r.group].append(r.version)
        return out

    def in_group_version(self, group, version):
        return [r for r in self.resources if (r.group, r.version) == (group, version)]

    # Legacy discovery.
    def api_versions(self):
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": "127.0.0.1"}]}

    def api_group_list(self):
        groups = []
        for group, versions in self.groups().items():
            if not group:
                continue
            entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def api_resource_list(self, group, version):
        resources = []
        for r in self.in_group_version(group, version):
            resources.append({"name": r.plural, "singularName": r.singular,
                              "namespaced": r.namespaced, "kind": r.kind, "verbs": VERBS,
                              "shortNames": r.short_names})
            if r.status_subresource:
                resources.append({"name": f"{r.plural}/status", "singularName": "",
                                  "namespaced": r.namespaced, "kind": r.kind,
                                  "verbs": ["get", "patch", "update"]})
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                "resources": resources}

    # Aggregated discovery (apidiscovery.k8s.io/v2).
    def aggregated(self, core):
        items = []
        for group, versions in self.groups().items():
            if (group == "") != core:
                continue
            entries = []
            for version in versions:
                resources = []
                for r in self.in_group_version(group, version):
                    kind = {"group": r.group, "version": r.version, "kind": r.kind}
                    entry = {"resource": r.plural, "responseKind": kind,
                             "scope": "Namespaced" if r.namespaced else "Cluster",
                             "singularResource": r.singular, "verbs": VERBS,
                             "shortNames": r.short_names}
                    if r.status_subresource:
                        entry["subresources"] = [{"subresource": "status", "responseKind": kind,
                                                  "verbs": ["get", "patch", "update"]}]
                    resources.append(entry)
                entries.append({"version": version, "resources": resources,
                                "freshness": "Current"})
            items.append({"metadata": {"name": group, "creationTimestamp": None},
                          "versions": entries})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
                "metadata": {}, "items": items}

    # OpenAPI v3.
    def openapi_root(self):
        paths = {}
        for group, versions in self.groups().items():
            for version in versions:
                key = f"apis/{group}/{version}" if group else f"api/{version}"
                digest = hashlib.sha256(json.dumps(self.openapi_document(group, version),
                                                   sort_keys=True).encode()).hexdigest()[:16]
                paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
        return {"paths": paths}

    def openapi_document(self, group, version):
        paths, schemas = {}, {}
        field_validation = {"name": "fieldValidation", "in": "query", "schema": {"type": "string"},
                            "description": "Ignore, Warn or Strict"}
        for r in self.in_group_version(group, version):
            gvk = {"group": r.group, "version": r.version, "kind": r.kind}
            name = f"{r.group or 'core'}.{r.version}.{r.kind}"
            schema = dict(r.schema) if r.schema else {"type": "object",
                                                      "x-kubernetes-preserve-unknown-fields": True}
            schema["x-kubernetes-group-version-kind"] = [gvk]
            schemas[name] = schema
            ref = {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}
            base = r.api_root + ("/namespaces/{namespace}" if r.namespaced else "") + f"/{r.plural}"
            item = {"get": {"responses": {"200": ref}, "x-kubernetes-group-version-kind": gvk},
                    "put": {"parameters": [field_validation], "responses": {"200": ref},
                            "x-kubernetes-group-version-kind": gvk},
                    "patch": {"parameters": [field_validation], "responses": {"200": ref},
                              "x-kubernetes-group-version-kind": gvk},
                    "delete": {"responses": {"200": ref}, "x-kubernetes-group-version-kind": gvk}}
            paths[base + "/{name}"] = item
            paths[base] = {"post": {"parameters": [field_validation], "responses": {"201": ref},
                                    "x-kubernetes-group-version-kind": gvk}}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.29.0"},
                "paths": paths, "components": {"schemas": schemas}}

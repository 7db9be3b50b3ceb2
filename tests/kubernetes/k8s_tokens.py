"""Service-account tokens as the API server issues and reviews them:
TokenRequest (POST .../serviceaccounts/NAME/token, what `kubectl create
token` and the kubelet's projected volumes call) and TokenReview (POST
/apis/authentication.k8s.io/v1/tokenreviews). Tokens carry their claims
and an HMAC signature, as JWTs do (not in the JWT format: a reviewer
learns only what a TokenReview says, which is all the mesh relies on), so
they stay valid across a restart with --state. A token bound to a Pod is invalid
once that Pod is gone (or replaced by another of the same name), and a
review asking for audiences the token was not minted for is refused, as
the real API server does."""
import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets
import time

DEFAULT_AUDIENCE = "https://kubernetes.default.svc.cluster.local"


class TokenError(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


class Tokens:
    def __init__(self, store, key_file=None):
        """`key_file`: where the signing key is kept across restarts."""
        self.store = store
        if key_file and os.path.exists(key_file):
            self.key = open(key_file, "rb").read()
        else:
            self.key = secrets.token_bytes(32)
            if key_file:
                with open(key_file, "wb") as f:
                    f.write(self.key)

    def sign(self, claims):
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        signature = hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()
        return f"test.{payload}.{signature}"

    def verify(self, token):
        """The claims of a token this server signed, else None."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "test":
            return None
        expected = hmac.new(self.key, parts[1].encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts[2]):
            return None
        return json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))

    def request(self, ns, account, body):
        """A TokenRequest for serviceaccount NS/ACCOUNT; the answered object."""
        if self.store.get(("", "serviceaccounts", ns, account)) is None:
            raise TokenError(404, "NotFound", f'serviceaccounts "{account}" not found')
        spec = body.get("spec") or {}
        audiences = spec.get("audiences") or [DEFAULT_AUDIENCE]
        seconds = int(spec.get("expirationSeconds") or 3600)
        if seconds < 600:
            raise TokenError(422, "Invalid", "spec.expirationSeconds: Invalid value: "
                                             f"{seconds}: may not specify a duration less than 10 minutes")
        claims = {"ns": ns, "account": account, "audiences": audiences,
                  "expires": time.time() + seconds, "pod": None}
        bound = spec.get("boundObjectRef")
        if bound:
            if bound.get("kind") != "Pod":
                raise TokenError(400, "BadRequest", "cannot bind token to object of type "
                                                    f"{bound.get('kind')} (this test server binds Pods)")
            pod = self.store.get(("", "pods", ns, bound.get("name")))
            if pod is None:
                raise TokenError(404, "NotFound", f'pods "{bound.get("name")}" not found')
            if (pod.get("spec") or {}).get("serviceAccountName", "default") != account:
                raise TokenError(400, "BadRequest", f'cannot bind token for serviceaccount '
                                 f'"{account}" to pod running with different serviceaccount name.')
            claims["pod"] = (pod["metadata"]["name"], pod["metadata"].get("uid", ""))
        claims["nonce"] = secrets.token_hex(8)  # two requests, two tokens
        token = self.sign(claims)
        expires = datetime.datetime.fromtimestamp(claims["expires"], datetime.timezone.utc)
        out = dict(body, apiVersion="authentication.k8s.io/v1", kind="TokenRequest")
        out["metadata"] = {"name": account, "namespace": ns}
        out["spec"] = dict(spec, audiences=audiences, expirationSeconds=seconds)
        out["status"] = {"token": token,
                         "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return out

    def review(self, body):
        """The TokenReview answered for `body`."""
        spec = body.get("spec") or {}
        wanted = spec.get("audiences") or [DEFAULT_AUDIENCE]
        out = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
               "metadata": {"creationTimestamp": None}, "spec": spec}
        claims = self.verify(spec.get("token", ""))
        error = self.invalid(claims, wanted)
        if error:
            out["status"] = {"user": {}, "error": error}
            return out
        user = {"username": f"system:serviceaccount:{claims['ns']}:{claims['account']}",
                "uid": f"uid-{claims['ns']}-{claims['account']}",
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{claims['ns']}",
                           "system:authenticated"]}
        if claims["pod"]:
            user["extra"] = {"authentication.kubernetes.io/pod-name": [claims["pod"][0]],
                             "authentication.kubernetes.io/pod-uid": [claims["pod"][1]]}
        out["status"] = {"authenticated": True, "user": user,
                         "audiences": [a for a in wanted if a in claims["audiences"]]}
        return out

    def invalid(self, claims, wanted):
        if claims is None:
            return "[invalid bearer token, square/go-jose: error in cryptographic primitive]"
        if time.time() >= claims["expires"]:
            return "[invalid bearer token, service account token has expired]"
        if not any(a in claims["audiences"] for a in wanted):
            return "[invalid bearer token, token audiences " + \
                   f"{claims['audiences']} is invalid for the target audiences {wanted}]"
        if claims["pod"]:
            name, uid = claims["pod"]
            pod = self.store.get(("", "pods", claims["ns"], name))
            if pod is None or pod["metadata"].get("uid", "") != uid:
                return f'[invalid bearer token, pods "{name}" not found]'
        return None

"""Objects, resource versions and the watch history of the test API server.

One global resourceVersion counter, as etcd's revision: every write gets the
next one. The history of events is bounded (`history` entries); a watch from
a version older than the history gets 410 Gone, as a real API server does
after compaction. Thread-safe: the HTTP server runs a thread per request."""
import collections
import copy
import json
import os
import threading
import time
import uuid


class Gone(Exception):
    pass


class Store:
    def __init__(self, history=1000, state_file=None):
        self.state_file = state_file
        self.lock = threading.Condition()
        self.objects = {}          # (group, plural, namespace, name) -> object
        self.rv = 1
        self.events = collections.deque()  # (rv, type, (group, plural), object)
        self.history = history
        self.compacted = 0         # events at or below this version are gone
        self.watch_epoch = 0       # bumped to end every open watch (tests)
        self.applied = {}          # (key, field manager) -> last applied configuration

    def load(self):
        """Objects and version from the state file, as a restarted API server
        finds etcd. The watch history does not survive: a watch from before
        the restart gets 410 unless it was already current."""
        if not self.state_file or not os.path.exists(self.state_file):
            return False
        with open(self.state_file) as f:
            state = json.load(f)
        self.objects = {tuple(k): o for k, o in state["objects"]}
        self.rv = self.compacted = state["rv"]
        return True

    def _save(self):
        if not self.state_file:
            return
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"rv": self.rv, "objects": list(self.objects.items())}, f)
        os.replace(tmp, self.state_file)

    def _record(self, kind, resource_key, obj):
        self._save()
        self.events.append((self.rv, kind, resource_key, copy.deepcopy(obj)))
        while len(self.events) > self.history:
            self.compacted = self.events.popleft()[0]
        self.lock.notify_all()

    def _stamp(self, obj):
        self.rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)

    def get(self, key):
        with self.lock:
            obj = self.objects.get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, group, plural, namespace=None):
        with self.lock:
            items = [copy.deepcopy(o) for (g, p, ns, _), o in sorted(self.objects.items())
                     if (g, p) == (group, plural) and (namespace is None or ns == namespace)]
            return items, str(self.rv)

    def create(self, key, obj):
        with self.lock:
            meta = obj.setdefault("metadata", {})
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            meta.setdefault("generation", 1)
            self._stamp(obj)
            self.objects[key] = obj
            self._record("ADDED", key[:2], obj)
            return copy.deepcopy(obj)

    def update(self, key, obj):
        with self.lock:
            old = self.objects[key]
            meta = obj.setdefault("metadata", {})
            for field in ("uid", "creationTimestamp"):
                meta[field] = old["metadata"][field]
            generation = old["metadata"].get("generation", 1)
            if obj.get("spec") != old.get("spec"):
                generation += 1
            meta["generation"] = generation
            self._stamp(obj)
            self.objects[key] = obj
            self._record("MODIFIED", key[:2], obj)
            return copy.deepcopy(obj)

    def delete(self, key):
        with self.lock:
            obj = self.objects.pop(key)
            self._stamp(obj)
            self._record("DELETED", key[:2], obj)
            return copy.deepcopy(obj)

    def current_version(self):
        with self.lock:
            return self.rv

    def compact(self):
        """Forgets the whole history, as etcd compaction does after writes
        elsewhere advanced the revision: every watcher and every version a
        client holds is now too old (tests: 410, relist)."""
        with self.lock:
            self.rv += 1
            self.compacted = self.rv
            self.events.clear()
            self.lock.notify_all()

    def end_watches(self):
        with self.lock:
            self.watch_epoch += 1
            self.lock.notify_all()

    def watch(self, group, plural, namespace, since, deadline, bookmark_every):
        """Yields ("event", type, object) and ("bookmark", rv) until the
        deadline or end_watches(); raises Gone when `since` is compacted."""
        with self.lock:
            if since < self.compacted:
                raise Gone(f"too old resource version: {since} ({self.compacted + 1})")
            epoch = self.watch_epoch
        next_bookmark = time.monotonic() + bookmark_every if bookmark_every else None
        position = since
        while True:
            with self.lock:
                if position < self.compacted:
                    raise Gone(f"too old resource version: {position} ({self.compacted + 1})")
                pending = [e for e in self.events if e[0] > position]
                if not pending:
                    wait = deadline - time.monotonic()
                    if next_bookmark:
                        wait = min(wait, next_bookmark - time.monotonic())
                    if wait > 0 and self.watch_epoch == epoch:
                        self.lock.wait(wait)
                    pending = [e for e in self.events if e[0] > position]
                ended = self.watch_epoch != epoch
                rv = self.rv
            for event_rv, kind, resource_key, obj in pending:
                position = event_rv
                ns = obj.get("metadata", {}).get("namespace")
                if resource_key == (group, plural) and (namespace is None or ns == namespace):
                    yield ("event", kind, obj)
            if ended or time.monotonic() >= deadline:
                return
            if next_bookmark and time.monotonic() >= next_bookmark:
                yield ("bookmark", str(rv))
                position = max(position, rv)
                next_bookmark = time.monotonic() + bookmark_every

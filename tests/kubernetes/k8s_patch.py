"""The three patch types the test API server accepts, as the real one
applies them:

- JSON merge patch (RFC 7386): objects merge, null deletes, lists replace.
- Strategic merge patch, as kubectl computes it for built-in kinds: like a
  merge patch, except that a list the patch orders with
  `$setElementOrder/<field>` is merged element by element on the key those
  entries carry (the list's merge key), `{"$patch": "delete", key: ...}`
  removes an element, `$deleteFromPrimitiveList/<field>` removes values,
  `$retainKeys` drops the fields it does not list, and `$patch: replace`
  replaces. Lists without such a directive are replaced (atomic lists).
- Server-side apply: the applied configuration is merged into the live
  object, and fields this field manager applied before but no longer
  applies are removed (a simplification of managed fields: one previous
  configuration kept per manager, no conflict detection between managers).
"""
import copy


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    removals = {k.split("/", 1)[1]: v for k, v in patch.items()
                if k.startswith("$deleteFromPrimitiveList/")}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in orders:
            result[key] = _merge_list(result.get(key) or [], value, orders[key])
        elif isinstance(value, dict):
            result[key] = strategic_merge_patch(result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    for key, order in orders.items():
        if key not in patch and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], [], order)
    for key, values in removals.items():
        if isinstance(result.get(key), list):
            result[key] = [v for v in result[key] if v not in values]
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_key(order):
    keys = {k for entry in order if isinstance(entry, dict) for k in entry}
    return next(iter(keys)) if len(keys) == 1 else None


def _merge_list(live, patch, order):
    key = _merge_key(order)
    if key is None:  # a list of primitives: the order is the new list
        if order and not isinstance(order[0], dict):
            return [v for v in order]
        return copy.deepcopy(patch)
    by_key = {item.get(key): item for item in live if isinstance(item, dict)}
    for element in patch:
        if element.get("$patch") == "delete":
            by_key.pop(element.get(key), None)
            continue
        by_key[element.get(key)] = strategic_merge_patch(by_key.get(element.get(key)), element)
    ordered = [by_key.pop(entry[key]) for entry in order if entry.get(key) in by_key]
    return ordered + list(by_key.values())


def server_side_apply(live, applied, previous):
    """`previous`: what this manager applied last time (or None)."""
    merged = _apply_merge(live, applied)
    if previous is not None:
        merged = _drop_unapplied(merged, applied, previous)
    return merged


def _apply_merge(live, applied):
    if not isinstance(applied, dict) or not isinstance(live, dict):
        return copy.deepcopy(applied)
    result = copy.deepcopy(live)
    for key, value in applied.items():
        result[key] = _apply_merge(live.get(key), value)
    return result


def _drop_unapplied(merged, applied, previous):
    if not isinstance(previous, dict) or not isinstance(merged, dict):
        return merged
    applied = applied if isinstance(applied, dict) else {}
    for key, value in previous.items():
        if key not in applied:
            merged.pop(key, None)
        elif isinstance(value, dict):
            merged[key] = _drop_unapplied(merged.get(key), applied[key], value)
    return merged

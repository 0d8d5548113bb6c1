# rules: BAS3
# module: app.state
import collections
import threading
from threading import local

_cache = {}
_seen = set()
_queue = collections.deque()
_registry: dict[str, int] = {}
LOOKUP = {"a": 1}
counter = 0
_tls = threading.local()  # error: BAS301
_tls2 = local()  # error: BAS301
_cache["import-time"] = 1


class Holder(threading.local):  # error: BAS301
    pass


def mutate(key, value):
    _cache[key] = value  # error: BAS303
    _seen.add(key)  # error: BAS303
    _queue.append(value)  # error: BAS303
    _registry.setdefault(key, 0)  # error: BAS303
    del _cache[key]  # error: BAS303


def bump():
    global counter  # error: BAS302
    counter += 1


def read_only():
    global counter
    return counter + LOOKUP.get("a", 0) + len(_cache)


def local_shadow(key):
    _cache = {}
    _cache[key] = 1
    return _cache


def param_shadow(_seen, key):
    _seen.add(key)


def outer():
    items = []

    def inner(x):
        items.append(x)

    inner(1)
    return items

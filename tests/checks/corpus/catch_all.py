# rules: BAS7
# module: app.handlers
import contextlib
from contextlib import suppress


class HandlerFailed(Exception):
    pass


def positives(handle, msg, log):
    try:
        handle(msg)
    except:  # error: BAS701
        pass
    try:
        handle(msg)
    except Exception:  # error: BAS702
        log.warning("ignored")
    try:
        handle(msg)
    except BaseException as exc:  # error: BAS702
        log.exception(exc)
    try:
        handle(msg)
    except (ValueError, Exception):  # error: BAS702
        return None
    with contextlib.suppress(Exception):  # error: BAS703
        handle(msg)
    with suppress(BaseException):  # error: BAS703
        handle(msg)
    return msg


def negatives(handle, msg, log):
    try:
        handle(msg)
    except Exception:
        log.exception("failed")
        raise
    try:
        handle(msg)
    except Exception as exc:
        raise HandlerFailed(msg) from exc
    try:
        handle(msg)
    except BaseException:
        if msg:
            raise
    try:
        handle(msg)
    except (ValueError, KeyError):
        return None
    with suppress(FileNotFoundError):
        handle(msg)
    try:
        handle(msg)
    except Exception:  # noqa: BLE001 -- boundary: every handler failure is reported to the caller
        log.exception("handler failed")
    return msg

# rules: BAS7, BAS9
# module: app.suppressed


def cases(handle, msg):
    try:
        handle(msg)
    except Exception:  # noqa: BAS702 -- boundary: failures are logged and reported to the supervisor
        pass
    try:
        handle(msg)
    except Exception:  # noqa: BAS702  # error: BAS901
        pass
    try:
        handle(msg)
    except Exception:  # noqa: BAS702 -- todo  # error: BAS901
        pass
    try:
        handle(msg)
    except Exception:  # noqa: BLE001  # error: BAS901
        pass
    try:
        handle(msg)
    except Exception:  # noqa  # error: BAS702
        pass
    value = handle(msg)  # noqa: BAS702 -- nothing to suppress on this line  # error: BAS902
    other = handle(msg)  # noqa: BAS999 -- this code does not exist at all  # error: BAS902
    text = "# noqa: BAS702 inside a string is not a comment"
    return value, other, text

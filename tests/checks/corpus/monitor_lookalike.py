# rules: BAS5
# module: app.health
# A file that does not use bastion: `x.monitor(...)` is someone else's API.


def poll(health, service):
    health.monitor(service)

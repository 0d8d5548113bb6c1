# rules: BAS1
# module: app.handlers
import bastion.lowlevel
import bastion.lowlevel as ll2
from bastion import lowlevel
from bastion import lowlevel as ll
from bastion.lowlevel import send
from bastion.lowlevel import send as post


def positives(ref, msg, loop):
    send(ref, msg)  # error: BAS101
    post(ref, msg)  # error: BAS101
    lowlevel.send(ref, msg)  # error: BAS101
    ll.send(ref, msg)  # error: BAS101
    ll2.send(ref, msg)  # error: BAS101
    bastion.lowlevel.send(ref, msg)  # error: BAS101
    getattr(ll, "send")(ref, msg)  # error: BAS101
    loop.call_soon(ll.send, ref, msg)  # error: BAS101
    alias = ll.send
    alias(ref, msg)  # error: BAS101


def mailbox(ref, actor, msg):
    ref._mailbox.put_nowait(msg)  # error: BAS102
    actor.mailbox.put(msg)  # error: BAS102


def negatives(sock, ref, msg, user):
    sock.send(b"data")
    ref.cast_nowait(msg)
    count = user.mailbox_count
    address = user.mailbox
    return count, address


def shadowed(ref, msg):
    def send(target, message):
        return (target, message)

    return send(ref, msg)


class Connection:
    def send(self, data):
        return data

    def use(self):
        return self.send(b"x")


def param_shadow(send, ref):
    return send(ref)

# rules: BAS1
# module: app.sneaky
from bastion._core import _mailbox  # error: BAS102
from bastion._core._mailbox import Mailbox  # error: BAS102

# rules: BAS5
# module: app.monitors
import bastion


class Leaky(bastion.Actor):
    def on_start(self, ref):
        self.monitor(ref)  # error: BAS501


class NeverDemonitors(bastion.Actor):
    def watch(self, ref):
        self.mref = self.monitor(ref)  # error: BAS502


class Tidy(bastion.Actor):
    def watch(self, ref):
        self.mref = self.monitor(ref)

    def forget(self):
        self.demonitor(self.mref)


class ContextManaged(bastion.Actor):
    async def watch(self, ref):
        with self.monitor(ref) as mref:
            await self.work(mref)

    async def work(self, mref):
        return mref


async def awaited(actor, ref):
    await actor.monitor(ref)  # error: BAS501

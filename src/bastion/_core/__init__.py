"""The kernel: standard library and asyncio only. Imports nothing else from bastion."""

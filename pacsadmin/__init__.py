"""pacsadmin: a desktop workstation for PACS administrators.

Kept import-free on purpose: ``pacsadmin echo`` must start fast (see benchmarks/).
"""

__version__ = "0.1.0"

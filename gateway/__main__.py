"""``python -m gateway``: the same as the ``lienthong`` command."""

from .cli import main

main()

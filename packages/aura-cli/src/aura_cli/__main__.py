"""``python -m aura_cli``: the same as the ``aura`` command."""

import sys

from aura_cli.main import main

sys.exit(main())

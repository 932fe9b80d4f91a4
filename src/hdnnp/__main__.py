"""``python -m hdnnp`` is the ``hdnnp`` command."""
import sys

from .cli.main import main

sys.exit(main())

"""`python -m canteen` is the `canteen` command."""

import sys

from canteen.cli import main

sys.exit(main())

"""`python -m emulate`: see `emulate.cli`."""

from emulate.cli import main

raise SystemExit(main())

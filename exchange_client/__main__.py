"""`python -m exchange_client`: the same as `exchange-cli`."""

from exchange_client.cli import main

raise SystemExit(main())

"""exchange-cli: the Python client of SPEC §6.1."""

"""Settings for the test suite: the real settings, with a throwaway secret and a fast
password hasher (Argon2 is tested on its own)."""

import os

os.environ.setdefault("EXCHANGE_SECRET_KEY", "tests-only-secret-key-not-for-any-server")

from exchange.settings import *  # noqa: F403

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns otherwise)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

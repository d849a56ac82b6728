"""Settings for the test suite: the real settings, with a throwaway secret and a fast
password hasher (Argon2 is tested on its own)."""

import os

os.environ.setdefault("EXCHANGE_SECRET_KEY", "tests-only-secret-key-not-for-any-server")

from exchange.settings import *  # noqa: F403

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns otherwise)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The test client speaks plain HTTP; tests that need HTTPS ask for it (`secure=True`).
SECURE_SSL_REDIRECT = False

# One test database per run, so runs side by side (a developer's and CI's) never share one.
_RUN = os.getpid()
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-exchange-{_RUN}.sqlite3")}  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_exchange_{_RUN}"}  # noqa: F405

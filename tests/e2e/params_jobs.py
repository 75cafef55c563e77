"""Python jobs for tests/e2e/test_params_secrets.py (allowed only in that module's stack)."""
from __future__ import annotations

import json
import os


def echo_params(**kwargs: object) -> str:
    """The keyword arguments the job got, and its PARAM_* variables, as JSON."""
    return json.dumps({"kwargs": kwargs,
                       "env": {k: v for k, v in os.environ.items() if k.startswith("PARAM_")}})


def fail_with(token: str) -> str:
    """A job whose own exception holds the (secret) value it was given."""
    raise RuntimeError(f"could not log in with {token}")

"""User-style code that mypy --strict and pyright (strict) check, and tests/test_typing_user_code.py runs."""

"""Bearer token files for /bench (--bench-token-file), as an operator writes
them: private to the owner unless a test asks otherwise."""
import os
import secrets


def write_token_file(directory, text, mode=0o600, name="bench-token"):
    path = directory / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


def new_token(directory):
    """A fresh random token and the private file that holds it."""
    value = secrets.token_urlsafe(32)
    return value, write_token_file(directory, value + "\n")

"""curl as the tests' HTTP client: a response's status, headers and body,
run to completion or in the background; and the shape of an error answer."""
import json
import os
import re
import subprocess
from pathlib import Path
from typing import NamedTuple, Optional

from bounds import CURL_TIMEOUT_S


class CurlResult(NamedTuple):
    status: int  # 0 when curl got no HTTP response at all
    headers: dict  # lower-case name -> value (last one wins)
    json: Optional[object]  # parsed body, None when empty or not JSON
    body: bytes
    returncode: int  # curl's exit status
    stderr: str
    size_download: int  # body bytes curl read off the wire (0 for -I)

    def describe(self):
        return (f"curl rc={self.returncode} status={self.status} headers={self.headers} "
                f"body={self.body[:400]!r} stderr={self.stderr.strip()!r}")


def _parse_headers(dump):
    """Takes the last header block of a `curl -D -` dump (an interim
    `100 Continue` block may come first)."""
    blocks = [b for b in re.split(r"\r?\n\r?\n", dump) if b.startswith("HTTP/")]
    if not blocks:
        return 0, {}
    lines = blocks[-1].splitlines()
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


# Separates curl's --write-out text from the header dump on stdout.
SIZE_MARK = "\n__size_download="


def curl_command(url, *extra, timeout=CURL_TIMEOUT_S, body_path=os.devnull):
    return ["curl", "-sS", "--max-time", str(timeout), "-D", "-", "-o", str(body_path),
            "-w", SIZE_MARK + "%{size_download}\n", *extra, url]


def curl_finish(proc_stdout, proc_stderr, returncode, body_path):
    body = Path(body_path).read_bytes() if Path(body_path).exists() else b""
    dump, mark, size = proc_stdout.rpartition(SIZE_MARK)
    if not mark:
        dump, size = proc_stdout, ""
    status, headers = _parse_headers(dump)
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return CurlResult(status, headers, parsed, body, returncode, proc_stderr,
                      int(size.strip() or 0))


class Curl:
    """Runs curl with the response body in a scratch file."""

    def __init__(self, scratch):
        self.scratch = scratch
        self.counter = 0

    def _body_path(self):
        self.counter += 1
        return self.scratch / f"curl-body-{os.getpid()}-{self.counter}"

    def __call__(self, url, *extra, timeout=CURL_TIMEOUT_S):
        body_path = self._body_path()
        proc = subprocess.run(curl_command(url, *extra, timeout=timeout, body_path=body_path),
                              capture_output=True, text=True, timeout=timeout + 10)
        return curl_finish(proc.stdout, proc.stderr, proc.returncode, body_path)

    def start(self, url, *extra, timeout=CURL_TIMEOUT_S):
        """Starts curl in the background; call .result() on the handle."""
        return BackgroundCurl(curl_command(url, *extra, timeout=timeout,
                                           body_path=self._body_path()), timeout)


class BackgroundCurl:
    def __init__(self, cmd, timeout):
        self.body_path = cmd[cmd.index("-o") + 1]
        self.timeout = timeout
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)

    def running(self):
        return self.proc.poll() is None

    def result(self):
        out, err = self.proc.communicate(timeout=self.timeout + 10)
        return curl_finish(out, err, self.proc.returncode, self.body_path)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def assert_json_error(result, status):
    """An error answer: the status, a JSON content type and a non-empty
    "error" string."""
    assert result.status == status, result.describe()
    assert result.headers.get("content-type") == "application/json", result.describe()
    assert isinstance(result.json, dict), result.describe()
    assert isinstance(result.json.get("error"), str) and result.json["error"], result.describe()

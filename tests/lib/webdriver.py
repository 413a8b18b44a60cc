"""A minimal W3C WebDriver client over the standard library, enough to drive
Debian's headless Chromium through chromedriver: open a page, run script in
it, click, and take a screenshot. Nothing is downloaded."""
import base64
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request

from net import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# As root on this kind of machine Chromium needs --no-sandbox; the network
# flags stop it reaching out to Google's hosts, which a closed network
# refuses (slowly) at every start.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--window-size=1000,1400"]
START_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 120


def available():
    return shutil.which(CHROMIUM) is not None and shutil.which(CHROMEDRIVER) is not None


class WebDriverError(AssertionError):
    pass


class Browser:
    """One chromedriver process and one Chromium session; close() ends both."""

    def __init__(self, user_data_dir, log_path):
        self.port = free_port()
        self.log = open(log_path, "w")
        self.driver = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"],
                                       stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except (OSError, WebDriverError):
                pass
            if time.monotonic() > deadline or self.driver.poll() is not None:
                self.close()
                raise WebDriverError("chromedriver did not become ready")
            time.sleep(0.1)
        capabilities = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM,
                                   "args": CHROMIUM_ARGS + [f"--user-data-dir={user_data_dir}"]},
        }}}
        self.session = self._call("POST", "/session", capabilities)["sessionId"]

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as answer:
                return json.loads(answer.read())["value"]
        except urllib.error.HTTPError as error:
            raise WebDriverError(f"{method} {path}: {error.code} {error.read()[:2000]!r}")

    def _session_call(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def open(self, url):
        self._session_call("POST", "/url", {"url": url})

    def run(self, script, *args):
        """Runs `script` as a function body in the page; returns its value."""
        return self._session_call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script, what, timeout_s, *args):
        """Polls `script` until it returns something truthy; returns that."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.run(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise WebDriverError(f"timed out after {timeout_s} s waiting for {what}")
            time.sleep(0.1)

    def click(self, css):
        element = self._session_call("POST", "/element", {"using": "css selector", "value": css})
        element_id = next(iter(element.values()))
        self._session_call("POST", f"/element/{element_id}/click", {})

    def screenshot(self, path):
        path.write_bytes(base64.b64decode(self._session_call("GET", "/screenshot")))

    def close(self):
        try:
            if self.session is not None:
                self._call("DELETE", f"/session/{self.session}")
        except (OSError, WebDriverError):
            pass
        finally:
            self.driver.terminate()
            try:
                self.driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait()
            self.log.close()

"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
commands on file descriptor 3, answers on 4, each a JSON message ended by a NUL byte), so a test
can open a page, click, and read what the page says, with no browser-driver library."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any

CHROMIUM = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)
MISSING = "no chromium binary: install Debian's chromium (.ci/run does when root)"


class Browser:
    """One headless Chromium with one page."""

    def __init__(self, timeout: float = 60.0) -> None:
        assert CHROMIUM is not None, MISSING
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="rituals-chromium-")
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        # The child must see the pipe ends as descriptors 3 and 4.
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={self._profile.name}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            pass_fds=(3, 4),
            preexec_fn=lambda: (os.dup2(commands_read, 3), os.dup2(answers_write, 4)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(answers_write)
        self._next_id = 0
        self._buffer = b""
        self.session = self._attach()

    def _attach(self) -> str:
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(target for target in targets if target["type"] == "page")
        attached = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)
        return str(attached["sessionId"])

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                assert "error" not in answer, answer["error"]
                return dict(answer.get("result", {}))

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._answers, 65536)
            assert chunk, "chromium closed its DevTools pipe"
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", self.session, expression=expression, returnByValue=True
        )
        return result["result"].get("value")

    def open(self, url: str) -> None:
        """Navigate to ``url`` and return once its document has loaded: ``Page.navigate``
        answers before that, while the previous page (``about:blank``, an empty body) may still
        be the one a query reads."""
        self.call("Page.navigate", self.session, url=url)
        deadline = time.monotonic() + self.timeout
        expected = json.dumps(url)
        while not self.evaluate(
            f"location.href === {expected} && document.readyState === 'complete'"
        ):
            assert time.monotonic() < deadline, f"{url} never loaded"
            time.sleep(0.1)

    def wait_for(self, selector: str) -> str:
        """The text of the first element matching ``selector`` once the page has it."""
        deadline = time.monotonic() + self.timeout
        query = json.dumps(selector)
        while True:
            found = self.evaluate(
                f"(() => {{ const e = document.querySelector({query});"
                " return e === null ? null : e.innerText; })()"
            )
            if found is not None:
                return str(found)
            assert time.monotonic() < deadline, f"{selector} never appeared"
            time.sleep(0.1)

    def click(self, selector: str) -> None:
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def close(self) -> None:
        os.close(self._commands)
        self.process.terminate()
        self.process.wait(timeout=30)
        os.close(self._answers)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

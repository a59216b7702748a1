"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
commands on file descriptor 3, answers on 4, each a JSON message ended by a NUL byte), so a test
can open a page, click, and read what the page says, with no browser-driver library."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
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
        # A throwaway profile: a file Chromium writes late must not fail the test it served.
        self._profile = tempfile.TemporaryDirectory(
            prefix="rituals-chromium-", ignore_cleanup_errors=True
        )
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
            # Its own process group: Chromium's helpers (renderer, crash handler) can outlive
            # the main process and keep writing into the profile while it is being removed.
            start_new_session=True,
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
        self._stop_helpers()
        self._profile.cleanup()

    def _stop_helpers(self) -> None:
        """Kill what is left of Chromium's process group and wait until none of it runs (a
        killed helper may stay a zombie if nothing reaps it, and a zombie writes nothing)."""
        deadline = time.monotonic() + 30
        while running := _running_in_group(self.process.pid):
            for pid in running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            assert time.monotonic() < deadline, "chromium's helpers outlived a SIGKILL"
            time.sleep(0.05)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _running_in_group(group: int) -> list[int]:
    """The live (not zombie) processes of a process group, from ``/proc``."""
    running = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The command name (field 2) is in brackets and may hold spaces.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            running.append(int(entry))
    return running

"""A small Chrome DevTools Protocol client for the dashboard's browser tests
(tests/cli/browser*.sh), in the Python standard library only.

The page is driven and read while it runs, instead of being dumped after a
fixed amount of virtual time: a test waits for the state it needs (a
bounded poll of the live DOM), acts (a key press, a database step, a
colour scheme), and waits again. Nothing depends on how fast the machine
is, only on the upper bound of each wait.

    with Browser(chrome, profile_dir) as b:
        page = b.open(url, width=1400, height=2000)
        page.wait("document.body.dataset.ready === '1'", 60)
        n = page.eval("document.querySelectorAll('canvas').length")
"""
import base64
import json
import os
import socket
import struct
import subprocess
import time
import urllib.parse


class CdpError(Exception):
    pass


class _Socket:
    """One WebSocket connection (RFC 6455): client frames masked, text only."""

    def __init__(self, url, timeout):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (u.path, u.hostname, u.port, key))
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise CdpError("DevTools closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise CdpError("DevTools refused the WebSocket: %r" % head[:200])

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise CdpError("DevTools closed the connection")
            buf += chunk
        return buf

    def send(self, text):
        data = text.encode()
        head = bytes([0x81])
        n = len(data)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + body)

    def recv(self):
        parts = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            op = b0 & 0x0F
            if op == 8:
                raise CdpError("DevTools closed the WebSocket")
            if op in (9, 10):  # ping / pong: not part of a message
                continue
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts).decode("utf-8", "replace")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Page:
    """One tab, attached through the browser connection (flat sessions)."""

    def __init__(self, browser, session, target):
        self.b = browser
        self.session = session
        self.target = target
        self.console_errors = []

    def call(self, method, **params):
        return self.b.call(method, params, self.session)

    def eval(self, expr):
        """The value of a JavaScript expression (promises awaited)."""
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CdpError("page threw on %r: %s" % (expr[:80], d.get("exception", {}).get("description", d.get("text"))))
        return r.get("result", {}).get("value")

    def wait(self, expr, seconds, what=None):
        """Polls a JavaScript condition until it is truthy; its value, or
        CdpError naming what was waited for once `seconds` have passed."""
        end = time.monotonic() + seconds
        # A condition on nodes the page has not made yet is just false.
        guarded = "(() => { try { return (%s); } catch (e) { return false; } })()" % expr
        while True:
            v = self.eval(guarded)
            if v:
                return v
            if time.monotonic() > end:
                raise CdpError("waited %gs for %s" % (seconds, what or expr))
            self.b.pump(0.1)

    def key(self, key, code, vk, shift=False):
        mods = 8 if shift else 0
        for t in ("rawKeyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=t, key=key, code=code,
                      windowsVirtualKeyCode=vk, nativeVirtualKeyCode=vk, modifiers=mods)

    def tab(self, shift=False):
        self.key("Tab", "Tab", 9, shift)

    def enter(self):
        self.call("Input.dispatchKeyEvent", type="rawKeyDown", key="Enter", code="Enter",
                  windowsVirtualKeyCode=13, nativeVirtualKeyCode=13)
        self.call("Input.dispatchKeyEvent", type="char", key="Enter", text="\r")
        self.call("Input.dispatchKeyEvent", type="keyUp", key="Enter", code="Enter",
                  windowsVirtualKeyCode=13, nativeVirtualKeyCode=13)

    def color_scheme(self, scheme):
        self.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}])

    def goto(self, url):
        self.call("Page.navigate", url=url)

    def click_at(self, x, y):
        """A left click at page coordinates (CSS pixels of the viewport)."""
        for t in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=t, x=x, y=y, button="left",
                      clickCount=0 if t == "mouseMoved" else 1)

    def close(self):
        self.b.pages.pop(self.session, None)
        self.b.call("Target.closeTarget", {"targetId": self.target})


class Browser:
    """Headless Chromium with remote debugging on a free port of 127.0.0.1."""

    def __init__(self, chrome, profile, timeout=60):
        self.timeout = timeout
        self.next_id = 0
        self.pages = {}
        self.log = open(os.path.join(profile + ".log"), "wb")
        os.makedirs(profile, exist_ok=True)
        port_file = os.path.join(profile, "DevToolsActivePort")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.proc = subprocess.Popen(
            [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", "--user-data-dir=" + profile,
             "about:blank"], stdout=self.log, stderr=self.log)
        # Chromium names its port in this file once it listens.
        end = time.monotonic() + timeout
        lines = []
        while len(lines) < 2:
            if self.proc.poll() is not None:
                raise CdpError("chromium exited with status %d (log %s.log)" % (self.proc.returncode, profile))
            if time.monotonic() > end:
                raise CdpError("chromium wrote no DevToolsActivePort in %ds" % timeout)
            try:
                with open(port_file) as f:
                    lines = f.read().split()
            except OSError:
                lines = []
            if len(lines) < 2:
                time.sleep(0.05)  # polling a file Chromium writes, bounded above
        self.ws = _Socket("ws://127.0.0.1:%s%s" % (lines[0], lines[1]), timeout)

    def _dispatch(self, msg):
        """An event: console errors and uncaught exceptions are kept per page."""
        page = self.pages.get(msg.get("sessionId"))
        if page is None:
            return
        m, p = msg.get("method"), msg.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            page.console_errors.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
            page.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            page.console_errors.append(p["entry"].get("text", ""))

    def call(self, method, params=None, session=None):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            r = json.loads(self.ws.recv())
            if r.get("id") == mid:
                if "error" in r:
                    raise CdpError("%s: %s" % (method, r["error"].get("message")))
                return r.get("result", {})
            self._dispatch(r)

    def pump(self, seconds):
        """Handles events for up to `seconds` (the wait between two polls)."""
        self.ws.sock.settimeout(seconds)
        try:
            while True:
                self._dispatch(json.loads(self.ws.recv()))
        except (socket.timeout, TimeoutError):
            pass
        finally:
            self.ws.sock.settimeout(self.timeout)

    def open(self, url, width=1400, height=2000, scheme=None):
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session, target)
        self.pages[session] = page
        for m in ("Runtime.enable", "Log.enable", "Page.enable"):
            page.call(m)
        page.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=width < 600)
        page.call("Emulation.setFocusEmulationEnabled", enabled=True)
        if scheme:
            page.color_scheme(scheme)
        page.goto(url)
        return page

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

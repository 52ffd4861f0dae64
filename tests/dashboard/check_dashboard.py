#!/usr/bin/python3
"""The dashboard of a running graph, as a user sees it.

    check_dashboard.py PROCACTOR GRAPH [--screenshot PNG]

Launches GRAPH (a graph that runs until stopped) with `--http 127.0.0.1:0`
in a private state directory, then:
  * /metrics parses with Prometheus' own text parser (prometheus_client) and
    has every instance and every route of the graph;
  * /api/status and /api/events are JSON with a schema version;
  * headless Chromium shows every actor and every edge, the numbers move,
    and after `procactor kill RUN worker.1` the instance's restart count and
    the event log change; a click on the instance shows its exit record;
  * scaled to 24 workers, the worker box is a grid of dots (each with its
    tooltip, each clickable) shorter than a line per instance, and the
    other boxes keep their own height; scaled back to 2, lines again;
  * it answers GET alone (405 naming what it serves) and says which paths
    it has (404);
  * with clients that send nothing and clients that send their request a
    line at a time connected, it still answers, and `procactor stop` does
    not wait for them;
then stops the run and checks that it ended cleanly and that the page
says the run has ended, with its exit code, every instance exited and
every rate 0, and that the page asked for nothing the server lacks.
Exits 77 (skip) when
Chromium, chromedriver, Selenium or prometheus_client is missing.

Run with /usr/bin/python3: Debian's modules load there.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SKIP = 77


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def wait_for(what, check, timeout=60.0):
    """Polls check() until it returns something true; the event, not a race."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as e:  # the page or the run is still on its way
            last = e
        time.sleep(0.2)
    fail(f"{what} (waited {timeout:.0f} s; last: {last!r})")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.read().decode()


def main():
    try:
        from prometheus_client.parser import text_string_to_metric_families
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
    except ImportError as e:
        print(f"skip: {e} (apt-get install python3-selenium python3-prometheus-client)")
        return SKIP
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        print("skip: chromium or chromedriver missing (apt-get install chromium chromium-driver)")
        return SKIP
    if len(sys.argv) < 3:
        fail("usage: check_dashboard.py PROCACTOR GRAPH [--screenshot PNG]")
    procactor, graph = sys.argv[1], sys.argv[2]
    screenshot = sys.argv[sys.argv.index("--screenshot") + 1] if "--screenshot" in sys.argv else None

    state = tempfile.mkdtemp(prefix="procactor-dashboard-")
    os.chmod(state, 0o700)
    env = dict(os.environ, PROCACTOR_STATE_DIR=state, XDG_STATE_HOME=state, XDG_RUNTIME_DIR=state)
    env = {k: v for k, v in env.items() if not k.startswith("PROCACTOR_") or k == "PROCACTOR_STATE_DIR"}

    def procactor_cmd(*args):
        return subprocess.run([procactor, *args], env=env, capture_output=True, text=True, timeout=120)

    out_path = os.path.join(state, "launch.out")
    out = open(out_path, "w")
    launch = subprocess.Popen([procactor, "launch", graph, "--http", "127.0.0.1:0"], env=env, stdout=out,
                              stderr=subprocess.STDOUT, start_new_session=True)
    browser = None
    try:
        def launched():
            text = open(out_path).read()
            if launch.poll() is not None:
                fail("launch ended early:\n" + text)
            if "actors ready" not in text:
                return None
            for line in text.splitlines():
                if "dashboard at " in line:
                    return line.split("dashboard at ")[1].split()[0]
            fail("launch --http printed no dashboard address:\n" + text)
        url = wait_for("the run and its dashboard", launched, 120)
        run = wait_for("the dashboard's first status", lambda: json.loads(get(url + "api/status"))["run"])
        print(f"run {run}, dashboard at {url}", flush=True)

        # The JSON API.
        status = wait_for("a status with every instance and edge", lambda: (
            lambda s: s if len(s["actors"]) == 4 and len(s["edges"]) == 2 else None)(json.loads(get(url + "api/status"))))
        if status.get("schema") != 1 or status.get("live") is not True:
            fail(f"/api/status lacks schema 1 or live: {status}")
        events = wait_for("started events", lambda: (
            lambda e: e if any(x["kind"] == "started" for x in e["events"]) else None)(json.loads(get(url + "api/events"))))
        if events.get("schema") != 1 or any(set(x) != {"time_ms", "time", "kind", "actor", "pid", "detail"}
                                            for x in events["events"]):
            fail(f"/api/events has no schema or other fields: {events}")
        # after= is a count: anything else is refused (-1 once read as a huge count).
        for bad in ["-1", "5x", "abc", ""]:
            try:
                get(url + "api/events?after=" + bad)
                fail(f"/api/events?after={bad} was answered")
            except urllib.error.HTTPError as e:
                if e.code != 400:
                    fail(f"/api/events?after={bad} got HTTP {e.code}, not 400")
        # Bound to loopback, it answers only loopback Host names (DNS rebinding):
        # a name that merely starts like a loopback address is refused.
        port = url.rstrip("/").rsplit(":", 1)[1]
        for host, code in [("localhost:" + port, 200), ("127.0.0.1:" + port, 200), ("[::1]:" + port, 200),
                           ("127.0.0.1.evil.example", 403), ("127.evil.example", 403), ("[::1].evil", 403),
                           ("evil.example", 403)]:
            request = urllib.request.Request(url + "api/status", headers={"Host": host})
            try:
                got = urllib.request.urlopen(request, timeout=10).status
            except urllib.error.HTTPError as e:
                got = e.code
            if got != code:
                fail(f"/api/status with Host: {host} got HTTP {got}, not {code}")

        # Read-only, and saying so.
        # (A POST with no body has no Content-Length: it got a bare 400.)
        for method, body in [("POST", b"x=1"), ("POST", None), ("PUT", b"x=1"), ("PATCH", b"x=1"), ("DELETE", None),
                             ("OPTIONS", None)]:
            try:
                urllib.request.urlopen(urllib.request.Request(url + "api/status", data=body, method=method),
                                       timeout=10)
                fail(f"{method} /api/status was served")
            except urllib.error.HTTPError as e:
                if e.code != 405 or e.headers.get("Allow") != "GET, HEAD":
                    fail(f"{method} /api/status got HTTP {e.code}, Allow {e.headers.get('Allow')!r}: not 405, GET, HEAD")
        try:
            get(url + "nope")
            fail("/nope was served")
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            if e.code != 404 or "/metrics" not in text or "/api/status" not in text:
                fail(f"/nope got HTTP {e.code} {text!r}: not a 404 that names the paths")

        # /metrics, by Prometheus' parser.
        def metrics_ready():
            families = {f.name: f for f in text_string_to_metric_families(get(url + "metrics"))}
            edges = families.get("procactor_edge_messages")
            if edges is None or not any(s.value > 0 for s in edges.samples):
                return None
            return families
        families = wait_for("metrics with traffic on the edges", metrics_ready)
        for name in ["procactor_up", "procactor_messages_processed", "procactor_messages_per_second",
                     "procactor_mailbox_queued_bytes", "procactor_mailbox_fullest_lane_bytes",
                     "procactor_mailbox_capacity_bytes", "procactor_restarts",
                     "procactor_dead_letters", "procactor_actor_state", "procactor_cpu_seconds",
                     "procactor_resident_memory_bytes", "procactor_edge_messages"]:
            if name not in families:
                fail(f"/metrics lacks {name}: has {sorted(families)}")
        instances = {(s.labels["actor"], s.labels["replica"]) for s in families["procactor_messages_processed"].samples}
        if instances != {("source", "0"), ("worker", "0"), ("worker", "1"), ("sink", "0")}:
            fail(f"/metrics instances: {instances}")
        routes = {(s.labels["from"], s.labels["to"]) for s in families["procactor_edge_messages"].samples}
        if routes != {("source", "worker"), ("worker", "sink")}:
            fail(f"/metrics routes: {routes}")
        if families["procactor_messages_processed"].type != "counter" or families["procactor_up"].type != "gauge":
            fail("/metrics types are not counter and gauge")
        running = [s for s in families["procactor_actor_state"].samples if s.labels["state"] == "running"]
        if len(running) != 4 or any(s.value != 1 for s in running):
            fail(f"not every instance is running by /metrics: {running}")

        # The page, in a real browser.
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,1000", f"--user-data-dir={os.path.join(state, 'chromium')}"]:
            options.add_argument(arg)
        # The console's messages: a resource the page asks for and the
        # server has not (a 404) is one.
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        browser = webdriver.Chrome(service=Service(driver_path), options=options)
        browser.get(url)

        def rows():
            found = {}
            for tr in browser.find_elements(By.CSS_SELECTOR, "#actors tbody tr"):
                cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                if cells:
                    found[cells[0]] = cells
            return found
        table = wait_for("the actor table with every instance", lambda: (
            lambda r: r if set(r) == {"source.0", "worker.0", "worker.1", "sink.0"} else None)(rows()))
        nodes = wait_for("every actor in the graph", lambda: (
            lambda n: n if sorted(n) == ["sink", "source", "worker"] else None)(
            [g.get_attribute("data-actor") for g in browser.find_elements(By.CSS_SELECTOR, "#graph g.node")]))
        edges = wait_for("every edge with its rate", lambda: (
            lambda e: e if len(e) == 2 and all("msg/s" in t for t in e.values()) else None)(
            {(g.get_attribute("data-from"), g.get_attribute("data-to")): g.find_element(By.TAG_NAME, "text").text
             for g in browser.find_elements(By.CSS_SELECTOR, "#graph g.edge")}))
        print(f"page: {len(table)} instances, actors {nodes}, edges {edges}", flush=True)

        def processed(name):
            text = rows()[name][4]
            scale = {"k": 1e3, "M": 1e6, "G": 1e9}
            number, _, unit = text.partition(" ")
            return float(number) * scale.get(unit, 1)
        first = processed("sink.0")
        wait_for("the sink's count to move on the page", lambda: processed("sink.0") > first)

        # A kill: the restart count and the event log change.
        restarts_before = int(rows()["worker.1"][3])
        killed = procactor_cmd("kill", run, "worker.1")
        if killed.returncode != 0:
            fail(f"procactor kill: {killed.returncode} {killed.stdout} {killed.stderr}")
        wait_for("worker.1's restart count to go up on the page",
                 lambda: int(rows()["worker.1"][3]) == restarts_before + 1)
        log = wait_for("the exit and the restart in the event log", lambda: (
            lambda t: t if "exited" in t and "worker.1" in t and "restarting" in t else None)(
            browser.find_element(By.ID, "events").text))
        wait_for("worker.1 to be running again", lambda: rows()["worker.1"][1] == "running")
        browser.find_element(By.CSS_SELECTOR, "#actors tbody tr[data-instance='worker.1']").click()
        wait_for("worker.1's exit record in its details", lambda: "signal 9" in browser.find_element(By.ID, "details").text)
        print("after the kill: restart counted, event log shows it, details show the exit record", flush=True)
        if screenshot:
            time.sleep(1.5)  # a picture only: the numbers of one more sample
            browser.save_screenshot(screenshot)
            print(f"screenshot: {screenshot}", flush=True)

        # Many replicas: the box lists them as a grid of dots, one per
        # instance, each with its own tooltip and clickable, and the box is
        # shorter than a line per instance would make it; the other boxes
        # keep their own heights.
        def box_height(actor):
            return float(browser.find_element(
                By.CSS_SELECTOR, f"#graph g.node[data-actor='{actor}'] rect.box").get_attribute("height"))
        source_height = box_height("source")
        scaled = procactor_cmd("scale", run, "worker", "24")
        if scaled.returncode != 0:
            fail(f"procactor scale worker 24: {scaled.returncode} {scaled.stdout} {scaled.stderr}")
        workers = [f"worker.{i}" for i in range(24)]

        def dots():
            return {g.get_attribute("data-instance"): g for g in browser.find_elements(
                By.CSS_SELECTOR, "#graph g.node[data-actor='worker'] g.instance")}
        wait_for("24 worker dots, each with its state in its tooltip", lambda: (
            lambda d: d if sorted(d) == sorted(workers) and all(
                "running" in g.find_element(By.TAG_NAME, "title").get_attribute("textContent") for g in d.values())
            else None)(dots()))
        if not box_height("worker") < 24 * 18:
            fail(f"the worker box is {box_height('worker')} px tall for 24 instances")
        if box_height("source") != source_height:
            fail(f"the source box went from {source_height} to {box_height('source')} px with 24 workers")
        dots()["worker.23"].find_element(By.TAG_NAME, "circle").click()
        wait_for("worker.23's details after a click on its dot",
                 lambda: browser.find_element(By.ID, "details-title").text == "worker.23")
        scaled = procactor_cmd("scale", run, "worker", "2")
        if scaled.returncode != 0:
            fail(f"procactor scale worker 2: {scaled.returncode} {scaled.stdout} {scaled.stderr}")
        wait_for("two worker lines again", lambda: sorted(dots()) == ["worker.0", "worker.1"] and len(
            browser.find_elements(By.CSS_SELECTOR, "#graph g.node[data-actor='worker'] text.line")) == 2)
        print("24 replicas: a grid of dots in a box of its own height; back to 2: lines", flush=True)

        # Clients that hold connections: some send nothing, two send their
        # request a header line at a time for longer than `stop` may take.
        # The server still answers, and the run's end does not wait for them.
        stop_drip = threading.Event()
        dripping = []

        def drip():
            try:
                with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as s:
                    s.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    dripping.append(True)
                    for _ in range(400):
                        if stop_drip.wait(0.5):
                            return
                        s.sendall(b"X-Drip: 1\r\n")
            except OSError:
                return  # the server's process ended, with the run
        drippers = [threading.Thread(target=drip, daemon=True) for _ in range(2)]
        for t in drippers:
            t.start()
        silent = [socket.create_connection(("127.0.0.1", int(port)), timeout=10) for _ in range(20)]
        wait_for("both slow clients under way", lambda: len(dripping) == 2)
        wait_for("an answer beside the silent and slow clients", lambda: json.loads(get(url + "api/status"))["run"])
        stopped = procactor_cmd("stop", run)
        if stopped.returncode != 0:
            fail(f"procactor stop: {stopped.returncode} {stopped.stdout} {stopped.stderr}")
        code = launch.wait(timeout=120)
        if code != 0:
            fail(f"launch exited {code}:\n" + open(out_path).read())
        # The server went once the open page had been told how the run ended,
        # and the page keeps saying so.
        stop_drip.set()
        for t in drippers:
            t.join(timeout=30)
        for c in silent:
            c.close()
        wait_for("the page to say the run has ended, and how", lambda: (
            lambda t: t if t == "the run has ended with exit code 0" else None)(
            browser.find_element(By.ID, "connection").text), 10)
        # Its last table is the run's as it ended, not its last live sample.
        wait_for("every instance exited on the page", lambda: (
            lambda r: r if set(r) == {"source.0", "worker.0", "worker.1", "sink.0"} and all(
                cells[1] == "exited" for cells in r.values()) else None)(rows()), 10)
        # Nothing flows in an ended run: every rate on the page is 0, not
        # its last second's.
        wait_for("every rate at 0 once the run has ended", lambda: (
            lambda r, e: (r, e) if all(cells[5] == "0.0" for cells in r.values()) and len(e) == 2 and all(
                t == "0.0 msg/s" for t in e) else None)(
            rows(), [g.find_element(By.TAG_NAME, "text").text
                     for g in browser.find_elements(By.CSS_SELECTOR, "#graph g.edge")]), 10)
        # The page asked for nothing the server lacks (a browser asks for
        # /favicon.ico unless the page names its icon).
        missing = [e["message"] for e in browser.get_log("browser")
                   if "404" in e.get("message", "") and "/api/" not in e.get("message", "")]
        if missing:
            fail(f"the page asked for what the server has not: {missing}")
        print("PASS", flush=True)
        return 0
    finally:
        if browser is not None:
            browser.quit()
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGKILL)
            launch.wait()
        out.close()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

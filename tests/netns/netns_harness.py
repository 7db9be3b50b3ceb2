"""Network namespaces for the capture tests: each test creates its own,
runs processes inside them, and deletes them (and the processes) afterwards.
Needs root."""
import secrets
import subprocess

PROXY_UID = 1337


def run(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=20)


class Namespace:
    def __init__(self, prefix="weft-test"):
        self.name = f"{prefix}-{secrets.token_hex(4)}"
        self.processes = []
        run("ip", "netns", "add", self.name)
        self.exec("ip", "link", "set", "lo", "up")

    def exec(self, *cmd, check=True):
        return run("ip", "netns", "exec", self.name, *cmd, check=check)

    def spawn(self, *cmd, uid=None, log=None):
        prefix = ["ip", "netns", "exec", self.name]
        if uid is not None:
            prefix += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        process = subprocess.Popen([*prefix, *cmd], stdout=log or subprocess.DEVNULL,
                                   stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def python(self, code, *args):
        """Runs a Python client inside the namespace; returns its stdout."""
        return self.exec("/usr/bin/python3", "-c", code, *args).stdout

    def close(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        run("ip", "netns", "del", self.name, check=False)


def link(a, a_ip, b, b_ip, prefix_len=24):
    """A veth pair between two namespaces, addressed and up."""
    tag = secrets.token_hex(3)
    a_dev, b_dev = f"wa{tag}", f"wb{tag}"
    run("ip", "link", "add", a_dev, "netns", a.name, "type", "veth", "peer", "name", b_dev,
        "netns", b.name)
    for ns, dev, ip in ((a, a_dev, a_ip), (b, b_dev, b_ip)):
        ns.exec("ip", "addr", "add", f"{ip}/{prefix_len}", "dev", dev)
        ns.exec("ip", "link", "set", dev, "up")


def wait_port(ns, host, port):
    code = (f"import socket,time\nfor _ in range(100):\n try:\n  socket.create_connection(('{host}',{port}),0.2).close(); break\n"
            f" except OSError: time.sleep(0.05)\nelse: raise SystemExit(1)")
    ns.python(code)


def metric(ns, metrics_port, name, **labels):
    """The sum of a Prometheus metric's samples with these labels, scraped
    from inside the namespace."""
    text = ns.python(f"import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:{metrics_port}/stats/prometheus').read().decode())")
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total

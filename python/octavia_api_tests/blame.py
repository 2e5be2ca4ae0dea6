"""Steps, and which component broke one.

Each scenario is a series of named steps (``with step(world, "listener
create -> ACTIVE"):``). When a step fails, the failure names the step and the
component where the failure was seen, with the log lines that show it:

1. a component process that exited on its own;
2. Octavia's API log saying that the daemon could not be reached or failed
   (the daemon), or that the provider raised something octavia-lib does not
   define, failed to load, or sent a request the daemon refused as malformed
   (the plugin);
3. the simulator's log reporting an error (the simulator);
4. the daemon's log reporting an error or warning (the daemon);
5. Octavia's own logs reporting an error (Octavia);
6. the daemon's journal: an event still pending or failed (the daemon) or
   no event at all for the step's objects (the plugin did not forward it);
7. otherwise the component the step itself depends on (``suspect``), with
   the journal's view of the step's objects and the daemon's last warnings
   from before the step (a fault it reports once and then retries quietly).

Only lines logged during the step are read.
"""

import contextlib
import re

#: Log file label -> component.
LOG_COMPONENT = {
    "octavia-api.log": "Octavia",
    "octavia-api.out": "Octavia",
    "driver-agent.log": "Octavia",
    "driver-agent.out": "Octavia",
    "daemon.log": "daemon",
    "simulator.log": "simulator",
}
_ERROR = re.compile(r"\b(ERROR|CRITICAL|WARN|WARNING)\b|panicked|Traceback")
_PLUGIN_FAULTS = (
    "raised an unknown error",      # not an octavia-lib exception: a plugin bug
    "Cannot load driver 'loxilb'",  # the entry point or import failed
    "octavia_loxilb_provider/",     # a traceback through the plugin's files
    "loxilb provider setting refused",
    # Octavia has validated the user's input already: a request the daemon
    # refuses as malformed was built wrong by the plugin.
    "as invalid (field",
)
_DAEMON_FAULTS = ("cannot reach loxilb-coordinator", "loxilb-coordinator answered",
                  "gave an unreadable answer",
                  # The daemon decides what is supported; the plugin passes it on.
                  "raised an unsupported option error")


class StepFailed(AssertionError):
    pass


class Marks:
    """Where each log ended when a step began."""

    def __init__(self, world):
        self.world = world
        self.offsets = {label: _size(p) for label, p in world.log_paths().items()}

    def before(self, label):
        """The log's lines written before the step began."""
        path = self.world.log_paths()[label]
        try:
            with open(path, "rb") as f:
                text = f.read(self.offsets.get(label, 0)).decode("utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()

    def new_lines(self, label):
        path = self.world.log_paths()[label]
        try:
            with open(path, "rb") as f:
                f.seek(self.offsets.get(label, 0))
                text = f.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()


def _size(path):
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _errors(lines):
    return [ln for ln in lines if _ERROR.search(ln)]


def classify(world, marks, suspect, object_ids=()):
    """(component, evidence lines) for a failed step."""
    for proc in world.procs.values():
        code = proc.died()
        if code is not None:
            return proc.component, [f"{proc.argv[0]} exited with {code}"]
    api = marks.new_lines("octavia-api.log")
    # The daemon's faults first: the plugin words them, so a traceback of the
    # DriverError it raised runs through the plugin's files too.
    for needles, component in ((_DAEMON_FAULTS, "daemon"), (_PLUGIN_FAULTS, "plugin")):
        hits = [ln for ln in api if any(n in ln for n in needles)]
        if hits:
            return component, hits
    for label, component in (("simulator.log", "simulator"), ("daemon.log", "daemon")):
        hits = _errors(marks.new_lines(label))
        if hits:
            return component, hits
    octavia = [ln for label, c in LOG_COMPONENT.items() if c == "Octavia"
               for ln in _errors(marks.new_lines(label))]
    if octavia:
        return "Octavia", octavia
    component, lines = _journal_evidence(world, object_ids)
    if component is not None:
        return component, lines
    return suspect, lines + _earlier_warnings(marks) + [
        "no component logged an error during the step"]


def _journal_evidence(world, object_ids):
    """(component or None, lines) from the daemon's journal of the step's objects."""
    if not object_ids:
        return None, []
    events = world.daemon_events()
    if events is None:
        return "daemon", ["the daemon's journal could not be read"]
    mine = [e for e in events if e.get("object_id") in object_ids]
    if not mine:
        return "plugin", [f"the daemon journaled no event for {sorted(object_ids)}"]
    lines = [f"journal: {e['method']} {e['object_id']} {e['state']}"
             + (f" ({e['reason']})" if e.get("reason") else "") for e in mine]
    if any(e.get("state") != "done" for e in mine):
        return "daemon", lines
    return None, lines


def _earlier_warnings(marks):
    """The daemon's last warnings from before the step: a fault it reported
    once (say, an unreachable status socket) and keeps retrying quietly."""
    lines = _errors(marks.before("daemon.log"))
    return [f"earlier in daemon.log: {ln}" for ln in lines[-3:]]


class Step:
    """What the body of a ``with step(...) as s`` may tell: ``s.objects.add(id)``
    for the Octavia objects it changes (the journal check reads them)."""

    def __init__(self, objects):
        self.objects = set(objects)


@contextlib.contextmanager
def step(world, name, suspect="daemon", objects=()):
    """Runs one named step; a failure becomes a :class:`StepFailed` naming the
    step and the component, with evidence. ``suspect`` is the component the
    step's outcome depends on when no log or journal shows anything."""
    marks = Marks(world)
    s = Step(objects)
    try:
        yield s
    except StepFailed:
        raise
    except Exception as e:  # noqa: BLE001 - every failure gets a verdict
        component, evidence = classify(world, marks, suspect, s.objects)
        shown = "\n    ".join(ln[-400:] for ln in evidence[-12:])
        world.failed = True
        raise StepFailed(
            f"STEP FAILED: {name!r}; component: {component}\n"
            f"  cause: {type(e).__name__}: {e}\n"
            f"  evidence:\n    {shown}\n"
            f"  logs kept in {world.work}") from e

"""The answer-program sandbox: ordinary programs give their answer; hostile ones are contained and fail.

Each run starts a fresh interpreter (about a quarter of a second), so the quick cases run together in one
module-scoped batch (which also exercises thread-safety) and each test reads its own result.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from benchmaker.verification import sandbox, sandbox_child
from benchmaker.verification.sandbox import ALLOWED_MODULES, ProgramRun, SandboxLimits, run_program

# Each test starts sandboxed interpreters: seconds each, so not in the fast loop.
pytestmark = pytest.mark.slow

LIMITS = SandboxLimits(cpu_seconds=1, wall_seconds=5, memory_mb=192, max_output_chars=2_000)
BASE_LAYERS = {"process", "rlimits", "restricted_python", "audit_hook"}

ORDINARY = [
    ("answer = 12 * 7 - 5", "integer", "79"),
    ("from fractions import Fraction\nanswer = Fraction(3, 4) + Fraction(1, 4) * 2", "fraction", "5/4"),
    ("import math\nanswer = round(math.sqrt(2), 4)", "float", "1.4142"),
    ("import datetime\nanswer = datetime.date(2024, 3, 1) + datetime.timedelta(days=30)", "date", "2024-03-31"),
    ("print(42)", "text", "42"),
    ("print('working...')\nprint(6 * 7)\nprint()", "text", "42"),
    ("total = 0\nfor i in range(10):\n    total += i\nanswer = total", "integer", "45"),
    ("x = 10\nx -= 3\nx *= 4\nx //= 3\nx **= 2\nx %= 50\nanswer = x", "integer", "31"),
    ("answer = [i * i for i in range(4)]", "sequence", "0, 1, 4, 9"),
    ("def f(x):\n    return x * x\nanswer = f(7)", "integer", "49"),
    ("from itertools import permutations\nanswer = len(list(permutations(range(4))))", "integer", "24"),
    ("import statistics\nanswer = statistics.mean([1, 2, 3, 4])", "float", "2.5"),
    ("from decimal import Decimal\nanswer = Decimal('1.10') + Decimal('2.20')", "decimal", "3.30"),
    ("class P:\n    def __init__(self, x):\n        self.x = x\nanswer = P(3).x", "integer", "3"),
    (  # `x[k] += v`, which plain RestrictedPython refuses
        "counts = {}\nfor c in 'hello':\n    counts[c] = counts.get(c, 0)\n    counts[c] += 1\n"
        "grid = [[1]]\ngrid[0][0] *= 7\nanswer = (counts['l'], grid[0][0])",
        "sequence",
        "2, 7",
    ),
    (  # str.format, which plain RestrictedPython refuses; fields read attributes through the guard
        "answer = '{:.2f}'.format(3.14159) + '|{x[1]}|{y.real}'.format(x=[5, 6], y=3) + '|{a}'.format_map({'a': 1})",
        "text",
        "3.14|6|3|1",
    ),
    # datetime's C code imports _strptime through the program's __import__
    ("import datetime\nanswer = datetime.datetime.strptime('2024-03-01', '%Y-%m-%d').date()", "date", "2024-03-01"),
    (  # several features in one run: each run costs a fresh interpreter
        "import calendar, datetime, fractions, re\nfrom collections import Counter\n"
        "calendar.prmonth(2024, 2)\n"  # writes to the child's real stdout, which must not spoil the result
        "q, r = divmod(17, 5)\n"
        "answer = (10 * q + r, sorted(zip('ba', [2, 1]))[0][1], Counter('hello').most_common(1)[0][0],\n"
        "          re.findall(r'\\d+', 'a1b22c333')[-1], fractions.math.gcd(12, 18),\n"
        "          datetime.date(2024, 3, 1).strftime('%d %b %Y'), calendar.monthrange(2024, 2)[1])",
        "sequence",
        "32, 1, l, 333, 6, 01 Mar 2024, 29",
    ),
]

HOSTILE = [
    # files
    ("answer = open('/etc/passwd').read()", "restricted"),
    ("import io\nanswer = io.open('/etc/passwd').read()", "forbidden_import"),
    ("import pathlib\nanswer = pathlib.Path('/etc/passwd').read_text()", "forbidden_import"),
    # processes, network, native code
    ("import os\nos.system('true')", "forbidden_import"),
    ("__import__('os').system('true')", "restricted"),
    ("import subprocess\nsubprocess.run(['true'])", "forbidden_import"),
    ("import socket\ns = socket.socket()\ns.connect(('127.0.0.1', 22))", "forbidden_import"),
    ("import ctypes", "forbidden_import"),
    ("import os\nos.fork()", "forbidden_import"),
    ("import sys", "forbidden_import"),
    ("import builtins", "restricted"),  # a reserved name to RestrictedPython
    ("import time\ntime.sleep(100)", "forbidden_import"),
    ("import collections.abc", "forbidden_import"),
    ("from . import anything", "forbidden_import"),
    # introspection and dynamic code
    ("answer = ().__class__.__bases__[0].__subclasses__()", "restricted"),
    ("answer = getattr(__builtins__, 'open')", "restricted"),
    ("answer = [c for c in ().__class__.__base__.__subclasses__()]", "restricted"),
    ("answer = (lambda: 0).__globals__", "restricted"),
    ("().__class__[0] += 1", "restricted"),
    ("def g():\n    yield 1\nanswer = g().gi_frame", "restricted"),
    ("answer = getattr(1, 'real')", "restricted"),
    ("answer = eval('1')", "restricted"),
    ("exec('import os')", "restricted"),
    ("f = eval\nanswer = f('1')", "restricted"),
    # allowed modules that would lead to other modules, or read attributes by name
    ("import statistics\nanswer = statistics.sys.modules['os']", "restricted"),
    ("from statistics import sys", "restricted"),
    ("from collections import abc", "restricted"),
    ("import operator\nanswer = operator.attrgetter('__class__')(1)", "restricted"),
    ("import operator\nanswer = operator.methodcaller('__subclasses__')(int)", "restricted"),
    (  # copies statistics' module globals, sys among them, into the program's (a real escape if allowed)
        "import functools, statistics\ndef g():\n    return 1\n"
        "functools.update_wrapper(g, statistics.mean, assigned=(), updated=('__globals__',))\n"
        "answer = sys.modules['os'].getpid()",
        "restricted",
    ),
    ("import string\nanswer = string.Formatter().format('{0.__class__}', 1)", "restricted"),
    # guard bypasses found by the security review (issue 12, finding 4), each a working program before
    (  # numbers.ABCMeta builds a class with any dunder; its __subclasshook__ is handed the real `type`
        "import numbers\nleak = []\ndef hook(C):\n    leak.append(C)\n    return True\n"
        "X = numbers.ABCMeta('X', (), {'__subclasshook__': hook})\nisinstance(int, X)\n"
        "answer = leak[0]('abc') is str",
        "restricted",
    ),
    (  # UserDict.copy -> copy._reconstruct: setattr of any name on any object (here a module)
        "import collections, math\ndef red(self, proto):\n    return (lambda: math, (), (None, {'pi': 3}))\n"
        "class D(collections.UserDict):\n    pass\nanswer = math.pi",
        "restricted",
    ),
    (  # operator.setitem writes where the write guard refuses `c['a'] = 5`
        "import operator, collections\nc = collections.Counter()\noperator.setitem(c, 'a', 5)\nanswer = c['a']",
        "restricted",
    ),
    ("import functools\nclass P:\n    pass\nanswer = functools.GenericAlias(lambda: P(), (int,))()", "restricted"),
    ("import functools\nanswer = functools.recursive_repr()(len)", "restricted"),
    ("from numbers import abstractmethod", "restricted"),
    ("from collections import UserList", "restricted"),
    ("import functools\nanswer = functools.total_ordering", "restricted"),
    ("import functools\nanswer = functools.get_cache_token()", "restricted"),
    ("import functools\nlock = functools.RLock()", "restricted"),
    ("import operator\nx = [1]\noperator.delitem(x, 0)", "restricted"),
    ("import calendar\ncalendar.main(['calendar', '--help'])", "restricted"),
    ("import datetime\nanswer = datetime.datetime_CAPI", "restricted"),
    # a caught violation still fails the run
    ("try:\n    import os\nexcept BaseException:\n    pass\nanswer = 1", "forbidden_import"),
    ("try:\n    open('/etc/passwd')\nexcept BaseException:\n    pass\nanswer = 1", "restricted"),
    # exhausting resources
    ("x = [0] * 10**10", "memory_limit"),
    ("s = 'a' * 10**10", "memory_limit"),
    ("for i in range(10**9):\n    print('x' * 1000)", "output_limit"),
    ("def shout():\n    print('y' * 1500)\nshout()\nshout()\nanswer = 1", "output_limit"),  # one limit for all scopes
]

OTHER_ESCAPES = [  # plain errors: the program reaches nothing
    "import collections\nc = collections.Counter()\nc['a'] = 5",  # the write guard: no item writes on library objects
    "answer = '{0.__class__.__base__.__subclasses__}'.format(())",  # format fields use the getattr guard
    "answer = '{0.format}'.format('x')",
    "t = (1, 2)\nt[0] += 1",  # the write guard allows only dicts, lists and the program's own objects
    "import decimal\nanswer = decimal.sys",  # not there at all
]

MISC = {
    "printed": "for i in range(3):\n    print('step', i)\nanswer = 'done'",
    "exception": "x = 1\nanswer = x / 0",
    "syntax": "answer = (",
    "syntax2": "def f(:\n    pass",
    "no_answer": "x = 1 + 1",
    "set_order": "answer = list({'apple', 'banana', 'cherry', 'date', 'elderberry'})",
    "set_order_again": "answer = list({'apple', 'banana', 'cherry', 'date', 'elderberry'})\n",
    "cpu_loop": "while True:\n    pass",
    "cpu_power": "answer = 10**10**8",
}


def run(source: str, limits: SandboxLimits = LIMITS) -> ProgramRun:
    return run_program(source, limits)


@pytest.fixture(scope="module")
def batch() -> dict[str, ProgramRun]:
    # MISC first: its CPU hogs then overlap with the quick runs instead of trailing them.
    sources = list(MISC.values()) + [source for source, *_ in ORDINARY] + [source for source, _ in HOSTILE]
    sources += OTHER_ESCAPES
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return dict(zip(sources, pool.map(run, sources), strict=True))


@pytest.mark.parametrize(("source", "kind", "text"), ORDINARY)
def test_ordinary_programs_give_their_answer(batch: dict[str, ProgramRun], source: str, kind: str, text: str) -> None:
    result = batch[source]
    assert result.ok, result.detail
    assert result.failure is None
    assert result.value is not None
    assert (result.value.kind, result.value.text) == (kind, text)


@pytest.mark.parametrize(("source", "failure"), HOSTILE)
def test_hostile_program_is_refused(batch: dict[str, ProgramRun], source: str, failure: str) -> None:
    result = batch[source]
    assert (result.ok, result.failure) == (False, failure), result.detail
    assert result.value is None
    assert result.seconds < LIMITS.wall_seconds


@pytest.mark.parametrize("source", OTHER_ESCAPES)
def test_other_escapes_fail(batch: dict[str, ProgramRun], source: str) -> None:
    result = batch[source]
    assert (result.ok, result.failure, result.value) == (False, "exception", None)


def test_printed_text_is_returned_with_the_answer(batch: dict[str, ProgramRun]) -> None:
    result = batch[MISC["printed"]]
    assert result.ok
    assert result.printed == "step 0\nstep 1\nstep 2\n"
    assert result.value is not None and result.value.text == "done"


def test_printed_text_is_capped(batch: dict[str, ProgramRun]) -> None:
    result = batch["for i in range(10**9):\n    print('x' * 1000)"]
    assert len(result.printed) == LIMITS.max_output_chars


def test_exception_reports_type_and_line(batch: dict[str, ProgramRun]) -> None:
    result = batch[MISC["exception"]]
    assert (result.ok, result.failure) == (False, "exception")
    assert "ZeroDivisionError" in result.detail
    assert "line 2" in result.detail


@pytest.mark.parametrize("key", ["syntax", "syntax2"])
def test_syntax_error_is_restricted(batch: dict[str, ProgramRun], key: str) -> None:
    result = batch[MISC[key]]
    assert (result.ok, result.failure) == (False, "restricted")
    assert "SyntaxError" in result.detail


def test_no_answer_and_no_print(batch: dict[str, ProgramRun]) -> None:
    result = batch[MISC["no_answer"]]
    assert (result.ok, result.failure, result.value) == (False, "no_answer", None)


def test_set_order_is_the_same_in_every_run(batch: dict[str, ProgramRun]) -> None:
    assert batch[MISC["set_order"]].value == batch[MISC["set_order_again"]].value


def test_isolation_layers(batch: dict[str, ProgramRun]) -> None:
    launch = sandbox._launch_plan()
    for result in batch.values():
        assert set(result.isolation) >= BASE_LAYERS
        assert ("network_namespace" in result.isolation) == bool(launch.prefix)
        assert ("unprivileged_user" in result.isolation) == launch.drop_privileges


def test_writing_a_file_fails_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / f"evil-{uuid.uuid4().hex}"
    result = run(f"f = open({str(target)!r}, 'w')\nf.write('x')\nf.close()\nanswer = 1")
    assert (result.ok, result.failure) == (False, "restricted")
    assert not target.exists()


@pytest.mark.parametrize("key", ["cpu_loop", "cpu_power"])
def test_cpu_hog_is_stopped(batch: dict[str, ProgramRun], key: str) -> None:
    result = batch[MISC[key]]
    assert not result.ok
    assert result.failure in {"cpu_limit", "timeout"}  # timeout only on a badly overloaded machine


def test_no_process_or_directory_outlives_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # every run's working directory lands here
    limits = SandboxLimits(cpu_seconds=60, wall_seconds=1.5, memory_mb=192)
    timed_out = run("while True:\n    pass", limits)
    assert (timed_out.ok, timed_out.failure) == (False, "timeout")
    assert 1.5 <= timed_out.seconds < 5
    assert run("import os\nos.fork()", limits).failure == "forbidden_import"
    assert list(tmp_path.iterdir()) == []
    leftovers = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd").startswith(str(tmp_path)):
                    leftovers.append(entry.name)
            except OSError:
                continue  # gone meanwhile, or not ours to read
    assert leftovers == []
    assert run("answer = 2 + 2").ok  # and the sandbox still works


def test_runs_from_several_threads_at_once() -> None:
    programs = {f"answer = {n} * 11": str(n * 11) for n in range(4)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(programs, pool.map(run, programs), strict=True))
    for source, expected in programs.items():
        assert results[source].ok
        assert results[source].value is not None and results[source].value.text == expected


def test_audit_hook_backstop_blocks_what_restrictedpython_should_never_let_through() -> None:
    # In a separate interpreter: an audit hook cannot be removed once installed.
    script = (
        "import os, socket, sys\n"
        "from benchmaker.verification import sandbox_child as child\n"
        "sys.addaudithook(child._audit)\n"
        "for attempt in (lambda: open('/etc/passwd'), lambda: os.system('true'), lambda: socket.socket(),\n"
        "                lambda: __import__('wave'), lambda: os.remove('/nonexistent')):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('allowed')\n"
        "    except child.Refused as error:\n"
        "        print('refused', error)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    lines = done.stdout.splitlines()
    assert len(lines) == 5, done.stderr
    assert all(line.startswith("refused") for line in lines), lines


def test_allowed_modules_are_shared_with_the_child() -> None:
    assert ALLOWED_MODULES is sandbox_child.ALLOWED_MODULES
    assert {"math", "fractions", "decimal", "statistics", "datetime", "itertools"} <= ALLOWED_MODULES
    assert not {"os", "sys", "io", "time", "random", "subprocess", "socket"} & ALLOWED_MODULES


def test_limits_and_run_validate() -> None:
    with pytest.raises(ValidationError):
        SandboxLimits(cpu_seconds=0)
    with pytest.raises(ValidationError):
        SandboxLimits(memory_mb=-1)
    with pytest.raises(ValidationError):
        SandboxLimits(unknown=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ProgramRun(ok=True, failure="exception", seconds=0.1, isolation=())
    with pytest.raises(ValidationError):
        ProgramRun(ok=False, seconds=0.1, isolation=())


def test_denied_builtins_are_stubs_that_close_over_nothing():
    stub = sandbox_child._denied("open")
    assert set(stub.__globals__) <= {"__builtins__", "Refused", "note", "open"}
    assert stub.__closure__ is None and stub.__globals__["__builtins__"] == {}
    with pytest.raises(sandbox_child.Refused, match="open"):
        stub("/etc/passwd")
    assert sandbox_child._violations[-1] == ("restricted", "open() is not available in the sandbox")
    sandbox_child._violations.clear()


def test_module_proxies_expose_only_what_their_modules_define():
    proxies = sandbox_child._module_proxies()
    for name, proxy in proxies.items():
        for attribute, value in vars(proxy).items():
            if attribute.startswith("_") or isinstance(value, type(proxy)):
                continue
            assert not (isinstance(value, type) and issubclass(value, type)), f"{name}.{attribute} is a metaclass"
            origin = getattr(value, "__module__", None) if callable(value) else type(value).__module__
            assert origin in sandbox_child._ORIGINS or origin == "builtins", f"{name}.{attribute} from {origin}"
    assert "ABCMeta" in proxies["numbers"].__dict__["_withheld"]
    assert {"sqrt", "pi"} <= set(vars(proxies["math"]))  # the ordinary surface is still there

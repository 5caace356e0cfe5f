"""The sandbox's child process: runs one untrusted answer program and reports one JSON line.

Started only by :mod:`benchmaker.verification.sandbox`, which sends a JSON request on stdin. Layers, in
the order they go up; each fails closed (if one cannot be set up, the program does not run):

1. rlimits: CPU, address space, file size, no core, few files, no new processes;
2. an unprivileged user (when the parent asks; only as root, where RLIMIT_NPROC is not enforced);
3. RestrictedPython: compile-time checks, guarded attribute access, imports limited to ALLOWED_MODULES,
   each handed over as a proxy that holds no other module;
4. an audit hook (PEP 578) as a backstop behind RestrictedPython.

Any attempt to leave the sandbox is recorded, so the run fails even if the program catches the error.
"""

from __future__ import annotations

import _string  # str.format's own field-name parser, for the guarded formatter below
import ast
import builtins
import contextlib
import importlib
import json
import math
import operator
import os
import resource
import string
import sys
import time
import types
from collections.abc import Callable
from typing import Any, NoReturn

from RestrictedPython import compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.transformer import IOPERATOR_TO_STR, RestrictingNodeTransformer

from benchmaker.verification.values import encode

ALLOWED_MODULES: frozenset[str] = frozenset({
    "math", "cmath", "fractions", "decimal", "statistics", "datetime", "itertools", "functools", "operator",
    "collections", "re", "string", "calendar", "numbers",
})  # fmt: skip

# Public names of allowed modules withheld although they pass the origin rule below, each a way around
# RestrictedPython's guards: reading attributes by name (attrgetter("__class__"), methodcaller, str.format
# templates via Formatter, update_wrapper(f, g, updated=("__globals__",)) copying a module's globals,
# `sys` included, into the program's, singledispatch evaluating annotation strings); writing what the
# write guard refuses (setitem/delitem on any object; total_ordering setting dunders on any class;
# UserDict/UserList/UserString, whose copy() runs copy._reconstruct: a setattr of any name on any object).
_WITHHELD: dict[str, frozenset[str]] = {
    "operator": frozenset({"attrgetter", "methodcaller", "setitem", "delitem"}),
    "functools": frozenset({"update_wrapper", "wraps", "singledispatch", "singledispatchmethod", "total_ordering"}),
    "string": frozenset({"Formatter"}),
    "collections": frozenset({"UserDict", "UserList", "UserString"}),
    "calendar": frozenset({"main"}),  # argparse over sys.argv, writes to sys.stdout's buffer
}
# Where an exposed object may come from: the allowed modules and their C accelerators. Anything a module
# merely re-exports from elsewhere is withheld: numbers.ABCMeta and numbers.abstractmethod (abc: a
# metaclass builds classes with any dunder, e.g. a __subclasshook__ handed the real `type`;
# abstractmethod sets an attribute on any object), functools.GenericAlias (types: calling one sets
# __orig_class__ on whatever its origin returns), functools.recursive_repr (reprlib: copies dunders of any
# callable), functools.get_cache_token (abc), functools.RLock (_thread), datetime.datetime_CAPI (a capsule).
_ORIGINS: frozenset[str] = ALLOWED_MODULES | frozenset({
    "_functools", "_operator", "_collections", "_decimal", "_datetime", "_statistics",
})  # fmt: skip
_PLAIN_DATA = (int, float, complex, str, bytes, bool, type(None))


def _exposable(value: Any) -> bool:
    """Whether an allowed module's public attribute may be handed to the program (modules aside)."""
    if isinstance(value, type):
        if issubclass(value, type):
            return False  # a metaclass
        if issubclass(value, BaseException) and value.__module__ == "builtins":
            return True  # calendar.error is ValueError: a builtin the program has anyway
        return value.__module__ in _ORIGINS
    if isinstance(value, types.FunctionType | types.BuiltinFunctionType):
        return getattr(value, "__module__", None) in _ORIGINS
    if isinstance(value, types.MethodType):  # calendar.prmonth is a method of a module-level TextCalendar
        return getattr(value.__func__, "__module__", None) in _ORIGINS and _exposable(value.__self__)
    if isinstance(value, _PLAIN_DATA):
        return True
    if isinstance(value, tuple | frozenset | list):
        return all(_exposable(item) for item in value)
    return type(value).__module__ in _ORIGINS  # instances: decimal contexts, regex flags, calendars


# Modules the allowed ones import lazily (datetime.strptime, Counter.most_common, ...): loaded up front,
# because once the audit hook is up nothing new may be imported (and, as nobody, could not be read).
_PRELOAD = ("_strptime", "copy", "heapq", "unicodedata", "_statistics", "locale")

# Builtins safe_builtins leaves out that ordinary programs use. RestrictedPython omits sorted, zip, ... as
# they iterate in C past `_getiter_`; here `_getiter_` is plain iter (nothing is guarded per object), so
# adding them loses nothing. format() takes a spec, not a field name, so it cannot reach attributes.
_EXTRA_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in (
        "all", "any", "bin", "dict", "enumerate", "filter", "format", "frozenset", "iter", "list", "map", "max",
        "min", "next", "reversed", "set", "sorted", "sum", "tuple", "zip",
    )
}  # fmt: skip
# Never available; a stub says so (and fails the run) instead of a bare NameError.
_DENIED_BUILTINS = (
    "open", "eval", "exec", "compile", "globals", "locals", "vars", "getattr", "hasattr", "type", "dir", "input",
    "breakpoint", "help", "exit", "quit", "memoryview",
)  # fmt: skip
_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor, "@=": operator.imatmul,
}  # fmt: skip
# Audit events refused once the program runs. "import" fires only for modules not loaded yet.
_BLOCKED_EVENTS = frozenset({"open", "import"})
_BLOCKED_PREFIXES = ("os.", "subprocess.", "socket.", "ctypes.", "shutil.", "resource.", "signal.", "pty.", "mmap.")
_PROGRAM = "program"
_FILE_BYTES = 1 << 20
_RESULT_CHARS = 256_000
_DETAIL = 500

_violations: list[tuple[str, str]] = []
"""(failure code, detail) of every refused attempt; the first one decides the run's failure."""


class Refused(BaseException):
    """Raised at a refused attempt. A BaseException, so `except Exception` in the program does not swallow it."""


def _refuse(failure: str, detail: str) -> NoReturn:
    _violations.append((failure, detail))
    raise Refused(detail)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus `x[k] += v`, which it refuses outright although it allows the long
    form `x[k] = x[k] + v`: counting loops (`counts[c] += 1`) would fail. The rewrite
    `_inplaceitem_(x, k, "+=", v)` reads and writes through the same guards as the long form."""

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        target = node.target
        if not isinstance(target, ast.Subscript) or any(isinstance(n, ast.Slice) for n in ast.walk(target.slice)):
            return super().visit_AugAssign(node)
        operator_text = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        arguments = [self.visit(target.value), self.visit(target.slice), operator_text, self.visit(node.value)]
        call = ast.Call(func=ast.Name("_inplaceitem_", ast.Load()), args=arguments, keywords=[])
        return ast.fix_missing_locations(ast.copy_location(ast.Expr(call), node))


class _GuardedFormatter(string.Formatter):
    """str.format for the program. RestrictedPython refuses str.format because `{0.__class__}` reads
    attributes unguarded; here each `.name` in a field goes through the same guard as `x.name`."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, Any]:
        first, rest = _string.formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attribute, key in rest:
            obj = safer_getattr_raise(obj, key) if is_attribute else obj[key]
        return obj, first


_FORMATTER = _GuardedFormatter()


def _guarded_getattr(obj: Any, name: str) -> Any:
    if isinstance(obj, str) and name in ("format", "format_map"):
        if name == "format":
            return lambda *args, **kwargs: _FORMATTER.vformat(obj, args, kwargs)
        return lambda mapping: _FORMATTER.vformat(obj, (), mapping)
    # Not RestrictedPython's safer_getattr: it returns None for a missing attribute instead of raising.
    return safer_getattr_raise(obj, name)


class _ModuleProxy(types.ModuleType):
    """What the program gets for an allowed module: its public attributes, modules among them replaced by
    their own proxies or withheld, so `statistics.sys.modules["os"]` leads nowhere."""

    def __getattr__(self, name: str) -> Any:  # called only for names the proxy does not hold
        if name in self.__dict__.get("_withheld", ()):
            _refuse("restricted", f"{self.__name__}.{name} is not available in the sandbox")
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


def _module_proxies() -> dict[str, types.ModuleType]:
    proxies = {name: _ModuleProxy(name) for name in ALLOWED_MODULES}
    for name, proxy in proxies.items():
        withheld = set(_WITHHELD.get(name, ()))
        for attribute, value in vars(importlib.import_module(name)).items():
            if attribute.startswith("_") or attribute in withheld:
                continue
            if isinstance(value, types.ModuleType):
                if value.__name__ in proxies:
                    setattr(proxy, attribute, proxies[value.__name__])
                else:
                    withheld.add(attribute)
            elif _exposable(value):
                setattr(proxy, attribute, value)
            else:
                withheld.add(attribute)
        proxy.__dict__["_withheld"] = frozenset(withheld)  # names only; RestrictedPython hides `_` names
    return proxies


class _Printed:
    """print()'s target for every scope (RestrictedPython asks `_print_` for a collector per function); it
    keeps up to `limit` characters and stops the program beyond that."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0

    def collector(self, _getattr_: object = None) -> _Printed:
        return self

    def _call_print(self, *objects: object, **options: Any) -> None:
        options["file"] = self  # the program has no file objects to print to
        print(*objects, **options)

    def write(self, text: str) -> None:
        room = self.limit - self.size
        self.parts.append(text[:room])
        self.size += min(len(text), room)
        if len(text) > room:
            _refuse("output_limit", f"printed more than {self.limit} characters")

    def flush(self) -> None:
        pass

    def __call__(self) -> str:  # the `printed` name
        return "".join(self.parts)


def _guarded_import(proxies: dict[str, types.ModuleType]) -> Callable[..., types.ModuleType | None]:
    def guarded_import(
        name: str, globals: object = None, locals: object = None, fromlist: object = (), level: int = 0
    ) -> types.ModuleType | None:
        if fromlist == [] and name in sys.modules:
            # C code called from the program (datetime's strptime, strftime) imports through the program's
            # __import__ with an empty *list* and then reads sys.modules itself, ignoring what we return.
            # The program's own `import` statements pass None or a tuple and cannot call __import__ directly.
            return None
        proxy = proxies.get(name) if level == 0 else None
        if proxy is None:
            allowed = ", ".join(sorted(ALLOWED_MODULES))
            _refuse("forbidden_import", f"import of {name!r} is not allowed; allowed: {allowed}")
        return proxy

    return guarded_import


def _denied(name: str) -> Callable[..., NoReturn]:
    """A stub for a denied builtin that closes over nothing: its globals are a namespace of its own
    holding only the exception it raises and the list it notes the refusal in (a function defined here
    would carry this module's globals, `os` and `sys` among them, one guard bypass away)."""
    namespace: dict[str, Any] = {"__builtins__": {}, "Refused": Refused, "note": _violations.append}
    detail = f"{name}() is not available in the sandbox"
    source = f"def {name}(*args, **kwargs):\n    note(('restricted', {detail!r}))\n    raise Refused({detail!r})\n"
    exec(compile(source, "<sandbox>", "exec"), namespace)
    return namespace[name]


def _write_guard(obj: Any) -> Any:
    # Instances of the program's own classes may be changed (`self.x = 1`); anything else goes through
    # RestrictedPython's guard, which allows only dicts and lists.
    if getattr(type(obj), "__module__", None) == _PROGRAM:
        return obj
    return full_write_guard(obj)


def _inplace_item(obj: Any, key: Any, op: str, value: Any) -> None:
    _write_guard(obj)[key] = _INPLACE[op](obj[key], value)


def _program_globals(proxies: dict[str, types.ModuleType], printed: _Printed) -> dict[str, Any]:
    program_builtins = {**safe_builtins, **_EXTRA_BUILTINS, **{name: _denied(name) for name in _DENIED_BUILTINS}}
    program_builtins["__import__"] = _guarded_import(proxies)
    return {
        "__builtins__": program_builtins,
        "__name__": _PROGRAM,
        "__metaclass__": type,  # what `class X:` compiles to under RestrictedPython
        "_getattr_": _guarded_getattr,
        "_getitem_": lambda obj, key: obj[key],
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": _write_guard,
        "_inplacevar_": lambda op, target, value: _INPLACE[op](target, value),
        "_inplaceitem_": _inplace_item,
        "_apply_": lambda function, *args, **kwargs: function(*args, **kwargs),
        "_print_": printed.collector,
    }


def _audit(event: str, args: tuple[object, ...]) -> None:
    # Backstop only: RestrictedPython and the import whitelist should make these unreachable.
    if event in _BLOCKED_EVENTS or event.startswith(_BLOCKED_PREFIXES):
        _refuse("restricted", f"blocked by the audit hook: {event}")


def _set_rlimits(cpu_seconds: float, memory_mb: int) -> None:
    # RLIMIT_CPU counts this process's startup too; the program gets its full budget on top of it.
    cpu = max(1, math.ceil(time.process_time() + cpu_seconds))
    for limit, soft, hard in (
        (resource.RLIMIT_CPU, cpu, cpu + 1),  # SIGXCPU at soft, SIGKILL at hard
        (resource.RLIMIT_AS, memory_mb << 20, memory_mb << 20),
        (resource.RLIMIT_FSIZE, _FILE_BYTES, _FILE_BYTES),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_NOFILE, 64, 64),
        (resource.RLIMIT_NPROC, 0, 0),  # no fork; not enforced for root, hence the unprivileged user
    ):
        current_hard = resource.getrlimit(limit)[1]
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(limit, (soft, hard))


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"still running as uid {os.geteuid()}")


def _error_text(error: BaseException) -> str:
    try:
        text = f"{type(error).__name__}: {error}"
    except Exception:  # noqa: BLE001 - an odd exception from untrusted code
        text = type(error).__name__
    traceback, line = error.__traceback__, None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<program>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return text if line is None else f"{text} (line {line})"


def _result(failure: str | None, detail: str = "", value: Any = None, printed: str = "") -> dict[str, Any]:
    return {"ok": failure is None, "value": value, "printed": printed, "failure": failure, "detail": detail[:_DETAIL]}


def _run(request: dict[str, Any], proxies: dict[str, types.ModuleType]) -> dict[str, Any]:
    try:
        _set_rlimits(request["cpu_seconds"], request["memory_mb"])
        if request.get("drop_to_uid") is not None:
            _drop_privileges(request["drop_to_uid"])
    except (OSError, ValueError) as error:
        return _result("crashed", f"sandbox setup failed: {error}")
    try:
        compiled = compile_restricted_exec(request["source"], "<program>", policy=_Policy)
    except MemoryError:
        return _result("memory_limit", "out of memory while compiling the program")
    except Exception as error:  # noqa: BLE001 - e.g. a null byte or nesting too deep to parse
        return _result("restricted", _error_text(error))
    if compiled.errors or compiled.code is None:
        return _result("restricted", "; ".join(compiled.errors))
    printed = _Printed(request["max_output_chars"])
    program_globals = _program_globals(proxies, printed)
    sys.addaudithook(_audit)

    failure, detail = None, ""
    try:
        exec(compiled.code, program_globals)
    except SystemExit:
        pass  # the program ended itself; its answer still counts
    except MemoryError:
        failure, detail = "memory_limit", "MemoryError: the program ran out of memory"
    except BaseException as error:  # noqa: BLE001 - anything the program raises is its failure
        failure, detail = "exception", _error_text(error)
    text = printed().encode("utf-8", "replace").decode("utf-8")  # a lone surrogate would spoil the JSON
    if _violations:
        failure, detail = _violations[0]
    if failure is not None:
        return _result(failure, detail, printed=text)
    if "answer" in program_globals:
        try:
            value = encode(program_globals["answer"]).model_dump(mode="json")
        except MemoryError:
            return _result("memory_limit", "out of memory while encoding the answer", printed=text)
        except Exception as error:  # noqa: BLE001 - the answer is an untrusted object
            return _result("exception", f"could not encode the answer: {_error_text(error)}", printed=text)
        return _result(None, value=value, printed=text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines:
        return _result(None, value=encode(lines[-1]).model_dump(mode="json"), printed=text)
    return _result("no_answer", "the program set no `answer` and printed nothing", printed=text)


def _warm_up() -> dict[str, types.ModuleType]:
    """Load everything a run may need while imports are still possible (before rlimits, the user switch
    and the audit hook): the allowed modules and their lazy helpers, RestrictedPython's compiler, the
    encoder and JSON. Returns the module proxies."""
    for name in _PRELOAD:
        with contextlib.suppress(ImportError):  # _statistics is optional
            importlib.import_module(name)
    compile_restricted_exec("x = [i for i in range(3)]\nx[0] += 1\nprint(x)", "<warm-up>", policy=_Policy)
    json.dumps(encode([1, 0.5, "a", True, None]).model_dump(mode="json"))
    return _module_proxies()


def main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    proxies = _warm_up()
    # The result goes to the real stdout; anything else writing to fd 1 (calendar.prmonth, ...) lands in stderr.
    result_fd = os.dup(1)
    os.dup2(2, 1)
    result = _run(request, proxies)
    line = json.dumps(result)
    if len(line) > _RESULT_CHARS:
        line = json.dumps(_result("output_limit", "the answer is too large to report", printed=result["printed"]))
    data = (line + "\n").encode()
    while data:
        data = data[os.write(result_fd, data) :]
    sys.stderr.flush()
    os._exit(0)  # no interpreter shutdown: nothing the program left behind runs after its result


if __name__ == "__main__":
    main()

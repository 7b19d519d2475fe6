import datetime as dt

import pytest
from pydantic import ValidationError

from rebalance_pipeline.policy import Policy, PolicyError, ThresholdCurve, policy_as_of


def test_default_groups_follow_the_firm_default():
    policy = Policy()
    assert policy.group_for(999_999, "taxable").review == "none"
    assert policy.group_for(1_000_000, "taxable").review == "outliers"
    assert policy.group_for(25_000_000, "roth").review == "all"


def test_threshold_decays_from_start_to_floor():
    curve = ThresholdCurve(start_bps=150, floor_bps=15, time_constant_days=60)
    assert curve.at(0) == pytest.approx(150)
    assert curve.at(60) == pytest.approx(15 + 135 / 2.718281828459045)
    assert curve.at(10_000) == pytest.approx(15)


def test_policy_files_are_effective_dated(tmp_path):
    (tmp_path / "2026-01-01.yaml").write_text("workflow: {halt_mode: freeze_security}\n")
    (tmp_path / "2026-03-01.yaml").write_text("optimization: {tax_aversion: high}\n")
    assert policy_as_of(tmp_path, dt.date(2025, 12, 31)) == Policy()
    assert policy_as_of(tmp_path, dt.date(2026, 2, 1)).workflow.halt_mode == "freeze_security"
    march = policy_as_of(tmp_path, dt.date(2026, 3, 16))
    assert march.optimization.tax_aversion == "high"
    assert march.effective_date == dt.date(2026, 3, 1)


def test_unknown_policy_keys_are_rejected(tmp_path):
    with pytest.raises(ValidationError, match="halt_mod"):
        Policy.model_validate({"workflow": {"halt_mod": "x"}})


def _policy_dir(tmp_path, files: dict[str, str]):
    folder = tmp_path / "firm" / "policy"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_a_string_is_not_a_boolean(tmp_path):
    folder = _policy_dir(tmp_path, {"2026-01-01.yaml": 'optimization: {round_lots: "yes"}\n'})
    with pytest.raises(PolicyError) as error:
        policy_as_of(folder, dt.date(2026, 3, 16))
    message = str(error.value)
    assert "2026-01-01.yaml" in message and "optimization.round_lots" in message
    assert "\n" not in message


def test_files_not_named_as_a_date_are_not_policies(tmp_path):
    folder = _policy_dir(
        tmp_path,
        {
            "README.yaml": "These files set the firm policy.\n",
            "2026-01-01.yaml": "optimization: {round_lots: true}\n",
            "2026-02-01.yaml.bak": "optimization: {round_lots: false}\n",
        },
    )
    policy = policy_as_of(folder, dt.date(2026, 3, 16))
    assert policy.optimization.round_lots is True
    assert policy.effective_date == dt.date(2026, 1, 1)


def test_a_policy_file_named_as_an_impossible_date_is_an_error(tmp_path):
    folder = _policy_dir(tmp_path, {"2026-02-30.yaml": "{}\n"})
    with pytest.raises(PolicyError, match=r"2026-02-30\.yaml"):
        policy_as_of(folder, dt.date(2026, 3, 16))


def test_a_policy_file_that_is_not_yaml_is_named_on_one_line(tmp_path):
    folder = _policy_dir(tmp_path, {"2026-01-01.yaml": "optimization: [round_lots: true\n"})
    with pytest.raises(PolicyError) as error:
        policy_as_of(folder, dt.date(2026, 3, 16))
    assert "2026-01-01.yaml" in str(error.value) and "\n" not in str(error.value)


def test_a_policy_file_that_is_not_a_mapping_is_an_error(tmp_path):
    folder = _policy_dir(tmp_path, {"2026-01-01.yaml": "- round_lots\n"})
    with pytest.raises(PolicyError, match=r"2026-01-01\.yaml"):
        policy_as_of(folder, dt.date(2026, 3, 16))


def test_every_wrong_field_is_named(tmp_path):
    text = "validation: {stale_price_days: 2.5}\nworkflow: {step2_high_priority_only: 1}\n"
    folder = _policy_dir(tmp_path, {"2026-01-01.yaml": text})
    with pytest.raises(PolicyError) as error:
        policy_as_of(folder, dt.date(2026, 3, 16))
    message = str(error.value)
    assert "validation.stale_price_days" in message
    assert "workflow.step2_high_priority_only" in message


def test_the_file_cutoff_is_a_quoted_time_of_day(tmp_path):
    folder = _policy_dir(tmp_path, {"2026-01-01.yaml": 'validation: {late_file_cutoff: "07:15"}\n'})
    cutoff = policy_as_of(folder, dt.date(2026, 3, 16)).validation.late_file_cutoff
    assert cutoff == dt.time(7, 15)
    # YAML 1.1 reads an unquoted 7:15 as the number 435 (base 60): never a time
    (folder / "2026-02-01.yaml").write_text("validation: {late_file_cutoff: 7:15}\n")
    with pytest.raises(PolicyError, match=r"validation\.late_file_cutoff"):
        policy_as_of(folder, dt.date(2026, 3, 16))


def test_dagster_fails_the_date_with_the_policy_line(tmp_path):
    import dagster as dg

    from rebalance_pipeline.resources import BookSource

    _policy_dir(tmp_path, {"2026-01-01.yaml": 'optimization: {round_lots: "yes"}\n'})
    with pytest.raises(dg.Failure) as failure:
        BookSource(root=str(tmp_path)).policy(dt.date(2026, 3, 16))
    assert failure.value.description is not None
    assert "2026-01-01.yaml" in failure.value.description
    assert "optimization.round_lots" in failure.value.description


def test_the_command_line_fails_the_date_with_the_policy_line(tmp_path, monkeypatch, capsys):
    from rebalance_pipeline import cli

    _policy_dir(tmp_path, {"2026-01-01.yaml": 'optimization: {round_lots: "yes"}\n'})
    monkeypatch.setenv("REBALANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(
        "sys.argv", ["rebalance", "run", "--book", str(tmp_path), "--date", "2026-03-16"]
    )
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "2026-01-01.yaml" in err and "optimization.round_lots" in err
    assert not (tmp_path / "home" / "dagster").exists()  # no run was started

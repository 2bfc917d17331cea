"""`kumpel emu run` through the real Typer app: bad scenarios are refused with the key named."""

from typer.testing import CliRunner

from tools.emulator.cli import app


def test_bad_scenario_exits_2_naming_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[nodes.bins.bin]\nfill_pct_per_hour = "fast"\n')
    result = CliRunner().invoke(app, ["run", "--scenario", str(bad)])
    assert result.exit_code == 2
    assert "bad.toml: nodes.bins.bin.fill_pct_per_hour: expected a number" in result.output


def test_missing_scenario_and_bad_node_count(tmp_path):
    result = CliRunner().invoke(app, ["run", "--scenario", str(tmp_path / "none.toml")])
    assert result.exit_code == 2 and "cannot read scenario file" in result.output
    result = CliRunner().invoke(app, ["run", "--scenario", "fire", "--nodes", "0"])
    assert result.exit_code == 2 and "--nodes must be at least 1" in result.output

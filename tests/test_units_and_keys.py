"""One rule for sizes, rates and durations in every file and flag, and no silently ignored keys.

Reported: `message_bytes: 5Mb` read as 5 megabytes; `--throttle 2MB/s` refused while `load --rate
10MB/s` was accepted; `disk_bytes: 16TB` refused in a limits file; a misspelt `comand_config:` in
brokerscale.yaml silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from brokerscale.errors import BadInput
from brokerscale.units import parse_byte_rate, parse_size

CLI = Callable[..., tuple[int, str, str]]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LIMITS = Path(__file__).resolve().parent.parent / "src" / "brokerscale" / "data" / "limits" / "design-doc.yaml"


@pytest.mark.parametrize("text", ["5Mb", "5mb", "5kb", "2Gb", "5Mbit", "512b"])
def test_lowercase_b_is_bits_and_refused(text: str) -> None:
    with pytest.raises(BadInput, match=r"message_bytes: .* is in bits .* write \d+[KMGT]?B"):
        parse_size(text, what="message_bytes")


def test_byte_sizes_and_rates_share_one_rule() -> None:
    assert parse_size("5MB") == parse_byte_rate("5MB/s") == parse_byte_rate("5 MB/sec") == 5_000_000
    assert parse_size("2GiB") == 2 * 2**30
    with pytest.raises(BadInput, match=r"--throttle: .* is in bits"):
        parse_byte_rate("2Mb/s", what="--throttle")


def test_workload_file_with_megabits_is_one_line_exit_2(cli: CLI, tmp_path: Path) -> None:
    wl = tmp_path / "wl.yaml"
    wl.write_text((EXAMPLES / "health-system.yaml").read_text().replace("message_bytes: 5KB", "message_bytes: 5Mb"))
    assert "5Mb" in wl.read_text()
    code, _, err = cli("plan", str(wl))
    assert code == 2
    assert str(wl) in err and "message_bytes" in err and "bits" in err and "Traceback" not in err


def test_throttle_accepts_a_byte_rate_and_refuses_bits(cli: CLI, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"version": 1, "partitions": []}')
    # The throttle is read before the cluster is contacted: an accepted value fails only on the cluster.
    code, _, err = cli("rebalance", "execute", "--proposal", str(plan), "--throttle", "2MB/s", "-b", "127.0.0.1:9")
    assert "--throttle" not in err
    code, _, err = cli("rebalance", "execute", "--proposal", str(plan), "--throttle", "2Mb/s", "-b", "127.0.0.1:9")
    assert code == 2 and "--throttle" in err and "bits" in err


def test_load_rate_refuses_megabits(cli: CLI) -> None:
    code, _, err = cli("load", "--rate", "10Mb/s", "-b", "127.0.0.1:9")
    assert code == 2 and "--rate" in err and "bits" in err


def test_limits_file_accepts_sizes(tmp_path: Path) -> None:
    from brokerscale.model.limits import load_limits

    mine = tmp_path / "limits.yaml"
    text = LIMITS.read_text()
    assert "disk_bytes: 16000000000000" in text
    mine.write_text(text.replace("disk_bytes: 16000000000000", "disk_bytes: 16TB")
                    .replace("storage_bytes: 5000000000000", "storage_bytes: 5TB"))
    profile = load_limits(str(mine))
    assert profile.broker.disk_bytes == 16 * 10**12
    assert profile.tier("basic").storage_bytes == 5 * 10**12


def test_misspelt_key_in_brokerscale_yaml_is_named_with_the_closest_valid_key(
        cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "brokerscale.yaml"
    cfg.write_text("clusters:\n  prod:\n    bootstrap: 127.0.0.1:9\n    comand_config: /etc/prod.properties\n")
    monkeypatch.setenv("BROKERSCALE_CONFIG", str(cfg))
    code, _, err = cli("lag", "-c", "prod")
    assert code == 2
    assert str(cfg) in err and "clusters.prod.comand_config" in err and "did you mean 'command_config'" in err
    cfg.write_text("clustrs:\n  prod:\n    bootstrap: 127.0.0.1:9\n")
    code, _, err = cli("lag", "-c", "prod")
    assert code == 2 and "clustrs" in err and "did you mean 'clusters'" in err


@pytest.mark.parametrize(("file_text", "loader", "expected"), [
    ("throughput:\n  warnin: 80\n", "rules", "throughput.warnin: unknown field (did you mean 'warning'?)"),
    ("broker:\n  throughput_mb_s: 100\n  dsk: 2TB\n", "capacity", "broker.dsk: unknown field (did you mean 'disk'?)"),
])
def test_unknown_keys_in_other_files_name_the_closest_key(tmp_path: Path, file_text: str, loader: str,
                                                          expected: str) -> None:
    from brokerscale.observe.capacity import load_capacity_file
    from brokerscale.observe.rules import load_rules

    f = tmp_path / f"{loader}.yaml"
    f.write_text(file_text)
    with pytest.raises(BadInput, match=expected.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        (load_rules if loader == "rules" else load_capacity_file)(f)


def test_workload_unknown_key_names_the_closest_key(cli: CLI, tmp_path: Path) -> None:
    wl = tmp_path / "wl.yaml"
    wl.write_text((EXAMPLES / "health-system.yaml").read_text().replace("retention_days: 30", "retension_days: 30", 1))
    code, _, err = cli("plan", str(wl))
    assert code == 2 and "retension_days" in err and "did you mean 'retention_days'" in err

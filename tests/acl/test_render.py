"""The rendered ACLs say exactly what the rules say: parse them back and compare."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import yaml

from bus.acl.render import STRIMZI_TYPES, kafka_acls_script, strimzi_users
from bus.acl.rules import CLUSTER_NAME, AclRule, Operation, PatternType, Permission, ResourceType, rules_for
from bus.policy.agreement import load_agreements

REPO = Path(__file__).resolve().parents[2]
RULES = rules_for(load_agreements(REPO / "deploy" / "agreements"), ["business-registry"])
# Strimzi's KafkaUser CRD (packaging/install/cluster-operator/044-Crd-kafkauser.yaml): allowed values
STRIMZI_RESOURCE_TYPES = {"topic", "group", "cluster", "transactionalId"}
FROM_STRIMZI = {spelling: rtype for rtype, spelling in STRIMZI_TYPES.items()}
STRIMZI_OPERATIONS = {op.value for op in Operation}
STRIMZI_PATTERNS = {"literal", "prefix"}


def _parse_kafka_line(line: str) -> AclRule:
    args = shlex.split(line.split("  #", 1)[0])
    assert args[0] == "acl"
    cluster = "--cluster" in args
    rest = [a for a in args[1:] if a != "--cluster"]
    options = dict(zip(rest[0::2], rest[1::2], strict=True))
    permission = Permission.ALLOW if "--allow-principal" in options else Permission.DENY
    principal = options.get("--allow-principal") or options["--deny-principal"]
    rtype = ResourceType.CLUSTER if cluster else next(t for t in ResourceType if f"--{t.value}" in options)
    return AclRule(
        principal,
        rtype,
        PatternType(options.get("--resource-pattern-type", "literal")),
        CLUSTER_NAME if cluster else options[f"--{rtype.value}"],
        Operation(options["--operation"]),
        permission,
    )


def test_the_kafka_script_holds_one_command_per_rule() -> None:
    script = kafka_acls_script(RULES, source="test")
    lines = [line for line in script.splitlines() if line.startswith("acl ")]
    assert sorted(_parse_kafka_line(line) for line in lines) == sorted(RULES)
    assert 'kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --add' in script


def test_the_kafka_script_is_valid_bash() -> None:
    script = kafka_acls_script(RULES, source="test")
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def test_the_kafka_script_runs_kafka_acls_with_the_placeholders(tmp_path: Path) -> None:
    # given a fake kafka-acls.sh that records its arguments
    fake = tmp_path / "kafka-acls.sh"
    fake.write_text('#!/bin/sh\necho "$@" >> "$LOG"\n')
    fake.chmod(0o755)
    script = tmp_path / "acls.sh"
    script.write_text(kafka_acls_script(RULES, source="test"))
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "BOOTSTRAP": "k:9093", "COMMAND_CONFIG": "a.props"}
    env["LOG"] = str(tmp_path / "log")
    # when it runs
    subprocess.run(["bash", str(script)], env=env, check=True)
    # then every rule became one call with the bootstrap and admin config
    calls = (tmp_path / "log").read_text().splitlines()
    assert len(calls) == len(RULES)
    assert all(call.startswith("--bootstrap-server k:9093 --command-config a.props --add ") for call in calls)


def test_the_kafka_script_refuses_to_run_without_a_cluster(tmp_path: Path) -> None:
    script = tmp_path / "acls.sh"
    script.write_text(kafka_acls_script(RULES, source="test"))
    done = subprocess.run(
        ["bash", str(script)], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "set BOOTSTRAP" in done.stderr


def test_strimzi_users_hold_the_same_rules() -> None:
    back: list[AclRule] = []
    for user in strimzi_users(RULES, cluster="agency-bus"):
        assert user["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert user["kind"] == "KafkaUser"
        assert user["metadata"]["labels"] == {"strimzi.io/cluster": "agency-bus"}
        spec = user["spec"]
        assert spec["authentication"] == {"type": "scram-sha-512"}
        assert spec["authorization"]["type"] == "simple"
        for acl in spec["authorization"]["acls"]:
            resource = acl["resource"]
            assert resource["type"] in STRIMZI_RESOURCE_TYPES
            assert resource.get("patternType", "literal") in STRIMZI_PATTERNS
            assert acl["type"] in {"allow", "deny"}
            assert set(acl["operations"]) <= STRIMZI_OPERATIONS
            pattern = PatternType.PREFIXED if resource.get("patternType") == "prefix" else PatternType.LITERAL
            for operation in acl["operations"]:
                back.append(
                    AclRule(
                        f"User:{user['metadata']['name']}",
                        FROM_STRIMZI.get(resource["type"]) or ResourceType(resource["type"]),
                        pattern,
                        resource.get("name", CLUSTER_NAME),
                        Operation(operation),
                        Permission(acl["type"].capitalize()),
                    )
                )
    assert sorted(back) == sorted(RULES)


def test_strimzi_yaml_is_plain_yaml() -> None:
    from bus.acl.render import strimzi_users_yaml

    text = strimzi_users_yaml(RULES, cluster="agency-bus", source="test")
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert [d["metadata"]["name"] for d in docs] == [
        u["metadata"]["name"] for u in strimzi_users(RULES, cluster="agency-bus")
    ]

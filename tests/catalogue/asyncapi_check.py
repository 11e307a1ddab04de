"""Checking AsyncAPI documents the two official ways: the JSON Schema (vendored) and the JS parser.

The JSON Schema checks structure offline; ``@asyncapi/parser`` (npm, run by Node) also resolves
references and checks that each operation's messages belong to its channel. The parser is installed
from the committed lock into the user's cache on first use, like Kafka's jars.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match
from jsonschema_specifications import REGISTRY as METASCHEMAS
from referencing.jsonschema import DRAFT7

HERE = Path(__file__).parent
SCHEMA_FILE = HERE / "vendor" / "asyncapi-specs" / "asyncapi-3.0.0.json"
PARSER_PROJECT = HERE / "asyncapi_parser"
AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"


def schema_validator() -> Draft7Validator:
    """Draft-07 with every ``$ref`` resolved inside the bundle: it never reaches for the network."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    registry = METASCHEMAS.with_resource(schema["$id"], DRAFT7.create_resource(schema)).crawl()
    return Draft7Validator(schema, registry=registry)


def schema_errors(validator: Draft7Validator, document: dict[str, Any]) -> list[str]:
    """Each error narrowed to its most specific cause, with the path where it is."""
    found = []
    for error in validator.iter_errors(document):
        cause = best_match([error])
        found.append(f"{cause.json_path}: {cause.message[:300]}")
    return found


def avro_errors(document: dict[str, Any]) -> list[str]:
    """Every Avro payload must parse with fastavro (the JSON Schema does not resolve Avro type names)."""
    found = []
    for channel in document.get("channels", {}).values():
        for name, message in channel.get("messages", {}).items():
            payload = message.get("payload") or {}
            if payload.get("schemaFormat") != AVRO_FORMAT:
                continue
            try:
                fastavro.parse_schema(copy.deepcopy(payload["schema"]))
            except Exception as exc:  # fastavro raises several unrelated types for a bad schema
                found.append(f"{channel['address']} {name}: {exc}")
    return found


def ref_errors(document: dict[str, Any]) -> list[str]:
    """Every local ``$ref`` must point at something in the document (RFC 6901 pointers)."""
    found = []

    def resolve(pointer: str) -> bool:
        node: Any = document
        for part in pointer.removeprefix("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not (ref.startswith("#/") and resolve(ref)):
                found.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return found


@dataclass(frozen=True)
class OfficialParser:
    node: str
    script: Path

    def parse(self, files: Sequence[Path]) -> list[dict[str, Any]]:
        """One report per file: ``{"file", "errors", "channels"}``."""
        done = subprocess.run(
            [self.node, str(self.script), *map(str, files)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.script.parent,
        )
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def install_official_parser() -> OfficialParser | str:
    """The parser, installed from the committed lock (``npm ci``) once per lock; or why it cannot be."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "Node.js and npm are not installed (.ci/run installs them)"
    lock = (PARSER_PROJECT / "package-lock.json").read_bytes()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = base / "agency-bus" / f"asyncapi-parser-{hashlib.sha256(lock).hexdigest()[:12]}"
    if not (target / "node_modules" / "@asyncapi" / "parser").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(PARSER_PROJECT / name, target / name)
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            return f"npm ci of @asyncapi/parser failed (offline?): {done.stderr[-500:]}"
    shutil.copyfile(PARSER_PROJECT / "parse.mjs", target / "parse.mjs")
    return OfficialParser(node, target / "parse.mjs")

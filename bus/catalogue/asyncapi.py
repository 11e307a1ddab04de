"""An AsyncAPI 3.0 document of exactly what one agency may do on the bus, derived from its broker ACLs.

Channels are the topics the agency's ACLs let it write (its ingress topics: ``send``) or read (the
delivery topic of each agreement in force and ``bus.agreements``: ``receive``), decided with the same
evaluator that checks the broker (``bus.acl.rules.allowed``), so the document can never promise a
topic the broker refuses. Payloads are the registered Avro schemas (deliveries: the agreement's
projection of the provider's latest schema, as the processor registers it). docs/catalogue.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml
from pydantic import BaseModel

from bus import __version__
from bus.acl.rules import (
    SUBSCRIBER_GROUP_PREFIX,
    AclRule,
    Operation,
    PatternType,
    ResourceType,
    agency_principal,
    allowed,
)
from bus.catalogue.model import Catalogue, RecordType
from bus.errors import ConfigError
from bus.event.envelope import CONTENT_TYPE
from bus.event.topics import SystemTopic, spec_for
from bus.policy.agreement import Agreement
from bus.policy.compile import compile_for_version
from bus.receipts.receipt import Receipt

AVRO_FORMAT: Final = "application/vnd.apache.avro+json;version=1.9.0"
KAFKA_BINDING: Final = "0.5.0"
SECURITY_SCHEME: Final = "agencyLogin"
_SCRAM: Final = {"SCRAM-SHA-512": "scramSha512", "SCRAM-SHA-256": "scramSha256", "PLAIN": "plain"}

# CloudEvents 1.0 Kafka binary binding plus the bus's own headers (bus/event/envelope.py, DESIGN §3).
HEADER_DOCS: Final = {
    "ce_specversion": "CloudEvents spec version: always 1.0.",
    "ce_id": "Event id (UUID). A redelivery keeps it: drop an id you have already applied.",
    "ce_source": "/agencies/<provider>/<system>: which agency and system recorded the change.",
    "ce_type": "<Avro full name>.<created|updated|deleted|snapshot>: what happened to the record.",
    "ce_time": "When the change happened at the provider (RFC 3339 with a zone).",
    "ce_subject": "The record key (e.g. the IIN); equal to the Kafka message key.",
    "content-type": "Always application/avro: the value is Confluent-framed Avro.",
    "bus_sequence": "The provider's per-record sequence number: order of changes to one record.",
    "bus_changed": "Comma-separated dotted paths that changed (deliveries: only granted ones).",
    "bus_signature": "Ed25519 signature over the batch's Merkle root (base64url): the provider's on "
    "ingress, the processor's (directory identity bus.processor) on deliveries; verify before use.",
    "bus_sig_proof": "The Merkle inclusion proof of this record in the signed batch ('' for a batch of one).",
    "bus_sig_key": "Id of the signer's public key in the directory (registry: GET /keys/<identity>).",
    "bus_agreement": "Id of the agreement the delivery was decided under.",
}
_CE_REQUIRED: Final = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject")
_PROOF: Final = ("bus_signature", "bus_sig_proof", "bus_sig_key")  # the signer's, checked before use
INGRESS_HEADERS: Final = (*_CE_REQUIRED, "content-type", "bus_sequence", "bus_changed", *_PROOF)
INGRESS_REQUIRED: Final = (*_CE_REQUIRED, *_PROOF)
DELIVERY_HEADERS: Final = (
    *_CE_REQUIRED, "content-type", "bus_sequence", "bus_changed", "bus_agreement", *_PROOF
)  # fmt: skip
DELIVERY_REQUIRED: Final = (*_CE_REQUIRED, "bus_agreement", *_PROOF)


@dataclass(frozen=True)
class Server:
    """Where an agency connects: the bootstrap address, its security and the schema registry."""

    bootstrap: str
    registry_url: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None


@dataclass(frozen=True)
class Channel:
    """A topic the agency may use and how: ``send`` (write) or ``receive`` (read)."""

    topic: str
    action: str


def agency_channels(
    agency: str, rules: Iterable[AclRule], catalogue: Catalogue, agreements: Iterable[Agreement]
) -> list[Channel]:
    """Every known topic the agency's ACLs let it write or read, sorted by topic."""
    rules = list(rules)
    principal = agency_principal(agency)
    candidates = {t.topic for t in catalogue.record_types}
    candidates |= {a.delivery_topic for a in agreements} | {SystemTopic.AGREEMENTS.value}
    candidates |= {
        r.name
        for r in rules
        if r.principal == principal
        and r.resource_type is ResourceType.TOPIC
        and r.pattern is PatternType.LITERAL
        and r.name != "*"
    }
    channels = []
    for topic in sorted(candidates):
        for operation, action in ((Operation.WRITE, "send"), (Operation.READ, "receive")):
            if allowed(rules, principal, operation, ResourceType.TOPIC, topic):
                channels.append(Channel(topic, action))
    return channels


def asyncapi_document(
    agency: str,
    rules: Iterable[AclRule],
    catalogue: Catalogue,
    agreements: Iterable[Agreement],
    server: Server,
    *,
    agency_name: str | None = None,
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document (a dict, ready for YAML or JSON) of what ``agency`` may do."""
    by_topic: dict[str, Agreement] = {a.delivery_topic: a for a in agreements}
    types = {t.topic: t for t in catalogue.record_types}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    rules = list(rules)
    groups = _group_prefix(agency, rules)
    for channel in agency_channels(agency, rules, catalogue, by_topic.values()):
        if channel.topic == SystemTopic.RECEIPTS:
            messages = _receipts_message()
            summary = "Confirm, signed, which updates you received (the subscriber SDK does, given your key)."
        elif channel.action == "send":
            messages = _ingress_message(types.get(channel.topic), channel.topic)
            summary = f"Publish changes of your records to {channel.topic}."
        elif channel.topic == SystemTopic.AGREEMENTS:
            messages, summary = _agreements_message(), "Follow the data-sharing agreements in force."
        else:
            messages = _delivery_message(by_topic.get(channel.topic), types, channel.topic)
            summary = f"Receive the updates you are entitled to on {channel.topic}."
        channels[channel.topic] = _channel(channel.topic, messages)
        operations[f"{channel.action}.{channel.topic}"] = _operation(channel, list(messages), summary, groups)
    who = f"{agency_name} ({agency})" if agency_name else agency
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"agency-bus: what {who} may publish and receive",
            "version": __version__,
            "description": (
                f"Generated from the schema registry, the agreements applied on bus.agreements and the "
                f"broker ACLs of User:{agency}. Values are Confluent-framed Avro (magic byte, 4-byte schema "
                "id, Avro body); the CloudEvents headers describe each change. Regenerate with "
                f"`bus asyncapi {agency}` or GET /v1/agencies/{agency}/asyncapi.yaml."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"bus": _server(server)},
        "channels": channels,
        "operations": operations,
        "components": _components(server),
    }


def to_yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=100)


def _group_prefix(agency: str, rules: list[AclRule]) -> str | None:
    """The consumer-group prefix the agency's ACLs allow (only consumers with an agreement in force)."""
    prefix = f"{SUBSCRIBER_GROUP_PREFIX}{agency}."
    allowed_group = allowed(rules, agency_principal(agency), Operation.READ, ResourceType.GROUP, f"{prefix}x")
    return prefix if allowed_group else None


def _server(server: Server) -> dict[str, Any]:
    secure = server.security_protocol in ("SSL", "SASL_SSL")
    found: dict[str, Any] = {
        "host": server.bootstrap,
        "protocol": "kafka-secure" if secure else "kafka",
        "description": "The bus's Kafka cluster (bootstrap servers).",
    }
    if server.sasl_mechanism:
        found["security"] = [{"$ref": f"#/components/securitySchemes/{SECURITY_SCHEME}"}]
    found["bindings"] = {
        "kafka": {
            "schemaRegistryUrl": server.registry_url,
            "schemaRegistryVendor": "confluent",
            "bindingVersion": KAFKA_BINDING,
        }
    }
    return found


def _components(server: Server) -> dict[str, Any]:
    components: dict[str, Any] = {
        "schemas": {
            "IngressHeaders": _headers(INGRESS_HEADERS, INGRESS_REQUIRED),
            "DeliveryHeaders": _headers(DELIVERY_HEADERS, DELIVERY_REQUIRED),
            "ReceiptHeaders": _headers(_PROOF, _PROOF),
        }
    }
    if server.sasl_mechanism:
        scheme = _SCRAM.get(server.sasl_mechanism)
        if scheme is None:
            raise ConfigError(
                f"SASL mechanism {server.sasl_mechanism!r} has no AsyncAPI security scheme",
                hint="agencies log in with SCRAM-SHA-512 (or SCRAM-SHA-256); check BUS_KAFKA_SASL_MECHANISM",
            )
        components["securitySchemes"] = {
            SECURITY_SCHEME: {
                "type": scheme,
                "description": f"SASL/{server.sasl_mechanism}: user = your agency id, password from "
                "`bus agencies add` (kept by your operator; never in this document).",
            }
        }
    return components


def _headers(names: Iterable[str], required: Iterable[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(required),
        "properties": {name: {"type": "string", "description": HEADER_DOCS[name]} for name in names},
    }


def _channel(topic: str, messages: Mapping[str, Any]) -> dict[str, Any]:
    partitions = spec_for(topic).partitions
    return {
        "address": topic,
        "messages": dict(messages),
        "bindings": {"kafka": {"topic": topic, "partitions": partitions, "bindingVersion": KAFKA_BINDING}},
    }


def _operation(
    channel: Channel, message_ids: list[str], summary: str, group_prefix: str | None
) -> dict[str, Any]:
    ref = _pointer("channels", channel.topic)
    operation: dict[str, Any] = {
        "action": channel.action,
        "channel": {"$ref": ref},
        "summary": summary,
        "messages": [{"$ref": f"{ref}/messages/{m}"} for m in message_ids],
    }
    if channel.action == "receive" and group_prefix is not None:
        prefix = group_prefix
        operation["bindings"] = {
            "kafka": {
                "groupId": {
                    "type": "string",
                    "pattern": "^" + prefix.replace(".", "\\."),
                    "description": f"Your consumer groups start with {prefix}; the subscriber SDK uses "
                    f"{prefix}<agreement>.",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        }
    return operation


def _avro_message(name: str, title: str, headers: str) -> dict[str, Any]:
    """A Confluent-framed Avro message with the named headers schema; its payload is added by the caller."""
    return {
        "name": name,
        "title": title,
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": f"#/components/schemas/{headers}"},
        "bindings": _message_binding(),
    }


def _ingress_message(record_type: RecordType | None, topic: str) -> dict[str, Any]:
    message = _avro_message("change", f"A change of a record on {topic}", "IngressHeaders")
    if record_type is None:
        message["description"] = "No schema is registered for this topic yet: register one before publishing."
    else:
        message["summary"] = record_type.doc or record_type.name
        message["payload"] = {"schemaFormat": AVRO_FORMAT, "schema": record_type.avro_schema}
    return {"change": message}


def _delivery_message(
    agreement: Agreement | None, types: Mapping[str, RecordType], topic: str
) -> dict[str, Any]:
    message = _avro_message("update", f"An update on {topic}", "DeliveryHeaders")
    provider = (
        None if agreement is None else types.get(f"ingress.{agreement.provider}.{agreement.record_type}")
    )
    if agreement is not None:
        message["summary"] = f"{agreement.purpose} ({agreement.legal_basis})"
    if agreement is None or provider is None:
        message["description"] = (
            "The provider's schema is not registered yet: nothing is delivered until it is."
        )
        return {"update": message}
    try:
        compiled, missing = compile_for_version(agreement, provider.avro_schema)
    except ConfigError as exc:  # e.g. a `where` path the provider's latest schema dropped
        message["description"] = f"Nothing can be delivered under this agreement now: {exc.message}"
        return {"update": message}
    message["description"] = (
        f"Only the fields granted by agreement {agreement.id} of {agreement.provider}'s "
        f"{agreement.record_type} (schema version {provider.version}). "
        "A tombstone (null value) means the record was deleted."
        + (f" Not in the latest schema: {', '.join(missing)}." if missing else "")
    )
    message["payload"] = {"schemaFormat": AVRO_FORMAT, "schema": compiled.schema}
    return {"update": message}


def _agreements_message() -> dict[str, Any]:
    return {
        "agreement": {
            "name": "agreement",
            "title": "A data-sharing agreement applied by the operator",
            "description": "Key: the agreement id. A null value (tombstone) means the agreement was revoked.",
            "contentType": "application/json",
            "payload": _json_schema(Agreement),
            "bindings": {"kafka": {"key": {"type": "string"}, "bindingVersion": KAFKA_BINDING}},
        }
    }


def _receipts_message() -> dict[str, Any]:
    return {
        "receipt": {
            "name": "receipt",
            "title": "A signed receipt of one update",
            "description": (
                "Key: the event id. The value's JSON text is what is signed: SHA-256 of "
                "'agency-bus/receipt/v1' and the value, in a Merkle batch like every signature on the bus. "
                "The archive keeps it only if your own registered key signed it."
            ),
            "contentType": "application/json",
            "headers": {"$ref": _pointer("components", "schemas", "ReceiptHeaders")},
            "payload": _json_schema(Receipt),
            "bindings": {"kafka": {"key": {"type": "string"}, "bindingVersion": KAFKA_BINDING}},
        }
    }


def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON Schema with its definitions inlined: a standalone AsyncAPI Schema object."""
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return dict(inline(schema))


def _message_binding() -> dict[str, Any]:
    return {
        "kafka": {
            "key": {"type": "string", "description": HEADER_DOCS["ce_subject"]},
            "schemaIdLocation": "payload",
            "schemaIdPayloadEncoding": "confluent",
            "schemaLookupStrategy": "TopicNameStrategy",
            "bindingVersion": KAFKA_BINDING,
        }
    }


def _pointer(*parts: str) -> str:
    """A JSON pointer (RFC 6901): ``~`` and ``/`` in a part escaped."""
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)

#!/usr/bin/env bash
# Start one node of the compose cluster: KRaft (controller + broker), SASL/SCRAM over TLS for
# clients, mutual TLS between the nodes, StandardAuthorizer (deny by default).
# Formats the data directory once, seeding the admin's SCRAM credential (KIP-900), because
# SCRAM users otherwise need a running cluster and an authenticated admin to be created.
set -euo pipefail
: "${NODE_ID:?}" "${EXTERNAL_PORT:?}" "${KAFKA_CLUSTER_ID:?}" "${KAFKA_ADMIN_PASSWORD:?}" "${KAFKA_TLS_PASSWORD:?}"
export PATH=/opt/kafka/bin:$PATH
certs=/etc/kafka/certs
data=/var/lib/kafka/data
conf=/tmp/server.properties
scram_server='org.apache.kafka.common.security.scram.ScramLoginModule required;'

cat >"$conf" <<PROPERTIES
node.id=${NODE_ID}
process.roles=broker,controller
controller.quorum.voters=1@kafka-1:9090,2@kafka-2:9090,3@kafka-3:9090
controller.listener.names=CONTROLLER
inter.broker.listener.name=REPLICATION
listeners=CONTROLLER://:9090,REPLICATION://:9091,CLIENT://:9093,EXTERNAL://:9094
advertised.listeners=REPLICATION://kafka-${NODE_ID}:9091,CLIENT://kafka-${NODE_ID}:9093,EXTERNAL://localhost:${EXTERNAL_PORT}
listener.security.protocol.map=CONTROLLER:SSL,REPLICATION:SSL,CLIENT:SASL_SSL,EXTERNAL:SASL_SSL
log.dirs=${data}

ssl.keystore.type=PKCS12
ssl.keystore.location=${certs}/kafka.keystore.p12
ssl.keystore.password=${KAFKA_TLS_PASSWORD}
ssl.key.password=${KAFKA_TLS_PASSWORD}
ssl.truststore.type=PKCS12
ssl.truststore.location=${certs}/kafka.truststore.p12
ssl.truststore.password=${KAFKA_TLS_PASSWORD}
ssl.endpoint.identification.algorithm=https
listener.name.controller.ssl.client.auth=required
listener.name.replication.ssl.client.auth=required
# node certificates have CN=kafka-broker: that is their principal (a super user below)
ssl.principal.mapping.rules=RULE:^CN=([a-zA-Z0-9.-]+).*$/\$1/,DEFAULT

sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=${scram_server}
listener.name.external.scram-sha-512.sasl.jaas.config=${scram_server}

authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:bus.admin;User:kafka-broker

default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
auto.create.topics.enable=false
unclean.leader.election.enable=false
num.partitions=6
group.initial.rebalance.delay.ms=3000
PROPERTIES

if [ ! -f "${data}/meta.properties" ]; then
  kafka-storage.sh format --cluster-id "$KAFKA_CLUSTER_ID" --config "$conf" \
    --add-scram "SCRAM-SHA-512=[name=bus.admin,password=${KAFKA_ADMIN_PASSWORD}]"
fi
exec kafka-server-start.sh "$conf"

#!/usr/bin/env bash
# One-shot, idempotent: the bus services' SCRAM users (users.sh), every topic (topics.sh) and every
# ACL (acls.sh), as the bus.admin super user. Re-run after regenerating acls.sh for new agreements:
#   docker compose run --rm kafka-setup
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?}" "${KAFKA_TLS_PASSWORD:?}"
export PATH=/opt/kafka/bin:$PATH
export BOOTSTRAP=kafka-1:9093,kafka-2:9093,kafka-3:9093
export COMMAND_CONFIG=/tmp/admin.properties
cat >"$COMMAND_CONFIG" <<PROPERTIES
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="bus.admin" password="${KAFKA_ADMIN_PASSWORD}";
ssl.truststore.type=PKCS12
ssl.truststore.location=/etc/kafka/certs/kafka.truststore.p12
ssl.truststore.password=${KAFKA_TLS_PASSWORD}
PROPERTIES

scram() {
  kafka-configs.sh --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --alter \
    --entity-type users --entity-name "$1" --add-config "SCRAM-SHA-512=[password=$2]"
}
source /opt/bus/users.sh

bash /opt/bus/topics.sh
bash /opt/bus/acls.sh
echo "users, topics and ACLs are in place"

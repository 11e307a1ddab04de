#!/usr/bin/env bash
# Create the compose cluster's private CA and the nodes' certificate, once, with keytool only
# (it ships with the apache/kafka image's JRE). Files in /etc/kafka/certs (a named volume):
#   ca.p12                 the CA's private key (root only; keep it to sign more certificates)
#   ca.crt                 the CA certificate, PEM: clients' BUS_SSL_CAFILE
#   kafka.keystore.p12     the nodes' key + certificate (CN=kafka-broker, SAN kafka-1..3, localhost)
#   kafka.truststore.p12   the CA, for the nodes and for Kafka's own CLI tools
set -euo pipefail
: "${KAFKA_TLS_PASSWORD:?}"
cd /etc/kafka/certs
if [ -f kafka.keystore.p12 ] && [ -f kafka.truststore.p12 ] && [ -f ca.crt ]; then
  echo "certificates already exist in /etc/kafka/certs"
  exit 0
fi
pw=$KAFKA_TLS_PASSWORD
days=825
rm -f ca.p12 ca.crt kafka.keystore.p12 kafka.truststore.p12 kafka.csr kafka.crt

keytool -genkeypair -alias ca -dname "CN=agency-bus compose CA" -keyalg RSA -keysize 3072 \
  -validity "$days" -ext bc:c -keystore ca.p12 -storetype PKCS12 -storepass "$pw"
keytool -exportcert -rfc -alias ca -keystore ca.p12 -storepass "$pw" -file ca.crt

keytool -genkeypair -alias kafka -dname "CN=kafka-broker" -keyalg RSA -keysize 2048 \
  -validity "$days" -keystore kafka.keystore.p12 -storetype PKCS12 -storepass "$pw"
keytool -certreq -alias kafka -keystore kafka.keystore.p12 -storepass "$pw" -file kafka.csr
keytool -gencert -alias ca -keystore ca.p12 -storepass "$pw" -infile kafka.csr -outfile kafka.crt \
  -rfc -validity "$days" -ext "SAN=dns:kafka-1,dns:kafka-2,dns:kafka-3,dns:localhost" \
  -ext "KU=digitalSignature,keyEncipherment" -ext "EKU=serverAuth,clientAuth"
keytool -importcert -noprompt -alias ca -file ca.crt -keystore kafka.keystore.p12 -storepass "$pw"
keytool -importcert -alias kafka -file kafka.crt -keystore kafka.keystore.p12 -storepass "$pw"
keytool -importcert -noprompt -alias ca -file ca.crt -keystore kafka.truststore.p12 \
  -storetype PKCS12 -storepass "$pw"
rm -f kafka.csr kafka.crt

chown 1000:1000 kafka.keystore.p12 kafka.truststore.p12   # appuser of apache/kafka
chmod 0600 ca.p12
chmod 0640 kafka.keystore.p12 kafka.truststore.p12
chmod 0644 ca.crt
chmod 0755 .
echo "certificates created"

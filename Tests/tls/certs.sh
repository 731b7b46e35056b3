#!/usr/bin/env bash
# Tests/tls/certs.sh DIR: a throwaway PKI for the TLS tests, made with the
# openssl CLI in DIR (private keys stay there; nothing is installed):
#   ca.pem ca.key            the test CA
#   otherca.pem              another CA (a "wrong CA")
#   server.pem server.key    localhost, 127.0.0.1 and ::1, by ca
#   expired.pem expired.key  localhost by ca, valid only in 2020
#   other.pem other.key      localhost by otherca
#   client.pem client.key    a client certificate (CN=test client) by ca
set -eu
D=$1
mkdir -p "$D"
cd "$D"
q() { "$@" >/dev/null 2>&1 || { echo "certs: failed: $*" >&2; "$@"; exit 1; }; }
key() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() {
  key "$1.key"
  q openssl req -x509 -new -key "$1.key" -subj "/CN=$2/O=sagsocket tests" -days 2 -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
# leaf NAME CA SUBJECT EXT [START END]: a certificate signed by CA with
# `openssl ca` (which takes explicit start and end dates).
leaf() {
  local name=$1 signer=$2 subject=$3 ext=$4 start=${5:-} end=${6:-}
  key "$name.key"
  q openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  mkdir -p "db.$signer"
  : > "db.$signer/index.txt"
  [ -f "db.$signer/serial" ] || echo 1000 > "db.$signer/serial"
  cat > "$name.cnf" <<CNF
[ca]
default_ca = d
[d]
dir = db.$signer
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
default_md = sha256
policy = p
copy_extensions = none
unique_subject = no
[p]
commonName = supplied
organizationName = optional
[x]
basicConstraints = CA:FALSE
$ext
CNF
  local dates=(-days 2)
  [ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
  q openssl ca -batch -config "$name.cnf" -extensions x -cert "$signer.pem" -keyfile "$signer.key" \
    "${dates[@]}" -in "$name.csr" -out "$name.pem" -notext
}
ca ca "sagsocket test CA"
ca otherca "sagsocket other CA"
SERVER_EXT="subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
extendedKeyUsage = serverAuth"
leaf server ca "/CN=localhost/O=sagsocket tests" "$SERVER_EXT"
leaf expired ca "/CN=localhost/O=sagsocket tests" "$SERVER_EXT" 20200101000000Z 20200102000000Z
leaf other otherca "/CN=localhost/O=sagsocket tests" "$SERVER_EXT"
leaf client ca "/CN=test client/O=sagsocket tests" "extendedKeyUsage = clientAuth"

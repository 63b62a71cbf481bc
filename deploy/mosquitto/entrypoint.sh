#!/bin/sh
# Entrypoint of the docker-compose.yml stack's Mosquitto: before the broker starts, the user
# tedee2mqtt gets the password in the Docker secret mqtt_password (./mqtt_password), in
# /mosquitto/data/passwd, which is created on the first start. Other users added to that file
# (homeassistant, see the README) are kept; the password of tedee2mqtt follows the secret at
# every start, so changing ./mqtt_password and restarting the stack changes it on both sides.
set -eu
secret=/run/secrets/mqtt_password
passwd=/mosquitto/data/passwd
if [ ! -s "$secret" ]; then
	echo "mosquitto: $secret is missing or empty: create ./mqtt_password first (see the README, Docker Compose)" >&2
	exit 1
fi
umask 077 # Mosquitto 2 wants its password file readable by itself only
password=$(cat "$secret")
if [ -f "$passwd" ]; then
	mosquitto_passwd -b "$passwd" tedee2mqtt "$password"
else
	mosquitto_passwd -b -c "$passwd" tedee2mqtt "$password"
fi
exec "$@"

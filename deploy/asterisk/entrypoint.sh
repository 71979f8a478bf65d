#!/bin/sh
# Asterisk in deploy/compose.yaml: the repository's configuration adjusted to the
# compose network, the AMI secret from the environment, then Asterisk in the foreground.
set -eu
: "${AMI_SECRET:?AMI_SECRET is not set}"
CCSERVER_HOST="${CCSERVER_HOST:-ccserver}"
# FastAGI: ccserver's container, not 127.0.0.1 (extensions.conf [globals] CC_AGI)
sed -i "s|^CC_AGI=agi://[^ ;]*|CC_AGI=agi://${CCSERVER_HOST}:4573|" /etc/asterisk/extensions.conf
# AMI: listen on the compose network and let ccserver's subnet in
sed -i "s|^bindaddr = 127.0.0.1|bindaddr = 0.0.0.0|; s|^secret = CHANGE-ME|secret = ${AMI_SECRET}|; s|^permit = 127.0.0.1/255.255.255.255|permit = 172.28.0.0/255.255.255.0|" /etc/asterisk/manager.conf
# studio recordings in the sounds volume (custom/<lang>/cc-*.wav) replace the generated ones
for dir in /var/lib/asterisk/sounds/custom/*/; do
    [ -d "$dir" ] || continue
    lang="$(basename "$dir")"
    mkdir -p "/var/lib/asterisk/sounds/$lang"
    cp -f "$dir"cc-*.wav "/var/lib/asterisk/sounds/$lang/" 2>/dev/null || true
done
exec asterisk -f -U asterisk -G asterisk

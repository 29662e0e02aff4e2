#!/bin/sh
# First start: the configuration file, keys, database and first administrator (its one-time password
# is printed once, here). Every start: schema migration, the bundled models, the checks, then supervisord.
set -eu
madoguchi=/opt/madoguchi/.venv/bin/madoguchi
if [ ! -f "$MADOGUCHI_CONFIG" ]; then
    "$madoguchi" init
fi
"$madoguchi" tls self-signed /etc/madoguchi/certs   # only where the city put no certificates
"$madoguchi" db migrate
"$madoguchi" models setup
"$madoguchi" check
exec /opt/madoguchi/.venv/bin/supervisord -c /opt/madoguchi/docker/supervisord.conf

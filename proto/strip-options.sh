#!/bin/sh
# strip-options.sh IN OUT: copy the CRI api.proto without the field options
# that Debian 12's protobuf 3.21 does not know (`debug_redact`, newer than
# it).  Options never change the wire format; field numbers stay as they are.
set -e
sed -E 's/ *\[debug_redact *= *true\]//' "$1" > "$2"

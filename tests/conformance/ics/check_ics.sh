#!/bin/sh
# Checks every .ics under DIR (an `almanac build --out DIR`, or the unit test's $ALMANAC_ICS_OUT)
# with third-party parsers: Mozilla ical.js, libical, python-icalendar, vobject, and dateutil as
# the reference expansion. Exits non-zero on any mismatch. Usage: check_ics.sh DIR
set -eu
dir=${1:?usage: check_ics.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bound=2042-01-01T00:00:00Z

files=$(find "$dir" -name '*.ics' | sort)
[ -n "$files" ] || { echo "no .ics files under $dir" >&2; exit 1; }

cc -std=c11 -Wall -Wextra -o "$work/check_libical" "$here/check_libical.c" -lical
# shellcheck disable=SC2086
"$work/check_libical" "$(date -u -d "$bound" +%s)" $files >"$work/libical.json"
# shellcheck disable=SC2086
node "$here/check_icaljs.mjs" "$bound" $files >"$work/icaljs.json"
/usr/bin/python3 "$here/check_ics.py" "$dir" "$work/icaljs.json" "$work/libical.json"
